"""The report's figures: one function per figure, each taking frames and returning a Figure.

No I/O and no pyplot: every function builds a ``matplotlib.figure.Figure`` of its own,
so nothing is drawn into global state and the page decides how to serialise it.
A panel is one mode on one device (``infer · cpu``); colours and markers keep their
meaning across figures (a backend's colour, a workload's marker).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench import backends
from bench.analysis.metrics import OvertakeKind
from report.frame import panel, workload

F = TypeVar("F", bound=Callable[..., Figure])


class NothingToDraw(Exception):
    """A figure has no data (e.g. no ok cell): the page says so in its place."""


# Colour saturates at 8x faster / slower: the printed number is never clipped.
HEATMAP_LOG2_LIMIT = 3.0
# Where values span more than this factor, the axis is logarithmic.
LOG_SPAN = 10.0
NOT_OK_FACE = "#e4e4e4"
NOT_OK_TEXT = "#a40000"

# Read when a figure is saved as SVG (report.html.to_svg).
SVG_RC: Any = {  # (Any: matplotlib types rc keys as literals)
    "svg.fonttype": "path",  # glyphs as paths: the page needs no font
    "svg.hashsalt": "graphbench",  # stable ids: the same runs give the same file
}
THEME: dict[str, Any] = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("notebook", font_scale=0.85),
    **SVG_RC,
    "text.parse_math": False,  # a '$' in a label is a dollar sign, not TeX
    "axes.titleweight": "bold",
    "axes.titlesize": 10.5,
    "figure.titlesize": 12,
    "legend.fontsize": 8.5,
    "legend.title_fontsize": 9,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
}


def styled(func: F) -> F:
    """Build the figure under the report's theme, without touching global rcParams."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with mpl.rc_context(cast(Any, THEME)):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def backend_palette(names: list[str]) -> dict[str, Any]:
    """A colour per backend: one hue family per framework, one shade per backend in it."""
    families = ["Blues", "Greens", "Oranges", "Purples", "Reds", "Greys"]
    by_framework: dict[str, list[str]] = {}
    for name in backends.BACKENDS:
        by_framework.setdefault(backends.BACKENDS[name].framework, []).append(name)
    colours: dict[str, Any] = {}
    for family, members in zip(families, by_framework.values(), strict=False):
        shades = sns.color_palette(family, len(members) + 2)[2:]
        colours.update(zip(members, shades, strict=True))
    return {n: colours.get(n, (0.4, 0.4, 0.4)) for n in names}


