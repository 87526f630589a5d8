"""The end-of-run summary: one table per scenario, rows from the scenario's own module.

Every string from results is shown literally: escape sequences and rich markup in
a result (an error message, say) never reach the terminal as anything but text.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bench import scenarios
from bench.metrics import Baselines
from bench.record import CellResult
from bench.scenarios.base import SummaryTable
from bench.terminal import plain


def tables(results: list[CellResult]) -> list[SummaryTable]:
    """The summary of each scenario present in ``results`` (fixed shapes when there is none)."""
    baselines = Baselines(results)
    present = {r.cell.scenario for r in results} or {"fixed"}
    return [
        scenario.summary([r for r in results if r.cell.scenario == name], baselines)
        for name, scenario in scenarios.SCENARIOS.items()
        if name in present
    ]


def table(results: list[CellResult], title: str | None = None) -> Group:
    """One rich table per scenario present in ``results``."""
    out = []
    for view in tables(results):
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


def markdown(results: list[CellResult]) -> str:
    """The same tables as Markdown, every cell escaped so it cannot break the table."""
    parts = []
    for view in tables(results):
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
