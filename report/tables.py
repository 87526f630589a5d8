"""The report's tables, as plain data: columns and rows of already-formatted strings.

The template escapes every string; nothing here produces markup. Each scenario's own
tables live in its section (report.sections); the failures table of every scenario is
here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from report.measures import Aggregate, Measure, explain


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False
    help: str = ""  # shown as a tooltip on the header
    wrap: str = ""  # "wrap" or "reason": a text column that may wrap
    shows: tuple[Measure | Aggregate, ...] = ()  # what its cells show: their metrics


def shown(
    label: str, *shows: Measure | Aggregate, note: str = "", numeric: bool = True, wrap: str = ""
) -> Column:
    """A column of derived numbers: its tooltip is what ``shows`` are, from their metrics'
    own docstrings (report.measures.explain)."""
    return Column(label, numeric, explain(*shows, note=note), wrap, shows)


@dataclass(frozen=True)
class Block:
    """A cell with a short summary and a longer text shown on request (e.g. worker output)."""

    summary: str
    text: str


@dataclass(frozen=True)
class Link:
    """A cell that links to a file beside the report (a trace): both strings are escaped."""

    text: str
    href: str


@dataclass(frozen=True)
class Row:
    cells: tuple[str | Block | Link, ...]
    classes: str = ""  # "bad", "noisy", "na", "group" (a heading row spanning the table)


@dataclass(frozen=True)
class Table:
    id: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...] = field(default_factory=tuple)
    empty: str = "none"  # shown instead of an empty table


def status_text(row: pd.Series) -> str:
    """``ok``, ``ok (noisy, contended)``, or the status alone: the reason is in the failures
    table."""
    if row["status"] == "ok":
        flags = [
            f
            for f, on in (
                ("noisy", row.get("noisy")),
                ("contended", row.get("contended")),
                ("near floor", row.get("near_floor")),
            )
            if on
        ]
        return f"ok ({', '.join(flags)})" if flags else "ok"
    return str(row["status"])


def _backend_label(r: pd.Series) -> str:
    """The backend, plus the precision, strategy and stream where they are not the default."""
    text = str(r["backend"])
    extra = [str(r["precision"])] if r.get("precision", "float32") != "float32" else []
    if r.get("stream") is not None and str(r.get("stream")) not in ("None", "nan"):
        extra.append(f"{r['strategy']}, {r['stream']} stream")
    return f"{text} ({'; '.join(extra)})" if extra else text


def failures_table(frames: Sequence[pd.DataFrame], any_not_applicable: bool = False) -> Table:
    """Every cell that is not ok (not applicable ones aside), with its full reason and the
    tail of its worker's output."""
    rows = []
    for bad in frames:
        for _, r in bad.iterrows():
            tail = r["output_tail"]
            output: str | Block = Block("last lines", tail) if tail else "–"
            where = (
                str(r["model"]),
                str(r["mode"]),
                str(r["batch_size"]),
                r["source"],
                _backend_label(r),
            )
            rows.append(Row((*where, str(r["status"]), r["error"] or "–", output), "bad"))
    columns = (
        Column("model"),
        Column("mode"),
        Column("batch", True),
        Column("device"),
        Column("backend"),
        Column("status"),
        Column("reason", wrap="reason"),
        Column("worker output"),
    )
    empty = "Every cell is ok."
    if any_not_applicable:
        empty = "No cell failed (combinations that do not apply are listed in their section)."
    return Table("failures-table", columns, tuple(rows), empty)
