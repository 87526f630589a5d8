"""Every derived number: one pure function each, with its formula and the fields it reads.

A result (bench.results.record) holds what one worker measured; everything the summary, the
report, the citations and ``compare`` print that combines cells or is a formula over raw
samples is computed here, and nowhere else. Each function's docstring states its
formula and, on its ``Reads:`` line, the ``cells.jsonl`` fields it reads (the test
suite checks those are real fields). The report's column tooltips and figure captions
are written from these docstrings, beside the name of the function that computes the
number shown (report.measures). ``DEFINITIONS`` holds a short label and wording per
derived number, built from the same constants (e.g. the noise threshold), so a threshold
is never restated by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from enum import Enum

import numpy as np

from bench import backends
from bench.analysis.stats import Latency, bootstrap_ratio_ci, summarize
from bench.results.record import SLOW_WINDOW_SHARE, CellResult, Status
from bench.results.store import Run

TORCH_EAGER = "torch-eager"
# IQR / median above this marks a cell's latency as noisy.
NOISY_IQR_RATIO = 0.10
# So does a spread of the repetitions' medians ((max - min) / median) above this.
NOISY_REPEAT_SPREAD = 0.10
# The eager backend a stream cell is measured against is fed the stream as it comes.
EAGER_STRATEGY = "exact"
# A per-step gain counts for break-even only where this share of the bootstrap interval
# of the static/eager ratio lies below 1.
BREAK_EVEN_CONFIDENCE = 0.95
# A warm-up step has settled when it is no slower than this many times the steady median
# (or than the steady samples' p90, where they spread more).
SETTLE_FACTOR = 1.25
# A cell achieving more than this share of the device's measured peak FLOP/s is impossible.
IMPOSSIBLE_FRACTION = 1.0
# A median within this many times the harness floor (an empty synced step) is mostly the
# harness: the report says so.
FLOOR_MARGIN = 5.0


# --- one cell -------------------------------------------------------------------------


def step_samples_ms(r: CellResult) -> list[float]:
    """The steady-state step times of a cell, ms: the timed samples of a fixed-shape cell,
    the second pass of a stream (every shape already seen).

    Reads: samples_ms, steady_step_ms
    """
    if r.steady is not None:
        return r.steady.samples_ms
    if r.passes is not None:
        return r.passes.steady_step_ms
    return []


def latency(r: CellResult) -> Latency | None:
    """Median, mean, stdev, min, max, p10, p90, p99, IQR and n of the steady-state steps
    (ms); None for a cell that is not ok.

    Reads: status, samples_ms, steady_step_ms
    """
    samples = step_samples_ms(r)
    return summarize(samples) if r.ok and samples else None


def median_ms(r: CellResult) -> float | None:
    """The median steady-state step, ms (None for a cell that is not ok).

    Reads: status, samples_ms, steady_step_ms
    """
    lat = latency(r)
    return None if lat is None else lat.median


def is_noisy(r: CellResult) -> bool:
    """IQR / median of the timed samples > NOISY_IQR_RATIO (10%), or, for a cell measured in
    several repetitions, the spread of their medians (repetition_spread) above
    NOISY_REPEAT_SPREAD (10%). Only fixed-shape cells: a stream's steps differ in length by
    design, so their spread is not noise.

    Reads: status, samples_ms, repetition
    """
    if r.steady is None:
        return False
    lat = latency(r)
    if lat is None:
        return False
    spread = repetition_spread(r)
    return lat.iqr_ratio > NOISY_IQR_RATIO or (spread is not None and spread > NOISY_REPEAT_SPREAD)


# --- a cell measured in several repetitions (--repeats K) -------------------------------


@dataclass(frozen=True)
class Pooled(CellResult):
    """A cell measured in K repetitions (each in fresh processes), read as one cell. Never
    stored: made on read by pool_repetitions; ``repetitions`` are the stored records."""

    repetitions: tuple[CellResult, ...] = ()


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else None


def pool_repetitions(results: Iterable[CellResult]) -> list[CellResult]:
    """One result per cell: a cell run once is itself; a cell run in K repetitions is a
    Pooled result over its ok repetitions (all of them where none is ok), in the order the
    cells first appear. Pooled: the steady samples of every repetition together (each
    repetition's are stored apart), the pipelined steps and seconds summed, the build, first
    call and warm first call their medians (each repetition started cold, in new processes),
    the largest parity error and peak memory, the highest contention; the rest (setup, GPU,
    process, a stream's first pass) from the first repetition. Its status is ok when any
    repetition is ok (ok_repetitions says how many).

    Reads: repetition, status, samples_ms, steady_step_ms, pipeline_steps, pipeline_s,
    build_s, first_call_s, first_call_warm_s, parity_max_rel_err, peak_host_rss_bytes,
    peak_device_bytes, steady_peak_device_bytes, contention, contended
    """
    groups: dict[tuple, list[CellResult]] = {}
    for r in results:
        groups.setdefault(r.cell.workload(), []).append(r)
    return [reps[0] if len(reps) == 1 else _pooled(reps) for reps in groups.values()]


def _pooled(reps: list[CellResult]) -> Pooled:
    reps = sorted(reps, key=lambda r: r.cell.repetition)
    use = [r for r in reps if r.ok] or reps
    base = use[0]
    pooled = {f.name: getattr(base, f.name) for f in fields(CellResult)}
    pooled["cell"] = replace(base.cell, repetition=1)  # the cell, not one of its repetitions
    if base.steady is not None:
        steadies = [r.steady for r in use if r.steady is not None]
        pooled["steady"] = replace(
            base.steady,
            samples_ms=[x for s in steadies for x in s.samples_ms],
            pipeline_steps=sum(s.pipeline_steps or 0 for s in steadies) or None,
            pipeline_s=sum(s.pipeline_s or 0.0 for s in steadies) or None,
        )
    if base.passes is not None:
        steps = [x for r in use if r.passes is not None for x in r.passes.steady_step_ms]
        pooled["passes"] = replace(base.passes, steady_step_ms=steps)
    if base.build is not None:
        build = _median(r.build.build_s for r in use if r.build)
        pooled["build"] = replace(
            base.build, build_s=base.build.build_s if build is None else build
        )
    if base.first_call is not None:
        first = _median(r.first_call.first_call_s for r in use if r.first_call)
        pooled["first_call"] = replace(
            base.first_call, first_call_s=base.first_call.first_call_s if first is None else first
        )
    if base.warm is not None and base.warm.first_call_warm_s is not None:
        warm = _median(r.warm.first_call_warm_s for r in use if r.warm)
        pooled["warm"] = replace(base.warm, first_call_warm_s=warm)
    if base.parity is not None:
        errors = [r.parity.parity_max_rel_err for r in use if r.parity]
        worst = None if None in errors else max(e for e in errors if e is not None)
        pooled["parity"] = replace(base.parity, parity_max_rel_err=worst)
    if base.memory is not None:
        host = [r.memory.peak_host_rss_bytes for r in use if r.memory]
        device = [r.memory.peak_device_bytes for r in use if r.memory]
        steady = [r.memory.steady_peak_device_bytes for r in use if r.memory]
        pooled["memory"] = replace(
            base.memory,
            peak_host_rss_bytes=max((v for v in host if v is not None), default=None),
            peak_device_bytes=max((v for v in device if v is not None), default=None),
            steady_peak_device_bytes=max((v for v in steady if v is not None), default=None),
        )
    watched = [r.contention for r in use if r.contention and r.contention.contention is not None]
    if watched:
        pooled["contention"] = max(watched, key=lambda c: c.contention or 0.0)
    return Pooled(**pooled, repetitions=tuple(reps))


def ok_repetitions(r: CellResult) -> tuple[int, int]:
    """(ok repetitions, repetitions) of a cell: (1, 1) or (0, 1) for a cell run once.

    Reads: repetition, status
    """
    if isinstance(r, Pooled):
        return sum(x.ok for x in r.repetitions), len(r.repetitions)
    return int(r.ok), 1


def repetition_medians(r: CellResult) -> list[float]:
    """The median step of each ok repetition, in repetition order ([] for a cell run once).

    Reads: repetition, status, samples_ms, steady_step_ms
    """
    if not isinstance(r, Pooled):
        return []
    return [m for x in r.repetitions if (m := median_ms(x)) is not None]


def repetition_spread(r: CellResult) -> float | None:
    """(max − min) / median of the repetitions' medians: how much K fresh processes
    disagree, beside the within-process IQR. None for a cell with fewer than two ok
    repetitions.

    Reads: repetition, status, samples_ms, steady_step_ms
    """
    medians = repetition_medians(r)
    if len(medians) < 2:
        return None
    return (max(medians) - min(medians)) / float(np.median(medians))


def is_contended(r: CellResult) -> bool:
    """Other processes used more than bench.results.record.CONTENDED_SHARE of the cores the cell's
    worker was pinned to while it took its samples (any repetition, for a pooled cell).

    Reads: contended
    """
    return bool(r.contention is not None and r.contention.contended)


def sentinel_ms(r: CellResult) -> float | None:
    """The cell's sentinel time (bench.worker.sentinel), ms: the slower of its timings right
    before and right after the samples (a slow window that starts or ends during the
    samples slows one of the two). For a cell pooled over repetitions, its slowest
    repetition's. None where the samples were not taken.

    Reads: sentinel_before_ms, sentinel_after_ms
    """
    reps = getattr(r, "repetitions", None) or [r]
    times = [
        max(x.sentinel.sentinel_before_ms, x.sentinel.sentinel_after_ms)
        for x in reps
        if x.sentinel is not None
        and x.sentinel.sentinel_before_ms is not None
        and x.sentinel.sentinel_after_ms is not None
    ]
    return max(times) if times else None


def sentinel_reference_ms(results: Iterable[CellResult]) -> float | None:
    """The run's sentinel reference, ms: the median of its cells' sentinel times (run.json
    ``sentinel.median_ms`` keeps it as the run computed it).

    Reads: sentinel_before_ms, sentinel_after_ms
    """
    times = [t for r in results if (t := sentinel_ms(r)) is not None]
    return float(np.median(times)) if times else None


def run_sentinel_ms(run: Run) -> float | None:
    """The reference a run's cells are set against: the median run.json kept as the run
    computed it (over the cells' first measurements), or, for a run that has none (older, or
    stopped before its end), the median of its records.

    Reads: sentinel_before_ms, sentinel_after_ms
    """
    stored = run.meta.progress.sentinel_median_ms
    return stored if stored is not None else sentinel_reference_ms(run.results)


def slow_window_ratio(r: CellResult, reference_ms: float | None) -> float | None:
    """How much slower the cell's sentinel ran than the run's: sentinel time / the run's
    median sentinel time (1 is the run's typical speed).

    Reads: sentinel_before_ms, sentinel_after_ms
    """
    own = sentinel_ms(r)
    if own is None or not reference_ms:
        return None
    return own / reference_ms


def is_slow_window(r: CellResult, reference_ms: float | None) -> bool:
    """The cell was measured in a slow window: its sentinel ran more than
    bench.results.record.SLOW_WINDOW_SHARE slower than the run's median.

    Reads: sentinel_before_ms, sentinel_after_ms
    """
    ratio = slow_window_ratio(r, reference_ms)
    return ratio is not None and ratio > 1 + SLOW_WINDOW_SHARE


def throughput_per_s(r: CellResult) -> float | None:
    """Examples per second of back-to-back steps with one sync at the end:
    pipeline_steps * batch_size / pipeline_s.

    Reads: status, pipeline_steps, pipeline_s, batch_size
    """
    s = r.steady
    if not r.ok or s is None or not s.pipeline_steps or not s.pipeline_s:
        return None
    return s.pipeline_steps * r.cell.batch_size / s.pipeline_s


def achieved_flops_per_s(r: CellResult) -> float | None:
    """The model's analytic FLOPs per step over the median step: flops_per_step / median s.

    Reads: status, flops_per_step, samples_ms
    """
    median = median_ms(r)
    flops = r.build.flops_per_step if r.build else None
    if median is None or not flops or median <= 0:
        return None
    return flops / (median / 1e3)


def peak_flops_per_s(device_peak: object, precision: str, device: str) -> float | None:
    """The device's measured peak FLOP/s for a precision (run.json's ``device_peak``, measured
    by bench.worker.peak at the start of the run: the best of several large matrix multiplies
    in
    the precision's matmul mode, or in float32 where that is faster); None where the run
    measured none for this precision and device."""
    if not isinstance(device_peak, dict) or device_peak.get("device") != device:
        return None
    value = (device_peak.get("flops_per_s") or {}).get(precision)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def fraction_of_peak(r: CellResult, device_peak: object) -> float | None:
    """achieved_flops_per_s / the measured peak of the cell's precision on its device
    (peak_flops_per_s, from run.json's device_peak): 0.25 is a quarter of what the device
    did in a large matmul. Fixed-shape cells only (a stream's FLOP count is for one
    length); None where either is unknown.

    Reads: status, flops_per_step, samples_ms, precision, device
    """
    achieved = achieved_flops_per_s(r) if r.steady is not None else None
    peak = peak_flops_per_s(device_peak, r.cell.precision, r.cell.device)
    return None if achieved is None or peak is None else achieved / peak


def impossible(r: CellResult, device_peak: object) -> bool:
    """fraction_of_peak > IMPOSSIBLE_FRACTION (1.0): the cell claims more arithmetic per
    second than the device did in a large matmul of its precision: its timing (a step that
    did not wait for the device) or its FLOP count is wrong, or the peak was measured on a
    busy machine.

    Reads: status, flops_per_step, samples_ms, precision, device
    """
    fraction = fraction_of_peak(r, device_peak)
    return fraction is not None and fraction > IMPOSSIBLE_FRACTION


@dataclass(frozen=True)
class Spread:
    """The smallest, median and largest of a counter's readings."""

    min: float
    median: float
    max: float


# The GPU counters sampled during the samples (bench.nvml.ProcessSampler), by what they are.
GPU_SAMPLED = {
    "SM clock MHz": "gpu_sm_clock_samples_mhz",
    "memory clock MHz": "gpu_memory_clock_samples_mhz",
    "power W": "gpu_power_samples_w",
    "GPU utilisation %": "gpu_utilization_samples_pct",
    "memory utilisation %": "gpu_memory_utilization_samples_pct",
}


def gpu_during_samples(r: CellResult) -> dict[str, Spread]:
    """Min, median and max of each GPU counter NVML read (every 100 ms) while the cell's
    samples ran; a counter with no reading is left out.

    Reads: gpu_sm_clock_samples_mhz, gpu_memory_clock_samples_mhz, gpu_power_samples_w,
    gpu_utilization_samples_pct, gpu_memory_utilization_samples_pct
    """
    g = r.gpu
    if g is None:
        return {}
    out = {}
    for label, name in GPU_SAMPLED.items():
        values = getattr(g, name)
        if values:
            out[label] = Spread(float(min(values)), float(np.median(values)), float(max(values)))
    return out


def energy_per_step_j(r: CellResult) -> float | None:
    """Joules the GPU used per step while the samples ran: gpu_samples_energy_mj / 1000 /
    the steps between the energy counter's two readings (a fixed-shape cell's timed samples
    and pipelined steps; a stream's second pass). None where the GPU has no total-energy
    counter.

    Reads: status, gpu_samples_energy_mj, samples_ms, pipeline_steps, steady_step_ms
    """
    g = r.gpu
    if not r.ok or g is None or g.gpu_samples_energy_mj is None:
        return None
    if r.steady is not None:
        steps = len(r.steady.samples_ms) + (r.steady.pipeline_steps or 0)
    else:
        steps = len(r.passes.steady_step_ms) if r.passes is not None else 0
    return g.gpu_samples_energy_mj / 1000 / steps if steps else None


def execution_style(r: CellResult) -> str:
    """``eager``, ``jit`` (a graph traced and compiled in the process that runs it) or
    ``aot`` (an artefact built ahead of time and loaded), from the backend's registry entry.

    Reads: backend
    """
    info = backends.get(r.cell.backend)
    if info.artifact is not None:
        return "aot"
    return "jit" if info.static else "eager"


def settle_steps(warmup_ms: list[float], samples_ms: list[float]) -> int:
    """How many warm-up steps the step time took to settle: the number of warm-up steps
    before the first one from which every warm-up step is at most max(SETTLE_FACTOR x
    median(samples), p90(samples)); all of them where the last is still slower (it settled
    only by the timed samples)."""
    if not warmup_ms or not samples_ms:
        return len(warmup_ms)
    bound = max(SETTLE_FACTOR * float(np.median(samples_ms)), float(np.percentile(samples_ms, 90)))
    settled = len(warmup_ms)
    for i in range(len(warmup_ms) - 1, -1, -1):
        if warmup_ms[i] > bound:
            break
        settled = i
    return settled


def time_to_steady_state(r: CellResult, warm: bool = False) -> float | None:
    """From nothing to steady steps: ``time_to_first_result`` plus the warm-up steps until the
    step time settles (``settle_steps``), where CUDA graphs are recorded, autotuners try
    their candidates and a profiling JIT optimises. Warm: the warm worker's own start and
    warm-up, settled against the cold worker's samples.

    Reads: build_s, first_call_s, warmup_ms, build_warm_s, first_call_warm_s,
    warmup_warm_ms, samples_ms
    """
    start = time_to_first_result(r, warm)
    samples = step_samples_ms(r)
    if start is None or r.steady is None:
        return start
    warmup = r.warm.warmup_warm_ms if warm and r.warm else r.steady.warmup_ms
    return start + sum(warmup[: settle_steps(warmup, samples)]) / 1e3


def time_to_first_result(
    r: CellResult, warm: bool = False, with_artifact_build: bool = False
) -> float | None:
    """Seconds from a new process's build (or load) to its first correct output, for each
    of the three execution styles:

    - eager and just-in-time, cold: build_s + first_call_s (the first call traces and
      compiles, from empty compile caches);
    - just-in-time, warm: build_warm_s + first_call_warm_s (a new process that finds the
      compile cache the cold one left);
    - ahead of time (an ``artifact`` group): load_s + load_first_call_s, the cold-start
      worker's, a new process that loads the artefact built once before (cold or warm:
      the artefact is what persists); ``with_artifact_build`` adds artifact_build_s, the
      very first result, when the artefact must be built too.

    None where not measured.

    Reads: build_s, first_call_s, build_warm_s, first_call_warm_s, artifact_build_s, load_s,
    load_first_call_s
    """
    a = r.artifact
    if a is not None:
        if a.load_s is None or a.load_first_call_s is None:
            return None
        start = a.load_s + a.load_first_call_s
        if not with_artifact_build:
            return start
        return None if a.artifact_build_s is None else a.artifact_build_s + start
    if warm:
        if r.warm is None or r.warm.build_warm_s is None or r.warm.first_call_warm_s is None:
            return None
        return r.warm.build_warm_s + r.warm.first_call_warm_s
    if r.build is None or r.first_call is None:
        return None
    return r.build.build_s + r.first_call.first_call_s


# --- a cell against its baseline ------------------------------------------------------


class Baselines:
    """The cells of a run by block and backend: whom each cell is compared with.

    A block is a cell's identity but its backend, strategy and repetition
    (``Cell.block``): the same model, mode, device, batch size, precision and stream.
    """

    def __init__(self, results: Iterable[CellResult]):
        self._by_key: dict[tuple, CellResult] = {}
        self._by_workload: dict[tuple, CellResult] = {}
        for r in results:
            self._by_workload.setdefault(r.cell.workload(), r)
            if r.cell.strategy not in (None, EAGER_STRATEGY):
                continue  # baselines are fed fixed shapes, or a stream as it comes
            self._by_key.setdefault((r.cell.block(), r.cell.backend), r)

    def get(self, r: CellResult, backend: str) -> CellResult | None:
        return self._by_key.get((r.cell.block(), backend))

    def eager(self, r: CellResult) -> CellResult | None:
        """The same framework's eager cell in r's block (None where it was not run); a Keras
        cell's: the eager Keras backend on the same KERAS_BACKEND."""
        return self.get(r, backends.eager_counterpart(r.cell.backend))

    def torch_eager(self, r: CellResult) -> CellResult | None:
        return self.get(r, TORCH_EAGER)

    def float32(self, r: CellResult) -> CellResult | None:
        """The same cell (backend, strategy and all) at float32: what a precision is set
        against."""
        return self._by_workload.get(replace(r.cell, precision="float32").workload())


def peak_memory(r: CellResult) -> tuple[int | None, str | None]:
    """(peak bytes, counter) of a cell's steps: on a GPU the framework allocator's steady
    peak (after the reset at the end of the warm-up; JAX, which cannot reset: its bytes in
    use after the timed steps), or where a record has none (written before it was measured)
    its lifetime peak; on the CPU the worker's host VmHWM.

    Reads: device, steady_peak_device_bytes, steady_device_memory_counter,
    peak_device_bytes, device_memory_counter, peak_host_rss_bytes, host_memory_counter
    """
    m = r.memory
    if m is None:
        return None, None
    if r.cell.device == "cpu":
        return m.peak_host_rss_bytes, m.host_memory_counter
    if m.steady_peak_device_bytes is not None:
        return m.steady_peak_device_bytes, m.steady_device_memory_counter
    return m.peak_device_bytes, m.device_memory_counter


def speedup_vs_float32(r: CellResult, baselines: Baselines) -> float | None:
    """``speedup`` of a reduced precision over the same backend at float32 (same cell but its
    precision): float32 median / this median. None for float32 cells.

    Reads: precision, status, samples_ms, steady_step_ms (of r and its float32 cell)
    """
    if r.cell.precision == "float32":
        return None
    return speedup(baselines.float32(r), r)


def memory_saved_vs_float32(r: CellResult, baselines: Baselines) -> float | None:
    """1 - this cell's peak memory / the same backend's at float32 (``peak_memory``, one
    counter): 0.4 is 40% less memory. None for float32 cells or where either is missing.

    Reads: precision, status, device, peak_device_bytes, peak_host_rss_bytes (of r and its
    float32 cell)
    """
    base = baselines.float32(r)
    if r.cell.precision == "float32" or base is None or not base.ok or not r.ok:
        return None
    mine, theirs = peak_memory(r)[0], peak_memory(base)[0]
    return 1 - mine / theirs if mine and theirs else None


def memory_vs_eager(r: CellResult, baselines: Baselines) -> float | None:
    """The same framework's eager peak memory / this cell's (``peak_memory``, the same counter
    for both): above 1, this backend needs less memory than eager. None unless both ok.

    Reads: status, device, peak_device_bytes, peak_host_rss_bytes (of r and its eager cell)
    """
    eager = baselines.eager(r)
    if eager is None or not eager.ok or not r.ok:
        return None
    mine, base = peak_memory(r)[0], peak_memory(eager)[0]
    return base / mine if mine and base else None


def near_floor(r: CellResult, floor_us: float | None) -> bool:
    """The median step is within FLOOR_MARGIN times the harness floor (an empty synced step,
    measured per run and framework by bench.worker.probe): much of it is the harness's own
    cost.

    Reads: status, samples_ms, steady_step_ms
    """
    median = median_ms(r)
    return bool(floor_us and median is not None and median * 1e3 < FLOOR_MARGIN * floor_us)


def speedup(baseline: CellResult | None, r: CellResult) -> float | None:
    """Baseline median / this median: 2.0 is twice as fast, 0.5 half as fast. None unless
    both are ok.

    Reads: status, samples_ms, steady_step_ms (of both cells)
    """
    if baseline is None:
        return None
    base, mine = median_ms(baseline), median_ms(r)
    if base is None or mine is None or mine <= 0:
        return None
    return base / mine


def speedup_vs_eager(r: CellResult, baselines: Baselines) -> float | None:
    """``speedup`` against the same framework's eager backend in the same block: its
    median / this median (above 1 is faster).

    Reads: status, samples_ms, steady_step_ms (of r and of its eager cell)
    """
    return speedup(baselines.eager(r), r)


def speedup_vs_torch_eager(r: CellResult, baselines: Baselines) -> float | None:
    """``speedup`` against torch-eager in the same block: torch-eager's median / this
    median, one scale for every framework.

    Reads: status, samples_ms, steady_step_ms (of r and of the torch-eager cell)
    """
    return speedup(baselines.torch_eager(r), r)


class BreakEvenKind(Enum):
    STEPS = "steps"  # pays back after ``steps`` steps
    AHEAD = "ahead"  # faster per step and starts no later: 0 steps
    NOT_FASTER = "not faster"  # its steps are not faster than eager's: never
    WITHIN_NOISE = "within noise"  # faster by less than the noise: never
    NO_BASELINE = "no baseline"  # no ok eager cell in the block
    NOT_MEASURED = "not measured"  # a start or the samples are missing


@dataclass(frozen=True)
class BreakEven:
    kind: BreakEvenKind
    steps: int | None = None  # STEPS and AHEAD only
    ratio: float | None = None  # static median / eager median, with its interval
    low: float | None = None
    high: float | None = None

    @property
    def never(self) -> bool:
        return self.kind in (BreakEvenKind.NOT_FASTER, BreakEvenKind.WITHIN_NOISE)

    def value(self) -> float:
        """Steps as a number for tables and figures: inf for never, NaN where unknown."""
        if self.steps is not None:
            return float(self.steps)
        return math.inf if self.never else math.nan

    def text(self) -> str:
        """What a reader is told, e.g. ``1,700 steps`` or ``never: not faster per step``."""
        if self.kind is BreakEvenKind.STEPS:
            return f"{self.steps:,} steps"
        if self.kind is BreakEvenKind.AHEAD:
            return "0 steps: starts no slower and runs faster"
        if self.kind is BreakEvenKind.NOT_FASTER:
            return "never: not faster per step than eager"
        if self.kind is BreakEvenKind.WITHIN_NOISE:
            return (
                f"never: per-step gain within the noise: static/eager median {self.ratio:.3f}, "
                f"{BREAK_EVEN_CONFIDENCE:.0%} CI {self.low:.3f}-{self.high:.3f}"
            )
        return self.kind.value


def steps_to_break_even(
    static_start_s: float, eager_start_s: float, static_step_ms: float, eager_step_ms: float
) -> float:
    """Whole steps n until static_start + n * static_step <= eager_start + n * eager_step:
    ceil((static_start - eager_start) / (eager_step - static_step)); inf if the static
    steps are not faster; 0 if they are and it also starts no later."""
    saved_per_step_s = (eager_step_ms - static_step_ms) / 1e3
    if not saved_per_step_s > 0:
        return math.inf
    extra_start_s = static_start_s - eager_start_s
    return 0.0 if extra_start_s <= 0 else float(math.ceil(extra_start_s / saved_per_step_s))


def break_even(static: CellResult, eager: CellResult | None, warm: bool = False) -> BreakEven:
    """When a static backend has paid back its start against its framework's eager one.

    After n steps both have spent the same time when
    static_start + n * static_median = eager_start + n * eager_median, start =
    ``time_to_steady_state`` (cold, or the static cell's warm start with ``warm``; eager
    keeps no compile cache, so its cold start serves both). A per-step gain counts only
    when it is measurable: the bootstrap 95% interval of the static/eager ratio of medians
    lies wholly below 1; otherwise it is never (a gain inside the noise would turn into
    millions of steps that are no more than chance).

    Reads: status, build_s, first_call_s, warmup_ms, build_warm_s, first_call_warm_s,
    warmup_warm_ms, samples_ms (of both cells)
    """
    if eager is None or not eager.ok:
        return BreakEven(BreakEvenKind.NO_BASELINE)
    static_start = time_to_steady_state(static, warm)
    eager_start = time_to_steady_state(eager)
    static_samples, eager_samples = step_samples_ms(static), step_samples_ms(eager)
    if not static.ok or static_start is None or eager_start is None or not static_samples:
        return BreakEven(BreakEvenKind.NOT_MEASURED)
    ratio, low, high = bootstrap_ratio_ci(
        eager_samples, static_samples, confidence=BREAK_EVEN_CONFIDENCE
    )
    if ratio >= 1:
        return BreakEven(BreakEvenKind.NOT_FASTER, ratio=ratio, low=low, high=high)
    if high >= 1:
        return BreakEven(BreakEvenKind.WITHIN_NOISE, ratio=ratio, low=low, high=high)
    steps = steps_to_break_even(
        static_start, eager_start, float(np.median(static_samples)), float(np.median(eager_samples))
    )
    kind = BreakEvenKind.AHEAD if steps == 0 else BreakEvenKind.STEPS
    return BreakEven(kind, int(steps), ratio, low, high)


# --- a stream of varying shapes -------------------------------------------------------


def total_s(r: CellResult) -> float | None:
    """The first pass's wall time over the whole stream, every compilation included:
    sum(step_ms) / 1000.

    Reads: status, step_ms
    """
    if not r.ok or r.passes is None or not r.passes.step_ms:
        return None
    return float(sum(r.passes.step_ms)) / 1e3


def compile_s(r: CellResult) -> float | None:
    """Time the stream spent (re)compiling: max(0, sum(step_ms) - sum(steady_step_ms)) / 1000,
    first pass minus second pass (every shape already seen); None for eager backends,
    which build no graphs.

    Reads: status, backend, step_ms, steady_step_ms
    """
    total = total_s(r)
    if total is None or not backends.get(r.cell.backend).static or r.passes is None:
        return None
    return max(0.0, total - float(sum(r.passes.steady_step_ms)) / 1e3)


def compile_share(r: CellResult) -> float | None:
    """compile_s / total_s: the share of the stream's wall time spent compiling.

    Reads: status, backend, step_ms, steady_step_ms
    """
    total, compiling = total_s(r), compile_s(r)
    if total is None or compiling is None or total <= 0:
        return None
    return compiling / total


def distinct_shapes(r: CellResult) -> int | None:
    """How many sequence lengths the backend was fed: len(set(fed_lengths)).

    Reads: fed_lengths
    """
    return None if r.passes is None else len(set(r.passes.fed_lengths))


def padding_waste(r: CellResult) -> float | None:
    """The share of the positions fed that are padding: 1 - sum(lengths) / sum(fed_lengths).

    Reads: lengths, fed_lengths
    """
    if r.passes is None or not r.passes.fed_lengths:
        return None
    return float(1.0 - sum(r.passes.lengths) / sum(r.passes.fed_lengths))


def last_compile_step(r: CellResult) -> int | None:
    """The (1-based) step of the first pass at which the framework last compiled.

    Reads: compiled_at
    """
    if r.passes is None or not r.passes.compiled_at:
        return None
    return r.passes.compiled_at[-1] + 1


class OvertakeKind(Enum):
    AT_STEP = "at step"
    NEVER = "never"  # still behind at the end of the stream
    IS_BASELINE = "baseline"  # the eager cell others are measured against
    NOT_STATIC = "eager"  # an eager backend's other strategies: nothing to pay back
    NO_BASELINE = "no baseline"
    BASELINE_NOT_OK = "baseline not ok"
    STREAMS_DIFFER = "streams differ"
    NOT_OK = "not ok"


@dataclass(frozen=True)
class Overtaking:
    kind: OvertakeKind
    step: int | None = None
    baseline: str = ""  # the eager backend
    baseline_status: str = ""

    def value(self) -> float:
        return float(self.step) if self.step is not None else math.nan

    def text(self) -> str:
        if self.kind is OvertakeKind.AT_STEP:
            return f"{self.step:,}"
        if self.kind is OvertakeKind.NO_BASELINE:
            return f"no {self.baseline} {EAGER_STRATEGY} cell"
        if self.kind is OvertakeKind.BASELINE_NOT_OK:
            return f"{self.baseline} {EAGER_STRATEGY} is {self.baseline_status}"
        if self.kind in (OvertakeKind.NOT_STATIC, OvertakeKind.NOT_OK):
            return ""
        return self.kind.value


def overtaking_step(eager_step_ms: Sequence[float], static_step_ms: Sequence[float]) -> int | None:
    """The (1-based) step from which cumsum(static) <= cumsum(eager) to the end of the
    stream; None if the static backend is still behind at the end."""
    if len(eager_step_ms) != len(static_step_ms):
        raise ValueError("the two cells were fed streams of different lengths")
    behind = np.cumsum(static_step_ms) > np.cumsum(eager_step_ms)
    if behind.size == 0 or behind[-1]:
        return None
    last_behind = np.flatnonzero(behind)
    return 1 if last_behind.size == 0 else int(last_behind[-1]) + 2


def overtaking(r: CellResult, baselines: Baselines) -> Overtaking:
    """The step from which a static backend's cumulative wall time over a stream stays at or
    below its framework's eager backend fed the same stream as it comes (``exact``), to
    the end: ``overtaking_step`` over the two cells' first-pass step times (compilations
    included).

    Reads: status, backend, strategy, step_ms (of r and of its eager cell)
    """
    eager_name = backends.eager_counterpart(r.cell.backend)
    if not r.ok or r.passes is None:
        return Overtaking(OvertakeKind.NOT_OK, baseline=eager_name)
    if not backends.get(r.cell.backend).static:
        kind = (
            OvertakeKind.IS_BASELINE
            if r.cell.strategy == EAGER_STRATEGY
            else OvertakeKind.NOT_STATIC
        )
        return Overtaking(kind, baseline=eager_name)
    eager = baselines.eager(r)
    if eager is None:
        return Overtaking(OvertakeKind.NO_BASELINE, baseline=eager_name)
    if not eager.ok or eager.passes is None:
        status = str(eager.status)
        return Overtaking(OvertakeKind.BASELINE_NOT_OK, baseline=eager_name, baseline_status=status)
    try:
        step = overtaking_step(eager.passes.step_ms, r.passes.step_ms)
    except ValueError:
        return Overtaking(OvertakeKind.STREAMS_DIFFER, baseline=eager_name)
    if step is None:
        return Overtaking(OvertakeKind.NEVER, baseline=eager_name)
    return Overtaking(OvertakeKind.AT_STEP, step, baseline=eager_name)


# --- across cells ---------------------------------------------------------------------


def geomean(values: Iterable[float | None]) -> float | None:
    """exp(mean(log(v))) over the finite, positive values; None where there are none.
    Slowdowns stay below 1: nothing is clipped."""
    finite = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(finite)))) if finite else None


def pass_count(statuses: Iterable[object]) -> tuple[int, int]:
    """The pass rate as (ok cells, cells run) of some cells' statuses: ok / run, a cell
    whose combination does not apply (not-applicable) not counted as run.

    Reads: status
    """
    run = [str(s) for s in statuses if str(s) != Status.NOT_APPLICABLE.value]
    return sum(s == Status.OK.value for s in run), len(run)


def ok_share(results: Sequence[CellResult]) -> float:
    """The pass rate: ok cells / cells run (``pass_count``, not-applicable ones left out).

    Reads: status
    """
    ok, run = pass_count(r.status for r in results)
    return ok / run if run else math.nan


# --- words for the report and the summary ---------------------------------------------


@dataclass(frozen=True)
class Definition:
    """A derived number as the report explains it: label, what it is, who computes it."""

    label: str
    text: str
    function: str  # bench.analysis.metrics.<name>

    def help(self) -> str:
        return f"{self.text} (computed by {self.function})"


def _d(label: str, text: str, function: object) -> Definition:
    return Definition(label, text, f"bench.analysis.metrics.{function.__name__}")  # type: ignore[attr-defined]


DEFINITIONS: dict[str, Definition] = {
    "median": _d("median ms", "median of the timed steps", median_ms),
    "latency": _d("latency", "percentiles of the timed steps, linearly interpolated", latency),
    "noisy": _d(
        "noisy",
        f"interquartile range over {NOISY_IQR_RATIO:.0%} of the median, or repetitions' "
        f"medians spread over {NOISY_REPEAT_SPREAD:.0%}",
        is_noisy,
    ),
    "contended": _d(
        "contended",
        "other processes used more than bench.results.record.CONTENDED_SHARE of the cores the "
        "worker was pinned to while it took its samples (/proc/stat against its own CPU time)",
        is_contended,
    ),
    "slow_window": _d(
        "slow window",
        "the cell's sentinel (a fixed NumPy workload timed right before and after its "
        f"samples) ran more than {SLOW_WINDOW_SHARE:.0%} slower than the run's median "
        "sentinel: the machine was slow while it measured",
        is_slow_window,
    ),
    "repetition_spread": _d(
        "repetition spread",
        "(max − min) / median of the repetitions' medians (--repeats)",
        repetition_spread,
    ),
    "throughput": _d(
        "examples/s",
        "pipelined throughput: back-to-back steps with one sync at the end, "
        "steps × batch / seconds",
        throughput_per_s,
    ),
    "vs_eager": _d(
        "vs eager",
        "the same framework's eager median / this median (above 1 is faster)",
        speedup_vs_eager,
    ),
    "vs_torch_eager": _d(
        "vs torch-eager", "torch-eager's median / this median", speedup_vs_torch_eager
    ),
    "break_even": _d(
        "break-even steps",
        "steps until (static start − eager start) is paid back by (eager median − static "
        "median), start = build + first call + the warm-up steps until the step time "
        f"settles; never where the per-step gain is not outside the "
        f"{BREAK_EVEN_CONFIDENCE:.0%} bootstrap interval",
        break_even,
    ),
    "first_result": _d(
        "to first result s",
        "a new process's build and first call (eager, and just-in-time cold or warm), or "
        "for an ahead-of-time backend its cold-start worker's load of the artefact and first "
        "call (the artefact's build, paid once, apart)",
        time_to_first_result,
    ),
    "steady_start": _d(
        "to steady state s",
        "build + first call + the warm-up steps until the step time settles (within "
        f"{SETTLE_FACTOR:g}× the median or the p90 of the samples): the start a job pays",
        time_to_steady_state,
    ),
    "memory_vs_eager": _d(
        "eager / this peak memory",
        "the same framework's eager peak memory over this backend's, same counter: above 1 "
        "this backend needs less",
        memory_vs_eager,
    ),
    "vs_float32": _d(
        "vs float32",
        "the same backend's float32 median / this median: what the precision buys",
        speedup_vs_float32,
    ),
    "memory_saved": _d(
        "memory saved",
        "1 − this peak memory / the same backend's at float32 (one counter)",
        memory_saved_vs_float32,
    ),
    "near_floor": _d(
        "near the floor",
        f"median within {FLOOR_MARGIN:g}× the harness floor (an empty synced step): much of "
        "it is the timer and the sync, not the model",
        near_floor,
    ),
    "flops": _d(
        "GFLOP/s", "the model's analytic FLOPs per step / median step time", achieved_flops_per_s
    ),
    "fraction_of_peak": _d(
        "% of peak",
        "achieved FLOP/s / the device's peak FLOP/s for the cell's precision, measured at the "
        "start of the run (run.json device_peak: the best of several large matrix multiplies, "
        "bench.worker.peak)",
        fraction_of_peak,
    ),
    "impossible": _d(
        "impossible",
        f"above {IMPOSSIBLE_FRACTION:.0%} of the measured peak: more arithmetic per second "
        "than the device did in a large matmul, so the step's timing or its FLOP count is "
        "wrong (or the peak was measured on a busy machine)",
        impossible,
    ),
    "energy_per_step": _d(
        "J/step",
        "GPU energy per step during the samples: NVML's total-energy counter's difference "
        "over the timed and pipelined steps / their number",
        energy_per_step_j,
    ),
    "gpu_during_samples": _d(
        "GPU during samples",
        "min, median and max of the SM and memory clocks, power draw and utilisation NVML "
        "read every 100 ms while the samples ran",
        gpu_during_samples,
    ),
    "total_s": _d(
        "total s", "the whole stream's wall time, first pass, compilations included", total_s
    ),
    "compile_s": _d(
        "compile s", "first-pass total − second-pass total (every shape already seen)", compile_s
    ),
    "compile_share": _d("compile share", "compile s / total s", compile_share),
    "steady_ms": _d("steady ms", "median step of the second pass: no compilation left", median_ms),
    "padding": _d(
        "padding", "padded positions / positions fed (bucket strategy only)", padding_waste
    ),
    "shapes": _d("shapes", "distinct sequence lengths the backend was fed", distinct_shapes),
    "overtakes": _d(
        "overtakes eager at step",
        "the step from which this backend's cumulative time stays at or below its framework's "
        f"eager backend ({EAGER_STRATEGY}) to the end of the stream; never: still behind at "
        "the end",
        overtaking,
    ),
    "geomean": _d("geomean", "geometric mean of the speedups over the covered workloads", geomean),
    "pass_rate": _d("pass rate", "ok cells / cells run", ok_share),
}
