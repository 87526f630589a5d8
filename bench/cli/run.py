"""``run`` and ``resume``: expand the matrix, run it, keep every finished cell.

A run exits 0 once every cell has a recorded result, whatever their statuses. Ctrl-C,
SIGTERM and SIGHUP keep the finished cells, mark run.json interrupted, exit 130 and
say how to resume; a full disk stops the run with one line, keeping what was written.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import shlex
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

import models
from bench import backends
from bench import nvml as gpu
from bench.analysis import metrics, summary
from bench.backends.base import ADAM, LOSS
from bench.cli import args as check
from bench.cli import user_models
from bench.errors import UsageError
from bench.matrix import scenarios
from bench.matrix import shard as sharding
from bench.matrix.cells import DEFAULT_REPEATS, MODES, Cell, repeated
from bench.matrix.precision import POLICIES, PRECISIONS
from bench.matrix.profiles import Settings, available_cores, settings_for
from bench.matrix.scenarios.base import MatrixRequest
from bench.matrix.shard import Shard
from bench.parent import environment, eta, executors, merge, peaks
from bench.parent import probes as probing
from bench.parent.runner import Runner
from bench.parent.worker_env import set_for_workers
from bench.results import device_peak
from bench.results.record import SCHEMA_VERSION, CellResult
from bench.results.store import RUN_FILE, RunLock, load_run, matrix_of, new_run_dir, utc_now
from bench.results.store import write_json_atomic as _write_json
from bench.terminal import plain

EXIT_INTERRUPTED = 130
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal: Ctrl-C (SIGINT), SIGTERM or SIGHUP."""


def request_from(a: argparse.Namespace) -> tuple[str, MatrixRequest]:
    """The validated matrix request of ``run``'s options: (scenario name, request)."""
    scenario = scenarios.get(a.scenario)
    if a.device == "cuda":
        reason = environment.cuda_unavailable_reason()
        if reason:
            raise UsageError(
                f"--device cuda: no CUDA device is visible ({reason}); valid here: cpu"
            )
    options = {}
    for other in scenarios.SCENARIOS.values():
        for option, (valid, _) in other.options.items():
            text = getattr(a, option.replace("-", "_"))
            if text is None:
                continue
            if other is not scenario:
                raise UsageError(f"--{option} applies to --scenario {other.name} only")
            options[option] = check.names(f"--{option}", text, valid)
    model_names = (
        None if a.models is None else user_models.model_names(a.models, models.MODEL_NAMES)
    )
    if a.models is not None and a.models.strip() == "all":
        model_names = scenario.models()
    backend_names = (
        user_models.all_backends_for(a.device, model_names)
        if a.backends is None or a.backends.strip() == "all"
        else check.names("--backends", a.backends, backends.names())
    )
    modes = None if a.modes is None else check.names("--modes", a.modes, MODES)
    sizes = None if a.batch_sizes is None else check.batch_sizes(a.batch_sizes)
    precisions = check.names("--precisions", a.precisions, PRECISIONS, default="float32")
    request = MatrixRequest(
        models=model_names,
        backends=backend_names,
        modes=modes,
        device=a.device,
        profile=a.profile,
        batch_sizes=sizes,
        precisions=precisions,
        options=options,
    )
    return scenario.name, request


def executor_from(a: argparse.Namespace, cells: list[Cell]) -> executors.Executor:
    """The executor the options ask for, checked against the matrix and this machine."""
    if a.executor == "ray":
        if a.gpus is not None:
            raise UsageError(
                "--gpus applies to --executor local; under Ray each CUDA cell gets one of "
                "the cluster's GPUs (limit them with ray start --num-gpus)"
            )
        if importlib.util.find_spec("ray") is None:
            raise UsageError(
                "--executor ray needs Ray, which is not installed: pip install 'graphbench[ray]'"
            )
        return executors.make("ray", ray_address=a.ray_address)
    if a.ray_address is not None:
        raise UsageError("--ray-address applies to --executor ray only")
    if a.gpus is None:
        return executors.make("local")
    if not any(c.device == "cuda" for c in cells):
        raise UsageError("--gpus: the matrix has no CUDA cell to spread (add --device cuda)")
    gpus = check.gpu_list(a.gpus, gpu.indices())
    if available_cores() < len(gpus):
        raise UsageError(
            f"--gpus: {len(gpus)} GPUs need at least one CPU core each for their host "
            f"threads; this process may use {available_cores()}"
        )
    return executors.make("local", gpus=gpus)


