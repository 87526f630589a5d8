"""The ahead-of-time figure: each cell's time to first result against its steady-state step,
one marker per execution style (report.sections.aot)."""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from report.plots.base import NothingToDraw, styled

STYLE_ORDER = ("eager", "jit", "aot")
STYLE_LABEL = {"eager": "eager", "jit": "just in time", "aot": "ahead of time"}
STYLE_MARKER = {"eager": "o", "jit": "s", "aot": "D"}


@styled
def first_result_vs_step(data: pd.DataFrame) -> Figure:
    """Per cell, a point at (median steady-state step ms, time to first result s), marked by
    its execution style and labelled with its backend; one panel per model and mode, both
    axes logarithmic. ``data``: panel, backend, style, steady_ms, first_result_s."""
    data = data.dropna(subset=["steady_ms", "first_result_s"])
    if data.empty:
        raise NothingToDraw("no ok cell with both a time to first result and a steady step")
    panels = list(dict.fromkeys(data["panel"]))
    colours = dict(zip(STYLE_ORDER, sns.color_palette("colorblind", 3), strict=True))
    fig = Figure(figsize=(4.2 * len(panels), 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        mine = data[data["panel"] == panel]
        for style in STYLE_ORDER:
            points = mine[mine["style"] == style]
            if points.empty:
                continue
            ax.scatter(
                points["steady_ms"],
                points["first_result_s"],
                marker=STYLE_MARKER[style],
                color=colours[style],
                label=STYLE_LABEL[style],
                s=36,
            )
            for _, p in points.iterrows():
                ax.annotate(
                    p["backend"], (p["steady_ms"], p["first_result_s"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points",
                )  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("steady step, ms (median)")
        ax.set_ylabel("time to first result, s")
        ax.legend(fontsize=7.5, frameon=True)
    return fig
