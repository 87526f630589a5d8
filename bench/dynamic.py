"""The dynamic-shape scenario: one backend fed a stream of varying sequence lengths.

Two passes over the same stream. The first is what a service or a training job
meets: every new shape may trigger a trace or a compilation, and its wall time
includes them. The second repeats the stream with every shape already seen: its
per-step times are the steady state. ``compile_s`` is the difference of the two
totals: the time the stream spent (re)compiling, measured rather than estimated
from any framework's log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.backends.base import Backend
from bench.stats import max_rel_err, summarize
from bench.timing import Clock, timed_step

# Steps of the first pass between checkpoints of the partial record.
CHECKPOINT_EVERY = 8


def parity_steps(n_steps: int, mode: str, count: int = 8) -> list[int]:
    """Steps whose output is checked: evenly spread for inference; the first for training
    (after it the weights have moved, and the reference does not train)."""
    if mode == "train":
        return [0]
    return sorted({int(i) for i in np.rint(np.linspace(0, n_steps - 1, count))})


def unpadded(out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The part of a (possibly right-padded) output that the unpadded input produces."""
    if out.ndim != len(shape):
        raise ValueError(f"output rank {out.ndim} != reference rank {len(shape)}")
    return out[tuple(slice(0, n) for n in shape)]


def run_passes(
    backend: Backend,
    data: Sequence[Any],
    expected: dict[int, np.ndarray],
    tolerance: float,
    record: dict,
    clock: Clock,
    static: bool,
    checkpoint: Callable[[], None] = lambda: None,
) -> None:
    """Both passes over the device batches ``data``; results into ``record``.

    ``static`` backends (which build graphs) get a ``compile_s``; eager ones None.
    """
    step_s, compiled_at, worst = [], [], 0.0
    for i, batch in enumerate(data):
        before = backend.compilations()
        out, seconds = timed_step(backend.step, backend.sync, batch, clock)
        step_s.append(seconds)
        after = backend.compilations()
        if after is not None and before is not None and after > before:
            compiled_at.append(i)
        if i in expected:
            want = expected[i]
            worst = max(worst, max_rel_err(unpadded(backend.to_numpy(out), want.shape), want))
            record["parity_max_rel_err"] = worst
            if not worst <= tolerance:
                record["status"] = "mismatch"
                record["error"] = (
                    f"step {i}: max relative error {worst:.3g} exceeds the tolerance {tolerance:g}"
                )
                return
        record["step_ms"] = [s * 1e3 for s in step_s]
        record["compiled_at"] = compiled_at
        if (i + 1) % CHECKPOINT_EVERY == 0:
            checkpoint()  # a first pass cut short by the timeout keeps the steps it ran
    record["compilations"] = backend.compilations()
    record["total_s"] = float(sum(step_s))
    record["first_call_s"] = step_s[0]
    checkpoint()

    steady = [timed_step(backend.step, backend.sync, batch, clock)[1] for batch in data]
    record["steady_step_ms"] = [s * 1e3 for s in steady]
    record["steady_total_s"] = float(sum(steady))
    record["steady_latency_ms"] = float(np.median(record["steady_step_ms"]))
    record["latency_ms"] = summarize(record["steady_step_ms"])
    count = backend.compilations()
    record["compilations_second_pass"] = (
        None if count is None or record["compilations"] is None else count - record["compilations"]
    )
    # Eager backends build no graphs: there is no compilation to attribute time to.
    # (TorchScript counts none either, but its specialisations take time: it is static.)
    extra = record["total_s"] - record["steady_total_s"]
    record["compile_s"] = max(0.0, extra) if static else None
    record["status"] = "ok"
