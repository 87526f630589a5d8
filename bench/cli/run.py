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
from collections.abc import Callable
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
from bench.matrix.cells import DEFAULT_REMEASURE_SLOW, DEFAULT_REPEATS, MODES, Cell, repeated
from bench.matrix.precision import POLICIES, PRECISIONS
from bench.matrix.profiles import Settings, available_cores, settings_for
from bench.matrix.scenarios.base import MatrixRequest
from bench.matrix.shard import Shard
from bench.parent import environment, eta, executors, merge, peaks
from bench.parent import probes as probing
from bench.parent.runner import Runner
from bench.parent.worker_env import set_for_workers
from bench.results import device_peak, store
from bench.results.record import CellResult
from bench.results.run_meta import (
    Identity,
    Machine,
    Plan,
    Probes,
    RunMeta,
    ShardSlice,
)
from bench.results.store import RUN_FILE, RunLock, load_run, new_run_dir, utc_now
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
        None
        if a.models is None
        else user_models.model_names(a.models, models.MODEL_NAMES, a.profile)
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


def probes_meta(
    probes: dict[str, probing.Probe],
    device_peak: dict[str, Any] | None = None,
    gpu_check_budget_s: float | None = None,
) -> Probes:
    """What run.json records of the probes: each framework's interpreter, version, CUDA
    build and driver, the harness floor, and the device's measured peak."""
    return Probes(
        interpreters=dict(probes),
        harness_floor_us={f: p.floor_us for f, p in probes.items() if p.floor_us},
        device_peak=device_peak,
        gpu_check_budget_s=gpu_check_budget_s,
    )


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


def run_meta(
    run_id: str,
    settings: Settings,
    whole: list[Cell],
    scenario: str,
    probes: Probes,
    *,
    pythons: dict[str, str] | None = None,
    repeats: int | None = None,
    remeasure_slow: int = 0,
    trace: bool = False,
    diagnose: bool = False,
    user_models: dict[str, dict[str, Any]] | None = None,
    shard: tuple[Shard, list[Cell], list[int]] | None = None,
) -> RunMeta:
    """run.json at the start of a run. What was asked (the precisions' policies, the workers'
    environments) comes from the ``whole`` matrix, so the shards of one matrix agree; a
    shard's own cells and their positions in the whole come with ``shard``."""
    used = sorted({c.precision for c in whole}, key=PRECISIONS.index)
    slice_ = None
    cells = whole
    if shard is not None:
        chosen, cells, positions = shard
        slice_ = ShardSlice(chosen.index, chosen.count, positions, len(whole))
    return RunMeta(
        identity=Identity(
            run_id=run_id,
            started_utc=utc_now(),
            command=shlex.join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
            cwd=str(Path.cwd()),
            scenario=scenario,
        ),
        plan=Plan(
            settings=settings,
            matrix=list(cells),
            repeats=repeats,
            remeasure_slow=remeasure_slow,
            trace=trace,
            diagnose=diagnose,
            user_models=dict(user_models or {}),
            pythons=dict(pythons or {}),
            shard=slice_,
            precision_policy={p: POLICIES[p].to_json() for p in used},
            training_step={"loss": LOSS, "optimizer": {"name": "Adam", **asdict(ADAM)}},
            scenario_settings=scenarios.get(scenario).describe_run(settings.profile),
        ),
        machine=Machine(
            environment=environment.collect(settings.threads),
            worker_environment=set_for_workers(whole, settings.threads),
        ),
        probes=probes,
    )


def write_meta(run_dir: Path, meta: RunMeta) -> None:
    try:
        store.write_meta(run_dir, meta)
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
    remeasure = DEFAULT_REMEASURE_SLOW[a.profile] if a.remeasure_slow is None else a.remeasure_slow
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
    meta = run_meta(
        run_dir.name,
        settings,
        whole,
        scenario,
        probes_meta(probes, device_peak),
        pythons=pythons,
        repeats=repeats,
        remeasure_slow=remeasure,
        trace=a.trace,
        diagnose=a.diagnose,
        user_models=user_models.entries_for(whole),
        shard=None if shard is None else (shard, cells, positions),
    )
    write_meta(run_dir, meta)
    return execute(run_dir, meta, cells, settings, out, err, probes, executor=executor)


