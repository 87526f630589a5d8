"""The time a run has left: from the expected cost of each remaining cell (earlier runs on
this machine, else bench.matrix.cost's prior), learning how far off each source is."""

from __future__ import annotations

import json

import pytest

from bench import __main__ as cli
from bench.matrix import cost
from bench.matrix.cells import Cell
from bench.matrix.profiles import settings_for
from bench.parent import eta
from bench.results.store import load_run
from tests.fakes import with_stand_in_worker

SETTINGS = settings_for("quick", threads=2)
EAGER = Cell("cnn", "torch-eager", "train", "cpu", 32, "quick")
COMPILE = Cell("cnn", "torch-compile", "train", "cpu", 32, "quick")


def test_a_compiling_cell_costs_more_of_the_estimate_than_an_eager_one():
    left = eta.Eta([EAGER, COMPILE], SETTINGS, {})
    assert left.basis() == "2 from estimates"
    assert left.remaining_s() == pytest.approx(
        cost.prior_s(EAGER, SETTINGS) + cost.prior_s(COMPILE, SETTINGS)
    )
    left.finished(COMPILE, 60.0)
    assert left.remaining_s() < cost.prior_s(COMPILE, SETTINGS)  # the big one is done


def test_the_estimate_learns_how_far_off_its_source_is():
    cells = [Cell("mlp", "torch-eager", "infer", "cpu", b, "quick") for b in (1, 2, 3)]
    known = {c.workload(): 10.0 for c in cells}
    left = eta.Eta(cells, SETTINGS, known)
    assert left.basis() == "3 from earlier runs" and left.remaining_s() == 30.0
    left.finished(cells[0], 20.0)  # this run is twice as slow as the earlier ones
    assert left.remaining_s() == pytest.approx(40.0)


def test_history_is_this_machines_earlier_runs_with_the_same_settings(tmp_path, monkeypatch):
    with_stand_in_worker(monkeypatch)
    argv = ["run", "--models", "mlp", "--backends", "torch-eager,jax-jit", "--modes", "infer",
            "--out-dir", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    (run_dir,) = tmp_path.iterdir()
    run = load_run(run_dir)
    env, settings = run.meta.environment, run.meta.settings
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{")  # skipped: this is only an estimate
    known = eta.history(tmp_path, env.host, env.cpu_model, settings)
    assert known == {r.cell.workload(): r.process.wall_s for r in run.results}
    assert eta.history(tmp_path, "elsewhere", env.cpu_model, settings) == {}
    other = settings_for("quick", threads=1, timeout_s=99.0)
    assert eta.history(tmp_path, env.host, env.cpu_model, other) == {}
    # A second run starts from the first one's times, and records what it estimated.
    assert cli.main(argv) == 0
    second = max(p for p in tmp_path.iterdir() if p.name != "broken")
    assert json.loads((second / "run.json").read_text())["estimated_s"] == pytest.approx(
        sum(known.values()), abs=0.06
    )


@pytest.mark.parametrize(
    "seconds, text", [(0, "0 s"), (42.4, "42 s"), (150, "2 min"), (3900, "1 h 05 min")]
)
def test_clock_text(seconds, text):
    assert eta.clock_text(seconds) == text
