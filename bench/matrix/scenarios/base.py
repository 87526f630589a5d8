"""What a scenario is on the parent's side: the expansion of the command line's choices into
cells, and the names of what its cells need.

A scenario has three halves, one per side of a run, each in its group's folder:
- here (bench.matrix.scenarios): its name, options and matrix: which cells, which do not
  apply, what run.json records of its settings, the file of a block's reference outputs;
- its measurement (bench.worker.scenarios.<name>): the reference outputs and the measured
  cell, in child processes;
- its summary rows (bench.analysis.summary_rows) and its report section
  (report.sections.<name>).
Nothing here imports a framework.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

import models
from bench import backends
from bench.errors import UsageError
from bench.matrix.cells import MODES, Cell


@dataclass(frozen=True)
class MatrixRequest:
    """What the command line asked for, validated names only."""

    models: tuple[str, ...] | None  # None: the scenario's own (every model it applies to)
    backends: tuple[str, ...]
    modes: tuple[str, ...] | None  # None: the scenario's own
    device: str
    profile: str
    batch_sizes: tuple[int, ...] | None = None  # None: each model's size for the profile
    precisions: tuple[str, ...] = ("float32",)
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)  # scenario's own


class Scenario(abc.ABC):
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    title: ClassVar[str]
    # Command-line options of this scenario only: option -> (valid names, help).
    options: ClassVar[dict[str, tuple[tuple[str, ...], str]]] = {}
    # Whether a second worker measures a warm start (a persistent compile cache's worth).
    warm_start: ClassVar[bool] = False
    # Whether a reduced precision's error is set beside its framework's float32 eager
    # output (bench.worker.expected --eager32 computes it).
    compares_eager_float32: ClassVar[bool] = False
    # Whether a training cell's loss after the warm-up is checked against its framework's
    # eager loss at the same step (bench.worker.expected computes that loss).
    checks_eager_loss: ClassVar[bool] = False

    def models(self) -> tuple[str, ...]:
        """The models this scenario applies to."""
        return models.MODEL_NAMES

    def modes(self, model: str) -> tuple[str, ...]:
        """The modes a model runs in when --modes is not given."""
        return MODES

    @abc.abstractmethod
    def expand(self, request: MatrixRequest) -> list[Cell]:
        """The cells of a request, each block's eager baselines first."""

    def not_applicable(self, cell: Cell) -> str | None:
        """Why a cell of this scenario means nothing (recorded, never run), or None."""
        return None

    def describe_run(self, profile: str) -> dict[str, Any] | None:
        """What run.json records about this scenario's own settings (None: nothing)."""
        return None

    @abc.abstractmethod
    def reference_name(self, cell: Cell, seed: int) -> str:
        """The file of a block's reference outputs (one per block, shared by its cells)."""


def block_cells(request: MatrixRequest, model: str, modes: tuple[str, ...]) -> list[Cell]:
    """One model's cells of a request, in blocks (mode, batch size, precision), eager first.

    Eager backends run first in each block so a static backend's break-even can be
    computed as soon as it finishes.
    """
    wrong_device = [b for b in request.backends if request.device not in backends.get(b).devices]
    if wrong_device:
        raise UsageError(
            f"--backends: {', '.join(wrong_device)} cannot run on {request.device}; backends "
            f"for {request.device}: {', '.join(backends.for_device(request.device))}"
        )
    registry = list(backends.BACKENDS)
    ordered = sorted(request.backends, key=lambda b: (backends.get(b).static, registry.index(b)))
    sizes = request.batch_sizes or (models.spec(model).BATCH_SIZE[request.profile],)
    return [
        Cell(model, backend, mode, request.device, batch, request.profile, precision)
        for mode in modes
        for batch in sizes
        for precision in request.precisions
        for backend in ordered
    ]
