"""The sentinel: a small fixed workload timed right before and right after a cell's samples.

A shared VM has windows of minutes in which every cell runs 10-40% slower with nothing
the kernel can see (no other process, no steal time), so the contention watch
(bench.worker.contention) misses them. The sentinel is the same work in every worker of
every framework: NumPy arithmetic on an array that fits the caches (the cores' speed)
and a copy larger than the last-level cache (the memory's), single-threaded (NumPy's
elementwise operations do not use a thread pool), the median of a few repetitions, about
10 ms on each side. A cell whose sentinel ran much slower than the run's median ran in a
slow window (bench.analysis.metrics.slow_window_ratio): its samples are suspect too.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from bench.results.record import Sentinel

ARITHMETIC_FLOATS = 1 << 16  # 256 KiB of float32: in every core's L2
COPY_FLOATS = 1 << 22  # 16 MiB: beyond the last-level cache of the CPUs graphbench runs on
ARITHMETIC_ROUNDS = 20
REPEATS = 5


class SentinelWorkload:
    """The fixed work, its arrays allocated and touched once, before anything is timed."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal(ARITHMETIC_FLOATS, dtype=np.float32)
        self.b = rng.standard_normal(ARITHMETIC_FLOATS, dtype=np.float32)
        self.out = np.empty_like(self.a)
        self.src = np.ones(COPY_FLOATS, dtype=np.float32)
        self.dst = np.zeros_like(self.src)

    def run_once(self) -> None:
        for _ in range(ARITHMETIC_ROUNDS):
            np.multiply(self.a, self.b, out=self.out)
            np.add(self.out, self.a, out=self.out)
        np.copyto(self.dst, self.src)

    def time_ms(self) -> float:
        """The median time of REPEATS runs, in ms."""
        times = []
        for _ in range(REPEATS):
            start = self.clock()
            self.run_once()
            times.append((self.clock() - start) * 1e3)
        return statistics.median(times)


class SentinelWatch:
    """Times the workload at ``before()`` and ``after()``; ``group()`` is what it saw."""

    def __init__(self, workload: SentinelWorkload | None = None):
        self.workload = workload or SentinelWorkload()
        self.before_ms: float | None = None
        self.after_ms: float | None = None

    def before(self) -> None:
        self.before_ms = self.workload.time_ms()

    def after(self) -> None:
        self.after_ms = self.workload.time_ms()

    def group(self) -> Sentinel | None:
        if self.before_ms is None or self.after_ms is None:
            return None  # the samples were never finished
        return Sentinel(
            sentinel_before_ms=round(self.before_ms, 4), sentinel_after_ms=round(self.after_ms, 4)
        )
