"""Parent side: decides what to run, hands each cell to an executor, records the result.

The parent never imports a framework. Each cell's worker starts from a clean
interpreter (no warm caches, allocator state or threads left by another backend),
gets empty compile-cache directories of its own, and is killed with its whole process
group if it outlives the timeout (bench.parent.cell_task). Whatever happens to a worker
becomes a status with a reason, and the run goes on. The runner alone appends to
``cells.jsonl``, whatever the executor.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

import models
import models.user as user_models
from bench import backends
from bench.analysis.traces import TRACE_DIR, TRACE_STEPS, top_ops
from bench.errors import SchemaError
from bench.matrix import precision, scenarios
from bench.matrix.cells import Cell
from bench.matrix.job import EXPECTED_DIR, Job
from bench.matrix.profiles import Settings
from bench.parent.cell_task import CellTask, TaskResult, WorkerRun, run_process
from bench.parent.executors import Executor, LocalExecutor
from bench.parent.worker_env import importable, worker_env
from bench.results.record import (
    Artifact,
    CellResult,
    GraphCapture,
    Outcome,
    Process,
    Status,
    Trace,
    WarmStart,
    checked_fields,
)
from bench.results.store import CELLS_FILE, append_result, read_results, repair_torn_tail, utc_now

SIGNAL_NAMES = {-s.value: s.name for s in signal.Signals}
MIN_TIMEOUT_S = 30.0
NO_PERSISTENT_CACHE = "no persistent compile cache: a new process starts cold"
ARTIFACT_START = "an ahead-of-time artefact: every new process loads it (the cold start: load_s)"


class OutOfTime(RuntimeError):
    """A reference the run's deadline stopped: its cell is not started (resume runs it)."""


def classify(run: WorkerRun, timeout_s: float) -> Outcome:
    """The outcome of a worker that ended without its own verdict (crash, signal, timeout)."""
    last = next((line.strip() for line in reversed(run.output_tail) if line.strip()), "")
    detail = f": {last}" if last else ""
    if run.timed_out:
        return Outcome(
            Status.TIMEOUT, f"no result within the {timeout_s:g} s timeout; worker killed"
        )
    if run.exit_code < 0:
        name = SIGNAL_NAMES.get(run.exit_code, f"signal {-run.exit_code}")
        if name == "SIGKILL" and run.oom_killed:
            return Outcome(Status.OOM, "worker killed by the kernel's out-of-memory killer")
        if name == "SIGKILL":
            why = (
                "not by the out-of-memory killer: its counters did not move"
                if run.oom_killed is False
                else "the kernel's out-of-memory counters could not be read"
            )
            return Outcome(Status.FAILED, f"worker killed by SIGKILL ({why}){detail}")
        return Outcome(Status.FAILED, f"worker died of {name}{detail}")
    if run.exit_code != 0:
        return Outcome(Status.FAILED, f"worker exited with code {run.exit_code}{detail}")
    return Outcome(Status.FAILED, f"worker exited without writing a result{detail}")


