"""One cell's worker processes, wherever they run (this machine, or a node of a cluster).

A ``CellTask`` is everything a machine needs to measure one cell: the job, the block's
reference outputs (as bytes, so a remote node needs no shared disk), the interpreter of
the cell's framework, its environment and its timeout. ``run_task`` runs the cold worker
and, where the backend keeps a persistent compile cache, a warm worker that finds what
the cold one left; it returns what each process left behind (its result file, exit
status, wall time and log). It never interprets a result: that is the runner's job.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.matrix.job import ARTIFACT_PHASE, CAPTURE_FILE, LOAD_PHASE, MAX_TRACE_BYTES, Job
from bench.parent.oom import oom_killed_between, oom_kills
from bench.results.store import utc_now

OUTPUT_TAIL_LINES = 20
LOG_LIMIT_BYTES = 2 * 2**20  # what a log brings back from a worker at most (its end)
# Process groups of the workers running now in this process (several under a GPU pool),
# so that an interrupted executor can end them all: see kill_running().
_running: set[int] = set()
_running_lock = threading.Lock()


@dataclass(frozen=True)
class CellTask:
    job: Job
    index: int  # the cell's place in the run's matrix: names its log files
    expected_path: str  # the block's reference outputs (.npz) on the machine that runs it
    worker: tuple[str, ...]  # the worker's command: the framework's interpreter -m bench.worker
    env: dict[str, str]  # the worker's environment, in full
    cache_env: dict[str, str]  # compile-cache variables, "{cache_dir}" filled in per task
    warm_start: bool  # run a warm worker after an ok cold one
    timeout_s: float
    trace: bool = False  # run a profiling worker after the measured ones (bench.analysis.traces)
    diagnose: bool = False  # run diagnosing workers after the measured ones (worker.capture)
    # An ahead-of-time backend: build its artefact in a worker of its own, then measure its
    # cold start in a fresh worker that loads it, before the timed worker (run_task).
    artifact: bool = False


@dataclass
class WorkerRun:
    """What one worker process left: its result file (None if it wrote none) and its end."""

    result: dict[str, Any] | None
    exit_code: int
    timed_out: bool
    wall_s: float
    log: str  # its output (the end of it, at most LOG_LIMIT_BYTES)
    # Whether the kernel's out-of-memory killer ended a process while it ran (None: unknown).
    oom_killed: bool | None = None

    @property
    def output_tail(self) -> list[str]:
        return self.log.splitlines()[-OUTPUT_TAIL_LINES:]


@dataclass
class TaskResult:
    cold: WorkerRun
    warm: WorkerRun | None = None
    wall_s: float = 0.0
    started_utc: str = ""
    host: str = ""
    # Set when the executor lost the task (its node or process died) before the workers
    # could report: why. The cell is then failed with this reason.
    lost: str | None = None
    trace: WorkerRun | None = None  # the profiling worker (--trace), after the measured ones
    trace_files: dict[str, bytes] = field(default_factory=dict)  # what its profiler wrote
    # The diagnosing workers (--diagnose: from an empty cache, then finding what it left)
    # and the capture.json each wrote (bench.worker.capture).
    diagnosed: WorkerRun | None = None
    capture: dict[str, Any] | None = None
    diagnosed_warm: WorkerRun | None = None
    capture_warm: dict[str, Any] | None = None
    # An ahead-of-time backend: the worker that built the artefact, the files it wrote
    # (path inside the artefact -> bytes), and the cold-start worker that loaded it.
    artifact: WorkerRun | None = None
    artifact_files: dict[str, int] = field(default_factory=dict)
    load: WorkerRun | None = None


def lost_task(reason: str) -> TaskResult:
    """What an executor reports for a task it lost: no worker output, only the reason."""
    return TaskResult(WorkerRun(None, -1, False, 0.0, ""), started_utc=utc_now(), lost=reason)


def kill_running() -> None:
    """End every worker this process is waiting for (an interrupted GPU pool)."""
    with _running_lock:
        groups = list(_running)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def run_process(argv: list[str], env: dict[str, str], timeout_s: float) -> WorkerRun:
    """Run a child in its own process group; on timeout kill the group (compile workers too).

    The group is killed whatever happens: a timed-out worker, its compile pools, stragglers
    a finished worker left, or the runner's own Ctrl-C, so that no orphan outlives it.
    """
    start = time.monotonic()
    kills_before = oom_kills()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        with _running_lock:
            _running.add(proc.pid)
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            with _running_lock:
                _running.discard(proc.pid)
        size = log.seek(0, os.SEEK_END)
        log.seek(max(0, size - LOG_LIMIT_BYTES))
        text = log.read().decode(errors="replace")
    oom = oom_killed_between(kills_before, oom_kills())
    return WorkerRun(None, proc.returncode, timed_out, time.monotonic() - start, text, oom)


def run_worker(
    task: CellTask, job: Job, tmp: Path, cache_dir: Path, stem: str | None = None
) -> WorkerRun:
    """One worker process for one phase of a cell (its files named ``stem``, or the phase)."""
    stem = stem or job.phase
    job_path, result_path = tmp / f"{stem}-job.json", tmp / f"{stem}-result.json"
    guard = {"runner_pid": os.getpid(), "dirs": [str(tmp), str(cache_dir)]}
    job_path.write_text(json.dumps({**job.to_json(), "guard": guard}))
    env = dict(task.env)
    for name, template in task.cache_env.items():
        value = template.format(cache_dir=cache_dir)
        # A user's own flags (e.g. TF_XLA_FLAGS) are kept; ours come last.
        env[name] = f"{env[name]} {value}" if name.endswith("FLAGS") and env.get(name) else value
    argv = [*task.worker, str(job_path), str(result_path)]
    run = run_process(argv, env, task.timeout_s)
    with contextlib.suppress(OSError, json.JSONDecodeError):
        run.result = json.loads(result_path.read_text())
    return run


def run_task(task: CellTask, inputs: dict[str, bytes] | None = None) -> TaskResult:
    """The cold worker (the measurement), then, if asked and it is ok, the warm worker.

    ``inputs`` (a node with no shared disk): the block's reference outputs as bytes,
    ``expected`` and, for a reduced precision, ``eager32``; they are written into the
    task's own directory, which the worker's watchdog removes whatever happens."""
    start, started_utc = time.monotonic(), utc_now()
    with (
        tempfile.TemporaryDirectory(prefix="graphbench-job-") as tmp,
        tempfile.TemporaryDirectory(prefix="graphbench-cache-") as cache,
    ):
        for name, data in (inputs or {}).items():
            (Path(tmp) / f"{name}.npz").write_bytes(data)
            if name == "expected":
                task = replace(task, expected_path=str(Path(tmp) / "expected.npz"))
            elif name == "eager32":
                task = replace(
                    task, job=replace(task.job, eager32_path=str(Path(tmp) / "eager32.npz"))
                )
        job = replace(task.job, expected_path=task.expected_path, phase="cold")
        built = loaded = None
        files: dict[str, int] = {}
        if task.artifact:
            job = replace(job, artifact_dir=str(Path(tmp) / "artifact"))
            built, loaded, files = run_artifact_workers(task, job, Path(tmp), Path(cache))
        if loaded is not None and not is_ok(loaded):
            cold = loaded  # the artefact could not be built or loaded: that is the cell's end
        else:
            cold = run_worker(task, job, Path(tmp), Path(cache))
        warm = None
        ok = is_ok(cold)
        if task.warm_start and ok:
            warm = run_worker(task, replace(job, phase="warm"), Path(tmp), Path(cache))
        wall_s = time.monotonic() - start  # the measured workers' time: not the profiler's
        traced, traces = None, {}
        if task.trace and ok:
            folder = Path(tmp) / "trace"
            folder.mkdir()
            traced = run_worker(
                task, replace(job, phase="trace", trace_dir=str(folder)), Path(tmp), Path(cache)
            )
            traces = {
                p.name: p.read_bytes()
                for p in sorted(folder.iterdir())
                if p.is_file() and p.stat().st_size <= MAX_TRACE_BYTES
            }
        diagnosed: list[tuple[WorkerRun | None, dict[str, Any] | None]] = [(None, None)] * 2
        if task.diagnose and ok:
            diagnosed = run_diagnosis(task, job, Path(tmp))
    return TaskResult(
        cold,
        warm,
        wall_s,
        started_utc,
        socket.gethostname(),
        trace=traced,
        trace_files=traces,
        diagnosed=diagnosed[0][0],
        capture=diagnosed[0][1],
        diagnosed_warm=diagnosed[1][0],
        capture_warm=diagnosed[1][1],
        artifact=built,
        artifact_files=files,
        load=loaded,
    )


def is_ok(run: WorkerRun) -> bool:
    return (run.result or {}).get("status") == "ok"


def run_artifact_workers(
    task: CellTask, job: Job, tmp: Path, cache_dir: Path
) -> tuple[WorkerRun, WorkerRun, dict[str, int]]:
    """An ahead-of-time backend's first two workers: the one that builds the artefact into
    ``job.artifact_dir`` (export and compile, from empty compile caches), then the cold
    start, a fresh process that loads it and runs one checked step. Returns both and the
    artefact's files with their sizes; where the build failed, it stands for both."""
    folder = Path(str(job.artifact_dir))
    folder.mkdir()
    built = run_worker(task, replace(job, phase=ARTIFACT_PHASE), tmp, cache_dir)
    files = {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    if not is_ok(built):
        return built, built, files
    return built, run_worker(task, replace(job, phase=LOAD_PHASE), tmp, cache_dir), files


def run_diagnosis(
    task: CellTask, job: Job, tmp: Path
) -> list[tuple[WorkerRun | None, dict[str, Any] | None]]:
    """The diagnosing worker, from a compile cache of its own (empty: a cold first call),
    then, where a warm start applies, a second one that finds what the first left."""
    out: list[tuple[WorkerRun | None, dict[str, Any] | None]] = []
    with tempfile.TemporaryDirectory(prefix="graphbench-cache-") as cache:
        for phase in ("diagnose", "diagnose-warm") if task.warm_start else ("diagnose",):
            folder = tmp / phase
            folder.mkdir()
            run = run_worker(
                task,
                replace(job, phase="diagnose", trace_dir=str(folder)),
                tmp,
                Path(cache),
                stem=phase,
            )
            found = None
            with contextlib.suppress(OSError, json.JSONDecodeError):
                found = json.loads((folder / CAPTURE_FILE).read_text())
            out.append((run, found if isinstance(found, dict) else None))
    return [*out, (None, None)][:2]
