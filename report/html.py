"""The page: stored runs -> one self-contained HTML string (inline SVG and CSS, no scripts).

Every string from results reaches the page through Jinja2 with autoescaping on; the
only markup inserted as is, is the SVG that matplotlib wrote (text drawn as paths,
comments removed).
"""

from __future__ import annotations

import functools
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib as mpl
import pandas as pd
from markupsafe import Markup

from bench.compare import short_commit
from bench.results import STATUSES, Run
from report import cite, envinfo, frame, plots, tables
from report.templating import render


@dataclass(frozen=True)
class FigureBlock:
    id: str
    number: str
    title: str
    caption: str
    svg: Markup  # empty where the figure cannot be drawn
    missing: str = ""  # why there is no figure


_ID = re.compile(r'\bid="([^"]+)"')
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def to_svg(fig: object, prefix: str, title: str) -> Markup:
    """A figure as an inline ``<svg>`` element whose ids cannot clash with another figure's."""
    buf = io.StringIO()
    with mpl.rc_context(plots.SVG_RC):  # read when saving: text as paths, stable ids
        fig.savefig(buf, format="svg", metadata={"Date": None})  # type: ignore[attr-defined]
    text = buf.getvalue()
    text = _COMMENT.sub("", text[text.index("<svg") :])
    for name in set(_ID.findall(text)):
        new = f"{prefix}-{name}"
        text = text.replace(f'id="{name}"', f'id="{new}"')
        text = text.replace(f'href="#{name}"', f'href="#{new}"')
        text = text.replace(f"url(#{name})", f"url(#{new})")
    start = text.index(">", text.index("<svg")) + 1
    label = Markup.escape(title)
    return Markup(
        text[: start - 1] + f' role="img" aria-label="{label}">' + f"<title>{label}</title>"
    ) + Markup(text[start:])


HEATMAP_CAPTION = (
    "One panel per mode and device; each row is a model at one batch size, each column a "
    "backend. The number is the baseline's median step time divided by this backend's: "
    "2.00× is twice as fast, 0.50× half as fast (slowdowns stay below 1, never clipped). "
    "Blue is faster, red slower; the colour saturates at 8× but the number is exact. "
    "An asterisk (1.24×*) marks a noisy cell: its IQR is over 10% of its median. "
    "Grey cells print the status of a cell that has no speed: failed, timeout, oom, skipped, "
    "or mismatch (its output disagreed with the float64 reference, so it was not timed). "
    "“no baseline”: this cell is ok but its baseline is not. The last row is each "
    "backend's pass rate in the panel (ok cells / cells run)."
)

CAPTIONS: dict[str, tuple[str, str]] = {
    "speedup-eager": (
        "Speedup over the same framework's eager backend",
        "What compiling or tracing buys within one framework (torch-compile against "
        "torch-eager, jax-jit against jax-eager, tf-xla against tf-eager). " + HEATMAP_CAPTION,
    ),
    "speedup-torch": (
        "Speedup over torch-eager",
        "Every backend against one common baseline, eager PyTorch, so backends of different "
        "frameworks can be compared on the same scale (jax-jit against torch-eager, not "
        "against jax-eager). Read it as Figure 1a: the number is torch-eager's median over "
        "this backend's, blue faster, red slower, grey not ok, last row the pass rate.",
    ),
    "latency": (
        "Steady-state latency: {model}",
        "One box per backend from its raw timed samples (each one synced step after the "
        "warm-up). The box spans the middle half of the samples (the IQR), the line inside "
        "is the median, whiskers reach 1.5 IQR and dots are the samples beyond. Further "
        "left is faster; a wide box is a noisy cell. The axis is logarithmic where the "
        "backends span more than 10×. Cells that are not ok are named with their status.",
    ),
    "throughput": (
        "Throughput against batch size",
        "Examples per second, measured as back-to-back steps with one sync at the end (so "
        "an asynchronous backend may overlap dispatch and execution). One panel per model "
        "and mode/device, one line per backend; higher is better, and a line that flattens "
        "has saturated the device. Both axes are logarithmic. A model measured at a single "
        "batch size shows points only. ok cells only.",
    ),
    "memory": (
        "Peak memory per cell",
        "Each dot is one ok cell (colour and marker: model and batch size). On CPU the "
        "counter is the worker process's peak resident set (VmHWM), which covers its whole "
        "life: interpreter, framework runtime, compiler and the steps, so it is the "
        "footprint of running that backend, not the size of the model's tensors. On CUDA it "
        "is the framework allocator's peak. Counters in these runs: {counters}.",
    ),
    "first-call": (
        "First-call time",
        "The first step of each cell, including tracing and compilation from empty caches "
        "(a cold start); logarithmic axis. Eager backends pay little here; compiled and "
        "traced backends pay it once per input shape. Cells that timed out keep the first "
        "call they measured.",
    ),
    "break-even": (
        "Break-even steps of static backends",
        "After how many steps a compiled or traced backend has paid back its start-up "
        "against its framework's eager backend: (static first result − eager first result) "
        "/ (eager median − static median), where first result = build + first call. A job "
        "longer than that is better off with the static backend. ◀ at the left edge (0): "
        "it starts sooner and runs faster, so it is ahead from the first step. ▶ at the "
        "right edge (never): its steps are not faster, so its start-up is never paid back. "
        "Logarithmic axis.",
    ),
    "flops": (
        "Achieved FLOP/s",
        "The model's analytic FLOPs per step (each multiply-add of a matmul or convolution "
        "counts 2; a training step counts 3× the forward pass; elementwise work is not "
        "counted) divided by the median step time. Higher is better; it is comparable "
        "across batch sizes and models, and a lower bound on the arithmetic done.",
    ),
}


