"""The interface every backend implements. Framework code lives only in subclasses."""

from __future__ import annotations

import abc
from dataclasses import dataclass
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


class Backend(abc.ABC):
    """One execution style of one framework: builds a model's step and runs it.

    The worker calls, in order: ``configure`` (class level, before anything runs),
    ``build``, ``put``, then ``step``/``sync`` many times. ``step`` only enqueues work;
    ``sync`` waits for the device, so a timed step is ``step`` followed by ``sync``.
    """

    name: ClassVar[str]
    framework: ClassVar[str]
    # Which counter ``peak_device_bytes`` reads, for the results' provenance.
    device_memory_counter: ClassVar[str | None] = None

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
        ``precision`` names the policy (bench.precision) the step follows: the backend
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
        return None

    def cuda_graphs(self) -> dict[str, Any] | None:
        """Whether CUDA graphs were asked for and really used (and why not); None where the
        backend does not use them."""
        return None

    @staticmethod
    def implementation(model: str, framework: str):
        return models.implementation(model, framework)
