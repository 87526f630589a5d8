"""When a compiled backend has paid back its first call: the break-even step count.

A static backend (torch.compile, jax.jit, tf.function, XLA) starts slower than its
framework's eager backend and then runs each step faster. After n steps the two have
spent the same time when

    static_start + n * static_step = eager_start + n * eager_step

where *start* is the time to the first result (build + first call) and *step* the
steady-state median. A per-step gain counts only when it is measurable: the bootstrap
95% interval of the static/eager ratio of medians lies wholly below 1. A gain inside the
noise would otherwise turn into millions of "break-even" steps that are no more than
chance. Pure functions over two cell records of the same block. For a
stream of varying shapes (the dynamic scenario), ``overtaking_step`` finds the same
moment from the two cells' measured per-step times.
"""

from __future__ import annotations

import math

import numpy as np

from bench.stats import bootstrap_ratio_ci


def time_to_first_result(record: dict, warm: bool = False) -> float | None:
    """build_s + first_call_s, or their warm-start counterparts (None where not measured)."""
    build = record.get("build_warm_s" if warm else "build_s")
    first = record.get("first_call_warm_s" if warm else "first_call_s")
    if build is None or first is None:
        return None
    return build + first


def steps_to_break_even(
    static_start_s: float, eager_start_s: float, static_step_ms: float, eager_step_ms: float
) -> float:
    """Whole steps until the static backend has caught up; ``math.inf`` if it never does.

    Never when its steps are not faster (however it starts); 0 when they are faster and it
    also starts no later.
    """
    saved_per_step_s = (eager_step_ms - static_step_ms) / 1e3
    if not saved_per_step_s > 0:
        return math.inf
    extra_start_s = static_start_s - eager_start_s
    return 0.0 if extra_start_s <= 0 else float(math.ceil(extra_start_s / saved_per_step_s))


def no_gain_reason(static_samples_ms: list[float], eager_samples_ms: list[float]) -> str | None:
    """Why the static backend's steps are not measurably faster than eager's, or None."""
    ratio, low, high = bootstrap_ratio_ci(eager_samples_ms, static_samples_ms)
    if ratio >= 1:
        return "never: not faster per step than eager"
    if high >= 1:
        return (
            f"never: per-step gain within the noise: static/eager median {ratio:.3f}, "
            f"95% CI {low:.3f}-{high:.3f}"
        )
    return None


def break_even(
    static_start_s: float,
    eager_start_s: float,
    static_samples_ms: list[float],
    eager_samples_ms: list[float],
) -> tuple[float, str]:
    """(steps, note) from the two starts and the two cells' raw step samples."""
    reason = no_gain_reason(static_samples_ms, eager_samples_ms)
    if reason is not None:
        return math.inf, reason
    steps = steps_to_break_even(
        static_start_s,
        eager_start_s,
        float(np.median(static_samples_ms)),
        float(np.median(eager_samples_ms)),
    )
    if steps == 0:
        return steps, "starts no slower than eager"
    return steps, "steps until the first call is paid back"


def break_even_steps(eager: dict, static: dict, warm: bool = False) -> tuple[float | None, str]:
    """(steps, note) for two cell records of one block: see ``break_even``.

    None when either cell lacks the numbers. ``warm`` uses the static cell's warm start;
    eager keeps no compile cache, so its cold start serves both.
    """
    if eager.get("status") != "ok" or static.get("status") != "ok":
        return None, "needs both cells ok"
    eager_start = time_to_first_result(eager)
    static_start = time_to_first_result(static, warm)
    if eager_start is None or static_start is None:
        return None, "no warm start measured" if warm else "no first call measured"
    return break_even(static_start, eager_start, static["samples_ms"], eager["samples_ms"])


def overtaking_step(eager_step_ms: list[float], static_step_ms: list[float]) -> int | None:
    """In a stream fed to both: the step from which the static backend stays ahead.

    The cumulative wall time of the static backend (its compilations included) is at or
    below the eager backend's from this step (1-based) to the end of the stream; None
    if it is still behind at the end.
    """
    if len(eager_step_ms) != len(static_step_ms):
        raise ValueError("the two cells were fed streams of different lengths")
    behind = np.cumsum(static_step_ms) > np.cumsum(eager_step_ms)
    if behind.size == 0 or behind[-1]:
        return None
    last_behind = np.flatnonzero(behind)
    return 1 if last_behind.size == 0 else int(last_behind[-1]) + 2
