"""The traces of a run made with --trace: links to each cell's trace files and the top
operations of the fastest and slowest traced backend of a block.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from bench.matrix.job import TRACE_DIR
from report import fmt
from report.tables import Column, Link, Row, Table


def trace_link(run_path: str, name: str, report_dir: Path | None) -> Link | str:
    """A link from the report to a trace file of a run; plain text for a name that is not a
    file under the run's traces/ folder (a hostile record cannot make a link elsewhere)."""
    path = (Path(run_path) / name).resolve()
    traces = (Path(run_path) / TRACE_DIR).resolve()
    if traces not in path.parents or not path.is_file():
        return name
    href = os.path.relpath(path, report_dir) if report_dir else path.as_uri()
    return Link(name.rsplit("/", 1)[-1], Path(href).as_posix())


def traces_table(cells: pd.DataFrame, report_dir: Path | None) -> Table:
    """Every traced cell: its profiler, its files (links) and its top operation."""
    columns = (
        Column("cell", wrap="wrap"),
        Column("profiler"),
        Column("trace files", wrap="wrap"),
        Column("top operation (self ms/step, share)", wrap="wrap"),
    )
    rows = []
    for _, r in cells[cells["trace_tool"].notna()].iterrows():
        links = [trace_link(r["run_path"], f, report_dir) for f in r["trace_files"]]
        top = r["top_ops"][0] if r["top_ops"] else None
        best = (
            f"{top['name']} ({fmt.sig(top['self_ms_per_step'])} ms, {fmt.percent(top['share'])})"
            if top
            else str(r["trace_error"] or "–")
        )
        for i, link in enumerate(links or ["–"]):
            first = i == 0
            rows.append(
                Row(
                    (
                        _cell_label(r) if first else "",
                        str(r["trace_tool"]) if first else "",
                        link,
                        best if first else "",
                    )
                )
            )
    empty = "No trace: run with --trace to record each cell's steps with its profiler."
    return Table("traces-table", columns, tuple(rows), empty)


def _cell_label(r: pd.Series) -> str:
    text = f"{r['model']} {r['mode']} b{r['batch_size']} {r['device']} {r['backend']}"
    return text if r["precision"] == "float32" else f"{text} {r['precision']}"


def top_ops_table(cells: pd.DataFrame) -> Table:
    """Per block with traces: the top operations of its fastest and slowest traced backend,
    side by side (why one is faster: where each spends its steps)."""
    columns = (
        Column("#", True),
        Column("fastest: operation", wrap="wrap"),
        Column("self ms/step", True),
        Column("share", True),
        Column("slowest: operation", wrap="wrap"),
        Column("self ms/step", True),
        Column("share", True),
    )
    traced = cells[(cells["status"] == "ok") & cells["top_ops"].map(bool)]
    rows: list[Row] = []
    for _, block in traced.groupby(
        ["run_id", "model", "mode", "batch_size", "device", "precision"], observed=True, sort=False
    ):
        if len(block) < 2:
            continue
        block = block.sort_values("median_ms")
        fast, slow = block.iloc[0], block.iloc[-1]
        rows.append(
            Row(
                (
                    f"{_cell_label(fast).rsplit(' ', 1)[0]}: fastest {fast['backend']} "
                    f"({fmt.sig(fast['median_ms'])} ms), slowest {slow['backend']} "
                    f"({fmt.sig(slow['median_ms'])} ms)",
                ),
                "group",
            )
        )
        for i in range(max(len(fast["top_ops"]), len(slow["top_ops"]))):
            a = fast["top_ops"][i] if i < len(fast["top_ops"]) else None
            b = slow["top_ops"][i] if i < len(slow["top_ops"]) else None
            rows.append(Row((str(i + 1), *_op_cells(a), *_op_cells(b))))
    empty = "No block has two traced ok backends (run with --trace)."
    return Table("top-ops-table", columns, tuple(rows), empty)


def _op_cells(op: dict | None) -> tuple[str, str, str]:
    if op is None:
        return ("", "", "")
    return (str(op["name"]), fmt.sig(op["self_ms_per_step"]), fmt.percent(op["share"]))
