"""A worker's guard: ends the worker when the process that started it dies.

``python -m bench.worker.watchdog RUNNER_PID WORKER_PID DIR...``, started by a worker as soon as
it runs, in the worker's process group. It does nothing but look, four times a second,
whether the runner (the parent that waits for the worker's result) is still alive.
When it is not (killed by SIGKILL, say, which no handler can catch), the watchdog kills
the worker, removes the directories it was given (the cell's job and compile-cache
directories, which the runner would have removed) and then kills the rest of the
worker's process group (compile pools), itself included. When the worker ends first,
the watchdog ends too. Standard library only: it must start fast and stay small.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time

POLL_S = 0.25


def start_time(pid: int) -> str | None:
    """The process's start time from /proc (None if it is gone): tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[19]  # field 22 of stat: starttime, counted after the ")" that ends comm


def alive(pid: int, started: str | None) -> bool:
    now = start_time(pid)
    return now is not None and now == started


def main(argv: list[str]) -> int:
    runner, worker, dirs = int(argv[0]), int(argv[1]), argv[2:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides what Ctrl-C means
    runner_started, worker_started = start_time(runner), start_time(worker)
    while alive(worker, worker_started):
        if not alive(runner, runner_started):
            os.kill(worker, signal.SIGKILL)
            for _ in range(2):  # a compile pool may still write into a cache directory
                for d in dirs:
                    shutil.rmtree(d, ignore_errors=True)
                time.sleep(POLL_S)
            os.killpg(os.getpgrp(), signal.SIGKILL)
        time.sleep(POLL_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
