"""The model zoo: the same networks, written once per framework.

A model is a folder ``models/<name>/`` and nothing else: the registry below finds every
folder that has a ``spec.py``, so adding a model registers it with the command line,
the matrix and every parity, train-step and contract test. The contract each folder
meets is ``models.contract`` (checked by tests/test_model_contract.py):

``spec.py``
    NumPy only. ``Config`` (a frozen dataclass), ``PROFILES`` (``quick`` and ``full``
    configs), ``BATCH_SIZE`` (the default batch size per profile),
    ``init_params(cfg, seed)`` (float32 weights by canonical name, deterministic),
    ``make_batch(cfg, batch_size, seed)`` (inputs and integer class targets),
    ``flops_per_step(cfg, batch_size, mode)``, ``describe(cfg)``, ``buffers(cfg)`` (the
    names among the params that are non-trainable state) and ``STREAM_MODES`` (the modes
    the stream scenario feeds varying lengths to; empty for a model without a sequence
    axis, else the spec also has ``stream_config`` and ``make_batch(..., length=L)``).
    Optionally ``COST_FACTOR`` (``quick`` and ``full``: what building its step costs, for
    the prior that orders and shards a run; bench/cost.py derives one from the FLOPs and
    parameter tensors where it is missing).
``reference.py``
    ``forward(cfg, params, x, train)``: the float64 NumPy forward pass, the executable
    definition of the model that every framework is checked against.
``torch.py``, ``jax.py``, ``tf.py`` (one per framework of bench/backends/registry.py)
    Plain framework code that loads exactly those params and runs the forward pass;
    no jit/compile/tf.function here (that is the backends' job) and no precision policy
    (the backends' too). Each exposes ``build(cfg, params)`` and ``export(cfg, model)``
    (back to canonical names and layouts), and may expose ``prepare_input(x)`` for a
    layout change of the batch. JAX is functional: ``build`` returns
    ``(params, state)`` and the module exposes ``apply(cfg, params, state, x, train)
    -> (logits, new_state)``.

Shared pieces live in ``models/common/`` under the same file names.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from bench.backends.registry import FRAMEWORKS as _FRAMEWORK_ENTRIES

# One file per framework in each model folder: the frameworks of the registry.
FRAMEWORKS: tuple[str, ...] = tuple(_FRAMEWORK_ENTRIES)

_HERE = Path(__file__).parent
# More folders of model folders, os.pathsep-separated (examples/models: the control-flow
# model that graph-breaks on purpose, docs/graph-capture.md). They join this package's
# path, so ``models.<name>`` imports them as any zoo model; every process of a run (the
# workers inherit the environment) sees the same models.
MODEL_PATH_ENV = "GRAPHBENCH_MODEL_PATH"
_EXTRA = [Path(p).resolve() for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p]
__path__ = [*__path__, *(str(p) for p in _EXTRA if str(p) not in __path__)]
# Every folder with a spec is a model; ``common`` holds shared pieces, not a model.
MODEL_NAMES: tuple[str, ...] = tuple(
    sorted(
        {
            p.parent.name
            for root in (_HERE, *_EXTRA)
            for p in root.glob("*/spec.py")
            if p.parent.name != "common"
        }
    )
)


def folder(name: str) -> Path:
    """The folder of a model: the zoo's, or one on GRAPHBENCH_MODEL_PATH (wherever this
    package's path, which imports follow, finds it)."""
    for root in map(Path, __path__):
        if (root / name / "spec.py").is_file():
            return root / name
    raise KeyError(name)


def is_user_model(name: str) -> bool:
    """A user's own model (``my_model.py:make``, models.user), not a folder of the zoo."""
    from models import user

    return user.is_user_name(name)


def spec(name: str) -> ModuleType:
    """The NumPy-only spec module of a model (safe to import in the parent process); for a
    user's model its stand-in (models.user.UserSpec)."""
    if is_user_model(name):
        from models import user

        return user.spec(name)  # type: ignore[return-value]  # the same names as a spec
    return importlib.import_module(f"models.{name}.spec")


def reference(name: str) -> ModuleType:
    """The float64 NumPy reference forward pass of a model."""
    return importlib.import_module(f"models.{name}.reference")


def implementation(name: str, framework: str) -> ModuleType:
    """A model's code for one framework; importing it imports that framework."""
    if is_user_model(name):
        from models import user

        return user.implementation(name)
    return importlib.import_module(f"models.{name}.{framework}")


def buffer_names(name: str, cfg: object) -> set[str]:
    """Canonical names of non-trainable state (e.g. BatchNorm running statistics)."""
    return set(spec(name).buffers(cfg))


def stream_modes(name: str) -> tuple[str, ...]:
    """The modes the stream scenario runs for a model; empty where it has no sequence axis."""
    return tuple(spec(name).STREAM_MODES)


def is_sequence_model(name: str) -> bool:
    """A model whose inputs have a sequence axis that can vary from batch to batch."""
    return bool(stream_modes(name))


def prepare_input(impl: ModuleType):
    """The framework module's layout change of the batch, or the identity where it has none."""
    return getattr(impl, "prepare_input", _same)


def _same(x):
    return x