def probe_frameworks(
    cells: list[Cell], pythons: dict[str, str], device: str, err: Console
) -> dict[str, probing.Probe]:
    """Ask each framework of the matrix, in its own interpreter, what it can do here; on
    CUDA a framework that cannot see the GPU stops the run (bench.worker.probe)."""
    frameworks = list(dict.fromkeys(c.framework for c in cells))
    err.print(Text(f"graphbench: probing {', '.join(frameworks)} ({device})"))
    return probing.check(frameworks, pythons, device)


def probes_meta(probes: dict[str, probing.Probe]) -> dict[str, Any]:
    """What run.json records of the probes: each framework's interpreter, version, CUDA
    build and driver, and the harness floor."""
    return {
        "interpreters": {f: p.to_json() for f, p in probes.items()},
        "harness_floor_us": {f: p.floor_us for f, p in probes.items() if p.floor_us},
    }


def measure_peak(
    cells: list[Cell],
    pythons: dict[str, str],
    probes: dict,
    device: str,
    threads: int,
    err: Console,
) -> dict[str, Any]:
    """run.json's ``device_peak``: what the device does in a large matmul per precision and a
    large copy, measured before any cell in each framework's interpreter (bench.worker.peak)."""
    frameworks = peaks.frameworks_of(probes)
    if frameworks:
        err.print(Text(f"graphbench: measuring the device's peak in {', '.join(frameworks)}"))
    measured = peaks.for_run(probes, pythons, device, threads, [c.precision for c in cells])
    err.print(Text(plain(f"graphbench: device peak: {device_peak.describe(measured)}")))
    return measured


def run_meta(run_id: str, settings: Settings, cells: list[Cell], scenario: str) -> dict:
    used = sorted({c.precision for c in cells}, key=PRECISIONS.index)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "started_utc": utc_now(),
        "finished_utc": None,
        "interrupted": None,
        "command": shlex.join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
        "cwd": str(Path.cwd()),
        "scenario": scenario,
        "settings": settings.to_dict(),
        "precision_policy": {p: POLICIES[p].to_json() for p in used},
        "training_step": {"loss": LOSS, "optimizer": {"name": "Adam", **asdict(ADAM)}},
        "scenario_settings": scenarios.get(scenario).describe_run(settings.profile),
        "environment": environment.collect(settings.threads),
        "worker_environment": set_for_workers(cells, settings.threads),
        "matrix": [c.to_dict() for c in cells],
    }


def write_meta(run_dir: Path, meta: dict) -> None:
    try:
        _write_json(run_dir / RUN_FILE, meta)
    except OSError as exc:
        raise UsageError(
            f"{run_dir / RUN_FILE}: cannot be written ({exc.strerror or exc})"
        ) from None


