"""Figure 2: steady-state latency of one model, a box per backend from its raw samples."""

from __future__ import annotations

import math
import warnings
from typing import Any

import matplotlib as mpl
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from report.frame import panel
from report.plots.base import NOT_OK_TEXT, backend_palette, log_if_wide, readable_numbers, styled


def _boxes(data: pd.DataFrame, order: list[str], palette: dict[str, Any], ax: Any) -> None:
    sns.boxplot(
        data=data,
        x="latency_ms",
        y="backend",
        hue="backend",
        order=order,
        hue_order=order,
        palette=palette,
        ax=ax,
        linewidth=0.8,
        fliersize=1.5,
        width=0.65,
        legend=False,
    )


@styled
def latency_distributions(cells: pd.DataFrame, samples: pd.DataFrame, model: str) -> Figure:
    """Steady-state latency of one model: a box per backend from its raw samples.

    One panel per mode, device and batch size; boxes span the interquartile range,
    the line is the median, whiskers reach 1.5 IQR and dots are the samples beyond.
    Backends whose cell is not ok are listed with their status instead of a box.
    """
    mine = cells[cells["model"].astype(str) == model]
    samples = samples[samples["model"].astype(str) == model]
    keys = mine.assign(panel=panel(mine))[["panel", "batch_size"]].drop_duplicates()
    n_backends = mine["backend"].astype(str).nunique()
    height = 0.3 * n_backends + 1.1
    ncols = 2 if len(keys) > 1 else 1
    nrows = math.ceil(len(keys) / ncols)
    fig = Figure(figsize=(5.2 * ncols, height * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    palette = backend_palette(list(mine["backend"].astype(str).unique()))
    sample_panel = panel(samples) if len(samples) else pd.Series(dtype=str)
    for ax, (p, batch) in zip(axes, keys.itertuples(index=False), strict=False):
        in_panel = mine[(panel(mine) == p) & (mine["batch_size"] == batch)]
        order = [b for b in in_panel["backend"].cat.categories if b in set(in_panel["backend"])]
        data = samples[(sample_panel == p) & (samples["batch_size"] == batch)].copy()
        data["backend"] = data["backend"].astype(str)
        if len(data):
            with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib's old `vert`
                warnings.filterwarnings("ignore", "vert: bool", mpl.MatplotlibDeprecationWarning)
                _boxes(data, order, palette, ax)
            if log_if_wide(ax, data["latency_ms"]):
                readable_numbers(ax)
        else:
            ax.set_yticks(range(len(order)), order)
            ax.set_ylim(len(order) - 0.5, -0.5)
        for i, b in enumerate(order):
            status = in_panel.loc[in_panel["backend"] == b, "status"].iloc[0]
            if status != "ok":
                ax.text(
                    0.02,
                    i,
                    f"{status}: no samples",
                    transform=ax.get_yaxis_transform(),
                    va="center",
                    color=NOT_OK_TEXT,
                    fontstyle="italic",
                    fontsize=8.5,
                )
        ax.set_title(f"{p} · b{batch}", loc="left")
        ax.set_xlabel("latency per step, ms" + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.set_ylabel("")
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle(f"{model}: steady-state latency per step", x=0.01, ha="left")
    return fig
