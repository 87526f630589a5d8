"""The page: stored runs -> one self-contained HTML string (inline SVG and CSS, no scripts).

Every string from results reaches the page through Jinja2 with autoescaping on; the
only markup inserted as is, is the SVG that matplotlib wrote (text drawn as paths,
comments removed).
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib as mpl
import pandas as pd
from markupsafe import Markup

from bench.compare import short_commit
from bench.results import STATUSES, Run
from report import cite, envinfo, fmt, frame, plots, tables
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
        "right edge (never): its steps are not measurably faster (the bootstrap 95% interval of "
        "the static/eager median ratio reaches 1), so its start-up is never paid back. "
        "Logarithmic axis.",
    ),
    "flops": (
        "Achieved FLOP/s",
        "The model's analytic FLOPs per step (each multiply-add of a matmul or convolution "
        "counts 2; a training step counts 3× the forward pass; elementwise work is not "
        "counted) divided by the median step time. Higher is better; it is comparable "
        "across batch sizes and models, and a lower bound on the arithmetic done.",
    ),
    "dynamic": (
        "Cumulative wall time over the stream: {where}",
        "Each line is one backend fed the {steps} steps of this stream with one strategy: the "
        "running total of its first-pass step times, every trace and compilation included "
        "(colour: backend, as in every figure; line style: strategy, solid exact, dashed "
        "dynamic, dotted bucket). A steep rise is a slow step: a compilation, or a long "
        "sequence; where a line runs parallel to another, the two run equally fast per step. "
        "A ring marks the step from which a static backend's total stays at or below that of "
        "its framework's eager backend fed the stream as it comes (exact), to the end: the "
        "stream length from which its static graph has paid for itself. The vertical axis is "
        "logarithmic where the stream totals span more than 10×; past {max_lines} lines there "
        "is one panel per framework. Here: {crossings}.",
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


# The dynamic-shape section's figures are 7.1, 7.2, ... after build_figures' (1a to 6);
# numbered 1, 2, ... on a page without fixed-shape cells.
DYNAMIC_FIGURES_AFTER = "7"


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


@dataclass(frozen=True)
class StreamBlock:
    """One stream fed to every backend: its heading, what the stream is, a table, a figure."""

    id: str
    heading: str
    stream: str
    table: tables.Table
    figure: FigureBlock


def _crossings(group: pd.DataFrame) -> str:
    """What the rings of a figure say, in words: each ok static cell's crossing or why none."""
    static = group[(group["status"] == "ok") & group["static"]]
    parts = []
    for _, r in static.iterrows():
        who, eager = f"{r['backend']} {r['strategy']}", r["eager_backend"]
        if math.isfinite(r["overtakes_at"]):
            parts.append(f"{who} overtakes {eager} at step {r['overtakes_at']:,.0f}")
        elif r["overtakes_note"] == "never":
            parts.append(f"{who} never overtakes {eager}")
    missing = static[static["overtakes_note"].str.startswith("no ")]
    for (note, backend), sub in missing.groupby(["overtakes_note", "backend"], observed=True):
        strategies = ", ".join(sub["strategy"].astype(str))
        eager = sub["eager_backend"].iloc[0]
        parts.append(
            f"{backend} ({strategies}) has no crossing to mark: {note} in this run "
            f"(run {eager} too, e.g. --backends {eager},{backend})"
        )
    return "; ".join(parts) or "no static backend ran ok on this stream"


def build_streams(dynamic: pd.DataFrame, first_number: str) -> list[StreamBlock]:
    """A table and a figure per model, mode, stream and device, numbered ``first_number.i``."""
    out = []
    for i, (heading, group) in enumerate(frame.stream_groups(dynamic), start=1):
        r = group.iloc[0]
        steps = fmt.count(r["n_steps"])
        figure = _figure(
            f"fig-dynamic-{i}",
            f"{first_number}.{i}" if first_number else str(i),
            "dynamic",
            functools.partial(plots.cumulative_time, group, heading),
            where=heading,
            steps=steps,
            max_lines=str(plots.MAX_LINES_PER_PANEL),
            crossings=_crossings(group),
        )
        out.append(
            StreamBlock(
                f"dynamic-{i}",
                heading,
                f"{r['stream_description']}; {steps} steps",
                tables.dynamic_table(group, f"dynamic-table-{i}"),
                figure,
            )
        )
    return out


