"""The fixed-shape section's figures: what each shows, its caption, and how it is drawn.

Each figure is a ``FigureSpec`` naming the measures (report.measures) it draws; its caption
ends with the bench.analysis.metrics functions that compute them (``computed_by``), so a caption
never names a function the figure does not show.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from bench.analysis import metrics
from bench.analysis.metrics import NOISY_IQR_RATIO
from report import plots
from report.figures import FigureBlock, figure
from report.measures import Aggregate, Measure, computed_by
from report.sections.fixed.frames import AGGREGATES as A
from report.sections.fixed.frames import MEASURES as M
from report.sections.fixed.frames import samples_frame


@dataclass(frozen=True)
class Frames:
    """What the section's figures are drawn from."""

    cells: pd.DataFrame  # the cells frame, not-applicable cells left out
    pairs: pd.DataFrame  # break_even_frame
    geo: pd.DataFrame  # geomean_frame: the pass rates
    samples: pd.DataFrame  # samples_frame


@dataclass(frozen=True)
class FigureSpec:
    title: str
    caption: str  # the words; which functions compute it is appended (computed_by)
    shows: tuple[Measure | Aggregate, ...]  # what it draws
    draw: Callable[..., Figure]  # (Frames, **more) -> Figure

    def words(self) -> tuple[str, str]:
        return self.title, f"{self.caption} {computed_by(*self.shows)}".strip()


HEATMAP_CAPTION = (
    "One panel per mode and device; each row is a model at one batch size, each column a "
    "backend. The number is the baseline's median step time divided by this backend's: "
    "2.00× is twice as fast, 0.50× half as fast (slowdowns stay below 1, never clipped). "
    "Blue is faster, red slower; the colour saturates at 8× but the number is exact. "
    f"An asterisk (1.24×*) marks a noisy cell: its IQR is over {NOISY_IQR_RATIO:.0%} of its "
    "median. Grey cells print the status of a cell that has no speed: failed, timeout, oom, "
    "skipped, or mismatch (its output disagreed with the float64 reference, so it was not "
    "timed). “no baseline”: this cell is ok but its baseline is not. The last row is each "
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
        "against jax-eager). Read it as Figure {first}a: the number is torch-eager's median "
        "over this backend's, blue faster, red slower, grey not ok, last row the pass rate.",
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
        "against its framework's eager backend: (static start − eager start) / (eager "
        "median − static median), where start = build + first call + the warm-up steps until "
        "the step time settles (time to steady state). A job "
        "longer than that is better off with the static backend. ◀ at the left edge (0): "
        "it starts sooner and runs faster, so it is ahead from the first step. ▶ at the "
        "right edge (never): its steps are not measurably faster (the bootstrap "
        f"{metrics.BREAK_EVEN_CONFIDENCE:.0%} interval of the static/eager median ratio "
        "reaches 1), so its start-up is never paid back. Logarithmic axis.",
    ),
    "flops": (
        "Achieved FLOP/s",
        "The model's analytic FLOPs per step (each multiply-add of a matmul or convolution "
        "counts 2; a training step counts 3× the forward pass; elementwise work is not "
        "counted) divided by the median step time. Higher is better; it is comparable "
        "across batch sizes and models, and a lower bound on the arithmetic done. Where the "
        "run measured its device's peak at the "
        "start (run.json device_peak: the best of several large matrix multiplies in the "
        "precision's matmul mode, bench.worker.peak), a dashed line marks it and the top axis "
        "reads "
        "the share of it (% of peak); a point beyond the line, circled in red, is impossible: "
        "its timing or its FLOP count is wrong.",
    ),
}


def _counters(cells: pd.DataFrame) -> str:
    seen = cells[cells["memory_counter"] != ""][["device", "framework", "memory_counter"]]
    parts = [
        f"{d} ({f}): {c}" if d != "cpu" else f"cpu: {c}"
        for d, f, c in seen.drop_duplicates().itertuples(index=False)
    ]
    return "; ".join(dict.fromkeys(parts)) or "none recorded"


