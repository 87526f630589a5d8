"""What a cell is expected to cost in wall seconds, before anything is measured.

A prior, not a measurement: it orders and balances work (``--shard`` splits the matrix
into slices of equal expected cost) and never appears in a result. It must depend on
nothing but the cell and the settings, so that every machine of a Slurm array computes
the same shards. The constants are round figures from this project's own runs (a
2-core CPU for ``quick``, fitted to a whole ``nox -s bench``; the GPU notes for
``full``): what matters is their ratios (a ``torch.compile`` cell costs tens of eager
ones), not their precision.
"""

from __future__ import annotations

from bench import backends
from bench.matrix.cells import Cell
from bench.matrix.profiles import Settings

# Seconds to start a worker and import its framework (CUDA adds its context).
IMPORT_S = {"torch": 2.0, "jax": 2.0, "tf": 4.0}
CUDA_INIT_S = 3.0
# Seconds to build (trace, compile) the quick-profile MLP's inference step, by kind of
# backend; other models and modes scale it.
BUILD_S = {"eager": 0.5, "trace": 1.5, "compile": 10.0}
# Eager JAX compiles each primitive the first time it meets it (one small XLA program per
# op and shape), so its first steps cost like a trace.
EAGER_BUILD_S = {"jax": 5.0}
MODEL_FACTOR = {
    "quick": {"mlp": 0.5, "cnn": 1.0, "resnet": 2.0, "lstm": 1.5, "transformer": 1.5},
    "full": {"mlp": 1.0, "cnn": 2.0, "resnet": 5.0, "lstm": 3.0, "transformer": 4.0},
}
TRAIN_FACTOR = 1.5  # a training step is a forward, a backward and an update
STREAM_FACTOR = 4.0  # a stream compiles per distinct shape, twice over (two passes)
WARM_BUILD_SHARE = 0.3  # of the cold build, what a warm worker pays with the cache filled


def build_kind(backend: str) -> str:
    info = backends.get(backend)
    if not info.static:
        return "eager"
    return "compile" if info.slow_to_build else "trace"


def prior_s(cell: Cell, settings: Settings) -> float:
    """The expected wall time of the cell's workers (cold, and warm where there is one)."""
    info = backends.get(cell.backend)
    start = IMPORT_S.get(cell.framework, 3.0) + (CUDA_INIT_S if cell.device == "cuda" else 0.0)
    kind = build_kind(cell.backend)
    build = EAGER_BUILD_S.get(cell.framework, BUILD_S[kind]) if kind == "eager" else BUILD_S[kind]
    if cell.device == "cuda":  # max-autotune benchmarks GPU kernel candidates; on CPU, few
        build *= info.timeout_factor
    build *= MODEL_FACTOR.get(settings.profile, MODEL_FACTOR["quick"]).get(cell.model, 2.0)
    build *= TRAIN_FACTOR if cell.mode == "train" else 1.0
    measure = settings.warmup_min_s + 2 * settings.min_time_s  # steady samples + pipeline
    total = start + build + measure
    if cell.scenario != "fixed":
        total = start + STREAM_FACTOR * (build + measure)
    elif info.persistent_cache:
        total += start + WARM_BUILD_SHARE * build
    return total
