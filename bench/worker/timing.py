"""Measurement loops. The clock is injected so the logic is tested without a framework.

Every timed step is ``step`` followed by the backend's ``sync``: without the sync an
asynchronous backend (CUDA, JAX, TF on GPU) would be timed enqueueing work, not doing it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Clock = Callable[[], float]
Step = Callable[[Any], Any]
Sync = Callable[[Any], None]

default_clock: Clock = time.perf_counter


def timed_step(step: Step, sync: Sync, inputs: Any, clock: Clock) -> tuple[Any, float]:
    """One synced step: (its output, seconds)."""
    start = clock()
    out = step(inputs)
    sync(out)
    return out, clock() - start


def repeat_steps(
    step: Step,
    sync: Sync,
    inputs: Any,
    clock: Clock,
    min_count: int,
    min_time_s: float,
    max_count: int | None = None,
) -> list[float]:
    """Synced steps until at least ``min_count`` and ``min_time_s`` (capped by ``max_count``).

    Returns each step's seconds. Used for the warm-up and for the timed samples.
    """
    durations: list[float] = []
    started = clock()
    while len(durations) < min_count or clock() - started < min_time_s:
        if max_count is not None and len(durations) >= max_count:
            break
        durations.append(timed_step(step, sync, inputs, clock)[1])
    return durations


def pipelined(step: Step, sync: Sync, inputs: Any, clock: Clock, n_steps: int) -> tuple[float, Any]:
    """Seconds for ``n_steps`` back-to-back steps with one sync at the end, and the last
    step's output (for its parity check).

    This lets an asynchronous backend overlap dispatch with execution, as a real
    serving or training loop does: the throughput figure comes from here.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    start = clock()
    out = None
    for _ in range(n_steps):
        out = step(inputs)
    sync(out)
    return clock() - start, out