def _figure(
    fid: str, number: str, key: str, draw: Callable[[], object], **fill: str
) -> FigureBlock:
    title, caption = CAPTIONS[key]
    title, caption = title.format(**fill), caption.format(**fill)
    try:
        fig = draw()
    except ValueError as exc:  # nothing to draw (e.g. no FLOP counts recorded)
        return FigureBlock(fid, number, title, caption, Markup(""), f"Not drawn: {exc}.")
    return FigureBlock(fid, number, title, caption, to_svg(fig, fid, title))


def _counters(cells: pd.DataFrame) -> str:
    seen = cells[cells["memory_counter"] != ""][["device", "framework", "memory_counter"]]
    parts = [
        f"{d} ({f}): {c}" if d != "cpu" else f"cpu: {c}"
        for d, f, c in seen.drop_duplicates().itertuples(index=False)
    ]
    return "; ".join(dict.fromkeys(parts)) or "none recorded"


def build_figures(cells: pd.DataFrame, pairs: pd.DataFrame) -> list[FigureBlock]:
    models = [m for m in cells["model"].cat.categories if m in set(cells["model"].astype(str))]
    figures = [
        _figure("fig-1a", "1a", "speedup-eager", lambda: plots.speedup_heatmap(cells, "vs_eager")),
        _figure(
            "fig-1b", "1b", "speedup-torch", lambda: plots.speedup_heatmap(cells, "vs_torch_eager")
        ),
    ]
    for i, model in enumerate(models, start=1):
        figures.append(
            _figure(
                f"fig-2-{i}",
                f"2.{i}",
                "latency",
                functools.partial(plots.latency_distributions, cells, model),
                model=model,
            )
        )
    figures += [
        _figure("fig-3", "3", "throughput", lambda: plots.throughput_vs_batch(cells)),
        _figure(
            "fig-4", "4", "memory", lambda: plots.peak_memory(cells), counters=_counters(cells)
        ),
        _figure("fig-5a", "5a", "first-call", lambda: plots.first_call(cells)),
        _figure("fig-5b", "5b", "break-even", lambda: plots.break_even(pairs)),
        _figure("fig-6", "6", "flops", lambda: plots.achieved_flops(cells)),
    ]
    return figures


def _runs_overview(runs: Sequence[Run], cells: pd.DataFrame) -> list[dict[str, str]]:
    out = []
    for run in runs:
        mine = cells[cells["run_id"] == run.run_id]
        env = run.meta.get("environment") or {}
        out.append(
            {
                "run_id": run.run_id,
                "devices": ", ".join(sorted(set(mine["device"]))),
                "started": str(run.meta.get("started_utc")),
                "commit": short_commit(env.get("git")),
                "cells": str(len(mine)),
                "command": str(run.meta.get("command")),
            }
        )
    return out


def render_report(runs: Sequence[Run], generated_by: str = "") -> str:
    """The whole page for one or more runs (e.g. a CPU run and a GPU run side by side)."""
    cells = frame.cells_frame(runs)
    pairs = frame.break_even_frame(cells)
    geo = frame.geomean_frame(cells)
    statuses = Counter(cells["status"])
    counts = [(s, statuses[s]) for s in STATUSES if statuses[s]]
    ok = cells[cells["status"] == "ok"]
    other_scenarios = Counter(
        c["scenario"] for r in runs for c in r.cells if c["scenario"] != frame.FIXED
    )
    return render(
        "report.html.j2",
        title=", ".join(r.run_id for r in runs),
        generated_by=generated_by,
        runs=_runs_overview(runs, cells),
        counts=counts,
        noisy=int(cells["noisy"].sum()),
        ok_count=len(ok),
        noisy_share=float(cells["noisy"].sum() / max(1, len(ok))),
        other_scenarios=sorted(other_scenarios.items()),
        total=len(cells),
        models=", ".join(str(m) for m in dict.fromkeys(cells["model"].astype(str))),
        backends=", ".join(dict.fromkeys(cells["backend"].astype(str))),
        figures=build_figures(cells, pairs),
        geomean=tables.geomean_table(geo),
        summary=tables.summary_table(cells),
        failures=tables.failures_table(cells),
        noisy_cells=tables.noisy_table(cells),
        break_even=tables.break_even_table(pairs),
        cell_citations=[cite.cell(r) for _, r in ok.iterrows()],
        geomean_citations=[c for _, g in geo.iterrows() if (c := cite.geomean(g))],
        break_even_citations=[cite.break_even(r) for _, r in pairs.iterrows()],
        environments=[envinfo.describe(r) for r in runs],
    )
