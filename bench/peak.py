"""What the device can do: its measured peak, once per run, before any cell.

``python -m bench.peak FRAMEWORK DEVICE THREADS PRECISIONS`` runs in one framework's own
interpreter (the parent's, or the one ``--python`` names), pinned to the run's CPUs as a
worker is (``bench.worker.limit_cpus``) and configured with the run's thread count
(``Backend.configure``). It times two operations and prints one JSON object; the parent
(``for_run``) combines each framework's into run.json's ``device_peak``:

- a large **matrix multiply** per matmul mode the run's precisions need (float32 always;
  TF32, bfloat16 or float16 as ``matmul_mode`` maps each precision policy), square, grown
  from N=512 by doubling until one multiply takes TARGET_OP_S (at most MAX_N), counted as
  2·N³ FLOPs;
- a large **memory copy** (at least 256 MiB and four times the largest CPU cache on the
  CPU, so it streams from memory; grown until one copy takes TARGET_OP_S), counted as the
  bytes read plus the bytes written (2 × its size), as STREAM's Copy counts them.

Each is warmed up (WARMUP_S: compilation, allocation, first touch, clocks), then timed
in repetitions (at least REPETITIONS and MIN_TIMED_S, at most MAX_TIMED_S), each a block
of calls ending in the framework's sync, lasting at least TARGET_OP_S; the peak is the
**best** repetition (the shortest time per operation): a peak is a maximum, and a
disturbance only ever slows a repetition down. ``contention`` is the share of the pinned
cores' time other processes used meanwhile (bench.contention): a peak measured on a busy
machine may be low, and then a cell may seem to beat it.

A precision's peak FLOP/s (``flops_per_s``) is the larger of its own matmul mode's and
float32's, since a framework may run a reduced precision's matmuls in float32 (XLA:CPU
may upcast bfloat16 dots): no correct cell at that precision should beat it. ``bound_by``
says which framework and mode it was. bench.metrics.fraction_of_peak sets each cell's
achieved FLOP/s against it; above 1 is impossible (a timing or FLOP-count error).

Every framework of the run that its probe found working measures, each in its own
interpreter, one after the other (PREFERENCE order), and the run's peak is the highest any
of them reached (``frameworks`` keeps each one's measurement): one framework's matmul is not
the device's. On a 2-core AMD EPYC with AVX-512, PyTorch's float32 matmul (MKL's sgemm,
which on AMD processors typically runs its AVX2 code) reached 220 GFLOP/s and XLA's 500,
and a jax-jit MLP cell 365: measured in PyTorch alone, that cell would have been
"impossible". The parent never imports
a framework; the framework code is ``Backend.peak_matmul`` and ``Backend.peak_copy``.
"""

from __future__ import annotations

import functools
import json
import math
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import backends
from bench.precision import POLICIES, PRECISIONS, not_applicable

# The order in which the run's frameworks measure: the registry's.
PREFERENCE = tuple(backends.FRAMEWORKS)
# An operation grows until one call takes this long (the best of SIZING_CALLS calls): large
# enough to be at its best. A timed repetition is a block of calls lasting at least as long
# (so the timer's and the sync's cost vanish), and short, so that on a shared machine some
# repetitions fall between other processes' bursts. The warm-up lasts WARMUP_S.
TARGET_OP_S = 0.005
SIZING_CALLS = 3
WARMUP_S = 0.15
# Repetitions: at least REPETITIONS and MIN_TIMED_S, at most MAX_REPETITIONS or MAX_TIMED_S
# (and never fewer than MIN_REPETITIONS).
REPETITIONS = 10
MIN_TIMED_S = 0.3
MAX_REPETITIONS = 200
MIN_REPETITIONS = 3
MAX_TIMED_S = 2.0
MIN_N = 512
MAX_N = {"cpu": 4096, "cuda": 16384}
MIN_COPY_BYTES = 256 * 2**20
MAX_COPY_BYTES = 2 * 2**30
LLC_FACTOR = 4  # on the CPU the copy is at least this many times the largest cache
PEAK_TIMEOUT_S = 300.0
STATISTIC = (
    "best: the shortest time per operation of the timed repetitions (a peak is a maximum; "
    "a disturbance only slows a repetition down)"
)

# A kernel: run(calls) runs the operation ``calls`` times and waits for the device.
Kernel = Callable[[int], None]


def matmul_mode(precision: str) -> str:
    """The matmul a precision policy's matmuls run as: float32, tf32, bfloat16 or float16."""
    policy = POLICIES[precision]
    return "tf32" if policy.tf32 else policy.compute


