"""Parent side: one fresh worker process per cell, a timeout, append, resume.

The parent never imports a framework. Each cell's worker starts from a clean
interpreter (no warm caches, allocator state or threads left by another backend),
gets its own empty compile-cache directory, and is killed with its whole process
group if it outlives the timeout. Whatever happens to a worker becomes a status with
a reason, and the run goes on.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import backends, expected
from bench.breakeven import break_even_steps, overtaking_step
from bench.cells import Cell, block_key
from bench.profiles import Settings
from bench.results import SCHEMA_VERSION, append_cell, read_cells, utc_now

STDERR_TAIL_LINES = 20
SIGNAL_NAMES = {-s.value: s.name for s in signal.Signals}

WORKER = [sys.executable, "-m", "bench.worker"]
EXPECTED = [sys.executable, "-m", "bench.expected"]


def new_record(cell: Cell, run_id: str) -> dict:
    """A cell's record before anything is measured: every schema field present."""
    if cell.scenario == "dynamic":
        return {**_fixed_record(cell, run_id), **DYNAMIC_FIELDS}
    return _fixed_record(cell, run_id)


# A dynamic-shape cell's own fields (bench.dynamic and bench.worker.measure_stream).
DYNAMIC_FIELDS: dict = {
    "n_steps": None,
    "lengths": [],
    "fed_lengths": [],
    "distinct_shapes": None,
    "padding_waste": None,
    "parity_steps": [],
    "step_ms": [],
    "compiled_at": [],
    "total_s": None,
    "steady_step_ms": [],
    "steady_total_s": None,
    "steady_latency_ms": None,
    "compilations_second_pass": None,
    "compile_s": None,
    # Static backends: the step from which the stream's cumulative time is at or below its
    # framework's eager backend fed the same stream (exact), to the end; None if never.
    "overtakes_eager_at_step": None,
}


def _fixed_record(cell: Cell, run_id: str) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        **cell.to_dict(),
        "status": None,
        "error": None,
        "framework_version": None,
        "build_s": None,
        "first_call_s": None,
        "warmup_ms": [],
        "samples_ms": [],
        "latency_ms": None,
        "pipeline_steps": None,
        "pipeline_s": None,
        "throughput_per_s": None,
        "flops_per_step": None,
        "peak_host_rss_bytes": None,
        "host_memory_counter": None,
        "peak_device_bytes": None,
        "device_memory_counter": None,
        "parity_max_rel_err": None,
        "parity_tolerance": None,
        "parity_output": None,
        "compilations": None,
        "compile_cache": "cold",
        "build_warm_s": None,
        "first_call_warm_s": None,
        "warm_start": None,
        "break_even_steps": None,
        "break_even_note": None,
        "break_even_steps_warm": None,
        "break_even_warm_note": None,
    }


@dataclass
class ProcessOutcome:
    returncode: int
    timed_out: bool
    wall_s: float
    output_tail: list[str]


def run_process(
    argv: Sequence[str], log_path: Path, timeout_s: float, env: dict[str, str]
) -> ProcessOutcome:
    """Run a child in its own process group; on timeout kill the group (compile workers too)."""
    start = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            list(argv), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Kill the whole group: a timed-out worker, its compile pools, or stragglers a
            # finished worker left; on Ctrl-C, so that no orphan outlives the run.
            _kill_group(proc)
    tail = log_path.read_text(errors="replace").splitlines()[-STDERR_TAIL_LINES:]
    return ProcessOutcome(proc.returncode, timed_out, time.monotonic() - start, tail)


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left to kill
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def classify(outcome: ProcessOutcome, result: dict | None, timeout_s: float) -> tuple[str, str]:
    """(status, one-line reason) of a worker that did not report a final status itself."""
    last = next((line.strip() for line in reversed(outcome.output_tail) if line.strip()), "")
    if outcome.timed_out:
        return "timeout", f"no result within the {timeout_s:g} s timeout; worker killed"
    if outcome.returncode < 0:
        name = SIGNAL_NAMES.get(outcome.returncode, f"signal {-outcome.returncode}")
        if name == "SIGKILL":
            return (
                "oom",
                "worker killed by SIGKILL (the kernel's out-of-memory killer is the usual sender)",
            )
        return "failed", f"worker died of {name}" + (f": {last}" if last else "")
    if outcome.returncode != 0:
        return "failed", f"worker exited with code {outcome.returncode}" + (
            f": {last}" if last else ""
        )
    return "failed", "worker exited without writing a result" + (f": {last}" if last else "")


