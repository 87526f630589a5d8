"""The comparison page's figure: B/A median ratio per matching cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from report.plots.base import NothingToDraw, readable_numbers, styled


@styled
def comparison_ratios(changes: pd.DataFrame, threshold: float) -> Figure:
    """B/A median ratio per matching cell with its bootstrap 95% interval.

    ``changes``: one row per cell with label, ratio, low, high and verdict. The shaded
    band is the threshold around 1: a cell is slower or faster only where its whole
    interval is off 1 and its ratio is outside the band.
    """
    if changes.empty:
        raise NothingToDraw("no matching ok cells to compare")
    colours = {"slower": "#c0392b", "faster": "#1e8449", "unchanged": "#7f8c8d"}
    fig = Figure(figsize=(8.5, 0.28 * len(changes) + 1.3), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(changes))
    ax.axvspan(1 - threshold, 1 + threshold, color="#eeeeee", zorder=0)
    ax.axvline(1.0, color="#555555", lw=0.8)
    for verdict, colour in colours.items():
        rows = changes["verdict"].to_numpy() == verdict
        if rows.any():
            sub = changes[rows]
            err = [sub["ratio"] - sub["low"], sub["high"] - sub["ratio"]]
            ax.errorbar(
                sub["ratio"],
                y[rows],
                xerr=err,
                fmt="o",
                color=colour,
                ms=4,
                capsize=2,
                lw=1,
                label=verdict,
            )
    ax.set_yticks(y, list(changes["label"]))
    ax.set_ylim(len(changes) - 0.5, -0.5)
    lo = min(float(changes["low"].min()), 1 - threshold) / 1.05
    hi = max(float(changes["high"].max()), 1 + threshold) * 1.05
    scale = ""
    if hi / lo > 4:  # log only where ratios span a wide range: symmetric for 2x and 0.5x
        ax.set_xscale("log")
        scale = " (log scale)"
    ax.set_xlim(lo, hi)
    if scale:
        readable_numbers(ax)
    ax.set_xlabel(f"B median / A median{scale}: right of 1 is slower")
    fig.legend(loc="outside upper right", ncols=3, frameon=False)
    return fig
