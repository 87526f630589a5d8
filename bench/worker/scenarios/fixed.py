"""The fixed-shape scenario's measurement: one batch, until its step time is known.

Per cell, in its own worker: build, time the first call (tracing and compilation
happen here, from empty compile caches), check that output against the float64
reference (a mismatch is never timed), warm up, take synced samples, then time as many
steps back to back with one sync at the end (throughput). A backend whose compilation
persists between processes gets a second, warm worker that stops after its first call.
An ahead-of-time backend's cell first builds its artefact (phase ``artifact``: build and
export, nothing run), then a cold start loads it and stops after its checked first call
(phase ``load``), before the worker above, which loads it too (docs/aot.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import models
from bench.matrix.cells import Cell
from bench.matrix.job import ARTIFACT_PHASE, LOAD_PHASE, TRACE_STEPS
from bench.results.record import FirstCall, Outcome, Status, Steady
from bench.worker import capture
from bench.worker.parity import check, max_rel_err
from bench.worker.scenarios.base import Measurement, ScenarioMeasure, build_model, parity_output
from bench.worker.timing import pipelined, repeat_steps, timed_step
from models.common.reference import cross_entropy


def inputs(model: str, profile: str, batch_size: int, seed: int) -> tuple[Any, dict, tuple]:
    """(cfg, params, batch): what every backend and the reference start from.

    Weights from ``seed``, the batch from ``seed + 1``: deterministic, nothing downloaded.
    """
    spec = models.spec(model)
    cfg = spec.PROFILES[profile]
    return cfg, spec.init_params(cfg, seed), spec.make_batch(cfg, batch_size, seed + 1)


def reference_output(model: str, cfg: Any, params: dict, batch: tuple, mode: str) -> np.ndarray:
    """Logits for ``infer``; the mean cross-entropy loss for ``train`` (the first training
    step returns the loss of the weights before its update)."""
    x, y = batch
    logits = models.reference(model).forward(cfg, params, x, train=(mode == "train"))
    if mode == "infer":
        return logits
    return np.asarray(cross_entropy(logits, y), dtype=np.float64)


class FixedShapesMeasure(ScenarioMeasure):
    def reference(self, cell: Cell, seed: int) -> dict[str, np.ndarray]:
        if models.is_user_model(cell.model):  # no NumPy reference: its framework's float64
            from models import user

            return user.reference_outputs(cell.model, cell.batch_size, cell.mode, seed)
        cfg, params, batch = inputs(cell.model, cell.profile, cell.batch_size, seed)
        return {"output": reference_output(cell.model, cfg, params, batch, cell.mode)}

    def eager_float32(self, cell: Cell, seed: int) -> dict[str, np.ndarray]:
        from bench import backends  # the worker's registry: frameworks load from it

        cls = backends.load(backends.eager_baseline(cell.framework))
        cls.configure("cpu", 1, "float32")
        cfg, params, batch = inputs(cell.model, cell.profile, cell.batch_size, seed)
        b = cls()
        b.build(cell.model, cfg, params, cell.mode, "cpu")
        out = b.step(b.put(batch))
        b.sync(out)
        return {"output": b.to_numpy(out)}

    def measure(self, m: Measurement) -> Outcome:
        """Build, first call, parity, warm-up, then (cold phase) samples and throughput."""
        if m.phase == "diagnose":  # after the measured workers: graph capture, untimed
            cell = m.cell
            cfg, params, batch = inputs(cell.model, cell.profile, cell.batch_size, m.settings.seed)
            build_model(m, cfg, params)
            data = m.backend.put(batch)
            return capture.diagnose(m, [data] * (1 + capture.AFTER_STEPS))
        if m.phase == ARTIFACT_PHASE:  # an ahead-of-time backend: build the artefact only
            cell = m.cell
            cfg, params, batch = inputs(cell.model, cell.profile, cell.batch_size, m.settings.seed)
            build_model(m, cfg, params, batch=batch)
            return Outcome(Status.OK)
        data, mismatch = first_call(m)
        if mismatch is not None:
            return mismatch  # a backend that disagrees with the reference is never timed
        if m.phase == LOAD_PHASE:  # the cold start: load, one checked step, nothing more
            return Outcome(Status.OK)
        if m.phase == "trace":  # after the measured workers: nothing timed here is kept
            steady_state(m, data, samples=False)
            return trace_steps(m, data)
        steady_state(m, data, samples=m.phase != "warm")
        return Outcome(Status.OK)


def first_call(m: Measurement) -> tuple[Any, Outcome | None]:
    """Build, then time and check the first call: (the device inputs, a mismatch verdict or
    None).

    The first call is where tracing and compilation happen: timed on its own.
    """
    cell = m.cell
    cfg, params, batch = inputs(cell.model, cell.profile, cell.batch_size, m.settings.seed)
    build_model(m, cfg, params)
    data = m.backend.put(batch)
    out, seconds = timed_step(m.backend.step, m.backend.sync, data, m.clock)
    m.record(first_call=FirstCall(first_call_s=seconds))
    error = max_rel_err(m.backend.to_numpy(out), m.expected["output"])
    eager32 = None if m.eager32 is None else max_rel_err(m.eager32["output"], m.expected["output"])
    reference = str(m.expected["reference"]) if "reference" in m.expected else None
    parity, mismatch = check([error], m.tolerance, parity_output(cell.mode), eager32, reference)
    m.record(parity=parity)
    return data, mismatch


def steady_state(m: Measurement, data: Any, samples: bool = True) -> None:
    """Warm-up (the steps until the step time settles are part of a backend's start: CUDA
    graphs are recorded here), then timed samples, pipelined throughput, the framework's
    compilation count and whether CUDA graphs were used. A warm worker stops after the
    warm-up: its start is what it measures."""
    s, b = m.settings, m.backend
    warmup = [
        x * 1e3 for x in repeat_steps(b.step, b.sync, data, m.clock, s.warmup_steps, s.warmup_min_s)
    ]
    m.record(steady=Steady(warmup_ms=warmup))
    if not samples:
        return
    if m.watch is not None:
        m.watch.start()
    timed = repeat_steps(b.step, b.sync, data, m.clock, s.min_samples, s.min_time_s, s.max_samples)
    samples_ms = [x * 1e3 for x in timed]
    m.record(steady=Steady(warmup_ms=warmup, samples_ms=samples_ms))
    seconds = pipelined(b.step, b.sync, data, m.clock, len(timed))
    if m.watch is not None:
        m.watch.stop()
    m.record(
        steady=Steady(
            warmup_ms=warmup,
            samples_ms=samples_ms,
            pipeline_steps=len(timed),
            pipeline_s=seconds,
            compilations=b.compilations(),
            cuda_graphs=b.cuda_graphs(),
        )
    )


def trace_steps(m: Measurement, data: Any) -> Outcome:
    """TRACE_STEPS steps under the framework's profiler, its files into ``m.trace_dir``."""
    b = m.backend

    def run_steps() -> None:
        for _ in range(TRACE_STEPS):
            b.sync(b.step(data))

    b.trace(run_steps, Path(m.trace_dir or "."))
    return Outcome(Status.OK)


MEASURE = FixedShapesMeasure()
