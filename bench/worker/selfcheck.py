"""selfcheck's child: one cell timed by graphbench and by its framework's own timer, in turn.

``python -m bench.worker.selfcheck ROUNDS JOB.json RESULT.json``, started as a worker is (by
bench.parent.cell_task: the worker's environment, thread variables, process group, watchdog and
compile-cache directories). It sets the process up as bench.worker.main does (pinned with
``limit_cpus``, ``Backend.configure`` with the run's threads), builds the backend once,
times and checks the first call (bench.worker.scenarios.fixed.first_call), then runs ROUNDS
rounds of [graphbench's own steady state (``steady_state``: warm-up, synced samples,
pipelined steps, exactly as a worker takes them), the framework's standard timer on the
same step and inputs, for as long as the samples took (``Backend.standard_timer``)], so
that drift in the machine hits both alike. RESULT.json holds each round's samples of
both, in ms, or the error that stopped it.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import backends
from bench.matrix.job import Job
from bench.matrix.precision import TOLERANCE
from bench.results.record import CellResult, Outcome
from bench.results.store import write_json_atomic
from bench.worker.main import limit_cpus, load_expected, one_line, start_watchdog
from bench.worker.scenarios.base import Measurement
from bench.worker.scenarios.fixed import Checks, first_call, steady_state
from bench.worker.timing import Clock, default_clock

# (step, inputs, min_time_s) -> seconds per call: a Backend's ``standard_timer``.
StandardTimer = Callable[[Callable[[Any], Any], Any, float], list[float]]


@dataclass(frozen=True)
class Rounds:
    """Each round's samples, in ms: graphbench's (one per synced step) and the referee's
    (one per block of calls, its mean)."""

    graphbench_ms: list[list[float]]
    referee_ms: list[list[float]]


def interleave(
    m: Measurement, data: Any, checks: Checks, rounds: int, referee: StandardTimer
) -> Rounds | Outcome:
    """``rounds`` times: graphbench's steady state, then the referee on the same step for as
    long as graphbench's samples took (the profile's ``max_samples`` can end them before
    its ``min_time_s``), so that both sides see the machine for the same time. A mismatch
    after a warm-up or a pipeline (parity on what is timed, as in a run) stops it."""
    ours: list[list[float]] = []
    theirs: list[list[float]] = []
    for _ in range(rounds):
        mismatch = steady_state(m, data, checks)
        if mismatch is not None:
            return mismatch
        samples_ms = list(m.result.steady.samples_ms) if m.result.steady else []
        seconds = referee(m.backend.step, data, sum(samples_ms) / 1e3)
        ours.append(samples_ms)
        theirs.append([s * 1e3 for s in seconds])
    return Rounds(ours, theirs)


def compare_cell(job: Job, rounds: int, clock: Clock = default_clock) -> dict[str, Any]:
    """Set the process up as a worker, build, check the first call, interleave: the JSON
    result (``error`` set, and no samples, where something stopped it)."""
    cell, settings = job.cell, job.settings
    limit_cpus(settings.threads)
    cls = backends.load(cell.backend)
    cls.configure(cell.device, settings.threads, cell.precision)
    found: dict[str, Any] = {"referee": cls.referee, "error": None}
    reason = cls.unavailable_reason(cell.device)
    if reason:
        return {**found, "error": reason}
    m = Measurement(
        cell=cell,
        settings=settings,
        backend=cls(),
        expected=load_expected(job.expected_path),
        tolerance=TOLERANCE[cell.precision],
        phase="cold",
        clock=clock,
        save=lambda result: None,  # nothing to checkpoint: the parent reads the end result
        result=CellResult(run_id=job.run_id, cell=cell),
    )
    checks = Checks(m)
    data, mismatch = first_call(m, checks)
    if mismatch is not None:  # never timed, as in a run
        return {**found, "error": f"{mismatch.status}: {mismatch.error}"}
    done = interleave(m, data, checks, rounds, cls.standard_timer)
    if isinstance(done, Outcome):
        return {**found, "error": f"{done.status}: {done.error}"}
    return {**found, "graphbench_ms": done.graphbench_ms, "referee_ms": done.referee_ms}


def main(argv: list[str]) -> int:
    rounds = int(argv[0])
    data = json.loads(Path(argv[1]).read_text())
    if data.get("guard"):
        start_watchdog(data["guard"])
    try:
        result = compare_cell(Job.from_json(data), rounds)
    except Exception as exc:
        traceback.print_exc()  # the parent shows the last line of the output
        result = {"referee": None, "error": one_line(exc)}
    write_json_atomic(Path(argv[2]), result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
