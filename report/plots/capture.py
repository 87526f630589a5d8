"""The graph-capture figure: each diagnosed cell's first call, phase by phase, beside its
steady-state step (report.sections.graph_capture)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bench.results.record import OTHER_PHASE
from report.plots.base import NothingToDraw, compact, styled


@styled
def first_call_phases(data: pd.DataFrame) -> Figure:
    """A stacked bar per diagnosed cell of its first call's phases (seconds), and beside it
    the cell's median steady-state step (ms): what a static graph costs once and saves
    each step. ``data``: cell, phase, seconds, steady_ms (report.sections.graph_capture)."""
    if data.empty:
        raise NothingToDraw("no diagnosed cell with first-call phases")
    cells = list(dict.fromkeys(data["cell"]))
    phases = list(dict.fromkeys(data["phase"]))
    colours = dict(zip(phases, sns.color_palette("tab10", len(phases)), strict=True))
    if OTHER_PHASE in colours:  # what the framework attributes to no phase: grey
        colours[OTHER_PHASE] = (0.75, 0.75, 0.75)
    fig = Figure(figsize=(9.5, 0.9 + 0.42 * len(cells)), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    y = np.arange(len(cells))
    starts = np.zeros(len(cells))
    for phase in phases:
        mine = data[data["phase"] == phase].set_index("cell")["seconds"]
        widths = np.array([float(mine.get(c, 0.0)) for c in cells])
        left.barh(y, widths, left=starts, color=colours[phase], label=phase, height=0.6)
        starts += widths
    left.set_yticks(y, cells)
    left.invert_yaxis()
    left.set_xlabel("first call, s")
    left.legend(loc="lower right", fontsize=7.5, frameon=True)
    steady = data.drop_duplicates("cell").set_index("cell")["steady_ms"]
    values = np.array([float(steady.get(c)) if pd.notna(steady.get(c)) else np.nan for c in cells])
    right.barh(y, np.nan_to_num(values), color=(0.35, 0.45, 0.6), height=0.6)
    for i, v in enumerate(values):
        right.text(0, i, " –" if np.isnan(v) else f" {compact(v)}", va="center", fontsize=7.5)
    right.set_xlabel("steady step, ms (median)")
    return fig
