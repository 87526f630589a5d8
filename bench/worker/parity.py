"""Is a backend's output the model's output? The check every cell passes before it is timed,
and again on what was timed: after the warm-up and after the pipelined steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.results.record import Outcome, Parity, Status

# Elements held at once, in float64, by max_rel_err (16 MiB): the full-profile
# transformer's logits (206M elements) never exist as a float64 copy, nor their difference.
CHUNK_ELEMENTS = 2**21

# The phases a fixed-shape cell's output is checked in, in order (Parity.parity_phases).
FIRST_CALL = "first call"
AFTER_WARMUP = "after warm-up"
AFTER_PIPELINE = "after pipeline"
# A stream cell's: its first pass (each shape met for the first time) and its second.
FIRST_PASS = "first pass"
SECOND_PASS = "second pass"

# A training cell's loss after the warm-up's counted steps may differ from its framework's
# eager loss at the same step (same device, same precision) by this many times the
# precision's tolerance, relative to the first step's loss. Why: both start from the same
# weights and batch and take the same Adam steps, so they differ by rounding only (the
# first step's loss is held to the tolerance itself); but Adam moves a weight whose
# gradient is rounding noise by up to lr per step in either direction, so the gap may grow
# with every step. Ten tolerances (1e-2 at float32) admit that drift (torch against JAX,
# two frameworks, differ by at most 5e-4 after 5 steps on the zoo) and still fail a
# backend that skips, repeats or replays a stale update: over the quick profile's warm-up
# the loss itself moves by 11% (transformer) to 100% (MLP) of the first step's.
TRAIN_BAND_TOLERANCES = 10


def train_band(tolerance: float) -> float:
    """The relative band of a training cell's loss after the warm-up (TRAIN_BAND_TOLERANCES)."""
    return TRAIN_BAND_TOLERANCES * tolerance


@dataclass(frozen=True)
class TrainCheck:
    """A training loss checked after the first call: finite, and within ``band`` of the
    framework's eager loss at the same step where that is known (None: finite only).

    The error is relative to ``scale``, the first step's loss (the reference's): normwise,
    as max_rel_err, so that a loss trained towards zero is not held to its own rounding."""

    phase: str
    step: int  # training steps taken, this one included (the first call is step 1)
    loss: float
    eager_loss: float | None
    band: float
    scale: float

    @property
    def error(self) -> float | None:
        """|loss - eager| / |scale|: inf where the loss is not finite; None: no eager loss."""
        if not math.isfinite(self.loss):
            return math.inf
        if self.eager_loss is None:
            return None
        return abs(self.loss - self.eager_loss) / (abs(self.scale) or 1.0)


def max_rel_err(actual: np.ndarray, reference: np.ndarray, chunk: int = CHUNK_ELEMENTS) -> float:
    """max |actual - reference| / max |reference| (a normwise error: stable near zeros).

    NaN or inf anywhere in ``actual`` gives inf, so it can never pass a tolerance. Computed
    in float64 ``chunk`` elements at a time: the same maxima as over whole float64 copies,
    without making them.
    """
    actual, reference = np.asarray(actual), np.asarray(reference)
    if actual.shape != reference.shape:
        raise ValueError(f"output shape {actual.shape} != reference shape {reference.shape}")
    flat_actual, flat_reference = actual.reshape(-1), reference.reshape(-1)
    scale = worst = 0.0
    for start in range(0, flat_actual.size, chunk):
        a = flat_actual[start : start + chunk].astype(np.float64)
        if not np.all(np.isfinite(a)):
            return math.inf
        r = flat_reference[start : start + chunk].astype(np.float64)
        scale = max(scale, float(np.max(np.abs(r))))
        worst = max(worst, float(np.max(np.abs(a - r))))
    return worst / (scale or 1.0)


def check(
    errors: dict[str, float],
    tolerance: float,
    output: str,
    float32_eager_err: float | None = None,
    reference: str | None = None,
    train: list[TrainCheck] | None = None,
) -> tuple[Parity, Outcome | None]:
    """The parity record of the checked outputs and a mismatch verdict naming the first phase
    out of bounds (None where the cell may be timed).

    ``errors``: each phase checked against the reference, in order, and its error (all held
    to ``tolerance``; the worst is parity_max_rel_err). ``train``: training losses checked
    after the first call, against their framework's eager loss where it is known (the
    first such check fills the parity_train_* fields). ``float32_eager_err``: the error of
    the framework's float32 eager output, recorded beside a reduced precision's."""
    train = train or []
    worst = max(errors.values())
    phases: dict[str, float | None] = {
        k: v if math.isfinite(v) else None for k, v in errors.items()
    }
    for t in train:
        if t.error is not None:
            phases[t.phase] = t.error if math.isfinite(t.error) else None
    banded = next((t for t in train if t.eager_loss is not None), train[0] if train else None)
    parity = Parity(
        parity_max_rel_err=worst if math.isfinite(worst) else None,
        parity_tolerance=tolerance,
        parity_output=output,
        parity_float32_eager_err=float32_eager_err,
        parity_reference=reference,
        parity_phases=[*errors, *(t.phase for t in train)],
        parity_phase_errors=phases,
        parity_train_step=banded.step if banded else None,
        parity_train_loss=banded.loss if banded and math.isfinite(banded.loss) else None,
        parity_train_eager_loss=banded.eager_loss if banded else None,
        parity_train_band=banded.band if banded and banded.eager_loss is not None else None,
    )
    against = "float64 reference" if reference is None else reference
    for phase, error in errors.items():
        if not error <= tolerance:
            return parity, _mismatch(phase, output, error, against, tolerance)
    for t in train:
        if t.error is not None and not t.error <= t.band:
            eager = f"framework's eager loss at step {t.step}"
            return parity, _mismatch(t.phase, output, t.error, eager, t.band)
    return parity, None


def _mismatch(phase: str, output: str, error: float, against: str, bound: float) -> Outcome:
    what = "is not finite (NaN or inf)" if not math.isfinite(error) else f"is off by {error:.3g}"
    return Outcome(
        Status.MISMATCH,
        f"{phase}: the {output} {what} (max relative error against the {against}; "
        f"tolerance {bound:g})",
    )
