"""The environment of every process that measures: worker, reference, probe, peak.

The same thread budget for every framework's native pools, the same malloc policy, the
framework's own settings, and this checkout importable under any interpreter (--python).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bench import backends
from bench.matrix.cells import Cell
from bench.matrix.profiles import Settings

REPO = Path(__file__).resolve().parents[2]


def importable(pythonpath: str | None) -> str:
    """A PYTHONPATH under which any interpreter imports this checkout's bench/ and models/."""
    return os.pathsep.join(filter(None, [str(REPO), pythonpath]))


# glibc's malloc adapts its mmap threshold to the blocks a process has freed so far, so two
# fresh processes of one cell can differ: one maps and unmaps (and page-faults) a layer's
# activations on every step, the other reuses heap memory. Measured on 2 cores, cnn infer in
# torch-eager over fresh processes: 5.8 to 7.6 ms with glibc's defaults, 3.3 to 3.5 ms with
# these two fixed (either one alone: 7-10 ms). Fixed thresholds keep blocks up to 32 MiB
# (glibc's largest mmap threshold on 64-bit) on the heap and never trim it, the way the
# jemalloc/tcmalloc that PyTorch's CPU tuning guide recommends behave. Every framework's
# workers get the same; a user's own values win. No effect outside glibc.
STABLE_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}


def framework_env(
    framework: str, device: str, threads: int, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of any process that measures in ``framework`` (cell workers and the
    peak probe): the same thread budget for every framework's native pools, the same malloc
    policy, the framework's own settings, and graphbench importable."""
    env = dict(os.environ if base is None else base)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    if not any(name in env for name in STABLE_MALLOC):
        env.update(STABLE_MALLOC)
    env.update(backends.framework(framework).worker_env)
    if device == "cuda":
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # CUDA's GPU numbering is then NVML's
    # The process may run under another interpreter (--python): it finds bench/ here.
    env["PYTHONPATH"] = importable(env.get("PYTHONPATH"))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def set_for_workers(cells: Sequence[Cell], threads: int) -> dict[str, dict[str, str]]:
    """Per framework (and device), the variables framework_env sets or changes on top of this
    process's environment, for run.json: what a reader needs to reproduce a worker."""
    out: dict[str, dict[str, str]] = {}
    for framework, device in dict.fromkeys((c.framework, c.device) for c in cells):
        env = framework_env(framework, device, threads)
        changed = {k: v for k, v in sorted(env.items()) if os.environ.get(k) != v}
        changed.pop("PYTHONPATH", None)  # this checkout, recorded as cwd
        out[f"{framework}/{device}"] = changed
    return out


def worker_env(cell: Cell, settings: Settings, base: dict[str, str] | None = None) -> dict:
    """The environment of a cell's workers (framework_env for its framework and device, and
    the backend's own variables: a Keras backend's KERAS_BACKEND, set before any import)."""
    env = framework_env(cell.framework, cell.device, settings.threads, base)
    env.update(backends.get(cell.backend).env())
    return env
