"""The dynamic-shape passes with a fake clock and a backend that 'compiles' each new shape."""

import numpy as np
import pytest

from bench.dynamic import parity_steps, run_passes, unpadded
from tests.fakes import FakeClock, NoopBackend


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


def test_compile_time_is_first_pass_minus_second_pass():
    clock = FakeClock()
    backend = ShapeCompilingBackend(clock)
    data = stream([16, 32, 16, 64, 32, 16])
    record = {}
    run_passes(backend, data, {}, 1e-3, record, clock, static=True)
    assert record["status"] == "ok"
    assert record["compiled_at"] == [0, 1, 3]
    assert record["compilations"] == 3 and record["compilations_second_pass"] == 0
    assert record["compile_s"] == pytest.approx(3.0)
    assert record["total_s"] == pytest.approx(3.0 + record["steady_total_s"])
    assert record["steady_step_ms"] == pytest.approx([1, 2, 1, 4, 2, 1])
    assert record["steady_latency_ms"] == pytest.approx(1.5)
    assert record["first_call_s"] == pytest.approx(1.001)


def test_eager_backend_has_no_compile_time():
    clock = FakeClock()
    record = {}
    backend = ShapeCompilingBackend(clock, counts=False)
    run_passes(backend, stream([16, 32]), {}, 1e-3, record, clock, static=False)
    assert record["compilations"] is None and record["compile_s"] is None
    assert record["compiled_at"] == []


def test_checked_steps_compare_the_unpadded_part():
    clock = FakeClock()
    data = [np.pad(np.ones((2, 3)), ((0, 0), (0, 5)), constant_values=7)]  # padded 3 -> 8
    good = {0: np.full((2, 3), 2.0)}
    record = {}
    run_passes(ShapeCompilingBackend(clock), data, good, 1e-6, record, clock, static=True)
    assert record["status"] == "ok" and record["parity_max_rel_err"] == 0.0

    record = {}
    run_passes(
        ShapeCompilingBackend(clock), data, {0: np.full((2, 3), 3.0)}, 1e-3, record, clock, True
    )
    assert record["status"] == "mismatch" and record["error"].startswith("step 0:")
    assert "steady_step_ms" not in record


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
    saved = []
    record = {}
    data = stream([16] * 20)
    run_passes(
        ShapeCompilingBackend(clock),
        data,
        {},
        1e-3,
        record,
        clock,
        static=True,
        checkpoint=lambda: saved.append(len(record["step_ms"])),
    )
    assert saved[:2] == [8, 16]  # checkpoints during the first pass, before the steady one
