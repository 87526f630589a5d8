"""The worker's measurement logic, with a fake clock and a no-op backend."""

import json

import numpy as np
import pytest

from bench.matrix.cells import Cell
from bench.results.record import CellResult, Status
from bench.worker import main as worker
from bench.worker.scenarios.fixed import MEASURE, reference_output
from bench.worker.scenarios.fixed import inputs as fixed_inputs
from tests.fakes import FakeClock, NoopBackend, measurement, quick_settings

CELL = Cell("mlp", "torch-eager", "infer", "cpu", 4, "quick")


def expected():
    cfg, params, batch = fixed_inputs("mlp", "quick", 4, seed=0)
    return reference_output("mlp", cfg, params, batch, "infer")


def measure(backend, clock, **kw):
    m, saved = measurement(CELL, backend, {"output": expected()}, clock, **kw)
    verdict = MEASURE.measure(m)
    return verdict, m.result, saved


def test_measure_times_first_call_apart_and_collects_synced_samples():
    clock = FakeClock()
    backend = NoopBackend(clock, expected(), step_costs=(0.010, 0.020), first_cost=3.0)
    verdict, r, saved = measure(backend, clock)

    assert verdict.status is Status.OK
    assert r.build.build_s == pytest.approx(0.5)
    assert r.build.flops_per_step == 2 * 4 * (784 * 1024 + 1024 * 1024 + 1024 * 10)
    assert r.first_call.first_call_s == pytest.approx(3.0)
    assert r.parity.parity_max_rel_err == 0.0
    assert len(r.steady.warmup_ms) == 2
    # 5 samples alternating 10 and 20 ms after the 2 warm-up steps (which took 10, 20).
    assert r.steady.samples_ms == pytest.approx([10, 20, 10, 20, 10])
    # Pipelined: 5 steps (20, 10, 20, 10, 20 ms) then one sync -> 80 ms.
    assert r.steady.pipeline_steps == 5
    assert r.steady.pipeline_s == pytest.approx(0.080)
    # Every step before the pipelined loop is followed by its sync.
    steps = backend.calls[2:]
    timed = steps[: 2 * (1 + 2 + 5)]
    assert timed == ["step", "sync"] * 8
    assert steps[len(timed) :] == ["step"] * 5 + ["sync"]
    # A checkpoint after each stage: what a timeout leaves is what was measured by then.
    assert [s.first_call is not None for s in saved][:2] == [False, True]
    assert saved[-1] == r


def test_measure_min_time_extends_sampling():
    clock = FakeClock()
    backend = NoopBackend(clock, expected(), step_costs=(0.125,))  # exact in binary
    _, r, _ = measure(backend, clock, settings=quick_settings(min_samples=1, min_time_s=1.0))
    assert len(r.steady.samples_ms) == 8


def test_mismatch_is_reported_and_never_timed():
    clock = FakeClock()
    backend = NoopBackend(clock, expected() + 1.0)
    verdict, r, _ = measure(backend, clock)
    assert verdict.status is Status.MISMATCH
    assert "tolerance 0.001" in verdict.error and "off by" in verdict.error
    assert r.parity.parity_max_rel_err > 1e-3
    assert r.steady is None
    assert backend.n_steps == 1


def test_nan_output_is_a_mismatch_recorded_without_a_number():
    clock = FakeClock()
    backend = NoopBackend(clock, np.full_like(expected(), np.nan))
    verdict, r, _ = measure(backend, clock)
    assert verdict.status is Status.MISMATCH and "not finite" in verdict.error
    assert r.parity.parity_max_rel_err is None  # strict JSON has no NaN or infinity


def test_warm_phase_stops_after_the_warm_up():
    clock = FakeClock()
    backend = NoopBackend(clock, expected())
    verdict, r, _ = measure(backend, clock, phase="warm")
    assert verdict.status is Status.OK
    assert r.first_call is not None and len(r.steady.warmup_ms) == 2
    assert r.steady.samples_ms == [] and r.steady.pipeline_steps is None
    assert backend.n_steps == 1 + 2


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
        (ExplodingBackend, Status.FAILED, "RuntimeError: kernel exploded"),
        (OutOfMemoryBackend, Status.OOM, "MemoryError: kernel exploded"),
        # Installed but unable to run here: a failure to fix, never a silent skip.
        (UnavailableBackend, Status.FAILED, "no such device here"),
    ],
)
def test_run_job_turns_outcomes_into_statuses(tmp_path, monkeypatch, backend_cls, status, error):
    loaded = type("Loaded", (backend_cls,), {"default_output": expected()})
    monkeypatch.setattr(worker.backends, "load", lambda name: loaded)
    monkeypatch.setattr(worker, "limit_cpus", lambda threads: [0])
    np.savez(tmp_path / "expected.npz", output=expected())
    job = worker.Job("run", CELL, quick_settings(), str(tmp_path / "expected.npz"), "cold")
    result_file = tmp_path / "result.json"
    returned = worker.run_job(job, result_file)
    stored = CellResult.from_json(json.loads(result_file.read_text()), "result.json")
    assert stored == returned
    assert stored.status is status
    assert stored.error == error
    assert stored.memory.peak_host_rss_bytes > 0
    assert stored.setup.framework_settings == {"threads": quick_settings().threads}
    assert stored.setup.packages["numpy"] == np.__version__
