"""The worker's memory readings: the host's, which does not depend on a framework, and the
marks a scenario sets for the device's (the end of the warm-up, the end of the timed steps).

Device memory comes from each backend's own allocator (``Backend.device_memory``); its
counters' names are recorded beside the numbers. The host peak leaves the parity checks
out: the reference and the output's host copy are the check's memory, not the step's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.backends.base import Backend, DeviceMemory

HOST_RSS_COUNTER = "VmHWM of the worker process (/proc/self/status)"
# Where the parity checks' memory could be left out (Linux: clear_refs resets VmHWM).
HOST_RSS_COUNTER_EXCLUDING_PARITY = (
    "VmHWM of the worker process (/proc/self/status), read before each parity check and "
    "reset after it (5 > /proc/self/clear_refs): the peak outside the checks"
)
STATUS_FILE = Path("/proc/self/status")
CLEAR_REFS_FILE = Path("/proc/self/clear_refs")


def peak_rss_bytes(status_file: Path = STATUS_FILE) -> int | None:
    """High-water mark of this process's resident set (Linux), or None where unknown.

    It covers the worker's life since the start or the last reset (``reset_peak_rss``).
    """
    try:
        text = status_file.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"unexpected VmHWM unit {unit!r} in {status_file}")
            return int(value) * 1024
    return None


def reset_peak_rss(clear_refs: Path = CLEAR_REFS_FILE) -> bool:
    """Reset VmHWM to the present resident set (Linux 4.0+: ``5`` to clear_refs); whether
    it could be."""
    try:
        clear_refs.write_text("5")
    except OSError:
        return False
    return True


class MemoryWatch:
    """What a worker's Memory group is made of, read as the scenario marks its stages.

    Host: the peak before each parity check is kept, and VmHWM reset after it, so the
    peak recorded is the worker's outside its checks. Device: the allocator's readings at
    the end of the warm-up (then its peak is reset) and at the end of the timed steps.
    """

    def __init__(self, status_file: Path = STATUS_FILE, clear_refs: Path = CLEAR_REFS_FILE):
        self.status_file, self.clear_refs = status_file, clear_refs
        self.kept: int | None = None  # the host peak outside the checks that were reset
        self.in_check = False
        self.excluded: bool | None = None  # every check so far left out (None: no check yet)
        self.startup: DeviceMemory | None = None
        self.steady: DeviceMemory | None = None

    def host_peak(self) -> int | None:
        """The host peak so far, parity checks left out where VmHWM could be reset."""
        readings = [self.kept] if self.in_check else [self.kept, peak_rss_bytes(self.status_file)]
        known = [v for v in readings if v is not None]
        return max(known) if known else None

    @property
    def host_counter(self) -> str:
        return HOST_RSS_COUNTER_EXCLUDING_PARITY if self.excluded else HOST_RSS_COUNTER

    @contextlib.contextmanager
    def parity_check(self) -> Iterator[None]:
        """Around a parity check (loading the reference, the output's host copy, the error)."""
        self.kept = self.host_peak()
        self.in_check = True
        try:
            yield
        finally:
            self.in_check = False
            reset = reset_peak_rss(self.clear_refs)
            self.excluded = reset if self.excluded is None else self.excluded and reset

    def end_warmup(self, backend: Backend) -> None:
        """The allocator's start-up reading, then its peak reset for the steady phase."""
        self.startup = backend.device_memory()
        backend.reset_device_peak()

    def end_steady(self, backend: Backend) -> None:
        """The allocator's reading after the timed steps (before the last parity check)."""
        self.steady = backend.device_memory()
