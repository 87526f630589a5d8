"""The end-of-run summary: one table per scenario, rows from bench.analysis.summary_rows.

Every string from results is shown literally: escape sequences and rich markup in
a result (an error message, say) never reach the terminal as anything but text.
"""

from __future__ import annotations

from dataclasses import replace

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bench.analysis import metrics
from bench.analysis.metrics import Baselines, pool_repetitions
from bench.analysis.summary_rows import TABLES, SummaryTable, start_table
from bench.results.record import CellResult
from bench.terminal import plain


def tables(
    results: list[CellResult], device_peak: object = None, sentinel_ms: float | None = None
) -> list[SummaryTable]:
    """The summary of each scenario present in ``results`` (fixed shapes when there is none);
    a cell measured in several repetitions is one row (bench.analysis.metrics.pool_repetitions).
    With the run's ``device_peak``, a cell faster than the device's measured peak says so in
    its status; with the run's median ``sentinel_ms``, so does a cell measured in a slow
    window (``flag_status``)."""
    results = pool_repetitions(results)
    baselines = Baselines(results)
    present = {r.cell.scenario for r in results} or {"fixed"}
    flags = {}
    for r in results:
        notes = []
        if metrics.impossible(r, device_peak):
            notes.append(
                f"impossible: {metrics.fraction_of_peak(r, device_peak):.0%} of measured peak"
            )
        ratio = metrics.slow_window_ratio(r, sentinel_ms)
        if r.ok and ratio is not None and metrics.is_slow_window(r, sentinel_ms):
            notes.append(f"slow window ×{ratio:.2f}")
        if notes:
            flags[id(r)] = ", ".join(notes)
    views = []
    for name, rows_of in TABLES.items():
        if name in present:
            mine = [r for r in results if r.cell.scenario == name]
            views.append(flag_status(rows_of(mine, baselines), mine, flags))
    starts = start_table(results)  # only where ahead-of-time cells ran
    return views if starts is None else [*views, starts]


# The summary columns that name a cell, and the Cell field each shows.
IDENTITY_COLUMNS = {
    "model": "model",
    "mode": "mode",
    "batch": "batch_size",
    "precision": "precision",
    "backend": "backend",
    "stream": "stream",
    "strategy": "strategy",
    "repetition": "repetition",
}


def flagged_text(status: str, flag: str) -> str:
    """``ok`` -> ``ok (impossible: 130% of measured peak)``; ``ok (noisy)`` -> ``ok (noisy,
    slow window ×1.31)``."""
    return f"{status[:-1]}, {flag})" if status.endswith(")") else f"{status} ({flag})"


def flag_status(
    view: SummaryTable, results: list[CellResult], flags: dict[int, str]
) -> SummaryTable:
    """``view`` with the status of each flagged cell (``id(result)`` -> what to add) said. A
    row is matched to its cell by the identity columns it shows; cells those columns do not
    tell apart are taken in the order given (the scenario's sort is stable)."""
    if not flags or "status" not in view.headers:
        return view
    shown = [(i, IDENTITY_COLUMNS[h]) for i, h in enumerate(view.headers) if h in IDENTITY_COLUMNS]
    queues: dict[tuple, list[CellResult]] = {}
    for r in results:
        queues.setdefault(tuple(str(getattr(r.cell, f)) for _, f in shown), []).append(r)
    status = view.headers.index("status")
    rows = []
    for row in view.rows:
        queue = queues.get(tuple(row[i] for i, _ in shown))
        cell = queue.pop(0) if queue else None
        flag = flags.get(id(cell)) if cell is not None else None
        if flag is not None:
            row = (*row[:status], flagged_text(row[status], flag), *row[status + 1 :])
        rows.append(row)
    return replace(view, rows=rows)


def table(
    results: list[CellResult],
    title: str | None = None,
    device_peak: object = None,
    sentinel_ms: float | None = None,
) -> Group:
    """One rich table per scenario present in ``results``."""
    out = []
    for view in tables(results, device_peak, sentinel_ms):
        t = Table(
            title=Text(plain(f"{title}: {view.title}" if title else view.title)),
            title_justify="left",
        )
        for h in view.headers:
            t.add_column(h, justify="right" if h in view.numeric else "left", overflow="fold")
        previous = None
        for row in view.rows:
            if previous is not None and row[: view.group] != previous:
                t.add_section()
            previous = row[: view.group]
            t.add_row(*(Text(plain(cell)) for cell in row))
        out.append(t)
    return Group(*out)


def markdown(
    results: list[CellResult], device_peak: object = None, sentinel_ms: float | None = None
) -> str:
    """The same tables as Markdown, every cell escaped so it cannot break the table."""
    parts = []
    for view in tables(results, device_peak, sentinel_ms):
        lines = [f"**{md_cell(view.title)}**", ""]
        lines.append("| " + " | ".join(view.headers) + " |")
        lines.append("|" + "---|" * len(view.headers))
        lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in view.rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def md_cell(text: str) -> str:
    """A Markdown table cell: pipes, backslashes, markup characters and newlines escaped."""
    text = plain(text).replace("\\", "\\\\").replace("|", "\\|")
    for ch in "`*_[]<>#":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())
