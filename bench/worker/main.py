"""Child side: runs exactly one cell in a fresh process and writes its result.

``python -m bench.worker JOB.json RESULT.json``. The job names the run, the cell, the
settings, the file of the block's reference outputs and the phase (``cold``: the full
measurement, from empty compile caches; ``warm``: build and first call only, finding
the caches a cold worker of the same cell left). The worker builds the cell's
``CellResult`` itself and rewrites RESULT.json after each stage, so if the parent must
kill this process (timeout) what was already measured (e.g. the first call) survives.
Frameworks are imported only in child processes (this one; bench.worker.expected,
bench.worker.probe,
bench.worker.peak and bench.worker.selfcheck for theirs), always through bench/backends.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench import backends
from bench import nvml as gpu
from bench.backends.base import Backend
from bench.matrix.cells import Cell
from bench.matrix.job import CPUS_ENV, Job
from bench.matrix.precision import TOLERANCE
from bench.matrix.profiles import Settings
from bench.results.record import CellResult, Gpu, Memory, Outcome, Setup, Status
from bench.results.store import write_json_atomic
from bench.worker import contention, scenarios
from bench.worker.contention import CpuWatch
from bench.worker.memory import MemoryWatch
from bench.worker.scenarios.base import Measurement
from bench.worker.sentinel import SentinelWatch
from bench.worker.timing import Clock, default_clock
from bench.worker.window import SampleWindow


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def limit_cpus(threads: int) -> list[int]:
    """Pin this process to ``threads`` CPUs: the one limit every framework obeys. Where an
    executor gave the worker its own cores ($GRAPHBENCH_CPUS), only those."""
    allowed = sorted(os.sched_getaffinity(0))
    given = os.environ.get(CPUS_ENV, "").strip()
    if given:
        mine = sorted(set(allowed) & {int(c) for c in given.split(",")})
        allowed = mine or allowed
        os.sched_setaffinity(0, allowed)
    if threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
    return sorted(os.sched_getaffinity(0))


def installed_packages() -> dict[str, str]:
    """Every distribution this interpreter has, lower-case name -> version."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower()] = dist.version
    return dict(sorted(found.items()))


def setup_of(backend_cls: type[Backend], cell: Cell, settings: Settings, affinity: list[int]):
    """Configure the framework (threads, numerics) before any work; what was set, and where."""
    return Setup(
        framework_version=backend_cls.framework_version(),
        framework_settings=backend_cls.configure(cell.device, settings.threads, cell.precision),
        cpu_affinity=affinity,
        host=socket.gethostname(),
        interpreter=sys.executable,
        python=platform.python_version(),
        packages=installed_packages(),
    )


def memory_of(
    backend: Backend | None,
    device: str,
    sampler: gpu.ProcessSampler | None,
    watch: MemoryWatch | None = None,
) -> Memory:
    """The worker's peaks so far: host VmHWM (outside the parity checks); on a GPU the
    framework allocator's (over the whole life, up to the end of the warm-up, and over the
    timed steps, and its reservation) and the driver's (NVML, sampled)."""
    watch = watch or MemoryWatch()
    driver_bytes, driver_counter = sampler.peak() if sampler else (None, None)
    host = Memory(
        peak_host_rss_bytes=watch.host_peak(),
        host_memory_counter=watch.host_counter,
        peak_gpu_process_bytes=driver_bytes,
        gpu_process_memory_counter=driver_counter,
    )
    now = backend.device_memory() if backend is not None and device != "cpu" else None
    if backend is None or now is None:
        return host
    start, steady = watch.startup, watch.steady
    # After the reset the counter's peak is the steady phase's: the whole life's is the
    # larger of the two readings, which cover it between them.
    peaks = [m.peak_bytes for m in (start, now) if m is not None and m.peak_bytes is not None]
    reserved = [m.peak_reserved_bytes for m in (start, now) if m is not None]
    if steady is None:
        steady_bytes, steady_counter = None, None
    elif backend.peak_reset is not None:
        steady_bytes = steady.peak_bytes
        steady_counter = (
            f"{backend.device_memory_counter} after {backend.peak_reset} at the end of the warm-up"
        )
    else:
        steady_bytes = steady.in_use_bytes
        steady_counter = f"{backend.in_use_counter} at the end of the timed steps (no peak reset)"
    return replace(
        host,
        peak_device_bytes=max(peaks) if peaks else None,
        device_memory_counter=backend.device_memory_counter,
        startup_peak_device_bytes=None if start is None else start.peak_bytes,
        steady_peak_device_bytes=steady_bytes,
        steady_device_memory_counter=steady_counter if steady_bytes is not None else None,
        peak_reserved_device_bytes=max((v for v in reserved if v is not None), default=None),
        reserved_device_memory_counter=backend.reserved_memory_counter,
    )


