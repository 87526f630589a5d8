"""Profiler traces (``run --trace``): why a backend is fast, from its framework's profiler.

A trace is taken by a worker of its own, after the measured ones (a profiler changes
timings, so a traced step is never a timed one): it builds the cell, makes its first
call, warms up, then runs TRACE_STEPS steps under the framework's profiler (PyTorch's
``torch.profiler``, JAX's ``jax.profiler.trace``, TensorFlow's ``tf.profiler``), which
write a Chrome-trace JSON file (the ``traceEvents`` format that chrome://tracing and
Perfetto open), plus the framework's own files (XSpace ``.xplane.pb`` for TensorBoard).
The parent reads the JSON here, with no framework: the operations with the most self
time (an event's duration minus its children's, per thread) over the traced steps.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.matrix.job import MAX_TRACE_BYTES, TRACE_DIR, TRACE_STEPS

__all__ = ["MAX_TRACE_BYTES", "TRACE_DIR", "TRACE_STEPS", "load_events", "top_ops"]

TOP_OPS = 10
# Events that are the profiler's or Python's, not the model's work: step markers, the
# Python tracer's frames (JAX names them "$file:line function"), TensorFlow's wrappers.
# ThreadpoolListener::* mark a thread pool's regions (XLA, TensorFlow): waiting, not work.
_SKIP_PREFIXES = ("ProfilerStep#", "$", "PyTorch Profiler", "ThreadpoolListener::")
_SKIP_CATEGORIES = {"Trace", "python_function", "user_annotation"}


def load_events(path: Path) -> list[dict[str, Any]]:
    """The events of a Chrome-trace JSON file (``.json`` or ``.json.gz``)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    data = json.loads(raw)
    events = data.get("traceEvents", []) if isinstance(data, dict) else data
    return [e for e in events if isinstance(e, dict)]


def _counted(event: dict[str, Any]) -> bool:
    name = str(event.get("name", ""))
    return (
        event.get("ph") == "X"
        and isinstance(event.get("dur"), (int, float))
        and not name.startswith(_SKIP_PREFIXES)
        and event.get("cat") not in _SKIP_CATEGORIES
    )


def self_times_us(events: list[dict[str, Any]]) -> dict[str, float]:
    """Total self time (µs) per event name: each complete event's duration minus that of the
    events nested directly inside it on the same thread."""
    by_thread: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if _counted(e):
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    totals: dict[str, float] = defaultdict(float)
    for thread in by_thread.values():
        _add_self_times(thread, totals)
    return dict(totals)


def _add_self_times(thread: list[dict[str, Any]], totals: dict[str, float]) -> None:
    """One thread's events, nested by time: each one's duration less its direct children's."""
    thread.sort(key=lambda e: (float(e.get("ts", 0)), -float(e["dur"])))
    stack: list[tuple[float, list[float], str]] = []  # open events: (end, [self time], name)
    for e in [*thread, None]:
        start = float("inf") if e is None else float(e.get("ts", 0))
        while stack and stack[-1][0] <= start:
            _, own, name = stack.pop()
            totals[name] += max(0.0, own[0])
        if e is None:
            break
        dur = float(e["dur"])
        if stack:
            stack[-1][1][0] -= dur  # the parent's self time loses this child
        stack.append((start + dur, [dur], str(e["name"])))


def top_ops(path: Path, steps: int = TRACE_STEPS, most: int = TOP_OPS) -> list[dict[str, Any]]:
    """The ``most`` operations with the most self time: name, self ms per traced step, and
    share of all self time in the trace."""
    totals = self_times_us(load_events(path))
    whole = sum(totals.values())
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:most]
    return [
        {
            "name": name[:200],
            "self_ms_per_step": round(us / 1e3 / max(1, steps), 6),
            "share": round(us / whole, 4) if whole else 0.0,
        }
        for name, us in ranked
    ]
