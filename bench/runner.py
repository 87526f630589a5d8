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
from bench.cells import Cell
from bench.profiles import Settings
from bench.results import SCHEMA_VERSION, append_cell, read_cells, utc_now

STDERR_TAIL_LINES = 20
SIGNAL_NAMES = {-s.value: s.name for s in signal.Signals}

WORKER = [sys.executable, "-m", "bench.worker"]
EXPECTED = [sys.executable, "-m", "bench.expected"]


def new_record(cell: Cell, run_id: str) -> dict:
    """A cell's record before anything is measured: every schema field present."""
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


def worker_env(cell: Cell, settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    threads = str(settings.threads)
    # The same thread budget for every framework's native pools.
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    env.update(backends.FRAMEWORK_ENV[cell.framework])
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

    def pending(self, cells: Sequence[Cell]) -> list[Cell]:
        """Cells with no record yet (all of them in a new run; the rest when resuming)."""
        done = {Cell.from_dict(r).key() for r in read_cells(self.run_dir / "cells.jsonl")}
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
            append_cell(self.run_dir, record)
            records.append(record)
            on_done(record)
        return records

    def run_cell(self, cell: Cell, index: int = 0) -> dict:
        record = new_record(cell, self.run_id)
        record["started_utc"] = utc_now()
        missing = backends.not_installed_reason(cell.framework)
        if missing:
            record.update(status="skipped", error=missing, wall_s=0.0)
            return record
        start = time.monotonic()
        stem = f"{index:03d}-{cell.model}-{cell.backend}-{cell.mode}-b{cell.batch_size}"
        try:
            expected_path = self.ensure_expected(cell, stem)
        except RuntimeError as exc:
            record.update(status="failed", error=str(exc), wall_s=time.monotonic() - start)
            return record
        with tempfile.TemporaryDirectory(prefix="graphbench-") as tmp:
            job_path, result_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
            job = {
                "cell": cell.to_dict(),
                "settings": self.settings.to_dict(),
                "record": record,
                "expected_path": str(expected_path),
                "cache_dir": str(Path(tmp) / "cache"),
            }
            job_path.write_text(json.dumps(job))
            outcome = run_process(
                [*self.worker, str(job_path), str(result_path)],
                self.run_dir / "logs" / f"{stem}.log",
                self.settings.timeout_s,
                worker_env(cell, self.settings),
            )
            result = _read_json(result_path)
        if result is not None:
            record = result
        if outcome.timed_out or record.get("status") is None:
            status, reason = classify(outcome, result, self.settings.timeout_s)
            record.update(status=status, error=reason)
        if record["status"] != "ok":
            record["output_tail"] = outcome.output_tail
        record["worker_exit_code"] = outcome.returncode
        record["wall_s"] = time.monotonic() - start
        return record

    def ensure_expected(self, cell: Cell, stem: str) -> Path:
        """The reference output for this cell's block, computed once in its own process."""
        s = self.settings
        name = expected.file_name(cell.model, cell.profile, cell.batch_size, cell.mode, s.seed)
        path = self.run_dir / expected.EXPECTED_DIR / name
        if path.exists():
            return path
        job_path = path.with_suffix(".job.json")
        job_path.write_text(
            json.dumps(
                {
                    "model": cell.model,
                    "profile": cell.profile,
                    "batch_size": cell.batch_size,
                    "mode": cell.mode,
                    "seed": s.seed,
                }
            )
        )
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
