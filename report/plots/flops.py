"""Figure 6: achieved FLOP/s against the device's measured peak."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from report.plots.base import NothingToDraw, log_if_wide, readable_numbers, styled
from report.plots.dots import DotGrid

IMPOSSIBLE_EDGE = "#c00000"


@styled
def achieved_flops(cells: pd.DataFrame) -> Figure:
    """Achieved GFLOP/s (the model's FLOPs per step / median step time) for ok cells.

    Where the run measured its device's peak (``peak_flops_per_s``: bench.worker.peak), a dashed
    line marks it in each panel, the top axis reads % of it (``fraction_of_peak``), and a
    cell beyond it (``impossible``) is circled in red.
    """
    data = cells[cells["flops_per_s"].notna()].copy()
    if data.empty:
        raise NothingToDraw("no cell with a FLOP count to plot")
    data["gflops"] = data["flops_per_s"] / 1e9
    nan = pd.Series(math.nan, index=data.index)
    data["peak_gflops"] = data.get("peak_flops_per_s", nan) / 1e9
    data["impossible"] = data.get("impossible", pd.Series(False, index=data.index)).astype(bool)
    grid = DotGrid(data, list(cells["backend"].cat.categories))
    for p in grid.panels:
        ax, sub, _ = grid.in_panel(p)
        grid.dots(ax, sub, "gflops")
        peaks = sorted(set(sub["peak_gflops"].dropna()))
        for value in peaks:
            ax.axvline(value, color="#555555", lw=1.0, ls="--", zorder=2)
            ax.text(
                value,
                0.5,
                "measured peak ",
                transform=ax.get_xaxis_transform(),
                rotation=90,
                ha="right",
                va="center",
                fontsize=7.5,
                color="#555555",
            )
        bad = sub[sub["impossible"]]
        ax.scatter(
            bad["gflops"],
            bad["y"],
            s=170,
            facecolors="none",
            edgecolors=IMPOSSIBLE_EDGE,
            linewidths=1.6,
            zorder=4,
        )
        if log_if_wide(ax, np.concatenate([sub["gflops"].to_numpy(float), peaks])):
            readable_numbers(ax)
        scale = " (log scale)" if ax.get_xscale() == "log" else ""
        ax.set_xlabel(f"achieved GFLOP/s{scale}")
        if len(peaks) == 1:
            peak = peaks[0]
            top = ax.secondary_xaxis(
                "top", functions=(lambda x, v=peak: x / v * 100, lambda y, v=peak: y * v / 100)
            )
            top.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}%"))
            top.tick_params(labelsize=7.5)
            ax.set_title(f"{p} · top: % of measured peak", loc="left", pad=16)
    return grid.legend()
