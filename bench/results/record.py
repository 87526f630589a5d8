"""A cell's result: typed, grouped by meaning, with one writer per group.

``CellResult`` is what one cell measured and what happened to its process. It is
stored as one flat JSON object per line of ``cells.jsonl`` (every group's fields side
by side, so ``pandas.read_json(path, lines=True)`` gives one column per field), and read
back through ``CellResult.from_json``, which validates every field (type, range, finite,
names known to the registries) and says in one line which file, line and field is wrong.

Who writes what (each group is built in exactly one function; tests/test_record.py
checks this in the code):

==============  =====================================  ===================================
group           fields                                  written by
==============  =====================================  ===================================
identity        schema_version, run_id, the Cell's      the runner, from the matrix
                fields, framework
setup           framework_version, framework_settings,  worker.setup_of (before anything
                cpu_affinity, host, interpreter,        runs)
                python, packages
build           build_s, flops_per_step, flops_counter  worker.scenarios.base.build_model
parity          parity_max_rel_err, parity_tolerance,   bench.worker.parity.check
                parity_output, parity_float32_
                eager_err, parity_reference,
                parity_phases, parity_phase_errors,
                parity_train_step, parity_train_
                loss, parity_train_eager_loss,
                parity_train_band
first_call      first_call_s                            worker.scenarios.fixed.first_call
steady          warmup_ms, samples_ms, pipeline_steps,  worker.scenarios.fixed.steady_state
                pipeline_s, compilations, cuda_graphs
passes          lengths, fed_lengths, parity_steps,     worker.scenarios.stream.run_passes
                step_ms, compiled_at, steady_step_ms,
                compilations, compilations_second_pass
memory          peak_host_rss_bytes, host_memory_       worker.memory_of
                counter, peak_device_bytes,
                device_memory_counter,
                peak_gpu_process_bytes,
                gpu_process_memory_counter,
                startup_peak_device_bytes,
                steady_peak_device_bytes, steady_
                device_memory_counter, peak_
                reserved_device_bytes, reserved_
                device_memory_counter
gpu             gpu_index, gpu_uuid, gpu_name, gpu_     worker.gpu_of
                memory_bytes, gpu_sm_clock_mhz,
                gpu_memory_clock_mhz, gpu_power_
                limit_w, gpu_temperature_start_c,
                gpu_temperature_end_c, gpu_
                throttle_reasons, max and app
                clocks, the samples' clocks,
                power, utilisation, energy, window
                and throttle reasons (in, outside)
contention      contention, contended, load_average,    contention.measured (the worker's
                gpu_other_processes                     samples, watched by CpuWatch)
sentinel        sentinel_before_ms, sentinel_       SentinelWatch.group (bench.worker.
                after_ms                                sentinel, timed around the samples)
warm            warm_start, build_warm_s,               runner.warm_start_of (from the
                first_call_warm_s, warmup_warm_ms       warm worker's own first call and
                                                        warm-up)
artifact        artifact_build_s, artifact_bytes,       runner.artifact_of (from the
                artifact_files, load_s, load_first_     artefact worker's build, the files
                call_s, artifact_error                  it wrote, and the cold-start
                                                        worker's load and first call)
trace           trace_tool, trace_steps, trace_files,   runner.trace_of (from the profiling
                top_ops, trace_error                    worker's files, bench.analysis.traces)
graph_capture   capture_tool, graphs, graph_breaks,     runner.graph_capture_of (from the
                break_reasons, recompilations,          diagnosing workers' capture.json,
                recompile_reasons, fallbacks, cuda_     bench.worker.capture)
                graph_skips, cuda_graph_skip_reasons,
                capture_first_call_s, first_call_
                phases, phase_tolerance_s, cache_
                counters, warm_first_call_s, warm_
                phases, warm_cache_counters,
                capture_error
process         started_utc, wall_s, worker_exit_code,  runner.process_of
                output_tail, log, executor, lost
outcome         status, error                           the worker's verdict (its
                                                        scenario's measure, or run_job
                                                        where the backend cannot run or
                                                        raises); the runner where a worker
                                                        ended without one (settle) or was
                                                        never started (not_run)
==============  =====================================  ===================================

Nothing derived is stored: latency statistics, throughput, speedups, break-even,
overtaking, compile time of a stream and FLOP/s are computed on read by bench.analysis.metrics.
The schema's history is ``SCHEMA_HISTORY`` below and CHANGELOG.md.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any, ClassVar

from bench.errors import SchemaError
from bench.matrix.cells import DEVICES, IDENTITY_FIELDS, MODES, Cell

SCHEMA_VERSION = 2
SUPPORTED_SCHEMA_VERSIONS = (1, 2)
SCHEMA_HISTORY = {
    1: "flat record with derived fields (latency_ms, throughput_per_s, break-even, stream "
    "totals) stored beside the raw ones; scenario 'dynamic'; not-applicable cells were "
    "'skipped' with an error starting 'not applicable'; threads_set",
    2: "derived fields no longer stored (bench.analysis.metrics computes them); scenario 'stream'; "
    "status 'not-applicable'; framework_settings (was threads_set); repetition in the "
    "identity; setup fields host, interpreter, python, packages; process field log",
}


class Status(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"  # output disagreed with the float64 reference: not timed
    FAILED = "failed"
    TIMEOUT = "timeout"
    OOM = "oom"
    SKIPPED = "skipped"  # could not run here (framework not installed, device missing)
    NOT_APPLICABLE = "not-applicable"  # the combination means nothing (eager + dynamic)


STATUSES = tuple(s.value for s in Status)


def _f(minimum: float | None = None, **meta: Any) -> Any:
    """A field that defaults to None, with an optional lower bound checked on read."""
    return field(default=None, metadata={"min": minimum, **meta})


# Lists of measurements (times, steps; lengths at least 1), each item checked on read: a
# negative step time is no measurement.
AT_LEAST_0 = {"min": 0}
AT_LEAST_1 = {"min": 1}


@dataclass(frozen=True)
class Group:
    """A dataclass of fields stored side by side in the flat record."""

    NAME: ClassVar[str]


@dataclass(frozen=True)
class Outcome(Group):
    NAME = "outcome"
    status: Status
    error: str | None = None


@dataclass(frozen=True)
class Setup(Group):
    NAME = "setup"
    framework_version: str | None = None
    framework_settings: dict[str, Any] = field(default_factory=dict)
    cpu_affinity: list[int] = field(default_factory=list, metadata=AT_LEAST_0)
    host: str | None = None
    interpreter: str | None = None
    python: str | None = None
    packages: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Build(Group):
    NAME = "build"
    build_s: float = _f(0)
    flops_per_step: int | None = _f(0)
    # Who counted flops_per_step (a user's model: torch.utils.flop_counter, XLA's
    # cost_analysis or the model's own flops()); None: the zoo's analytic count (spec.py).
    flops_counter: str | None = _f()


@dataclass(frozen=True)
class Parity(Group):
    NAME = "parity"
    # None: the output was not finite (NaN or inf), which no tolerance admits.
    parity_max_rel_err: float | None = _f(0)
    parity_tolerance: float = _f(0)
    parity_output: str = "logits"
    # A reduced precision's cell: the same error of its framework's float32 eager output, so
    # a reader sees how much of parity_max_rel_err is the precision and how much the backend.
    parity_float32_eager_err: float | None = _f(0)
    # What the output was checked against; None: the zoo's float64 NumPy reference. A user's
    # model: its own framework, eager, in float64 (or float32 where float64 fails).
    parity_reference: str | None = _f()
    # The phases the output was checked in, in order (bench.worker.parity: "first call",
    # "after warm-up", "after pipeline"; a stream: "first pass", "second pass"), and each
    # one's error: against the reference, or a training loss after the first call against
    # its framework's eager loss at the same step (parity_train_*). A phase listed without
    # an error: the loss was checked to be finite only (no eager loss to set it beside);
    # null: not finite. Records before these fields: the first call (or pass) only.
    parity_phases: list[str] = field(default_factory=list)
    parity_phase_errors: dict[str, float | None] = field(default_factory=dict, metadata=AT_LEAST_0)
    parity_train_step: int | None = _f(1)  # training steps taken, first call included
    parity_train_loss: float | None = _f()  # the cell's loss there (None: not finite)
    parity_train_eager_loss: float | None = _f()  # its framework's eager loss at that step
    parity_train_band: float | None = _f(0)  # the relative band the loss was held to


@dataclass(frozen=True)
class FirstCall(Group):
    NAME = "first_call"
    first_call_s: float = _f(0)


@dataclass(frozen=True)
class Steady(Group):
    NAME = "steady"
    warmup_ms: list[float] = field(default_factory=list, metadata=AT_LEAST_0)
    samples_ms: list[float] = field(default_factory=list, metadata=AT_LEAST_0)
    pipeline_steps: int | None = _f(1)
    pipeline_s: float | None = _f(0)
    compilations: int | None = _f(0)
    # CUDA-graph backends: asked for, really used (replays observed), the counts that
    # show it, and why not (Backend.cuda_graphs; docs/gpu.md, CUDA graphs, observed).
    cuda_graphs: dict[str, Any] | None = None


@dataclass(frozen=True)
class Passes(Group):
    NAME = "passes"
    lengths: list[int] = field(default_factory=list, metadata=AT_LEAST_1)
    fed_lengths: list[int] = field(default_factory=list, metadata=AT_LEAST_1)
    parity_steps: list[int] = field(default_factory=list, metadata=AT_LEAST_0)
    step_ms: list[float] = field(default_factory=list, metadata=AT_LEAST_0)
    compiled_at: list[int] = field(default_factory=list, metadata=AT_LEAST_0)
    steady_step_ms: list[float] = field(default_factory=list, metadata=AT_LEAST_0)
    compilations: int | None = _f(0)
    compilations_second_pass: int | None = _f(0)


@dataclass(frozen=True)
class Memory(Group):
    NAME = "memory"
    peak_host_rss_bytes: int | None = _f(0)
    host_memory_counter: str | None = None
    # The framework allocator's peak, and the counter it comes from.
    peak_device_bytes: int | None = _f(0)
    device_memory_counter: str | None = None
    # The driver's view of the worker's GPU memory (bench.nvml), the same for every framework.
    peak_gpu_process_bytes: int | None = _f(0)
    gpu_process_memory_counter: str | None = None
    # The framework allocator's peak from the start to the end of the warm-up (build,
    # compilation, autotuning, CUDA-graph recording), read before the reset that starts the
    # steady phase; then its peak over the timed steps, after that reset (JAX has no reset:
    # its bytes in use at the end of the timed steps), each with the counter it comes from.
    startup_peak_device_bytes: int | None = _f(0)
    steady_peak_device_bytes: int | None = _f(0)
    steady_device_memory_counter: str | None = None
    # The most the allocator reserved from the device (its pools: what others cannot use).
    peak_reserved_device_bytes: int | None = _f(0)
    reserved_device_memory_counter: str | None = None


@dataclass(frozen=True)
class Gpu(Group):
    """The GPU a CUDA cell ran on, its limits, its temperature at the start and the end, and
    what it did while the samples ran (bench.nvml.ProcessSampler, one reading every 100 ms
    between the samples' start and end; bench.analysis.metrics.gpu_during_samples gives
    their min, median and max)."""

    NAME = "gpu"
    gpu_index: int | None = None
    gpu_uuid: str | None = None
    gpu_name: str | None = None
    gpu_memory_bytes: int | None = _f(0)
    # Old records only (no longer written): the clocks at worker start, read before the
    # framework was imported, an idle GPU's rather than the clocks the steps ran at.
    gpu_sm_clock_mhz: int | None = None
    gpu_memory_clock_mhz: int | None = None
    gpu_power_limit_w: float | None = None
    gpu_temperature_start_c: int | None = None
    gpu_temperature_end_c: int | None = None
    # Clock-limiting reasons NVML reported while the worker ran (power cap, thermal, ...).
    gpu_throttle_reasons: list[str] = field(default_factory=list)
    # The highest clocks the GPU allows, and the application clocks it targets under load.
    gpu_max_sm_clock_mhz: int | None = _f(0)
    gpu_max_memory_clock_mhz: int | None = _f(0)
    gpu_app_sm_clock_mhz: int | None = _f(0)
    gpu_app_memory_clock_mhz: int | None = _f(0)
    # During the samples (the timed steps and the pipelined ones), one reading per sample.
    gpu_sm_clock_samples_mhz: list[int] = field(default_factory=list, metadata=AT_LEAST_0)
    gpu_memory_clock_samples_mhz: list[int] = field(default_factory=list, metadata=AT_LEAST_0)
    gpu_power_samples_w: list[float] = field(default_factory=list, metadata=AT_LEAST_0)
    gpu_utilization_samples_pct: list[int] = field(default_factory=list, metadata=AT_LEAST_0)
    gpu_memory_utilization_samples_pct: list[int] = field(default_factory=list, metadata=AT_LEAST_0)
    # The clock-limiting reasons seen during the samples, and those seen only outside them
    # (build, compilation, warm-up, teardown).
    gpu_throttle_reasons_samples: list[str] = field(default_factory=list)
    gpu_throttle_reasons_outside_samples: list[str] = field(default_factory=list)
    # NVML's total-energy counter (nvmlDeviceGetTotalEnergyConsumption) at the samples' end
    # minus at their start, millijoules (None: the GPU has no such counter), and the wall
    # seconds between the two readings.
    gpu_samples_energy_mj: int | None = _f(0)
    gpu_samples_window_s: float | None = _f(0)


# Others using more than this share of the worker's cores mark its cell contended. On a
# quiet machine background work (the kernel, daemons, the runner's own watchdog) stays
# around 1%; one other busy thread on one of two cores is 50%.
CONTENDED_SHARE = 0.10


@dataclass(frozen=True)
class Contention(Group):
    """What else ran on the worker's cores (and GPU) while it measured (bench.worker.contention)."""

    NAME = "contention"
    # The share of the pinned cores' time that other processes used while the samples
    # were taken: 0 (the cores were the worker's) to 1 (others had them all).
    contention: float | None = _f(0)
    contended: bool | None = None  # contention above CONTENDED_SHARE
    load_average: float | None = _f(0)  # the 1-minute load average at the end
    gpu_other_processes: int | None = _f(0)  # other processes on the cell's GPU (NVML)


