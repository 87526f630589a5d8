"""Contention: how much of a worker's cores other processes used while it measured.

Two OpenMP pools spinning on the same cores slow every step alike, so a tight spread of
samples does not prove a quiet machine. While a cell takes its samples, the worker
watches the cores it is pinned to: the kernel's per-CPU accounting (``/proc/stat``) says
how busy they were, the worker's own CPU time (``/proc/self/stat``, all its threads,
which run only on those cores) how much of that was the worker; the rest was someone
else (another process, the hypervisor's steal time). Its share of the cores' time is the
cell's ``contention``; above CONTENDED_SHARE the cell is ``contended``: stored, shown, and
left out of geometric means and ``compare``'s verdicts unless asked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from bench.results.record import CONTENDED_SHARE, Contention

TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# /proc/stat per-CPU columns: user nice system idle iowait irq softirq steal (guest and
# guest_nice are already inside user and nice).
_IDLE_COLUMNS = (3, 4)
_COLUMNS = 8


def cpu_busy_ticks(cpus: Sequence[int], stat: str | None = None) -> int | None:
    """Ticks the given CPUs spent not idle since boot (None where /proc/stat is unreadable)."""
    if stat is None:
        try:
            with open("/proc/stat") as f:
                stat = f.read()
        except OSError:
            return None
    wanted = {f"cpu{c}" for c in cpus}
    busy = 0
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if name in wanted:
            values = [int(v) for v in rest.split()[:_COLUMNS]]
            busy += sum(v for i, v in enumerate(values) if i not in _IDLE_COLUMNS)
    return busy


def own_ticks() -> int | None:
    """This process's CPU ticks (user + system, every thread) since it started."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat


class CpuWatch:
    """Watches ``cpus`` from ``start()`` to ``stop()``: the share others used of them."""

    def __init__(
        self,
        cpus: Sequence[int],
        busy: Callable[[Sequence[int]], int | None] = cpu_busy_ticks,
        own: Callable[[], int | None] = own_ticks,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.cpus, self.busy, self.own, self.clock = list(cpus), busy, own, clock
        self.start_state: tuple[int | None, int | None, float] | None = None
        self.share: float | None = None

    def start(self) -> None:
        self.start_state = (self.busy(self.cpus), self.own(), self.clock())

    def stop(self) -> float | None:
        """Others' share of the watched cores' time since start (0..1), None if unknown."""
        if self.start_state is None:
            return None
        busy0, own0, t0 = self.start_state
        busy1, own1, t1 = self.busy(self.cpus), self.own(), self.clock()
        capacity = (t1 - t0) * TICKS_PER_S * len(self.cpus)
        if None in (busy0, own0, busy1, own1) or capacity <= 0:
            return None
        others = (busy1 - busy0) - (own1 - own0)  # type: ignore[operator]
        self.share = min(1.0, max(0.0, others / capacity))
        return self.share


def measured(share: float | None, gpu_others: int | None = None) -> Contention:
    """The cell's contention group from a watch's share, the load average and the GPU."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return Contention(
        contention=None if share is None else round(share, 4),
        contended=None if share is None else share > CONTENDED_SHARE,
        load_average=load,
        gpu_other_processes=gpu_others,
    )
