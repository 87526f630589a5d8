"""What a worker watches while a cell takes its samples: the cores it is pinned to
(bench.worker.contention), the GPU (bench.nvml.ProcessSampler: clocks, power, utilisation,
energy, clock limits) and, right before and right after, the sentinel
(bench.worker.sentinel). A scenario calls ``start()`` before its timed steps and
``stop()`` after them."""

from __future__ import annotations

from bench.nvml import ProcessSampler
from bench.worker.contention import CpuWatch
from bench.worker.sentinel import SentinelWatch


class SampleWindow:
    def __init__(
        self,
        cpus: CpuWatch,
        sentinel: SentinelWatch | None = None,
        gpu: ProcessSampler | None = None,
    ):
        self.cpus = cpus
        self.sentinel = sentinel
        self.gpu = gpu

    def start(self) -> None:
        if self.sentinel is not None:
            self.sentinel.before()  # before the cores' watch: its own time is not others'
        if self.gpu is not None:
            self.gpu.start_window()  # its first readings before the cores' watch starts
        self.cpus.start()

    def stop(self) -> None:
        self.cpus.stop()
        if self.gpu is not None:
            self.gpu.stop_window()
        if self.sentinel is not None:
            self.sentinel.after()