# A cell whose sentinel (bench.worker.sentinel) ran more than this much slower than the
# run's median ran in a slow window (bench.analysis.metrics.is_slow_window). Two quiet
# workers' sentinels agree within a few percent; the slow windows seen on shared VMs are
# 10-40%.
SLOW_WINDOW_SHARE = 0.15


@dataclass(frozen=True)
class Sentinel(Group):
    """The sentinel's time right before and right after the samples (bench.worker.sentinel)."""

    NAME = "sentinel"
    sentinel_before_ms: float | None = _f(0)
    sentinel_after_ms: float | None = _f(0)


@dataclass(frozen=True)
class Trace(Group):
    """A profiling worker's trace of the cell (``run --trace``; bench.analysis.traces): taken in a
    process of its own after the measured ones, so no timed step ran under a profiler."""

    NAME = "trace"
    trace_tool: str | None = None  # the framework's profiler
    trace_steps: int | None = _f(0)  # steady steps traced, after the first call and warm-up
    trace_files: list[str] = field(default_factory=list)  # under the run directory
    # The operations with the most self time: name, self_ms_per_step, share.
    top_ops: list[dict[str, Any]] = field(default_factory=list)
    trace_error: str | None = None  # why there is no trace (the profiling worker failed)


# The first call's seconds that the framework attributes to no phase (GraphCapture).
OTHER_PHASE = "other"


