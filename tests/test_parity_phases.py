"""Parity on what is timed: the output after the warm-up and after the pipelined steps is
checked too, and a training loss against its framework's eager loss at the same step; the
error itself is computed in chunks (bench.worker.parity)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bench.matrix.cells import Cell
from bench.results.record import CellResult, Status
from bench.worker.parity import AFTER_PIPELINE, AFTER_WARMUP, FIRST_CALL, max_rel_err, train_band
from bench.worker.scenarios.fixed import MEASURE, reference_output
from bench.worker.scenarios.fixed import inputs as fixed_inputs
from tests.fakes import FakeClock, NoopBackend, measurement

INFER = Cell("mlp", "torch-compile", "infer", "cpu", 4, "quick")
TRAIN = Cell("mlp", "torch-compile", "train", "cpu", 4, "quick")


def expected(mode="infer"):
    cfg, params, batch = fixed_inputs("mlp", "quick", 4, seed=0)
    return reference_output("mlp", cfg, params, batch, mode)


class PlantedBackend(NoopBackend):
    """Right on its first ``right_for`` calls, then ``wrong`` (what a stale CUDA-graph replay
    or a mis-specialised fusion would give)."""

    def __init__(self, clock, right, wrong, right_for=1):
        super().__init__(clock, right)
        self.right, self.wrong, self.right_for = right, wrong, right_for

    def step(self, inputs):
        super().step(inputs)
        return self.right if self.n_steps <= self.right_for else self.wrong


def run(cell, backend, clock, eager_loss=None, phase="cold"):
    m, _ = measurement(cell, backend, {"output": expected(cell.mode)}, clock, phase=phase)
    m.eager_warmup_loss = eager_loss
    verdict = MEASURE.measure(m)
    return verdict, m.result


def test_right_on_the_first_call_and_wrong_after_the_warm_up_is_a_mismatch():
    clock = FakeClock()
    right = expected()
    verdict, r = run(INFER, PlantedBackend(clock, right, right + 1.0), clock)
    assert verdict.status is Status.MISMATCH
    assert verdict.error.startswith(f"{AFTER_WARMUP}: the logits is off by")
    assert r.parity.parity_phases == [FIRST_CALL, AFTER_WARMUP]
    assert r.parity.parity_phase_errors[FIRST_CALL] == 0.0
    assert r.parity.parity_phase_errors[AFTER_WARMUP] > 1e-3
    assert r.steady.samples_ms == []  # never timed


def test_wrong_only_in_the_pipelined_steps_is_a_mismatch_after_the_pipeline():
    clock = FakeClock()
    right = expected()
    # First call, 2 warm-up steps and 5 samples right; the pipelined steps wrong.
    backend = PlantedBackend(clock, right, np.full_like(right, np.nan), right_for=1 + 2 + 5)
    verdict, r = run(INFER, backend, clock)
    assert verdict.status is Status.MISMATCH
    assert verdict.error.startswith(f"{AFTER_PIPELINE}: the logits is not finite")
    assert r.parity.parity_phases == [FIRST_CALL, AFTER_WARMUP, AFTER_PIPELINE]
    assert r.parity.parity_phase_errors[AFTER_PIPELINE] is None
    assert r.parity.parity_max_rel_err is None
    assert len(r.steady.samples_ms) == 5  # measured, but the cell is not ok


def test_right_in_every_phase_is_ok_and_records_each_phase():
    clock = FakeClock()
    right = expected()
    verdict, r = run(INFER, NoopBackend(clock, right), clock)
    assert verdict.status is Status.OK
    assert r.parity.parity_phases == [FIRST_CALL, AFTER_WARMUP, AFTER_PIPELINE]
    assert r.parity.parity_phase_errors == dict.fromkeys(r.parity.parity_phases, 0.0)
    assert r.parity.parity_train_step is None


def test_warm_worker_checks_after_its_warm_up():
    clock = FakeClock()
    right = expected()
    verdict, _ = run(INFER, PlantedBackend(clock, right, right * 2), clock, phase="warm")
    assert verdict.status is Status.MISMATCH and verdict.error.startswith(AFTER_WARMUP)


def test_training_loss_after_the_warm_up_is_held_to_a_band_around_eager():
    first = float(expected("train"))  # the first step's loss: the reference's
    band = train_band(1e-3)
    eager = 0.8 * first  # eager's loss after the first call and 2 warm-up steps

    def train_run(after):
        clock = FakeClock()
        backend = PlantedBackend(clock, np.float32(first), np.float32(after))
        return run(TRAIN, backend, clock, eager_loss=eager)

    verdict, r = train_run(eager + 0.5 * band * first)
    assert verdict.status is Status.OK
    p = r.parity
    assert p.parity_phases == [FIRST_CALL, AFTER_WARMUP, AFTER_PIPELINE]
    assert p.parity_train_step == 1 + 2  # the first call and the 2 warm-up steps
    assert p.parity_train_eager_loss == eager and p.parity_train_band == band
    assert p.parity_phase_errors[AFTER_WARMUP] == pytest.approx(0.5 * band, rel=1e-3)
    assert AFTER_PIPELINE not in p.parity_phase_errors  # finite, no eager loss to compare

    # A backend that does not update the weights: its loss stays the first step's.
    verdict, r = train_run(first)
    assert verdict.status is Status.MISMATCH
    assert verdict.error.startswith(f"{AFTER_WARMUP}: the loss is off by")
    assert "eager loss at step 3" in verdict.error and r.steady.samples_ms == []


def test_training_loss_without_an_eager_loss_must_be_finite():
    first = np.float32(expected("train"))
    clock = FakeClock()
    verdict, r = run(TRAIN, PlantedBackend(clock, first, first * 0.5), clock)
    assert verdict.status is Status.OK and r.parity.parity_train_band is None
    clock = FakeClock()
    verdict, r = run(TRAIN, PlantedBackend(clock, first, np.float32(np.inf)), clock)
    assert verdict.status is Status.MISMATCH and "not finite" in verdict.error
    assert r.parity.parity_phase_errors[AFTER_WARMUP] is None


def test_parity_fields_round_trip_and_old_records_have_none():
    clock = FakeClock()
    _, r = run(INFER, NoopBackend(clock, expected()), clock)
    r = CellResult(run_id="run", cell=INFER, parity=r.parity)
    assert CellResult.from_json(r.to_json(), "here") == r
    old = {k: v for k, v in r.to_json().items() if not k.startswith(("parity_phase", "parity_t"))}
    back = CellResult.from_json(old, "here").parity
    assert back.parity_phases == [] and back.parity_phase_errors == {}


def unchunked(actual, reference):
    """The formula as it was: whole float64 copies."""
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if not np.all(np.isfinite(actual)):
        return math.inf
    scale = float(np.max(np.abs(reference))) or 1.0
    return float(np.max(np.abs(actual - reference)) / scale)


finite32 = st.floats(-1e6, 1e6, width=32, allow_subnormal=False)


@settings(max_examples=200, deadline=None)
@given(
    pair=hnp.array_shapes(min_dims=1, max_dims=3, max_side=9).flatmap(
        lambda shape: st.tuples(
            hnp.arrays(np.float32, shape, elements=finite32),
            hnp.arrays(np.float64, shape, elements=st.floats(-1e6, 1e6, allow_subnormal=False)),
        )
    ),
    chunk=st.integers(1, 50),
)
def test_chunked_error_is_the_unchunked_formula(pair, chunk):
    actual, reference = pair
    assert max_rel_err(actual, reference, chunk=chunk) == unchunked(actual, reference)


def test_chunked_error_sees_a_nan_in_any_chunk_and_refuses_a_shape_mismatch():
    actual = np.zeros((4, 5), dtype=np.float32)
    actual[3, 4] = np.nan
    assert max_rel_err(actual, np.ones((4, 5)), chunk=3) == math.inf
    with pytest.raises(ValueError, match="shape"):
        max_rel_err(np.zeros(3), np.zeros(4), chunk=2)
