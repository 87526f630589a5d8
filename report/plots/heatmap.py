"""Figure 1 (and the precision figure): the speedup heatmap, model x backend, a panel
per mode, precision and device, with each backend's pass rate as its last row.
"""

from __future__ import annotations

import math
import warnings

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from report.frame import panel, workload
from report.plots.base import HEATMAP_LOG2_LIMIT, NOT_OK_FACE, NOT_OK_TEXT, panel_labels, styled


def _heatmap_matrices(
    sub: pd.DataFrame, column: str
) -> tuple[list[str], list[str], np.ndarray, list[list[str]], list[list[bool]]]:
    rows = list(dict.fromkeys(workload(sub)))
    cols = [b for b in sub["backend"].cat.categories if b in set(sub["backend"].astype(str))]
    values = np.full((len(rows), len(cols)), np.nan)
    text = [[""] * len(cols) for _ in rows]
    bad = [[False] * len(cols) for _ in rows]
    for w, b, status, v, noisy in zip(
        workload(sub), sub["backend"].astype(str), sub["status"], sub[column], sub["noisy"],
        strict=True,
    ):  # fmt: skip
        i, j = rows.index(w), cols.index(b)
        if status != "ok":
            text[i][j], bad[i][j] = status, True
        elif math.isfinite(v):
            values[i, j] = v
            text[i][j] = f"{v:.2f}×" + ("*" if noisy else "")
        else:
            text[i][j] = "no baseline"
    return rows, cols, values, text, bad


BASELINE_WORDS = {
    "vs_eager": "the same framework's eager backend",
    "vs_torch_eager": "torch-eager",
    "vs_float32": "the same backend at float32",
}


@styled
def speedup_heatmap(cells: pd.DataFrame, column: str, passes: pd.DataFrame) -> Figure:
    """Model x backend speedup (``vs_eager``, ``vs_torch_eager`` or ``vs_float32``), one panel
    per mode/device.

    Blue is faster than the baseline, red slower (colour on a log2 scale, saturating at
    8x; the printed value is exact; * marks a noisy cell). Cells that are not ok show
    their status on grey; the last row is each backend's pass rate in the panel, from
    ``passes`` (a row per panel and backend with its ``ok`` and ``total`` cells: the
    section's geometric-mean frame).
    """
    counts = (
        {
            (str(p), str(b)): (int(ok), int(total))
            for p, b, ok, total in passes[["panel", "backend", "ok", "total"]].itertuples(
                index=False
            )
        }
        if not passes.empty
        else {}
    )
    panels = panel_labels(cells)
    subs = [cells[panel(cells) == p] for p in panels]
    shapes = [_heatmap_matrices(s, column)[:2] for s in subs]
    widest = max(len(c) for _, c in shapes)
    heights = [0.42 * (len(r) + 1) + 1.45 for r, _ in shapes]
    fig = Figure(figsize=(max(4.5, 1.9 + 0.95 * widest), sum(heights) + 0.6), layout="constrained")
    # Every panel's columns have the same width: a panel with fewer backends is narrower.
    grid = fig.add_gridspec(len(panels), widest, height_ratios=heights)
    axes = [fig.add_subplot(grid[i, : len(c)]) for i, (_, c) in enumerate(shapes)]
    norm = Normalize(-HEATMAP_LOG2_LIMIT, HEATMAP_LOG2_LIMIT)
    cmap = sns.color_palette("RdBu", as_cmap=True)
    for ax, p, sub in zip(axes, panels, subs, strict=True):
        rows, cols, values, text, bad = _heatmap_matrices(sub, column)
        logv = np.log2(values)
        shown = np.vstack([logv, np.full((1, len(cols)), np.nan)])
        ax.set_facecolor("white")
        ax.grid(False)
        with warnings.catch_warnings():  # a panel of cells without speeds is all NaN: fine
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            sns.heatmap(
                shown,
                ax=ax,
                cmap=cmap,
                norm=norm,
                cbar=False,
                linewidths=1.5,
                linecolor="white",
                xticklabels=cols,
                yticklabels=[*rows, "pass rate"],
            )
        for i, row in enumerate(text):
            for j, label in enumerate(row):
                if bad[i][j]:
                    ax.add_patch(mpl.patches.Rectangle((j, i), 1, 1, color=NOT_OK_FACE, lw=0))
                    colour, style = NOT_OK_TEXT, "italic"
                elif math.isfinite(logv[i, j]):
                    colour = "white" if abs(logv[i, j]) > 1.6 else "#1a1a1a"
                    style = "normal"
                else:
                    colour, style = "#666666", "italic"
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    label,
                    ha="center",
                    va="center",
                    fontsize=8.5,
                    color=colour,
                    fontstyle=style,
                )
        for j, b in enumerate(cols):
            ok, total = counts.get((p, b), (0, 0))
            ax.text(
                j + 0.5,
                len(rows) + 0.5,
                f"{ok}/{total} ok",
                ha="center",
                va="center",
                fontsize=8.5,
                color="#1a1a1a" if ok == total else NOT_OK_TEXT,
            )
        ax.axhline(len(rows), color="#555555", lw=1.0)
        ax.set_title(p, loc="left")
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", rotation=30, length=0)
        ax.tick_params(axis="y", rotation=0, length=0)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
    bar = fig.colorbar(
        mpl.cm.ScalarMappable(norm=norm, cmap=cmap),
        ax=axes,
        orientation="horizontal",
        fraction=0.25 / len(panels),
        aspect=40,
        shrink=0.7,
    )
    ticks = np.arange(-HEATMAP_LOG2_LIMIT, HEATMAP_LOG2_LIMIT + 1)
    bar.set_ticks(list(ticks), labels=[f"{2**t:g}×" for t in ticks])
    baseline = BASELINE_WORDS.get(column, column)
    bar.set_label(f"speedup vs {baseline} (baseline median / this median)")
    return fig