@dataclass(frozen=True)
class GraphCapture(Group):
    """How much of a static backend's step became a graph, where and why it broke or compiled
    again, and where its first call's seconds went (``run --diagnose``; bench.worker.capture): read
    from the framework's own facilities in workers of their own after the measured ones, so
    that nothing timed ran with them switched on."""

    NAME = "graph_capture"
    capture_tool: str | None = None  # the framework facilities read
    graphs: int | None = _f(0)  # distinct graphs (torch.compile), traces (jax, tf)
    graph_breaks: int | None = _f(0)
    # Deduplicated: reason, where (the user source line, file:line), count.
    break_reasons: list[dict[str, Any]] = field(default_factory=list)
    recompilations: int | None = _f(0)  # compilations after the first of each graph
    # Fixed shapes: reason, count. A stream: step, length, reason (one per compilation).
    recompile_reasons: list[dict[str, Any]] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)  # what ran outside the graph
    # torch.compile in a CUDA-graph mode on CUDA: graphs Inductor did not record as CUDA
    # graphs, and the reasons it gave (None elsewhere).
    cuda_graph_skips: int | None = _f(0)
    cuda_graph_skip_reasons: list[str] = field(default_factory=list)
    capture_first_call_s: float | None = _f(0)  # the diagnosing worker's own first call
    # Its phases, seconds, in order; OTHER_PHASE is what the framework attributes to none.
    first_call_phases: dict[str, float] = field(default_factory=dict)
    phase_tolerance_s: float | None = _f(0)  # how far the phases may miss the first call
    cache_counters: dict[str, int] = field(default_factory=dict)  # cold: hits and misses
    # A second diagnosing worker that finds the first one's persistent caches.
    warm_first_call_s: float | None = _f(0)
    warm_phases: dict[str, float] = field(default_factory=dict)
    warm_cache_counters: dict[str, int] = field(default_factory=dict)
    capture_error: str | None = None  # why there is none (the diagnosing worker failed)


