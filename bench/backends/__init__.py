"""The registries of frameworks and backends: declared once, read by everything.

Nothing here imports a framework: the parent process lists, validates and expands the
matrix from these tables alone; only a worker imports a backend's module (and with it,
its framework). The command line's ``list``, the README's backend table
(``python -m bench list --markdown``) and every parametrised test are generated from
``FRAMEWORKS`` and ``BACKENDS``: a backend registered here is run by every parity,
train-step and contract test without a test being edited.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.backends.base import Backend


@dataclass(frozen=True)
class FrameworkInfo:
    """What graphbench needs to know about a framework before importing it."""

    name: str
    # Importable top-level packages the framework needs (found without importing them).
    packages: tuple[str, ...]
    # pip extras of graphbench that install it: CPU build, CUDA build.
    extra: str
    cuda_extra: str
    # Environment for each of its workers (e.g. keep TensorFlow's INFO chatter out of the
    # output tail that explains a failure).
    worker_env: dict[str, str] = field(default_factory=dict)
    # Where it keeps compiled artefacts between processes. The runner points them at a
    # directory of the cell's own: the first worker starts with it empty (cold), a second
    # worker of the same cell finds what the first left (warm). ``{cache_dir}`` is filled in.
    cache_env: dict[str, str] = field(default_factory=dict)
    profiler: str = ""  # what ``--trace`` records with (Backend.trace)


FRAMEWORKS: dict[str, FrameworkInfo] = {
    info.name: info
    for info in (
        FrameworkInfo(
            "torch",
            ("torch",),
            extra="torch",
            cuda_extra="torch-cuda",
            cache_env={
                "TORCHINDUCTOR_CACHE_DIR": "{cache_dir}/inductor",
                "TRITON_CACHE_DIR": "{cache_dir}/triton",
            },
            profiler="torch.profiler",
        ),
        FrameworkInfo(
            "jax",
            ("jax", "jaxlib", "optax"),
            extra="jax",
            cuda_extra="jax-cuda",
            # Use on demand, not 75% of the GPU reserved at start: the allocator's counters
            # then measure use, not reservation (see the README's GPU memory section).
            worker_env={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"},
            cache_env={
                "JAX_COMPILATION_CACHE_DIR": "{cache_dir}/jax",
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
            },
            profiler="jax.profiler.trace",
        ),
        FrameworkInfo(
            "tf",
            ("tensorflow",),
            extra="tf",
            cuda_extra="tf-cuda",
            # TF_FORCE_GPU_ALLOW_GROWTH: grow GPU memory on demand rather than take it all.
            worker_env={"TF_CPP_MIN_LOG_LEVEL": "1", "TF_FORCE_GPU_ALLOW_GROWTH": "true"},
            cache_env={"TF_XLA_FLAGS": "--tf_xla_persistent_cache_directory={cache_dir}/xla"},
            profiler="tf.profiler.experimental",
        ),
    )
}


@dataclass(frozen=True)
class BackendInfo:
    name: str
    framework: str
    target: str  # "module:Class"
    summary: str  # what runs, for the README's table and `python -m bench list`
    devices: tuple[str, ...] = ("cpu", "cuda")
    # False for the framework's eager baseline; True where a graph is traced/compiled
    # once and replayed (the first call pays for it).
    static: bool = True
    # What a second process reuses of the first one's compilation (a warm start), or None
    # where nothing persists between processes (a warm start would repeat the cold one).
    persistent_cache: str | None = None
    # The backend's own dynamic-shape mode (the ``dynamic`` strategy), or None if it has none.
    dynamic: str | None = None
    # Compiling a model takes tens of seconds on a small CPU: tests of it are marked slow.
    slow_to_build: bool = False
    # The profile's per-cell timeout times this: max-autotune benchmarks kernel candidates
    # while it compiles (a cold ResNet-50 training step: tens of minutes on a GPU).
    timeout_factor: float = 1.0

    def dynamic_not_applicable(self) -> str | None:
        """Why the ``dynamic`` strategy does not apply to this backend, or None if it does."""
        if self.dynamic:
            return None
        if not self.static:
            return "eager execution builds no graph, so nothing is made dynamic"
        return f"{self.name} has no dynamic-shape mode (one trace per shape)"


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
        BackendInfo(
            "torch-eager",
            "torch",
            _T + "TorchEager",
            "the module and step as written",
            static=False,
        ),
        BackendInfo(
            "torch-compile",
            "torch",
            _T + "TorchCompile",
            "`torch.compile(step)`, Inductor, default mode",
            persistent_cache=_INDUCTOR,
            dynamic=_DYNAMO,
            slow_to_build=True,
        ),
        BackendInfo(
            "torch-compile-max-autotune",
            "torch",
            _T + "TorchCompileMaxAutotune",
            '`torch.compile(step, mode="max-autotune")`',
            persistent_cache=_INDUCTOR,
            dynamic=_DYNAMO,
            slow_to_build=True,
            timeout_factor=2.0,
        ),
        BackendInfo(
            "torch-compile-reduce-overhead",
            "torch",
            _T + "TorchCompileReduceOverhead",
            '`torch.compile(step, mode="reduce-overhead")`: CUDA graphs',
            devices=("cuda",),
            persistent_cache=_INDUCTOR,
            dynamic=_DYNAMO,
            slow_to_build=True,
        ),
        BackendInfo(
            "torchscript",
            "torch",
            _T + "TorchScript",
            "`torch.jit.script(module)`; loss, backward and Adam stay eager",
            dynamic="torch.jit.set_fusion_strategy([('DYNAMIC', 20)]): shape-generic fusion "
            "from the first call (the default specialises on two shapes first)",
        ),
        BackendInfo(
            "jax-eager",
            "jax",
            _J + "JaxEager",
            "the step under `jax.disable_jit()`: one dispatch per op",
            static=False,
        ),
        BackendInfo(
            "jax-jit",
            "jax",
            _J + "JaxJit",
            "`jax.jit(step)`, params and optimizer state donated",
            persistent_cache="JAX persistent compilation cache (JAX_COMPILATION_CACHE_DIR)",
        ),
        BackendInfo("tf-eager", "tf", _F + "TfEager", "the step as written", static=False),
        BackendInfo(
            "tf-graph",
            "tf",
            _F + "TfGraph",
            "`tf.function(step)`",
            dynamic="tf.function(reduce_retracing=True): retraces once with unknown dimensions",
        ),
        BackendInfo(
            "tf-xla",
            "tf",
            _F + "TfXla",
            "`tf.function(step, jit_compile=True)`",
            persistent_cache="XLA persistent cache (--tf_xla_persistent_cache_directory); "
            "tracing is redone",
            dynamic="tf.function(jit_compile=True, reduce_retracing=True): one trace with "
            "unknown dimensions; XLA still compiles each concrete shape",
        ),
    )
}


def register(info: BackendInfo) -> None:
    """Add a backend to the registry (a plugin or a test; the built-in ones are above)."""
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


def eager_baseline(framework_name: str) -> str:
    """The eager backend of a framework: what its static backends are compared against."""
    return next(i.name for i in BACKENDS.values() if i.framework == framework_name and not i.static)


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


def load(name: str) -> type[Backend]:
    """Import a backend's class (and with it, its framework). Worker side only."""
    module_name, class_name = get(name).target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
