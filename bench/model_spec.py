"""A user's own model: what ``--models PATH.py:FUNCTION`` (or ``package.module:FUNCTION``)
returns. Public API (``bench.ModelSpec``); imports no framework.

The function takes no arguments and returns a ``ModelSpec``. graphbench then runs the model
on every backend of its framework, checks each backend's first output against the same
model run eagerly in float64 (same weights, same batch, a process of its own) and times only
the backends that agree. See docs/your-model.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# The frameworks a user's model may be written in.
USER_FRAMEWORKS = ("torch", "jax", "tf", "keras")


@dataclass(frozen=True)
class ModelSpec:
    """One model, as graphbench needs it.

    ``framework``
        ``torch``, ``jax``, ``tf`` or ``keras``: the backends it runs on (the others record
        the cell as not-applicable). A ``keras`` model runs on the Keras backends
        (``keras-jax``, ``keras-tf``, ``keras-tf-xla``, ``keras-torch``, ...), each with
        its own KERAS_BACKEND; a ``tf`` model that is a Keras model runs on the TensorFlow
        backends as a callable.
    ``build(seed)``
        Returns the model with float32 weights, the same ones for the same seed (graphbench
        also seeds the framework's global generator with ``seed`` before the call).
        torch: an ``nn.Module``; jax: the parameters (a pytree of arrays), run by ``apply``;
        tf: a ``tf.Module`` or Keras model called as ``model(x)``; keras: a Keras model
        (graphbench draws its weights itself, see docs/your-model.md, since Keras's random
        initialisers draw different numbers on each backend).
    ``make_batch(batch_size, seed)``
        ``(inputs, targets)`` as NumPy arrays: the inputs the model is called with (float
        inputs are cast to the backend's dtype; integer inputs, e.g. token ids, kept) and
        the integer class targets of a training step.
    ``apply(params, x)``
        jax only: the forward pass, ``params`` from ``build``.
    ``loss(outputs, targets)``
        Optional, in the model's framework: the scalar a training step minimises. Default:
        mean cross-entropy of the outputs (logits, classes on the last axis) on the targets.
    ``flops(batch_size)``
        Optional: floating-point operations of one inference step; a training step counts
        three times as many. Default: counted (torch: ``torch.utils.flop_counter``; jax: XLA's
        cost analysis; tf and keras: TensorFlow's graph profiler).
    ``batch_size``
        The batch when ``--batch-sizes`` is not given.
    """

    framework: str
    build: Callable[[int], Any]
    make_batch: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    apply: Callable[[Any, Any], Any] | None = None
    loss: Callable[[Any, Any], Any] | None = None
    flops: Callable[[int], float] | None = None
    batch_size: int = 8

    def problems(self) -> list[str]:
        """What this spec gets wrong, one phrase each (empty when it is usable)."""
        found = []
        if self.framework not in USER_FRAMEWORKS:
            found.append(
                f"framework {self.framework!r:.40}: expected one of {', '.join(USER_FRAMEWORKS)}"
            )
        for field in ("build", "make_batch"):
            if not callable(getattr(self, field)):
                found.append(f"{field}: expected a function")
        for field in ("loss", "flops"):
            if getattr(self, field) is not None and not callable(getattr(self, field)):
                found.append(f"{field}: expected a function or None")
        if self.framework == "jax" and not callable(self.apply):
            found.append("apply: a jax model needs apply(params, x)")
        if self.framework != "jax" and self.apply is not None:
            found.append(f"apply: only a jax model has one (this is a {self.framework} model)")
        size = self.batch_size
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            found.append(f"batch_size {size!r:.40}: expected a positive integer")
        return found