PRECISION_CAPTION = (
    "Speedup of each reduced precision over float32 on the same backend",
    "One panel per mode, precision and device; each row a model at one batch size, each "
    "column a backend. The number is the backend's float32 median over its median at this "
    "precision: above 1, the precision makes the backend faster (tensor cores, less memory "
    "traffic); below 1, slower (on a CPU without native bfloat16 matmuls, say, the casts "
    "cost more than they save). Colours as Figure {first}a.",
)


def _heatmap(column: str) -> Callable[[Frames], Figure]:
    return lambda f: plots.speedup_heatmap(f.cells, column, f.geo)


FIGURES: dict[str, FigureSpec] = {
    "speedup-eager": FigureSpec(
        *CAPTIONS["speedup-eager"], (M["vs_eager"], A["pass_count"]), _heatmap("vs_eager")
    ),
    "speedup-torch": FigureSpec(
        *CAPTIONS["speedup-torch"],
        (M["vs_torch_eager"], A["pass_count"]),
        _heatmap("vs_torch_eager"),
    ),
    "latency": FigureSpec(
        *CAPTIONS["latency"],
        (M["samples_ms"],),
        lambda f, model: plots.latency_distributions(f.cells, f.samples, model),
    ),
    "throughput": FigureSpec(
        *CAPTIONS["throughput"],
        (M["throughput_per_s"],),
        lambda f: plots.throughput_vs_batch(f.cells),
    ),
    "memory": FigureSpec(
        *CAPTIONS["memory"],
        (M["memory_bytes"], M["memory_counter"]),
        lambda f: plots.peak_memory(f.cells),
    ),
    "first-call": FigureSpec(*CAPTIONS["first-call"], (), lambda f: plots.first_call(f.cells)),
    "break-even": FigureSpec(
        *CAPTIONS["break-even"], (M["break_even"],), lambda f: plots.break_even(f.pairs)
    ),
    "flops": FigureSpec(
        *CAPTIONS["flops"],
        (M["flops_per_s"], M["peak_flops_per_s"], M["impossible"]),
        lambda f: plots.achieved_flops(f.cells),
    ),
    "precision": FigureSpec(
        *PRECISION_CAPTION, (M["vs_float32"], A["pass_count"]), _heatmap("vs_float32")
    ),
}


def _figure(key: str, number: str, frames: Frames, fid: str = "", **fill: str) -> FigureBlock:
    spec = FIGURES[key]
    draw = functools.partial(
        spec.draw, frames, **({"model": fill["model"]} if "model" in fill else {})
    )
    return figure(fid or f"fig-{number}", number, spec.words(), draw, **fill)


def figure_frames(cells: pd.DataFrame, pairs: pd.DataFrame, geo: pd.DataFrame) -> Frames:
    # A combination that means nothing (tf32 on a CPU) has no place in a figure.
    cells = cells[~cells["not_applicable"]]
    return Frames(cells, pairs, geo, samples_frame(cells))


def precision_figure(frames: Frames, number: int) -> FigureBlock | None:
    """The reduced precisions' speedups over float32 (None where every cell is float32)."""
    cells = frames.cells
    reduced = cells[cells["precision"].astype(str) != "float32"]
    if reduced.empty:
        return None
    only = Frames(reduced, frames.pairs, frames.geo, frames.samples)
    return _figure("precision", str(number), only, first=str(number - 6))


def build_figures(frames: Frames, first: int) -> list[FigureBlock]:
    cells = frames.cells
    n = [str(first + i) for i in range(6)]
    used_models = set(cells["model"].astype(str))
    models = [m for m in cells["model"].cat.categories if m in used_models]
    figures = [
        _figure("speedup-eager", f"{n[0]}a", frames),
        _figure("speedup-torch", f"{n[0]}b", frames, first=n[0]),
    ]
    for i, model in enumerate(models, start=1):
        figures.append(_figure("latency", f"{n[1]}.{i}", frames, f"fig-{n[1]}-{i}", model=model))
    figures += [
        _figure("throughput", n[2], frames),
        _figure("memory", n[3], frames, counters=_counters(cells)),
        _figure("first-call", f"{n[4]}a", frames),
        _figure("break-even", f"{n[4]}b", frames),
        _figure("flops", n[5], frames),
    ]
    return figures
