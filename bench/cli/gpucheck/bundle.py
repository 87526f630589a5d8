"""``gpu-check --bundle FILE``: the check in one tar.gz that a GPU machine can hand back.

Such a machine returns a few files of at most 16 MiB each, at most two folders deep. The
bundle holds summary.md, the GPU tests' log and JUnit XML, run.json, cells.jsonl and
every log of the run directory, flat (``logs/NAME`` is the one folder), and the report
when it fits; never the reference outputs (``expected/``: GPT-2's are gigabytes). Its
uncompressed size is kept under the limit, so the compressed file is too: a log too long
for its share keeps its head and tail, and BUNDLE.txt says what was cut or left out.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from bench.results.store import CELLS_FILE, RUN_FILE

LIMIT_BYTES = 16 * 2**20
# Under the limit by a margin for the tar headers, BUNDLE.txt and gzip's framing.
CONTENT_BYTES = LIMIT_BYTES - 2**20
LOG_SHARE_BYTES = 512 * 2**10  # a log's most, before the total is counted
NOTE = "BUNDLE.txt"


def cut(data: bytes, limit: int) -> bytes:
    """``data`` within ``limit`` bytes: its head and its tail (where errors are), with a line
    saying how much was cut between them."""
    if len(data) <= limit:
        return data
    marker = f"\n[... {len(data) - limit:,} bytes cut by gpu-check's bundle ...]\n".encode()
    keep = max(0, limit - len(marker))
    head = keep // 4
    return data[:head] + marker + data[len(data) - (keep - head) :]


def members(out_dir: Path, run_dir: Path | None, extra: list[Path]) -> list[tuple[str, Path]]:
    """(name in the bundle, file) of everything the bundle may hold, most important first."""
    found = [(p.name, p) for p in extra]
    if run_dir is not None:
        found += [(name, run_dir / name) for name in (RUN_FILE, CELLS_FILE)]
        found += [(f"logs/{p.name}", p) for p in sorted((run_dir / "logs").glob("*.log"))]
    found.append(("report.html", out_dir / "report.html"))
    return [(name, path) for name, path in found if path.is_file()]


def write(path: Path, out_dir: Path, run_dir: Path | None, extra: list[Path]) -> list[str]:
    """Write the bundle to ``path``; returns what BUNDLE.txt says was cut or left out."""
    chosen: list[tuple[str, bytes]] = []
    notes: list[str] = []
    used = 0
    for name, source in members(out_dir, run_dir, extra):
        data = source.read_bytes()
        if name.startswith("logs/") and len(data) > LOG_SHARE_BYTES:
            notes.append(f"{name}: cut from {len(data):,} to {LOG_SHARE_BYTES:,} bytes")
            data = cut(data, LOG_SHARE_BYTES)
        room = CONTENT_BYTES - used
        if len(data) > room:
            if name == "report.html" or room < 4096:
                notes.append(f"{name}: left out ({len(data):,} bytes; no room under 16 MiB)")
                continue
            notes.append(f"{name}: cut from {len(data):,} to {room:,} bytes")
            data = cut(data, room)
        chosen.append((name, data))
        used += len(data)
    note = (
        "gpu-check bundle: summary.md, the GPU tests' log, run.json, cells.jsonl, the logs, "
        "the report if it fits; never the reference outputs.\n"
        + ("".join(f"- {n}\n" for n in notes) if notes else "Nothing was cut or left out.\n")
    )
    chosen.append((NOTE, note.encode()))
    partial = path.with_name(path.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        for name, data in chosen:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
    if partial.stat().st_size >= LIMIT_BYTES:  # cannot happen: the content is under it
        partial.unlink()
        raise OSError(f"the bundle came to over {LIMIT_BYTES // 2**20} MiB")
    partial.replace(path)
    return notes
