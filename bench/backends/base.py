"""The interface every backend implements. Framework code lives only in subclasses."""

from __future__ import annotations

import abc
import tempfile
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import models


@dataclass(frozen=True)
class Adam:
    """The training step's optimizer, the same in every framework (set explicitly there)."""

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0


ADAM = Adam()
LOSS = "mean cross-entropy over every predicted position"


@dataclass(frozen=True)
class DeviceMemory:
    """One reading of a framework's device allocator (``Backend.device_memory``); None where
    the framework does not report that figure."""

    peak_bytes: int | None  # the peak since the process started or the last reset
    in_use_bytes: int | None  # allocated now
    peak_reserved_bytes: int | None  # the most reserved from the device (the pools)


class Diagnosis(abc.ABC):
    """A static backend's graph-capture diagnostics (``run --diagnose``; bench.capture).

    Entered around the steps of a diagnosing worker (never a timed one: switching these
    facilities on costs time), it reads what the framework itself reports: graphs, breaks
    and their reasons, recompilations and the reason the framework gives for each, compile
    phases and cache hits. ``report`` returns values named as bench.record.GraphCapture's
    fields.
    """

    tool: ClassVar[str]  # the framework facilities read, for the record

    def __enter__(self) -> Diagnosis:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def first_call(self, run: Callable[[], None], inputs: Any) -> dict[str, float]:
        """Run the first call (``run`` steps ``inputs`` and syncs); the seconds of each
        compile phase the framework attributes inside it, in order (the rest: "other")."""
        run()
        return self.phases()

    def phases(self) -> dict[str, float]:
        """Compile phases so far, seconds (after the first call: the first call's)."""
        return {}

    def new_compilations(self) -> list[str]:
        """The reason the framework gave for each compilation (or trace) since the last
        call of this method, in order: one per new graph."""
        return []

    @abc.abstractmethod
    def report(self) -> dict[str, Any]:
        """Everything read so far, as GraphCapture fields (graphs, graph_breaks,
        break_reasons, recompilations, recompile_reasons, fallbacks, cache_counters)."""


class Backend(abc.ABC):
    """One execution style of one framework: builds a model's step and runs it.

    The worker calls, in order: ``configure`` (class level, before anything runs),
    ``build``, ``put``, then ``step``/``sync`` many times. ``step`` only enqueues work;
    ``sync`` waits for the device, so a timed step is ``step`` followed by ``sync``.
    """

    name: ClassVar[str]
    framework: ClassVar[str]
    # Which counter ``peak_device_bytes`` (DeviceMemory.peak_bytes) reads, for the results'
    # provenance; the call that resets it (None: the framework cannot, and the steady
    # phase's figure is the bytes in use after it, from ``in_use_counter``); the counter of
    # DeviceMemory.peak_reserved_bytes.
    device_memory_counter: ClassVar[str | None] = None
    peak_reset: ClassVar[str | None] = None
    in_use_counter: ClassVar[str | None] = None
    reserved_memory_counter: ClassVar[str | None] = None
    # The framework's own standard timing tool (``standard_timer``), as selfcheck names it.
    referee: ClassVar[str | None] = None

    @classmethod
    @abc.abstractmethod
    def configure(cls, device: str, threads: int, precision: str) -> dict[str, Any]:
        """Set threads and numerics before any work; return what was set, for the results.

        Compile-cache locations come from the environment the runner gives the worker
        (``backends.CACHE_ENV``).
        """

    @classmethod
    @abc.abstractmethod
    def framework_version(cls) -> str: ...

    @classmethod
    @abc.abstractmethod
    def unavailable_reason(cls, device: str) -> str | None:
        """None if this backend can run on ``device`` here, else why not (one line)."""

    @classmethod
    @abc.abstractmethod
    def cuda_build(cls) -> str | None:
        """The CUDA version the installed framework was built for ("13.0"); None: CPU only."""

    @classmethod
    def is_out_of_memory(cls, exc: BaseException) -> bool:
        return isinstance(exc, MemoryError)

    @abc.abstractmethod
    def build(
        self,
        model: str,
        cfg: Any,
        params: dict[str, np.ndarray],
        mode: str,
        device: str,
        strategy: str = "exact",
        precision: str = "float32",
    ) -> None:
        """Load params and prepare the infer or train step (wrap in jit/compile/graph here).

        ``strategy`` is ``dynamic`` to use the backend's own dynamic-shape mode; any other
        value builds the default step (bucketing is done to the data, not the backend).
        ``precision`` names the policy (bench.matrix.precision) the step follows: the backend
        module implements each one, the model files know none.
        """

    @abc.abstractmethod
    def put(self, batch: tuple[np.ndarray, ...]) -> Any:
        """Host batch -> device inputs for ``step``; untimed.

        ``(inputs, targets)``, or ``(inputs, targets, lengths)`` for right-padded
        sequences: the model then reads only the first ``lengths[b]`` positions of row b,
        and a per-position loss averages over those positions only.
        """

    @abc.abstractmethod
    def step(self, inputs: Any) -> Any:
        """One inference (returns logits) or training step (returns the loss); never syncs."""

    @abc.abstractmethod
    def sync(self, out: Any) -> None:
        """Wait until ``out`` and every effect of the step (e.g. updated weights) is done."""

    @abc.abstractmethod
    def to_numpy(self, out: Any) -> np.ndarray:
        """A step's output on the host, for the parity check."""

    @abc.abstractmethod
    def export_params(self) -> dict[str, np.ndarray]:
        """Current weights (and buffers) in canonical names and layouts."""

    def compilations(self) -> int | None:
        """Graphs traced/compiled so far (the framework's own counter); None where none are."""
        return None

    def peak_device_bytes(self) -> int | None:
        """Peak bytes of the framework's device allocator, or None on CPU."""
        memory = self.device_memory()
        return None if memory is None else memory.peak_bytes

    def device_memory(self) -> DeviceMemory | None:
        """The device allocator's figures now (the counters named above); None on the CPU."""
        return None

    def reset_device_peak(self) -> None:
        """Start the allocator's peak again from what is in use now (``peak_reset``); nothing
        where the framework cannot (JAX) or on the CPU."""
        return None

    def diagnose(self) -> Diagnosis | None:
        """The graph-capture diagnostics of a static backend (bench.capture), made after
        ``build``; None where the backend builds no graph (eager)."""
        return None

    def cuda_graphs(self) -> dict[str, Any] | None:
        """Whether CUDA graphs were asked for and really used, from evidence (replays seen
        in the steps), and why not; None where the backend does not use them."""
        return None

    @classmethod
    def peak_matmul(
        cls, device: str, n: int, dtype: str, tf32: bool
    ) -> tuple[Callable[[int], None], str]:
        """For bench.worker.peak: (run, what it is). ``run(calls)`` multiplies two n×n matrices of
        ``dtype`` (float32, bfloat16, float16; TF32 tensor cores allowed only with ``tf32``),
        already on the device, ``calls`` times, then waits for the device."""
        raise NotImplementedError(f"{cls.__name__} cannot measure the device's peak")

    @classmethod
    def peak_copy(cls, device: str, nbytes: int) -> tuple[Callable[[int], None], str]:
        """For bench.worker.peak: (run, what it is). ``run(calls)`` copies ``nbytes`` of float32 on
        the device into another buffer (reads and writes ``nbytes`` each) ``calls`` times,
        then waits for the device."""
        raise NotImplementedError(f"{cls.__name__} cannot measure the device's peak")

    @classmethod
    def standard_timer(
        cls, step: Callable[[Any], Any], inputs: Any, min_time_s: float
    ) -> list[float]:
        """Seconds per call of ``step(inputs)`` as the framework's own standard tool times them
        (``referee``): one figure per block of calls, for at least ``min_time_s``. selfcheck
        sets graphbench's samples of the same step beside these."""
        raise NotImplementedError(f"{cls.__name__} has no standard timer to check against")

    def trace(self, run_steps: Callable[[], None], out_dir: Path) -> list[str]:
        """Run ``run_steps`` under the framework's profiler; write its trace files into
        ``out_dir`` and return their names, a Chrome-trace JSON first (bench.analysis.traces)."""
        raise NotImplementedError(f"{type(self).__name__} has no profiler to trace with")

    @staticmethod
    def implementation(model: str, framework: str):
        return models.implementation(model, framework)


