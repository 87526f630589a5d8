"""What gpu-check runs and in which order: the matrix of its options, riskiest cells first.

The order is by what a CPU run has never proven: a backend that never runs on the CPU
(torch.compile's reduce-overhead: CUDA graphs) first, one inference and one training
cell of it; then the backends that compile for long (torch.compile), the other
reduce-overhead cells among them; then the rest. Within each, the cheapest cells first
(models in the order given, float32 before the reduced precisions), so that a budget
that ends early still has covered every risky path once.
"""

from __future__ import annotations

import argparse

import models
from bench import backends
from bench.cli import args as check
from bench.errors import UsageError
from bench.matrix.cells import MODES, Cell
from bench.matrix.precision import PRECISIONS
from bench.matrix.scenarios.base import MatrixRequest

MODELS = ("mlp", "cnn", "transformer")  # cheapest first
BACKENDS = (
    "torch-eager",
    "torchscript",
    "jax-jit",
    "torch-compile",
    "torch-compile-reduce-overhead",
)
# Risk classes, riskiest first.
NOT_PROVEN_ON_CPU, COMPILES_FOR_LONG, PROVEN = 0, 1, 2


def request_from(a: argparse.Namespace) -> MatrixRequest:
    """The CUDA matrix of gpu-check's options (--models, --backends, --precisions), checked:
    a bad name is one line (UsageError). By default the backends of BACKENDS whose framework
    is installed here; one named with --backends whose framework is missing is recorded
    as skipped, with why."""
    model_names = check.names("--models", a.models, models.MODEL_NAMES, default=",".join(MODELS))
    cuda = tuple(backends.for_device("cuda"))
    if a.backends is None:
        installed = [
            b for b in BACKENDS if not backends.not_installed_reason(backends.get(b).framework)
        ]
        if not installed:
            raise UsageError("gpu-check: neither PyTorch nor JAX is installed here")
        backend_names = tuple(installed)
    else:
        backend_names = check.names("--backends", a.backends, cuda)
    precisions = check.names("--precisions", a.precisions, PRECISIONS, default="float32")
    return MatrixRequest(
        models=model_names,
        backends=backend_names,
        modes=None,
        device="cuda",
        profile="full",
        precisions=precisions,
    )


def risk(cell: Cell) -> int:
    """The cell's risk class: NOT_PROVEN_ON_CPU, COMPILES_FOR_LONG or PROVEN (from the
    registry's facts about its backend, never its name)."""
    info = backends.get(cell.backend)
    if "cpu" not in info.devices:
        return NOT_PROVEN_ON_CPU
    return COMPILES_FOR_LONG if info.slow_to_build else PROVEN


def risk_order(cells: list[Cell]) -> list[Cell]:
    """``cells`` in the order gpu-check runs them (the module's docstring says why)."""
    model_order = list(dict.fromkeys(c.model for c in cells))

    def cost(c: Cell) -> tuple:
        return (
            model_order.index(c.model),
            c.batch_size,
            PRECISIONS.index(c.precision) if c.precision in PRECISIONS else len(PRECISIONS),
            MODES.index(c.mode) if c.mode in MODES else len(MODES),
            c.repetition,
        )

    riskiest = [c for c in cells if risk(c) == NOT_PROVEN_ON_CPU]
    early = []
    for mode in MODES:  # one inference and one training cell first
        of_mode = [c for c in riskiest if c.mode == mode]
        if of_mode:
            early.append(min(of_mode, key=cost))
    chosen = {c.key() for c in early}
    rest = [c for c in cells if c.key() not in chosen]
    compiled = sorted(
        (c for c in rest if risk(c) != PROVEN), key=lambda c: (cost(c), risk(c), c.backend)
    )
    # The rest: static backends before eager ones (a tracer is the riskier), cheapest first.
    proven = sorted(
        (c for c in rest if risk(c) == PROVEN),
        key=lambda c: (cost(c), not backends.get(c.backend).static, c.backend),
    )
    return early + compiled + proven
