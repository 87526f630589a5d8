"""The interface every scenario implements, and the measuring steps they share.

A scenario owns four things: the expansion of the command line's choices into cells
(parent), the reference outputs of a block (a child process of its own), the
measurement of one cell (worker), and the rows of its summary table (parent); its
report section is ``report.sections.<name>``. The parent never imports a framework:
everything here but ``Measurement.backend`` is NumPy and the standard library.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

import models
from bench import backends
from bench.cells import MODES, Cell
from bench.contention import CpuWatch
from bench.errors import UsageError
from bench.profiles import Settings
from bench.record import Build, CellResult, Outcome
from bench.timing import Clock

if TYPE_CHECKING:
    from bench.backends.base import Backend
    from bench.metrics import Baselines


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


@dataclass(frozen=True)
class SummaryTable:
    """One scenario's rows of the terminal summary, already formatted."""

    title: str
    headers: tuple[str, ...]
    numeric: frozenset[str]
    rows: Sequence[tuple[str, ...]]
    group: int  # rows sharing their first ``group`` columns form a section


@dataclass
class Measurement:
    """A worker's view of the cell it measures, and where each stage's result goes.

    ``record`` replaces groups of the result and saves it at once (a checkpoint), so a
    worker killed at its timeout keeps what it had measured.
    """

    cell: Cell
    settings: Settings
    backend: Backend
    expected: dict[str, np.ndarray]
    tolerance: float  # parity: the largest max-relative error the cell's precision admits
    phase: str  # "cold", or "warm": a second process finding the first one's caches
    clock: Clock
    save: Callable[[CellResult], None]
    result: CellResult
    # A reduced precision: its framework's float32 eager outputs (bench.expected --eager32).
    eager32: dict[str, np.ndarray] | None = None
    # Watches the worker's cores while the samples are taken (bench.contention): a scenario
    # starts it before its steady-state steps and stops it after.
    watch: CpuWatch | None = None
    trace_dir: str | None = None  # phase "trace": where the profiler writes (bench.trace)

    def record(self, **groups: Any) -> None:
        self.result = replace(self.result, **groups)
        self.save(self.result)


class Scenario(abc.ABC):
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    title: ClassVar[str]
    # Command-line options of this scenario only: option -> (valid names, help).
    options: ClassVar[dict[str, tuple[tuple[str, ...], str]]] = {}
    # Whether a second worker measures a warm start (a persistent compile cache's worth).
    warm_start: ClassVar[bool] = False

    # --- parent -----------------------------------------------------------------------
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
    def summary(self, results: list[CellResult], baselines: Baselines) -> SummaryTable: ...

    # --- the reference process --------------------------------------------------------
    @abc.abstractmethod
    def reference_name(self, cell: Cell, seed: int) -> str:
        """The file of a block's reference outputs (one per block, shared by its cells)."""

    @abc.abstractmethod
    def reference(self, cell: Cell, seed: int) -> dict[str, np.ndarray]:
        """The float64 NumPy reference outputs a cell is checked against."""

    def eager_float32(self, cell: Cell, seed: int) -> dict[str, np.ndarray] | None:
        """The same outputs from the cell's framework, eager, in float32 on the CPU: what a
        reduced precision's error is set beside. None: this scenario does not compare."""
        return None

    # --- worker -----------------------------------------------------------------------
    @abc.abstractmethod
    def measure(self, m: Measurement) -> Outcome:
        """Measure the cell, recording each stage's group in ``m``; returns the verdict."""


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


def build_model(m: Measurement, cfg: Any, params: dict, strategy: str = "exact") -> None:
    """Build the backend's model and step (timed: ``build_s``); record the FLOP count."""
    cell = m.cell
    start = m.clock()
    m.backend.build(
        cell.model, cfg, params, cell.mode, cell.device, strategy=strategy, precision=cell.precision
    )
    build_s = m.clock() - start
    flops = models.spec(cell.model).flops_per_step(cfg, cell.batch_size, cell.mode)
    m.record(build=Build(build_s=build_s, flops_per_step=int(flops)))


def parity_output(mode: str) -> str:
    """What a mode's parity check compares: the logits of inference, a training step's loss."""
    return "logits" if mode == "infer" else "loss"
