"""The report's tables, as plain data: columns and rows of already-formatted strings.

The template escapes every string; nothing here produces markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from report import fmt
from report.frame import panel, workload


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


def _where(r: pd.Series) -> tuple[str, str, str, str, str]:
    return (str(r["model"]), str(r["mode"]), str(r["batch_size"]), r["source"], str(r["backend"]))


WHERE_COLUMNS = (
    Column("model"),
    Column("mode"),
    Column("batch", True),
    Column("device"),
    Column("backend"),
)


def failures_table(cells: pd.DataFrame) -> Table:
    """Every cell that is not ok, with its full reason and the tail of its worker's output."""
    bad = cells[cells["status"] != "ok"]
    rows = []
    for _, r in bad.iterrows():
        tail = r["output_tail"]
        output: str | Block = Block("last lines", tail) if tail else "–"
        rows.append(Row((*_where(r), str(r["status"]), r["error"] or "–", output), "bad"))
    columns = (
        *WHERE_COLUMNS,
        Column("status"),
        Column("reason", wrap="reason"),
        Column("worker output"),
    )
    return Table("failures-table", columns, tuple(rows), "Every cell is ok.")


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
