"""NVIDIA GPUs through NVML: which GPU a worker runs on, its state, the machine facts run.json
keeps (modes, PCIe link, compute capability), the worker's own peak GPU memory as the
driver sees it, and the GPU's clocks, power, utilisation and energy while the samples ran.

No framework is imported: this reads the driver (nvidia-ml-py), the same for every
framework, so a number from here can be compared across PyTorch, JAX and TensorFlow,
unlike each framework allocator's own counter. Every function returns None (or an empty
result) where there is no NVIDIA driver.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# One sample of a handful of NVML queries every 100 ms: NVML's own utilisation counters
# average over 1/6 s to 1 s, and a sampler that woke every 10 ms cost the timed steps GIL time.
SAMPLE_EVERY_S = 0.1
PROCESS_MEMORY_COUNTER = (
    "NVML used GPU memory of the worker process (nvmlDeviceGetComputeRunningProcesses), "
    f"sampled every {SAMPLE_EVERY_S * 1e3:g} ms"
)
# In a container NVML reports the host's process ids, which the worker cannot see: then the
# GPU's used memory above its value when the worker started is the worker's (the runner
# never runs two cells on one GPU).
DEVICE_MEMORY_COUNTER = (
    "NVML used memory of the GPU minus its value at worker start (nvmlDeviceGetMemoryInfo), "
    f"sampled every {SAMPLE_EVERY_S * 1e3:g} ms; the worker's own process id is not visible "
    "to NVML here"
)
COMPUTE_MODES = {0: "default", 1: "exclusive-thread", 2: "prohibited", 3: "exclusive-process"}
# The CUDA driver API's CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT (cuda.h).
CU_MULTIPROCESSOR_COUNT = 16


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


THROTTLE_PREFIX = "nvmlClocksThrottleReason"
# Not reasons: the masks of none and of all, and GpuIdle (an idle GPU between steps is not a
# throttled one).
NOT_REASONS = ("All", "None", "GpuIdle")


@functools.cache
def throttle_table(nvml: Any) -> tuple[tuple[int, str], ...]:
    """(bit, name) of each clock-limiting reason the binding defines, one name per bit (of
    aliases such as UserDefinedClocks and ApplicationsClocksSetting, the first by name).
    Built once per binding: reading a mask is then a few bit tests, not a walk of the
    module's thousands of attributes."""
    names: dict[int, str] = {}
    for attr in sorted(dir(nvml)):
        name = attr.removeprefix(THROTTLE_PREFIX)
        if not attr.startswith(THROTTLE_PREFIX) or name in NOT_REASONS:
            continue
        bit = getattr(nvml, attr)
        if isinstance(bit, int) and bit > 0:
            names.setdefault(bit, name)
    return tuple(sorted(names.items()))


def _throttle_names(nvml: Any, mask: int) -> list[str]:
    """The clock-limiting reasons set in an NVML bit mask, by name."""
    return sorted({name for bit, name in throttle_table(nvml) if mask & bit})


MASK_QUERIES = (
    "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetCurrentClocksThrottleReasons",
)


def _throttle_mask(nvml: Any, handle: Any) -> int | None:
    """The current clock-limiting mask. NVML 12 renamed the query (the bits are the same);
    a driver older than the binding lacks the new name, so the old one is asked next."""
    for name in MASK_QUERIES:
        query = getattr(nvml, name, None)
        mask = None if query is None else _call(query, handle)
        if mask is not None:
            return mask
    return None


def _call(fn: Any, *args: Any) -> Any:
    """An NVML query, or None where this GPU or driver does not support it."""
    try:
        return fn(*args)
    except Exception:
        return None


