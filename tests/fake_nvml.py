"""A stand-in for ``pynvml`` (nvidia-ml-py): the queries bench.nvml and
bench.parent.environment make, answering from plain attributes a test sets, so the GPU
sampler's logic runs without a driver. ``install(monkeypatch)`` puts it in ``sys.modules``.

It is a module (as pynvml is), and it counts how often its attributes are listed, so a test
can tell the throttle-reason table is built once, not per sample."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any


class NVMLError(Exception):
    pass


class NotSupported(NVMLError):
    pass


@dataclass
class Memory:
    total: int
    used: int


@dataclass
class Utilization:
    gpu: int
    memory: int


@dataclass
class PciInfo:
    busId: bytes


@dataclass
class Process:
    pid: int
    usedGpuMemory: int


class FakeNvml(types.ModuleType):
    # pynvml's constants (the values of nvidia-ml-py 13)
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2
    NVML_TEMPERATURE_GPU = 0
    nvmlClocksThrottleReasonGpuIdle = 0x1
    nvmlClocksThrottleReasonApplicationsClocksSetting = 0x2
    nvmlClocksThrottleReasonUserDefinedClocks = 0x2  # a deprecated alias of the bit above
    nvmlClocksThrottleReasonSwPowerCap = 0x4
    nvmlClocksThrottleReasonHwSlowdown = 0x8
    nvmlClocksThrottleReasonSwThermalSlowdown = 0x20
    nvmlClocksThrottleReasonNone = 0x0
    nvmlClocksThrottleReasonAll = 0xFFF
    NVMLError = NVMLError

    def __init__(self) -> None:
        super().__init__("pynvml")
        self.listed = 0  # how often dir() walked this module
        # What the GPU says now; a test changes these between samples.
        self.sm_clock = 345
        self.memory_clock = 2619
        self.power_mw = 90_000
        self.utilization = Utilization(0, 0)
        self.throttle_mask = 0x1
        self.energy_mj: int | None = 1_000_000  # None: no total-energy counter
        self.memory = Memory(total=141 * 2**30, used=2**20)
        self.processes: list[Process] = []
        self.sm_attribute: int | None = None  # NVML's multiprocessorCount (MIG slices)

    def __dir__(self) -> list[str]:
        self.listed += 1
        return sorted(set(super().__dir__()) | set(dir(type(self))))

    # --- the driver -------------------------------------------------------------------
    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.65.06"

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return 13000

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        if index != 0:
            raise NVMLError("invalid argument")
        return "gpu0"

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        return "gpu0"

    # --- identity and limits ----------------------------------------------------------
    def nvmlDeviceGetIndex(self, h: Any) -> int:
        return 0

    def nvmlDeviceGetUUID(self, h: Any) -> str:
        return "GPU-fake"

    def nvmlDeviceGetName(self, h: Any) -> str:
        return "NVIDIA H200"

    def nvmlDeviceGetMemoryInfo(self, h: Any) -> Memory:
        return self.memory

    def nvmlDeviceGetPowerManagementLimit(self, h: Any) -> int:
        return 700_000

    def nvmlDeviceGetTemperature(self, h: Any, sensor: int) -> int:
        return 31

    def nvmlDeviceGetMaxClockInfo(self, h: Any, kind: int) -> int:
        return {self.NVML_CLOCK_SM: 1980, self.NVML_CLOCK_MEM: 3201}[kind]

    def nvmlDeviceGetApplicationsClock(self, h: Any, kind: int) -> int:
        return {self.NVML_CLOCK_SM: 1980, self.NVML_CLOCK_MEM: 3201}[kind]

    # --- what changes -----------------------------------------------------------------
    def nvmlDeviceGetClockInfo(self, h: Any, kind: int) -> int:
        return {self.NVML_CLOCK_SM: self.sm_clock, self.NVML_CLOCK_MEM: self.memory_clock}[kind]

    def nvmlDeviceGetPowerUsage(self, h: Any) -> int:
        return self.power_mw

    def nvmlDeviceGetUtilizationRates(self, h: Any) -> Utilization:
        return self.utilization

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, h: Any) -> int:
        return self.throttle_mask

    def nvmlDeviceGetTotalEnergyConsumption(self, h: Any) -> int:
        if self.energy_mj is None:
            raise NotSupported("not supported")
        return self.energy_mj

    def nvmlDeviceGetComputeRunningProcesses(self, h: Any) -> list[Process]:
        return self.processes

    # --- the machine's facts ----------------------------------------------------------
    def nvmlDeviceGetPersistenceMode(self, h: Any) -> int:
        return 1

    def nvmlDeviceGetComputeMode(self, h: Any) -> int:
        return 3  # exclusive-process

    def nvmlDeviceGetMigMode(self, h: Any) -> list[int]:
        return [0, 0]

    def nvmlDeviceGetEccMode(self, h: Any) -> list[int]:
        return [1, 1]

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h: Any) -> int:
        return 5

    def nvmlDeviceGetCurrPcieLinkWidth(self, h: Any) -> int:
        return 16

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: Any) -> int:
        return 5

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: Any) -> int:
        return 16

    def nvmlDeviceGetCudaComputeCapability(self, h: Any) -> tuple[int, int]:
        return (9, 0)

    def nvmlDeviceGetPciInfo(self, h: Any) -> PciInfo:
        return PciInfo(busId=b"00000000:19:00.0")

    def nvmlDeviceGetAttributes(self, h: Any) -> Any:
        if self.sm_attribute is None:
            raise NotSupported("only MIG device handles")
        return types.SimpleNamespace(multiprocessorCount=self.sm_attribute)


def install(monkeypatch: Any) -> FakeNvml:
    """A fresh fake, importable as ``pynvml`` for the rest of the test."""
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return fake
