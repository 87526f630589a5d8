"""Figure 3: throughput against batch size, a line per backend."""

from __future__ import annotations

import math

import matplotlib as mpl
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from report.frame import panel
from report.plots.base import (
    NOT_OK_TEXT,
    NothingToDraw,
    backend_palette,
    marker_cycle,
    readable_numbers,
    styled,
)


@styled
def throughput_vs_batch(cells: pd.DataFrame) -> Figure:
    """Throughput (examples/s) against batch size: a panel per model and mode/device.

    One line per backend; both axes logarithmic. A model measured at one batch size
    shows points only; a panel whose cells all failed says so.
    """
    frame = cells.assign(panel=panel(cells), backend=cells["backend"].astype(str))
    ok = frame[(frame["status"] == "ok") & frame["throughput_per_s"].notna()]
    if ok.empty:
        raise NothingToDraw("no ok cell with a throughput to plot")
    pairs = list(dict.fromkeys(zip(frame["model"].astype(str), frame["panel"], strict=True)))
    order = [b for b in cells["backend"].cat.categories if b in set(ok["backend"])]
    palette = backend_palette(order)
    markers = dict(zip(order, marker_cycle(len(order)), strict=True))
    ncols = min(3, len(pairs))
    nrows = math.ceil(len(pairs) / ncols)
    fig = Figure(figsize=(3.4 * ncols + 2.0, 2.8 * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, (ax, (model, p)) in enumerate(zip(axes, pairs, strict=False)):
        data = ok[(ok["panel"] == p) & (ok["model"].astype(str) == model)]
        ax.set_title(f"{model} · {p}", loc="left")
        ax.set_xlabel("batch size")
        ax.set_ylabel("examples/s" if i % ncols == 0 else "")
        if data.empty:
            ax.text(
                0.5,
                0.5,
                "no ok cell",
                transform=ax.transAxes,
                ha="center",
                color=NOT_OK_TEXT,
                fontstyle="italic",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        sns.lineplot(
            data=data.sort_values("batch_size"),
            x="batch_size",
            y="throughput_per_s",
            hue="backend",
            style="backend",
            hue_order=order,
            style_order=order,
            palette=palette,
            markers=markers,
            dashes=False,
            ax=ax,
            legend=False,
            markersize=6,
            linewidth=1.4,
        )
        sizes = sorted(set(data["batch_size"]))
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        if len(sizes) == 1:
            ax.set_xlim(sizes[0] / 1.6, sizes[0] * 1.6)
        else:
            ax.set_xlim(sizes[0] / 1.25, sizes[-1] * 1.25)
        ax.set_yscale("log")
        readable_numbers(ax, "y")
        ax.set_xlabel("batch size")
        ax.set_ylabel("examples/s" if i % ncols == 0 else "")
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)
    handles = [
        mpl.lines.Line2D([], [], color=palette[b], marker=markers[b], label=b, linewidth=1.4)
        for b in order
    ]
    fig.legend(handles=handles, title="backend", loc="outside right upper", frameon=False)
    return fig
