"""Graph capture in a diagnosing worker (``run --diagnose``): why a static graph is or is not
faster.

A diagnosing worker runs after a cell's measured ones (as a profiling worker does): the
framework's diagnostics cost time, so no timed step ever runs with them switched on. It
builds the cell, enters the backend's ``Diagnosis`` (bench/backends/*_capture.py), makes
the first call with the compile phases the framework attributes inside it, a few more
steps (a second call may recompile: a train step's optimizer state), and writes what
the framework reported to ``capture.json`` (bench.matrix.job.CAPTURE_FILE). A fixed-shape
cell whose backend keeps a persistent cache gets a second diagnosing worker that finds the
first one's cache: its first call's phases and cache hits say what the cache saved. A
stream cell's diagnosing worker feeds the stream's first pass once and records, per
compilation, the step, the fed length and the reason the framework gives. The parent turns
the files into the record's ``GraphCapture`` group (bench.parent.runner.graph_capture_of).

This module imports no framework; it runs in the worker, through the backend's hooks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.matrix.job import CAPTURE_FILE
from bench.results.record import OTHER_PHASE, Outcome, Status

if TYPE_CHECKING:
    from bench.worker.scenarios.base import Measurement

# Steps after the first call, on the same batch: what compiles on a second call shows.
AFTER_STEPS = 2
# How far the framework's phases may exceed the first call that holds them: its clocks
# and ours are read at different points (5% of the call, at least 20 ms).
PHASE_TOLERANCE = 0.05
PHASE_TOLERANCE_MIN_S = 0.02

REPO = Path(__file__).resolve().parents[2]
_INSTALLED = re.compile(r"/\S*-packages/")  # an installed package's path, up to the package


def tolerance_s(first_call_s: float) -> float:
    return max(PHASE_TOLERANCE_MIN_S, PHASE_TOLERANCE * first_call_s)


def with_other(phases: dict[str, float], first_call_s: float) -> dict[str, float]:
    """The phases the framework reported (non-zero), and ``other``: the first call less
    their sum (the first execution where the framework does not time it apart, Python
    between graphs, guards). Negative within the tolerance: the clocks' disagreement."""
    kept = {k: round(v, 6) for k, v in phases.items() if v > 0}
    return {**kept, OTHER_PHASE: round(first_call_s - sum(kept.values()), 6)}


def short_where(where: str) -> str:
    """A source location as a reader finds it: relative to this checkout, or to the
    installed packages (``torch/optim/optimizer.py:79``)."""
    if where.startswith(str(REPO) + "/"):
        return where[len(str(REPO)) + 1 :]
    _, found, rest = where.rpartition("-packages/")
    return rest if found else where


def short_paths(text: str) -> str:
    """The source paths inside a framework's message shortened as short_where does, so that
    two checkouts (or machines) give the same reason and nothing of the host is kept."""
    text = text.replace(str(REPO) + "/", "")
    return _INSTALLED.sub("", text)


def diagnose(m: Measurement, batches: list[Any], lengths: list[int] | None = None) -> Outcome:
    """Diagnose the built backend on ``batches`` (the first is the first call); write
    capture.json into ``m.trace_dir``. ``lengths``: a stream's fed length per batch, whose
    every compilation is recorded with its step."""
    b = m.backend
    diagnosis = b.diagnose()
    out: dict[str, Any]
    if diagnosis is None:
        out = {"capture_error": f"{m.cell.backend} builds no graph: nothing to diagnose"}
    else:
        with diagnosis:
            start = m.clock()
            phases = diagnosis.first_call(lambda: b.sync(b.step(batches[0])), batches[0])
            first_call_s = m.clock() - start
            compiled = [(0, why) for why in diagnosis.new_compilations()]
            for i, batch in enumerate(batches[1:], start=1):
                b.sync(b.step(batch))
                compiled += [(i, why) for why in diagnosis.new_compilations()]
            out = {"capture_tool": diagnosis.tool, **diagnosis.report()}
        for found in out.get("break_reasons", []):
            found["where"] = short_where(str(found.get("where", "")))
        if lengths is not None:
            out["recompile_reasons"] = [
                {"step": i, "length": lengths[i], "reason": why} for i, why in compiled
            ]
        for found in [*out.get("break_reasons", []), *out.get("recompile_reasons", [])]:
            found["reason"] = short_paths(str(found.get("reason", "")))
        out["fallbacks"] = [short_paths(str(f)) for f in out.get("fallbacks", [])]
        out.update(
            capture_first_call_s=round(first_call_s, 6),
            first_call_phases=with_other(phases, first_call_s),
            phase_tolerance_s=round(tolerance_s(first_call_s), 6),
        )
    Path(m.trace_dir or ".", CAPTURE_FILE).write_text(json.dumps(out))
    return Outcome(Status.OK)