def _marker_cycle(n: int) -> list[str]:
    return (["o", "s", "D", "^", "v", "P", "X", "<", ">", "p"] * (n // 10 + 1))[:n]


def _log_if_wide(ax: Any, values: pd.Series | np.ndarray, axis: str = "x") -> bool:
    """Logarithmic axis where positive values span more than LOG_SPAN."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) and v.max() / v.min() > LOG_SPAN:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        return True
    return False


def compact(value: float) -> str:
    """A tick label: 0.5, 20, 3k, 1.5M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _readable_numbers(ax: Any, axis: str = "x") -> None:
    """Plain numbers (0.5, 20, 3k) on a log axis instead of 10^x, as many as fit."""
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    decades = math.log10(hi / lo) if lo > 0 else 1.0
    subs = (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0, 3.0) if decades <= 4 else (1.0,)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    target.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    target.set_minor_formatter(NullFormatter())


def _panels(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(panel(frame)))


# --- 1. speedup heatmap ----------------------------------------------------------------


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
def speedup_heatmap(cells: pd.DataFrame, column: str = "vs_eager") -> Figure:
    """Model x backend speedup (``vs_eager`` or ``vs_torch_eager``), one panel per mode/device.

    Blue is faster than the baseline, red slower (colour on a log2 scale, saturating at
    8x; the printed value is exact; * marks a noisy cell). Cells that are not ok show
    their status on grey; the last row is each backend's pass rate in the panel.
    """
    panels = _panels(cells)
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
        backend_rows = sub["backend"].astype(str)
        for j, b in enumerate(cols):
            mine = sub[backend_rows == b]
            ok = int((mine["status"] == "ok").sum())
            ax.text(
                j + 0.5,
                len(rows) + 0.5,
                f"{ok}/{len(mine)} ok",
                ha="center",
                va="center",
                fontsize=8.5,
                color="#1a1a1a" if ok == len(mine) else NOT_OK_TEXT,
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


# --- 2. latency distributions ----------------------------------------------------------


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
            if _log_if_wide(ax, data["latency_ms"]):
                _readable_numbers(ax)
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


# --- 3. throughput against batch size --------------------------------------------------


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
    markers = dict(zip(order, _marker_cycle(len(order)), strict=True))
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
        _readable_numbers(ax, "y")
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


# --- dot plots: one value per cell, y = backend, a colour and marker per workload -----


class _DotGrid:
    """Panels of dot plots sharing one legend of workloads (a model at a batch size)."""

    def __init__(self, frame: pd.DataFrame, backend_order: list[str]):
        self.data = frame.assign(panel=panel(frame), workload=workload(frame))
        self.data["backend"] = self.data["backend"].astype(str)
        self.panels = list(dict.fromkeys(self.data["panel"]))
        self.workloads = list(dict.fromkeys(self.data["workload"]))
        colours = sns.color_palette("colorblind", len(self.workloads))
        self.palette = dict(zip(self.workloads, colours, strict=True))
        self.markers = dict(zip(self.workloads, _marker_cycle(len(self.workloads)), strict=True))
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


def _dot_panels(
    frame: pd.DataFrame,
    value: str,
    xlabel: Callable[[pd.DataFrame], str],
    backend_order: list[str],
    force_log: bool = False,
) -> Figure:
    grid = _DotGrid(frame, backend_order)
    for p in grid.panels:
        ax, sub, _ = grid.in_panel(p)
        grid.dots(ax, sub, value)
        if force_log or _log_if_wide(ax, sub[value]):
            ax.set_xscale("log")
            _readable_numbers(ax)
        label = xlabel(sub)
        ax.set_xlabel(label + (" (log scale)" if ax.get_xscale() == "log" else ""))
    return grid.legend()


# --- 4. peak memory --------------------------------------------------------------------


def _memory_label(data: pd.DataFrame) -> str:
    kinds = set(data["memory_kind"])
    if kinds == {"host"}:
        return "peak host RSS (worker VmHWM), MiB"
    if kinds == {"device"}:
        return "peak device allocator memory, MiB"
    return "peak memory, MiB"


@styled
def peak_memory(cells: pd.DataFrame) -> Figure:
    """Peak memory per cell: the device allocator's peak on CUDA, the worker's host RSS on CPU.

    One panel per mode and device; the axis names the counter. Host RSS covers the
    worker's whole life (framework import, compile, steps), so it includes the runtime.
    """
    data = cells[(cells["status"] == "ok") & cells["memory_bytes"].notna()].copy()
    if data.empty:
        raise NothingToDraw("no ok cell with a memory peak to plot")
    data["memory_mib"] = data["memory_bytes"] / 2**20
    order = list(cells["backend"].cat.categories)
    return _dot_panels(data, "memory_mib", _memory_label, order)


# --- 5. first call and break-even ------------------------------------------------------


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
    return _dot_panels(data, "first_call_s", lambda _: "first call, s", order, True)


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
    grid = _DotGrid(data, list(backends.BACKENDS))
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
        _readable_numbers(ax)
        for x, text, ha in ((lo, "0 ", "right"), (hi, " never (∞)", "left")):
            ax.axvline(x, color="#999999", lw=0.8, ls="--")
            ax.text(
                x, 1.01, text, transform=ax.get_xaxis_transform(), ha=ha, va="bottom", fontsize=8.5
            )
        ax.set_title(p, loc="left", pad=14)
        ax.set_xlabel("steps to break even (log scale)")
    return grid.legend()


# --- 6. achieved FLOP/s ----------------------------------------------------------------


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
    grid = _DotGrid(data, list(cells["backend"].cat.categories))
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
        if _log_if_wide(ax, np.concatenate([sub["gflops"].to_numpy(float), peaks])):
            _readable_numbers(ax)
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


# --- 7. dynamic shapes: cumulative time over a stream ----------------------------------

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
            log = _log_if_wide(ax, ok["total_s"], "y")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if log:
        _readable_numbers(axes[0], "y")
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


# --- comparison of two runs -----------------------------------------------------------


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
        _readable_numbers(ax)
    ax.set_xlabel(f"B median / A median{scale}: right of 1 is slower")
    fig.legend(loc="outside upper right", ncols=3, frameon=False)
    return fig