def cmd_resume(a: argparse.Namespace, out: Console, err: Console) -> int:
    run = load_run(a.run_dir)
    if not run.meta.plan.matrix:
        raise UsageError(f"{a.run_dir}: run.json has no matrix to resume")
    settings = run.meta.settings
    user_models.register_stored(run.meta.plan.user_models)  # not checked again
    cells = run.meta.plan.matrix
    pythons = run.meta.plan.pythons
    if pythons:  # the interpreters the run started with must still be there
        listed = ",".join(f"{f}={p}" for f, p in pythons.items())
        pythons = check.interpreters(listed, tuple(backends.FRAMEWORKS))
    executor = executor_from(a, cells)
    devices = {c.device for c in cells}
    probes = probe_frameworks(cells, pythons, "cuda" if "cuda" in devices else "cpu", err)
    run.meta.progress.resume(utc_now())
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


def slow_window_cells(results: list[CellResult], reference: float | None) -> dict[Cell, str]:
    """The cells whose newest record is ok but was measured in a slow window
    (bench.analysis.metrics.is_slow_window), each with why: what ``--remeasure-slow``
    measures again."""
    newest = {r.cell.key(): r for r in results}
    slow = {}
    for r in newest.values():
        ratio = metrics.slow_window_ratio(r, reference)
        if r.ok and ratio is not None and metrics.is_slow_window(r, reference):
            slow[r.cell] = f"slow window: its sentinel ran {ratio:.2f}× the run's median"
    return slow


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def execute(
    run_dir: Path,
    meta: RunMeta,
    cells: list[Cell],
    settings: Settings,
    out: Console,
    err: Console,
    probes: dict[str, probing.Probe] | None = None,
    deadline: float | None = None,
    executor: executors.Executor | None = None,
    lazy_references: bool = False,
    on_result: Callable[[CellResult], None] | None = None,
) -> int:
    """Run the cells that have no result yet, keep each as it finishes, print the summary.
    ``deadline`` (time.monotonic()): start no cell after it; ``lazy_references``: compute
    each block's references just before its first cell starts (Runner); ``on_result``:
    called with each result once it is kept."""
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with RunLock(run_dir):
            return _execute(
                run_dir, meta, cells, settings, out, err, probes or {}, deadline, executor,
                lazy_references, on_result,
            )  # fmt: skip
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _execute(
    run_dir: Path,
    meta: RunMeta,
    cells: list[Cell],
    settings: Settings,
    out: Console,
    err: Console,
    probes: dict[str, probing.Probe],
    deadline: float | None = None,
    executor: executors.Executor | None = None,
    lazy_references: bool = False,
    on_result: Callable[[CellResult], None] | None = None,
) -> int:
    unavailable = {f: p.problem for f, p in probes.items() if p.problem}
    runner = Runner(
        run_dir,
        meta.run_id,
        settings,
        matrix=cells,
        positions=None if meta.plan.shard is None else meta.plan.shard.positions,
        trace=meta.plan.trace,
        diagnose=meta.plan.diagnose,
        pythons=meta.plan.pythons,
        unavailable=unavailable,
        executor=executor,
        deadline=deadline,
        lazy_references=lazy_references,
    )
    for note in runner.notes:
        err.print(Text(f"note: {plain(note)}"))
    todo = runner.pending(cells)
    env = meta.environment
    known = eta.history(run_dir.parent, env.host, env.cpu_model, settings)
    left = eta.Eta(todo, settings, known)
    meta.progress.start(round(left.remaining_s(), 1))
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
            if on_result is not None:
                on_result(r)

        try:
            runner.run(todo, on_start, on_done)
            first = [r for r in runner.results if not (r.process and r.process.remeasured)]
            reference = metrics.sentinel_reference_ms(first)
            meta.progress.measured_sentinel(reference)
            for _ in range(meta.plan.remeasure_slow):
                slow = slow_window_cells(runner.results, reference)
                if not slow:
                    break
                err.print(
                    Text(f"graphbench: {len(slow)} cell(s) ran in a slow window: measuring again")
                )
                progress.update(task, total=(progress.tasks[0].total or 0) + len(slow))
                runner.remeasure(slow, on_start, on_done)
        except KeyboardInterrupt as exc:
            interrupted = str(exc) if isinstance(exc, Interrupted) else "SIGINT"
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            disk_full, interrupted = exc, "disk full"
    meta.progress.finish(utc_now(), interrupted)
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
    run = load_run(run_dir)
    out.print(
        summary.table(
            run.results,
            title=f"run {meta.run_id}",
            device_peak=meta.probes.device_peak,
            sentinel_ms=metrics.run_sentinel_ms(run),
        )
    )
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
