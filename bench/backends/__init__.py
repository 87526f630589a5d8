"""The backend registry: names -> where the class lives, without importing any framework.

The parent process lists, validates and expands the matrix from this table alone;
only a worker imports a backend's module (and with it, its framework).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.backends.base import Backend


@dataclass(frozen=True)
class BackendInfo:
    name: str
    framework: str
    target: str  # "module:Class"
    summary: str
    devices: tuple[str, ...] = ("cpu", "cuda")
    # False for the framework's eager baseline; True where a graph is traced/compiled
    # once and replayed (the first call pays for it).
    static: bool = True
    # What a second process reuses of the first one's compilation (a warm start), or None
    # where nothing persists between processes (a warm start would repeat the cold one).
    persistent_cache: str | None = None
    # The backend's own dynamic-shape mode (the ``dynamic`` strategy), or None if it has none.
    dynamic: str | None = None

    def dynamic_not_applicable(self) -> str | None:
        """Why the ``dynamic`` strategy does not apply to this backend, or None if it does."""
        if self.dynamic:
            return None
        if not self.static:
            return "not applicable: eager execution builds no graph, so nothing is made dynamic"
        return f"not applicable: {self.summary} has no dynamic-shape mode (one trace per shape)"


# What each framework needs installed, and the extra that installs it.
FRAMEWORK_PACKAGES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "jax": ("jax", "jaxlib", "optax"),
    "tf": ("tensorflow",),
}

# Environment for a worker of each framework: keep TensorFlow's INFO chatter out of
# the stderr tail that explains a failure.
FRAMEWORK_ENV: dict[str, dict[str, str]] = {
    "torch": {},
    "jax": {},
    "tf": {"TF_CPP_MIN_LOG_LEVEL": "1"},
}

# Where each framework keeps compiled artefacts between processes. The runner points them
# at a directory of the cell's own: the first worker starts with it empty (cold), a
# second worker of the same cell finds what the first left (warm).
CACHE_ENV: dict[str, dict[str, str]] = {
    "torch": {
        "TORCHINDUCTOR_CACHE_DIR": "{cache_dir}/inductor",
        "TRITON_CACHE_DIR": "{cache_dir}/triton",
    },
    "jax": {
        "JAX_COMPILATION_CACHE_DIR": "{cache_dir}/jax",
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    },
    "tf": {"TF_XLA_FLAGS": "--tf_xla_persistent_cache_directory={cache_dir}/xla"},
}

_T = "bench.backends.torch_backends:"
_J = "bench.backends.jax_backends:"
_F = "bench.backends.tf_backends:"
_DYNAMO = "torch.compile(dynamic=True): symbolic shapes from the first call"
_INDUCTOR = (
    "Inductor FX-graph, AOTAutograd and Triton caches (TORCHINDUCTOR_CACHE_DIR); "
    "Dynamo tracing is redone"
)

BACKENDS: dict[str, BackendInfo] = {
    info.name: info
    for info in (
        BackendInfo("torch-eager", "torch", _T + "TorchEager", "PyTorch eager", static=False),
        BackendInfo(
            "torch-compile",
            "torch",
            _T + "TorchCompile",
            "torch.compile, inductor, default mode",
            persistent_cache=_INDUCTOR,
            dynamic=_DYNAMO,
        ),
        BackendInfo(
            "torch-compile-max-autotune",
            "torch",
            _T + "TorchCompileMaxAutotune",
            "torch.compile, inductor, mode='max-autotune'",
            persistent_cache=_INDUCTOR,
            dynamic=_DYNAMO,
        ),
        BackendInfo(
            "torch-compile-reduce-overhead",
            "torch",
            _T + "TorchCompileReduceOverhead",
            "torch.compile, inductor, mode='reduce-overhead' (CUDA graphs)",
            devices=("cuda",),
            persistent_cache=_INDUCTOR,
            dynamic=_DYNAMO,
        ),
        BackendInfo(
            "torchscript",
            "torch",
            _T + "TorchScript",
            "torch.jit.script",
            dynamic="torch.jit.set_fusion_strategy([('DYNAMIC', 20)]): shape-generic fusion "
            "from the first call (the default specialises on two shapes first)",
        ),
        BackendInfo(
            "jax-eager", "jax", _J + "JaxEager", "JAX op by op (jit disabled)", static=False
        ),
        BackendInfo(
            "jax-jit",
            "jax",
            _J + "JaxJit",
            "jax.jit of the whole step",
            persistent_cache="JAX persistent compilation cache (JAX_COMPILATION_CACHE_DIR)",
        ),
        BackendInfo("tf-eager", "tf", _F + "TfEager", "TensorFlow eager", static=False),
        BackendInfo(
            "tf-graph",
            "tf",
            _F + "TfGraph",
            "tf.function (graph)",
            dynamic="tf.function(reduce_retracing=True): retraces once with unknown dimensions",
        ),
        BackendInfo(
            "tf-xla",
            "tf",
            _F + "TfXla",
            "tf.function(jit_compile=True) (XLA)",
            persistent_cache="XLA persistent cache (--tf_xla_persistent_cache_directory); "
            "tracing is redone",
            dynamic="tf.function(jit_compile=True, reduce_retracing=True): one trace with "
            "unknown dimensions; XLA still compiles each concrete shape",
        ),
    )
}

_EAGER: dict[str, str] = {
    info.framework: info.name for info in BACKENDS.values() if not info.static
}


def get(name: str) -> BackendInfo:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"unknown backend {name!r}; expected one of: {', '.join(BACKENDS)}"
        ) from None


def eager_baseline(framework: str) -> str:
    """The eager backend of a framework: what its static backends are compared against."""
    return _EAGER[framework]


def missing_packages(framework: str) -> list[str]:
    """The framework's packages that are not installed (found without importing them)."""
    return [p for p in FRAMEWORK_PACKAGES[framework] if importlib.util.find_spec(p) is None]


def not_installed_reason(framework: str) -> str | None:
    missing = missing_packages(framework)
    if not missing:
        return None
    return f"{', '.join(missing)} not installed (pip install 'graphbench[{framework}]')"


def load(name: str) -> type[Backend]:
    """Import a backend's class (and with it, its framework). Worker side only."""
    module_name, class_name = get(name).target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