class ArtifactBackend(Backend):
    """An ahead-of-time backend: its step is an artefact built once and loaded by the process
    that serves it (torch.export, AOTInductor, ONNX Runtime, jax.export, SavedModel).

    The worker calls ``use_artifact`` before ``build``. Exporting (the artefact worker):
    ``build`` prepares the framework's model and step as its parent class does, then
    ``export_artifact`` traces it with the batch's device inputs and writes the artefact's
    files into the directory. Loading (every later worker, a fresh process): ``build``
    loads the artefact alone, with no model built and no weights given to it, and ``step``
    runs it. Without ``use_artifact`` (a test in one process), ``build`` builds as when
    exporting and the first ``step`` exports for its inputs into a temporary directory and
    loads what it wrote (``ensure_loaded``), so the step that runs is always the loaded
    artefact's.
    """

    artifact_dir: Path | None = None
    exporting: bool = False

    def use_artifact(self, directory: Path, export: bool) -> None:
        self.artifact_dir, self.exporting = directory, export

    @abc.abstractmethod
    def export_artifact(self, inputs: Any, directory: Path) -> None:
        """Export the built step for ``inputs`` (from ``put``); write its files into
        ``directory`` (the batch dimension declared dynamic where the exporter can)."""

    @abc.abstractmethod
    def load_artifact(self, directory: Path) -> None:
        """Load the artefact in ``directory``; ``step`` runs it from then on."""

    @property
    def loading(self) -> bool:
        """Whether ``build`` loads an artefact (a worker after the artefact's) rather than
        building the model to export."""
        return self.artifact_dir is not None and not self.exporting

    def ensure_loaded(self, inputs: Any) -> None:
        """Before a step: in one process (no ``use_artifact``), export for these inputs into
        a temporary directory of this backend's and load it, once."""
        if getattr(self, "_loaded", False):
            return
        if self.artifact_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="graphbench-artifact-")
            directory = Path(self._scratch.name)
            self.export_artifact(inputs, directory)
            self.load_artifact(directory)
        self._loaded = True

    def mark_loaded(self) -> None:
        self._loaded = True


# A timeit block lasts at least this long (less when the whole time asked for is short).
BLOCK_S = 0.01
MAX_BLOCK_CALLS = 10**6


def timeit_per_call(statement: Callable[[], Any], min_time_s: float) -> list[float]:
    """A plain ``timeit`` loop, as a user times a step: blocks of ``number`` calls (grown
    tenfold until a block lasts BLOCK_S, so the timer's own cost is amortised), repeated
    until ``min_time_s`` have passed; each block's seconds per call. ``statement`` ends in the
    framework's sync. timeit switches the garbage collector off while it times, as always."""
    timer = timeit.Timer(statement)
    target = min(BLOCK_S, min_time_s / 10)
    number = 1
    while timer.timeit(number) < target and number < MAX_BLOCK_CALLS:
        number *= 10
    per_call: list[float] = []
    total = 0.0
    while total < min_time_s or not per_call:
        seconds = timer.timeit(number)
        per_call.append(seconds / number)
        total += seconds
    return per_call
