"""The model zoo: the same networks, written once per framework.

Each model is a package ``models/<name>/`` holding five files:

``spec.py``
    NumPy only. ``Config`` (a frozen dataclass), ``PROFILES`` (``quick`` and ``full``
    configs), ``BATCH_SIZE`` (the default batch size per profile),
    ``init_params(cfg, seed)`` (float32 weights by canonical name, deterministic),
    ``make_batch(cfg, batch_size, seed)`` (inputs and integer class targets),
    ``flops_per_step(cfg, batch_size, mode)``, ``describe(cfg)``, and optionally
    ``buffers(cfg)``: the names among the params that are non-trainable state.
``reference.py``
    ``forward(cfg, params, x)``: the float64 NumPy forward pass, the executable
    definition of the model that every framework is checked against.
``torch.py``, ``jax.py``, ``tf.py``
    Plain framework code that loads exactly those params and runs the forward pass;
    no jit/compile/tf.function here (that is the backends' job). Each exposes
    ``build(cfg, params)`` and ``export(cfg, model)`` (back to canonical names and
    layouts), and may expose ``prepare_input(x)`` for a layout change of the batch.
    JAX is functional: ``build`` returns ``(params, state)`` and the module exposes
    ``apply(cfg, params, state, x, train) -> (logits, new_state)``.

Shared pieces live in ``models/common/`` under the same file names.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODEL_NAMES: tuple[str, ...] = ("mlp", "cnn", "resnet", "lstm", "transformer")
FRAMEWORKS: tuple[str, ...] = ("torch", "jax", "tf")


def spec(name: str) -> ModuleType:
    """The NumPy-only spec module of a model (safe to import in the parent process)."""
    return importlib.import_module(f"models.{name}.spec")


def reference(name: str) -> ModuleType:
    """The float64 NumPy reference forward pass of a model."""
    return importlib.import_module(f"models.{name}.reference")


def buffer_names(name: str, cfg: object) -> set[str]:
    """Canonical names of non-trainable state (e.g. BatchNorm running statistics).

    A spec declares them with ``buffers(cfg)``; a model without state has none.
    """
    spec_module = spec(name)
    return set(spec_module.buffers(cfg)) if hasattr(spec_module, "buffers") else set()


def is_sequence_model(name: str) -> bool:
    """A model whose inputs have a sequence axis that can vary from batch to batch.

    Its spec provides ``stream_config(cfg, max_len)`` (a config whose params serve every
    length up to ``max_len``), ``make_batch(..., length=L)`` and ``STREAM_MODES`` (the
    modes the dynamic scenario runs by default); its framework files accept a
    ``lengths`` argument (true lengths of right-padded sequences).
    """
    return hasattr(spec(name), "stream_config")


def implementation(name: str, framework: str) -> ModuleType:
    """A model's code for one framework; importing it imports that framework."""
    return importlib.import_module(f"models.{name}.{framework}")
