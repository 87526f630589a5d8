"""The device's measured peak for a run (run.json ``device_peak``): the parent's side.

Each working framework of the run measures in its own interpreter (``python -m
bench.worker.peak``), one after the other, and the run's peak is the highest any of them
reached; bench.worker.peak says what is measured and how.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from bench import backends
from bench.matrix.precision import PRECISIONS
from bench.parent.worker_env import framework_env
from bench.results.device_peak import STATISTIC

# The order in which the run's frameworks measure: the registry's.
PREFERENCE = tuple(backends.FRAMEWORKS)
PEAK_TIMEOUT_S = 300.0


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
    env = framework_env(framework, device, threads)  # as a worker's
    base = {"device": device, "framework": framework, "interpreter": python}
    argv = [
        python,
        "-m",
        "bench.worker.peak",
        framework,
        device,
        str(threads),
        ",".join(precisions),
    ]
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