@dataclass(frozen=True)
class WarmStart(Group):
    NAME = "warm"
    # What a new process reuses of this cell's compilation, or why nothing is reused.
    warm_start: str | None = None
    build_warm_s: float | None = _f(0)
    first_call_warm_s: float | None = _f(0)
    warmup_warm_ms: list[float] = field(
        default_factory=list, metadata=AT_LEAST_0
    )  # the warm worker's warm-up


@dataclass(frozen=True)
class Artifact(Group):
    """An ahead-of-time backend's artefact and its cold start (docs/aot.md): built once in a
    worker of its own, then loaded by a fresh process that runs one checked step. Added in
    schema 2 as optional fields: a record without them (every earlier run) has no group."""

    NAME = "artifact"
    artifact_build_s: float | None = _f(0)  # export + compile + write, the artefact worker's
    artifact_bytes: int | None = _f(0)  # every file of the artefact
    artifact_files: dict[str, int] = field(default_factory=dict)  # path inside it -> bytes
    load_s: float | None = _f(0)  # the cold-start worker: loading the artefact
    # Its first (checked) call after the load. The timed worker's own load and first call
    # are build_s and first_call_s, as every backend's.
    load_first_call_s: float | None = _f(0)
    artifact_error: str | None = None  # why a figure is missing (the cold start failed)