def mode_dtype(mode: str) -> tuple[str, bool]:
    """(dtype, TF32 allowed) of a matmul mode."""
    return ("float32", True) if mode == "tf32" else (mode, False)


def modes_for(precisions: Iterable[str], device: str) -> list[str]:
    """The matmul modes to measure: float32 and each applicable precision's, in order."""
    wanted = ["float32"] + [
        matmul_mode(p) for p in precisions if p in POLICIES and not not_applicable(p, device)
    ]
    return list(dict.fromkeys(wanted))


def largest_cache_bytes() -> int:
    """The largest CPU cache this machine reports (sysfs), 0 where it says nothing."""
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            text = path.read_text().strip().upper()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes, default=0)


def copy_sizes(device: str) -> list[int]:
    """Bytes of each candidate copy buffer, doubling from the smallest that streams."""
    start = MIN_COPY_BYTES
    if device == "cpu":
        start = max(start, LLC_FACTOR * largest_cache_bytes())
    sizes = []
    size = start
    while size <= max(MAX_COPY_BYTES, start):
        sizes.append(size)
        size *= 2
    return sizes


def matmul_sizes(device: str) -> list[int]:
    sizes, n = [], MIN_N
    while n <= MAX_N.get(device, MAX_N["cpu"]):
        sizes.append(n)
        n *= 2
    return sizes


# --- timing (no framework here: the kernels come from the backend) --------------------


@dataclass
class Timing:
    size: int  # N of an N×N matmul, or the copy's bytes
    calls_per_repetition: int
    warmup_calls: int
    per_call_s: list[float]  # one per timed repetition
    note: str | None = None  # e.g. a larger size ran out of memory

    @property
    def best_s(self) -> float:
        return min(self.per_call_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.per_call_s)


def _timed(run: Kernel, calls: int, clock: Callable[[], float]) -> float:
    start = clock()
    run(calls)
    return clock() - start


