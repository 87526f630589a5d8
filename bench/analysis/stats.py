"""Pure statistics over raw samples. Nothing here measures, and nothing here knows a cell:
bench.analysis.metrics applies these to the fields of stored results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    """Statistics of per-step samples, in milliseconds. Percentiles interpolate linearly."""

    median: float
    mean: float
    stdev: float
    min: float
    max: float
    p10: float
    p90: float
    p99: float
    iqr: float
    n: int

    @property
    def iqr_ratio(self) -> float:
        """IQR / median: the spread of the steps relative to their typical time."""
        return self.iqr / self.median if self.median > 0 else 0.0


def summarize(samples_ms: Sequence[float]) -> Latency:
    if len(samples_ms) == 0:
        raise ValueError("summarize() needs at least one sample")
    a = np.asarray(samples_ms, dtype=np.float64)
    p10, p25, p50, p75, p90, p99 = np.percentile(a, [10, 25, 50, 75, 90, 99])
    return Latency(
        median=float(p50),
        mean=float(a.mean()),
        stdev=float(a.std(ddof=1)) if a.size > 1 else 0.0,
        min=float(a.min()),
        max=float(a.max()),
        p10=float(p10),
        p90=float(p90),
        p99=float(p99),
        iqr=float(p75 - p25),
        n=int(a.size),
    )


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
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("bootstrap_ratio_ci() needs finite samples")
    rng = np.random.default_rng(seed)
    # In chunks: a million resamples of 500 samples would otherwise need gigabytes at once.
    ratios = []
    for start in range(0, resamples, 1000):
        n = min(1000, resamples - start)
        medians_a = np.median(a[rng.integers(0, a.size, size=(n, a.size))], axis=1)
        medians_b = np.median(b[rng.integers(0, b.size, size=(n, b.size))], axis=1)
        ratios.append(medians_b / medians_a)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(np.concatenate(ratios), [tail, 100 - tail])
    return float(np.median(b) / np.median(a)), float(low), float(high)
