"""Figure 4: peak memory per cell."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from report.plots.base import NothingToDraw, styled
from report.plots.dots import dot_panels


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
    return dot_panels(data, "memory_mib", _memory_label, order)
