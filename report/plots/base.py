"""What every figure shares: the theme, a backend's colour, a workload's marker, the axis
helpers, and NothingToDraw (the one exception a figure may raise on purpose).

No I/O and no pyplot: every figure builds a ``matplotlib.figure.Figure`` of its own under
``styled``, so nothing is drawn into global state.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench import backends
from report.frame import panel

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


def marker_cycle(n: int) -> list[str]:
    return (["o", "s", "D", "^", "v", "P", "X", "<", ">", "p"] * (n // 10 + 1))[:n]


def log_if_wide(ax: Any, values: pd.Series | np.ndarray, axis: str = "x") -> bool:
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


def readable_numbers(ax: Any, axis: str = "x") -> None:
    """Plain numbers (0.5, 20, 3k) on a log axis instead of 10^x, as many as fit."""
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    decades = math.log10(hi / lo) if lo > 0 else 1.0
    subs = (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0, 3.0) if decades <= 4 else (1.0,)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    target.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    target.set_minor_formatter(NullFormatter())


def panel_labels(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(panel(frame)))
