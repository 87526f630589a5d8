"""The report's fixed-shape section: headline speedups, figures 1-6, tables, citations.

``build`` (section) is the section's entry point, ``report.sections.fixed.build``. Every
number comes from bench.analysis.metrics through ``cells_frame`` and ``break_even_frame`` (frames);
the figures (figures, drawn by report.plots), the tables (tables, traces) and the
citations only arrange and format them.
"""

from report.sections.fixed.citations import cite_break_even, cite_cell, cite_geomean, cite_peak
from report.sections.fixed.frames import (
    SCENARIO,
    break_even_frame,
    cells_frame,
    floor_us,
    geomean_frame,
    samples_frame,
)
from report.sections.fixed.section import build
from report.sections.fixed.traces import trace_link

__all__ = [
    "SCENARIO",
    "break_even_frame",
    "build",
    "cells_frame",
    "cite_break_even",
    "cite_cell",
    "cite_geomean",
    "cite_peak",
    "floor_us",
    "geomean_frame",
    "samples_frame",
    "trace_link",
]
