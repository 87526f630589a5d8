"""The results schema (versioned), and reading and writing runs.

A run is a directory: ``run.json`` (what, where, how: written at start and again at
finish) and ``cells.jsonl`` (one JSON object per finished cell, appended and flushed
as each cell finishes, so an interrupted run keeps everything it measured).
Readers refuse schema versions they do not know rather than guess.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)

STATUSES = ("ok", "mismatch", "failed", "timeout", "oom", "skipped")

RUN_FILE = "run.json"
CELLS_FILE = "cells.jsonl"

REQUIRED_CELL_FIELDS = (
    "schema_version",
    "run_id",
    "scenario",
    "model",
    "profile",
    "framework",
    "backend",
    "mode",
    "device",
    "batch_size",
    "precision",
    "status",
    "error",
    "first_call_s",
    "samples_ms",
    "latency_ms",
    "throughput_per_s",
    "peak_host_rss_bytes",
    "peak_device_bytes",
    "parity_max_rel_err",
)
REQUIRED_RUN_FIELDS = (
    "schema_version",
    "run_id",
    "started_utc",
    "command",
    "settings",
    "environment",
)


class SchemaError(ValueError):
    """A results file this version of graphbench cannot read."""


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, allow_nan=True)
        f.write("\n")
    os.replace(tmp, path)


def new_run_dir(out_dir: Path, device: str, scenario: str = "fixed") -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{device}" + ("" if scenario == "fixed" else f"-{scenario}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = out_dir / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a run directory under {out_dir}")


def append_cell(run_dir: Path, record: dict) -> None:
    """Append one finished cell and push it to disk before the next cell starts."""
    line = json.dumps(record, allow_nan=True)
    with open(run_dir / CELLS_FILE, "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def _check_version(data: dict, where: str) -> None:
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))
        raise SchemaError(
            f"{where}: schema_version {version!r} is not supported (this graphbench reads "
            f"{supported}); use the graphbench version that wrote it"
        )


def _check_fields(data: dict, required: tuple[str, ...], where: str) -> None:
    missing = [f for f in required if f not in data]
    if missing:
        raise SchemaError(f"{where}: missing field(s) {', '.join(missing)}")


def check_cell(record: dict, where: str) -> None:
    _check_version(record, where)
    _check_fields(record, REQUIRED_CELL_FIELDS, where)
    if record["status"] not in STATUSES:
        raise SchemaError(
            f"{where}: status {record['status']!r} is not one of {', '.join(STATUSES)}"
        )


@dataclass
class Run:
    path: Path
    meta: dict
    cells: list[dict]

    @property
    def run_id(self) -> str:
        return self.meta["run_id"]


def read_cells(path: Path) -> list[dict]:
    """Every cell of a cells.jsonl; a last line cut off mid-write (no newline) is ignored."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    cells = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # the unterminated tail of an interrupted append
                break
            raise SchemaError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        check_cell(record, f"{path}:{number}")
        cells.append(record)
    return cells


def load_run(run_dir: Path | str) -> Run:
    run_dir = Path(run_dir)
    meta_path = run_dir / RUN_FILE
    if not meta_path.is_file():
        raise SchemaError(f"{run_dir}: not a graphbench run (no {RUN_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{meta_path}: not valid JSON ({exc.msg})") from None
    _check_version(meta, str(meta_path))
    _check_fields(meta, REQUIRED_RUN_FIELDS, str(meta_path))
    return Run(run_dir, meta, read_cells(run_dir / CELLS_FILE))