def gpu_of(start: gpu.GpuState | None, sampler: gpu.ProcessSampler | None) -> Gpu | None:
    """Which GPU the worker ran on, its clock limits, its temperature at the start and the
    end, every clock-limiting reason seen meanwhile, and what the GPU did during the samples
    (clocks, power, utilisation, energy: the sampler's window)."""
    if start is None:
        return None
    end = gpu.state()
    at_ends = set(start.throttle_reasons) | set(end.throttle_reasons if end else ())
    reasons = at_ends | (sampler.throttle_reasons if sampler else set())
    window = sampler.window if sampler else None
    during = window.throttle_reasons if window else set()
    outside = at_ends | (sampler.throttle_reasons_outside if sampler else set())
    return Gpu(
        gpu_index=start.index,
        gpu_uuid=start.uuid,
        gpu_name=start.name,
        gpu_memory_bytes=start.memory_bytes,
        gpu_power_limit_w=start.power_limit_w,
        gpu_temperature_start_c=start.temperature_c,
        gpu_temperature_end_c=end.temperature_c if end else None,
        gpu_throttle_reasons=sorted(reasons),
        gpu_max_sm_clock_mhz=start.max_sm_clock_mhz,
        gpu_max_memory_clock_mhz=start.max_memory_clock_mhz,
        gpu_app_sm_clock_mhz=start.app_sm_clock_mhz,
        gpu_app_memory_clock_mhz=start.app_memory_clock_mhz,
        gpu_sm_clock_samples_mhz=list(window.sm_clock_mhz) if window else [],
        gpu_memory_clock_samples_mhz=list(window.memory_clock_mhz) if window else [],
        gpu_power_samples_w=list(window.power_w) if window else [],
        gpu_utilization_samples_pct=list(window.utilization_pct) if window else [],
        gpu_memory_utilization_samples_pct=list(window.memory_utilization_pct) if window else [],
        gpu_throttle_reasons_samples=sorted(during),
        gpu_throttle_reasons_outside_samples=sorted(outside - during),
        gpu_samples_energy_mj=window.energy_mj if window else None,
        gpu_samples_window_s=window.seconds if window else None,
    )


class StoredOutputs(Mapping[str, np.ndarray]):
    """A block's reference outputs, read from their file each time one is asked for: a
    worker holds none between its parity checks (the full-profile transformer's float64
    logits are 1.65 GB)."""

    def __init__(self, path: str):
        self.path = path
        with np.load(path) as stored:
            self.names = list(stored.files)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise KeyError(name)
        with np.load(self.path) as stored:
            return stored[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def load_expected(path: str) -> StoredOutputs:
    return StoredOutputs(path)


def run_job(job: Job, result_path: Path, clock: Clock = default_clock) -> CellResult:
    """Measure one cell; the result is saved after every stage and returned at the end."""
    cell = job.cell
    affinity = limit_cpus(job.settings.threads)
    on_gpu = cell.device == "cuda"
    start = gpu.state() if on_gpu else None
    with gpu.ProcessSampler() if on_gpu else contextlib.nullcontext() as sampler:
        # Only the cold phase takes samples: the others need no sentinel (nor its 32 MiB).
        sentinel = SentinelWatch() if job.phase == "cold" else None
        watch = SampleWindow(CpuWatch(affinity), sentinel, sampler)
        result = _measure(job, result_path, clock, affinity, sampler, watch)
    result = replace(result, gpu=gpu_of(start, sampler))
    if watch.cpus.share is not None:  # the samples were taken: what else ran meanwhile
        others = sampler.other_processes() if sampler is not None else None
        result = replace(result, contention=contention.measured(watch.cpus.share, others))
    if watch.sentinel is not None:  # and how fast the machine was around them
        result = replace(result, sentinel=watch.sentinel.group())
    write_json_atomic(result_path, result.to_json())
    return result


def _measure(
    job: Job,
    result_path: Path,
    clock: Clock,
    affinity: list[int],
    sampler: gpu.ProcessSampler | None,
    watch: SampleWindow | None = None,
) -> CellResult:
    cell = job.cell
    state: dict[str, Any] = {"backend": None}
    memory = MemoryWatch()

    def save(result: CellResult) -> None:
        result = replace(result, memory=memory_of(state["backend"], cell.device, sampler, memory))
        write_json_atomic(result_path, result.to_json())

    m: Measurement | None = None
    backend_cls: type[Backend] | None = None
    result = CellResult(run_id=job.run_id, cell=cell)
    try:
        backend_cls = backends.load(cell.backend)
        result = replace(result, setup=setup_of(backend_cls, cell, job.settings, affinity))
        save(result)
        reason = backend_cls.unavailable_reason(cell.device)
        if reason:
            # The framework is installed but cannot run here: a failure to fix, not a skip.
            verdict = Outcome(Status.FAILED, reason)
        else:
            state["backend"] = backend_cls()
            m = Measurement(
                cell=cell,
                settings=job.settings,
                backend=state["backend"],
                expected=load_expected(job.expected_path),
                eager32=load_expected(job.eager32_path) if job.eager32_path else None,
                tolerance=TOLERANCE[cell.precision],
                phase=job.phase,
                clock=clock,
                save=save,
                result=result,
                watch=watch if job.phase == "cold" else None,
                trace_dir=job.trace_dir,
                memory=memory,
                eager_warmup_loss=job.eager_warmup_loss,
                artifact_dir=job.artifact_dir,
            )
            verdict = scenarios.get(cell.scenario).measure(m)
    except Exception as exc:
        out_of_memory = (
            backend_cls.is_out_of_memory(exc) if backend_cls else isinstance(exc, MemoryError)
        )
        verdict = Outcome(Status.OOM if out_of_memory else Status.FAILED, one_line(exc))
        traceback.print_exc()  # the parent keeps the tail of the output with the result
    return replace(
        m.result if m is not None else result,
        outcome=verdict,
        memory=memory_of(state["backend"], cell.device, sampler, memory),
    )


def start_watchdog(guard: dict[str, Any]) -> None:
    """End this worker (and clean up after it) if the runner dies: bench.worker.watchdog."""
    argv = [
        sys.executable,
        "-m",
        "bench.worker.watchdog",
        str(guard["runner_pid"]),
        str(os.getpid()),
    ]
    subprocess.Popen([*argv, *guard["dirs"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    data = json.loads(Path(argv[0]).read_text())
    if data.get("guard"):
        start_watchdog(data["guard"])
    run_job(Job.from_json(data), Path(argv[1]))
    return 0