def worker_env(cell: Cell, settings: Settings, cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    threads = str(settings.threads)
    # The same thread budget for every framework's native pools.
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    env.update(backends.FRAMEWORK_ENV[cell.framework])
    # Only a backend whose compilation persists gets a persistent cache: for an eager
    # backend it would only add writes (op-by-op JAX would serialise every primitive).
    cache_env = (
        backends.CACHE_ENV[cell.framework] if backends.get(cell.backend).persistent_cache else {}
    )
    for name, template in cache_env.items():
        value = template.format(cache_dir=cache_dir)
        # A user's own flags (e.g. TF_XLA_FLAGS) are kept; ours come last.
        env[name] = f"{env[name]} {value}" if name.endswith("FLAGS") and env.get(name) else value
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Runner:
    """Runs cells one after another into a run directory."""

    def __init__(
        self,
        run_dir: Path,
        run_id: str,
        settings: Settings,
        worker: Sequence[str] = WORKER,
        expected_job: Sequence[str] = EXPECTED,
    ):
        self.run_dir = run_dir
        self.run_id = run_id
        self.settings = settings
        self.worker = list(worker)
        self.expected_job = list(expected_job)
        (run_dir / "logs").mkdir(exist_ok=True)
        (run_dir / expected.EXPECTED_DIR).mkdir(exist_ok=True)
        # Every record of this run so far (a resumed run starts with the stored ones):
        # a static cell's break-even is computed against its block's eager cell.
        self.records: list[dict] = read_cells(run_dir / "cells.jsonl")

    def pending(self, cells: Sequence[Cell]) -> list[Cell]:
        """Cells with no record yet (all of them in a new run; the rest when resuming)."""
        done = {Cell.from_dict(r).key() for r in self.records}
        return [c for c in cells if c.key() not in done]

    def run(
        self,
        cells: Sequence[Cell],
        on_start: Callable[[Cell], None] = lambda c: None,
        on_done: Callable[[dict], None] = lambda r: None,
    ) -> list[dict]:
        records = []
        for index, cell in enumerate(cells):
            on_start(cell)
            record = self.run_cell(cell, index)
            self.add_break_even(record)
            append_cell(self.run_dir, record)
            self.records.append(record)
            records.append(record)
            on_done(record)
        return records

    def run_cell(self, cell: Cell, index: int = 0) -> dict:
        """A cold worker (the measurement), then, for a backend with a persistent compile
        cache, a warm worker of the same cell that finds what the cold one left."""
        record = new_record(cell, self.run_id)
        record["started_utc"] = utc_now()
        info = backends.get(cell.backend)
        not_applicable = info.dynamic_not_applicable() if cell.strategy == "dynamic" else None
        reason = not_applicable or backends.not_installed_reason(cell.framework)
        if reason:
            record.update(status="skipped", error=reason, wall_s=0.0)
            return record
        start = time.monotonic()
        stem = "-".join(
            str(part)
            for part in (
                f"{index:03d}",
                cell.model,
                cell.backend,
                cell.mode,
                f"b{cell.batch_size}",
                cell.stream,
                cell.strategy,
            )
            if part is not None
        )
        try:
            expected_path = self.ensure_expected(cell, stem)
        except RuntimeError as exc:
            record.update(status="failed", error=str(exc), wall_s=time.monotonic() - start)
            return record
        cache_note = info.persistent_cache
        with tempfile.TemporaryDirectory(prefix="graphbench-cache-") as cache_dir:
            if cell.scenario == "dynamic":  # one worker: the stream, from cold caches
                record = self.run_worker(
                    cell, record, expected_path, Path(cache_dir), "stream", stem
                )
                record["wall_s"] = time.monotonic() - start
                return record
            record = self.run_worker(cell, record, expected_path, Path(cache_dir), "cold", stem)
            if record["status"] == "ok" and cache_note:
                warm = self.run_worker(
                    cell,
                    new_record(cell, self.run_id),
                    expected_path,
                    Path(cache_dir),
                    "warm",
                    f"{stem}-warm",
                )
                if warm["status"] == "ok":
                    record["build_warm_s"] = warm["build_s"]
                    record["first_call_warm_s"] = warm["first_call_s"]
                    record["warm_start"] = cache_note
                else:
                    record["warm_start"] = f"warm worker {warm['status']}: {warm['error']}"
            elif record["status"] == "ok":
                record["warm_start"] = "no persistent compile cache: a new process starts cold"
        record["wall_s"] = time.monotonic() - start
        return record

    def run_worker(
        self, cell: Cell, record: dict, expected_path: Path, cache_dir: Path, phase: str, stem: str
    ) -> dict:
        """One worker process for one phase of a cell: its record, whatever happened."""
        with tempfile.TemporaryDirectory(prefix="graphbench-job-") as tmp:
            job_path, result_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
            job = {
                "cell": cell.to_dict(),
                "settings": self.settings.to_dict(),
                "record": record,
                "expected_path": str(expected_path),
                "phase": phase,
            }
            job_path.write_text(json.dumps(job))
            outcome = run_process(
                [*self.worker, str(job_path), str(result_path)],
                self.run_dir / "logs" / f"{stem}.log",
                self.settings.timeout_s,
                worker_env(cell, self.settings, cache_dir),
            )
            result = _read_json(result_path)
        if result is not None:
            record = result
        if outcome.timed_out or record.get("status") is None:
            status, reason = classify(outcome, result, self.settings.timeout_s)
            if record.get("n_steps") and record.get("step_ms"):  # a stream cut short
                reason += f" (first pass at step {len(record['step_ms'])} of {record['n_steps']})"
            record.update(status=status, error=reason)
        if record["status"] != "ok":
            record["output_tail"] = outcome.output_tail
        record["worker_exit_code"] = outcome.returncode
        return record

    def add_break_even(self, record: dict) -> None:
        """Steps after which a static cell has paid back its first call vs its eager cell."""
        info = backends.get(record["backend"])
        if not info.static:
            return
        eager_name = backends.eager_baseline(info.framework)
        eager = next(
            (
                r
                for r in reversed(self.records)
                if r["backend"] == eager_name
                and block_key(r) == block_key(record)
                and r.get("strategy") in (None, "exact")  # eager fed the stream as it comes
            ),
            None,
        )
        if record["scenario"] == "dynamic":
            if eager is not None and eager["status"] == record["status"] == "ok":
                record["overtakes_eager_at_step"] = overtaking_step(
                    eager["step_ms"], record["step_ms"]
                )
            return
        if eager is None:
            record["break_even_note"] = f"no {eager_name} cell in this run"
            return
        for warm, suffix in ((False, ""), (True, "_warm")):
            steps, note = break_even_steps(eager, record, warm)
            # JSON has no infinity: "never" is null, and its note says so.
            record[f"break_even_steps{suffix}"] = (
                None if steps is None or math.isinf(steps) else steps
            )
            record[f"break_even{suffix}_note"] = note

    def ensure_expected(self, cell: Cell, stem: str) -> Path:
        """The reference output for this cell's block, computed once in its own process."""
        s = self.settings
        key = (cell.model, cell.profile, cell.batch_size, cell.mode)
        if cell.stream:
            name = expected.stream_file_name(*key, cell.stream, s.seed)
        else:
            name = expected.file_name(*key, s.seed)
        path = self.run_dir / expected.EXPECTED_DIR / name
        if path.exists():
            return path
        job_path = path.with_suffix(".job.json")
        job = dict(zip(("model", "profile", "batch_size", "mode"), key, strict=True))
        job_path.write_text(json.dumps({**job, "seed": s.seed, "stream": cell.stream}))
        outcome = run_process(
            [*self.expected_job, str(job_path), str(path)],
            self.run_dir / "logs" / f"{stem}-expected.log",
            s.timeout_s,
            dict(os.environ),
        )
        job_path.unlink()
        if not path.exists():
            status, reason = classify(outcome, None, s.timeout_s)
            raise RuntimeError(f"NumPy reference failed ({status}): {reason}")
        return path


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
