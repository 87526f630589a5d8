"""The worker's memory readings (bench.worker.memory): the host peak leaves the parity
checks out, and the device's start-up and steady peaks come from the backend's allocator
readings, reset at the end of the warm-up (fakes: no GPU needed)."""

import os
from pathlib import Path

import numpy as np
import pytest

from bench.analysis import metrics
from bench.backends.base import DeviceMemory
from bench.matrix.cells import Cell
from bench.results.record import CellResult, Memory, Outcome, Status
from bench.worker.main import memory_of
from bench.worker.memory import (
    HOST_RSS_COUNTER,
    HOST_RSS_COUNTER_EXCLUDING_PARITY,
    MemoryWatch,
    peak_rss_bytes,
    reset_peak_rss,
)
from bench.worker.scenarios.fixed import MEASURE, reference_output
from bench.worker.scenarios.fixed import inputs as fixed_inputs
from tests.fakes import FakeClock, NoopBackend, measurement


def status(path: Path, hwm_kb: int) -> None:
    path.write_text(f"Name:\tpython\nVmRSS:\t{hwm_kb} kB\nVmHWM:\t{hwm_kb} kB\n")


class FakeProc:
    """A /proc/self/status whose VmHWM the test sets, and a clear_refs that resets it."""

    def __init__(self, tmp_path: Path, resettable: bool = True):
        self.status = tmp_path / "status"
        self.clear_refs = tmp_path / ("clear_refs" if resettable else "missing/clear_refs")

    def watch(self) -> MemoryWatch:
        return MemoryWatch(self.status, self.clear_refs)


def test_the_host_peak_leaves_a_parity_check_out(tmp_path):
    proc = FakeProc(tmp_path)
    watch = proc.watch()
    status(proc.status, 100_000)  # build and steps so far
    with watch.parity_check():
        status(proc.status, 900_000)  # the reference and the output's copy
        assert watch.host_peak() == 100_000 * 1024  # a checkpoint inside the check
    assert proc.clear_refs.read_text() == "5"
    status(proc.status, 120_000)  # after the reset: the steps' own peak again
    assert watch.host_peak() == 120_000 * 1024
    assert watch.host_counter == HOST_RSS_COUNTER_EXCLUDING_PARITY


def test_where_the_peak_cannot_be_reset_it_includes_the_check_and_says_so(tmp_path):
    proc = FakeProc(tmp_path, resettable=False)
    watch = proc.watch()
    assert watch.host_counter == HOST_RSS_COUNTER  # no check yet: plain VmHWM
    status(proc.status, 100_000)
    with watch.parity_check():
        status(proc.status, 900_000)
    assert watch.host_peak() == 900_000 * 1024
    assert watch.host_counter == HOST_RSS_COUNTER


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="no clear_refs")
def test_clear_refs_really_resets_vmhwm_here():
    watch = MemoryWatch()
    assert reset_peak_rss()  # this test process's earlier peak is not this test's
    before = peak_rss_bytes()
    with watch.parity_check():
        big = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        assert peak_rss_bytes() >= before + 60 * 2**20
        del big
    assert watch.host_peak() < before + 32 * 2**20


class DeviceBackend(NoopBackend):
    """Reports device memory as a GPU backend would: in use grows with each step, the peak
    is the most in use since the last reset (or never reset, as JAX's)."""

    device_memory_counter = "fake.max_allocated"
    peak_reset = "fake.reset_peak"
    in_use_counter = "fake.allocated"
    reserved_memory_counter = "fake.max_reserved"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.in_use, self.peak, self.reserved = 1000, 1000, 4096

    def step(self, inputs):
        out = super().step(inputs)
        # The first call compiles and autotunes (a 50 kB workspace); steps need 2 kB.
        self.peak = max(self.peak, self.in_use + (50_000 if self.n_steps == 1 else 2000))
        self.reserved = max(self.reserved, self.peak + 10_000)
        return out

    def device_memory(self):
        return DeviceMemory(self.peak, self.in_use, self.reserved)

    def reset_device_peak(self):
        if self.peak_reset is not None:
            self.peak = self.in_use


class NoResetBackend(DeviceBackend):
    peak_reset = None


CUDA = Cell("mlp", "torch-compile", "infer", "cuda", 4, "quick")


def measured_memory(backend_cls, tmp_path):
    clock = FakeClock()
    cfg, params, batch = fixed_inputs("mlp", "quick", 4, seed=0)
    backend = backend_cls(clock, reference_output("mlp", cfg, params, batch, "infer"))
    m, _ = measurement(CUDA, backend, {"output": backend.output}, clock)
    proc = FakeProc(tmp_path)
    status(proc.status, 50_000)
    m.memory = proc.watch()
    assert MEASURE.measure(m).status is Status.OK
    return memory_of(backend, "cuda", None, m.memory)


def test_start_up_and_steady_peaks_are_split_by_the_reset_after_the_warm_up(tmp_path):
    memory = measured_memory(DeviceBackend, tmp_path)
    assert memory.startup_peak_device_bytes == 51_000  # the first call's workspace
    assert memory.steady_peak_device_bytes == 3000  # after the reset: the steps' own
    assert memory.peak_device_bytes == 51_000  # the whole life: the larger reading
    assert memory.steady_device_memory_counter == (
        "fake.max_allocated after fake.reset_peak at the end of the warm-up"
    )
    assert memory.peak_reserved_device_bytes == 61_000
    assert memory.reserved_device_memory_counter == "fake.max_reserved"
    assert memory.peak_host_rss_bytes == 50_000 * 1024


def test_without_a_reset_the_steady_figure_is_the_bytes_in_use_labelled_so(tmp_path):
    memory = measured_memory(NoResetBackend, tmp_path)
    assert memory.startup_peak_device_bytes == 51_000 == memory.peak_device_bytes
    assert memory.steady_peak_device_bytes == 1000
    assert memory.steady_device_memory_counter == (
        "fake.allocated at the end of the timed steps (no peak reset)"
    )


def cell_with(backend: str, memory: Memory) -> CellResult:
    cell = Cell("mlp", backend, "infer", "cuda", 4, "quick")
    return CellResult(run_id="run", cell=cell, outcome=Outcome(Status.OK), memory=memory)


def test_the_memory_ratio_against_eager_uses_the_steady_peaks():
    eager = cell_with("torch-eager", Memory(peak_device_bytes=900, steady_peak_device_bytes=400))
    this = cell_with("torch-compile", Memory(peak_device_bytes=3000, steady_peak_device_bytes=200))
    assert metrics.peak_memory(this)[0] == 200
    assert metrics.memory_vs_eager(this, metrics.Baselines([eager, this])) == 2.0
    old = cell_with("torch-compile", Memory(peak_device_bytes=3000))  # before the split
    assert metrics.peak_memory(old)[0] == 3000


def test_memory_fields_round_trip():
    memory = Memory(
        startup_peak_device_bytes=5,
        steady_peak_device_bytes=3,
        steady_device_memory_counter="c",
        peak_reserved_device_bytes=8,
        reserved_device_memory_counter="r",
    )
    r = cell_with("torch-eager", memory)
    assert CellResult.from_json(r.to_json(), "here") == r
