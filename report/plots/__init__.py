"""The report's figures: one function per figure, each taking frames and returning a Figure.

One module per figure family (heatmap, latency, throughput, memory, startup, flops,
stream, comparison, capture), the dot plots several of them are drawn on (dots) and what
every figure shares (base: the theme, the colours, NothingToDraw). No I/O and no pyplot.
A panel is one mode on one device (``infer · cpu``); colours and markers keep their
meaning across figures (a backend's colour, a workload's marker).
"""

from report.plots.aot import first_result_vs_step
from report.plots.base import SVG_RC, THEME, NothingToDraw, backend_palette, styled
from report.plots.capture import first_call_phases
from report.plots.comparison import comparison_ratios
from report.plots.flops import achieved_flops
from report.plots.heatmap import speedup_heatmap
from report.plots.latency import latency_distributions
from report.plots.memory import peak_memory
from report.plots.startup import break_even, first_call
from report.plots.stream import CROSSING_MARKER, MAX_LINES_PER_PANEL, cumulative_time
from report.plots.throughput import throughput_vs_batch

__all__ = [
    "CROSSING_MARKER",
    "MAX_LINES_PER_PANEL",
    "SVG_RC",
    "THEME",
    "NothingToDraw",
    "achieved_flops",
    "backend_palette",
    "break_even",
    "comparison_ratios",
    "cumulative_time",
    "first_call",
    "first_call_phases",
    "first_result_vs_step",
    "latency_distributions",
    "peak_memory",
    "speedup_heatmap",
    "styled",
    "throughput_vs_batch",
]
