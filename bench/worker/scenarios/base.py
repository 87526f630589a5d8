"""A scenario's measurement, in the worker: the interface each implements, and the steps they
share. Its matrix is bench.matrix.scenarios; its summary rows bench.analysis.summary_rows.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import models
from bench.backends.base import ArtifactBackend, Backend
from bench.matrix.cells import Cell
from bench.matrix.job import ARTIFACT_PHASE
from bench.matrix.profiles import Settings
from bench.results.record import Build, CellResult, Outcome
from bench.worker.memory import MemoryWatch
from bench.worker.timing import Clock
from bench.worker.window import SampleWindow


@dataclass
class Measurement:
    """A worker's view of the cell it measures, and where each stage's result goes.

    ``record`` replaces groups of the result and saves it at once (a checkpoint), so a
    worker killed at its timeout keeps what it had measured.
    """

    cell: Cell
    settings: Settings
    backend: Backend
    expected: Mapping[str, np.ndarray]
    tolerance: float  # parity: the largest max-relative error the cell's precision admits
    # "cold", or "warm": a second process finding the first one's caches; "trace" and
    # "diagnose" run after the measured ones.
    phase: str
    clock: Clock
    save: Callable[[CellResult], None]
    result: CellResult
    # A reduced precision: its framework's float32 eager outputs (bench.expected --eager32).
    eager32: Mapping[str, np.ndarray] | None = None
    # Watches the worker's cores while the samples are taken, and times the sentinel before
    # and after (bench.worker.window): a scenario starts it before its steady-state steps
    # and stops it after.
    watch: SampleWindow | None = None
    # Phase "trace": where the profiler writes (bench.analysis.traces); "diagnose": where
    # capture.json goes (bench.worker.capture).
    trace_dir: str | None = None
    # The worker's memory readings (bench.worker.memory): the scenario marks the end of the
    # warm-up and of the timed steps, and holds each parity check in ``parity_check``.
    memory: MemoryWatch | None = None
    # A training cell: its framework's eager loss after the warm-up's counted steps, on the
    # same device and precision (bench.worker.expected, the runner's); None: not known.
    eager_warmup_loss: float | None = None

    def parity_check(self) -> contextlib.AbstractContextManager[None]:
        """The context of a parity check, whose memory the host peak leaves out."""
        return self.memory.parity_check() if self.memory else contextlib.nullcontext()

    def end_warmup(self) -> None:
        if self.memory is not None:
            self.memory.end_warmup(self.backend)

    def end_steady(self) -> None:
        if self.memory is not None:
            self.memory.end_steady(self.backend)

    # An ahead-of-time backend: the cell's artefact directory (written in phase "artifact",
    # loaded in every later phase).
    artifact_dir: str | None = None

    def record(self, **groups: Any) -> None:
        self.result = replace(self.result, **groups)
        self.save(self.result)


class ScenarioMeasure(abc.ABC):
    """What the worker processes do for a scenario's cells."""

    @abc.abstractmethod
    def reference(self, cell: Cell, seed: int) -> dict[str, np.ndarray]:
        """The float64 NumPy reference outputs a cell is checked against (bench.worker.expected)."""

    def eager_float32(self, cell: Cell, seed: int) -> dict[str, np.ndarray] | None:
        """The same outputs from the cell's framework, eager, in float32 on the CPU: what a
        reduced precision's error is set beside. None: this scenario does not compare."""
        return None

    def eager_loss(self, cell: Cell, seed: int, steps: int, threads: int) -> dict[str, np.ndarray]:
        """``{"loss": ...}``: the training loss the eager backend ``cell`` names returns after its
        first call and ``steps`` more steps, on the cell's device at its precision (what a
        training cell's loss after the warm-up is checked against). Scenarios whose matrix
        sets checks_eager_loss implement it."""
        raise NotImplementedError(f"{type(self).__name__} has no eager loss to compare")

    @abc.abstractmethod
    def measure(self, m: Measurement) -> Outcome:
        """Measure the cell, recording each stage's group in ``m``; returns the verdict."""


def build_model(
    m: Measurement, cfg: Any, params: dict, strategy: str = "exact", batch: tuple | None = None
) -> None:
    """Build the backend's model and step (timed: ``build_s``); record the FLOP count.

    An ahead-of-time backend (bench.backends.base.ArtifactBackend) is told its artefact's
    directory first. In the artefact worker (phase ``artifact``) ``build_s`` is the whole
    build of the artefact: the model, then its export for ``batch`` and the files written;
    in every later worker it is the artefact's load."""
    cell, backend = m.cell, m.backend
    aot = backend if isinstance(backend, ArtifactBackend) and m.artifact_dir else None
    exporting = aot is not None and m.phase == ARTIFACT_PHASE
    if aot is not None:
        aot.use_artifact(Path(str(m.artifact_dir)), export=exporting)
    start = m.clock()
    backend.build(
        cell.model, cfg, params, cell.mode, cell.device, strategy=strategy, precision=cell.precision
    )
    if aot is not None and exporting:
        assert batch is not None, "the artefact worker exports for the cell's batch"
        aot.export_artifact(aot.put(batch), Path(str(m.artifact_dir)))
    build_s = m.clock() - start
    if models.is_user_model(cell.model):
        # A user's model: counted with its reference, in that process (untimed).
        counted = m.expected.get("flops_per_step")
        flops = None if counted is None else int(counted)
        counter = str(m.expected["flops_counter"]) if "flops_counter" in m.expected else None
    else:
        flops = int(models.spec(cell.model).flops_per_step(cfg, cell.batch_size, cell.mode))
        counter = None
    m.record(build=Build(build_s=build_s, flops_per_step=flops, flops_counter=counter))


def parity_output(mode: str) -> str:
    """What a mode's parity check compares: the logits of inference, a training step's loss."""
    return "logits" if mode == "infer" else "loss"
