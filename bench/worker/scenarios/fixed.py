"""The fixed-shape scenario's measurement: one batch, until its step time is known.

Per cell, in its own worker: build, time the first call (tracing and compilation
happen here, from empty compile caches), check that output against the float64
reference (a mismatch is never timed), warm up and check again (what is timed is what
was checked), take synced samples, then time as many steps back to back with one sync at
the end (throughput) and check the last of them. A backend whose compilation
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
from bench.worker.parity import (
    AFTER_PIPELINE,
    AFTER_WARMUP,
    FIRST_CALL,
    TrainCheck,
    check,
    max_rel_err,
    train_band,
)
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

        # The eager backend the cell is compared with: its framework's, or a Keras cell's
        # eager Keras backend on the same KERAS_BACKEND (a Keras model is not a torch module).
        cls = backends.load(backends.eager_counterpart(cell.backend))
        cls.configure("cpu", 1, "float32")
        cfg, params, batch = inputs(cell.model, cell.profile, cell.batch_size, seed)
        b = cls()
        b.build(cell.model, cfg, params, cell.mode, "cpu")
        out = b.step(b.put(batch))
        b.sync(out)
        return {"output": b.to_numpy(out)}

    def eager_loss(self, cell: Cell, seed: int, steps: int, threads: int) -> dict[str, np.ndarray]:
        from bench import backends  # the worker's registry: frameworks load from it

        cls = backends.load(cell.backend)
        cls.configure(cell.device, threads, cell.precision)
        cfg, params, batch = inputs(cell.model, cell.profile, cell.batch_size, seed)
        b = cls()
        b.build(cell.model, cfg, params, "train", cell.device, precision=cell.precision)
        data = b.put(batch)
        for _ in range(1 + steps):
            out = b.step(data)
            b.sync(out)
        return {"loss": np.asarray(b.to_numpy(out), dtype=np.float64)}

    def measure(self, m: Measurement) -> Outcome:
        """Build, first call, parity, warm-up and parity, then (cold phase) samples,
        throughput and parity."""
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
        checks = Checks(m)
        data, mismatch = first_call(m, checks)
        if mismatch is not None:
            return mismatch  # a backend that disagrees with the reference is never timed
        if m.phase == LOAD_PHASE:  # the cold start: load, one checked step, nothing more
            return Outcome(Status.OK)
        if m.phase == "trace":  # after the measured workers: nothing timed here is kept
            mismatch = steady_state(m, data, checks, samples=False)
            return mismatch or trace_steps(m, data)
        mismatch = steady_state(m, data, checks, samples=m.phase != "warm")
        return mismatch or Outcome(Status.OK)


class Checks:
    """A fixed-shape cell's parity checks so far, each recorded as it is made: inference
    outputs against the reference; a training loss after the first call against its
    framework's eager loss (bench.worker.parity)."""

    def __init__(self, m: Measurement):
        self.m = m
        self.errors: dict[str, float] = {}
        self.train: list[TrainCheck] = []
        self.float32_eager_err: float | None = None
        self.reference = str(m.expected["reference"]) if "reference" in m.expected else None

    def output(self, phase: str, out: Any, step: int, eager_loss: float | None = None):
        """Check a step's output (``step``: training steps taken, this one included); a
        mismatch verdict or None."""
        m = self.m
        with m.parity_check():  # the reference and the host copy: the check's memory
            host = m.backend.to_numpy(out)
            if phase == FIRST_CALL or m.cell.mode == "infer":
                self.errors[phase] = max_rel_err(host, m.expected["output"])
            else:
                band, scale = train_band(m.tolerance), float(m.expected["output"])
                self.train.append(TrainCheck(phase, step, float(host), eager_loss, band, scale))
            if phase == FIRST_CALL and m.eager32 is not None and "output" in m.eager32:
                self.float32_eager_err = max_rel_err(m.eager32["output"], m.expected["output"])
            del host
        parity, mismatch = check(
            self.errors,
            m.tolerance,
            parity_output(m.cell.mode),
            self.float32_eager_err,
            self.reference,
            self.train,
        )
        m.record(parity=parity)
        return mismatch


def first_call(m: Measurement, checks: Checks) -> tuple[Any, Outcome | None]:
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
    return data, checks.output(FIRST_CALL, out, step=1)


def warm_up(m: Measurement, data: Any, checks: Checks) -> tuple[list[float], Outcome | None]:
    """The warm-up: its steps' seconds, and the verdict of the check of its last counted step
    (step ``warmup_steps`` after the first call: CUDA graphs are recorded and replayed by
    then, TorchScript has specialised), made before another step can overwrite that output
    (a CUDA graph's is overwritten by its next replay). Then more steps until
    ``warmup_min_s`` have passed, unless that check failed."""
    s, b = m.settings, m.backend
    seconds = repeat_steps(b.step, b.sync, data, m.clock, s.warmup_steps - 1, 0.0)
    if s.warmup_steps >= 1:
        out, last = timed_step(b.step, b.sync, data, m.clock)
        seconds.append(last)
        mismatch = checks.output(AFTER_WARMUP, out, 1 + s.warmup_steps, m.eager_warmup_loss)
        if mismatch is not None:
            return seconds, mismatch
    left = s.warmup_min_s - sum(seconds)
    return seconds + repeat_steps(b.step, b.sync, data, m.clock, 0, left), None


def steady_state(m: Measurement, data: Any, checks: Checks, samples: bool = True) -> Outcome | None:
    """Warm-up (the steps until the step time settles are part of a backend's start: CUDA
    graphs are recorded here) and its check, then timed samples, pipelined throughput, the
    framework's compilation count, whether CUDA graphs were used, and the last pipelined
    output's check. A warm worker stops after the warm-up: its start is what it measures.
    The verdict of a failed check, or None."""
    s, b = m.settings, m.backend
    warmup_s, mismatch = warm_up(m, data, checks)
    warmup = [x * 1e3 for x in warmup_s]
    m.record(steady=Steady(warmup_ms=warmup))
    if mismatch is not None:
        return mismatch  # not timed
    m.end_warmup()  # the device peak so far is the start's; the steady phase's begins
    if not samples:
        return None
    if m.watch is not None:
        m.watch.start()
    timed = repeat_steps(b.step, b.sync, data, m.clock, s.min_samples, s.min_time_s, s.max_samples)
    samples_ms = [x * 1e3 for x in timed]
    m.record(steady=Steady(warmup_ms=warmup, samples_ms=samples_ms))
    seconds, out = pipelined(b.step, b.sync, data, m.clock, len(timed))
    if m.watch is not None:
        m.watch.stop()
    m.end_steady()
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
    steps = 1 + len(warmup) + 2 * len(timed)
    return checks.output(AFTER_PIPELINE, out, steps)


def trace_steps(m: Measurement, data: Any) -> Outcome:
    """TRACE_STEPS steps under the framework's profiler, its files into ``m.trace_dir``."""
    b = m.backend

    def run_steps() -> None:
        for _ in range(TRACE_STEPS):
            b.sync(b.step(data))

    b.trace(run_steps, Path(m.trace_dir or "."))
    return Outcome(Status.OK)


MEASURE = FixedShapesMeasure()