def time_kernel(
    make: Callable[[int], Kernel],
    sizes: Sequence[int],
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Grow the operation through ``sizes`` until one call takes TARGET_OP_S (or a size fails,
    e.g. out of device memory: the last that ran is kept), warm it up for WARMUP_S, then
    time repetitions, each a block of calls lasting about TARGET_OP_S (at least REPETITIONS
    and MIN_TIMED_S, at most MAX_REPETITIONS or MAX_TIMED_S): seconds per call of each."""
    good: int | None = None
    one = 0.0
    note = None
    run: Kernel | None = None
    for size in sizes:
        run = None  # let the previous size's buffers go first
        try:
            run = make(size)
            run(1)  # compilation, allocation, first touch
            one = min(_timed(run, 1, clock) for _ in range(SIZING_CALLS))
        except Exception as exc:
            if good is None:
                raise
            note = f"size {size} failed ({type(exc).__name__}); measured at {good}"
            run = make(good)
            run(1)
            break
        good = size
        if one >= TARGET_OP_S:
            break
    assert run is not None and good is not None
    calls = max(1, math.ceil(TARGET_OP_S / max(one, 1e-9)))
    warmup, start = 0, clock()
    while warmup == 0 or clock() - start < WARMUP_S:
        run(calls)
        warmup += calls
    per_call: list[float] = []
    start = clock()
    while True:
        per_call.append(_timed(run, calls, clock) / calls)
        n, elapsed = len(per_call), clock() - start
        enough = n >= REPETITIONS and elapsed >= MIN_TIMED_S
        too_long = n >= MAX_REPETITIONS or elapsed >= MAX_TIMED_S
        if n >= MIN_REPETITIONS and (enough or too_long):
            return Timing(good, calls, warmup, per_call, note)


def _timing_json(t: Timing) -> dict[str, Any]:
    return {
        "calls_per_repetition": t.calls_per_repetition,
        "warmup_calls": t.warmup_calls,
        "repetitions": len(t.per_call_s),
        "best_s": t.best_s,
        "median_s": t.median_s,
        "note": t.note,
    }


def measure_matmul(backend_cls: Any, device: str, mode: str) -> dict[str, Any]:
    dtype, tf32 = mode_dtype(mode)
    ops: list[str] = []

    def make(n: int) -> Kernel:
        run, op = backend_cls.peak_matmul(device, n, dtype, tf32)
        ops[:] = [op]
        return run

    t = time_kernel(make, matmul_sizes(device))
    flops = 2 * t.size**3
    return {
        "flops_per_s": flops / t.best_s,
        "op": ops[0],
        "dtype": dtype,
        "tf32": tf32,
        "n": t.size,
        "flops_per_call": flops,
        **_timing_json(t),
    }


def measure_copy(backend_cls: Any, device: str) -> dict[str, Any]:
    ops: list[str] = []

    def make(nbytes: int) -> Kernel:
        run, op = backend_cls.peak_copy(device, nbytes)
        ops[:] = [op]
        return run

    t = time_kernel(make, copy_sizes(device))
    moved = 2 * t.size
    return {
        "bytes_per_s": moved / t.best_s,
        "op": ops[0],
        "bytes": t.size,
        "bytes_moved_per_call": moved,
        **_timing_json(t),
    }


def bounds(matmul: dict[str, dict], precisions: Iterable[str]) -> tuple[dict, dict]:
    """Each precision's peak FLOP/s, the larger of its own matmul mode's and float32's, and
    the mode it came from: ({precision: FLOP/s}, {precision: mode})."""
    flops, bound_by = {}, {}
    for p in precisions:
        candidates = [
            m
            for m in dict.fromkeys((matmul_mode(p), "float32"))
            if isinstance(matmul.get(m), dict) and matmul[m].get("flops_per_s")
        ]
        if not candidates:
            continue
        best = max(candidates, key=lambda m: matmul[m]["flops_per_s"])
        flops[p], bound_by[p] = matmul[best]["flops_per_s"], best
    return flops, bound_by


def _guarded(measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One measurement, or why it failed (the others are still taken)."""
    try:
        return measure()
    except Exception as exc:
        text = str(exc).strip().splitlines()
        return {"problem": f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")}


def measure_here(framework: str, device: str, threads: int, precisions: list[str]) -> dict:
    """The peak, in this interpreter (imports the framework), pinned and configured as a
    worker is."""
    from bench import gpu
    from bench.contention import CpuWatch
    from bench.worker import limit_cpus

    began = time.perf_counter()
    affinity = limit_cpus(threads)
    out: dict[str, Any] = {
        "device": device,
        "framework": framework,
        "interpreter": sys.executable,
        "python": platform.python_version(),
        "threads": threads,
        "cpu_affinity": affinity,
        "statistic": STATISTIC,
    }
    missing = backends.missing_packages(framework)
    if missing:
        return {**out, "problem": f"{', '.join(missing)} not installed in {sys.executable}"}
    cls = backends.load(backends.eager_baseline(framework))
    out["framework_settings"] = cls.configure(device, threads, "float32")
    out["framework_version"] = cls.framework_version()
    reason = cls.unavailable_reason(device)
    if reason:
        return {**out, "problem": reason}
    if device == "cuda":
        state = gpu.state()
        out["gpu"] = state.name if state else None
    applicable = [p for p in precisions if p in POLICIES and not not_applicable(p, device)]
    watch = CpuWatch(affinity)
    watch.start()
    matmul = {
        mode: _guarded(functools.partial(measure_matmul, cls, device, mode))
        for mode in modes_for(applicable, device)
    }
    flops, bound_by = bounds(matmul, applicable)
    failed = [f"{mode}: {m['problem']}" for mode, m in matmul.items() if m.get("problem")]
    out.update(
        flops_per_s=flops,
        bound_by=bound_by,
        matmul=matmul,
        memory=_guarded(functools.partial(measure_copy, cls, device)),
        contention=watch.stop(),
        wall_s=time.perf_counter() - began,
        problem=None if flops else "; ".join(failed) or "no matmul was measured",
    )
    return out


# --- the parent's side (no framework) -------------------------------------------------


def frameworks_of(probes: dict[str, Any]) -> list[str]:
    """The frameworks that measure: those the run uses whose probe found them working, in the
    order of PREFERENCE (then any other)."""
    working = [f for f, p in probes.items() if getattr(p, "installed", False) and not p.problem]
    return [f for f in PREFERENCE if f in working] + [f for f in working if f not in PREFERENCE]


def run_peak(
    framework: str, python: str, device: str, threads: int, precisions: list[str]
) -> dict[str, Any]:
    """``measure_here`` in interpreter ``python``, a process of its own; a failure is recorded
    as ``problem``, never raised: the run goes on without a peak."""
    from bench.runner import framework_env

    env = framework_env(framework, device, threads)  # as a worker's
    base = {"device": device, "framework": framework, "interpreter": python}
    argv = [python, "-m", "bench.peak", framework, device, str(threads), ",".join(precisions)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=PEAK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {**base, "problem": f"the peak could not be measured ({exc})"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {**base, "problem": f"measuring the peak in {python} failed: {tail}"}
    return json.loads(lines[-1])


def combine(device: str, each: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """run.json's ``device_peak`` from each framework's measurement: per precision the
    highest FLOP/s any of them reached (``bound_by`` names the framework and matmul mode),
    the fastest copy, the highest contention seen, and every measurement under
    ``frameworks``."""
    flops: dict[str, float] = {}
    bound_by: dict[str, dict[str, str]] = {}
    memory: dict[str, Any] | None = None
    for framework, m in each.items():
        for precision, value in (m.get("flops_per_s") or {}).items():
            if value > flops.get(precision, 0.0):
                flops[precision] = value
                mode = (m.get("bound_by") or {}).get(precision, "")
                bound_by[precision] = {"framework": framework, "matmul": mode}
        copy = m.get("memory")
        if isinstance(copy, dict) and copy.get("bytes_per_s", 0) > (memory or {}).get(
            "bytes_per_s", 0
        ):
            memory = {**copy, "framework": framework}
    problems = [f"{f}: {m['problem']}" for f, m in each.items() if m.get("problem")]
    busy = [m["contention"] for m in each.values() if m.get("contention") is not None]
    return {
        "device": device,
        "statistic": STATISTIC,
        "flops_per_s": flops,
        "bound_by": bound_by,
        "memory": memory,
        "contention": max(busy) if busy else None,
        "frameworks": each,
        "problem": None if flops else "; ".join(problems) or "nothing was measured",
    }


def for_run(
    probes: dict[str, Any],
    pythons: dict[str, str],
    device: str,
    threads: int,
    precisions: Iterable[str],
) -> dict[str, Any]:
    """run.json's ``device_peak`` for a run on ``device`` with these precisions: measured in
    each working framework of the run, in its own interpreter, one after the other."""
    frameworks = frameworks_of(probes)
    if not frameworks:
        return {"device": device, "problem": "no framework of this run could be probed"}
    ordered = sorted(set(precisions), key=PRECISIONS.index)
    each = {
        f: run_peak(f, pythons.get(f, sys.executable), device, threads, ordered) for f in frameworks
    }
    return combine(device, each)


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _object(value: Any) -> dict:
    """``value`` where it is a JSON object, else an empty one (a stored run is read as is)."""
    return value if isinstance(value, dict) else {}


def _who(peak: dict[str, Any], framework: str) -> str:
    """``torch 2.13.0+cpu``, ``jax 0.10.2, jaxlib 0.10.2, ...``: who measured."""
    entry = _object(_object(peak.get("frameworks")).get(framework))
    version = str(entry.get("framework_version", ""))
    return version if version.startswith(framework) else f"{framework} {version}"


def describe(peak: dict[str, Any] | None, precision: str | None = None) -> str:
    """How a peak was measured, in words: ``cpu: bf16: 985 GFLOP/s (torch 2.13.0 matmul
    1024×1024 bfloat16, best of 10)`` (of one precision, or every one with the copy)."""
    if not isinstance(peak, dict):
        return "no peak measured"
    if peak.get("problem"):
        return f"no peak: {peak['problem']}"
    flops = _object(peak.get("flops_per_s"))
    parts = []
    for p in [precision] if precision else list(flops):
        bound = _object(_object(peak.get("bound_by")).get(p))
        framework, mode = str(bound.get("framework", "")), str(bound.get("matmul", ""))
        measured = _object(_object(_object(peak.get("frameworks")).get(framework)).get("matmul"))
        m = measured.get(mode)
        if not isinstance(m, dict) or p not in flops:
            parts.append(f"{p}: not measured")
            continue
        tf32 = ", TF32" if m.get("tf32") else ""
        parts.append(
            f"{p}: {_si(flops[p], 'FLOP/s')} ({_who(peak, framework)} matmul "
            f"{m.get('n')}×{m.get('n')} {m.get('dtype')}{tf32}, best of {m.get('repetitions')})"
        )
    memory = peak.get("memory")
    if precision is None and isinstance(memory, dict) and memory.get("bytes_per_s"):
        who = _who(peak, str(memory.get("framework", "")))
        parts.append(
            f"memory: {_si(memory['bytes_per_s'], 'B/s')} ({who} "
            f"copy of {memory.get('bytes', 0) / 2**20:,.0f} MiB, read + write, best of "
            f"{memory.get('repetitions')})"
        )
    frameworks = _object(peak.get("frameworks")).values()
    gpus = {str(m["gpu"]) for m in frameworks if isinstance(m, dict) and m.get("gpu")}
    where = f" on {', '.join(sorted(gpus))}" if gpus else ""
    return f"{peak.get('device', '?')}{where}: " + "; ".join(parts)


def main(argv: list[str]) -> int:
    framework, device, threads, precisions = argv
    listed = [p for p in precisions.split(",") if p]
    print(json.dumps(measure_here(framework, device, int(threads), listed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
