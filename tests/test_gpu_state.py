"""The GPU's state while a cell takes its samples (bench.nvml, bench.worker.window), the
machine's GPU facts in run.json, CUDA-graph replays observed (bench.backends.torch_cudagraphs)
and the driver's JIT cache per cell: with a fake NVML and fake counters here; the tests
marked ``gpu`` prove the same on a real GPU and skip without one."""

from __future__ import annotations

import os

import pytest

from bench import backends, nvml
from bench.analysis import metrics
from bench.backends import torch_cudagraphs
from bench.matrix.cells import Cell
from bench.parent import environment
from bench.results.record import CellResult, Gpu, Outcome, Passes, Status, Steady
from bench.worker.contention import CpuWatch
from bench.worker.main import gpu_of
from bench.worker.window import SampleWindow
from tests import fake_nvml
from tests.fakes import FakeClock

HW_SLOWDOWN, SW_POWER_CAP, IDLE = 0x8, 0x4, 0x1


@pytest.fixture
def fake(monkeypatch):
    return fake_nvml.install(monkeypatch)


def sampler(clock: FakeClock) -> nvml.ProcessSampler:
    # The thread would wake only after a minute: every sample here is taken by hand.
    return nvml.ProcessSampler(every_s=60.0, clock=clock)


def test_the_throttle_table_is_built_once_and_names_each_bit_once(fake):
    table = nvml.throttle_table(fake)
    listed = fake.listed
    for mask in (0, IDLE | SW_POWER_CAP, 0x2, HW_SLOWDOWN | 0x20):
        nvml._throttle_names(fake, mask)
    assert fake.listed == listed  # reading masks walks no attributes
    names = dict(table)
    assert names[0x2] == "ApplicationsClocksSetting"  # not also its alias UserDefinedClocks
    assert IDLE not in names and 0 not in names  # GpuIdle, None and All are no reasons
    assert nvml._throttle_names(fake, IDLE | SW_POWER_CAP | HW_SLOWDOWN) == [
        "HwSlowdown",
        "SwPowerCap",
    ]


def test_the_sampler_keeps_clocks_power_and_energy_of_the_samples_only(fake):
    clock = FakeClock()
    with sampler(clock) as s:
        fake.throttle_mask = HW_SLOWDOWN  # during compilation, say
        s.sample()
        fake.sm_clock, fake.power_mw, fake.utilization = (
            1980,
            650_000,
            fake_nvml.Utilization(97, 41),
        )
        fake.throttle_mask = SW_POWER_CAP | IDLE
        s.start_window()
        for sm in (1965, 1755):
            clock.advance(0.1)
            fake.sm_clock, fake.energy_mj = sm, fake.energy_mj + 65_000
            s.sample()
        clock.advance(0.1)
        fake.energy_mj += 65_000
        s.stop_window()
        fake.sm_clock, fake.throttle_mask = 345, IDLE  # idle again: not the samples'
        s.sample()
    w = s.window
    assert w is not None
    # start, two samples, stop: an idle reading before or after is none of them
    assert w.sm_clock_mhz == [1980, 1965, 1755, 1755]
    assert w.memory_clock_mhz == [2619] * 4 and w.power_w == [650.0] * 4
    assert w.utilization_pct == [97] * 4 and w.memory_utilization_pct == [41] * 4
    assert w.energy_mj == 195_000 and w.seconds == pytest.approx(0.3)
    assert w.throttle_reasons == {"SwPowerCap"}
    assert s.throttle_reasons_outside == {"HwSlowdown"}
    assert s.throttle_reasons == {"HwSlowdown", "SwPowerCap"}


def test_a_gpu_without_an_energy_counter_has_no_energy(fake):
    fake.energy_mj = None
    with sampler(FakeClock()) as s:
        s.start_window()
        s.stop_window()
    assert s.window is not None and s.window.energy_mj is None
    assert s.window.sm_clock_mhz == [345, 345]


def test_the_sample_window_starts_and_stops_the_gpu_sampler(fake):
    clock = FakeClock()
    with sampler(clock) as s:
        window = SampleWindow(CpuWatch(sorted(os.sched_getaffinity(0))), None, s)
        window.start()
        fake.energy_mj += 12_000
        clock.advance(1.5)
        window.stop()
    assert s.window is not None and s.window.energy_mj == 12_000
    assert s.window.seconds == pytest.approx(1.5)


def cell() -> Cell:
    return Cell(
        scenario="fixed",
        model="mlp",
        profile="quick",
        backend="torch-compile-reduce-overhead",
        mode="infer",
        device="cuda",
        batch_size=8,
    )


