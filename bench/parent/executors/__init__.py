"""Executors: where each cell's worker processes run (bench.parent.executors.base says what one is).

- ``local`` (the default): this machine, one cell at a time; with GPUs (``--gpus``), one
  cell per GPU at a time, CPU cells alone (bench.parent.executors.local).
- ``ray``: each cell a Ray task on a node of a Ray cluster, or of a local Ray instance
  (bench.parent.executors.ray_cluster; needs the ``graphbench[ray]`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.parent.executors.base import Executor, OnFinish, OnStart
from bench.parent.executors.local import LocalExecutor

NAMES = ("local", "ray")

__all__ = ["NAMES", "Executor", "LocalExecutor", "OnFinish", "OnStart", "make"]


def make(name: str, gpus: Sequence[str] = (), ray_address: str | None = None) -> Executor:
    """The executor called ``name`` (checked by the command line before)."""
    if name == "ray":
        from bench.parent.executors.ray_cluster import RayExecutor  # imports Ray: only when asked

        return RayExecutor(ray_address)
    return LocalExecutor(gpus)
