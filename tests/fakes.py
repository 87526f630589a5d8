"""Test doubles: a fake clock, a no-op backend and a measurement context, so the harness
runs without a framework."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.backends.base import Backend
from bench.matrix.cells import Cell
from bench.matrix.profiles import Settings, settings_for
from bench.results.record import CellResult
from bench.worker.scenarios.base import Measurement


class FakeClock:
    """A clock that only moves when told to: ``advance`` or a step's ``cost``."""

    def __init__(self, start: float = 100.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class NoopBackend(Backend):
    """Returns a fixed output; each step costs ``step_costs[i]`` seconds of the fake clock.

    It records the order of calls, so tests can check that every timed step is synced.
    """

    name = "noop"
    framework = "numpy"
    default_output: np.ndarray | None = None  # for a worker that constructs it with no arguments

    def __init__(
        self,
        clock: FakeClock | None = None,
        output: np.ndarray | None = None,
        step_costs=(0.01,),
        first_cost=1.0,
        build_cost=0.5,
        sync_cost=0.0,
    ):
        self.clock = clock or FakeClock()
        self.output = self.default_output if output is None else output
        self.step_costs = list(step_costs)
        self.first_cost = first_cost
        self.build_cost = build_cost
        self.sync_cost = sync_cost
        self.calls: list[str] = []
        self.n_steps = 0

    @classmethod
    def configure(cls, device, threads, precision) -> dict[str, Any]:
        return {"threads": threads}

    @classmethod
    def framework_version(cls) -> str:
        return "0"

    @classmethod
    def unavailable_reason(cls, device: str) -> str | None:
        return None

    @classmethod
    def cuda_build(cls) -> str | None:
        return None

    def build(self, model, cfg, params, mode, device, strategy="exact", precision="float32"):
        self.calls.append("build")
        self.clock.advance(self.build_cost)

    def put(self, batch):
        self.calls.append("put")
        return batch

    def step(self, inputs):
        self.calls.append("step")
        if self.n_steps == 0:
            cost = self.first_cost
        else:
            cost = self.step_costs[(self.n_steps - 1) % len(self.step_costs)]
        self.n_steps += 1
        self.clock.advance(cost)
        return self.output

    def sync(self, out) -> None:
        self.calls.append("sync")
        self.clock.advance(self.sync_cost)

    def to_numpy(self, out) -> np.ndarray:
        return np.asarray(out)

    def export_params(self) -> dict[str, np.ndarray]:
        return {}


def quick_settings(**overrides: Any) -> Settings:
    """Short measurement loops for tests (2 warm-up steps, 5 samples, no minimum time)."""
    base = dict(warmup_steps=2, warmup_min_s=0.0, min_samples=5, min_time_s=0.0, max_samples=100)
    return settings_for("quick", **{**base, **overrides})


def measurement(
    cell: Cell,
    backend: Backend,
    expected: dict[str, np.ndarray],
    clock: FakeClock,
    settings: Settings | None = None,
    phase: str = "cold",
    tolerance: float = 1e-3,
) -> tuple[Measurement, list[CellResult]]:
    """A worker's measuring context whose checkpoints go to a list, not a file."""
    saved: list[CellResult] = []
    m = Measurement(
        cell=cell,
        settings=settings or quick_settings(),
        backend=backend,
        expected=expected,
        tolerance=tolerance,
        phase=phase,
        clock=clock,
        save=saved.append,
        result=CellResult(run_id="run", cell=cell),
    )
    return m, saved


FAKE_WORKER = [sys.executable, str(Path(__file__).with_name("fake_worker.py"))]


def with_stand_in_worker(monkeypatch: Any, behaviour: str = "ok") -> None:
    """The CLI's runs use the stand-in worker (tests/fake_worker.py); probes and frameworks
    are taken as there."""
    from bench import backends
    from bench.cli import run as run_cmd
    from bench.parent import probes as probe
    from bench.parent.runner import Runner

    monkeypatch.setattr(probe, "check", lambda frameworks, pythons, device: {})
    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)
    monkeypatch.setattr(run_cmd, "Runner", lambda *a, **k: Runner(*a, worker=FAKE_WORKER, **k))
    monkeypatch.setenv("FAKE_WORKER", behaviour)