def test_the_record_holds_the_samples_readings_and_energy_per_step_is_derived(fake):
    clock = FakeClock()
    start = nvml.state()
    with sampler(clock) as s:
        fake.throttle_mask = HW_SLOWDOWN
        s.sample()
        fake.sm_clock, fake.throttle_mask = 1980, SW_POWER_CAP
        s.start_window()
        fake.energy_mj += 5_000
        clock.advance(0.5)
        s.stop_window()
    g = gpu_of(start, s)
    assert g is not None
    assert g.gpu_sm_clock_mhz is None  # the idle clock at worker start is no longer written
    assert (g.gpu_max_sm_clock_mhz, g.gpu_app_memory_clock_mhz) == (1980, 3201)
    assert g.gpu_sm_clock_samples_mhz == [1980, 1980]
    assert g.gpu_throttle_reasons_samples == ["SwPowerCap"]
    assert g.gpu_throttle_reasons_outside_samples == ["HwSlowdown"]
    assert g.gpu_samples_energy_mj == 5_000 and g.gpu_samples_window_s == pytest.approx(0.5)
    steady = Steady(samples_ms=[1.0] * 10, pipeline_steps=40, pipeline_s=0.04)
    r = CellResult("run", cell(), outcome=Outcome(Status.OK), steady=steady, gpu=g)
    back = CellResult.from_json(r.to_json(), "cells.jsonl:1")
    assert back.gpu == g
    assert metrics.energy_per_step_j(back) == pytest.approx(0.1)  # 5 J over 50 steps
    spread = metrics.gpu_during_samples(back)
    assert spread["SM clock MHz"] == metrics.Spread(1980, 1980, 1980)
    assert "power W" in spread


def test_energy_per_step_needs_an_energy_counter_and_steps():
    steady = Steady(samples_ms=[1.0], pipeline_steps=3, pipeline_s=0.1)
    r = CellResult("run", cell(), outcome=Outcome(Status.OK), steady=steady, gpu=Gpu())
    assert metrics.energy_per_step_j(r) is None and metrics.gpu_during_samples(r) == {}


def test_a_streams_energy_per_step_is_over_its_second_pass():
    passes = Passes(steady_step_ms=[2.0] * 8)
    g = Gpu(gpu_samples_energy_mj=4_000)
    r = CellResult("run", cell(), outcome=Outcome(Status.OK), passes=passes, gpu=g)
    assert metrics.energy_per_step_j(r) == pytest.approx(0.5)


def test_an_old_gpu_record_still_loads():
    old = {
        **CellResult("run", cell(), outcome=Outcome(Status.OK)).to_json(),
        "gpu_name": "NVIDIA H200",
        "gpu_sm_clock_mhz": 345,
        "gpu_memory_clock_mhz": 2619,
        "gpu_throttle_reasons": ["SwPowerCap"],
    }
    g = CellResult.from_json(old, "cells.jsonl:1").gpu
    assert g is not None and g.gpu_sm_clock_mhz == 345 and g.gpu_sm_clock_samples_mhz == []


