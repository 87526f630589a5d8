"""``ray``: each cell is a Ray task that runs the cell's usual worker processes on a node.

Ray (the ``graphbench[ray]`` extra) schedules, places and reports; graphbench keeps
everything that makes a number trustworthy, on the node exactly as on one machine: a
fresh worker process per cell, its timeout and process group, its watchdog (which ends
the worker if Ray's process dies), and the parent alone writing the run.

- **Resources keep timing honest.** A CUDA cell asks for one GPU and the node's share
  of cores per GPU; on the node its worker sees only that GPU and is pinned to a slice
  of cores of its own (bench.parent.executors.placement). A CPU cell asks for every CPU of the
  largest node, so it runs alone on such a node.
- **Where the code and interpreters come from.** The checkout is shipped to every node
  as the job's working directory (Ray's ``runtime_env``); workers import it from there.
  A framework's interpreter given with ``--python`` must exist at the same path on
  every node (a shared filesystem or identical images); without ``--python`` a worker
  runs under the Python that runs Ray on the node. The allowlisted framework variables
  (bench.parent.environment.ENV_ALLOWLIST) set here are set on the nodes too.
- **Failures.** Ray does not retry a cell (``max_retries=0``: a retry would hide a crash
  and could measure a cell twice); a task whose process or node died comes back as
  ``lost``, recorded ``failed`` with Ray's reason, and ``resume`` runs it again.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import ray

from bench.parent.cell_task import CellTask, TaskResult, lost_task, run_task
from bench.parent.environment import ENV_ALLOWLIST
from bench.parent.executors.base import OnFinish, OnStart
from bench.parent.executors.placement import core_slices, on_gpu
from bench.parent.worker_env import REPO, worker_env

# What the nodes need of the checkout: the code, not runs, caches or environments.
EXCLUDES = [
    ".git",
    ".nox",
    ".venv",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "/results",  # the run directories, not bench/results (gitignore syntax: anchored)
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    "*.html",
]


def one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


def run_on_node(
    task: CellTask,
    expected: bytes,
    eager32: bytes | None,
    node_python: bool,
    gpus_per_node: dict[str, int],
) -> TaskResult:
    """On a Ray node: the cell's workers, with files, environment and placement of this node."""
    worker = (sys.executable, *task.worker[1:]) if node_python else task.worker
    if not Path(worker[0]).exists():
        return lost_task(
            f"{worker[0]} does not exist on node {os.uname().nodename}: an interpreter "
            "given with --python must exist at the same path on every Ray node"
        )
    # This node's environment, with this node's copy of the checkout importable.
    task = replace(task, worker=worker, env=worker_env(task.job.cell, task.job.settings))
    if task.job.cell.device == "cuda":
        gpu = str(ray.get_gpu_ids()[0])
        node_gpus = gpus_per_node.get(ray.get_runtime_context().get_node_id(), 1)
        slices = core_slices(sorted(os.sched_getaffinity(0)), max(1, node_gpus))
        task = on_gpu(task, gpu, slices[int(gpu) % len(slices)])
    inputs = {"expected": expected} | ({} if eager32 is None else {"eager32": eager32})
    return run_task(task, inputs)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None):
        self.address = address  # None: start a local Ray instance for this run

    def run(self, tasks: Iterator[CellTask], on_start: OnStart, on_finish: OnFinish) -> None:
        env_vars = {k: v for k, v in os.environ.items() if k in ENV_ALLOWLIST}
        ray.init(
            address=self.address,
            runtime_env={"working_dir": str(REPO), "excludes": EXCLUDES, "env_vars": env_vars},
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
        in_flight: dict[ray.ObjectRef, CellTask] = {}
        try:
            self._run(tasks, on_start, on_finish, in_flight)
        finally:
            for ref in in_flight:  # interrupted: the tasks' watchdogs end their workers
                ray.cancel(ref, force=True)
            ray.shutdown()

    def _run(self, tasks, on_start, on_finish, in_flight) -> None:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = [int(n["Resources"].get("CPU", 0)) for n in nodes]
        gpus_per_node = {n["NodeID"]: int(n["Resources"].get("GPU", 0)) for n in nodes}
        gpu_nodes = [(c, gpus_per_node[n["NodeID"]]) for n, c in zip(nodes, cpus, strict=True)]
        gpu_nodes = [(c, g) for c, g in gpu_nodes if g]
        cpu_cell = {"num_cpus": max(cpus, default=1)}
        cores_per_gpu = min((max(1, c // g) for c, g in gpu_nodes), default=1)
        gpu_cell = {"num_gpus": 1, "num_cpus": cores_per_gpu}
        remote = ray.remote(max_retries=0)(run_on_node)
        # As many in flight as can run at once: a cell is drawn when it can start.
        capacity = max(1, sum(g for _, g in gpu_nodes) + len(nodes))
        pending = iter(tasks)
        while True:
            while len(in_flight) < capacity:
                task = next(pending, None)
                if task is None:
                    break
                on_start(task)
                cuda = task.job.cell.device == "cuda"
                if cuda and not gpu_nodes:
                    on_finish(task, lost_task("the Ray cluster has no GPU for a CUDA cell"))
                    continue
                eager32 = task.job.eager32_path
                ref = remote.options(**(gpu_cell if cuda else cpu_cell)).remote(
                    task,
                    Path(task.expected_path).read_bytes(),
                    None if eager32 is None else Path(eager32).read_bytes(),
                    task.worker[0] == sys.executable,
                    gpus_per_node,
                )
                in_flight[ref] = task
            if not in_flight:
                return
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                task = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    outcome = lost_task(f"Ray lost the task: {one_line(exc)}")
                on_finish(task, outcome)
