"""The stream scenario's two passes with a fake clock and a backend that 'compiles' each new
shape; what is derived from them is bench.analysis.metrics'."""

import numpy as np
import pytest

from bench.analysis import metrics
from bench.matrix.cells import Cell
from bench.results.record import Outcome, Status
from bench.worker.scenarios.stream import parity_steps, run_passes, unpadded
from tests.fakes import FakeClock, NoopBackend, measurement

STATIC = Cell("lstm", "jax-jit", "infer", "cpu", 2, "quick", scenario="stream",
              strategy="exact", stream="skewed")  # fmt: skip
EAGER = Cell("lstm", "jax-eager", "infer", "cpu", 2, "quick", scenario="stream",
             strategy="exact", stream="skewed")  # fmt: skip


class ShapeCompilingBackend(NoopBackend):
    """Costs 1 s the first time it sees a shape, then 1 ms per 16 positions."""

    def __init__(self, clock, counts=True):
        super().__init__(clock, output=None)
        self.seen: set[tuple] = set()
        self.counts = counts

    def step(self, x):
        if x.shape not in self.seen:
            self.seen.add(x.shape)
            self.clock.advance(1.0)
        self.clock.advance(0.001 * x.shape[1] / 16)
        return x.astype(np.float64) * 2  # "logits" (B, T)

    def compilations(self):
        return len(self.seen) if self.counts else None


def stream(lengths):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 10, size=(2, n)) for n in lengths]


def passes(cell, backend, clock, lengths, expected=None, tolerance=1e-3):
    m, saved = measurement(cell, backend, expected or {}, clock, tolerance=tolerance)
    verdict = run_passes(m, stream(lengths) if expected is None else lengths, [], [])
    result = m.result.__class__(**{**m.result.__dict__, "outcome": verdict})
    return verdict, result, saved


def test_compile_time_is_first_pass_minus_second_pass():
    clock = FakeClock()
    verdict, r, _ = passes(STATIC, ShapeCompilingBackend(clock), clock, [16, 32, 16, 64, 32, 16])
    assert verdict == Outcome(Status.OK)
    p = r.passes
    assert p.compiled_at == [0, 1, 3]
    assert p.compilations == 3 and p.compilations_second_pass == 0
    assert p.steady_step_ms == pytest.approx([1, 2, 1, 4, 2, 1])
    assert metrics.compile_s(r) == pytest.approx(3.0)
    assert metrics.total_s(r) == pytest.approx(3.0 + sum(p.steady_step_ms) / 1e3)
    assert metrics.median_ms(r) == pytest.approx(1.5)
    assert metrics.last_compile_step(r) == 4
    assert p.step_ms[0] == pytest.approx(1001)


def test_eager_backend_has_no_compile_time():
    clock = FakeClock()
    _, r, _ = passes(EAGER, ShapeCompilingBackend(clock, counts=False), clock, [16, 32])
    assert r.passes.compilations is None and metrics.compile_s(r) is None
    assert r.passes.compiled_at == []


def test_checked_steps_compare_the_unpadded_part():
    clock = FakeClock()
    data = [np.pad(np.ones((2, 3)), ((0, 0), (0, 5)), constant_values=7)]  # padded 3 -> 8
    good = {"step0": np.full((2, 3), 2.0)}
    verdict, r, _ = passes(STATIC, ShapeCompilingBackend(clock), clock, data, good, 1e-6)
    assert verdict.status is Status.OK and r.parity.parity_max_rel_err == 0.0

    bad = {"step0": np.full((2, 3), 3.0)}
    verdict, r, _ = passes(STATIC, ShapeCompilingBackend(clock), clock, data, bad)
    assert verdict.status is Status.MISMATCH and verdict.error.startswith("first pass, step 0:")
    assert r.passes.steady_step_ms == []


def test_parity_steps():
    assert parity_steps(64, "infer") == [0, 9, 18, 27, 36, 45, 54, 63]
    assert parity_steps(64, "train") == [0]
    assert parity_steps(3, "infer") == [0, 1, 2]


def test_unpadded():
    out = np.arange(24).reshape(2, 4, 3)
    np.testing.assert_array_equal(unpadded(out, (2, 2, 3)), out[:, :2])
    with pytest.raises(ValueError, match="rank"):
        unpadded(out, (2, 3))


def test_a_first_pass_cut_short_keeps_the_steps_it_ran():
    clock = FakeClock()
    _, _, saved = passes(STATIC, ShapeCompilingBackend(clock), clock, [16] * 20)
    first_pass = [len(s.passes.step_ms) for s in saved if s.passes and not s.passes.steady_step_ms]
    assert first_pass[:2] == [8, 16]  # checkpoints during the first pass, before the steady one
