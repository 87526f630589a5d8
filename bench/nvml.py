"""NVIDIA GPUs through NVML: which GPU a worker runs on, its state, and the worker's own peak
GPU memory as the driver sees it.

No framework is imported: this reads the driver (nvidia-ml-py), the same for every
framework, so a number from here can be compared across PyTorch, JAX and TensorFlow,
unlike each framework allocator's own counter. Every function returns None (or an empty
result) where there is no NVIDIA driver.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any

PROCESS_MEMORY_COUNTER = (
    "NVML used GPU memory of the worker process (nvmlDeviceGetComputeRunningProcesses), "
    "sampled every 10 ms"
)
# In a container NVML reports the host's process ids, which the worker cannot see: then the
# GPU's used memory above its value when the worker started is the worker's (the runner
# never runs two cells on one GPU).
DEVICE_MEMORY_COUNTER = (
    "NVML used memory of the GPU minus its value at worker start (nvmlDeviceGetMemoryInfo), "
    "sampled every 10 ms; the worker's own process id is not visible to NVML here"
)
SAMPLE_EVERY_S = 0.01


def _nvml() -> Any | None:
    """pynvml, initialised; None without a driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no library, no driver: NVML raises its own error types
        return None
    return pynvml


def visible_gpu() -> str:
    """The physical GPU a CUDA process uses first: the first entry of CUDA_VISIBLE_DEVICES (an
    index or a UUID), else GPU 0. (Workers run with CUDA_DEVICE_ORDER=PCI_BUS_ID, NVML's
    order, so an index means the same GPU to both.)"""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return visible or "0"


def indices() -> list[str]:
    """The GPUs this process may use, as NVML (PCI bus order) indices: every GPU the driver
    lists, or those named by CUDA_VISIBLE_DEVICES where it is set. Empty without a driver."""
    nvml = _nvml()
    if nvml is None:
        return []
    try:
        every = [str(i) for i in range(nvml.nvmlDeviceGetCount())]
    except Exception:  # NVML's own error types
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return every
    return [v.strip() for v in visible.split(",") if v.strip() in every]


def _handle(nvml: Any, which: str) -> Any:
    if which.startswith(("GPU-", "MIG-")):
        return nvml.nvmlDeviceGetHandleByUUID(which)
    return nvml.nvmlDeviceGetHandleByIndex(int(which))


def _throttle_names(nvml: Any, mask: int) -> list[str]:
    """The clock-limiting reasons set in an NVML bit mask, by name (GpuIdle left out: an idle
    GPU between steps is not a throttled one)."""
    names = []
    for attr in dir(nvml):
        if attr.startswith("nvmlClocksThrottleReason") and attr not in (
            "nvmlClocksThrottleReasonAll",
            "nvmlClocksThrottleReasonNone",
            "nvmlClocksThrottleReasonGpuIdle",
        ):
            bit = getattr(nvml, attr)
            if isinstance(bit, int) and mask & bit:
                names.append(attr.removeprefix("nvmlClocksThrottleReason"))
    return sorted(set(names))


def _call(fn: Any, *args: Any) -> Any:
    """An NVML query, or None where this GPU or driver does not support it."""
    try:
        return fn(*args)
    except Exception:
        return None


@dataclass
class GpuState:
    index: int | None
    uuid: str | None
    name: str | None
    memory_bytes: int | None
    sm_clock_mhz: int | None
    memory_clock_mhz: int | None
    power_limit_w: float | None
    temperature_c: int | None
    throttle_reasons: list[str] = field(default_factory=list)


