"""When a compiled backend has paid back its first call: the break-even step count.

A static backend (torch.compile, jax.jit, tf.function, XLA) starts slower than its
framework's eager backend and then runs each step faster. After n steps the two have
spent the same time when

    static_start + n * static_step = eager_start + n * eager_step

where *start* is the time to the first result (build + first call) and *step* the
steady-state median. Pure functions over two cell records of the same block.
"""

from __future__ import annotations

import math


def time_to_first_result(record: dict, warm: bool = False) -> float | None:
    """build_s + first_call_s, or their warm-start counterparts (None where not measured)."""
    build = record.get("build_warm_s" if warm else "build_s")
    first = record.get("first_call_warm_s" if warm else "first_call_s")
    if build is None or first is None:
        return None
    return build + first


def break_even_steps(eager: dict, static: dict, warm: bool = False) -> tuple[float | None, str]:
    """(steps, note): steps after which ``static`` has caught up with ``eager``.

    0 when the static backend is not more expensive to start; ``math.inf`` ("never")
    when it is not faster per step; None when either cell lacks the numbers.
    ``warm`` uses the static cell's warm start; eager keeps no compile cache, so its
    cold start serves both.
    """
    if eager.get("status") != "ok" or static.get("status") != "ok":
        return None, "needs both cells ok"
    eager_start = time_to_first_result(eager)
    static_start = time_to_first_result(static, warm)
    if eager_start is None or static_start is None:
        return None, "no warm start measured" if warm else "no first call measured"
    extra_start = static_start - eager_start
    saved_per_step = (eager["latency_ms"]["median"] - static["latency_ms"]["median"]) / 1e3
    if extra_start <= 0:
        return 0.0, "starts no slower than eager"
    if saved_per_step <= 0:
        return math.inf, "never: not faster per step than eager"
    return math.ceil(extra_start / saved_per_step), "steps until the first call is paid back"
