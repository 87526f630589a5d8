"""The parent side with a stand-in worker: every way a worker can end becomes a status."""

import sys
import time
from pathlib import Path

import pytest

from bench import backends
from bench.matrix.cells import Cell
from bench.matrix.profiles import settings_for
from bench.parent.runner import Runner
from bench.results.record import Status
from bench.results.store import read_results

FAKE_WORKER = [sys.executable, str(Path(__file__).with_name("fake_worker.py"))]
CELL = Cell("mlp", "torch-eager", "infer", "cpu", 2, "quick")


def make_runner(tmp_path, timeout_s=60.0):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    settings = settings_for("quick", timeout_s=timeout_s, threads=1)
    return Runner(run_dir, "run-1", settings, worker=FAKE_WORKER)


@pytest.fixture(autouse=True)
def frameworks_installed(monkeypatch):
    # The runner skips cells whose framework is missing; these tests are about workers.
    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)


def run_one(tmp_path, monkeypatch, behaviour, **kw):
    monkeypatch.setenv("FAKE_WORKER", behaviour)
    runner = make_runner(tmp_path, **kw)
    [result] = runner.run([CELL])
    assert read_results(runner.run_dir / "cells.jsonl") == ([result], [])
    return result


def test_ok_worker_result_is_appended(tmp_path, monkeypatch):
    result = run_one(tmp_path, monkeypatch, "ok")
    assert result.status is Status.OK
    assert result.steady.samples_ms == [1.0, 2.0]
    assert result.process.worker_exit_code == 0
    assert result.process.wall_s > 0
    assert result.process.output_tail == []
    assert result.process.log == "logs/000-mlp-torch-eager-infer-b2.log"
    assert (tmp_path / "run" / result.process.log).is_file()


def test_crash_keeps_the_last_lines_of_stderr(tmp_path, monkeypatch):
    result = run_one(tmp_path, monkeypatch, "crash")
    assert result.status is Status.FAILED
    assert result.error == "worker exited with code 3: RuntimeError: boom in the kernel"
    tail = result.process.output_tail[-2:]
    assert tail == ["loading the model", "RuntimeError: boom in the kernel"]


def test_segfault_is_failed_with_the_signal(tmp_path, monkeypatch):
    result = run_one(tmp_path, monkeypatch, "segv")
    assert result.status is Status.FAILED
    assert result.error.startswith("worker died of SIGSEGV")


def test_sigkill_is_oom_only_when_the_oom_killer_sent_it(tmp_path, monkeypatch):
    # Nothing here runs out of memory: the kernel's OOM counters stay where they were.
    result = run_one(tmp_path, monkeypatch, "killed")
    assert result.status is Status.FAILED
    assert result.error.startswith("worker killed by SIGKILL (not by the out-of-memory killer")


def test_sigkill_with_a_moving_oom_counter_is_oom(tmp_path, monkeypatch):
    from bench.parent import cell_task

    calls = iter(range(1000))  # every read finds one more kill: the killer was at work
    monkeypatch.setattr(cell_task, "oom_kills", lambda: (next(calls), None))
    result = run_one(tmp_path, monkeypatch, "killed")
    assert result.status is Status.OOM
    assert "out-of-memory killer" in result.error


def test_worker_without_result_is_failed(tmp_path, monkeypatch):
    result = run_one(tmp_path, monkeypatch, "silent")
    assert result.status is Status.FAILED
    assert "without writing a result" in result.error


def test_an_unreadable_worker_result_is_a_failure_not_a_crash(tmp_path, monkeypatch):
    result = run_one(tmp_path, monkeypatch, "garbage")
    assert result.status is Status.FAILED
    assert "unreadable result" in result.error and "samples_ms" in result.error


def test_timeout_kills_the_process_group_and_keeps_what_was_measured(tmp_path, monkeypatch):
    pidfile = tmp_path / "grandchild.pid"
    monkeypatch.setenv("FAKE_WORKER_PIDFILE", str(pidfile))
    start = time.monotonic()
    result = run_one(tmp_path, monkeypatch, "hang", timeout_s=3.0)
    assert time.monotonic() - start < 30
    assert result.status is Status.TIMEOUT
    assert "3 s timeout" in result.error
    assert result.first_call.first_call_s == 1.5
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while is_running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(grandchild), "the worker's own child outlived the timeout"


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait a while for init to reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "zombie" not in state