def test_run_json_holds_the_gpus_modes_link_capability_and_sm_count(fake, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(nvml, "cuda_sm_count", lambda bus_id: 132 if "19:00" in bus_id else None)
    found, why = environment.gpus()
    assert why is None and found is not None
    (gpu,) = found
    assert gpu["persistence_mode"] is True and gpu["compute_mode"] == "exclusive-process"
    assert gpu["mig_mode"] is False and gpu["ecc"] is True
    assert gpu["pcie_link"] == {"gen": 5, "width": 16, "max_gen": 5, "max_width": 16}
    assert gpu["compute_capability"] == "9.0" and gpu["sm_count"] == 132
    fake.sm_attribute = 66  # a MIG slice: NVML itself says
    (gpu,) = environment.gpus()[0] or []
    assert gpu["sm_count"] == 66


# --- CUDA graphs, observed ------------------------------------------------------------


class FakeGraph:
    def replay(self) -> None:
        pass


def test_replays_are_counted_per_step_once_installed():
    class Graph(FakeGraph):
        pass

    counter = torch_cudagraphs.install(Graph)
    g = Graph()
    counter.step(lambda: None)  # a warm-up step, run eagerly
    counter.step(lambda: (g.replay(), g.replay()))  # forward and backward graphs
    assert (counter.replays, counter.steps, counter.steps_replayed) == (2, 2, 1)
    assert counter.last_step_replayed is True
    # A second backend in the same process: the class is wrapped once, its tally its own.
    second = torch_cudagraphs.install(Graph)
    assert second.counter is counter.counter and second.replays == 0
    second.step(g.replay)
    assert (second.replays, counter.replays, second.steps) == (1, 3, 1)


def test_cuda_graphs_are_used_only_when_replays_were_seen_in_the_last_step():
    counter = torch_cudagraphs.StepReplays(torch_cudagraphs.ReplayCounter())
    tree = {"graphs_recorded": 1, "rerecordings": 0}
    for _ in range(3):
        counter.step(lambda: None)
    skipped = torch_cudagraphs.evidence(counter, {"cudagraph_skips": 1}, [], tree)
    assert skipped["used"] is False and skipped["skips"] == 1
    assert "TORCH_LOGS=cudagraphs" in skipped["why"][0]

    class Graph(FakeGraph):
        pass

    replaying = torch_cudagraphs.install(Graph)
    for _ in range(3):
        replaying.step(Graph().replay)
    used = torch_cudagraphs.evidence(replaying, {"cudagraph_skips": 0}, [], tree)
    assert used["used"] is True and used["replays"] == 3 and used["steps_replayed"] == 3
    assert used["graphs_recorded"] == 1 and used["why"] == []
    replaying.step(lambda: None)  # graphs recorded early, steady steps run without them
    assert torch_cudagraphs.evidence(replaying, {}, [], tree)["used"] is False


def test_inductors_tree_is_counted_node_by_node():
    class Node:
        def __init__(self, *children):
            self.children = {"f": list(children)} if children else {}

    manager = type("Manager", (), {})()
    manager.roots = {"fwd": [Node(Node(), Node())], "bwd": [Node()]}
    manager.debug_fail_counter = 2
    assert torch_cudagraphs.tree_facts(manager) == {"graphs_recorded": 4, "rerecordings": 2}
    assert torch_cudagraphs.tree_facts(None)["graphs_recorded"] == 0
    assert torch_cudagraphs.tree_facts(object())["graphs_recorded"] is None


@pytest.mark.framework  # imports PyTorch (CPU)
@pytest.mark.parametrize(
    "name, marks",
    [
        ("torch-compile-reduce-overhead", True),
        ("torch-compile-max-autotune", True),
        ("torch-compile", False),
    ],
)
def test_every_cuda_graph_mode_marks_each_step_begin(monkeypatch, name, marks):
    import torch

    calls = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: calls.append(1))
    b = backends.load(name)()
    b.device, b.mode = torch.device("cuda:0"), "infer"  # CUDA as far as the step can tell
    b._step = lambda x: x
    x = torch.zeros(2)
    for _ in range(3):
        b.step((x, x))
    assert len(calls) == (3 if marks else 0)
    if marks:  # no replay counter was installed (nothing was built): no replays seen
        report = b.cuda_graphs()
        assert report["requested"] is True and report["used"] is False


# --- the driver's JIT cache -------------------------------------------------------------


def test_every_cell_of_every_cuda_framework_gets_a_driver_jit_cache_of_its_own():
    for name, info in backends.BACKENDS.items():
        if "cuda" not in info.devices:
            continue
        env = backends.cache_env(name)
        assert env.get("CUDA_CACHE_PATH") == "{cache_dir}/cuda-jit", name
        if info.persistent_cache or info.artifact:  # its compile caches, empty at first
            assert set(env) == set(backends.framework(info.framework).cache_env), name
        else:  # an eager cell gets no compile cache but this one
            assert set(env) == {"CUDA_CACHE_PATH"}, name


# --- on a real GPU (skipped without one) ----------------------------------------------

NO_GPU = environment.cuda_unavailable_reason()
on_gpu = pytest.mark.skipif(NO_GPU is not None, reason=f"no CUDA device: {NO_GPU}")


@pytest.mark.gpu
@on_gpu
def test_a_loaded_gpu_is_sampled_at_its_working_clocks():
    framework = next(
        f for f in ("torch", "jax") if backends.not_installed_reason(f) is None
    )  # whichever CUDA framework this environment has
    cls = backends.load(backends.eager_baseline(framework))
    cls.configure("cuda", 2, "float32")
    run, _ = cls.peak_matmul("cuda", 4096, "float32", False)
    run(2)  # started, compiled, warm
    with nvml.ProcessSampler() as s:
        s.start_window()
        for _ in range(60):  # about a second and a half on an H100-class GPU
            run(10)
        s.stop_window()
    w = s.window
    assert w is not None and len(w.sm_clock_mhz) >= 3
    start = nvml.state()
    assert start is not None and start.max_sm_clock_mhz
    assert max(w.sm_clock_mhz) > 0.5 * start.max_sm_clock_mhz  # working, not idle clocks
    assert max(w.utilization_pct) > 50 and max(w.power_w) > 0
    assert w.energy_mj is None or w.energy_mj > 0
    (gpu, *_) = environment.gpus()[0] or []
    assert gpu["compute_capability"] and gpu["sm_count"] and gpu["sm_count"] > 0


