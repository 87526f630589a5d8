"""What a framework's probe found (run.json ``probes``): written by the probe process
(bench.worker.probe), read by the parent (bench.parent.probes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Probe:
    framework: str
    interpreter: str
    python: str = ""
    installed: bool = False
    version: str | None = None
    cuda_build: str | None = None  # e.g. "13.0"; None: a CPU build
    sees_device: bool = False
    driver: str | None = None  # the NVIDIA driver this machine has (NVML), if any
    driver_needed: str | None = None  # "R580 or newer"
    floor_us: dict[str, float] = field(default_factory=dict)  # median, p90 of an empty step
    problem: str | None = None  # why this framework cannot run cells on the device

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
