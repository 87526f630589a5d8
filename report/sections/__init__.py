"""A report section per scenario: ``report.sections.<scenario name>``.

Each section module has ``build(runs, first_figure) -> Section | None`` (None where the runs
hold no cell of its scenario) and a template ``templates/sections/<name>.html.j2``. The
page (report.html) puts the sections of the scenarios present in order, then the
failures of all of them, their citations and the runs' environments.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.matrix import scenarios
from bench.results.store import Run


@dataclass(frozen=True)
class Options:
    """How the page is built: what the reader asked for."""

    include_contended: bool = False  # count contended cells in the geometric means
    report_dir: Path | None = None  # where the page is written: links to traces start here
    include_slow: bool = False  # count cells measured in a slow window in the geometric means


@dataclass
class Section:
    scenario: str
    template: str  # sections/<name>.html.j2
    noun: str  # "fixed-shape cells"
    total: int  # cells of this scenario in the runs
    counts: list[tuple[str, int]]  # (status, how many), in the statuses' order
    warnings: list[str]  # shown under the counts (a busy machine, ...)
    nav: list[tuple[str, str]]  # (anchor, text) for the contents
    context: dict[str, Any]  # what the template reads
    failures: pd.DataFrame  # cells to list under Failures (frame rows with base columns)
    citations: list[tuple[str, list[str], str]] = field(default_factory=list)
    # (heading, lines, what to say where there is none)
    figures_used: int = 0  # how many top-level figure numbers the section used


def build_all(runs: Sequence[Run], options: Options | None = None) -> list[Section]:
    """The section of each scenario the runs hold, in the scenarios' order."""
    options = options or Options()
    present = {r.cell.scenario for run in runs for r in run.results}
    out: list[Section] = []
    figures = 0
    for name in scenarios.names():
        if name not in present:
            continue
        module = importlib.import_module(f"report.sections.{name}")
        section = module.build(runs, figures + 1, options)
        if section is not None:
            out.append(section)
            figures += section.figures_used
    # Across scenarios: the cells diagnosed with run --diagnose (bench.worker.capture).
    from report.sections import graph_capture

    section = graph_capture.build(runs, figures + 1, options)
    if section is not None:
        out.append(section)
        figures += section.figures_used
    # Across backends: the ahead-of-time cells beside the eager and just-in-time ones.
    from report.sections import aot

    section = aot.build(runs, figures + 1, options)
    if section is not None:
        out.append(section)
    return out
