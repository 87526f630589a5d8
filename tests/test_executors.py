"""Executors: a GPU pool that never shares a GPU or a core between two timing cells, and
runs CPU cells alone; the runner stays the only writer whatever runs where."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench import backends
from bench.matrix.cells import Cell
from bench.matrix.job import CPUS_ENV, Job
from bench.matrix.profiles import settings_for
from bench.parent.cell_task import CellTask, TaskResult, WorkerRun, run_process
from bench.parent.executors import LocalExecutor
from bench.parent.executors.placement import core_slices, on_gpu
from bench.parent.runner import Runner
from bench.results.record import Status
from bench.results.store import read_results

FAKE_WORKER = [sys.executable, str(Path(__file__).with_name("fake_worker.py"))]
SETTINGS = settings_for("quick", threads=8, timeout_s=60.0)


def cell(i: int, device: str) -> Cell:
    return Cell("mlp", "torch-eager", "infer", device, i + 1, "quick")


def task(c: Cell, i: int) -> CellTask:
    job = Job("run", c, SETTINGS, "", "cold")
    return CellTask(job, i, "", (), {}, {}, False, 60.0)


def test_core_slices_are_disjoint_cover_every_core_and_near_equal():
    for cores, parts in itertools.product([list(range(n)) for n in (1, 2, 7, 64)], (1, 2, 3, 8)):
        if len(cores) < parts:
            with pytest.raises(ValueError):
                core_slices(cores, parts)
            continue
        slices = core_slices(cores, parts)
        assert sorted(c for s in slices for c in s) == cores
        assert max(map(len, slices)) - min(map(len, slices)) <= 1 and min(map(len, slices)) >= 1


def test_a_task_on_a_gpu_sees_only_it_and_its_cores():
    placed = on_gpu(task(cell(0, "cuda"), 0), "3", [4, 5])
    assert placed.env["CUDA_VISIBLE_DEVICES"] == "3" and placed.env[CPUS_ENV] == "4,5"
    assert placed.env["OMP_NUM_THREADS"] == "2" and placed.job.settings.threads == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pool_never_shares_a_gpu_or_a_core_and_cpu_cells_run_alone(seed):
    rng = random.Random(seed)
    devices = ["cuda"] * 24 + ["cpu"] * 4
    rng.shuffle(devices)
    tasks = [task(cell(i, d), i) for i, d in enumerate(devices)]
    spans: list[tuple[CellTask, float, float]] = []
    lock = threading.Lock()
    durations = {t.index: rng.uniform(0.005, 0.04) for t in tasks}

    def stand_in(t: CellTask) -> TaskResult:
        start = time.monotonic()
        time.sleep(durations[t.index])
        with lock:
            spans.append((t, start, time.monotonic()))
        return TaskResult(WorkerRun(None, 0, False, 0.0, ""))

    main = threading.get_ident()
    started, finished = [], []

    def on_start(t: CellTask) -> None:
        assert threading.get_ident() == main
        started.append(t.index)

    def on_finish(t: CellTask, outcome: TaskResult) -> None:
        assert threading.get_ident() == main  # the runner's thread alone records
        finished.append(t.index)

    executor = LocalExecutor(gpus=["0", "1", "2"], cores=range(6), run=stand_in)
    executor.run(iter(tasks), on_start, on_finish)

    assert sorted(started) == sorted(finished) == list(range(len(tasks)))  # each exactly once
    for a, a0, a1 in spans:
        overlapping = [b for b, b0, b1 in spans if b is not a and b0 < a1 and a0 < b1]
        if a.job.cell.device == "cpu":
            assert not overlapping, "a CPU cell ran beside another cell"
            continue
        for b in overlapping:
            assert b.env["CUDA_VISIBLE_DEVICES"] != a.env["CUDA_VISIBLE_DEVICES"]
            assert not set(b.env[CPUS_ENV].split(",")) & set(a.env[CPUS_ENV].split(","))
    events = sorted([(a0, 1) for _, a0, _ in spans] + [(a1, -1) for _, _, a1 in spans])
    assert max(itertools.accumulate(step for _, step in events)) == 3  # a pool, not a queue


def test_an_interrupted_pool_ends_the_workers_it_started():
    release = threading.Event()

    def stand_in(t: CellTask) -> TaskResult:
        if t.index == 0:  # a worker that would run for ten minutes
            return TaskResult(
                run_process([sys.executable, "-c", "import time; time.sleep(600)"], {}, 600)
            )
        release.wait(5)
        return TaskResult(WorkerRun(None, 0, False, 0.0, ""))

    def on_finish(t: CellTask, outcome: TaskResult) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the long worker runs

    start = time.monotonic()
    executor = LocalExecutor(gpus=["0", "1"], cores=[0, 1], run=stand_in)
    with pytest.raises(KeyboardInterrupt):
        executor.run(
            iter([task(cell(i, "cuda"), i) for i in range(2)]), lambda t: release.set(), on_finish
        )
    assert time.monotonic() - start < 30
    left = subprocess.run(["pgrep", "-f", "import time; time.sleep(600)"], capture_output=True)
    assert left.stdout == b""


def test_pool_through_the_runner_with_real_worker_processes(tmp_path, monkeypatch):
    """Stand-in workers in real processes: each sees its GPU and its core; every cell is
    recorded once, by the runner, with the executor's name."""
    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)
    spans_file = tmp_path / "spans"
    monkeypatch.setenv("FAKE_WORKER", "ok")
    monkeypatch.setenv("FAKE_WORKER_SPANS", str(spans_file))
    monkeypatch.setenv("FAKE_WORKER_SLEEP", "0.5")
    cells = (
        [cell(i, "cuda") for i in range(4)]
        + [cell(9, "cpu")]
        + [cell(i, "cuda") for i in range(4, 6)]
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    settings = settings_for("quick", threads=2, timeout_s=60.0)
    executor = LocalExecutor(gpus=["0", "1"], cores=[0, 1])
    runner = Runner(run_dir, "run", settings, matrix=cells, executor=executor, worker=FAKE_WORKER)
    runner.run(cells)

    results, _ = read_results(run_dir / "cells.jsonl")
    assert sorted(r.cell.batch_size for r in results) == sorted(c.batch_size for c in cells)
    assert all(r.status is Status.OK and r.process.executor == "local" for r in results)
    spans = []
    for line in spans_file.read_text().splitlines():
        label, _, gpu, cpus, start, end = line.split("|")
        spans.append((label, gpu, cpus, float(start), float(end)))
    for (la, ga, ca, a0, a1), (lb, gb, cb, b0, b1) in itertools.combinations(spans, 2):
        if a0 < b1 and b0 < a1:  # ran at the same time
            assert "cpu" not in la.split() and "cpu" not in lb.split(), (la, lb)
            assert ga != gb and ca != cb, (la, lb)
    cuda = [s for s in spans if " cuda " in f" {s[0]} "]
    assert {s[1] for s in cuda} == {"0", "1"} and {s[2] for s in cuda} == {"0", "1"}
    assert any(a[3] < b[4] and b[3] < a[4] for a, b in itertools.combinations(cuda, 2))