@dataclass(frozen=True)
class Process(Group):
    NAME = "process"
    started_utc: str | None = None
    wall_s: float | None = _f(0)
    worker_exit_code: int | None = None
    output_tail: list[str] = field(default_factory=list)
    log: str | None = None
    executor: str | None = None  # where the workers ran: local or ray (bench.parent.executors)
    # True when the executor lost the task (its node or process died) before any worker
    # reported: nothing was measured, and ``resume`` runs the cell again.
    lost: bool | None = None
    # Why this record measures its cell again (``--remeasure-slow``): the earlier record,
    # kept in cells.jsonl, was measured in a slow window. Readers use the newer one.
    remeasured: str | None = None


# Stored in this order; fields of groups with the same name (compilations) are shared
# between scenarios, which never have both groups.
GROUPS: tuple[type[Group], ...] = (
    Outcome,
    Setup,
    Build,
    Parity,
    FirstCall,
    Steady,
    Passes,
    Memory,
    Gpu,
    Contention,
    Sentinel,
    WarmStart,
    Artifact,
    Trace,
    GraphCapture,
    Process,
)


@dataclass(frozen=True)
class CellResult:
    """One cell: its identity, then a group per stage it reached (None where it did not)."""

    run_id: str
    cell: Cell
    outcome: Outcome | None = None  # None only in a worker's checkpoint of a running cell
    setup: Setup | None = None
    build: Build | None = None
    parity: Parity | None = None
    first_call: FirstCall | None = None
    steady: Steady | None = None
    passes: Passes | None = None
    memory: Memory | None = None
    gpu: Gpu | None = None
    contention: Contention | None = None
    sentinel: Sentinel | None = None
    warm: WarmStart | None = None
    artifact: Artifact | None = None
    trace: Trace | None = None
    graph_capture: GraphCapture | None = None
    process: Process | None = None

    # --- convenient reads -----------------------------------------------------------
    @property
    def status(self) -> Status | None:
        return None if self.outcome is None else self.outcome.status

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def error(self) -> str:
        return (self.outcome.error if self.outcome else None) or ""

    # --- the stored form ------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The flat record: identity first, then each group that was reached."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "run_id": self.run_id}
        out.update(self.cell.to_dict())
        for group_cls in GROUPS:
            group = getattr(self, group_cls.NAME)
            if group is None:
                continue
            for f in fields(group):
                value = getattr(group, f.name)
                out[f.name] = value.value if isinstance(value, Enum) else value
        return out

    @classmethod
    def from_json(cls, data: object, where: str) -> CellResult:
        """A validated result from one stored record (schema 1 or 2); SchemaError if not."""
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: expected a JSON object, got {_kind(data)}")
        version = data.get("schema_version")
        check_version(version, where)
        if version == 1:
            data = upgrade_v1(data)
        _require(data, ("run_id", *REQUIRED_IDENTITY), where)
        run_id = _check_name(data["run_id"], "run_id", where)
        cell = cell_from_json(data, where)
        framework = data.get("framework")
        if framework is not None and framework != cell.framework:
            raise SchemaError(
                f"{where}: field 'framework': {framework!r} is not the framework of "
                f"backend {cell.backend!r} ({cell.framework})"
            )
        groups = {g.NAME: _group_from_json(g, data, where) for g in GROUPS}
        return cls(run_id=run_id, cell=cell, **groups)


