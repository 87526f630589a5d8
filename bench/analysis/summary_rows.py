"""The rows of each scenario's terminal summary, already formatted (bench.analysis.summary
draws them). One function per scenario, registered in ``TABLES`` by the scenario's name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import backends
from bench.analysis import metrics
from bench.analysis.capture import graphs_breaks
from bench.matrix import scenarios
from bench.matrix.precision import PRECISIONS
from bench.results.record import CellResult


@dataclass(frozen=True)
class SummaryTable:
    """One scenario's rows of the terminal summary, already formatted."""

    title: str
    headers: tuple[str, ...]
    numeric: frozenset[str]
    rows: Sequence[tuple[str, ...]]
    group: int  # rows sharing their first ``group`` columns form a section


FIXED_HEADERS = (
    "model",
    "mode",
    "batch",
    "backend",
    "median ms",
    "p90 ms",
    "throughput/s",
    "first call s",
    "warm s",
    "vs eager",
    "break-even",
    "graphs/breaks",  # run --diagnose (bench.analysis.capture)
    "status",
)
FIXED_NUMERIC = frozenset(FIXED_HEADERS[2:3] + FIXED_HEADERS[4:-2])


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def status_text(r: CellResult, width: int = 60) -> str:
    """``ok``, ``ok (noisy, contended)``, ``ok (2 of 3 repetitions)``... or the status with
    the start of its reason."""
    if r.ok:
        notes = []
        if metrics.is_noisy(r):
            notes.append("noisy")
        if metrics.is_contended(r) and r.contention and r.contention.contention is not None:
            notes.append(f"contended {r.contention.contention:.0%}")
        good, total = metrics.ok_repetitions(r)
        if good < total:
            notes.append(f"{good} of {total} repetitions")
        return f"ok ({', '.join(notes)})" if notes else "ok"
    reason = r.error.replace("\n", " ")
    if len(reason) > width:
        reason = reason[: width - 1] + "…"
    return f"{r.status}: {reason}" if reason else str(r.status)


def break_even_cell(r: CellResult, baselines: metrics.Baselines) -> str:
    """The summary's break-even column: steps, ``never``, or - (eager, or nothing to say)."""
    if not r.ok or not backends.get(r.cell.backend).static:
        return "-"
    result = metrics.break_even(r, baselines.eager(r))
    if result.steps is not None:
        return f"{result.steps:,} steps"
    return "never" if result.never else "-"


STREAM_HEADERS = (
    "model",
    "mode",
    "stream",
    "backend",
    "strategy",
    "shapes",
    "compiles",
    "total s",
    "compile s",
    "steady ms",
    "padding",
    "status",
)
STREAM_NUMERIC = frozenset(STREAM_HEADERS[5:-1])


def fixed_table(results: list[CellResult], baselines: metrics.Baselines) -> SummaryTable:
    """The fixed-shape cells: step time, throughput, first calls, speed-up, break-even."""
    # A precision column only where a run has more than float32 (the usual table's shape).
    show_precision = any(r.cell.precision != "float32" for r in results)
    rows = []
    # Stable sort: within a block, backends keep the order they ran in (eager first).
    order = ("model", "profile", "mode", "batch_size", "device")
    for r in sorted(results, key=lambda r: (*(getattr(r.cell, k) for k in order),
                                            PRECISIONS.index(r.cell.precision))):  # fmt: skip
        lat = metrics.latency(r)
        median, p90 = (lat.median, lat.p90) if lat else (None, None)
        ratio = metrics.speedup_vs_eager(r, baselines)
        warm = r.warm.first_call_warm_s if r.warm else None
        precision = (r.cell.precision,) if show_precision else ()
        rows.append(
            (
                r.cell.model,
                r.cell.mode,
                str(r.cell.batch_size),
                *precision,
                r.cell.backend,
                _num(median, ".3g"),
                _num(p90, ".3g"),
                _num(metrics.throughput_per_s(r), ",.0f"),
                _num(r.first_call.first_call_s if r.first_call else None, ".3g"),
                _num(warm, ".3g"),
                "-" if ratio is None else f"{ratio:.2f}x",
                break_even_cell(r, baselines),
                graphs_breaks(r.graph_capture),
                status_text(r),
            )
        )
    headers = (
        (*FIXED_HEADERS[:3], "precision", *FIXED_HEADERS[3:]) if show_precision else FIXED_HEADERS
    )
    return SummaryTable(
        scenarios.get("fixed").title, headers, FIXED_NUMERIC, rows, group=4 if show_precision else 3
    )


