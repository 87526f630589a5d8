"""The registries of frameworks and backends as plain data: one entry per extension fact.

Standard library only, and importing nothing of graphbench: noxfile.py loads this file by
its path (before anything is installed, under a Python that has only nox) to learn what to
install for each framework and which framework each backend belongs to;
constraints/lock_gpu.py reads it for what each CUDA lock holds. Everything else reads it
through ``bench.backends``. A new framework is one ``FrameworkInfo`` entry; a new backend
one ``BackendInfo`` entry (and its class).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FrameworkInfo:
    """What graphbench needs to know about a framework before importing it."""

    name: str
    title: str  # its own name for itself, in prose and in the CUDA lock's header
    # Importable top-level packages the framework needs (found without importing them).
    packages: tuple[str, ...]
    # pip extras of graphbench that install it: the CPU build (nox's CPU sessions), the
    # CUDA build (its GPU environment, installed from ``cuda_lock`` alone).
    extra: str
    cuda_extra: str
    # The complete pip resolution of ``cuda_extra`` (constraints/lock_gpu.py writes it).
    cuda_lock: str
    # The CUDA lock's distributions that must be at the CPU lock's release, and the CPU
    # lock's distribution each one follows.
    cuda_releases: dict[str, str]
    # The framework's eager backend: what its static backends are compared against, and the
    # class whose version, CUDA build and device bench/probe.py asks for (the probe).
    baseline: str
    # The functions a model's ``models/<model>/<name>.py`` defines (models/contract.py).
    model_functions: tuple[str, ...]
    # Distributions whose versions decide its numbers: run.json's key_packages.
    key_distributions: tuple[str, ...]
    # Seconds to start one of its workers and import it, before anything is measured (the
    # cost prior of bench/cost.py; round figures from this project's own runs).
    start_s: float
    # Seconds its eager baseline takes to build the quick MLP, where its eager execution
    # compiles (None: as any eager backend, bench/cost.py's BUILD_S["eager"]).
    eager_build_s: float | None = None
    # Environment for each of its workers (e.g. keep TensorFlow's INFO chatter out of the
    # output tail that explains a failure).
    worker_env: dict[str, str] = field(default_factory=dict)
    # Where it keeps compiled artefacts between processes. The runner points them at a
    # directory of the cell's own: the first worker starts with it empty (cold), a second
    # worker of the same cell finds what the first left (warm). ``{cache_dir}`` is filled in.
    # Every CUDA framework's holds DRIVER_CACHE_ENV, which every cell gets, eager ones too.
    cache_env: dict[str, str] = field(default_factory=dict)
    profiler: str = ""  # what ``--trace`` records with (Backend.trace)


# The CUDA driver's JIT cache of PTX compiled for this GPU (~/.nv/ComputeCache by default),
# which every CUDA process shares: per cell, so one cell's cold start is not warm because
# another cell compiled the same kernels before it.
DRIVER_CACHE_ENV = {"CUDA_CACHE_PATH": "{cache_dir}/cuda-jit"}

FRAMEWORKS: dict[str, FrameworkInfo] = {
    info.name: info
    for info in (
        FrameworkInfo(
            "torch",
            "PyTorch",
            ("torch",),
            extra="torch",
            cuda_extra="torch-cuda",
            cuda_lock="constraints/gpu-torch.txt",
            cuda_releases={"torch": "torch"},
            baseline="torch-eager",
            model_functions=("build", "export"),
            key_distributions=("torch", "triton"),
            start_s=2.0,
            cache_env={
                "TORCHINDUCTOR_CACHE_DIR": "{cache_dir}/inductor",
                "TRITON_CACHE_DIR": "{cache_dir}/triton",
                **DRIVER_CACHE_ENV,
            },
            profiler="torch.profiler",
        ),
        FrameworkInfo(
            "jax",
            "JAX",
            ("jax", "jaxlib", "optax"),
            extra="jax",
            cuda_extra="jax-cuda",
            cuda_lock="constraints/gpu-jax.txt",
            cuda_releases={
                "jax": "jax",
                "jaxlib": "jaxlib",
                # The CUDA plugin is released in lockstep with jaxlib.
                "jax-cuda13-plugin": "jaxlib",
                "jax-cuda13-pjrt": "jaxlib",
            },
            baseline="jax-eager",
            model_functions=("build", "apply", "export"),
            key_distributions=("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin", "optax"),
            start_s=2.0,
            # Eager JAX compiles each primitive the first time it meets it (one small XLA
            # program per op and shape), so its first steps cost like a trace.
            eager_build_s=5.0,
            # Use on demand, not 75% of the GPU reserved at start: the allocator's counters
            # then measure use, not reservation (docs/gpu.md, memory).
            worker_env={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"},
            cache_env={
                "JAX_COMPILATION_CACHE_DIR": "{cache_dir}/jax",
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
                **DRIVER_CACHE_ENV,
            },
            profiler="jax.profiler.trace",
        ),
        FrameworkInfo(
            "tf",
            "TensorFlow",
            ("tensorflow",),
            extra="tf",
            cuda_extra="tf-cuda",
            cuda_lock="constraints/gpu-tf.txt",
            # The CPU wheel (tensorflow-cpu) and the CUDA build (tensorflow) share releases.
            cuda_releases={"tensorflow": "tensorflow-cpu"},
            baseline="tf-eager",
            model_functions=("build", "export"),
            key_distributions=("tensorflow", "tensorflow-cpu", "keras"),
            start_s=4.0,
            # TF_FORCE_GPU_ALLOW_GROWTH: grow GPU memory on demand rather than take it all.
            worker_env={"TF_CPP_MIN_LOG_LEVEL": "1", "TF_FORCE_GPU_ALLOW_GROWTH": "true"},
            cache_env={
                "TF_XLA_FLAGS": "--tf_xla_persistent_cache_directory={cache_dir}/xla",
                **DRIVER_CACHE_ENV,
            },
            profiler="tf.profiler.experimental",
        ),
    )
}


@dataclass(frozen=True)
class BackendInfo:
    name: str
    framework: str
    target: str  # "module:Class"
    summary: str  # what runs, for docs/backends-and-models.md's table and `python -m bench list`
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
    # A Keras 3 backend: the KERAS_BACKEND its workers set before Keras is imported
    # (``jax``, ``tensorflow``, ``torch``). It runs Keras models only (a user's model of
    # framework ``keras``), on Keras's own step; None: a backend of the framework itself.
    keras_backend: str | None = None
    # An ahead-of-time backend: what its artefact holds (docs/aot.md). Its cells build the
    # artefact in a worker of their own, then fresh workers load it (bench.parent.cell_task).
    artifact: str | None = None
    # Why a training step does not apply (recorded not-applicable, never run); None: it does.
    train_not_applicable: str | None = None
    # The precision policies its runtime implements (None: every one), and why not others.
    precisions: tuple[str, ...] | None = None
    precision_not_applicable: str = ""
    # Importable packages it needs beyond its framework's, and the extra that installs them.
    packages: tuple[str, ...] = ()
    extra: str | None = None

    def not_applicable(self, mode: str, precision: str) -> str | None:
        """Why a cell of this backend means nothing in ``mode`` at ``precision``, or None."""
        if mode == "train" and self.train_not_applicable:
            return self.train_not_applicable
        if self.precisions is not None and precision not in self.precisions:
            return f"{precision}: {self.precision_not_applicable}"
        return None

    def env(self) -> dict[str, str]:
        """What this backend's workers (and its reference process) set in their environment."""
        return {} if self.keras_backend is None else {"KERAS_BACKEND": self.keras_backend}

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
_K = "bench.backends.keras_backends:"
_A = "bench.backends.torch_aot:"
_EXPORTED_INFER = (
    "the artefact is an exported inference graph: a training step (loss, backward, "
    "optimizer) stays in the framework, which torch-eager, jax-jit and tf-graph measure"
)
_AOT_PRECISIONS = ("float32", "bf16")
_CASTS_ONLY = (
    "the artefact is exported from the model as stored (float32, or bf16 weights); an "
    "autocast or TF32 policy is a setting of the running framework, not of the artefact"
)
_EAGERLY = "`model.compile(run_eagerly=True)`: Keras's step, op by op"
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
        # Keras 3: one model definition, its own train_on_batch/predict_on_batch step, on
        # each of the three frameworks (bench/backends/keras_backends.py).
        BackendInfo(
            "keras-jax",
            "jax",
            _K + "KerasJax",
            "Keras 3 on JAX: `model.compile(jit_compile=True)`, Keras's `jax.jit` step",
            keras_backend="jax",
        ),
        BackendInfo(
            "keras-jax-eager",
            "jax",
            _K + "KerasJaxEager",
            "Keras 3 on JAX, " + _EAGERLY,
            static=False,
            keras_backend="jax",
        ),
        BackendInfo(
            "keras-tf",
            "tf",
            _K + "KerasTf",
            "Keras 3 on TensorFlow: `model.compile(jit_compile=False)`, a `tf.function` step",
            keras_backend="tensorflow",
        ),
        BackendInfo(
            "keras-tf-eager",
            "tf",
            _K + "KerasTfEager",
            "Keras 3 on TensorFlow, " + _EAGERLY,
            static=False,
            keras_backend="tensorflow",
        ),
        BackendInfo(
            "keras-tf-xla",
            "tf",
            _K + "KerasTfXla",
            "Keras 3 on TensorFlow: `model.compile(jit_compile=True)`, XLA",
            keras_backend="tensorflow",
        ),
        BackendInfo(
            "keras-torch",
            "torch",
            _K + "KerasTorch",
            "Keras 3 on PyTorch: `model.compile(jit_compile=False)`, eager (as run_eagerly)",
            static=False,
            keras_backend="torch",
        ),
        BackendInfo(
            "keras-torch-compile",
            "torch",
            _K + "KerasTorchCompile",
            "Keras 3 on PyTorch: `model.compile(jit_compile=True)`, Keras's torch.compile",
            slow_to_build=True,
            keras_backend="torch",
        ),
        # Ahead of time: an artefact built once in a worker of its own, loaded by fresh
        # workers (bench/backends/torch_aot.py, onnx_backend.py, jax_export.py,
        # tf_saved_model.py; docs/aot.md).
        BackendInfo(
            "torch-export",
            "torch",
            _A + "TorchExport",
            "`torch.export.export` program, saved (`torch.export.save`), loaded and run "
            "as a module",
            artifact="`program.pt2`: the ExportedProgram (ATen graph, weights, batch "
            "dimension symbolic)",
            train_not_applicable=_EXPORTED_INFER,
            precisions=_AOT_PRECISIONS,
            precision_not_applicable=_CASTS_ONLY,
        ),
        BackendInfo(
            "torch-aoti",
            "torch",
            _A + "TorchAoti",
            "AOTInductor: `torch._inductor.aoti_compile_and_package` of the exported "
            "program, loaded with `aoti_load_package`",
            artifact="`model.pt2`: the AOTInductor package (compiled shared library, "
            "weights, C++ wrapper)",
            slow_to_build=True,
            train_not_applicable=_EXPORTED_INFER,
            precisions=_AOT_PRECISIONS,
            precision_not_applicable=_CASTS_ONLY,
        ),
        BackendInfo(
            "onnxruntime",
            "torch",
            "bench.backends.onnx_backend:OnnxRuntime",
            "`torch.onnx.export(dynamo=True)` of the torch model, run by ONNX Runtime "
            "(CPU provider; CUDA provider on GPU)",
            artifact="`model.onnx`: the ONNX graph with its weights as initializers",
            train_not_applicable=_EXPORTED_INFER,
            precisions=("float32",),
            precision_not_applicable="ONNX Runtime's CPU provider has no bfloat16 Gemm/MatMul "
            "kernels, and autocast or TF32 is a setting of torch, not of the ONNX graph",
            packages=("onnxruntime", "onnx", "onnxscript"),
            extra="onnx",
        ),
        BackendInfo(
            "jax-export",
            "jax",
            "bench.backends.jax_export:JaxExport",
            "`jax.export` of the jitted step, serialized, deserialized and called",
            artifact="`exported.bin`: serialized StableHLO (batch dimension symbolic); "
            "`params.npz`: the weights it is called with",
            train_not_applicable=_EXPORTED_INFER,
            precisions=_AOT_PRECISIONS,
            precision_not_applicable=_CASTS_ONLY,
        ),
        BackendInfo(
            "tf-saved-model",
            "tf",
            "bench.backends.tf_saved_model:TfSavedModel",
            "`tf.saved_model.save` of the model, loaded with `tf.saved_model.load`, its "
            "`serving_default` signature called",
            artifact="a SavedModel directory: `saved_model.pb` (the graph and signature), "
            "`variables/` (the weights)",
            train_not_applicable=_EXPORTED_INFER,
            precisions=_AOT_PRECISIONS,
            precision_not_applicable=_CASTS_ONLY,
        ),
    )
}
