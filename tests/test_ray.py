"""``--executor ray``: the same cells as the local executor, from a local Ray instance; a
task that dies is a failed cell that ``resume`` runs again. Ray is the ``ray`` extra,
installed by ``nox -s tests``; the fast tier checks only the one-line error without it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from bench import __main__ as cli
from bench import backends
from bench.matrix.cells import Cell
from bench.matrix.profiles import settings_for
from bench.parent.runner import Runner
from bench.results.record import Status
from bench.results.store import load_run
from tests.fakes import FAKE_WORKER

MATRIX = ["--models", "mlp,cnn", "--backends", "torch-eager,jax-jit,tf-graph",
          "--modes", "infer,train"]  # fmt: skip


def test_without_ray_the_executor_is_one_line_naming_the_extra(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    assert cli.main(["run", "--models", "mlp", "--executor", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'graphbench[ray]'" in err


def run_cli(tmp_path, name: str, *extra: str):
    out = tmp_path / name
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", *MATRIX, "--out-dir", str(out), *extra],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return load_run(done.stdout.strip().splitlines()[-1])


@pytest.mark.e2e
@pytest.mark.slow
def test_ray_runs_a_real_matrix_with_the_cells_of_the_local_executor(tmp_path):
    local = run_cli(tmp_path, "local")
    on_ray = run_cli(tmp_path, "ray", "--executor", "ray")
    assert len(local.results) == len(on_ray.results) == 12
    assert {r.cell.key() for r in on_ray.results} == {r.cell.key() for r in local.results}
    for run, executor in ((local, "local"), (on_ray, "ray")):
        assert [r.cell.label() for r in run.results if not r.ok] == []
        assert all(r.process.executor == executor and r.setup.host for r in run.results)


@pytest.mark.e2e
def test_a_ray_task_killed_mid_cell_is_failed_and_resume_runs_it_once(tmp_path, monkeypatch):
    from bench.parent.executors.ray_cluster import RayExecutor

    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)
    monkeypatch.setenv("FAKE_WORKER", "kill-parent-once")  # reaches the Ray workers
    monkeypatch.setenv("FAKE_WORKER_MARKER", str(tmp_path / "killed-once"))
    cells = [Cell("mlp", "torch-eager", "infer", "cpu", b, "quick") for b in (1, 2, 3)]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "schema_version": 2,
                "run_id": "run",
                "started_utc": "2026-11-30T00:00:00Z",
                "command": "test",
                "settings": settings_for("quick", threads=1).to_dict(),
                "matrix": [c.to_dict() for c in cells],
            }
        )
    )
    settings = settings_for("quick", threads=1, timeout_s=120.0)

    def runner() -> Runner:
        return Runner(run_dir, "run", settings, matrix=cells, executor=RayExecutor(),
                      worker=FAKE_WORKER)  # fmt: skip

    first = runner()
    first.run(first.pending(cells))
    lost = [r for r in load_run(run_dir).results if r.status is not Status.OK]
    assert len(lost) == 1 and lost[0].process.lost and lost[0].process.executor == "ray"
    assert lost[0].error.startswith("Ray lost the task:"), lost[0].error

    again = runner()
    assert again.pending(cells) == [lost[0].cell]  # resume runs the lost cell again...
    again.run(again.pending(cells))
    run = load_run(run_dir)
    assert sorted(r.cell.batch_size for r in run.results) == [1, 2, 3]  # ...once each
    assert all(r.status is Status.OK for r in run.results)
    assert any("measured again" in note for note in run.notes)
