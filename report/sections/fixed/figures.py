"""The fixed-shape section's figures: their captions and how each is drawn."""

from __future__ import annotations

import functools

import pandas as pd

from bench import metrics
from bench.metrics import DEFINITIONS, NOISY_IQR_RATIO
from report import plots
from report.figures import figure
from report.sections.fixed.frames import samples_frame

HEATMAP_CAPTION = (
    "One panel per mode and device; each row is a model at one batch size, each column a "
    "backend. The number is the baseline's median step time divided by this backend's: "
    "2.00× is twice as fast, 0.50× half as fast (slowdowns stay below 1, never clipped). "
    "Blue is faster, red slower; the colour saturates at 8× but the number is exact. "
    f"An asterisk (1.24×*) marks a noisy cell: its IQR is over {NOISY_IQR_RATIO:.0%} of its "
    "median. Grey cells print the status of a cell that has no speed: failed, timeout, oom, "
    "skipped, or mismatch (its output disagreed with the float64 reference, so it was not "
    "timed). “no baseline”: this cell is ok but its baseline is not. The last row is each "
    f"backend's pass rate in the panel (ok cells / cells run). Computed by "
    f"{DEFINITIONS['vs_eager'].function} and {DEFINITIONS['vs_torch_eager'].function}."
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
        "batch size shows points only. ok cells only. Computed by "
        f"{DEFINITIONS['throughput'].function}.",
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
        "right edge (never): its steps are not measurably faster (the bootstrap "
        f"{metrics.BREAK_EVEN_CONFIDENCE:.0%} interval of the static/eager median ratio "
        "reaches 1), so its start-up is never paid back. Logarithmic axis. Computed by "
        f"{DEFINITIONS['break_even'].function}.",
    ),
    "flops": (
        "Achieved FLOP/s",
        "The model's analytic FLOPs per step (each multiply-add of a matmul or convolution "
        "counts 2; a training step counts 3× the forward pass; elementwise work is not "
        "counted) divided by the median step time. Higher is better; it is comparable "
        "across batch sizes and models, and a lower bound on the arithmetic done. Computed "
        f"by {DEFINITIONS['flops'].function}. Where the run measured its device's peak at the "
        "start (run.json device_peak: the best of several large matrix multiplies in the "
        "precision's matmul mode, bench.peak), a dashed line marks it and the top axis reads "
        "the share of it (% of peak, computed by "
        f"{DEFINITIONS['fraction_of_peak'].function}); a point beyond the line, circled in red, "
        f"is impossible ({DEFINITIONS['impossible'].function}): its timing or its FLOP count "
        "is wrong.",
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
    "cost more than they save). Colours as Figure {first}a. Computed by "
    f"{DEFINITIONS['vs_float32'].function}.",
)


def precision_figure(cells: pd.DataFrame, number: int):
    """The reduced precisions' speedups over float32 (None where every cell is float32)."""
    reduced = cells[(cells["precision"].astype(str) != "float32") & ~cells["not_applicable"]]
    if reduced.empty:
        return None
    return figure(
        f"fig-{number}",
        str(number),
        PRECISION_CAPTION,
        lambda: plots.speedup_heatmap(reduced, "vs_float32"),
        first=str(number - 6),
    )


def build_figures(cells: pd.DataFrame, pairs: pd.DataFrame, first: int) -> list:
    # A combination that means nothing (tf32 on a CPU) has no place in a figure.
    cells = cells[~cells["not_applicable"]]
    n = [str(first + i) for i in range(6)]
    used_models = set(cells["model"].astype(str))
    models = [m for m in cells["model"].cat.categories if m in used_models]
    samples = samples_frame(cells)
    figures = [
        figure(
            f"fig-{n[0]}a",
            f"{n[0]}a",
            CAPTIONS["speedup-eager"],
            lambda: plots.speedup_heatmap(cells, "vs_eager"),
        ),
        figure(
            f"fig-{n[0]}b",
            f"{n[0]}b",
            CAPTIONS["speedup-torch"],
            lambda: plots.speedup_heatmap(cells, "vs_torch_eager"),
            first=n[0],
        ),
    ]
    for i, model in enumerate(models, start=1):
        figures.append(
            figure(
                f"fig-{n[1]}-{i}",
                f"{n[1]}.{i}",
                CAPTIONS["latency"],
                functools.partial(plots.latency_distributions, cells, samples, model),
                model=model,
            )
        )
    figures += [
        figure(
            f"fig-{n[2]}", n[2], CAPTIONS["throughput"], lambda: plots.throughput_vs_batch(cells)
        ),
        figure(
            f"fig-{n[3]}",
            n[3],
            CAPTIONS["memory"],
            lambda: plots.peak_memory(cells),
            counters=_counters(cells),
        ),
        figure(f"fig-{n[4]}a", f"{n[4]}a", CAPTIONS["first-call"], lambda: plots.first_call(cells)),
        figure(f"fig-{n[4]}b", f"{n[4]}b", CAPTIONS["break-even"], lambda: plots.break_even(pairs)),
        figure(f"fig-{n[5]}", n[5], CAPTIONS["flops"], lambda: plots.achieved_flops(cells)),
    ]
    return figures
