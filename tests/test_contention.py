"""Contention: the share of a worker's cores that other processes used while it measured,
from the kernel's per-CPU accounting against the worker's own CPU time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.results.record import CONTENDED_SHARE
from bench.worker import contention
from bench.worker.contention import CpuWatch, cpu_busy_ticks

STAT = """cpu  10 0 10 100 0 0 0 0 0 0
cpu0 {u0} 0 {s0} 500 7 1 1 {st0} 9 9
cpu1 100 0 100 500 0 0 0 0 0 0
intr 1 2 3
"""


def test_busy_ticks_are_everything_but_idle_and_iowait_of_the_cpus_asked():
    stat = STAT.format(u0=40, s0=10, st0=5)
    assert cpu_busy_ticks([0], stat) == 40 + 10 + 1 + 1 + 5  # guest columns not counted twice
    assert cpu_busy_ticks([0, 1], stat) == 57 + 200
    assert cpu_busy_ticks([7], stat) == 0


def test_others_share_is_the_cores_busy_time_minus_the_workers_own():
    busy, own, now = iter([1000, 1000 + 150]), iter([300, 300 + 50]), iter([10.0, 11.0])
    watch = CpuWatch([0, 1], busy=lambda cpus: next(busy), own=lambda: next(own),
                     clock=lambda: next(now))  # fmt: skip
    watch.start()
    # 2 cores x 1 s = 200 ticks; busy 150, of which the worker's own 50: others 100 = 50%.
    assert watch.stop() == pytest.approx(100 / (2 * contention.TICKS_PER_S))
    group = contention.measured(watch.share)
    assert group.contended is (watch.share > CONTENDED_SHARE)
    unknown = CpuWatch([0], busy=lambda cpus: None, own=lambda: 0, clock=time.monotonic)
    unknown.start()
    assert unknown.stop() is None


BUSY = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"


def busy_on(cpu: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BUSY, str(cpu)])


def test_a_planted_busy_process_on_the_watched_core_is_seen():
    cpu = sorted(os.sched_getaffinity(0))[0]
    spinner = busy_on(cpu)
    try:
        time.sleep(0.5)  # it starts spinning
        watch = CpuWatch([cpu])
        watch.start()
        time.sleep(1.0)  # this process sleeps: the core's busy time is the spinner's
        share = watch.stop()
    finally:
        spinner.kill()
        spinner.wait()
    assert share is not None and share > 0.5
    assert contention.measured(share).contended


@pytest.mark.e2e
def test_a_cell_measured_beside_a_busy_process_is_marked_contended(tmp_path):
    """A real worker pinned to one core (--threads 1 takes the first allowed core) while a
    NumPy-free spinner holds that core: the cell is stored, ok, and marked contended."""
    cpu = sorted(os.sched_getaffinity(0))[0]
    spinner = busy_on(cpu)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--models", "mlp", "--backends",
             "torch-eager", "--modes", "infer", "--threads", "1", "--out-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        spinner.kill()
        spinner.wait()
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = done.stdout.strip().splitlines()[-1]
    (record,) = [json.loads(x) for x in Path(run_dir, "cells.jsonl").read_text().splitlines()]
    assert record["status"] == "ok" and record["cpu_affinity"] == [cpu]
    assert record["contended"] is True and record["contention"] > 0.3, record["contention"]
    assert "contended" in done.stdout  # the summary says so
