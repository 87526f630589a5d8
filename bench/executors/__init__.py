"""Executors: where each cell's worker processes run. They never interpret a result.

An executor takes the runner's tasks (an iterator: each task's reference outputs are
computed when it is drawn) and calls ``on_start`` and ``on_finish`` from the runner's
own thread, one task at a time, so the runner stays the only writer of the run.

``local`` (the default): one cell at a time on this machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from bench.cell_task import CellTask, TaskResult, run_task

OnStart = Callable[[CellTask], None]
OnFinish = Callable[[CellTask, TaskResult], None]


class Executor(Protocol):
    name: str

    def run(self, tasks: Iterator[CellTask], on_start: OnStart, on_finish: OnFinish) -> None: ...


class LocalExecutor:
    """One cell at a time, here: no two timing cells ever share a core or a GPU."""

    name = "local"

    def run(self, tasks: Iterator[CellTask], on_start: OnStart, on_finish: OnFinish) -> None:
        for task in tasks:
            on_start(task)
            on_finish(task, run_task(task))
