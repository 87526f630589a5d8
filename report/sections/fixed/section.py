"""The fixed-shape section: its counts, warnings, contents, figures, tables and citations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from bench.analysis import metrics
from bench.analysis.metrics import NOISY_IQR_RATIO
from bench.results.record import CONTENDED_SHARE, SLOW_WINDOW_SHARE, STATUSES
from bench.results.store import Run
from report import fmt
from report.sections import Options, Section
from report.sections.fixed.citations import cite_break_even, cite_cell, cite_geomean, cite_peak
from report.sections.fixed.figures import build_figures, figure_frames, precision_figure
from report.sections.fixed.frames import (
    SCENARIO,
    break_even_frame,
    cells_frame,
    geomean_frame,
)
from report.sections.fixed.tables import (
    break_even_table,
    geomean_table,
    memory_table,
    noisy_table,
    precision_table,
    summary_table,
)
from report.sections.fixed.traces import top_ops_table, traces_table
from report.tables import Table

# A busy machine: the page warns when more than this share of the ok cells is noisy.
NOISY_WARNING_SHARE = 0.25


def impossible_warning(cells: pd.DataFrame) -> str | None:
    """The banner when any cell claims more FLOP/s than its device's measured peak."""
    bad = cells[cells["impossible"]]
    if bad.empty:
        return None
    busy = bad["peak_contention"].max()
    note = (
        f" (the peak was measured while other processes used {fmt.percent(busy)} of the "
        "cores: it may be low; re-run on a quiet machine)"
        if busy > CONTENDED_SHARE
        else ""
    )
    return (
        f"{len(bad)} ok cell(s) achieve more FLOP/s than their device's measured peak for their "
        f"precision (up to {fmt.percent(bad['fraction_of_peak'].max())} of it): impossible. "
        "Their step time did not wait for the device or their FLOP count is too high, or the "
        f"peak is wrong{note}. They are marked “impossible” in the % of peak column; do not "
        "cite their speed."
    )


# The section's tables, by the name the template reads them by: each from the cells frame,
# the static/eager pairs and the geometric means (and, for links, where the page is written).
TABLES: dict[str, Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame, Path | None], Table]] = {
    "geomean": lambda cells, pairs, geo, to: geomean_table(geo),
    "summary": lambda cells, pairs, geo, to: summary_table(cells),
    "noisy_cells": lambda cells, pairs, geo, to: noisy_table(cells),
    "break_even": lambda cells, pairs, geo, to: break_even_table(pairs),
    "memory": lambda cells, pairs, geo, to: memory_table(cells),
    "precision": lambda cells, pairs, geo, to: precision_table(cells),
    "traces": lambda cells, pairs, geo, to: traces_table(cells, to),
    "top_ops": lambda cells, pairs, geo, to: top_ops_table(cells),
}


def tables(
    cells: pd.DataFrame, pairs: pd.DataFrame, geo: pd.DataFrame, report_dir: Path | None
) -> dict[str, Table]:
    return {name: make(cells, pairs, geo, report_dir) for name, make in TABLES.items()}


def build(
    runs: Sequence[Run], first_figure: int = 1, options: Options | None = None
) -> Section | None:
    options = options or Options()
    include_contended = options.include_contended
    cells = cells_frame(runs)
    if cells.empty:
        return None
    pairs = break_even_frame(cells)
    geo = geomean_frame(cells, include_contended, options.include_slow)
    statuses = Counter(cells["status"])
    ok = cells[cells["status"] == "ok"]
    noisy = int(cells["noisy"].sum())
    contended = int(cells["contended"].sum())
    slow = int(cells["slow_window"].sum())
    warnings = []
    if slow:
        warnings.append(
            f"{slow} cell(s) were measured in a slow window: their sentinel (a fixed workload "
            f"timed right before and after their samples) ran more than {SLOW_WINDOW_SHARE:.0%} "
            "slower than the run's median, so the machine, not the backend, was slow. They are "
            "marked “slow window”, left out of the geometric means"
            + (" (included here: --include-slow)" if options.include_slow else "")
            + "; --remeasure-slow measures such cells again at the end of a run."
        )
    if contended:
        warnings.append(
            f"{contended} cell(s) were contended: other processes used more than "
            f"{CONTENDED_SHARE:.0%} of the cores their worker was pinned to while it took its "
            "samples, so their times are the machine's, not the backend's. They are marked "
            "“contended”, left out of the geometric means"
            + (" (included here: --include-contended)" if include_contended else "")
            + "; re-run them on a quiet machine (python -m bench run ...) before citing them."
        )
    if noisy > NOISY_WARNING_SHARE * max(1, len(ok)):
        warnings.append(
            f"{noisy} of the {len(ok)} ok cells are noisy (interquartile range over "
            f"{NOISY_IQR_RATIO:.0%} of the median): the machine was probably busy while these "
            "runs measured. Medians are still the best estimate, but treat differences of less "
            "than about the spread as unproven, and re-run on a quiet machine before citing them."
        )
    if impossible := impossible_warning(cells):
        warnings.append(impossible)
    near = int(cells["near_floor"].sum())
    if near:
        warnings.append(
            f"{near} ok cell(s) have a median within {metrics.FLOOR_MARGIN:g}× the harness floor "
            "(an empty synced step of their framework, measured at the start of the run): much "
            "of their time is the timer and the sync, not the model; they are marked "
            "“near floor”."
        )
    frames = figure_frames(cells, pairs, geo)
    figures = build_figures(frames, first_figure)
    nav = [
        ("reading", "How to read this report"),
        ("headline", "Geometric-mean speedups"),
        *((f.id, f"Figure {f.number}: {f.title}") for f in figures),
        ("summary", "Summary of every cell"),
        ("noisy", "Noisy cells"),
        ("break-even", "Break-even steps"),
        ("memory", "Peak memory against eager"),
    ]
    if (cells["precision"].astype(str) != "float32").any():
        nav.append(("precision", "Reduced precision against float32"))
    if cells["trace_tool"].notna().any():
        nav.append(("traces", "Profiler traces: where the steps go"))
    citations = [
        ("Cells", [cite_cell(r) for _, r in ok.iterrows()], "No ok cell."),
        (
            "Geometric-mean speedups",
            [c for _, g in geo.iterrows() if (c := cite_geomean(g))],
            "No speedup to cite.",
        ),
        (
            "Break-even",
            [cite_break_even(r) for _, r in pairs.iterrows()],
            "No static/eager pair to cite.",
        ),
        (
            "Measured peak",
            [
                c
                for run in runs
                if any(r.cell.scenario == SCENARIO for r in run.results) and (c := cite_peak(run))
            ],
            "No run measured its device's peak.",
        ),
    ]
    return Section(
        scenario=SCENARIO,
        total=len(cells),
        template="sections/fixed.html.j2",
        noun="fixed-shape cells",
        counts=[
            *((s, statuses[s]) for s in STATUSES if statuses[s]),
            ("noisy", noisy),
            ("contended", contended),
        ],
        warnings=warnings,
        nav=nav,
        context={
            "figures": figures,
            **tables(cells, pairs, geo, options.report_dir),
            "precision_figure": precision_figure(frames, first_figure + 6),
            "noise_threshold": f"{NOISY_IQR_RATIO:.0%}",
            "traced": bool(cells["trace_tool"].notna().any()),
        },
        failures=cells[cells["status"] != "ok"],
        citations=citations,
        figures_used=7 if (cells["precision"].astype(str) != "float32").any() else 6,
    )
