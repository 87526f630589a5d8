"""The stream section's figure: cumulative wall time over a stream of varying shapes."""

from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.analysis.metrics import OvertakeKind
from report.plots.base import NothingToDraw, backend_palette, log_if_wide, readable_numbers, styled

# A panel holds at most this many lines; beyond it the figure has a panel per framework.
MAX_LINES_PER_PANEL = 8
# Line style per strategy (matplotlib dash patterns: solid, dashed, dotted).
STRATEGY_DASHES: dict[str, Any] = {"exact": "-", "dynamic": (0, (5, 2)), "bucket": (0, (1, 1.2))}
CROSSING_MARKER = "o"
LINE_WIDTH = 2.0  # the lightest shades of the backend palette (eager) stay visible dotted


def _crossing_y(row: pd.Series) -> float:
    """The static cell's cumulative seconds at its overtaking step (1-based)."""
    return float(np.sum(row["step_ms"][: int(row["overtakes_at"])]) / 1e3)


@styled
def cumulative_time(group: pd.DataFrame, data: pd.DataFrame, title: str) -> Figure:
    """Cumulative wall time against step number for one stream fed to every backend.

    ``group``: the rows of the stream frame for one model, mode, stream and device;
    ``data``: their cumulative times (``report.sections.stream.cumulative_frame``).
    A line per backend x strategy from its first-pass step times (compilations included):
    colour by backend, line style by strategy. A ring marks the step from which a static
    line stays at or below its framework's eager line (``exact``) to the end of the stream.
    Past MAX_LINES_PER_PANEL lines, one panel per framework (shared axes). The y axis is
    logarithmic where the stream totals span more than LOG_SPAN.
    """
    if data.empty:
        raise NothingToDraw("no ok cell with per-step times to plot")
    ok = group[group["status"] == "ok"]
    names = zip(ok["backend"].astype(str), ok["strategy"].astype(str), strict=True)
    lines = list(dict.fromkeys(names))
    frameworks = list(dict.fromkeys(ok["framework"]))
    panels: list[str | None] = (
        list(frameworks) if len(lines) > MAX_LINES_PER_PANEL and len(frameworks) > 1 else [None]
    )
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    width = 7.6 if ncols == 1 else 3.7 * ncols
    fig = Figure(figsize=(width + 2.0, 3.3 * nrows + 0.9), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    palette = backend_palette([b for b, _ in lines])
    steps = int(data["step"].max())
    log = False
    for i, (ax, framework) in enumerate(zip(axes, panels, strict=False)):
        mine = ok if framework is None else ok[ok["framework"] == framework]
        for _, r in mine.iterrows():
            backend, strategy = str(r["backend"]), str(r["strategy"])
            line = data[(data["backend"] == backend) & (data["strategy"] == strategy)]
            ax.plot(
                line["step"],
                line["cumulative_s"],
                color=palette[backend],
                linestyle=STRATEGY_DASHES.get(strategy, "-."),
                linewidth=LINE_WIDTH,
                zorder=2,
            )
        for _, r in mine[np.isfinite(mine["overtakes_at"])].iterrows():
            step, y = int(r["overtakes_at"]), _crossing_y(r)
            colour = palette[str(r["backend"])]
            ax.plot(step, y, CROSSING_MARKER, ms=9, mfc="white", mec=colour, mew=2.2, zorder=4)
            ax.annotate(
                f"step {step}",
                (step, y),
                xytext=(6, -11),
                textcoords="offset points",
                fontsize=8.5,
                fontweight="bold",
                color=colour,
                zorder=5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )
        # Static lines with no eager line to cross: say so where the reader looks for a ring.
        missing = mine[mine["overtakes_kind"] == OvertakeKind.NO_BASELINE.value]
        notes = [
            f"{note} in this run: nothing to cross for "
            + ", ".join(dict.fromkeys(sub["backend"].astype(str)))
            for note, sub in missing.groupby("overtakes_note", sort=False)
        ]
        if notes:
            ax.text(
                0.98,
                0.03,
                "\n".join(notes),
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8,
                fontstyle="italic",
                color="#555555",
            )
        ax.set_title(framework or "", loc="left")
        ax.set_xlim(0, steps + 1)
        ax.set_xlabel("step of the stream" if i >= len(panels) - ncols else "")
        if i == 0:
            log = log_if_wide(ax, ok["total_s"], "y")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if log:
        readable_numbers(axes[0], "y")
    for ax in axes[: len(panels)]:
        first_column = list(axes).index(ax) % ncols == 0
        ylabel = "cumulative wall time, s" + (" (log scale)" if log else "")
        ax.set_ylabel(ylabel if first_column else "")
    handles = [
        mpl.lines.Line2D(
            [],
            [],
            color=palette[b],
            linestyle=STRATEGY_DASHES.get(s, "-."),
            linewidth=LINE_WIDTH,
            label=f"{b} · {s}",
        )
        for b, s in lines
    ]
    if np.isfinite(ok["overtakes_at"]).any():
        handles.append(
            mpl.lines.Line2D(
                [],
                [],
                color="#333333",
                marker=CROSSING_MARKER,
                mfc="white",
                mew=2.0,
                ms=8,
                linestyle="",
                label="overtakes its eager\nbackend from here",
            )
        )
    fig.legend(
        handles=handles, title="backend · strategy", loc="outside right upper", frameon=False
    )
    fig.suptitle(title, x=0.01, ha="left")
    return fig
