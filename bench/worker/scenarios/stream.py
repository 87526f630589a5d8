"""The stream scenario's measurement: one backend fed a stream of varying sequence lengths.

The sequence models
are fed a seeded stream of batches whose length changes from step to step, the same
stream for every backend, with one of three strategies (bench.streams): each batch as
it comes (``exact``), the backend's own dynamic-shape mode (``dynamic``) or padded to
buckets (``bucket``).

Two passes over the same stream, in one worker. The first pass checks outputs along the
stream against the reference; the second checks its last checked step again (inference:
against the reference; training: the loss is finite). The first is what a service or a
training job meets: every new shape may trigger a trace or a compilation, and its wall
time includes them. The second repeats the stream with every shape already seen: its
per-step times are the steady state. What is derived from them (the stream's total, its
compile time, the step at which a static backend overtakes eager) is
bench.analysis.metrics'.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import models
from bench.matrix.cells import Cell
from bench.matrix.streams import STREAM_STEPS, STREAMS, bucket_edges, pad_right, padded_length
from bench.results.record import Outcome, Passes, Status
from bench.worker import capture
from bench.worker.parity import FIRST_PASS, SECOND_PASS, TrainCheck, check, max_rel_err, train_band
from bench.worker.scenarios.base import Measurement, ScenarioMeasure, build_model, parity_output
from bench.worker.scenarios.fixed import reference_output
from bench.worker.timing import timed_step

# Steps of the first pass between checkpoints of the partial result.
CHECKPOINT_EVERY = 8
# Inference outputs checked along the stream (training: the first step's loss only).
PARITY_CHECKS = 8


def parity_steps(n_steps: int, mode: str, count: int = PARITY_CHECKS) -> list[int]:
    """Steps whose output is checked: evenly spread for inference; the first for training
    (after it the weights have moved, and the reference does not train)."""
    if mode == "train":
        return [0]
    return sorted({int(i) for i in np.rint(np.linspace(0, n_steps - 1, count))})


def unpadded(out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The part of a (possibly right-padded) output that the unpadded input produces."""
    if out.ndim != len(shape):
        raise ValueError(f"output rank {out.ndim} != reference rank {len(shape)}")
    return out[tuple(slice(0, n) for n in shape)]


def stream_inputs(model: str, profile: str, batch_size: int, stream: str, seed: int):
    """(cfg, params, unpadded batches, lengths) of a stream of varying lengths.

    The config is the profile's, widened to serve the stream's longest sequence; step i's
    batch has its own seed, so no two steps see the same data.
    """
    spec = models.spec(model)
    lengths_of = STREAMS[stream]
    cfg = spec.stream_config(spec.PROFILES[profile], lengths_of.max_len)
    params = spec.init_params(cfg, seed)
    lengths = lengths_of.lengths(STREAM_STEPS[profile], seed)
    batches = [
        spec.make_batch(cfg, batch_size, seed + 1 + i, length=int(n)) for i, n in enumerate(lengths)
    ]
    return cfg, params, batches, lengths


