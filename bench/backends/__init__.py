"""The registries of frameworks and backends: declared once, read by everything.

Nothing here imports a framework: the parent process lists, validates and expands the
matrix from these tables alone; only a worker imports a backend's module (and with it,
its framework). The command line's ``list``, docs/backends-and-models.md's backend table
(``python -m bench list --markdown``) and every parametrised test are generated from
``FRAMEWORKS`` and ``BACKENDS`` (bench/backends/registry.py): a backend registered there is
run by every parity, train-step and contract test without a test being edited.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

# The tables themselves are plain data in their own file (the noxfile reads it by path).
from bench.backends.registry import (
    BACKENDS,
    DRIVER_CACHE_ENV,
    FRAMEWORKS,
    BackendInfo,
    FrameworkInfo,
)

if TYPE_CHECKING:
    from bench.backends.base import Backend


def register(info: BackendInfo) -> None:
    """Add a backend to the registry (a plugin or a test; the built-in ones are in registry.py)."""
    if info.name in BACKENDS:
        raise ValueError(f"backend {info.name!r} is registered already")
    if info.framework not in FRAMEWORKS:
        raise ValueError(f"backend {info.name!r}: unknown framework {info.framework!r}")
    BACKENDS[info.name] = info


def get(name: str) -> BackendInfo:
    """The registry entry of a backend (KeyError for a name the caller did not validate)."""
    return BACKENDS[name]


def names() -> tuple[str, ...]:
    return tuple(BACKENDS)


def for_device(device: str) -> tuple[str, ...]:
    return tuple(name for name, info in BACKENDS.items() if device in info.devices)


def framework(name: str) -> FrameworkInfo:
    return FRAMEWORKS[name]


def cache_env(backend_name: str) -> dict[str, str]:
    """The compile-cache variables a cell's workers get (``{cache_dir}`` to fill in): its
    framework's whole ``cache_env`` where the backend's compilation persists between
    processes or it builds an artefact, else the CUDA driver's JIT cache alone
    (DRIVER_CACHE_ENV: an eager cell's kernels are compiled by the driver too)."""
    info = get(backend_name)
    env = framework(info.framework).cache_env
    if info.persistent_cache or info.artifact:  # an artefact is built from empty caches
        return dict(env)
    return {name: value for name, value in env.items() if name in DRIVER_CACHE_ENV}


def eager_baseline(framework_name: str) -> str:
    """The eager backend of a framework: what its static backends are compared against."""
    return FRAMEWORKS[framework_name].baseline


# Where a Keras model's float64 reference is computed, for every Keras backend: Keras on
# TensorFlow, eager (its layers keep float64 throughout; Keras on torch computes matmuls in
# float32, on JAX float64 needs x64 before import). The weights are the same on every
# backend (models/user/keras.py), so one reference serves them all.
KERAS_REFERENCE = "keras-tf-eager"


def eager_counterpart(name: str) -> str:
    """The eager backend a backend's cells are compared against: its framework's eager
    baseline, or for a Keras backend the eager Keras backend on the same KERAS_BACKEND
    (keras-jax against keras-jax-eager: the same model, Keras's own step, op by op)."""
    info = get(name)
    if info.keras_backend is not None:
        for other, candidate in BACKENDS.items():
            if candidate.keras_backend == info.keras_backend and not candidate.static:
                return other
    return eager_baseline(info.framework)


def missing_packages(framework_name: str) -> list[str]:
    """The framework's packages that this interpreter lacks (found without importing them)."""
    packages = FRAMEWORKS[framework_name].packages
    return [p for p in packages if importlib.util.find_spec(p) is None]


def not_installed_reason(framework_name: str) -> str | None:
    missing = missing_packages(framework_name)
    if not missing:
        return None
    extra = FRAMEWORKS[framework_name].extra
    return f"{', '.join(missing)} not installed (pip install 'graphbench[{extra}]')"


def backend_not_installed_reason(name: str) -> str | None:
    """Why a backend cannot run in this interpreter: its framework, for a Keras backend Keras
    itself, or a runtime of its own (onnxruntime) is missing (found without importing any)."""
    info = get(name)
    missing = not_installed_reason(info.framework)
    if missing:
        return missing
    own = [p for p in info.packages if importlib.util.find_spec(p) is None]
    if own:
        return f"{', '.join(own)} not installed (pip install 'graphbench[{info.extra}]')"
    if info.keras_backend is None or importlib.util.find_spec("keras"):
        return None
    return "keras not installed (pip install 'graphbench[keras]')"


def load(name: str) -> type[Backend]:
    """Import a backend's class (and with it, its framework). Worker side only."""
    module_name, class_name = get(name).target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