def _runs_overview(runs: Sequence[Run]) -> list[dict[str, str]]:
    out = []
    for run in runs:
        env = run.meta.get("environment") or {}
        out.append(
            {
                "run_id": run.run_id,
                "devices": ", ".join(sorted({c["device"] for c in run.cells})),
                "started": str(run.meta.get("started_utc")),
                "commit": short_commit(env.get("git")),
                "cells": str(len(run.cells)),
                "command": str(run.meta.get("command")),
            }
        )
    return out


def _fixed_context(cells: pd.DataFrame) -> dict[str, object]:
    """What the page shows of fixed-shape cells."""
    pairs = frame.break_even_frame(cells)
    geo = frame.geomean_frame(cells)
    statuses = Counter(cells["status"])
    ok = cells[cells["status"] == "ok"]
    return {
        "counts": [(s, statuses[s]) for s in STATUSES if statuses[s]],
        "noisy": int(cells["noisy"].sum()),
        "ok_count": len(ok),
        "noisy_share": float(cells["noisy"].sum() / max(1, len(ok))),
        "total": len(cells),
        "figures": build_figures(cells, pairs),
        "geomean": tables.geomean_table(geo),
        "summary": tables.summary_table(cells),
        "noisy_cells": tables.noisy_table(cells),
        "break_even": tables.break_even_table(pairs),
        "cell_citations": [cite.cell(r) for _, r in ok.iterrows()],
        "geomean_citations": [c for _, g in geo.iterrows() if (c := cite.geomean(g))],
        "break_even_citations": [cite.break_even(r) for _, r in pairs.iterrows()],
    }


def _dynamic_context(runs: Sequence[Run], dynamic: pd.DataFrame, first_number: str) -> dict:
    """What the page shows of dynamic-shape cells: the section and its citations."""
    statuses = Counter(
        "not applicable" if na else s
        for s, na in zip(dynamic["status"], dynamic["not_applicable"], strict=True)
    )
    ok = dynamic[dynamic["status"] == "ok"]
    return {
        "total": len(dynamic),
        "counts": [(s, statuses[s]) for s in (*STATUSES, "not applicable") if statuses[s]],
        "streams": build_streams(dynamic, first_number),
        "strategies": list(frame.strategy_descriptions(runs).items()),
        "buckets": frame.bucket_description(runs),
        "citations": [cite.dynamic(r) for _, r in ok.iterrows()],
    }


def _names(frames: Sequence[pd.DataFrame], column: str) -> str:
    return ", ".join(dict.fromkeys(str(v) for f in frames for v in f[column]))


def render_report(runs: Sequence[Run], generated_by: str = "") -> str:
    """The whole page for one or more runs (e.g. a CPU run and a GPU run side by side).

    Fixed-shape cells get the figures and tables of the main part; dynamic-shape cells,
    where the runs have any, their own section. A run of one scenario only shows that one.
    """
    dynamic = frame.dynamic_frame(runs)
    has_fixed = any(c["scenario"] == frame.FIXED for r in runs for c in r.cells)
    # With no dynamic cell either, cells_frame says there is nothing to report.
    cells = frame.cells_frame(runs) if has_fixed or dynamic.empty else None
    fixed = _fixed_context(cells) if cells is not None else None
    shown = {frame.FIXED, frame.DYNAMIC}
    other_scenarios = Counter(
        c["scenario"] for r in runs for c in r.cells if c["scenario"] not in shown
    )
    frames = [f for f in (cells, dynamic) if f is not None and len(f)]
    return render(
        "report.html.j2",
        title=", ".join(r.run_id for r in runs),
        generated_by=generated_by,
        runs=_runs_overview(runs),
        fixed=fixed,
        dynamic=_dynamic_context(runs, dynamic, DYNAMIC_FIGURES_AFTER if fixed else "")
        if len(dynamic)
        else None,
        other_scenarios=sorted(other_scenarios.items()),
        models=_names(frames, "model"),
        backends=_names(frames, "backend"),
        failures=tables.failures_table(cells, dynamic),
        environments=[envinfo.describe(r) for r in runs],
    )
