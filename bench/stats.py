"""Pure functions over raw samples. Nothing here measures; everything here is derived."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# IQR/median above this marks a cell's latency as noisy.
NOISY_IQR_RATIO = 0.10


def summarize(samples_ms: Sequence[float]) -> dict[str, float | int]:
    """Latency statistics of raw per-step samples (ms). Percentiles interpolate linearly."""
    if len(samples_ms) == 0:
        raise ValueError("summarize() needs at least one sample")
    a = np.asarray(samples_ms, dtype=np.float64)
    p10, p25, p50, p75, p90, p99 = np.percentile(a, [10, 25, 50, 75, 90, 99])
    return {
        "median": float(p50),
        "mean": float(a.mean()),
        "stdev": float(a.std(ddof=1)) if a.size > 1 else 0.0,
        "min": float(a.min()),
        "max": float(a.max()),
        "p10": float(p10),
        "p90": float(p90),
        "p99": float(p99),
        "iqr": float(p75 - p25),
        "n": int(a.size),
    }


def is_noisy(latency: dict) -> bool:
    return latency["median"] > 0 and latency["iqr"] / latency["median"] > NOISY_IQR_RATIO


def max_rel_err(actual: np.ndarray, reference: np.ndarray) -> float:
    """max |actual - reference| / max |reference| (a normwise error: stable near zeros).

    NaN anywhere in ``actual`` gives inf, so it can never pass a tolerance.
    """
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        raise ValueError(f"output shape {actual.shape} != reference shape {reference.shape}")
    if not np.all(np.isfinite(actual)):
        return math.inf
    scale = float(np.max(np.abs(reference))) or 1.0
    return float(np.max(np.abs(actual - reference)) / scale)


def speedup(baseline_ms: float | None, ms: float | None) -> float | None:
    """baseline / this: above 1 is faster than the baseline."""
    if not baseline_ms or not ms:
        return None
    return baseline_ms / ms


def bootstrap_ratio_ci(
    samples_a: Sequence[float],
    samples_b: Sequence[float],
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Ratio of medians B/A and its percentile-bootstrap confidence interval.

    Each run's raw samples are resampled with replacement, independently, ``resamples``
    times; the interval is the central ``confidence`` share of the resampled ratios.
    A seeded generator makes the same inputs give the same interval every time.
    Returns (ratio, low, high): above 1 means B is slower than A.
    """
    if len(samples_a) == 0 or len(samples_b) == 0:
        raise ValueError("bootstrap_ratio_ci() needs at least one sample in each run")
    if resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    a = np.asarray(samples_a, dtype=np.float64)
    b = np.asarray(samples_b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    medians_a = np.median(a[rng.integers(0, a.size, size=(resamples, a.size))], axis=1)
    medians_b = np.median(b[rng.integers(0, b.size, size=(resamples, b.size))], axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(medians_b / medians_a, [tail, 100 - tail])
    return float(np.median(b) / np.median(a)), float(low), float(high)
