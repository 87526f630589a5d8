"""Figure 5: what starting costs, the first call (5a) and the break-even steps (5b)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench import backends
from report.plots.base import NothingToDraw, readable_numbers, styled
from report.plots.dots import DotGrid, dot_panels


@styled
def first_call(cells: pd.DataFrame) -> Figure:
    """First-call time (tracing/compilation plus one step) per backend, log scale.

    Every cell that recorded one, including cells that failed later (a timed-out cell
    keeps its first call).
    """
    data = cells[cells["first_call_s"].notna() & (cells["first_call_s"] > 0)]
    if data.empty:
        raise NothingToDraw("no cell with a first call to plot")
    order = list(cells["backend"].cat.categories)
    return dot_panels(data, "first_call_s", lambda _: "first call, s", order, True)


@styled
def break_even(pairs: pd.DataFrame) -> Figure:
    """Steps after which each static backend has paid back its start-up against its eager one.

    Log scale. A point at the left edge (◀ 0) starts sooner and runs faster: it is ahead
    from the first step; at the right edge (▶ never) its steps are not measurably faster,
    so it never pays back.
    """
    if pairs.empty:
        raise NothingToDraw("no static/eager pair of ok cells to compare")
    steps = pairs["break_even_steps"]
    finite = steps[np.isfinite(steps) & (steps > 0)]
    lo = float(finite.min()) / 4 if len(finite) else 1.0
    hi = float(finite.max()) * 4 if len(finite) else 100.0
    data = pairs.assign(x=np.where(steps == 0, lo, np.where(np.isinf(steps), hi, steps)))
    grid = DotGrid(data, list(backends.BACKENDS))
    for p in grid.panels:
        ax, sub, _ = grid.in_panel(p)
        grid.dots(
            ax, sub[np.isfinite(sub["break_even_steps"]) & (sub["break_even_steps"] > 0)], "x"
        )
        for value, marker in ((0.0, "<"), (math.inf, ">")):
            edge = sub[sub["break_even_steps"] == value]
            ax.scatter(
                edge["x"],
                edge["y"],
                c=[grid.palette[w] for w in edge["workload"]],
                marker=marker,
                s=48,
                zorder=3,
            )
        ax.set_xscale("log")
        ax.set_xlim(lo / 2, hi * 2)
        readable_numbers(ax)
        for x, text, ha in ((lo, "0 ", "right"), (hi, " never (∞)", "left")):
            ax.axvline(x, color="#999999", lw=0.8, ls="--")
            ax.text(
                x, 1.01, text, transform=ax.get_xaxis_transform(), ha=ha, va="bottom", fontsize=8.5
            )
        ax.set_title(p, loc="left", pad=14)
        ax.set_xlabel("steps to break even (log scale)")
    return grid.legend()
