"""``local``: this machine. One cell at a time, or, given GPUs, one cell per GPU at a time.

With GPUs (``--gpus``), CUDA cells run side by side, each worker alone on its GPU and on
its own slice of the cores (bench.parent.executors.placement). A CPU cell is a barrier: the
pool drains first, the CPU cell runs with the whole machine to itself, and nothing
starts until it is done, so a CPU timing never shares a core with a GPU cell's host
threads. Cells start in the order the runner gives them. Workers run on threads of
this process, but only this thread calls ``on_start`` and ``on_finish``, so the runner
stays the only writer of the run.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from bench.parent.cell_task import CellTask, TaskResult, kill_running, run_task
from bench.parent.executors.base import OnFinish, OnStart
from bench.parent.executors.placement import core_slices, on_gpu

STOP_WAIT_S = 30.0  # at most this long to end the workers of an interrupted pool


class LocalExecutor:
    name = "local"

    def __init__(
        self,
        gpus: Sequence[str] = (),
        cores: Sequence[int] | None = None,
        run: Callable[[CellTask], TaskResult] | None = None,
    ):
        self.gpus = list(gpus)
        self.cores = sorted(os.sched_getaffinity(0) if cores is None else cores)
        self.slices = core_slices(self.cores, len(self.gpus)) if self.gpus else []
        self.stand_in = run  # tests; None: bench.parent.cell_task.run_task

    def run_one(self, task: CellTask) -> TaskResult:
        return (self.stand_in or run_task)(task)

    def run(self, tasks: Iterator[CellTask], on_start: OnStart, on_finish: OnFinish) -> None:
        if not self.gpus:
            for task in tasks:
                on_start(task)
                on_finish(task, self.run_one(task))
            return
        self._run_pool(tasks, on_start, on_finish)

    def _run_pool(self, tasks: Iterator[CellTask], on_start: OnStart, on_finish: OnFinish):
        free = list(range(len(self.gpus)))  # slots: a GPU and its cores
        done: queue.Queue[tuple[CellTask, int | None, TaskResult | BaseException]] = queue.Queue()
        threads: list[threading.Thread] = []

        def work(task: CellTask, slot: int | None) -> None:
            try:
                done.put((task, slot, self.run_one(task)))
            except BaseException as exc:  # handed to the runner's thread, never lost
                done.put((task, slot, exc))

        def collect() -> None:
            """Wait for one running cell to end and record it."""
            task, slot, outcome = done.get()
            if slot is not None:
                free.append(slot)
                free.sort()
            if isinstance(outcome, BaseException):
                raise outcome
            on_finish(task, outcome)

        def start(task: CellTask, slot: int | None) -> None:
            placed = task if slot is None else on_gpu(task, self.gpus[slot], self.slices[slot])
            on_start(task)
            thread = threading.Thread(target=work, args=(placed, slot), daemon=True)
            thread.start()
            threads.append(thread)

        running = 0
        try:
            for task in tasks:
                if task.job.cell.device == "cuda":
                    while not free:
                        collect()
                        running -= 1
                    start(task, free.pop(0))
                    running += 1
                else:
                    while running:  # a CPU cell has the machine to itself
                        collect()
                        running -= 1
                    start(task, None)
                    collect()
            while running:
                collect()
                running -= 1
        finally:
            # Interrupted: end what still runs. Again and again, since a thread may be
            # about to start its worker.
            give_up = time.monotonic() + STOP_WAIT_S
            while any(t.is_alive() for t in threads) and time.monotonic() < give_up:
                kill_running()
                for t in threads:
                    t.join(timeout=0.1)
