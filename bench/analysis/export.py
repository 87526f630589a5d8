"""Stored runs -> pytest-benchmark's JSON, written by pytest-benchmark's own code.

One benchmark per ``ok`` fixed-shape cell (a cell measured in several repetitions is one
benchmark over all their samples, as in the report: ``metrics.pool_repetitions``). Its
statistics are pytest-benchmark's (``pytest_benchmark.stats.Metadata``, fed the cell's
raw steady-state steps in seconds, one round per step), the JSON is made by its
``pytest_benchmark_generate_json`` and, for a storage directory, saved by its
``FileStorage``: so ``pytest-benchmark compare``/``list``, github-action-benchmark and
Bencher read the files as they read pytest's own. Stream cells are not exported: their
steady steps run sequences of different lengths, not one repeated workload.

What pytest-benchmark cannot know comes from the run, never from the machine exporting:
``machine_info`` and ``commit_info`` from run.json's ``environment``, the date from its
start and finish, and ``extra_info`` with every other number graphbench has about the
cell, each computed by bench.analysis.metrics.

pytest-benchmark (and pytest, which it needs) is imported only here, lazily: the rest of
bench/ runs without it. Bad input is a UsageError.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from bench import backends
from bench.analysis import metrics
from bench.analysis.metrics import Baselines
from bench.errors import UsageError
from bench.results import store
from bench.results.record import CellResult
from bench.results.run_meta import Environment, RunMeta
from bench.results.store import Run

SCENARIO = "fixed"
PROJECT = "graphbench"
EXTRA = "pip install 'graphbench[report]'"
# pytest-benchmark's own word for a commit and a branch it cannot name (utils.get_commit_info).
NO_COMMIT = "unversioned"
NO_BRANCH = "(unknown)"
# What get_tag appends to a storage file's name when the tree had uncommitted changes.
DIRTY_TAG = "uncommitted-changes"


def pytest_benchmark() -> ModuleType:
    """The installed pytest_benchmark package, or a UsageError naming the extra to install."""
    try:
        import pytest_benchmark
        import pytest_benchmark.logger
        import pytest_benchmark.plugin
        import pytest_benchmark.stats
        import pytest_benchmark.storage.file
        import pytest_benchmark.utils
    except ImportError as exc:
        raise UsageError(
            f"export --format pytest-benchmark needs pytest-benchmark ({exc.name or exc} is "
            f"missing): {EXTRA}"
        ) from None
    return pytest_benchmark


# --- which cells, under which names ---------------------------------------------------


def fixed_cells(run: Run) -> list[CellResult]:
    """The run's fixed-shape cells, a cell measured in K repetitions pooled into one (as the
    report reads them: metrics.pool_repetitions), in the order they were run."""
    return metrics.pool_repetitions(r for r in run.results if r.cell.scenario == SCENARIO)


def exported_cells(run: Run) -> list[CellResult]:
    """The cells that become benchmarks: ok fixed-shape cells with steady-state samples."""
    return [r for r in fixed_cells(run) if r.ok and metrics.step_samples_ms(r)]


def require_cells(run: Run) -> list[CellResult]:
    """exported_cells, or a UsageError where the run has none (a file with no benchmark
    would pass a dashboard's check while saying nothing)."""
    cells = exported_cells(run)
    if not cells:
        raise UsageError(
            f"{run.path}: no ok fixed-shape cell to export (stream cells and cells that are "
            "not ok are never exported)"
        )
    return cells


def group_of(r: CellResult) -> str:
    """``mlp infer cpu b128 float32 quick``: the cell but its backend (what is compared)."""
    c = r.cell
    return f"{c.model} {c.mode} {c.device} b{c.batch_size} {c.precision} {c.profile}"


def fullname_of(r: CellResult) -> str:
    """``graphbench::mlp/infer/cpu/b128/float32/quick::torch-compile``: unique in a run, the
    same in every run (dashboards key their history by it)."""
    return f"{PROJECT}::{group_of(r).replace(' ', '/')}::{r.cell.backend}"


def params_of(r: CellResult) -> dict[str, Any]:
    """The identity as pytest parameters (``compare --group-by param:model`` uses them)."""
    c = r.cell
    return {
        "model": c.model,
        "mode": c.mode,
        "device": c.device,
        "batch_size": c.batch_size,
        "precision": c.precision,
        "profile": c.profile,
        "backend": c.backend,
    }


def param_of(r: CellResult) -> str:
    """The parameters joined as pytest joins a parametrised test's id."""
    return "-".join(str(v) for v in params_of(r).values())


# --- what graphbench knows beyond the samples -----------------------------------------


def break_even_info(r: CellResult, baselines: Baselines, warm: bool) -> tuple[int | None, str]:
    """(steps, what a reader is told) of bench.analysis.metrics.break_even; steps None where it
    never
    pays back or cannot be said (the text says which). An eager backend has nothing to pay
    back: it is the baseline."""
    if not backends.get(r.cell.backend).static:
        return None, "eager: the baseline, nothing to pay back"
    result = metrics.break_even(r, baselines.eager(r), warm=warm)
    return result.steps, result.text()


def extra_info(run: Run, r: CellResult, baselines: Baselines) -> dict[str, Any]:
    """Every other number graphbench has about the cell, each from bench.analysis.metrics (or read
    as
    recorded); None where there is none."""
    cold_steps, cold_note = break_even_info(r, baselines, warm=False)
    warm_steps, warm_note = break_even_info(r, baselines, warm=True)
    peak_bytes, peak_counter = metrics.peak_memory(r)
    ok_reps, reps = metrics.ok_repetitions(r)
    return {
        "run_id": run.run_id,
        "framework": r.cell.framework,
        "framework_version": r.setup.framework_version if r.setup else None,
        "repetition": r.cell.repetition,
        "repetitions": reps,
        "ok_repetitions": ok_reps,
        "repetition_spread": metrics.repetition_spread(r),
        "unit": "seconds per step (one round = one synced step)",
        "first_call_s": r.first_call.first_call_s if r.first_call else None,
        "first_call_warm_s": r.warm.first_call_warm_s if r.warm else None,
        "time_to_steady_s": metrics.time_to_steady_state(r),
        "eager_backend": backends.eager_counterpart(r.cell.backend),
        "break_even_steps": cold_steps,
        "break_even_note": cold_note,
        "break_even_warm_steps": warm_steps,
        "break_even_warm_note": warm_note,
        "speedup_vs_eager": metrics.speedup_vs_eager(r, baselines),
        "speedup_vs_torch_eager": metrics.speedup_vs_torch_eager(r, baselines),
        "throughput_per_s": metrics.throughput_per_s(r),
        "achieved_flops_per_s": metrics.achieved_flops_per_s(r),
        "parity_max_rel_err": r.parity.parity_max_rel_err if r.parity else None,
        "parity_tolerance": r.parity.parity_tolerance if r.parity else None,
        "peak_memory_bytes": peak_bytes,
        "peak_memory_counter": peak_counter,
        "noisy": metrics.is_noisy(r),
        "contended": metrics.is_contended(r),
        "slow_window": metrics.is_slow_window(r, metrics.run_sentinel_ms(run)),
    }


# --- the run as pytest-benchmark's session --------------------------------------------


def _system(env: Environment) -> str | None:
    """``Linux`` from run.json's ``platform`` (platform.platform() starts with the system)."""
    if not env.platform:
        return None
    return env.platform.split("-", 1)[0] or None


def machine_info(meta: RunMeta) -> dict[str, Any]:
    """pytest-benchmark's ``machine_info`` keys that run.json can fill (the cpu object with
    py-cpuinfo's key names), plus graphbench's own: what the run recorded, not this machine."""
    env = meta.environment
    return {
        "node": env.host,
        "system": _system(env),
        "python_implementation": "CPython",  # graphbench's frameworks ship CPython wheels only
        "python_version": env.python,
        "platform": env.platform,
        "cpu": {"brand_raw": env.cpu_model, "count": env.cpu_count},
        "cpu_schedulable": env.cpu_schedulable,
        "ram_bytes": env.ram_bytes,
        "gpus": env.gpus,
        "threads": env.threads,
        "key_packages": env.key_packages or None,
    }


def _git(meta: RunMeta) -> tuple[str, bool]:
    env = meta.environment
    return env.commit or NO_COMMIT, env.dirty


def commit_info(meta: RunMeta) -> dict[str, Any]:
    """pytest-benchmark's ``commit_info`` from run.json's git state (no commit time or branch:
    graphbench does not record them)."""
    commit, dirty = _git(meta)
    return {
        "id": commit,
        "time": None,
        "author_time": None,
        "dirty": dirty,
        "project": PROJECT,
        "branch": NO_BRANCH,
    }


def _python_minor(env: Environment) -> str:
    parts = env.python.split(".") if env.python else []
    return ".".join(parts[:2]) if len(parts) >= 2 else "unknown"


def _safe_name(text: str) -> str:
    """A file or folder name: what pytest-benchmark's parse_save refuses (and more) as '_'."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text) or "unknown"


def machine_id(meta: RunMeta) -> str:
    """The storage folder, as pytest-benchmark names it (utils.get_machine_id:
    ``Linux-CPython-3.11-64bit``), from the run's platform and Python, not this machine's."""
    env = meta.environment
    system = _system(env) or "unknown"
    return _safe_name(f"{system}-CPython-{_python_minor(env)}-64bit")


def _utc(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def run_datetime(meta: RunMeta) -> str:
    """pytest-benchmark's ``datetime`` (when the session ended): the run's finish, or its
    start for a run that never finished."""
    when = _utc(meta.progress.finished_utc) or _utc(meta.identity.started_utc)
    return when.isoformat() if when else meta.identity.started_utc


def save_name(meta: RunMeta) -> str:
    """``<commit>_<YYYYmmdd_HHMMSS>[_uncommitted-changes]``: what --benchmark-autosave names a
    session (utils.get_tag), from the run's commit and start."""
    commit, dirty = _git(meta)
    started = _utc(meta.identity.started_utc)
    stamp = started.strftime("%Y%m%d_%H%M%S") if started else "unknown"
    return _safe_name("_".join([commit, stamp, *([DIRTY_TAG] if dirty else [])]))


def benchmark_of(run: Run, r: CellResult, baselines: Baselines) -> Any:
    """pytest-benchmark's record of one benchmark, its statistics computed by its own Stats."""
    pb = pytest_benchmark()
    fixture = SimpleNamespace(  # what Metadata reads of pytest's benchmark fixture
        name=r.cell.backend,
        fullname=fullname_of(r),
        group=group_of(r),
        params=params_of(r),
        param=param_of(r),
        extra_info=extra_info(run, r, baselines),
        cprofile_stats=None,
        has_error=False,
    )
    options = {"timer": time.perf_counter, **run.meta.settings.to_dict()}
    bench = pb.stats.Metadata(fixture, iterations=1, options=options)
    for ms in metrics.step_samples_ms(r):
        bench.update(ms / 1e3)
    return bench


def session_json(run: Run) -> dict[str, Any]:
    """What ``pytest --benchmark-json`` writes for a session, for the run: machine_info,
    commit_info, benchmarks (raw data included), datetime, version."""
    pb = pytest_benchmark()
    cells = require_cells(run)
    baselines = Baselines(fixed_cells(run))  # whom each cell is compared with, as the report
    output = pb.plugin.pytest_benchmark_generate_json(
        config=None,
        benchmarks=[benchmark_of(run, r, baselines) for r in cells],
        include_data=True,
        machine_info=machine_info(run.meta),
        commit_info=commit_info(run.meta),
    )
    output["datetime"] = run_datetime(run.meta)  # the run's, not the export's
    store.dumps(output)  # strict JSON: a NaN here is a bug upstream, refused before writing
    return output


def json_text(run: Run) -> str:
    """The --benchmark-json file of the run, as pytest-benchmark writes it (session.save_json)."""
    pb = pytest_benchmark()
    return pb.utils.safe_dumps(session_json(run), ensure_ascii=True, indent=4, allow_nan=False)


# --- a storage directory --------------------------------------------------------------


def _storage(directory: Path, meta: RunMeta) -> Any:
    pb = pytest_benchmark()
    logger = pb.logger.Logger(pb.logger.Logger.QUIET)
    return pb.storage.file.FileStorage(directory, logger, default_machine_id=machine_id(meta))


def saved_copy(storage: Any, run_id: str) -> Path | None:
    """A file of the storage that already holds the run (every benchmark says its run_id)."""
    for path, data in storage.load():
        benchmarks = data.get("benchmarks") or [{}]
        if (benchmarks[0].get("extra_info") or {}).get("run_id") == run_id:
            return Path(storage.path) / path
    return None


def save(run: Run, directory: Path) -> tuple[Path, bool]:
    """Save the run into a pytest-benchmark storage directory with its FileStorage:
    ``DIR/<machine id>/<NNNN>_<commit>_<date>.json``, numbered after the files already there.
    Returns (the file, whether it was written now); a run already there is not saved twice."""
    storage = _storage(directory, run.meta)
    output = session_json(run)
    existing = saved_copy(storage, run.run_id)
    if existing is not None:
        return existing, False
    before = set(storage.query())
    try:
        storage.save(output, save_name(run.meta))
    except OSError as exc:
        raise UsageError(f"--storage {directory}: cannot write ({exc.strerror or exc})") from None
    (written,) = set(storage.query()) - before
    return Path(written), True