REQUIRED_IDENTITY = ("scenario", "model", "profile", "backend", "mode", "device", "batch_size")


def check_version(version: object, where: str) -> None:
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))
        raise SchemaError(
            f"{where}: schema_version {version!r} is not supported (this graphbench reads "
            f"{supported}); use the graphbench version that wrote it"
        )


# --- schema 1 -------------------------------------------------------------------------

# Derived values schema 1 stored; schema 2 computes them on read (bench.analysis.metrics).
V1_DERIVED = (
    "latency_ms",
    "throughput_per_s",
    "break_even_steps",
    "break_even_note",
    "break_even_steps_warm",
    "break_even_warm_note",
    "overtakes_eager_at_step",
    "total_s",
    "steady_total_s",
    "steady_latency_ms",
    "compile_s",
    "distinct_shapes",
    "padding_waste",
    "n_steps",
    "compile_cache",
)
V1_NOT_APPLICABLE = "not applicable"


def upgrade_v1(data: dict) -> dict:
    """A schema-1 record in schema 2's terms (what it measured is kept as it was)."""
    # Schema 1 wrote every field from the start, null or [] until measured: "not reached".
    out = {k: v for k, v in data.items() if k not in V1_DERIVED and v is not None and v != []}
    out["schema_version"] = SCHEMA_VERSION
    if out.get("scenario") == "dynamic":
        out["scenario"] = "stream"
    if "threads_set" in out:
        out["framework_settings"] = out.pop("threads_set")
    error = out.get("error") or ""
    if out.get("status") == "skipped" and error.startswith(V1_NOT_APPLICABLE):
        out["status"] = Status.NOT_APPLICABLE.value
        out["error"] = error.removeprefix(V1_NOT_APPLICABLE).lstrip(": ") or None
    return out


# --- validation -----------------------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), f"a JSON {type(value).__name__}"
    )


def _require(data: dict, names: tuple[str, ...], where: str) -> None:
    missing = [n for n in names if n not in data]
    if missing:
        raise SchemaError(f"{where}: missing field(s) {', '.join(missing)}")


def _check_name(value: object, name: str, where: str) -> str:
    """A name that becomes part of a path: a plain string without separators."""
    if not isinstance(value, str) or not value or len(value) > 200:
        raise SchemaError(f"{where}: field {name!r}: expected a non-empty name, got {value!r:.60}")
    if "/" in value or "\\" in value or value in (".", "..") or "\x00" in value:
        raise SchemaError(f"{where}: field {name!r}: {value!r:.60} holds a path separator")
    return value


def _choices() -> dict[str, tuple[str, ...]]:
    """The names each identity field may hold, from the registries."""
    import models
    from bench import backends
    from bench.matrix import scenarios
    from bench.matrix.precision import PRECISIONS
    from bench.matrix.profiles import PROFILE_NAMES
    from bench.matrix.streams import STRATEGIES, STREAMS

    return {
        "scenario": scenarios.names(),
        "model": models.MODEL_NAMES,
        "profile": PROFILE_NAMES,
        "backend": tuple(backends.BACKENDS),
        "mode": MODES,
        "device": DEVICES,
        "precision": PRECISIONS,
        "strategy": STRATEGIES,
        "stream": tuple(STREAMS),
    }


