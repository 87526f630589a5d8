"""The report's "graph capture" section (cells diagnosed with ``run --diagnose``).

Per diagnosed static cell: how many graphs the step became and how often it broke, the
most frequent break reasons with their source lines, the recompilations and the reason
the framework gave for each, the first call's phases (a stacked bar beside the
steady-state step) and, for a warm diagnosing worker, which caches it hit. Everything is
the record's GraphCapture group (bench.worker.capture wrote it, bench.analysis.capture
arranges it), not recomputed; the steady-state step is bench.analysis.metrics' (a Measure).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.analysis import metrics
from bench.analysis.capture import outside_the_graph, skipped_phases, top_breaks
from bench.results.record import OTHER_PHASE, CellResult
from bench.results.store import Run
from report import fmt, measures, plots
from report.figures import figure
from report.measures import Measure, computed_by
from report.sections import Options, Section
from report.tables import Column, Row, Table

ID = "graph-capture"
TOP_REASONS = 3
# The steady-state step drawn beside the first call's phases.
STEADY = {"steady_ms": Measure("steady_ms", metrics.median_ms, when="ok")}


def _label(r: CellResult) -> str:
    stream = f" {r.cell.stream} {r.cell.strategy}" if r.cell.stream else ""
    return f"{r.cell.model} {r.cell.mode} {r.cell.backend}{stream} · {r.cell.device}"


def _reasons(r: CellResult) -> str:
    g = r.graph_capture
    assert g is not None
    lines = []
    for b in top_breaks(g.break_reasons, TOP_REASONS):
        where = f" at {b['where']}" if b.get("where") else ""
        lines.append(f"{b.get('reason', '')}{where} (×{b.get('count', 0)})")
    return "; ".join(lines) or "–"


def _recompiles(r: CellResult) -> str:
    g = r.graph_capture
    assert g is not None
    lines = []
    for c in g.recompile_reasons[: TOP_REASONS * 2]:
        if "step" in c:
            lines.append(f"step {c['step']} (length {c.get('length')}): {c.get('reason', '')}")
        else:
            lines.append(f"{c.get('reason', '')} (×{c.get('count', 1)})")
    more = len(g.recompile_reasons) - len(lines)
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "") if lines else "–"


def _or_nan(value: float | None) -> float:
    """A field the group may lack, as fmt prints it: NaN shows as –."""
    return math.nan if value is None else float(value)


def _phases(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {fmt.sig(s)} s" for name, s in phases.items()) or "–"


def _warm(r: CellResult) -> str:
    """The warm diagnosing worker's first call, the phases it did not run, its cache hits."""
    g = r.graph_capture
    assert g is not None
    if g.warm_first_call_s is None:
        return "–"
    parts = [f"{fmt.sig(g.warm_first_call_s)} s: {_phases(g.warm_phases)}"]
    skipped = skipped_phases(g)
    if skipped:
        parts.append("not run: " + ", ".join(skipped))
    hits = {k: v for k, v in g.warm_cache_counters.items() if v and "hit" in k}
    if hits:
        parts.append("cache hits: " + ", ".join(f"{k} {v}" for k, v in hits.items()))
    return "; ".join(parts)


def diagnosed(runs: Sequence[Run]) -> list[CellResult]:
    return [r for run in runs for r in metrics.pool_repetitions(run.results) if r.graph_capture]


def capture_table(cells: list[CellResult]) -> Table:
    columns = (
        Column("cell", wrap="wrap"),
        Column("graphs", True, "distinct graphs (Dynamo) or traces (jax.jit, tf.function)"),
        Column("breaks", True, "graph breaks, as Dynamo counts them"),
        Column("recompiles", True, "compilations after the first of each graph"),
        Column("top break reasons", wrap="reason", help="reason at the user source line"),
        Column("recompile reasons", wrap="reason", help="the reason the framework gave"),
        Column("outside the graph", wrap="reason", help="fallbacks, CUDA-graph skips"),
        Column("first call s", True, "the diagnosing worker's own first call"),
        Column("phases", wrap="reason", help="what the framework attributes inside it"),
        Column(
            "warm first call",
            wrap="reason",
            help="a second diagnosing worker finding the first one's persistent cache: its "
            "first call, the phases it did not run, the cache hits the framework counted",
        ),
    )
    rows = []
    for r in cells:
        g = r.graph_capture
        assert g is not None
        if g.capture_error and g.graphs is None:
            rows.append(Row((_label(r), "–", "–", "–", g.capture_error, *["–"] * 5), "na"))
            continue
        rows.append(
            Row(
                (
                    _label(r),
                    fmt.count(_or_nan(g.graphs)),
                    fmt.count(_or_nan(g.graph_breaks)),
                    fmt.count(_or_nan(g.recompilations)),
                    _reasons(r),
                    _recompiles(r),
                    "; ".join(outside_the_graph(g)) or "–",
                    fmt.sig(_or_nan(g.capture_first_call_s)),
                    _phases(g.first_call_phases),
                    _warm(r),
                )
            )
        )
    return Table("graph-capture-table", columns, tuple(rows), "No cell was diagnosed.")


def phase_frame(cells: list[CellResult]) -> pd.DataFrame:
    """One row per (cell, phase): seconds, and the cell's steady-state step."""
    rows: list[dict[str, Any]] = []
    for r in cells:
        g = r.graph_capture
        assert g is not None
        steady = measures.compute(STEADY, {"result": r})["steady_ms"]
        for phase, seconds in g.first_call_phases.items():
            row = {"cell": _label(r), "phase": phase, "seconds": max(0.0, seconds)}
            rows.append({**row, "steady_ms": steady, "other": phase == OTHER_PHASE})
    return pd.DataFrame(rows, columns=["cell", "phase", "seconds", "steady_ms", "other"])


def build(
    runs: Sequence[Run], first_figure: int = 1, options: Options | None = None
) -> Section | None:
    cells = diagnosed(runs)
    if not cells:
        return None
    number = str(first_figure)
    block = figure(
        f"fig-{ID}",
        number,
        (
            "The first call, phase by phase, beside the steady-state step",
            "Each diagnosed cell's first call split into the phases its framework times "
            "(torch.compile: Dynamo, AOTAutograd, Inductor, kernel compilation; jax.jit: "
            "trace, lower, XLA compile; tf.function: tracing, first execution); 'other' is "
            "the rest of the first call. Right: the cell's median steady-state step. "
            + computed_by(*STEADY.values()),
        ),
        lambda: plots.first_call_phases(phase_frame(cells)),
    )
    return Section(
        scenario=ID,
        template="sections/graph_capture.html.j2",
        noun="diagnosed static cells",
        total=len(cells),
        counts=[],
        warnings=[],
        nav=[(ID, "Graph capture: why a static graph is or is not faster")],
        context={"table": capture_table(cells), "figure": block},
        failures=pd.DataFrame(),
        figures_used=1,
    )
