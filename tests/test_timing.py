import pytest

from bench.worker.timing import pipelined, repeat_steps, timed_step
from tests.fakes import FakeClock


class Recorder:
    def __init__(self, clock, cost):
        self.clock, self.cost, self.log = clock, cost, []

    def step(self, x):
        self.log.append("step")
        self.clock.advance(self.cost)
        return x

    def sync(self, out):
        self.log.append("sync")
        self.clock.advance(0.001)


def test_timed_step_includes_the_sync():
    clock = FakeClock()
    r = Recorder(clock, 0.010)
    out, seconds = timed_step(r.step, r.sync, "x", clock)
    assert out == "x"
    assert seconds == pytest.approx(0.011)
    assert r.log == ["step", "sync"]


def test_repeat_steps_meets_min_count_when_steps_are_slow():
    clock = FakeClock()
    r = Recorder(clock, 1.0)
    durations = repeat_steps(r.step, r.sync, None, clock, min_count=3, min_time_s=0.5)
    assert len(durations) == 3
    assert r.log == ["step", "sync"] * 3


def test_repeat_steps_meets_min_time_when_steps_are_fast():
    clock = FakeClock()
    r = Recorder(clock, 0.009)  # 10 ms per synced step
    durations = repeat_steps(r.step, r.sync, None, clock, min_count=2, min_time_s=0.1)
    assert len(durations) == 10
    assert all(d == pytest.approx(0.010) for d in durations)


def test_repeat_steps_stops_at_max_count():
    clock = FakeClock()
    r = Recorder(clock, 0.0)
    durations = repeat_steps(r.step, r.sync, None, clock, min_count=1, min_time_s=60, max_count=25)
    assert len(durations) == 25


def test_pipelined_syncs_once_at_the_end():
    clock = FakeClock()
    r = Recorder(clock, 0.002)
    seconds, out = pipelined(r.step, r.sync, None, clock, n_steps=5)
    assert out is None  # the last step's output (the recorder's steps return their input)
    assert r.log == ["step"] * 5 + ["sync"]
    assert seconds == pytest.approx(5 * 0.002 + 0.001)


def test_pipelined_refuses_zero_steps():
    with pytest.raises(ValueError, match="n_steps"):
        pipelined(lambda x: x, lambda o: None, None, FakeClock(), n_steps=0)
