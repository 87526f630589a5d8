"""Run directories on disk: run.json, cells.jsonl, the lock that keeps one writer.

A run is a directory: ``run.json`` (what, where, how: written at start and again at
finish) and ``cells.jsonl`` (one JSON object per finished cell, appended and flushed as
each cell finishes, so an interrupted run keeps everything it measured). Everything
read from disk is validated (bench.results.record); everything written is strict JSON (no NaN
or Infinity). One process writes a run directory at a time (``RunLock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.errors import SchemaError, UsageError
from bench.results.record import CellResult
from bench.results.run_meta import RunMeta

RUN_FILE = "run.json"
CELLS_FILE = "cells.jsonl"
LOCK_FILE = ".lock"
TORN_FILE = "cells.jsonl.torn"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(data: Any, **kw: Any) -> str:
    """Strict JSON: a NaN or an infinity here is a bug upstream, never written to disk."""
    return json.dumps(data, allow_nan=False, **kw)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def new_run_dir(out_dir: Path, device: str, scenario: str = "fixed") -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{device}" + ("" if scenario == "fixed" else f"-{scenario}")
    for n in range(1000):
        path = out_dir / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise UsageError(f"--out-dir {out_dir}: could not create a run directory (1000 names taken)")


# --- cells.jsonl ----------------------------------------------------------------------


def repair_torn_tail(path: Path) -> str | None:
    """Move a last line cut off mid-write (no newline: a full disk, a killed machine) out of
    ``cells.jsonl`` into ``cells.jsonl.torn``, so the next append starts on a line of its own.
    Returns what was done, for the user, or None where the file was whole."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return None
        f.seek(0)
        data = f.read()
        start = data.rfind(b"\n") + 1
        with open(path.with_name(TORN_FILE), "ab") as torn:
            torn.write(data[start:] + b"\n")
            torn.flush()
            os.fsync(torn.fileno())
        f.truncate(start)
        f.flush()
        os.fsync(f.fileno())
    return (
        f"{path}: its last line was cut off mid-write ({len(data) - start} bytes); moved to "
        f"{path.with_name(TORN_FILE)} and the cell will be measured again"
    )


def append_result(run_dir: Path, result: CellResult) -> None:
    """Append one finished cell and push it to disk before the next cell starts.

    The line is written with one ``write`` of whole bytes: on a full disk either it is
    there or the file ends torn, which ``repair_torn_tail`` mends before the next append.
    """
    line = (dumps(result.to_json()) + "\n").encode()
    with open(run_dir / CELLS_FILE, "ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_results(path: Path) -> tuple[list[CellResult], list[str]]:
    """(every cell of a cells.jsonl, notes); a last line cut off mid-write is left out, with a
    note. Any other unreadable line stops the read with a one-line SchemaError.

    A cell has one record, except a cell whose task the executor lost (``lost``: nothing
    measured), which ``resume`` ran again: the newer record replaces it, with a note."""
    if not path.exists():
        return [], []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path}: cannot be read ({exc})") from None
    lines = text.split("\n")
    results, notes = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            if number == len(lines):  # the unterminated tail of an interrupted append
                notes.append(f"{where}: last line cut off mid-write; left out")
                break
            raise SchemaError(f"{where}: not valid JSON ({exc})") from None
        results.append(CellResult.from_json(data, where))
    return _superseding_lost(results, path, notes), notes


def _superseding_lost(results: list[CellResult], path: Path, notes: list[str]) -> list[CellResult]:
    """One record per cell, the newest: a lost task's record is replaced by its rerun's, a
    record measured in a slow window by its re-measurement (``--remeasure-slow``; both stay
    in the file), any other duplicate (a hand-joined file) also by the newest; each noted.
    A cell keeps the place of its first record: a re-measured cell does not move to the end."""
    newest: dict[tuple, int] = {}
    first: dict[tuple, int] = {}  # a cell keeps its place: where it was first recorded
    for i, r in enumerate(results):
        key = r.cell.key()
        if key in newest:
            earlier = results[newest[key]]
            lost = earlier.process is not None and earlier.process.lost
            again = r.process.remeasured if r.process is not None else None
            if lost:
                notes.append(f"{path}: {r.cell.label()}: measured again after its executor lost it")
            elif again:
                notes.append(f"{path}: {r.cell.label()}: measured again ({again}); both kept")
            else:
                notes.append(
                    f"{path}: {r.cell.label()} is recorded twice; the newer record is used"
                )
        newest[key] = i
        first.setdefault(key, i)
    return [results[newest[key]] for key in sorted(first, key=first.__getitem__)]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# --- run.json -------------------------------------------------------------------------


@dataclass
class Run:
    path: Path
    meta: RunMeta
    results: list[CellResult]
    notes: list[str]

    @property
    def run_id(self) -> str:
        return self.meta.run_id


def read_meta(run_dir: Path) -> RunMeta:
    """run.json, validated and typed (bench.results.run_meta)."""
    meta_path = run_dir / RUN_FILE
    if not meta_path.is_file():
        raise SchemaError(f"{run_dir}: not a graphbench run (no {RUN_FILE})")
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{meta_path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise SchemaError(f"{meta_path}: cannot be read ({exc.strerror or exc})") from None
    return RunMeta.from_json(data, str(meta_path))


def write_meta(run_dir: Path, meta: RunMeta) -> None:
    """run.json, whole, atomically (the one way it is written)."""
    write_json_atomic(run_dir / RUN_FILE, meta.to_json())


def load_run(run_dir: Path | str) -> Run:
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    results, notes = read_results(run_dir / CELLS_FILE)
    return Run(run_dir, meta, results, notes)


# --- one writer -----------------------------------------------------------------------


class RunLock:
    """An exclusive lock on a run directory for the life of a run or resume.

    ``flock`` is released by the kernel when its holder dies, however it dies, so a
    killed run never leaves a stale lock; the file says who holds it.
    """

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 400).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise UsageError(
                f"{self.path.parent} is being written by {holder}; wait for it to finish "
                "(or stop it) before resuming"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
