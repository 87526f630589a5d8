"""The kernel's out-of-memory count: whether a worker that died of SIGKILL was the OOM
killer's (bench.parent.cell_task reads it before and after each worker)."""

from __future__ import annotations

from pathlib import Path


def _counter(path: Path, name: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return None


def _cgroup_dir() -> Path | None:
    """This process's cgroup (v2) directory, whose memory.events counts its OOM kills."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return Path("/sys/fs/cgroup") / line[3:].lstrip("/")
    except OSError:
        pass
    return None


def oom_kills() -> tuple[int | None, int | None]:
    """The kernel's count of processes its out-of-memory killer ended: machine-wide
    (/proc/vmstat) and in this process's cgroup (memory.events). None where unreadable.

    A worker that died of SIGKILL was the OOM killer's only if one of them moved while it
    ran; anything else that sends SIGKILL (a user, a supervisor) leaves both alone.
    """
    cgroup = _cgroup_dir()
    events = _counter(cgroup / "memory.events", "oom_kill") if cgroup else None
    return _counter(Path("/proc/vmstat"), "oom_kill"), events


def oom_killed_between(before: tuple[int | None, int | None], after: tuple) -> bool | None:
    """Whether any OOM-kill counter moved; None where neither could be read."""
    pairs = [(b, a) for b, a in zip(before, after, strict=True) if b is not None and a is not None]
    if not pairs:
        return None
    return any(a > b for b, a in pairs)
