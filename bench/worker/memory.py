"""The worker's host memory counter, which does not depend on a framework.

Device memory comes from each backend's own allocator (``Backend.peak_device_bytes``);
its counter's name is recorded beside the number.
"""

from __future__ import annotations

from pathlib import Path

HOST_RSS_COUNTER = "VmHWM of the worker process (/proc/self/status)"


def peak_rss_bytes(status_file: Path = Path("/proc/self/status")) -> int | None:
    """High-water mark of this process's resident set (Linux), or None where unknown.

    It covers the worker's whole life: framework import, build, compile and steps.
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