def fed_batches(cell: Cell, seed: int):
    """(cfg, params, host batches as fed, true lengths, fed lengths) of a stream cell."""
    if cell.stream is None or cell.strategy is None:
        raise ValueError(f"stream cell {cell.label()} needs a stream and a strategy")
    cfg, params, batches, lengths = stream_inputs(
        cell.model, cell.profile, cell.batch_size, cell.stream, seed
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


class ShapeStreamMeasure(ScenarioMeasure):
    def reference(self, cell: Cell, seed: int) -> dict[str, np.ndarray]:
        """Reference outputs of the steps a stream cell checks, keyed ``step<i>``, computed
        on the unpadded batches."""
        assert cell.stream is not None
        cfg, params, batches, lengths = stream_inputs(
            cell.model, cell.profile, cell.batch_size, cell.stream, seed
        )
        return {
            f"step{i}": reference_output(cell.model, cfg, params, batches[i], cell.mode)
            for i in parity_steps(len(lengths), cell.mode)
        }

    def measure(self, m: Measurement) -> Outcome:
        cfg, params, fed, lengths, fed_lengths = fed_batches(m.cell, m.settings.seed)
        build_model(m, cfg, params, strategy=m.cell.strategy or "exact")
        data = [m.backend.put(batch) for batch in fed]
        if m.phase == "diagnose":  # after the measured worker: why each step compiled
            return capture.diagnose(m, data, fed_lengths.tolist())
        return run_passes(m, data, lengths.tolist(), fed_lengths.tolist())


def run_passes(m: Measurement, data: list[Any], lengths: list[int], fed: list[int]) -> Outcome:
    """Both passes over the device batches ``data``, checkpointed as they go."""
    b, clock = m.backend, m.clock
    checked = sorted(int(k.removeprefix("step")) for k in m.expected)
    step_ms: list[float] = []
    compiled_at: list[int] = []
    errors: dict[str, float] = {}
    train: list[TrainCheck] = []

    def passes(**more: Any) -> Passes:
        return Passes(
            lengths=lengths,
            fed_lengths=fed,
            parity_steps=checked,
            step_ms=list(step_ms),  # copies: the lists go on growing after this checkpoint
            compiled_at=list(compiled_at),
            **more,
        )

    for i, batch in enumerate(data):
        before = b.compilations()
        out, seconds = timed_step(b.step, b.sync, batch, clock)
        step_ms.append(seconds * 1e3)
        after = b.compilations()
        if after is not None and before is not None and after > before:
            compiled_at.append(i)
        if i in checked:
            with m.parity_check():  # the reference and the host copy: the check's memory
                want = m.expected[f"step{i}"]
                errors[f"{FIRST_PASS}, step {i}"] = max_rel_err(
                    unpadded(b.to_numpy(out), want.shape), want
                )
                del want
            parity, mismatch = check(errors, m.tolerance, parity_output(m.cell.mode))
            m.record(parity=parity, passes=passes())
            if mismatch is not None:
                return mismatch
        if (i + 1) % CHECKPOINT_EVERY == 0:
            m.record(passes=passes())  # a first pass cut short by the timeout keeps its steps
    first_pass_compilations = b.compilations()
    m.record(passes=passes(compilations=first_pass_compilations))

    if m.watch is not None:  # the second pass is the stream's steady state
        m.watch.start()
    # Its last checked step is checked again (a replay of what the first pass compiled).
    again_at = checked[-1] if checked else None
    steady, again_out = [], None
    for i, batch in enumerate(data):
        out, seconds = timed_step(b.step, b.sync, batch, clock)
        steady.append(seconds * 1e3)
        if i == again_at:
            again_out = b.to_numpy(out)  # untimed, before the next step can overwrite it
    if m.watch is not None:
        m.watch.stop()
    count = b.compilations()
    again = (
        None
        if count is None or first_pass_compilations is None
        else count - first_pass_compilations
    )
    m.record(
        passes=passes(
            steady_step_ms=steady,
            compilations=first_pass_compilations,
            compilations_second_pass=again,
        )
    )
    if again_at is None or again_out is None:
        return Outcome(Status.OK)
    phase = f"{SECOND_PASS}, step {again_at}"
    with m.parity_check():
        if m.cell.mode == "infer":
            want = m.expected[f"step{again_at}"]
            errors[phase] = max_rel_err(unpadded(again_out, want.shape), want)
            del want
        else:  # the weights have moved since the first pass: the loss must be finite
            step = len(data) + again_at + 1
            loss, band = float(again_out), train_band(m.tolerance)
            train.append(TrainCheck(phase, step, loss, None, band, scale=1.0))
        del again_out
    parity, mismatch = check(errors, m.tolerance, parity_output(m.cell.mode), train=train)
    m.record(parity=parity)
    return mismatch or Outcome(Status.OK)


MEASURE = ShapeStreamMeasure()
