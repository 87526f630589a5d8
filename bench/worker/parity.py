"""Is a backend's output the model's output? The check every cell passes before it is timed."""

from __future__ import annotations

import math

import numpy as np

from bench.results.record import Outcome, Parity, Status


def max_rel_err(actual: np.ndarray, reference: np.ndarray) -> float:
    """max |actual - reference| / max |reference| (a normwise error: stable near zeros).

    NaN or inf anywhere in ``actual`` gives inf, so it can never pass a tolerance.
    """
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        raise ValueError(f"output shape {actual.shape} != reference shape {reference.shape}")
    if not np.all(np.isfinite(actual)):
        return math.inf
    scale = float(np.max(np.abs(reference))) or 1.0
    return float(np.max(np.abs(actual - reference)) / scale)


def check(
    errors: list[float],
    tolerance: float,
    output: str,
    float32_eager_err: float | None = None,
    reference: str | None = None,
) -> tuple[Parity, Outcome | None]:
    """The parity record of the checked outputs' errors, and a mismatch verdict if the worst
    is outside ``tolerance`` (None where the cell may be timed). ``float32_eager_err``: the
    error of the framework's float32 eager output, recorded beside a reduced precision's."""
    worst = max(errors)
    parity = Parity(
        parity_max_rel_err=worst if math.isfinite(worst) else None,
        parity_tolerance=tolerance,
        parity_output=output,
        parity_float32_eager_err=float32_eager_err,
        parity_reference=reference,
    )
    if worst <= tolerance:
        return parity, None
    what = "is not finite (NaN or inf)" if not math.isfinite(worst) else f"is off by {worst:.3g}"
    return parity, Outcome(
        Status.MISMATCH,
        f"the {output} {what} (max relative error against the "
        f"{'float64 reference' if reference is None else reference}; "
        f"tolerance {tolerance:g})",
    )