def cell_from_json(data: dict, where: str) -> Cell:
    """The identity of a record or a matrix entry, every name checked against its registry
    (a user's model by the form of its name: its file is not read back)."""
    from models.suites import is_suite_name
    from models.user import is_user_name

    choices = _choices()
    values: dict[str, Any] = {}
    for name in IDENTITY_FIELDS:
        if name not in data:
            continue  # a default (precision float32, repetition 1, no stream)
        value = data[name]
        if name in ("batch_size", "repetition"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SchemaError(
                    f"{where}: field {name!r}: expected a positive integer, got {value!r:.60}"
                )
        elif value is None and name in ("strategy", "stream"):
            pass
        else:
            if not (name == "model" and is_suite_name(value)):  # hf/gpt2: one known "/"
                _check_name(value, name, where)
            if value not in choices[name] and not (name == "model" and is_user_name(value)):
                raise SchemaError(
                    f"{where}: field {name!r}: unknown {value!r:.60}; expected one of: "
                    f"{', '.join(choices[name])}"
                )
        values[name] = value
    return Cell(**values)


def _own_fields(group_cls: type[Group]) -> set[str]:
    """A group's fields that no other group has: their presence says the group was reached."""
    others = {f.name for g in GROUPS if g is not group_cls for f in fields(g)}
    return {f.name for f in fields(group_cls)} - others


def checked_fields(group_cls: type[Group], data: object, where: str) -> dict[str, Any]:
    """The fields of one group, each checked as on read (SchemaError names the wrong one);
    unknown names are refused. None or {}: no fields."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: expected a JSON object, got {_kind(data)}")
    known = {f.name: f for f in fields(group_cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SchemaError(f"{where}: unknown field(s) {', '.join(unknown)}")
    hints = typing.get_type_hints(group_cls)
    return {
        name: check_value(value, hints[name], known[name].metadata, name, where)
        for name, value in data.items()
        if value is not None or known[name].default_factory is MISSING
    }


def _group_from_json(group_cls: type[Group], data: dict, where: str) -> Any:
    """The group if the record holds any of its own fields, else None."""
    group_fields = fields(group_cls)
    if not any(name in data for name in _own_fields(group_cls)):
        return None
    hints = typing.get_type_hints(group_cls)
    values = {}
    for f in group_fields:
        if f.name not in data:
            continue
        if data[f.name] is None and f.default_factory is not MISSING:
            continue  # null for a list or an object: none (schema 1 wrote that)
        values[f.name] = check_value(data[f.name], hints[f.name], f.metadata, f.name, where)
    try:
        return group_cls(**values)
    except TypeError as exc:  # a required field (e.g. status) is missing
        raise SchemaError(f"{where}: {group_cls.NAME}: {exc}") from None


def check_value(value: Any, hint: Any, meta: Any, name: str, where: str) -> Any:
    def wrong(expected: str, got: Any) -> SchemaError:
        shown = repr(got)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return SchemaError(f"{where}: field {name!r}: expected {expected}, got {shown}")

    return _check(value, hint, meta or {}, wrong)


def _check(value: Any, hint: Any, meta: dict, wrong: Any) -> Any:
    """``value`` as ``hint`` says, or ``wrong(expected, value)`` raised."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check(value, inner, meta, wrong)
    if hint is Any:
        return value
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise wrong(f"one of {', '.join(m.value for m in hint)}", value) from None
    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true or false", value)
        return value
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 3e8 written by hand is still a whole number
        if not isinstance(value, int) or isinstance(value, bool):
            raise wrong("an integer", value)
        return _bounded(value, meta, wrong)
    if hint is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise wrong("a number", value)
        if not math.isfinite(value):
            raise wrong("a finite number", value)
        return _bounded(float(value), meta, wrong)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string", value)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise wrong("a list", value)
        (item,) = args
        return [_check(v, item, meta, wrong) for v in value]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise wrong("an object", value)
        _, item = args
        return {k: _check(v, item, {}, wrong) for k, v in value.items()}
    raise TypeError(f"no check for {hint!r}")  # a field of a type this module cannot check


def _bounded(value: float, meta: dict, wrong: Any) -> Any:
    low = meta.get("min")
    if low is not None and value < low:
        raise wrong(f"a number >= {low:g}", value)
    return value