def cmd_run(a: argparse.Namespace, out: Console, err: Console) -> int:
    scenario, request = request_from(a)
    cells = scenarios.get(scenario).expand(request)
    if not cells:
        raise UsageError("the options select no cell; see python -m bench list")
    if request.batch_sizes:
        memory = environment.device_memory_bytes(a.device)
        for model in dict.fromkeys(c.model for c in cells):
            for size in request.batch_sizes:
                # A user's model: from its check (its file is never imported here).
                fits = user_models.batch_fits if models.is_user_model(model) else check.batch_fits
                fits(model, a.profile, size, memory)
    if a.trace and scenario != "fixed":
        raise UsageError("--trace applies to --scenario fixed only (a stream has no steady step)")
    settings = settings_for(a.profile, timeout_s=a.timeout, threads=a.threads)
    repeats = DEFAULT_REPEATS[a.profile] if a.repeats is None else a.repeats
    cells = repeated(cells, repeats)
    shard = None if a.shard is None else Shard.parse(a.shard)
    executor = executor_from(a, cells)
    pythons = check.interpreters(a.python, tuple(backends.FRAMEWORKS)) if a.python else {}
    check.output_dir("--out-dir", a.out_dir)
    whole = cells
    if shard is not None:
        cells, positions = sharding.select(whole, shard, settings)
        err.print(
            Text(
                f"graphbench: shard {shard.label()}: {len(cells)} of the matrix's "
                f"{len(whole)} cells"
            )
        )
    probes = probe_frameworks(cells, pythons, a.device, err) if cells else {}
    device_peak = measure_peak(cells, pythons, probes, a.device, settings.threads, err)
    try:
        run_dir = new_run_dir(a.out_dir, a.device, scenario)
    except OSError as exc:
        raise UsageError(
            f"--out-dir {a.out_dir}: cannot create a run directory ({exc.strerror or exc})"
        ) from None
    # What was asked (the precisions' policies) from the whole matrix, so shards agree.
    meta = run_meta(run_dir.name, settings, whole, scenario)
    meta.update(pythons=pythons, repeats=repeats, trace=a.trace, **probes_meta(probes))
    meta["device_peak"] = device_peak
    meta["user_models"] = user_models.entries_for(whole)  # where each came from (run-wide)
    if shard is not None:
        meta.update(matrix=[c.to_dict() for c in cells], shard=shard.to_json(positions, len(whole)))
    write_meta(run_dir, meta)
    return execute(run_dir, meta, cells, settings, out, err, probes, executor=executor)


def cmd_resume(a: argparse.Namespace, out: Console, err: Console) -> int:
    run = load_run(a.run_dir)
    if not run.meta.get("matrix"):
        raise UsageError(f"{a.run_dir}: run.json has no matrix to resume")
    settings = Settings.from_dict(run.meta["settings"], f"{a.run_dir / RUN_FILE}: settings")
    cells = matrix_of(run.meta)
    pythons = run.meta.get("pythons") or {}
    if pythons:  # the interpreters the run started with must still be there
        listed = ",".join(f"{f}={p}" for f, p in pythons.items())
        pythons = check.interpreters(listed, tuple(backends.FRAMEWORKS))
    executor = executor_from(a, cells)
    devices = {c.device for c in cells}
    probes = probe_frameworks(cells, pythons, "cuda" if "cuda" in devices else "cpu", err)
    run.meta.setdefault("resumed_utc", []).append(utc_now())
    return execute(run.path, run.meta, cells, settings, out, err, probes, executor=executor)


def cmd_merge(a: argparse.Namespace, err: Console, command: str) -> int:
    check.new_dir("-o", a.output)
    merged = merge.merge(a.run_dirs, a.output, command)
    err.print(Text(plain(f"graphbench: merged {len(a.run_dirs)} shard(s) into {merged}")))
    print(merged, flush=True)
    return 0