@dataclass
class GpuState:
    """A GPU's identity and fixed limits, and its temperature and clock limits now. Its
    current clocks are not here: read before the framework starts they are the idle clocks
    (the clocks that matter are sampled during the samples, ProcessSampler)."""

    index: int | None
    uuid: str | None
    name: str | None
    memory_bytes: int | None
    power_limit_w: float | None
    temperature_c: int | None
    max_sm_clock_mhz: int | None = None
    max_memory_clock_mhz: int | None = None
    # The clocks the driver targets under load (nvidia-smi -ac sets them).
    app_sm_clock_mhz: int | None = None
    app_memory_clock_mhz: int | None = None
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
        mask = _throttle_mask(nvml, h)
        sm, mem = nvml.NVML_CLOCK_SM, nvml.NVML_CLOCK_MEM
        return GpuState(
            index=_call(nvml.nvmlDeviceGetIndex, h),
            uuid=_call(nvml.nvmlDeviceGetUUID, h),
            name=_call(nvml.nvmlDeviceGetName, h),
            memory_bytes=int(memory.total) if memory is not None else None,
            power_limit_w=power / 1000 if power is not None else None,
            temperature_c=_call(nvml.nvmlDeviceGetTemperature, h, nvml.NVML_TEMPERATURE_GPU),
            max_sm_clock_mhz=_call(nvml.nvmlDeviceGetMaxClockInfo, h, sm),
            max_memory_clock_mhz=_call(nvml.nvmlDeviceGetMaxClockInfo, h, mem),
            app_sm_clock_mhz=_call(nvml.nvmlDeviceGetApplicationsClock, h, sm),
            app_memory_clock_mhz=_call(nvml.nvmlDeviceGetApplicationsClock, h, mem),
            throttle_reasons=_throttle_names(nvml, mask or 0),
        )
    except Exception:  # the GPU named in CUDA_VISIBLE_DEVICES is not there, say
        return None
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def machine_facts(nvml: Any, handle: Any) -> dict[str, Any]:
    """What run.json's machine group keeps of a GPU beyond its name: the modes that change
    what a benchmark sees (persistence: a driver kept loaded between processes; compute
    mode: exclusive or shared; MIG: a slice of the GPU; ECC), the PCIe link now and at most,
    compute capability and SM count. None where this GPU or driver does not say."""
    persistence = _call(nvml.nvmlDeviceGetPersistenceMode, handle)
    compute = _call(nvml.nvmlDeviceGetComputeMode, handle)
    mig = _call(nvml.nvmlDeviceGetMigMode, handle)
    ecc = _call(nvml.nvmlDeviceGetEccMode, handle)
    capability = _call(nvml.nvmlDeviceGetCudaComputeCapability, handle)
    pci = _call(nvml.nvmlDeviceGetPciInfo, handle)
    bus_id = _text(pci.busId) if pci is not None else None
    return {
        "persistence_mode": None if persistence is None else bool(persistence),
        "compute_mode": None if compute is None else COMPUTE_MODES.get(compute, str(compute)),
        "mig_mode": None if mig is None else bool(mig[0]),  # (current, pending)
        "ecc": None if ecc is None else bool(ecc[0]),  # (current, pending)
        "pcie_link": {
            "gen": _call(nvml.nvmlDeviceGetCurrPcieLinkGeneration, handle),
            "width": _call(nvml.nvmlDeviceGetCurrPcieLinkWidth, handle),
            "max_gen": _call(nvml.nvmlDeviceGetMaxPcieLinkGeneration, handle),
            "max_width": _call(nvml.nvmlDeviceGetMaxPcieLinkWidth, handle),
        },
        "pci_bus_id": bus_id,
        "compute_capability": None if capability is None else "{}.{}".format(*capability),
        "sm_count": sm_count(nvml, handle, bus_id),
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def sm_count(nvml: Any, handle: Any, bus_id: str | None) -> int | None:
    """The GPU's streaming multiprocessors: NVML's device attributes where it answers (MIG
    slices), else the CUDA driver's (no framework, no context: libcuda by ctypes)."""
    attributes = _call(nvml.nvmlDeviceGetAttributes, handle)
    count = getattr(attributes, "multiprocessorCount", None)
    if isinstance(count, int) and count > 0:
        return count
    return cuda_sm_count(bus_id) if bus_id else None


def cuda_sm_count(bus_id: str) -> int | None:
    """CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT of the device at a PCI bus id (the CUDA
    driver's own order may differ from NVML's: the bus id names the same GPU to both)."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        device, count = ctypes.c_int(), ctypes.c_int()
        if cuda.cuInit(0) != 0 or cuda.cuDeviceGetByPCIBusId(ctypes.byref(device), bus_id.encode()):
            return None
        if cuda.cuDeviceGetAttribute(ctypes.byref(count), CU_MULTIPROCESSOR_COUNT, device) != 0:
            return None
    except (OSError, AttributeError):  # no CUDA driver library here
        return None
    return count.value or None


@dataclass
class WindowStats:
    """What the GPU did while the samples ran (ProcessSampler.start_window/stop_window): one
    reading per sample of each counter, the energy counter's difference over the window and
    the window's wall seconds, and every clock-limiting reason seen meanwhile."""

    sm_clock_mhz: list[int] = field(default_factory=list)
    memory_clock_mhz: list[int] = field(default_factory=list)
    power_w: list[float] = field(default_factory=list)
    utilization_pct: list[int] = field(default_factory=list)
    memory_utilization_pct: list[int] = field(default_factory=list)
    throttle_reasons: set[str] = field(default_factory=set)
    energy_mj: int | None = None  # None: this GPU has no total-energy counter
    seconds: float | None = None


class ProcessSampler:
    """Samples, in a thread, this process's GPU memory as the driver sees it (its peak) and the
    clock-limiting reasons seen while it ran; between ``start_window()`` and
    ``stop_window()`` (the samples: bench.worker.window.SampleWindow) also the clocks, power
    draw and utilisation, and the energy counter at both ends. Cheap: a few NVML queries
    every 100 ms."""

    def __init__(
        self,
        which: str | None = None,
        every_s: float = SAMPLE_EVERY_S,
        clock: Any = time.perf_counter,
    ):
        self.process_peak_bytes: int | None = None
        self.device_start_bytes: int | None = None
        self.device_peak_bytes: int | None = None
        self.throttle_reasons: set[str] = set()  # while the worker ran
        self.throttle_reasons_outside: set[str] = set()  # outside the samples (compile, ...)
        self.window: WindowStats | None = None  # set by start_window
        self.seen_pids: set[int] = set()  # every process NVML showed on the GPU meanwhile
        self._nvml = _nvml()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the thread and the window's ends both sample
        self._in_window = False
        self._window_began: tuple[float, int | None] | None = None
        self._thread: threading.Thread | None = None
        self._every_s = every_s
        self._clock = clock
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

    def start_window(self) -> None:
        """The samples start: from here the GPU's clocks, power and utilisation are kept."""
        if self._nvml is None:
            return
        energy = _call(self._nvml.nvmlDeviceGetTotalEnergyConsumption, self._handle)
        with self._lock:
            self.window = WindowStats()
            self._window_began = (self._clock(), energy)
            self._in_window = True
        self.sample()  # a reading at the very start, however short the window

    def stop_window(self) -> None:
        """The samples ended: the energy used meanwhile; later readings are not kept."""
        if self._nvml is None or self.window is None or self._window_began is None:
            return
        self.sample()  # and one at the very end
        energy = _call(self._nvml.nvmlDeviceGetTotalEnergyConsumption, self._handle)
        with self._lock:
            self._in_window = False
            began_s, began_mj = self._window_began
            self.window.seconds = self._clock() - began_s
            if began_mj is not None and energy is not None and energy >= began_mj:
                self.window.energy_mj = int(energy - began_mj)

    def sample(self) -> None:
        nvml = self._nvml
        if nvml is None:
            return
        h = self._handle
        pid = os.getpid()
        processes = _call(nvml.nvmlDeviceGetComputeRunningProcesses, h) or []
        memory = _call(nvml.nvmlDeviceGetMemoryInfo, h)
        reasons = set(_throttle_names(nvml, _throttle_mask(nvml, h) or 0))
        in_window = self._in_window
        sm = mem = power_mw = use = None
        if in_window:
            sm = _call(nvml.nvmlDeviceGetClockInfo, h, nvml.NVML_CLOCK_SM)
            mem = _call(nvml.nvmlDeviceGetClockInfo, h, nvml.NVML_CLOCK_MEM)
            power_mw = _call(nvml.nvmlDeviceGetPowerUsage, h)
            use = _call(nvml.nvmlDeviceGetUtilizationRates, h)
        with self._lock:
            for p in processes:
                self.seen_pids.add(p.pid)
                used = getattr(p, "usedGpuMemory", None)
                if p.pid == pid and isinstance(used, int):
                    self.process_peak_bytes = max(self.process_peak_bytes or 0, used)
            if memory is not None:
                if self.device_start_bytes is None:
                    self.device_start_bytes = int(memory.used)
                self.device_peak_bytes = max(self.device_peak_bytes or 0, int(memory.used))
            self.throttle_reasons.update(reasons)
            w = self.window
            if not (in_window and self._in_window and w is not None):
                self.throttle_reasons_outside.update(reasons)
                return
            w.throttle_reasons.update(reasons)
            if sm is not None:
                w.sm_clock_mhz.append(int(sm))
            if mem is not None:
                w.memory_clock_mhz.append(int(mem))
            if power_mw is not None:
                w.power_w.append(power_mw / 1000)
            if use is not None:
                w.utilization_pct.append(int(use.gpu))
                w.memory_utilization_pct.append(int(use.memory))

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
