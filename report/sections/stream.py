"""The report's stream section: what a stream of varying shapes costs each backend.

A table and a cumulative-time figure per stream (model, mode, stream, batch size,
device); every number from bench.analysis.metrics (total, compile time and share, steady step,
padding, shapes, the step at which a static backend overtakes its eager one).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis import metrics
from bench.analysis.metrics import EAGER_STRATEGY, Baselines, OvertakeKind
from bench.matrix.streams import STRATEGIES, STRATEGY_HELP, STREAMS
from bench.results.record import STATUSES, CellResult, Status
from bench.results.store import Run
from report import fmt, frame, measures, plots
from report.figures import FigureBlock, figure
from report.measures import Measure, computed_by
from report.sections import Options, Section
from report.tables import Column, Row, Table, shown

SCENARIO = "stream"


def _settings(run: Run) -> dict:
    """What run.json recorded about the stream scenario (schema 1 called it dynamic_shapes)."""
    return run.meta.plan.scenario_settings or {}


def stream_description(run: Run, stream: str) -> str:
    """What run.json says the stream is (bench.matrix.streams' text for runs that did not record
    it)."""
    recorded = (_settings(run).get("streams") or {}).get(stream) or {}
    known = STREAMS.get(stream)
    return recorded.get("description") or (known.description if known else "not recorded")


def strategy_descriptions(runs: Sequence[Run]) -> dict[str, str]:
    """Each strategy as the runs recorded it (bench.matrix.streams' text where none did)."""
    out = dict(STRATEGY_HELP)
    for run in runs:
        out.update(_settings(run).get("strategies") or {})
    return out


def bucket_description(runs: Sequence[Run]) -> str:
    for run in runs:
        text = _settings(run).get("buckets")
        if text:
            return str(text)
    return "powers of two"


M = metrics
# Every derived number of a stream cell, each computed by the one bench.analysis.metrics function
# named.
MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("distinct_shapes", M.distinct_shapes, when="ok"),
        Measure("last_compile_step", M.last_compile_step, when="ok"),
        Measure("total_s", M.total_s),
        Measure("compile_s", M.compile_s),
        Measure("compile_share", M.compile_share),
        Measure("steady_ms", M.median_ms),
        Measure("padding_waste", M.padding_waste, when="ok"),
        Measure("overtakes_at", M.overtaking, ("result", "baselines"), part="value"),
        Measure(
            "overtakes_kind", M.overtaking, ("result", "baselines"), part="kind.value", kind="text"
        ),
        Measure("overtakes_note", M.overtaking, ("result", "baselines"), part="text", kind="text"),
    )
}


def _row(run: Run, r: CellResult, baselines: Baselines) -> dict:
    ok = r.ok
    passes = r.passes
    measured = measures.compute(MEASURES, {"result": r, "baselines": baselines})
    return {
        **frame.base_row(run, r),
        "stream_description": stream_description(run, r.cell.stream or ""),
        "n_steps": len(passes.lengths) if passes else math.nan,
        "distinct_shapes": measured["distinct_shapes"],
        "compilations": frame.num(passes.compilations if ok and passes else None),
        "compilations_second_pass": frame.num(passes.compilations_second_pass if passes else None),
        **{k: measured[k] for k in ("last_compile_step", "total_s", "compile_s")},
        **{k: measured[k] for k in ("compile_share", "steady_ms", "padding_waste")},
        "step_ms": list(passes.step_ms) if ok and passes else [],
        **{k: measured[k] for k in ("overtakes_at", "overtakes_kind", "overtakes_note")},
    }


def stream_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per stream cell of every run, not-applicable ones included."""
    rows = []
    for run in runs:
        results = [r for r in run.results if r.cell.scenario == SCENARIO]
        results = metrics.pool_repetitions(results)  # a cell run K times is one row
        baselines = Baselines(results)
        rows += [_row(run, r, baselines) for r in results]
    if not rows:
        return pd.DataFrame()
    data = pd.DataFrame(rows)
    present = set(data["strategy"])
    strategies = [s for s in STRATEGIES if s in present] + sorted(present - set(STRATEGIES))
    sort = ["model", "mode", "stream", "batch_size", "backend", "strategy"]
    return frame.ordered(data, sort, {"strategy": strategies})


def stream_groups(data: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(heading, cells): one group per model, mode, stream, batch size and device, in order.

    Each group is one stream fed to every backend: a table and a figure of its own.
    """
    keys = ["source", "model", "mode", "stream", "batch_size", "run_id"]
    out = []
    for _, group in data.groupby(keys, observed=True, sort=False):
        r = group.iloc[0]
        heading = (
            f"{r['model']} · {r['mode']} · {r['stream']} stream · batch {r['batch_size']} · "
            f"{r['source']}"
        )
        out.append((heading, group))
    return out


