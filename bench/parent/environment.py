"""What a run records about where it ran: hardware, versions, settings, environment.

Runs in the parent process, so nothing here imports a framework: versions come from
package metadata and GPUs from NVML.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from bench import backends, nvml
from bench.matrix.profiles import available_cores
from bench.results.run_meta import Environment

REPO = Path(__file__).resolve().parents[1]

# The packages whose versions decide the numbers (each framework's: its registry entry); the
# full list is recorded too.
KEY_PACKAGES = (
    "graphbench",
    "numpy",
    *(name for info in backends.FRAMEWORKS.values() for name in info.key_distributions),
    "nvidia-ml-py",
)

# Environment variables recorded in run.json: names that change what a framework does
# (threads, XLA/Inductor/Triton flags, CUDA device selection, allocators, numerics),
# listed one by one: never a whole prefix, which would sweep in tokens and passwords.
ENV_ALLOWLIST = frozenset(
    {
        # thread pools and BLAS
        "OMP_NUM_THREADS",
        "OMP_PROC_BIND",
        "OMP_PLACES",
        "OMP_WAIT_POLICY",
        "OMP_DYNAMIC",
        "GOMP_SPINCOUNT",
        "KMP_AFFINITY",
        "KMP_BLOCKTIME",
        "KMP_HW_SUBSET",
        "MKL_NUM_THREADS",
        "MKL_DYNAMIC",
        "MKL_ENABLE_INSTRUCTIONS",
        "OPENBLAS_NUM_THREADS",
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        # glibc malloc (workers get fixed thresholds unless these are set: bench.parent.runner)
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_ARENA_MAX",
        "MALLOC_TOP_PAD_",
        "GLIBC_TUNABLES",
        # XLA and JAX
        "XLA_FLAGS",
        "XLA_PYTHON_CLIENT_PREALLOCATE",
        "XLA_PYTHON_CLIENT_MEM_FRACTION",
        "XLA_PYTHON_CLIENT_ALLOCATOR",
        "JAX_PLATFORMS",
        "JAX_ENABLE_X64",
        "JAX_DEFAULT_MATMUL_PRECISION",
        "JAX_COMPILATION_CACHE_DIR",
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES",
        "JAX_ENABLE_COMPILATION_CACHE",
        # TensorFlow
        "TF_XLA_FLAGS",
        "TF_CPP_MIN_LOG_LEVEL",
        "TF_ENABLE_ONEDNN_OPTS",
        "TF_FORCE_GPU_ALLOW_GROWTH",
        "TF_GPU_ALLOCATOR",
        "TF_GPU_THREAD_MODE",
        "TF_CUDNN_DETERMINISTIC",
        "TF_DETERMINISTIC_OPS",
        "TF_NUM_INTEROP_THREADS",
        "TF_NUM_INTRAOP_THREADS",
        "TF_ENABLE_AUTO_MIXED_PRECISION",
        # PyTorch, Inductor, Triton
        "TORCHINDUCTOR_CACHE_DIR",
        "TORCHINDUCTOR_FX_GRAPH_CACHE",
        "TORCHINDUCTOR_AUTOGRAD_CACHE",
        "TORCHINDUCTOR_MAX_AUTOTUNE",
        "TORCHINDUCTOR_COMPILE_THREADS",
        "TORCHINDUCTOR_FREEZING",
        "TORCHDYNAMO_DISABLE",
        "TORCH_COMPILE_DISABLE",
        "TORCH_CUDNN_V8_API_ENABLED",
        "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
        "TORCH_BLAS_PREFER_CUBLASLT",
        "PYTORCH_CUDA_ALLOC_CONF",
        "PYTORCH_NO_CUDA_MEMORY_CACHING",
        "TRITON_CACHE_DIR",
        # CUDA device selection and numerics
        "CUDA_VISIBLE_DEVICES",
        "CUDA_DEVICE_ORDER",
        "CUDA_LAUNCH_BLOCKING",
        "CUDA_MODULE_LOADING",
        "CUBLAS_WORKSPACE_CONFIG",
        "NVIDIA_TF32_OVERRIDE",
        "NVIDIA_VISIBLE_DEVICES",
        # Python
        "PYTHONHASHSEED",
    }
)
# A name that looks like a credential is never recorded with its value, even if listed.
CREDENTIAL_MARKERS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
CREDENTIAL_PREFIXES = ("TF_VAR_", "TF_TOKEN_")
REDACTED = "<redacted>"


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return upper.startswith(CREDENTIAL_PREFIXES) or any(m in upper for m in CREDENTIAL_MARKERS)


def recorded_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The allowlisted variables that are set, values of credential-like names redacted."""
    env = os.environ if environ is None else environ
    return {
        name: REDACTED if looks_secret(name) else value
        for name, value in sorted(env.items())
        if name in ENV_ALLOWLIST
    }


def package_versions() -> dict[str, str]:
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions[name.lower()] = dist.version
    return dict(sorted(versions.items()))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def git_state() -> dict[str, object]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def cuda_hidden_by_env() -> bool:
    return os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1")


def gpus() -> tuple[list[dict] | None, str | None]:
    """(GPUs NVML sees, None) or (None, why none are visible)."""
    if cuda_hidden_by_env():
        return None, "CUDA_VISIBLE_DEVICES hides every GPU"
    try:
        import pynvml  # nvidia-ml-py: a thin ctypes binding, no framework
    except ImportError:
        return None, "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return None, f"no NVIDIA driver ({exc})"
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        cuda = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        found = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            found.append(
                {
                    "index": i,
                    "name": pynvml.nvmlDeviceGetName(handle),
                    "memory_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                    "driver": driver,
                    "cuda_driver_version": f"{cuda // 1000}.{cuda % 1000 // 10}",
                    # Modes, PCIe link, compute capability, SM count (None: not said).
                    **nvml.machine_facts(pynvml, handle),
                }
            )
    finally:
        pynvml.nvmlShutdown()
    if not found:
        return None, "NVML sees no GPU"
    return found, None


def device_memory_bytes(device: str) -> int | None:
    """How much memory a device has: the RAM on the CPU, the first GPU's on CUDA."""
    if device == "cpu":
        return ram_bytes()
    found, _ = gpus()
    return int(found[0]["memory_bytes"]) if found else None


def cuda_unavailable_reason() -> str | None:
    found, reason = gpus()
    return None if found else reason


def collect(threads: int | None = None) -> Environment:
    """run.json's ``environment``: the machine the runner runs on, now."""
    found, why_none = gpus()
    versions = package_versions()
    return Environment(
        host=socket.gethostname(),  # where the runner ran (each cell records its own)
        python=sys.version.split()[0],
        python_executable=sys.executable,
        platform=platform.platform(),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        cpu_schedulable=available_cores(),
        ram_bytes=ram_bytes(),
        gpus=found,
        gpus_unavailable_reason=why_none,
        git=git_state(),
        threads=threads if threads is not None else available_cores(),
        key_packages={name: versions[name] for name in KEY_PACKAGES if name in versions},
        packages=versions,
        environment_variables=recorded_environment(),
    )