@pytest.mark.gpu
@on_gpu
@pytest.mark.parametrize(
    "backend, mode",
    [
        ("torch-compile-reduce-overhead", "infer"),
        ("torch-compile-reduce-overhead", "train"),
        pytest.param("torch-compile-max-autotune", "infer", marks=pytest.mark.slow),
    ],
)
def test_cuda_graphs_are_observed_replaying(backend, mode):
    if backends.not_installed_reason("torch") is not None:
        pytest.skip("PyTorch is not installed in this environment")
    from bench.worker.scenarios.fixed import inputs

    cls = backends.load(backend)
    cls.configure("cuda", 2, "float32")
    cfg, params, batch = inputs("mlp", "quick", 8, 0)
    b = cls()
    b.build("mlp", cfg, params, mode, "cuda")
    data = b.put(batch)
    for _ in range(8):
        b.sync(b.step(data))
    report = b.cuda_graphs()
    assert report["used"] is True, report
    assert report["replays"] >= 5 and report["last_step_replayed"] is True
    assert report["graphs_recorded"] and report["graphs_recorded"] >= 1


def test_the_fixed_scenario_opens_the_gpu_window_around_its_samples_only(fake):
    """Each step uses 100 mJ: the window's energy is that of the timed and pipelined
    steps, none of the first call's or the warm-up's."""
    import numpy as np

    from bench.worker.scenarios import fixed
    from tests.fakes import NoopBackend, measurement

    class EnergyBackend(NoopBackend):
        def step(self, inputs):
            fake.energy_mj += 100
            return super().step(inputs)

    clock = FakeClock()
    backend = EnergyBackend(clock, output=np.zeros(2))
    with sampler(clock) as s:
        m, _ = measurement(cell(), backend, {"output": np.zeros(2)}, clock)
        m.watch = SampleWindow(CpuWatch(sorted(os.sched_getaffinity(0))), None, s)
        backend.step(None)  # the first call, outside the window
        assert fixed.steady_state(m, None, fixed.Checks(m)) is None  # every check passes
    steady = m.result.steady
    assert steady is not None and steady.warmup_ms and steady.pipeline_steps
    steps = len(steady.samples_ms) + steady.pipeline_steps
    assert s.window is not None and s.window.energy_mj == 100 * steps
    assert backend.n_steps == 1 + len(steady.warmup_ms) + steps


def test_the_reports_environment_gives_the_gpu_during_the_samples():
    from dataclasses import replace

    from bench.results.store import Run, load_run
    from report import envinfo
    from tests.report_fixtures import CUDA_RUN

    run = load_run(CUDA_RUN)
    g = Gpu(
        gpu_uuid="GPU-0",
        gpu_name="NVIDIA H200",
        gpu_max_sm_clock_mhz=1980,
        gpu_sm_clock_samples_mhz=[1980, 1965, 1755],
        gpu_throttle_reasons_samples=["SwPowerCap"],
        gpu_throttle_reasons_outside_samples=["HwSlowdown"],
    )
    results = [replace(r, gpu=g) for r in run.results]
    facts = dict(envinfo.describe(Run(run.path, run.meta, results, [])).facts)
    assert "max SM 1980 MHz" in facts["GPUs the cells ran on"]
    sm = facts[f"SM clock MHz during the samples ({len(results)} cells)"]
    assert sm == "cells' medians 1965 to 1965, readings 1755 to 1980"
    assert facts["clock limits during the samples"] == "SwPowerCap"
    assert facts["clock limits outside the samples only"] == "HwSlowdown"


def test_every_nvml_query_made_and_faked_exists_in_the_real_binding():
    """The fake answers only what nvidia-ml-py really has, and bench.nvml asks only that
    (the binding imports without a driver)."""
    import inspect
    import re

    real = pytest.importorskip("pynvml")
    asked = set(re.findall(r"nvml\.(nvml\w+|NVML_\w+)", inspect.getsource(nvml)))
    asked |= set(nvml.MASK_QUERIES)
    faked = {n for n in vars(fake_nvml.FakeNvml) if n.startswith(("nvml", "NVML_"))}
    assert len(asked) > 20
    missing = sorted(n for n in asked | faked if not hasattr(real, n))
    assert not missing, f"not in nvidia-ml-py: {missing}"
