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
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.results.record import CellResult
from bench.results.store import (
    CELLS_FILE,
    RUN_FILE,
    Run,
    dumps,
    load_run,
    matrix_of,
    utc_now,
    write_json_atomic,
)

# run.json fields that must be equal in every shard (what was measured, and how).
SAME = ("schema_version", "scenario", "settings", "precision_policy", "training_step", "repeats")


def framework_versions(run: Run) -> dict[str, Any]:
    """Each framework's version and CUDA build, from the probes and from the cells."""
    out: dict[str, Any] = {}
    for framework, probe in (run.meta.get("interpreters") or {}).items():
        if isinstance(probe, dict):
            out[framework] = (probe.get("version"), probe.get("cuda_build"))
    for r in run.results:
        if r.setup is not None and r.setup.framework_version:
            out.setdefault(r.cell.framework, (r.setup.framework_version, None))
    return out


def _facts(run: Run) -> dict[str, Any]:
    """What must agree between shards, by a name that says where to look."""
    env = run.meta.get("environment") or {}
    git = env.get("git") if isinstance(env.get("git"), dict) else {}
    facts = {name: run.meta.get(name) for name in SAME}
    facts["scenario_settings"] = run.meta.get("scenario_settings")
    facts["shard count"] = run.meta["shard"]["count"]
    facts["matrix size"] = run.meta["shard"]["matrix_cells"]
    facts["graphbench commit"] = (git or {}).get("commit")
    versions = framework_versions(run)
    for framework, version in versions.items():
        facts[f"{framework} version"] = version
    for framework, env in (run.meta.get("worker_environment") or {}).items():
        facts[f"{framework} worker environment"] = env  # a shard without it has no say
    return facts


def _label(run: Run) -> str:
    return f"shard {run.meta['shard']['index']}/{run.meta['shard']['count']} ({run.path})"


def check_shards(runs: list[Run]) -> None:
    """Refuse anything but all N shards of one matrix, measured the same way."""
    for run in runs:
        if not run.meta.get("shard"):
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
    count = first.meta["shard"]["count"]
    seen: dict[int, Run] = {}
    for run in runs:
        index = run.meta["shard"]["index"]
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
    positions = [p for run in runs for p in run.meta["shard"]["positions"]]
    if sorted(positions) != list(range(first.meta["shard"]["matrix_cells"])):
        raise UsageError("merge: the shards' cells do not make up one matrix exactly once")


def provenance(run: Run) -> dict[str, Any]:
    """Where and when a shard ran: for run.json's ``shards``."""
    hosts = sorted({r.setup.host for r in run.results if r.setup and r.setup.host})
    gpus = sorted(
        {f"{r.gpu.gpu_name} ({r.gpu.gpu_uuid})" for r in run.results if r.gpu and r.gpu.gpu_uuid}
    )
    meta = run.meta
    return {
        "index": meta["shard"]["index"],
        "run_id": meta["run_id"],
        "source": str(run.path),
        "runner_host": (meta.get("environment") or {}).get("host"),
        "hosts": hosts,
        "gpus": gpus,
        "started_utc": meta.get("started_utc"),
        "finished_utc": meta.get("finished_utc"),
        "interrupted": meta.get("interrupted"),
        "command": meta.get("command"),
        "interpreters": meta.get("interpreters"),
        "device_peak": meta.get("device_peak"),
        "positions": meta["shard"]["positions"],
        "environment": meta.get("environment"),
    }


def merge(run_dirs: list[Path], out_dir: Path, command: str) -> Path:
    runs = [load_run(d) for d in run_dirs]
    check_shards(runs)
    runs.sort(key=lambda run: run.meta["shard"]["index"])
    run_id = out_dir.name
    entries: dict[int, dict] = {}  # position in the whole matrix -> the cell, as stored
    records: list[tuple[int, int, CellResult]] = []  # (position, order, record)
    for run in runs:
        positions = run.meta["shard"]["positions"]
        where = {c.key(): p for c, p in zip(matrix_of(run.meta), positions, strict=True)}
        entries.update(zip(positions, run.meta["matrix"], strict=True))
        for order, r in enumerate(run.results):
            if r.cell.key() not in where:
                raise UsageError(f"merge: {run.path} holds {r.cell.label()}, not in its matrix")
            records.append((where[r.cell.key()], order, r))
    first = runs[0].meta
    meta = {
        **{k: v for k, v in first.items() if k not in ("shard", "resumed_utc")},
        "run_id": run_id,
        "command": command,
        "started_utc": min(str(r.meta["started_utc"]) for r in runs),
        "finished_utc": max(str(r.meta.get("finished_utc") or "") for r in runs) or None,
        "interrupted": any(bool(r.meta.get("interrupted")) for r in runs),
        "merged_utc": utc_now(),
        "matrix": [entries[p] for p in sorted(entries)],
        # each shard's frameworks (check_shards: the same wherever two shards share one)
        "worker_environment": {
            k: v for run in runs for k, v in (run.meta.get("worker_environment") or {}).items()
        },
        "shards": [provenance(run) for run in runs],
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for run in runs:
            for sub in ("logs", "expected"):
                if (run.path / sub).is_dir():
                    shutil.copytree(run.path / sub, tmp / sub, dirs_exist_ok=True)
        with open(tmp / CELLS_FILE, "w") as f:
            for _, _, r in sorted(records, key=lambda x: (x[0], x[1])):
                f.write(dumps({**r.to_json(), "run_id": run_id}) + "\n")
        write_json_atomic(tmp / RUN_FILE, meta)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
