"""Where one worker of a shared machine runs: its GPU and its own CPU cores.

When several GPU cells run at once on one machine (a GPU pool, or a Ray node with
several GPUs), each worker sees only its GPU (``CUDA_VISIBLE_DEVICES``) and is pinned to
a slice of the machine's cores that no other worker uses, with its thread pools sized to
that slice: the host threads that feed one GPU never steal cycles from another's.
"""

from __future__ import annotations

from dataclasses import replace

from bench.matrix.job import CPUS_ENV
from bench.parent.cell_task import CellTask

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def core_slices(cores: list[int], parts: int) -> list[list[int]]:
    """``cores`` cut into ``parts`` contiguous, disjoint, near-equal slices (the first
    ``len(cores) % parts`` one core longer); every slice has at least one core."""
    if parts < 1 or len(cores) < parts:
        raise ValueError(f"{len(cores)} core(s) cannot give {parts} worker(s) one each")
    cores = sorted(cores)
    size, extra = divmod(len(cores), parts)
    slices, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        slices.append(cores[start:end])
        start = end
    return slices


def on_gpu(task: CellTask, gpu: str, cores: list[int]) -> CellTask:
    """The task with its worker confined to one GPU and its own cores."""
    threads = min(task.job.settings.threads, len(cores))
    env = {**task.env, "CUDA_VISIBLE_DEVICES": gpu, CPUS_ENV: ",".join(map(str, cores))}
    env.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    job = replace(task.job, settings=replace(task.job.settings, threads=threads))
    return replace(task, job=job, env=env)
