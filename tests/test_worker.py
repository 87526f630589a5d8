"""The worker's measurement logic, with a fake clock and a no-op backend."""

import json

import numpy as np
import pytest

from bench import worker
from bench.cells import Cell
from bench.expected import compute
from bench.profiles import settings_for
from bench.runner import new_record
from tests.fakes import FakeClock, NoopBackend

CELL = Cell("mlp", "torch-eager", "infer", "cpu", 4, "quick")


def settings(**kw):
    base = dict(warmup_steps=2, warmup_min_s=0.0, min_samples=5, min_time_s=0.0, max_samples=100)
    return settings_for("quick", **{**base, **kw})


def expected():
    return compute("mlp", "quick", 4, "infer", seed=0)


def test_measure_times_first_call_apart_and_collects_synced_samples():
    clock = FakeClock()
    backend = NoopBackend(clock, expected(), step_costs=(0.010, 0.020), first_cost=3.0)
    record = new_record(CELL, "run")
    worker.measure(CELL, settings(), backend, expected(), record, clock=clock)

    assert record["status"] == "ok"
    assert record["build_s"] == pytest.approx(0.5)
    assert record["first_call_s"] == pytest.approx(3.0)
    assert record["parity_max_rel_err"] == 0.0
    assert len(record["warmup_ms"]) == 2
    # 5 samples alternating 10 and 20 ms after the 2 warm-up steps (which took 10, 20).
    assert record["samples_ms"] == pytest.approx([10, 20, 10, 20, 10])
    assert record["latency_ms"]["median"] == pytest.approx(10.0)
    assert record["latency_ms"]["n"] == 5
    # Pipelined: 5 steps (20, 10, 20, 10, 20 ms) then one sync -> 80 ms for 5 x 4 examples.
    assert record["pipeline_steps"] == 5
    assert record["throughput_per_s"] == pytest.approx(20 / 0.080)
    assert record["peak_device_bytes"] is None
    # Every step before the pipelined loop is followed by its sync.
    steps = backend.calls[2:]
    timed = steps[: 2 * (1 + 2 + 5)]
    assert timed == ["step", "sync"] * 8
    assert steps[len(timed) :] == ["step"] * 5 + ["sync"]


def test_measure_min_time_extends_sampling():
    clock = FakeClock()
    backend = NoopBackend(clock, expected(), step_costs=(0.125,))  # exact in binary
    record = new_record(CELL, "run")
    worker.measure(
        CELL, settings(min_samples=1, min_time_s=1.0), backend, expected(), record, clock=clock
    )
    assert record["latency_ms"]["n"] == 8


def test_mismatch_is_reported_and_never_timed():
    clock = FakeClock()
    wrong = expected() + 1.0
    backend = NoopBackend(clock, wrong)
    record = new_record(CELL, "run")
    worker.measure(CELL, settings(), backend, expected(), record, clock=clock)
    assert record["status"] == "mismatch"
    assert "exceeds the tolerance" in record["error"]
    assert record["parity_max_rel_err"] > 1e-3
    assert record["samples_ms"] == [] and record["latency_ms"] is None
    assert record["throughput_per_s"] is None
    assert backend.n_steps == 1


def test_nan_output_is_a_mismatch():
    clock = FakeClock()
    backend = NoopBackend(clock, np.full_like(expected(), np.nan))
    record = new_record(CELL, "run")
    worker.measure(CELL, settings(), backend, expected(), record, clock=clock)
    assert record["status"] == "mismatch"


class ExplodingBackend(NoopBackend):
    error: type[BaseException] = RuntimeError

    def step(self, inputs):
        raise self.error("kernel exploded\nsecond line")


class OutOfMemoryBackend(ExplodingBackend):
    error = MemoryError


class UnavailableBackend(NoopBackend):
    @classmethod
    def unavailable_reason(cls, device):
        return "no such device here"


@pytest.mark.parametrize(
    "backend_cls, status, error",
    [
        (ExplodingBackend, "failed", "RuntimeError: kernel exploded"),
        (OutOfMemoryBackend, "oom", "MemoryError: kernel exploded"),
        (UnavailableBackend, "skipped", "no such device here"),
    ],
)
def test_run_job_turns_outcomes_into_statuses(tmp_path, monkeypatch, backend_cls, status, error):
    loaded = type("Loaded", (backend_cls,), {"default_output": expected()})
    monkeypatch.setattr(worker.backends, "load", lambda name: loaded)
    monkeypatch.setattr(worker, "limit_cpus", lambda threads: [0])
    np.save(tmp_path / "expected.npy", expected())
    job = {
        "cell": CELL.to_dict(),
        "settings": settings().to_dict(),
        "record": new_record(CELL, "run"),
        "expected_path": str(tmp_path / "expected.npy"),
        "phase": "cold",
    }
    result = tmp_path / "result.json"
    worker.run_job(job, result)
    record = json.loads(result.read_text())
    assert record["status"] == status
    assert record["error"] == error
    assert record["peak_host_rss_bytes"] > 0
