"""``python -m bench merge RUN_DIR... -o OUT_DIR``: the shards of one matrix, as one run.

Shard runs (``run --shard I/N``) made on different machines join into one run directory
only if they measured the same thing the same way: the same scenario, settings (threads
included), precisions, training step, graphbench commit and framework versions, and all
N shards of the same matrix exactly once. Anything else is refused in one line naming
the field and the two shards that differ: numbers measured differently must not sit in
one table.

The merged run is an ordinary run (summary, report, compare and resume read it): its
matrix is the whole matrix in its original order, its cells every shard's records (with
the merged run's id), its logs and reference outputs the shards' own. run.json's
``shards`` records each shard's provenance: its run id, directory, the runner's host and
the cells' hosts, GPUs, start and end, command, interpreters and environment;
``environment`` is shard 1's. The directory is built beside OUT_DIR and renamed into
place, so a failed merge leaves nothing half-written.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.matrix.cells import Cell
from bench.results.record import CellResult
from bench.results.run_meta import RunMeta, RunProgress, ShardRun, ShardSlice
from bench.results.store import CELLS_FILE, Run, dumps, load_run, utc_now, write_meta


def framework_versions(run: Run) -> dict[str, Any]:
    """Each framework's version and CUDA build, from the probes and from the cells."""
    out: dict[str, Any] = {}
    for framework, probe in run.meta.probes.interpreters.items():
        out[framework] = (probe.version, probe.cuda_build)
    for r in run.results:
        if r.setup is not None and r.setup.framework_version:
            out.setdefault(r.cell.framework, (r.setup.framework_version, None))
    return out


def _slice(run: Run) -> ShardSlice:
    assert run.meta.plan.shard is not None  # check_shards refused runs without one
    return run.meta.plan.shard


def _facts(run: Run) -> dict[str, Any]:
    """What must agree between shards, by a name that says where to look. Those in SAME
    must be equal; the others where both shards recorded them."""
    plan = run.meta.plan
    facts: dict[str, Any] = {
        "scenario": run.meta.identity.scenario,
        "settings": plan.settings,
        "precision_policy": plan.precision_policy,
        "training_step": plan.training_step,
        "repeats": plan.repeats,
        "scenario_settings": plan.scenario_settings,
        "shard count": _slice(run).count,
        "matrix size": _slice(run).matrix_cells,
        "graphbench commit": run.meta.environment.commit,
    }
    for framework, version in framework_versions(run).items():
        facts[f"{framework} version"] = version
    for framework, env in run.meta.machine.worker_environment.items():
        facts[f"{framework} worker environment"] = env  # a shard without it has no say
    return facts


SAME = ("scenario", "settings", "precision_policy", "training_step", "repeats")


def _label(run: Run) -> str:
    return f"shard {_slice(run).index}/{_slice(run).count} ({run.path})"


def check_shards(runs: list[Run]) -> None:
    """Refuse anything but all N shards of one matrix, measured the same way."""
    for run in runs:
        if run.meta.plan.shard is None:
            raise UsageError(f"merge: {run.path} is not a shard (it was not run with --shard)")
    first, first_facts = runs[0], _facts(runs[0])
    for run in runs[1:]:
        facts = _facts(run)
        for name in dict.fromkeys([*first_facts, *facts]):
            a, b = first_facts.get(name), facts.get(name)
            if (a is not None and b is not None and a != b) or (name in SAME and a != b):
                raise UsageError(
                    f"merge: {name} differs between {_label(first)} and {_label(run)}; "
                    "shards must be measured the same way (same options, code and versions)"
                )
    count = _slice(first).count
    seen: dict[int, Run] = {}
    for run in runs:
        index = _slice(run).index
        if index in seen:
            raise UsageError(
                f"merge: shard {index}/{count} is given twice: {seen[index].path}, {run.path}"
            )
        seen[index] = run
    missing = [str(i) for i in range(1, count + 1) if i not in seen]
    if missing:
        raise UsageError(
            f"merge: shard(s) {', '.join(missing)} of {count} missing; a merged run holds "
            "the whole matrix"
        )
    positions = [p for run in runs for p in _slice(run).positions]
    if sorted(positions) != list(range(_slice(first).matrix_cells)):
        raise UsageError("merge: the shards' cells do not make up one matrix exactly once")


def provenance(run: Run) -> ShardRun:
    """Where and when a shard ran: for run.json's ``shards``."""
    hosts = sorted({r.setup.host for r in run.results if r.setup and r.setup.host})
    gpus = sorted(
        {f"{r.gpu.gpu_name} ({r.gpu.gpu_uuid})" for r in run.results if r.gpu and r.gpu.gpu_uuid}
    )
    meta = run.meta
    stored = meta.to_json()
    return ShardRun(
        index=_slice(run).index,
        run_id=meta.run_id,
        source=str(run.path),
        runner_host=meta.environment.host,
        hosts=hosts,
        gpus=gpus,
        started_utc=meta.identity.started_utc,
        finished_utc=meta.progress.finished_utc,
        interrupted=meta.progress.interrupted,
        command=meta.identity.command,
        interpreters=stored["interpreters"],
        device_peak=meta.probes.device_peak,
        positions=_slice(run).positions,
        environment=stored["environment"],
    )


def merge(run_dirs: list[Path], out_dir: Path, command: str) -> Path:
    runs = [load_run(d) for d in run_dirs]
    check_shards(runs)
    runs.sort(key=lambda run: _slice(run).index)
    run_id = out_dir.name
    entries: dict[int, Cell] = {}  # position in the whole matrix -> the cell
    records: list[tuple[int, int, CellResult]] = []  # (position, order, record)
    for run in runs:
        positions = _slice(run).positions
        where = {c.key(): p for c, p in zip(run.meta.plan.matrix, positions, strict=True)}
        entries.update(zip(positions, run.meta.plan.matrix, strict=True))
        for order, r in enumerate(run.results):
            if r.cell.key() not in where:
                raise UsageError(f"merge: {run.path} holds {r.cell.label()}, not in its matrix")
            records.append((where[r.cell.key()], order, r))
    first = runs[0].meta
    finished = [r.meta.progress.finished_utc for r in runs]
    meta = RunMeta(
        identity=replace(
            first.identity,
            run_id=run_id,
            command=command,
            started_utc=min(r.meta.identity.started_utc for r in runs),
            merged_utc=utc_now(),
        ),
        plan=replace(first.plan, matrix=[entries[p] for p in sorted(entries)], shard=None),
        machine=replace(
            first.machine,
            # each shard's frameworks (check_shards: the same wherever two shards share one)
            worker_environment={
                k: v for run in runs for k, v in run.meta.machine.worker_environment.items()
            },
        ),
        probes=first.probes,
        progress=RunProgress(
            estimated_s=None,
            finished_utc=max(f or "" for f in finished) or None,
            interrupted=any(bool(r.meta.progress.interrupted) for r in runs),
        ),
        shards=[provenance(run) for run in runs],
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for run in runs:
            for sub in ("logs", "expected"):
                if (run.path / sub).is_dir():
                    shutil.copytree(run.path / sub, tmp / sub, dirs_exist_ok=True)
        with open(tmp / CELLS_FILE, "w") as f:
            for _, _, r in sorted(records, key=lambda x: (x[0], x[1])):
                f.write(dumps({**r.to_json(), "run_id": run_id}) + "\n")
        write_meta(tmp, meta)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