def progress_detail(r: CellResult) -> str:
    """The one line a finished cell gets while the run goes on."""
    if not r.ok:
        return r.error
    if r.passes is not None:
        compiling = metrics.compile_s(r)
        return (
            f"stream {metrics.total_s(r):.3g} s"
            + ("" if compiling is None else f", {compiling:.3g} s of it compiling")
            + f", steady {metrics.median_ms(r):.3g} ms/step"
        )
    first = r.first_call.first_call_s if r.first_call else float("nan")
    return f"{metrics.median_ms(r):.3g} ms, first call {first:.3g} s"


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def execute(
    run_dir: Path,
    meta: dict,
    cells: list[Cell],
    settings: Settings,
    out: Console,
    err: Console,
    probes: dict[str, probing.Probe] | None = None,
    deadline: float | None = None,
    executor: executors.Executor | None = None,
) -> int:
    """Run the cells that have no result yet, keep each as it finishes, print the summary.
    ``deadline`` (time.monotonic()): start no cell after it."""
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with RunLock(run_dir):
            return _execute(
                run_dir, meta, cells, settings, out, err, probes or {}, deadline, executor
            )
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _execute(
    run_dir: Path,
    meta: dict,
    cells: list[Cell],
    settings: Settings,
    out: Console,
    err: Console,
    probes: dict[str, probing.Probe],
    deadline: float | None = None,
    executor: executors.Executor | None = None,
) -> int:
    unavailable = {f: p.problem for f, p in probes.items() if p.problem}
    runner = Runner(
        run_dir,
        meta["run_id"],
        settings,
        matrix=cells,
        positions=(meta.get("shard") or {}).get("positions"),
        trace=bool(meta.get("trace")),
        pythons=meta.get("pythons") or {},
        unavailable=unavailable,
        executor=executor,
        deadline=deadline,
    )
    for note in runner.notes:
        err.print(Text(f"note: {plain(note)}"))
    todo = runner.pending(cells)
    env = meta.get("environment") or {}
    known = eta.history(run_dir.parent, env.get("host"), env.get("cpu_model"), settings)
    left = eta.Eta(todo, settings, known)
    meta["estimated_s"] = round(left.remaining_s(), 1)  # what the ETA said at the start
    err.print(
        Text(
            plain(
                f"graphbench: {len(todo)} cell(s) into {run_dir}; about "
                f"{eta.clock_text(left.remaining_s())} ({left.basis() or 'nothing to run'})"
            )
        )
    )
    interrupted: str | None = None
    disk_full: OSError | None = None
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}", markup=False),
        console=err,
        transient=True,
        # Redrawn when a cell starts or ends, never by a timer: a parent thread waking ten
        # times a second would take turns on the cores a worker's thread pool is timing on.
        auto_refresh=False,
    )
    with progress:
        task = progress.add_task(
            "", total=len(todo), eta=f"~{eta.clock_text(left.remaining_s())} left"
        )

        def on_start(cell: Cell) -> None:
            progress.update(task, description=cell.label(), refresh=True)

        def on_done(r: CellResult) -> None:
            mark = Text("ok", style="green") if r.ok else Text(str(r.status), style="red")
            line = Text.assemble(mark, " ", plain(f"{r.cell.label()}: {progress_detail(r)}"))
            progress.console.print(line)
            left.finished(r.cell, r.process.wall_s if r.process else None)
            progress.update(task, eta=f"~{eta.clock_text(left.remaining_s())} left")
            progress.advance(task)
            progress.refresh()

        try:
            runner.run(todo, on_start, on_done)
        except KeyboardInterrupt as exc:
            interrupted = str(exc) if isinstance(exc, Interrupted) else "SIGINT"
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            disk_full, interrupted = exc, "disk full"
    meta["finished_utc"] = utc_now()
    meta["interrupted"] = interrupted is not None
    meta["interrupted_by"] = interrupted
    try:
        write_meta(run_dir, meta)
    except UsageError:
        if disk_full is None:
            raise
    if disk_full is not None:
        raise UsageError(
            f"the disk is full ({disk_full.strerror}): the run stopped; the "
            f"{len(runner.results)} cell(s) written to {run_dir} are kept; free space, then: "
            f"python -m bench resume {run_dir}"
        )
    results = load_run(run_dir).results
    peak_of_run = meta.get("device_peak")
    out.print(summary.table(results, title=f"run {meta['run_id']}", device_peak=peak_of_run))
    if interrupted:
        err.print(
            Text(
                plain(
                    f"interrupted ({interrupted}): finished cells are kept; continue with: "
                    f"python -m bench resume {run_dir}"
                )
            )
        )
    print(run_dir, flush=True)
    return EXIT_INTERRUPTED if interrupted else 0
