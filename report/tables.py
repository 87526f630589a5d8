"""The report's tables, as plain data: columns and rows of already-formatted strings.

The template escapes every string; nothing here produces markup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from report import fmt
from report.frame import NOT_APPLICABLE, panel, workload


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False
    help: str = ""  # shown as a tooltip on the header
    wrap: str = ""  # "wrap" or "reason": a text column that may wrap


@dataclass(frozen=True)
class Block:
    """A cell with a short summary and a longer text shown on request (e.g. worker output)."""

    summary: str
    text: str


@dataclass(frozen=True)
class Row:
    cells: tuple[str | Block, ...]
    classes: str = ""  # "bad", "noisy", "group" (a heading row spanning the table)


@dataclass(frozen=True)
class Table:
    id: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...] = field(default_factory=tuple)
    empty: str = "none"  # shown instead of an empty table


def status_text(row: pd.Series) -> str:
    """``ok``, ``ok (noisy)``, or the status alone: the reason is in the failures table."""
    if row["status"] == "ok":
        return "ok (noisy)" if row["noisy"] else "ok"
    return str(row["status"])


def _classes(row: pd.Series) -> str:
    if row["status"] != "ok":
        return "bad"
    return "noisy" if row["noisy"] else ""


def _group_label(row: pd.Series) -> str:
    return f"{row['model']} · {row['mode']} · batch {row['batch_size']} · {row['source']}"


SUMMARY_COLUMNS = (
    Column("backend"),
    Column("median ms", True, "median of the timed steps"),
    Column("p90 ms", True),
    Column("p99 ms", True),
    Column("IQR ms (of median)", True, "interquartile range; noisy above 10% of the median"),
    Column("examples/s", True, "pipelined throughput: back-to-back steps, one sync at the end"),
    Column("first call s", True, "first step including tracing/compilation, cold caches"),
    Column(
        "warm first call s",
        True,
        "the first call of a new process that finds the compile cache the first one left "
        "(only backends that keep one)",
    ),
    Column("peak MiB", True, "device allocator peak on CUDA, host VmHWM on CPU"),
    Column("parity err", True, "max |y - y_ref| / max |y_ref| against float64 NumPy"),
    Column("vs eager", True, "the same framework's eager median / this median"),
    Column("vs torch-eager", True, "torch-eager's median / this median"),
    Column("status"),
)


def summary_table(cells: pd.DataFrame) -> Table:
    """Every cell, grouped under a heading row per model, mode, batch size and device."""
    rows: list[Row] = []
    previous = None
    for _, r in cells.iterrows():
        group = _group_label(r)
        if group != previous:
            rows.append(Row((group,), "group"))
            previous = group
        iqr = f"{fmt.sig(r['iqr_ms'])} ({fmt.percent(r['iqr_ratio'])})" if r["n"] else "–"
        rows.append(
            Row(
                (
                    str(r["backend"]),
                    fmt.sig(r["median_ms"]),
                    fmt.sig(r["p90_ms"]),
                    fmt.sig(r["p99_ms"]),
                    iqr,
                    fmt.count(r["throughput_per_s"]),
                    fmt.sig(r["first_call_s"]),
                    fmt.sig(r["first_call_warm_s"]),
                    fmt.mib(r["memory_bytes"]),
                    fmt.error(r["parity_max_rel_err"]),
                    fmt.times(r["vs_eager"]),
                    fmt.times(r["vs_torch_eager"]),
                    status_text(r),
                ),
                _classes(r),
            )
        )
    return Table("summary-table", SUMMARY_COLUMNS, tuple(rows))


def _backend_label(r: pd.Series) -> str:
    """The backend, plus the strategy and stream of a dynamic-shape cell."""
    if "strategy" not in r.index:
        return str(r["backend"])
    return f"{r['backend']} ({r['strategy']}, {r['stream']} stream)"


def _where(r: pd.Series) -> tuple[str, str, str, str, str]:
    return (str(r["model"]), str(r["mode"]), str(r["batch_size"]), r["source"], _backend_label(r))


WHERE_COLUMNS = (
    Column("model"),
    Column("mode"),
    Column("batch", True),
    Column("device"),
    Column("backend"),
)


def failures_table(cells: pd.DataFrame | None, dynamic: pd.DataFrame | None = None) -> Table:
    """Every cell that is not ok, with its full reason and the tail of its worker's output.

    Fixed-shape cells first, then dynamic-shape cells but those skipped as not applicable
    (a strategy the backend has no use for: the dynamic section's tables list them).
    """
    frames = []
    if cells is not None and len(cells):
        frames.append(cells[cells["status"] != "ok"])
    if dynamic is not None and len(dynamic):
        frames.append(dynamic[(dynamic["status"] != "ok") & ~dynamic["not_applicable"]])
    rows = []
    for _, r in (r for bad in frames for r in bad.iterrows()):
        tail = r["output_tail"]
        output: str | Block = Block("last lines", tail) if tail else "–"
        rows.append(Row((*_where(r), str(r["status"]), r["error"] or "–", output), "bad"))
    columns = (
        *WHERE_COLUMNS,
        Column("status"),
        Column("reason", wrap="reason"),
        Column("worker output"),
    )
    empty = "Every cell is ok."
    if dynamic is not None and len(dynamic) and dynamic["not_applicable"].any():
        empty = "No cell failed (strategies that do not apply are listed with their stream)."
    return Table("failures-table", columns, tuple(rows), empty)


def noisy_table(cells: pd.DataFrame) -> Table:
    """ok cells whose IQR is over 10% of their median: their medians deserve less trust."""
    noisy = cells[cells["noisy"]]
    rows = [
        Row(
            (
                *_where(r),
                fmt.sig(r["median_ms"]),
                fmt.sig(r["iqr_ms"]),
                fmt.percent(r["iqr_ratio"]),
                fmt.sig(r["p99_ms"]),
                str(r["n"]),
            ),
            "noisy",
        )
        for _, r in noisy.iterrows()
    ]
    columns = (
        *WHERE_COLUMNS,
        Column("median ms", True),
        Column("IQR ms", True),
        Column("IQR / median", True),
        Column("p99 ms", True),
        Column("samples", True),
    )
    return Table("noisy-table", columns, tuple(rows), "No cell is noisy (IQR/median ≤ 10%).")


def _coverage(covered: int, total: int) -> str:
    return f"{covered}/{total}"


def geomean_table(geo: pd.DataFrame) -> Table:
    rows = [
        Row(
            (
                g["panel"],
                str(g["backend"]),
                fmt.times(g["vs_eager"]),
                _coverage(g["vs_eager_covered"], g["total"]),
                fmt.times(g["vs_torch_eager"]),
                _coverage(g["vs_torch_eager_covered"], g["total"]),
                f"{g['ok']}/{g['total']} ({fmt.percent(g['ok'] / g['total'])})",
            ),
            "" if g["ok"] == g["total"] else "bad",
        )
        for _, g in geo.iterrows()
    ]
    columns = (
        Column("mode · device"),
        Column("backend"),
        Column("geomean vs own eager", True, "geometric mean over the covered workloads"),
        Column("covered", True, "workloads with a speedup / workloads run"),
        Column("geomean vs torch-eager", True),
        Column("covered", True),
        Column("pass rate", True, "ok cells / cells run"),
    )
    return Table("geomean-table", columns, tuple(rows), "No cell to summarise.")


def break_even_table(pairs: pd.DataFrame) -> Table:
    rows = [
        Row(
            (
                p,
                w,
                str(r["backend"]),
                str(r["eager_backend"]),
                f"{fmt.sig(r['static_first_s'])} / {fmt.sig(r['eager_first_s'])}",
                f"{fmt.sig(r['static_median_ms'])} / {fmt.sig(r['eager_median_ms'])}",
                fmt.steps(r["break_even_steps"]),
            ),
        )
        for p, w, (_, r) in zip(panel(pairs), workload(pairs), pairs.iterrows(), strict=True)
    ]
    columns = (
        Column("mode · device"),
        Column("model, batch"),
        Column("static backend"),
        Column("eager backend"),
        Column("first result s (static / eager)", True, "build + first call"),
        Column("median ms (static / eager)", True),
        Column("break-even steps", True),
    )
    return Table("break-even-table", columns, tuple(rows), "No static/eager pair of ok cells.")


DYNAMIC_COLUMNS = (
    Column("backend"),
    Column("strategy", help="exact, dynamic or bucket: see How to read this section"),
    Column("status"),
    Column("shapes", True, "distinct sequence lengths the backend was fed"),
    Column(
        "compilations",
        True,
        "graphs the framework reports building over the stream (dynamo's unique graphs, "
        "jax.jit's cache entries, tf.function's tracing count); – for eager backends",
    ),
    Column("total s", True, "the whole stream's wall time, first pass, compilations included"),
    Column("compile s", True, "first-pass total − second-pass total (every shape already seen)"),
    Column("compile share", True, "compile s / total s"),
    Column("steady ms", True, "median step of the second pass: no compilation left"),
    Column("padding", True, "padded positions / positions fed (bucket only)"),
    Column(
        "overtakes eager at step",
        True,
        "the step from which this backend's cumulative time stays at or below its framework's "
        "eager backend (exact) to the end of the stream; never: still behind at the end",
    ),
    Column("note", wrap="wrap"),
)


def _overtakes(r: pd.Series) -> str:
    if math.isfinite(r["overtakes_at"]):
        return f"{r['overtakes_at']:,.0f}"
    return r["overtakes_note"] or "–"


def _dynamic_note(r: pd.Series) -> str:
    """Why a cell has no numbers, or when a static cell last compiled."""
    if r["not_applicable"]:
        return r["error"].removeprefix(NOT_APPLICABLE).lstrip(": ")
    if r["status"] != "ok":
        return r["error"] or "–"
    parts = []
    if math.isfinite(r["last_compile_step"]):
        parts.append(f"last compilation at step {r['last_compile_step']:,.0f}")
    again = r["compilations_second_pass"]
    if math.isfinite(again) and again > 0:
        parts.append(f"{again:,.0f} more in the second pass: compile s is understated")
    return "; ".join(parts)


def dynamic_table(group: pd.DataFrame, table_id: str) -> Table:
    """One stream fed to every backend: a row per backend and strategy, skipped ones kept."""
    rows = []
    for _, r in group.iterrows():
        status = NOT_APPLICABLE if r["not_applicable"] else str(r["status"])
        rows.append(
            Row(
                (
                    str(r["backend"]),
                    str(r["strategy"]),
                    status,
                    fmt.count(r["distinct_shapes"]),
                    fmt.count(r["compilations"]),
                    fmt.sig(r["total_s"]),
                    fmt.sig(r["compile_s"]),
                    fmt.percent(r["compile_share"]),
                    fmt.sig(r["steady_ms"]),
                    fmt.percent(r["padding_waste"]),
                    _overtakes(r),
                    _dynamic_note(r),
                ),
                "na" if r["not_applicable"] else "" if r["status"] == "ok" else "bad",
            )
        )
    return Table(table_id, DYNAMIC_COLUMNS, tuple(rows), "No cell.")