def test_missing_framework_is_skipped_without_a_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(
        backends,
        "not_installed_reason",
        lambda framework: "torch not installed (pip install 'graphbench[torch]')",
    )
    monkeypatch.setenv("FAKE_WORKER", "crash")  # would fail if it were started
    runner = make_runner(tmp_path)
    [result] = runner.run([CELL])
    assert result.status is Status.SKIPPED
    assert "torch not installed" in result.error


def test_failure_does_not_stop_the_run_and_resume_runs_only_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_WORKER", "crash")
    runner = make_runner(tmp_path)
    other = Cell("mlp", "jax-jit", "infer", "cpu", 2, "quick")
    third = Cell("cnn", "tf-graph", "train", "cpu", 2, "quick")
    results = runner.run([CELL, other])
    assert [r.status for r in results] == [Status.FAILED, Status.FAILED]
    assert runner.pending([CELL, other, third]) == [third]


def test_backend_with_a_persistent_cache_gets_a_warm_start_from_the_same_cache(
    tmp_path, monkeypatch
):
    log = tmp_path / "workers.log"
    monkeypatch.setenv("FAKE_WORKER", "ok")
    monkeypatch.setenv("FAKE_WORKER_LOG", str(log))
    runner = make_runner(tmp_path)
    eager = Cell("mlp", "jax-eager", "infer", "cpu", 2, "quick")
    jit = Cell("mlp", "jax-jit", "infer", "cpu", 2, "quick")
    eager_result, jit_result = runner.run([eager, jit])

    eager_cold, jit_cold, jit_warm = (line.split() for line in log.read_text().splitlines())
    # No warm worker for an eager backend, and no persistent cache at all: for op-by-op
    # JAX it would only add writes.
    assert eager_cold[:2] == ["cold", "None"]
    assert (jit_cold[0], jit_warm[0]) == ("cold", "warm")
    assert jit_cold[1] == jit_warm[1] and jit_cold[1].endswith("/jax")  # the same cache
    # The CUDA driver's JIT cache: every cell its own, eager too; the warm worker its cold's.
    assert eager_cold[2].endswith("/cuda-jit") and jit_cold[2].endswith("/cuda-jit")
    assert eager_cold[2] != jit_cold[2] and jit_warm[2] == jit_cold[2]

    assert eager_result.warm.warm_start.startswith("no persistent compile cache")
    assert eager_result.warm.first_call_warm_s is None
    assert jit_result.first_call.first_call_s == 0.5
    assert jit_result.warm.first_call_warm_s == 0.25 and jit_result.warm.build_warm_s == 0.05
    assert "JAX persistent compilation cache" in jit_result.warm.warm_start


def test_every_cell_starts_from_an_empty_cache(tmp_path, monkeypatch):
    log = tmp_path / "workers.log"
    monkeypatch.setenv("FAKE_WORKER", "ok")
    monkeypatch.setenv("FAKE_WORKER_LOG", str(log))
    runner = make_runner(tmp_path)
    runner.run([Cell("mlp", "jax-jit", m, "cpu", 2, "quick") for m in ("infer", "train")])
    cold = [line.split()[1] for line in log.read_text().splitlines() if line.startswith("cold")]
    assert len(cold) == 2 and cold[0] != cold[1]


