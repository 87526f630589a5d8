"""What an executor is: it decides where each cell's worker processes run, never what a
result means.

An executor takes the runner's tasks (an iterator: a task is drawn when it can start, so
a deadline still holds) and calls ``on_start`` and ``on_finish`` from the runner's own
thread, so the runner stays the only writer of the run whatever runs where. A task the
executor lost (its node died) still gets ``on_finish``, with ``TaskResult.lost`` saying
why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from bench.parent.cell_task import CellTask, TaskResult

OnStart = Callable[[CellTask], None]
OnFinish = Callable[[CellTask, TaskResult], None]


class Executor(Protocol):
    name: str

    def run(self, tasks: Iterator[CellTask], on_start: OnStart, on_finish: OnFinish) -> None: ...
