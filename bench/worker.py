"""Child side: runs exactly one cell in a fresh process and writes its result.

``python -m bench.worker JOB.json RESULT.json``. The job holds the cell, the settings,
the path of the expected output, the phase (``cold``: the full measurement, from empty
compile caches; ``warm``: build and first call only, finding the caches a cold worker
of the same cell left) and a record skeleton. The result file is rewritten
after each stage, so if the parent must kill this process (timeout) what was already
measured (e.g. the first call) survives.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import models
from bench import backends
from bench.backends.base import Backend
from bench.cells import Cell
from bench.dynamic import run_passes
from bench.expected import inputs, stream_inputs
from bench.memory import HOST_RSS_COUNTER, peak_rss_bytes
from bench.profiles import Settings
from bench.results import write_json_atomic
from bench.stats import max_rel_err, summarize
from bench.streams import STREAMS, bucket_edges, pad_right, padded_length, padding_waste
from bench.timing import Clock, default_clock, pipelined, repeat_steps, timed_step


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def measure(
    cell: Cell,
    settings: Settings,
    backend: Backend,
    expected: np.ndarray,
    record: dict,
    checkpoint: Callable[[], None] = lambda: None,
    clock: Clock = default_clock,
    phase: str = "cold",
) -> None:
    """Build, first call, parity, warm-up, samples, pipelined throughput: into ``record``.

    A ``warm`` phase (a second process that finds the first one's compile caches) stops
    after the parity check: only its build and first call are of interest.
    """
    data = first_call(cell, settings, backend, expected, record, clock)
    if data is None:
        return
    if phase == "warm":
        record["status"] = "ok"
        return
    checkpoint()
    steady_state(cell, settings, backend, data, record, checkpoint, clock)


def first_call(
    cell: Cell,
    settings: Settings,
    backend: Backend,
    expected: np.ndarray,
    record: dict,
    clock: Clock,
) -> Any | None:
    """Build, then time and check the first call; the device inputs, or None on mismatch."""
    cfg, params, batch = inputs(cell.model, cell.profile, cell.batch_size, settings.seed)
    record["flops_per_step"] = models.spec(cell.model).flops_per_step(
        cfg, cell.batch_size, cell.mode
    )

    start = clock()
    backend.build(cell.model, cfg, params, cell.mode, cell.device)
    record["build_s"] = clock() - start
    data = backend.put(batch)

    # The first call is where tracing and compilation happen: timed on its own.
    out, record["first_call_s"] = timed_step(backend.step, backend.sync, data, clock)
    err = max_rel_err(backend.to_numpy(out), expected)
    record["parity_max_rel_err"] = err
    record["parity_tolerance"] = settings.parity_tolerance
    record["parity_output"] = "logits" if cell.mode == "infer" else "loss"
    if not err <= settings.parity_tolerance:
        # A backend that disagrees with the reference is reported, never timed.
        record["status"] = "mismatch"
        record["error"] = (
            f"max relative error {err:.3g} of the first {record['parity_output']} exceeds "
            f"the tolerance {settings.parity_tolerance:g}"
        )
        return None
    return data


def steady_state(
    cell: Cell,
    settings: Settings,
    backend: Backend,
    data: Any,
    record: dict,
    checkpoint: Callable[[], None],
    clock: Clock,
) -> None:
    """Warm-up, timed samples, pipelined throughput, compilations and memory."""
    warmup = repeat_steps(
        backend.step, backend.sync, data, clock, settings.warmup_steps, settings.warmup_min_s
    )
    record["warmup_ms"] = [s * 1e3 for s in warmup]
    samples = repeat_steps(
        backend.step,
        backend.sync,
        data,
        clock,
        settings.min_samples,
        settings.min_time_s,
        settings.max_samples,
    )
    record["samples_ms"] = [s * 1e3 for s in samples]
    record["latency_ms"] = summarize(record["samples_ms"])
    checkpoint()

    n_steps = len(samples)
    seconds = pipelined(backend.step, backend.sync, data, clock, n_steps)
    record["pipeline_steps"] = n_steps
    record["pipeline_s"] = seconds
    record["throughput_per_s"] = n_steps * cell.batch_size / seconds if seconds > 0 else None
    record["compilations"] = backend.compilations()
    record["peak_device_bytes"] = backend.peak_device_bytes()
    record["device_memory_counter"] = (
        backend.device_memory_counter if cell.device != "cpu" else None
    )
    record["status"] = "ok"


def stream_batches(cell: Cell, settings: Settings):
    """(cfg, params, host batches as fed, true lengths, fed lengths) of a dynamic cell."""
    if cell.stream is None or cell.strategy is None:
        raise ValueError(f"dynamic cell {cell.label()} needs a stream and a strategy")
    cfg, params, batches, lengths = stream_inputs(
        cell.model, cell.profile, cell.batch_size, cell.stream, settings.seed
    )
    stream = STREAMS[cell.stream]
    edges = bucket_edges(stream.min_len, stream.max_len)
    fed_lengths = np.array([padded_length(int(n), cell.strategy, edges) for n in lengths])
    fed = []
    for (x, y), n, fed_n in zip(batches, lengths, fed_lengths, strict=True):
        # Targets with a time axis (next-token prediction) are padded too; the loss masks
        # them. A classifier's targets (B,) are per sequence.
        y = pad_right(y, fed_n) if y.ndim == 2 else y
        fed.append((pad_right(x, fed_n), y, np.full(len(x), n, dtype=np.int32)))
    return cfg, params, fed, lengths, fed_lengths


def measure_stream(
    cell: Cell,
    settings: Settings,
    backend: Backend,
    expected: dict[int, np.ndarray],
    record: dict,
    checkpoint: Callable[[], None] = lambda: None,
    clock: Clock = default_clock,
) -> None:
    """A dynamic-shape cell: build with the strategy, feed the stream twice (bench.dynamic)."""
    cfg, params, fed, lengths, fed_lengths = stream_batches(cell, settings)
    record.update(
        n_steps=len(lengths),
        lengths=lengths.tolist(),
        fed_lengths=fed_lengths.tolist(),
        distinct_shapes=len(set(fed_lengths.tolist())),
        padding_waste=padding_waste(lengths, fed_lengths),
        parity_tolerance=settings.parity_tolerance,
        parity_output="logits" if cell.mode == "infer" else "loss",
        parity_steps=sorted(expected),
    )
    start = clock()
    backend.build(cell.model, cfg, params, cell.mode, cell.device, strategy=cell.strategy or "")
    record["build_s"] = clock() - start
    data = [backend.put(batch) for batch in fed]
    static = backends.get(cell.backend).static
    run_passes(
        backend, data, expected, settings.parity_tolerance, record, clock, static, checkpoint
    )
    if record["status"] == "ok":
        record["peak_device_bytes"] = backend.peak_device_bytes()
        record["device_memory_counter"] = (
            backend.device_memory_counter if cell.device != "cpu" else None
        )


def limit_cpus(threads: int) -> list[int]:
    """Pin this process to ``threads`` CPUs: the one limit every framework obeys."""
    allowed = sorted(os.sched_getaffinity(0))
    if threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
    return sorted(os.sched_getaffinity(0))


def run_job(job: dict, result_path: Path) -> None:
    cell = Cell.from_dict(job["cell"])
    settings = Settings.from_dict(job["settings"])
    record = job["record"]

    def checkpoint() -> None:
        record["peak_host_rss_bytes"] = peak_rss_bytes()
        write_json_atomic(result_path, record)

    record["cpu_affinity"] = limit_cpus(settings.threads)
    record["host_memory_counter"] = HOST_RSS_COUNTER
    backend_cls: type[Backend] | None = None
    try:
        backend_cls = backends.load(cell.backend)
        record["framework_version"] = backend_cls.framework_version()
        record["threads_set"] = backend_cls.configure(cell.device, settings.threads, cell.precision)
        reason = backend_cls.unavailable_reason(cell.device)
        if reason:
            record.update(status="skipped", error=reason)
            return
        if cell.scenario == "dynamic":
            with np.load(job["expected_path"]) as stored:
                by_step = {int(name.removeprefix("step")): stored[name] for name in stored.files}
            measure_stream(cell, settings, backend_cls(), by_step, record, checkpoint)
        else:
            expected = np.load(job["expected_path"])
            measure(cell, settings, backend_cls(), expected, record, checkpoint, phase=job["phase"])
    except Exception as exc:
        out_of_memory = (
            backend_cls.is_out_of_memory(exc) if backend_cls else isinstance(exc, MemoryError)
        )
        record.update(status="oom" if out_of_memory else "failed", error=one_line(exc))
        traceback.print_exc()  # the parent keeps the tail of stderr with the record
    finally:
        checkpoint()


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    run_job(job, Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
