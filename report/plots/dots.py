"""Dot plots: one value per cell, a row per backend, a colour and marker per workload
(a model at a batch size), panels sharing one legend. The memory, first-call, break-even
and FLOP/s figures are drawn on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import matplotlib as mpl
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from report.frame import panel, workload
from report.plots.base import log_if_wide, marker_cycle, readable_numbers


class DotGrid:
    """Panels of dot plots sharing one legend of workloads (a model at a batch size)."""

    def __init__(self, frame: pd.DataFrame, backend_order: list[str]):
        self.data = frame.assign(panel=panel(frame), workload=workload(frame))
        self.data["backend"] = self.data["backend"].astype(str)
        self.panels = list(dict.fromkeys(self.data["panel"]))
        self.workloads = list(dict.fromkeys(self.data["workload"]))
        colours = sns.color_palette("colorblind", len(self.workloads))
        self.palette = dict(zip(self.workloads, colours, strict=True))
        self.markers = dict(zip(self.workloads, marker_cycle(len(self.workloads)), strict=True))
        present = set(self.data["backend"])
        self.order = [b for b in backend_order if b in present]
        ncols = 2 if len(self.panels) > 1 else 1
        nrows = math.ceil(len(self.panels) / ncols)
        height = 0.3 * len(self.order) + 1.3
        self.fig = Figure(figsize=(5.0 * ncols + 1.7, height * nrows + 0.2), layout="constrained")
        self.axes = list(self.fig.subplots(nrows, ncols, squeeze=False).ravel())
        for ax in self.axes[len(self.panels) :]:
            ax.set_visible(False)

    def in_panel(self, p: str) -> tuple[Any, pd.DataFrame, list[str]]:
        """The axes of panel ``p``, its rows with a ``y`` position, and its backend order."""
        ax = self.axes[self.panels.index(p)]
        sub = self.data[self.data["panel"] == p]
        order = [b for b in self.order if b in set(sub["backend"])]
        # A small vertical offset per workload keeps coinciding points apart.
        n = len(self.workloads)
        offset = {w: (i - (n - 1) / 2) * min(0.12, 0.5 / n) for i, w in enumerate(self.workloads)}
        y = sub["backend"].map({b: i for i, b in enumerate(order)}) + sub["workload"].map(offset)
        ax.set_yticks(range(len(order)), order)
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_title(p, loc="left")
        ax.set_ylabel("")
        return ax, sub.assign(y=y), order

    def dots(self, ax: Any, data: pd.DataFrame, x: str) -> None:
        if data.empty:
            return
        sns.scatterplot(
            data=data,
            x=x,
            y="y",
            hue="workload",
            style="workload",
            hue_order=self.workloads,
            style_order=self.workloads,
            palette=self.palette,
            markers=self.markers,
            s=42,
            alpha=0.9,
            ax=ax,
            legend=False,
            zorder=3,
        )
        ax.set_ylabel("")

    def legend(self) -> Figure:
        handles = [
            mpl.lines.Line2D(
                [], [], color=self.palette[w], marker=self.markers[w], linestyle="", label=w
            )
            for w in self.workloads
        ]
        self.fig.legend(
            handles=handles, title="model, batch", loc="outside right upper", frameon=False
        )
        return self.fig


def dot_panels(
    frame: pd.DataFrame,
    value: str,
    xlabel: Callable[[pd.DataFrame], str],
    backend_order: list[str],
    force_log: bool = False,
) -> Figure:
    grid = DotGrid(frame, backend_order)
    for p in grid.panels:
        ax, sub, _ = grid.in_panel(p)
        grid.dots(ax, sub, value)
        if force_log or log_if_wide(ax, sub[value]):
            ax.set_xscale("log")
            readable_numbers(ax)
        label = xlabel(sub)
        ax.set_xlabel(label + (" (log scale)" if ax.get_xscale() == "log" else ""))
    return grid.legend()