class Runner:
    """Runs the cells of a run directory's matrix through an executor into cells.jsonl."""

    def __init__(
        self,
        run_dir: Path,
        run_id: str,
        settings: Settings,
        matrix: Sequence[Cell] = (),
        positions: Sequence[int] | None = None,
        pythons: dict[str, str] | None = None,
        unavailable: dict[str, str] | None = None,
        executor: Executor | None = None,
        worker: Sequence[str] | None = None,
        expected_job: Sequence[str] = (sys.executable, "-m", "bench.worker.expected"),
        deadline: float | None = None,
        trace: bool = False,
        diagnose: bool = False,
        lazy_references: bool = False,
    ):
        self.run_dir = run_dir
        self.run_id = run_id
        self.settings = settings
        self.pythons = dict(pythons or {})
        # Frameworks whose interpreter lacks them (bench.worker.probe): their cells are skipped.
        self.unavailable = dict(unavailable or {})
        self.executor = executor or LocalExecutor()
        self.worker = tuple(worker) if worker else None  # a stand-in worker (tests)
        self.expected_job = list(expected_job)
        # Each cell's place in the whole matrix (names its logs); a shard's are its
        # positions in the unsharded matrix, so merged shards never share a log name.
        places = range(len(matrix)) if positions is None else positions
        self.index = {cell.key(): i for cell, i in zip(matrix, places, strict=True)}
        # time.monotonic() after which no cell is started (None: no budget).
        self.deadline = deadline
        self.trace = trace  # a profiling worker after each cell's measured ones (--trace)
        # Diagnosing workers after a static cell's measured ones (--diagnose, bench.worker.capture).
        self.diagnose = diagnose
        # Each block's references computed just before its first cell starts, and only if it
        # starts (a time budget, as gpu-check's, is not spent on cells it never reaches).
        # Only for a serial executor: with cells running side by side, a reference computed
        # between two starts would share the machine with a timing cell.
        self.lazy_references = lazy_references
        (run_dir / "logs").mkdir(exist_ok=True)
        (run_dir / EXPECTED_DIR).mkdir(exist_ok=True)
        self.notes = [n for n in [repair_torn_tail(run_dir / CELLS_FILE)] if n]
        results, read_notes = read_results(run_dir / CELLS_FILE)
        self.notes += read_notes
        self.results: list[CellResult] = results
        # Cells being measured again (remeasure): cell key -> why.
        self.again: dict[tuple, str] = {}
        # Training cells: their framework's eager loss after the warm-up (ensure_eager_loss).
        self.eager_losses: dict[tuple, float | None] = {}

    def pending(self, cells: Sequence[Cell]) -> list[Cell]:
        """Cells with no result yet (all of them in a new run; the rest when resuming), and
        cells whose task the executor lost (a dead node): nothing of them was measured."""
        done = {r.cell.key() for r in self.results if not (r.process and r.process.lost)}
        return [c for c in cells if c.key() not in done]

    def run(
        self,
        cells: Sequence[Cell],
        on_start: Callable[[Cell], None] = lambda c: None,
        on_done: Callable[[CellResult], None] = lambda r: None,
    ) -> list[CellResult]:
        finished: list[CellResult] = []

        def record(result: CellResult) -> None:
            append_result(self.run_dir, result)
            self.results.append(result)
            finished.append(result)
            on_done(result)

        def references(cell: Cell) -> tuple[Path, Path | None] | None:
            """The cell's reference paths, or None once it is recorded as not run (or, out
            of time, left for resume)."""
            try:
                paths = self.ensure_expected(cell), self.ensure_eager32(cell)
                self.ensure_eager_loss(cell)  # kept for the cell's job (None: finite only)
                return paths
            except OutOfTime:
                return None  # not started: left for resume, as the cells after it
            except RuntimeError as exc:  # a reference could not be computed
                on_start(cell)
                record(self.not_run(cell, Status.FAILED, str(exc)))
                return None

        # Every reference first (float64 NumPy, a reduced precision's float32 eager run, a
        # training cell's eager loss after the warm-up), so that none is computed while a
        # timing cell runs, whatever the executor; lazily, each just before its cell
        # (lazy_references). A cell that will not run is recorded at once either way.
        ready: list[tuple[Cell, tuple[Path, Path | None] | None]] = []
        for cell in cells:
            reason = self.skip_reason(cell)
            if reason is not None:
                on_start(cell)
                record(self.not_run(cell, *reason))
            elif self.lazy_references:
                ready.append((cell, None))
            elif (paths := references(cell)) is not None:
                ready.append((cell, paths))

        def tasks():
            for cell, paths in ready:
                if self.out_of_time():
                    return  # out of time: the rest is left for resume
                paths = paths or references(cell)
                if paths is not None and not self.out_of_time():
                    yield self.task(cell, *paths)

        def started(task: CellTask) -> None:
            on_start(task.job.cell)

        def done(task: CellTask, outcome: TaskResult) -> None:
            record(self.settle(task, outcome))

        self.executor.run(tasks(), started, done)
        return finished

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def remeasure(
        self,
        why: dict[Cell, str],
        on_start: Callable[[Cell], None] = lambda c: None,
        on_done: Callable[[CellResult], None] = lambda r: None,
    ) -> list[CellResult]:
        """Measure each cell of ``why`` again, in fresh processes, appending a new record
        (the earlier one stays in cells.jsonl; readers use the newer: store.read_results)."""
        self.again = {c.key(): reason for c, reason in why.items()}
        try:
            return self.run(list(why), on_start, on_done)
        finally:
            self.again = {}

    # --- before a worker --------------------------------------------------------------
    def skip_reason(self, cell: Cell) -> tuple[Status, str] | None:
        """Why a cell is recorded without running a worker, or None."""
        reason = scenarios.get(cell.scenario).not_applicable(cell)
        # A user's model runs on its framework's backends; a Keras backend on Keras models.
        reason = reason or user_models.not_applicable(cell.model, cell.framework, cell.backend)
        reason = reason or precision.not_applicable(cell.precision, cell.device)
        reason = reason or backends.get(cell.backend).not_applicable(cell.mode, cell.precision)
        if reason:
            return Status.NOT_APPLICABLE, reason
        if cell.framework in self.unavailable:
            return Status.SKIPPED, self.unavailable[cell.framework]
        if cell.framework not in self.pythons:
            missing = backends.backend_not_installed_reason(cell.backend)
            if missing:
                return Status.SKIPPED, missing
        return None

    def not_run(self, cell: Cell, status: Status, reason: str) -> CellResult:
        """A cell recorded without a worker (not applicable, not installed, no reference)."""
        verdict = Outcome(status, reason)
        return CellResult(
            run_id=self.run_id, cell=cell, outcome=verdict, process=self.process_of(None, verdict)
        )

    def task(self, cell: Cell, expected_path: Path, eager32_path: Path | None) -> CellTask:
        info = backends.get(cell.backend)
        python = self.pythons.get(cell.framework, sys.executable)
        worker = self.worker or (python, "-m", "bench.worker")
        eager32 = None if eager32_path is None else str(eager32_path)
        return CellTask(
            job=Job(
                self.run_id,
                cell,
                self.settings,
                "",
                "cold",
                eager32,
                eager_warmup_loss=self.eager_losses.get(cell.key()),
            ),
            index=self.index.get(cell.key(), len(self.index)),
            expected_path=str(expected_path),
            worker=worker,
            env=worker_env(cell, self.settings),
            # Only a backend whose compilation persists gets a persistent cache: for an
            # eager backend it would only add writes (op-by-op JAX would serialise every
            # primitive). Every cell gets a CUDA driver JIT cache of its own; an
            # ahead-of-time backend its framework's whole cache_env: its artefact is built
            # from empty compile caches, never from what an earlier run left behind.
            cache_env=backends.cache_env(cell.backend),
            warm_start=scenarios.get(cell.scenario).warm_start and bool(info.persistent_cache),
            timeout_s=self.timeout_of(cell),
            trace=self.trace and cell.scenario == "fixed",
            diagnose=self.diagnose and info.static,
            artifact=info.artifact is not None and cell.scenario == "fixed",
        )

    def timeout_of(self, cell: Cell) -> float:
        """The profile's per-cell timeout, scaled for backends that compile for long, and
        never past the run's deadline (a time budget, as gpu-check's)."""
        timeout = self.settings.timeout_s * backends.get(cell.backend).timeout_factor
        if self.deadline is not None:
            timeout = min(timeout, max(MIN_TIMEOUT_S, self.deadline - time.monotonic()))
        return timeout

    def ensure_expected(self, cell: Cell) -> Path:
        """The reference outputs of this cell's block, computed once in a process of its own."""
        name = scenarios.get(cell.scenario).reference_name(cell, self.settings.seed)
        if models.is_user_model(cell.model):
            # No NumPy reference: the model itself, eager in float64, in its framework's
            # interpreter and environment (a worker's, without the worker's measuring).
            # A Keras model's, for every Keras backend: on Keras's TensorFlow backend, whose
            # layers compute in float64 throughout (on torch, Keras's matmul is float32).
            if backends.get(cell.backend).keras_backend:
                cell = replace(cell, backend=backends.KERAS_REFERENCE)
                name = name.replace(".npz", f"-{cell.backend}.npz")
            python = self.pythons.get(cell.framework, sys.executable)
            job = [python, *self.expected_job[1:]]
            what = f"{cell.backend} float64 eager reference"
            return self._reference(cell, name, job, worker_env(cell, self.settings), what)
        env = {**os.environ, "PYTHONPATH": importable(os.environ.get("PYTHONPATH"))}
        return self._reference(cell, name, self.expected_job, env, "NumPy reference")

    def ensure_eager32(self, cell: Cell) -> Path | None:
        """A reduced precision's comparison: the block's outputs from the cell's framework,
        eager, in float32, computed once per framework in its own interpreter (None for
        float32 cells and scenarios that do not compare)."""
        scenario = scenarios.get(cell.scenario)
        if cell.precision == "float32" or not scenario.compares_eager_float32:
            return None
        name = scenario.reference_name(cell, self.settings.seed)
        eager = backends.eager_counterpart(cell.backend)  # one file per eager backend
        name = name.replace(".npz", f"-{eager}-float32.npz")
        python = self.pythons.get(cell.framework, sys.executable)
        job = [python, "-m", "bench.worker.expected"]
        env = worker_env(cell, self.settings)
        what = f"{eager} float32 output"
        return self._reference(cell, name, job, env, what, eager32=True)

    def ensure_eager_loss(self, cell: Cell) -> float | None:
        """A training cell's comparison after its warm-up: the loss its framework's eager
        backend returns at the same step, from the same weights and batch, on the same device
        at the same precision (bench.worker.parity.TrainCheck). Computed once per block,
        framework and precision, in the framework's interpreter; None where the scenario does
        not check it, for a user's model, or where the eager run failed (its log says why):
        the cell's loss is then checked to be finite only. A stand-in worker (tests) checks
        nothing: none is computed for it."""
        scenario = scenarios.get(cell.scenario)
        if (
            cell.mode != "train"
            or not scenario.checks_eager_loss
            or models.is_user_model(cell.model)
            or self.worker is not None
        ):
            return None
        if cell.key() in self.eager_losses:
            return self.eager_losses[cell.key()]
        eager = replace(cell, backend=backends.eager_counterpart(cell.backend))
        steps = self.settings.warmup_steps
        name = scenario.reference_name(cell, self.settings.seed).replace(
            ".npz", f"-{eager.backend}-{cell.precision}-{cell.device}-loss{1 + steps}.npz"
        )
        python = self.pythons.get(cell.framework, sys.executable)
        job = [python, *self.expected_job[1:]]
        env = worker_env(eager, self.settings)
        what = f"{eager.backend} {cell.precision} loss after the warm-up"
        extra = {"eager_loss_steps": steps, "threads": self.settings.threads}
        try:
            # A temporary directory of its own, removed after it (a framework's default
            # caches, e.g. torchinductor_<user>, go under TMPDIR), as a worker's is.
            with tempfile.TemporaryDirectory(prefix="graphbench-eager-") as tmp:
                path = self._reference(eager, name, job, {**env, "TMPDIR": tmp}, what, extra=extra)
            with np.load(path) as stored:
                loss: float | None = float(stored["loss"])
        except OutOfTime:
            raise  # not started: the deadline, not the eager run, stopped it
        except (RuntimeError, KeyError, OSError, ValueError):
            loss = None
        self.eager_losses[cell.key()] = loss
        return loss

    def _reference(
        self,
        cell: Cell,
        name: str,
        job: list[str],
        env: dict,
        what: str,
        eager32: bool = False,
        extra: dict | None = None,
    ) -> Path:
        """A reference file of the run (computed once, in a process of its own)."""
        path = self.run_dir / EXPECTED_DIR / name
        if path.exists():
            return path
        seed, timeout_s = self.settings.seed, self.settings.timeout_s
        budgeted = self.deadline is not None and self.deadline - time.monotonic() < timeout_s
        if self.deadline is not None:  # a reference never runs past the run's budget
            timeout_s = max(0.0, min(timeout_s, self.deadline - time.monotonic()))
        job_path = path.with_suffix(".job.json")
        order = {"cell": cell.to_dict(), "seed": seed, "eager32": eager32, **(extra or {})}
        job_path.write_text(json.dumps(order))
        run = run_process([*job, str(job_path), str(path)], env, timeout_s)
        job_path.unlink()
        (self.run_dir / "logs" / f"{path.stem}-expected.log").write_text(run.log)
        if not path.exists() and run.timed_out and budgeted:
            raise OutOfTime(f"{what}: the run's time budget ended while it was computed")
        if not path.exists():
            raise RuntimeError(f"{what} failed: {classify(run, timeout_s).error}")
        return path

    # --- after the workers: the runner's named steps ----------------------------------
    def settle(self, task: CellTask, outcome: TaskResult) -> CellResult:
        """The cell's result: the worker's own, plus what only the parent knows."""
        cell, cold = task.job.cell, outcome.cold
        if outcome.lost is not None:  # no worker output came back: only the reason
            lost = Outcome(Status.FAILED, outcome.lost)
            return CellResult(
                run_id=self.run_id, cell=cell, outcome=lost, process=self.process_of(outcome, lost)
            )
        stem = cell.file_stem(task.index)
        if cell.key() in self.again:  # every earlier measurement's logs are kept
            attempt = 1
            while (self.run_dir / "logs" / f"{stem}-again{attempt}.log").exists():
                attempt += 1
            stem += f"-again{attempt}"
        for phase, run in (("artifact", outcome.artifact), ("load", outcome.load)):
            if run is not None and run is not cold:
                self.write_log(f"{stem}-{phase}", run)
        self.write_log(stem, cold)
        if outcome.warm is not None:
            self.write_log(f"{stem}-warm", outcome.warm)
        result, unreadable = self.worker_result(cell, cold)
        verdict = result.outcome
        if unreadable:
            verdict = Outcome(Status.FAILED, f"worker wrote an unreadable result: {unreadable}")
        elif cold.timed_out or verdict is None:
            verdict = classify(cold, task.timeout_s)
            if result.passes is not None and result.passes.step_ms and result.passes.lengths:
                done, total = len(result.passes.step_ms), len(result.passes.lengths)
                verdict = replace(
                    verdict, error=f"{verdict.error} (first pass at step {done} of {total})"
                )
        return replace(
            result,
            outcome=verdict,
            warm=self.warm_start_of(task, result, outcome.warm, verdict),
            artifact=self.artifact_of(task, outcome),
            trace=self.trace_of(task, outcome, stem),
            graph_capture=self.graph_capture_of(task, outcome, stem),
            process=replace(
                self.process_of(outcome, verdict, stem),
                remeasured=self.again.get(cell.key()),
            ),
        )

    def worker_result(self, cell: Cell, run: WorkerRun) -> tuple[CellResult, str | None]:
        """The worker's checkpointed result (validated), or an empty one and why it is not."""
        empty = CellResult(run_id=self.run_id, cell=cell)
        if run.result is None:
            return empty, None
        try:
            result = CellResult.from_json(run.result, "worker result")
        except SchemaError as exc:
            return empty, str(exc)
        if result.cell != cell or result.run_id != self.run_id:
            return empty, f"it is for {result.cell.label()} of run {result.run_id}"
        return result, None

    def warm_start_of(
        self, task: CellTask, cold: CellResult, warm: WorkerRun | None, verdict: Outcome
    ) -> WarmStart | None:
        """What a second process of an ok fixed-shape cell pays for its first call."""
        scenario = scenarios.get(task.job.cell.scenario)
        if not scenario.warm_start or verdict.status is not Status.OK:
            return None
        info = backends.get(task.job.cell.backend)
        if info.artifact:
            return WarmStart(warm_start=ARTIFACT_START)
        cache = info.persistent_cache
        if cache is None or warm is None:
            return WarmStart(warm_start=NO_PERSISTENT_CACHE)
        result, unreadable = self.worker_result(task.job.cell, warm)
        if not unreadable and result.ok and result.build and result.first_call:
            return WarmStart(
                warm_start=cache,
                build_warm_s=result.build.build_s,
                first_call_warm_s=result.first_call.first_call_s,
                warmup_warm_ms=result.steady.warmup_ms if result.steady else [],
            )
        why = unreadable or (result.outcome or classify(warm, task.timeout_s)).error
        status = "failed" if unreadable or result.outcome is None else str(result.status)
        return WarmStart(warm_start=f"warm worker {status}: {why}")

    def artifact_of(self, task: CellTask, outcome: TaskResult) -> Artifact | None:
        """An ahead-of-time cell's artefact: the artefact worker's build time (its build_s),
        the files it wrote, and the cold-start worker's load (its build_s) and first call.
        None where the backend builds no artefact or its build failed (the cell then
        carries the exporter's own error)."""
        if not task.artifact or outcome.artifact is None:
            return None
        cell = task.job.cell
        built, _ = self.worker_result(cell, outcome.artifact)
        if not built.ok or built.build is None:
            return None
        loaded, unreadable = self.worker_result(cell, outcome.load) if outcome.load else (None, "")
        cold_start = loaded is not None and loaded.ok and loaded.build and loaded.first_call
        why = unreadable or "no cold-start worker ran"
        if loaded is not None and outcome.load is not None and not unreadable:
            why = (loaded.outcome or classify(outcome.load, task.timeout_s)).error or "failed"
        return Artifact(
            artifact_build_s=built.build.build_s,
            artifact_bytes=sum(outcome.artifact_files.values()),
            artifact_files=dict(outcome.artifact_files),
            load_s=loaded.build.build_s if cold_start and loaded and loaded.build else None,
            load_first_call_s=(
                loaded.first_call.first_call_s
                if cold_start and loaded and loaded.first_call
                else None
            ),
            artifact_error=None if cold_start else f"the cold-start worker failed: {why}",
        )

    def trace_of(self, task: CellTask, outcome: TaskResult, stem: str) -> Trace | None:
        """The profiling worker's trace, kept under traces/<cell>/, and its top operations
        by self time (bench.analysis.traces); None where no trace was asked or the cell was not
        ok."""
        if not task.trace or outcome.trace is None:
            return None
        cell = task.job.cell
        tool = backends.framework(cell.framework).profiler
        self.write_log(f"{stem}-trace", outcome.trace)
        result, unreadable = self.worker_result(cell, outcome.trace)
        if unreadable or not result.ok:
            why = unreadable or (result.outcome or classify(outcome.trace, task.timeout_s)).error
            return Trace(trace_tool=tool, trace_error=f"the profiling worker failed: {why}")
        folder = self.run_dir / TRACE_DIR / stem
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in outcome.trace_files.items():
            (folder / name).write_bytes(data)
        names = [f"{TRACE_DIR}/{stem}/{name}" for name in outcome.trace_files]
        chrome = [n for n in outcome.trace_files if n.endswith((".json", ".json.gz"))]
        if not chrome:
            return Trace(trace_tool=tool, trace_files=names, trace_error="no Chrome-trace file")
        try:
            ops = top_ops(folder / chrome[0])
        except (OSError, ValueError) as exc:
            return Trace(trace_tool=tool, trace_files=names, trace_error=f"unreadable: {exc}")
        return Trace(trace_tool=tool, trace_steps=TRACE_STEPS, trace_files=names, top_ops=ops)

    def graph_capture_of(
        self, task: CellTask, outcome: TaskResult, stem: str
    ) -> GraphCapture | None:
        """What the diagnosing workers read from the framework (bench.worker.capture), validated
        as the record's fields; the warm one's first call, phases and cache counters beside
        the cold one's. None where no diagnosis was asked or the cell was not ok."""
        if not task.diagnose or outcome.diagnosed is None:
            return None
        self.write_log(f"{stem}-diagnose", outcome.diagnosed)
        if outcome.diagnosed_warm is not None:
            self.write_log(f"{stem}-diagnose-warm", outcome.diagnosed_warm)
        try:
            cold = checked_fields(GraphCapture, outcome.capture, "capture.json")
            warm = checked_fields(GraphCapture, outcome.capture_warm, "warm capture.json")
        except SchemaError as exc:
            return GraphCapture(capture_error=f"the diagnosing worker wrote {exc}")
        if outcome.capture is None:
            why = self.diagnosis_failure(task, outcome.diagnosed)
            return GraphCapture(capture_error=f"the diagnosing worker failed: {why}")
        if warm:
            cold.update(
                warm_first_call_s=warm.get("capture_first_call_s"),
                warm_phases=warm.get("first_call_phases", {}),
                warm_cache_counters=warm.get("cache_counters", {}),
            )
        elif outcome.diagnosed_warm is not None:
            why = self.diagnosis_failure(task, outcome.diagnosed_warm)
            cold["capture_error"] = f"the warm diagnosing worker failed: {why}"
        return GraphCapture(**cold)

    def diagnosis_failure(self, task: CellTask, run: WorkerRun) -> str:
        """Why a diagnosing worker left no capture.json: the error it recorded (the backend
        raised), else how its process ended."""
        result, unreadable = self.worker_result(task.job.cell, run)
        if unreadable:
            return f"it wrote an unreadable result: {unreadable}"
        if result.outcome is not None and not result.ok:
            return result.outcome.error or str(result.status)
        return str(classify(run, task.timeout_s).error)

    def process_of(self, outcome: TaskResult | None, verdict: Outcome, stem: str = "") -> Process:
        """What only the parent knows: when, how long, how the worker ended, where its log is
        (``outcome`` None: no worker was started)."""
        if outcome is None:
            return Process(started_utc=utc_now(), wall_s=0.0)
        if outcome.lost is not None:  # the executor lost it: no exit code, no log
            return Process(
                started_utc=outcome.started_utc,
                wall_s=outcome.wall_s,
                executor=self.executor.name,
                lost=True,
            )
        return Process(
            started_utc=outcome.started_utc,
            wall_s=outcome.wall_s,
            worker_exit_code=outcome.cold.exit_code,
            output_tail=[] if verdict.status is Status.OK else outcome.cold.output_tail,
            log=f"logs/{stem}.log",
            executor=self.executor.name,
        )

    def write_log(self, stem: str, run: WorkerRun) -> None:
        (self.run_dir / "logs" / f"{stem}.log").write_text(run.log)