def stream_table(results: list[CellResult], baselines: metrics.Baselines) -> SummaryTable:
    """The stream cells: shapes seen, compilations, the stream's total and steady step."""
    rows = []
    order = ("model", "profile", "mode", "stream", "batch_size", "device", "precision")
    for r in sorted(results, key=lambda r: tuple(getattr(r.cell, k) for k in order)):
        ok = r.ok
        waste = metrics.padding_waste(r) if ok else None
        rows.append(
            (
                r.cell.model,
                r.cell.mode,
                r.cell.stream or "-",
                r.cell.backend,
                r.cell.strategy or "-",
                _num(metrics.distinct_shapes(r) if ok else None, "d"),
                _num(r.passes.compilations if ok and r.passes else None, "d"),
                _num(metrics.total_s(r), ".3g"),
                _num(metrics.compile_s(r), ".3g"),
                _num(metrics.median_ms(r), ".3g"),
                "-" if waste is None else f"{100 * waste:.0f}%",
                status_text(r),
            )
        )
    return SummaryTable(
        scenarios.get("stream").title, STREAM_HEADERS, STREAM_NUMERIC, rows, group=3
    )


START_HEADERS = (
    "model",
    "mode",
    "batch",
    "backend",
    "style",
    "artefact s",
    "artefact MB",
    "load s",
    "to first result s",
    "warm s",
    "median ms",
)
START_NUMERIC = frozenset(START_HEADERS[5:])


def start_table(results: list[CellResult]) -> SummaryTable | None:
    """The three execution styles' starts side by side, for the blocks (model, mode, batch,
    precision, device) that hold an ahead-of-time cell: the artefact's build and size, the
    time to first result (bench.analysis.metrics.time_to_first_result), cold and warm, and the
    steady step. None where the results hold no ahead-of-time cell."""
    block = ("model", "profile", "mode", "batch_size", "precision", "device")
    aot = {
        tuple(getattr(r.cell, k) for k in block)
        for r in results
        if r.artifact is not None and r.cell.scenario == "fixed"
    }
    if not aot:
        return None
    rows = []
    mine = [
        r
        for r in results
        if r.ok and r.cell.scenario == "fixed" and tuple(getattr(r.cell, k) for k in block) in aot
    ]
    for r in sorted(mine, key=lambda r: tuple(getattr(r.cell, k) for k in block)):
        a = r.artifact
        style = metrics.execution_style(r)
        rows.append(
            (
                r.cell.model,
                r.cell.mode,
                str(r.cell.batch_size),
                r.cell.backend,
                style,
                _num(a.artifact_build_s if a else None, ".3g"),
                _num(a.artifact_bytes / 1e6 if a and a.artifact_bytes is not None else None, ".3g"),
                _num(a.load_s if a else None, ".3g"),
                _num(metrics.time_to_first_result(r), ".3g"),
                _num(metrics.time_to_first_result(r, warm=True) if style == "jit" else None, ".3g"),
                _num(metrics.median_ms(r), ".3g"),
            )
        )
    title = "time to first result: eager, just-in-time and ahead-of-time"
    return SummaryTable(title, START_HEADERS, START_NUMERIC, rows, group=3)


# Each scenario's table, by the scenario's name (tests/test_layout.py: one per scenario).
TABLES: dict[str, Callable[[list[CellResult], metrics.Baselines], SummaryTable]] = {
    "fixed": fixed_table,
    "stream": stream_table,
}