def cumulative_frame(group: pd.DataFrame) -> pd.DataFrame:
    """One row per step of every ok cell: its running wall time over the stream (first pass,
    every trace and compilation included)."""
    ok = group[(group["status"] == "ok") & (group["step_ms"].map(len) > 0)]
    parts = [
        pd.DataFrame(
            {
                "backend": str(r["backend"]),
                "strategy": str(r["strategy"]),
                "framework": r["framework"],
                "step": np.arange(1, len(r["step_ms"]) + 1),
                "cumulative_s": np.cumsum(r["step_ms"]) / 1e3,
            }
        )
        for _, r in ok.iterrows()
    ]
    columns = ["backend", "strategy", "framework", "step", "cumulative_s"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


# --- the table of one stream ----------------------------------------------------------


COLUMNS = (
    Column("backend"),
    Column("strategy", help="exact, dynamic or bucket: see How to read this section"),
    Column("status"),
    shown("shapes", MEASURES["distinct_shapes"]),
    Column(
        "compilations",
        True,
        "graphs the framework reports building over the stream (dynamo's unique graphs, "
        "jax.jit's cache entries, tf.function's tracing count); – for eager backends",
    ),
    shown("total s", MEASURES["total_s"]),
    shown("compile s", MEASURES["compile_s"]),
    shown("compile share", MEASURES["compile_share"]),
    shown("steady ms", MEASURES["steady_ms"], note="the second pass: no compilation left"),
    shown("padding", MEASURES["padding_waste"]),
    shown("overtakes eager at step", MEASURES["overtakes_at"], MEASURES["overtakes_note"]),
    shown(
        "note",
        MEASURES["last_compile_step"],
        note="why a cell has no numbers, or when a static cell last compiled",
        numeric=False,
        wrap="wrap",
    ),
)


def _overtakes(r: pd.Series) -> str:
    if math.isfinite(r["overtakes_at"]):
        return f"{r['overtakes_at']:,.0f}"
    return r["overtakes_note"] or "–"


def _note(r: pd.Series) -> str:
    """Why a cell has no numbers, or when a static cell last compiled."""
    if r["status"] != "ok":
        return r["error"] or "–"
    parts = []
    if math.isfinite(r["last_compile_step"]):
        parts.append(f"last compilation at step {r['last_compile_step']:,.0f}")
    again = r["compilations_second_pass"]
    if math.isfinite(again) and again > 0:
        parts.append(f"{again:,.0f} more in the second pass: compile s is understated")
    return "; ".join(parts)


def stream_table(group: pd.DataFrame, table_id: str) -> Table:
    """One stream fed to every backend: a row per backend and strategy, not-applicable kept."""
    rows = []
    for _, r in group.iterrows():
        classes = "na" if r["not_applicable"] else "" if r["status"] == "ok" else "bad"
        rows.append(
            Row(
                (
                    str(r["backend"]),
                    str(r["strategy"]),
                    "not applicable" if r["not_applicable"] else str(r["status"]),
                    fmt.count(r["distinct_shapes"]),
                    fmt.count(r["compilations"]),
                    fmt.sig(r["total_s"]),
                    fmt.sig(r["compile_s"]),
                    fmt.percent(r["compile_share"]),
                    fmt.sig(r["steady_ms"]),
                    fmt.percent(r["padding_waste"]),
                    _overtakes(r),
                    _note(r),
                ),
                classes,
            )
        )
    return Table(table_id, COLUMNS, tuple(rows), "No cell.")


def cite(r: pd.Series) -> str:
    """``lstm infer b32 cpu skewed stream (64 steps) jax-jit bucket: 1.78 s total, 0.670 s
    compiling (37.6%), 5 compilations, steady 12.8 ms/step, 22.5% padding, overtakes
    jax-eager at step 50; run ... @ ...``"""
    where = (
        f"{r['model']} {r['mode']} b{r['batch_size']} {r['device']} {r['stream']} stream "
        f"({fmt.count(r['n_steps'])} steps) {r['backend']} {r['strategy']}"
    )
    parts = [f"{fmt.sig(r['total_s'])} s total"]
    if r["static"]:
        parts.append(
            f"{fmt.sig(r['compile_s'])} s compiling ({fmt.percent(r['compile_share'])}), "
            f"{fmt.count(r['compilations'])} compilations"
        )
    else:
        parts.append("eager (no compilation)")
    parts.append(f"steady {fmt.sig(r['steady_ms'])} ms/step")
    if r["padding_waste"] > 0:
        parts.append(f"{fmt.percent(r['padding_waste'])} padding")
    eager = f"{r['eager_backend']} ({EAGER_STRATEGY})"
    kind = r["overtakes_kind"]
    if kind == OvertakeKind.AT_STEP.value:
        parts.append(f"overtakes {eager} at step {r['overtakes_at']:,.0f}")
    elif kind == OvertakeKind.NEVER.value:
        parts.append(f"never overtakes {eager} within the stream")
    elif kind == OvertakeKind.NO_BASELINE.value:
        parts.append(f"{r['overtakes_note']} to compare with")
    return f"{where}: {', '.join(parts)}; run {r['run_id']} @ {r['commit']}"


# --- figures --------------------------------------------------------------------------

CAPTION = (
    "Cumulative wall time over the stream: {where}",
    "Each line is one backend fed the {steps} steps of this stream with one strategy: the "
    "running total of its first-pass step times, every trace and compilation included "
    "(colour: backend, as in every figure; line style: strategy, solid exact, dashed "
    "dynamic, dotted bucket). A steep rise is a slow step: a compilation, or a long "
    "sequence; where a line runs parallel to another, the two run equally fast per step. "
    "A ring marks the step from which a static backend's total stays at or below that of "
    "its framework's eager backend fed the stream as it comes (exact), to the end: the "
    "stream length from which its static graph has paid for itself. The vertical axis is "
    "logarithmic where the stream totals span more than 10×; past {max_lines} lines there is "
    "one panel per framework. Here: {crossings}. "
    + computed_by(MEASURES["overtakes_at"], MEASURES["overtakes_kind"]),
)


def _crossings(group: pd.DataFrame) -> str:
    """What the rings of a figure say, in words: each ok static cell's crossing or why none."""
    static = group[(group["status"] == "ok") & group["static"]]
    parts = []
    for _, r in static.iterrows():
        who, eager = f"{r['backend']} {r['strategy']}", r["eager_backend"]
        if r["overtakes_kind"] == OvertakeKind.AT_STEP.value:
            parts.append(f"{who} overtakes {eager} at step {r['overtakes_at']:,.0f}")
        elif r["overtakes_kind"] == OvertakeKind.NEVER.value:
            parts.append(f"{who} never overtakes {eager}")
    missing = static[static["overtakes_kind"] == OvertakeKind.NO_BASELINE.value]
    for (note, backend), sub in missing.groupby(["overtakes_note", "backend"], observed=True):
        strategies = ", ".join(sub["strategy"].astype(str))
        eager = sub["eager_backend"].iloc[0]
        parts.append(
            f"{backend} ({strategies}) has no crossing to mark: {note} in this run "
            f"(run {eager} too, e.g. --backends {eager},{backend})"
        )
    return "; ".join(parts) or "no static backend ran ok on this stream"


@dataclass(frozen=True)
class StreamBlock:
    """One stream fed to every backend: its heading, what the stream is, a table, a figure."""

    id: str
    heading: str
    stream: str
    table: Table
    figure: FigureBlock


def build_streams(data: pd.DataFrame, first_figure: int) -> list[StreamBlock]:
    """A table and a figure per model, mode, stream and device, numbered ``first_figure.i``."""
    out = []
    for i, (heading, group) in enumerate(stream_groups(data), start=1):
        r = group.iloc[0]
        steps = fmt.count(r["n_steps"])
        block = figure(
            f"fig-stream-{i}",
            f"{first_figure}.{i}",
            CAPTION,
            functools.partial(plots.cumulative_time, group, cumulative_frame(group), heading),
            where=heading,
            steps=steps,
            max_lines=str(plots.MAX_LINES_PER_PANEL),
            crossings=_crossings(group),
        )
        out.append(
            StreamBlock(
                f"stream-{i}",
                heading,
                f"{r['stream_description']}; {steps} steps",
                stream_table(group, f"stream-table-{i}"),
                block,
            )
        )
    return out


def build(
    runs: Sequence[Run], first_figure: int = 1, options: Options | None = None
) -> Section | None:
    data = stream_frame(runs)
    if data.empty:
        return None
    statuses = Counter(data["status"])
    ok = data[data["status"] == "ok"]
    streams = build_streams(data, first_figure)
    counts = [(s, statuses[s]) for s in STATUSES if statuses[s]]
    return Section(
        scenario=SCENARIO,
        total=len(data),
        template="sections/stream.html.j2",
        noun="stream cells",
        counts=counts,
        warnings=[],
        nav=[
            ("stream", "Shape streams: the price of a static graph"),
            *((b.id, f"Figure {b.figure.number}: {b.heading}") for b in streams),
        ],
        context={
            "streams": streams,
            "strategies": list(strategy_descriptions(runs).items()),
            "buckets": bucket_description(runs),
        },
        # A strategy with no meaning for a backend is listed with its stream, not as a failure.
        failures=data[(data["status"] != "ok") & (data["status"] != Status.NOT_APPLICABLE.value)],
        citations=[("Shape streams", [cite(r) for _, r in ok.iterrows()], "No ok stream cell.")],
        figures_used=1,
    )