def state(which: str | None = None) -> GpuState | None:
    """The state of a GPU now (default: the one this process uses); None without a driver."""
    nvml = _nvml()
    if nvml is None:
        return None
    try:
        h = _handle(nvml, which or visible_gpu())
        memory = _call(nvml.nvmlDeviceGetMemoryInfo, h)
        power = _call(nvml.nvmlDeviceGetPowerManagementLimit, h)
        mask = _call(nvml.nvmlDeviceGetCurrentClocksThrottleReasons, h)
        return GpuState(
            index=_call(nvml.nvmlDeviceGetIndex, h),
            uuid=_call(nvml.nvmlDeviceGetUUID, h),
            name=_call(nvml.nvmlDeviceGetName, h),
            memory_bytes=int(memory.total) if memory is not None else None,
            sm_clock_mhz=_call(nvml.nvmlDeviceGetClockInfo, h, nvml.NVML_CLOCK_SM),
            memory_clock_mhz=_call(nvml.nvmlDeviceGetClockInfo, h, nvml.NVML_CLOCK_MEM),
            power_limit_w=power / 1000 if power is not None else None,
            temperature_c=_call(nvml.nvmlDeviceGetTemperature, h, nvml.NVML_TEMPERATURE_GPU),
            throttle_reasons=_throttle_names(nvml, mask or 0),
        )
    except Exception:  # the GPU named in CUDA_VISIBLE_DEVICES is not there, say
        return None
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


class ProcessSampler:
    """Samples, in a thread, this process's GPU memory as the driver sees it (its peak) and the
    clock-limiting reasons seen while it ran. Cheap: one NVML query every 10 ms."""

    def __init__(self, which: str | None = None, every_s: float = SAMPLE_EVERY_S):
        self.process_peak_bytes: int | None = None
        self.device_start_bytes: int | None = None
        self.device_peak_bytes: int | None = None
        self.throttle_reasons: set[str] = set()
        self.seen_pids: set[int] = set()  # every process NVML showed on the GPU meanwhile
        self._nvml = _nvml()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._every_s = every_s
        if self._nvml is not None:
            try:
                self._handle = _handle(self._nvml, which or visible_gpu())
            except Exception:
                self._nvml = None

    def __enter__(self) -> ProcessSampler:
        if self._nvml is not None:
            self.sample()  # the GPU's memory before this worker allocates any
            self._thread = threading.Thread(target=self._run, name="nvml-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.sample()  # the last word, after the thread stopped

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            self.sample()

    def sample(self) -> None:
        nvml = self._nvml
        if nvml is None:
            return
        pid = os.getpid()
        processes = _call(nvml.nvmlDeviceGetComputeRunningProcesses, self._handle) or []
        for p in processes:
            self.seen_pids.add(p.pid)
            used = getattr(p, "usedGpuMemory", None)
            if p.pid == pid and isinstance(used, int):
                self.process_peak_bytes = max(self.process_peak_bytes or 0, used)
        memory = _call(nvml.nvmlDeviceGetMemoryInfo, self._handle)
        if memory is not None:
            if self.device_start_bytes is None:
                self.device_start_bytes = int(memory.used)
            self.device_peak_bytes = max(self.device_peak_bytes or 0, int(memory.used))
        mask = _call(nvml.nvmlDeviceGetCurrentClocksThrottleReasons, self._handle)
        self.throttle_reasons.update(_throttle_names(nvml, mask or 0))

    def other_processes(self) -> int | None:
        """How many other processes used the GPU while this worker ran (None without NVML).
        In a container NVML shows the host's process ids: one of them is this worker."""
        if self._nvml is None:
            return None
        pid = os.getpid()
        if pid in self.seen_pids or not self.seen_pids:
            return len(self.seen_pids - {pid})
        return len(self.seen_pids) - 1

    def peak(self) -> tuple[int | None, str | None]:
        """(the worker's peak GPU memory as the driver saw it, the counter it comes from)."""
        if self.process_peak_bytes is not None:
            return self.process_peak_bytes, PROCESS_MEMORY_COUNTER
        if self.device_peak_bytes is not None and self.device_start_bytes is not None:
            return self.device_peak_bytes - self.device_start_bytes, DEVICE_MEMORY_COUNTER
        return None, None
