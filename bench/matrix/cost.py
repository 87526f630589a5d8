"""What a cell is expected to cost in wall seconds, before anything is measured.

A prior, not a measurement: it orders and balances work (``--shard`` splits the matrix
into slices of equal expected cost) and never appears in a result. It must depend on
nothing but the cell and the settings, so that every machine of a Slurm array computes
the same shards. The constants are round figures from this project's own runs (a
2-core CPU for ``quick``, fitted to a whole ``nox -s bench``; the GPU notes for
``full``): what matters is their ratios (a ``torch.compile`` cell costs tens of eager
ones), not their precision.

What is a framework's or a model's own lies with it: the seconds to start a framework's
worker in its registry entry (``FrameworkInfo.start_s``, ``eager_build_s``), how much a
model's build costs in its spec (``COST_FACTOR``), or, for a model whose spec does not say,
a factor derived from its FLOPs and its number of parameter tensors (``derived_factor``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import models
from bench import backends
from bench.matrix.cells import Cell
from bench.matrix.profiles import Settings

CUDA_INIT_S = 3.0  # a CUDA worker creates its context before anything runs
# Seconds to build (trace, compile) the quick-profile MLP's inference step, by kind of
# backend; other models and modes scale it.
BUILD_S = {"eager": 0.5, "trace": 1.5, "compile": 10.0}
# A model without a COST_FACTOR: (FLOPs of an inference step / FACTOR_FLOPS) ** FLOPS_POWER
# times (parameter tensors / FACTOR_TENSORS) ** TENSORS_POWER. A build's cost grows with the
# graph (about one group of ops per parameter tensor) and, slowly, with the work per step;
# fitted to the five zoo models' own factors (both profiles), which it meets within a factor
# of 1.7 (the number of parameters instead of tensors fits worse).
FACTOR_FLOPS = 1e9
FLOPS_POWER = 0.1
FACTOR_TENSORS = 10
TENSORS_POWER = 0.25
TRAIN_FACTOR = 1.5  # a training step is a forward, a backward and an update
STREAM_FACTOR = 4.0  # a stream compiles per distinct shape, twice over (two passes)
WARM_BUILD_SHARE = 0.3  # of the cold build, what a warm worker pays with the cache filled


def build_kind(backend: str) -> str:
    info = backends.get(backend)
    if not info.static:
        return "eager"
    return "compile" if info.slow_to_build else "trace"


@functools.cache
def derived_factor(model: str, profile: str) -> float:
    """A model's cost factor from its spec's FLOPs and parameter tensors (see FACTOR_FLOPS)."""
    spec = models.spec(model)
    cfg = spec.PROFILES[profile]
    flops = spec.flops_per_step(cfg, spec.BATCH_SIZE[profile], "infer")
    # A user's model (models.user): its check counted both; where no counter could count
    # its FLOPs, the FLOP term is 1 (as a model of FACTOR_FLOPS) and its tensors decide.
    counted = getattr(spec, "parameter_tensors", None)
    tensors = counted(cfg) if counted else len(spec.init_params(cfg, 0))
    if flops is None:
        flops = FACTOR_FLOPS
    return (flops / FACTOR_FLOPS) ** FLOPS_POWER * (tensors / FACTOR_TENSORS) ** TENSORS_POWER


def model_factor(model: str, profile: str) -> float:
    """How many times BUILD_S a model's build costs: its spec's COST_FACTOR for the profile,
    else one derived from its FLOPs and parameter tensors."""
    declared = getattr(models.spec(model), "COST_FACTOR", None)
    if declared is None:
        return derived_factor(model, profile)
    return float(declared[profile])


def prior_s(cell: Cell, settings: Settings) -> float:
    """The expected wall time of the cell's workers (cold, and warm where there is one; an
    ahead-of-time cell's artefact worker, cold start and timed worker)."""
    info = backends.get(cell.backend)
    framework = backends.framework(cell.framework)
    start = framework.start_s + (CUDA_INIT_S if cell.device == "cuda" else 0.0)
    kind = build_kind(cell.backend)
    build = BUILD_S[kind]
    if kind == "eager" and framework.eager_build_s is not None:
        build = framework.eager_build_s
    if cell.device == "cuda":  # max-autotune benchmarks GPU kernel candidates; on CPU, few
        build *= info.timeout_factor
    build *= model_factor(cell.model, settings.profile)
    build *= TRAIN_FACTOR if cell.mode == "train" else 1.0
    measure = settings.warmup_min_s + 2 * settings.min_time_s  # steady samples + pipeline
    total = start + build + measure
    if cell.scenario != "fixed":
        total = start + STREAM_FACTOR * (build + measure)
    elif info.artifact:  # the artefact's worker builds; the cold start and timed one load
        total += 2 * start
    elif info.persistent_cache:
        total += start + WARM_BUILD_SHARE * build
    return total


def plan_s(cells: Iterable[Cell], settings: Settings) -> float:
    """The expected wall time of a whole matrix: the sum of its cells' priors. Pass the
    matrix with its repetitions (``bench.matrix.cells.repeated``): each repetition runs
    every worker again."""
    return sum(prior_s(c, settings) for c in cells)


def hours_text(seconds: float) -> str:
    """A plan's length as the docs state it: to the nearest half hour ("about 2 hours")."""
    halves = max(1, round(seconds / 1800))
    hours = halves / 2
    if hours == 1:
        return "about an hour"
    return f"about {hours:g} hours"