def test_expected_output_is_computed_once_per_block(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_WORKER", "ok")
    runner = make_runner(tmp_path)
    runner.run([CELL, Cell("mlp", "jax-jit", "infer", "cpu", 2, "quick")])
    assert [p.name for p in (runner.run_dir / "expected").iterdir()] == [
        "mlp-quick-b2-infer-seed0.npz"
    ]


def test_no_cell_starts_after_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_WORKER", "ok")
    runner = make_runner(tmp_path)
    runner.deadline = time.monotonic() - 1  # a spent budget: what gpu-check stops at
    assert runner.run([CELL]) == [] and runner.pending([CELL]) == [CELL]


def test_lazy_references_are_computed_only_for_cells_that_start(tmp_path, monkeypatch):
    """lazy_references (gpu-check): a block's reference just before its first cell. Each
    reference sets the deadline just behind it, so the first block's cell runs and the
    second block's reference is never computed: its cell is left for resume."""
    monkeypatch.setenv("FAKE_WORKER", "ok")
    runner = make_runner(tmp_path)
    runner.lazy_references = True
    computed = []

    def reference(cell):
        computed.append(cell.mode)
        path = runner.run_dir / "expected" / f"{cell.mode}.npz"
        path.write_bytes(b"stand-in")
        runner.deadline = time.monotonic() + 30  # time for this block's cell only
        return path

    monkeypatch.setattr(runner, "ensure_expected", reference)
    train = Cell("mlp", "torch-eager", "train", "cpu", 2, "quick")
    original = runner.task

    def task(cell, *paths):
        runner.deadline = time.monotonic() - 1  # the budget ends while the cell runs
        return original(cell, *paths)

    monkeypatch.setattr(runner, "task", task)
    [result] = runner.run([CELL, train])
    assert result.cell == CELL and result.ok and computed == ["infer"]
    assert runner.pending([CELL, train]) == [train]


def test_a_reference_the_deadline_stops_leaves_its_cell_for_resume(tmp_path, monkeypatch):
    """The reference's process gets only the time left (here under a second); stopped by the
    budget, its cell is not recorded as failed but left for resume."""
    monkeypatch.setenv("FAKE_WORKER", "crash")  # would fail if it were started
    runner = make_runner(tmp_path)
    runner.lazy_references = True
    runner.expected_job = [sys.executable, "-c", "import time; time.sleep(60)"]
    runner.deadline = time.monotonic() + 0.5
    start = time.monotonic()
    assert runner.run([CELL]) == [] and runner.pending([CELL]) == [CELL]
    assert time.monotonic() - start < 10


def test_workers_get_fixed_malloc_thresholds_unless_the_user_set_their_own(monkeypatch):
    from bench.parent.worker_env import STABLE_MALLOC, worker_env

    settings = settings_for("quick", threads=1)
    env = worker_env(CELL, settings, base={"PATH": "/bin"})
    assert {k: env[k] for k in STABLE_MALLOC} == STABLE_MALLOC
    assert env["OMP_NUM_THREADS"] == "1"
    own = worker_env(CELL, settings, base={"MALLOC_TRIM_THRESHOLD_": "0"})
    assert own["MALLOC_TRIM_THRESHOLD_"] == "0"
    assert "MALLOC_MMAP_THRESHOLD_" not in own  # the user's policy, not half of ours


def test_run_json_records_what_workers_get_on_top_of_the_runner_environment(monkeypatch):
    from bench.parent.worker_env import STABLE_MALLOC, set_for_workers

    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    tf_cell = Cell("mlp", "tf-graph", "infer", "cpu", 2, "quick")
    recorded = set_for_workers([CELL, tf_cell, CELL], threads=1)
    assert list(recorded) == ["torch/cpu", "tf/cpu"]
    for changed in recorded.values():
        assert {k: changed[k] for k in STABLE_MALLOC} == STABLE_MALLOC
        assert "OMP_NUM_THREADS" not in changed  # unchanged from the runner's own
        assert "PYTHONPATH" not in changed


TRAIN = Cell("mlp", "torch-compile", "train", "cpu", 2, "quick")


@pytest.mark.framework
def test_a_training_cell_gets_its_frameworks_eager_loss_after_the_warm_up(tmp_path):
    """The runner's reference process runs the eager counterpart for the first call and the
    warm-up's counted steps; the loss it returns goes into the cell's job."""
    from bench.worker.scenarios.fixed import MEASURE

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    runner = Runner(run_dir, "run-1", settings_for("quick", threads=1))  # the real worker
    steps = runner.settings.warmup_steps
    loss = runner.ensure_eager_loss(TRAIN)
    eager = Cell("mlp", "torch-eager", "train", "cpu", 2, "quick")
    assert loss == pytest.approx(float(MEASURE.eager_loss(eager, 0, steps, 1)["loss"]), rel=1e-6)
    task = runner.task(TRAIN, tmp_path / "expected.npz", None)
    assert task.job.eager_warmup_loss == loss
    names = [p.name for p in (runner.run_dir / "expected").iterdir()]
    assert names == [f"mlp-quick-b2-train-seed0-torch-eager-float32-cpu-loss{1 + steps}.npz"]
    assert (
        runner.ensure_eager_loss(Cell("mlp", "torch-compile", "infer", "cpu", 2, "quick")) is None
    )


def test_a_stand_in_worker_gets_no_eager_loss(tmp_path):
    assert make_runner(tmp_path).ensure_eager_loss(TRAIN) is None


def test_an_eager_loss_that_cannot_be_computed_leaves_the_finite_check(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    failing = (sys.executable, "-c", "import sys; sys.exit(3)")
    runner = Runner(run_dir, "run-1", settings_for("quick", threads=1), expected_job=failing)
    assert runner.ensure_eager_loss(TRAIN) is None
    assert runner.task(TRAIN, tmp_path / "expected.npz", None).job.eager_warmup_loss is None
    assert list((run_dir / "logs").glob("*-expected.log"))  # why, for the reader
