"""What a run records about where it ran: hardware, versions, settings, environment.

Runs in the parent process, so nothing here imports a framework: versions come from
package metadata and GPUs from NVML.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from bench.profiles import available_cores

REPO = Path(__file__).resolve().parents[1]

# The packages whose versions decide the numbers; the full list is recorded too.
KEY_PACKAGES = (
    "graphbench",
    "numpy",
    "torch",
    "triton",
    "jax",
    "jaxlib",
    "jax-cuda12-plugin",
    "jax-cuda13-plugin",
    "optax",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "nvidia-ml-py",
)

ENV_PREFIXES = (
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "KMP_",
    "XLA_",
    "TF_",
    "JAX_",
    "TORCH",
    "CUDA_",
    "CUBLAS_",
    "CUDNN_",
    "NVIDIA_",
    "TRITON_",
    "PYTORCH_",
    "PYTHONHASHSEED",
)


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
                }
            )
    finally:
        pynvml.nvmlShutdown()
    if not found:
        return None, "NVML sees no GPU"
    return found, None


def cuda_unavailable_reason() -> str | None:
    found, reason = gpus()
    return None if found else reason


def collect(threads: int | None = None) -> dict[str, object]:
    found, why_none = gpus()
    versions = package_versions()
    return {
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_schedulable": available_cores(),
        "ram_bytes": ram_bytes(),
        "gpus": found,
        "gpus_unavailable_reason": why_none,
        "git": git_state(),
        "threads": threads if threads is not None else available_cores(),
        "key_packages": {name: versions[name] for name in KEY_PACKAGES if name in versions},
        "packages": versions,
        "environment_variables": {
            k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)
        },
    }
