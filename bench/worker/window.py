"""What a worker watches while a cell takes its samples: the cores it is pinned to
(bench.worker.contention) and, right before and right after, the sentinel
(bench.worker.sentinel). A scenario calls ``start()`` before its timed steps and
``stop()`` after them."""

from __future__ import annotations

from bench.worker.contention import CpuWatch
from bench.worker.sentinel import SentinelWatch


class SampleWindow:
    def __init__(self, cpus: CpuWatch, sentinel: SentinelWatch | None = None):
        self.cpus = cpus
        self.sentinel = sentinel

    def start(self) -> None:
        if self.sentinel is not None:
            self.sentinel.before()  # before the cores' watch: its own time is not others'
        self.cpus.start()

    def stop(self) -> None:
        self.cpus.stop()
        if self.sentinel is not None:
            self.sentinel.after()
