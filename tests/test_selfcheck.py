"""selfcheck: graphbench's measurement set beside each framework's own timer.

The fast tier checks the parent's logic with a stand-in for the child process (verdicts,
exit codes, the table, bad input) and the interleaving with the no-op backend; the
``framework`` tests run each framework's referee on a real (small) model once. No test
asserts a timing ratio: these machines are shared, and a ratio is a measurement.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench import __main__ as cli
from bench import backends
from bench.backends.base import timeit_per_call
from bench.cli import build_parser
from bench.cli import selfcheck as sc
from bench.matrix.cells import Cell
from bench.results.record import Outcome
from bench.worker.scenarios.fixed import MEASURE, Checks, first_call
from bench.worker.selfcheck import interleave
from tests.fakes import FakeClock, NoopBackend, measurement, quick_settings

MLP = Cell("mlp", "torch-eager", "infer", "cpu", 128, "quick")


def result(ours: list[list[float]], theirs: list[list[float]], referee: str = "stand-in timer"):
    return {"referee": referee, "error": None, "graphbench_ms": ours, "referee_ms": theirs}


# --- the verdict ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs", "within"),
    [
        (1.05, 1.0, True),
        (0.95, 1.0, True),
        (1.10, 1.0, True),  # the tolerance itself is within
        (1.2, 1.0, False),  # graphbench shows the framework slower than its own timer
        (0.8, 1.0, False),  # or faster: either way the two do not agree
    ],
)
def test_a_ratio_is_within_the_tolerance_on_either_side(ours, theirs, within):
    check = sc.Check(MLP, "t", ours, theirs)
    assert check.ratio == pytest.approx(ours / theirs)
    assert check.within(0.10 + 1e-12) is within


def test_the_medians_pool_every_round():
    check = sc.check_of(MLP, result([[1.0, 3.0], [2.0]], [[4.0], [4.0, 5.0, 6.0]]))
    assert (check.graphbench_ms, check.referee_ms) == (2.0, 4.5)
    assert check.ratio == pytest.approx(2.0 / 4.5)


def test_a_child_error_or_no_samples_is_a_failure_not_a_ratio():
    failed = sc.check_of(MLP, {"referee": "t", "error": "RuntimeError: boom"})
    assert failed.failed == "RuntimeError: boom" and failed.ratio is None
    assert not failed.within(0.5)
    assert sc.check_of(MLP, result([], [[1.0]])).failed == "no samples"


@pytest.mark.parametrize(
    ("checks", "code"),
    [
        ([sc.Check(MLP, "t", 1.0, 1.0), sc.Check(MLP, "t", 1.02, 1.0)], 0),
        ([sc.Check(MLP, "t", 1.0, 1.0), sc.Check(MLP, "t", 1.5, 1.0)], 1),
        ([sc.Check(MLP, "t", 1.0, 1.0), sc.Check(MLP, "t", failed="boom")], 1),
        ([sc.Check(MLP, "t", 1.0, 1.0), sc.Check(MLP, not_checked="tf missing")], 0),
        ([sc.Check(MLP, not_checked="torch missing")], 1),  # nothing compared passes nothing
        ([], 1),
    ],
)
def test_exit_code(checks, code):
    assert sc.exit_code(checks, 0.10) == code


# --- which cells -----------------------------------------------------------------------


def parse(*argv: str):
    return build_parser().parse_args(["selfcheck", *argv])


def test_the_default_cells_are_cheap_with_one_compiled_torch_cell():
    cells = sc.planned_cells(parse())
    labels = {(c.model, c.backend) for c in cells}
    assert labels == {
        ("mlp", "torch-eager"),
        ("mlp", "torch-compile"),
        ("mlp", "jax-jit"),
        ("mlp", "tf-graph"),
        ("cnn", "torch-eager"),
        ("cnn", "jax-jit"),
        ("cnn", "tf-graph"),
    }
    assert {(c.mode, c.device, c.profile, c.precision) for c in cells} == {
        ("infer", "cpu", "quick", "float32")
    }


def test_backends_named_run_on_every_model_named():
    cells = sc.planned_cells(parse("--models", "cnn,mlp", "--backends", "torch-compile"))
    assert [(c.model, c.backend) for c in cells] == [
        ("cnn", "torch-compile"),
        ("mlp", "torch-compile"),
    ]


# --- the command, with a stand-in child --------------------------------------------------


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """The child replaced by canned results per backend; no reference is computed."""
    canned: dict[str, dict] = {}
    monkeypatch.setattr(sc, "reference_file", lambda cell, seed, directory: tmp_path / "x.npz")
    monkeypatch.setattr(
        sc, "run_child", lambda cell, settings, rounds, expected: canned[cell.backend]
    )
    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)
    return canned


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["selfcheck", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_cell_within_exits_0_and_shows_the_table(stand_in, capsys):
    stand_in["torch-eager"] = result([[1.0, 1.02]], [[1.0]], "torch.utils.benchmark")
    stand_in["jax-jit"] = result([[2.0]], [[2.1]], "timeit + jax.block_until_ready")
    code, out, err = run(capsys, "--models", "mlp", "--backends", "torch-eager,jax-jit")
    assert code == 0
    for text in ("graphbench ms", "referee ms", "ratio", "within tolerance", "referee"):
        assert text in out
    assert "mlp torch-eager infer cpu b128" in out and "1.010" in out and "yes" in out
    assert "timeit + jax.block_until_ready" in out and "0.952" in out
    assert "2 of 2 compared cells within ±10%" in out
    assert "selfcheck: mlp jax-jit infer cpu b128 (2 of 2)" in err


def test_a_ratio_outside_exits_1_and_says_no(stand_in, capsys):
    stand_in["torch-eager"] = result([[1.3]], [[1.0]])
    code, out, _ = run(capsys, "--models", "mlp", "--backends", "torch-eager", "--tolerance", "20%")
    assert code == 1
    assert "1.300" in out and "no" in out and "0 of 1 compared cells within ±20%" in out


def test_a_failed_child_exits_1_and_says_why(stand_in, capsys):
    stand_in["jax-jit"] = {"referee": None, "error": "worker exited with code 1: ImportError"}
    code, out, _ = run(capsys, "--models", "mlp", "--backends", "jax-jit")
    assert code == 1
    assert "failed: worker exited with code 1: ImportError" in " ".join(out.split())


def test_a_missing_framework_is_not_checked_not_a_crash(stand_in, capsys, monkeypatch):
    stand_in["torch-eager"] = result([[1.0]], [[1.0]])
    missing = "tensorflow not installed (pip install 'graphbench[tf]')"
    monkeypatch.setattr(
        backends, "not_installed_reason", lambda framework: missing if framework == "tf" else None
    )
    code, out, _ = run(capsys, "--models", "mlp", "--backends", "torch-eager,tf-graph")
    assert code == 0
    assert "not checked: tensorflow not installed" in " ".join(out.split())
    assert "1 not checked (framework not installed)" in out


def test_result_text_is_printed_literally(stand_in, capsys):
    stand_in["torch-eager"] = {"referee": "[bold]x[/bold]", "error": "\x1b]0;owned\x07 bad"}
    code, out, _ = run(capsys, "--models", "mlp", "--backends", "torch-eager")
    assert code == 1
    assert "\x1b" not in out and "\\x1b" in out and "[bold]x[/bold]" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--models", "resnet9000"], "--models: unknown 'resnet9000'"),
        (["--backends", "torch-compile-reduce-overhead"], "cannot run on cpu"),
        (["--tolerance", "2"], "expected a fraction from 0"),
        (["--rounds", "0"], "expected an integer from 1 to 50"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(stand_in, capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("graphbench: error: ") and expected in err


def test_the_parent_imports_no_framework():
    code = (
        "import sys\n"
        "from bench.cli import build_parser, selfcheck\n"
        "a = build_parser().parse_args(['selfcheck', '--backends', 'all'])\n"
        "selfcheck.planned_cells(a)\n"
        "from bench.backends import FRAMEWORKS\n"
        "names = [p for f in FRAMEWORKS.values() for p in f.packages]\n"
        "print(sorted(m for m in names if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- the child's interleaving and the timeit referee, without a framework -----------------


def test_the_rounds_alternate_graphbench_and_the_referee():
    clock = FakeClock()
    backend = NoopBackend(clock, output=np.zeros(3), step_costs=(0.002,))
    cell = Cell("mlp", "noop", "infer", "cpu", 4, "quick")
    m, _ = measurement(cell, backend, {"output": np.zeros(3)}, clock, quick_settings())
    order: list[str] = []

    def referee(step, inputs, min_time_s):
        order.append(f"referee after {backend.n_steps} steps")
        assert step == backend.step
        assert min_time_s == pytest.approx(5 * 0.002)  # as long as the 5 samples took
        return [0.003, 0.001]

    rounds = interleave(m, data=(None, None), checks=Checks(m), rounds=3, referee=referee)
    assert not isinstance(rounds, Outcome)
    assert len(rounds.graphbench_ms) == len(rounds.referee_ms) == 3
    assert rounds.referee_ms == [[3.0, 1.0]] * 3
    for samples in rounds.graphbench_ms:
        assert samples == pytest.approx([2.0] * len(samples)) and samples
    # Each round: warm-up, samples and pipelined steps (graphbench's steady state), then the
    # referee: its step count grows between referee calls.
    counts = [int(text.split()[2]) for text in order]
    assert counts[0] > 0 and counts[0] < counts[1] < counts[2]


def test_timeit_per_call_covers_the_time_asked_in_blocks():
    start = time.perf_counter()
    per_call = timeit_per_call(lambda: sum(range(100)), min_time_s=0.05)
    assert time.perf_counter() - start >= 0.05
    assert len(per_call) > 1 and all(0 < s < 0.01 for s in per_call)


# --- each framework's referee on a real model ----------------------------------------


REFEREES = ["torch-eager", "jax-jit", "tf-graph"]


@pytest.mark.framework
@pytest.mark.parametrize("name", REFEREES)
def test_each_referee_times_a_real_step_interleaved_with_graphbench(backend_class, name):
    cls = backend_class(name)
    cell = Cell("mlp", name, "infer", "cpu", 8, "quick")
    expected = MEASURE.reference(cell, 0)
    settings = quick_settings(min_time_s=0.05, max_samples=50)
    m, _ = measurement(cell, cls(), expected, time.perf_counter, settings)
    checks = Checks(m)
    data, mismatch = first_call(m, checks)
    assert mismatch is None
    per_call = cls.standard_timer(m.backend.step, data, 0.05)
    assert per_call and all(s > 0 for s in per_call)
    assert cls.referee
    rounds = interleave(m, data, checks, rounds=2, referee=cls.standard_timer)
    assert not isinstance(rounds, Outcome)
    for side in (rounds.graphbench_ms, rounds.referee_ms):
        assert len(side) == 2 and all(samples and min(samples) > 0 for samples in side)


@pytest.mark.framework
def test_the_child_process_compares_a_real_cell(tmp_path: Path):
    """The whole child, as the command starts it: pinned, configured, both sides timed."""
    if backends.not_installed_reason("torch"):
        pytest.fail("torch is not installed; the framework tier needs every framework")
    cell = Cell("mlp", "torch-eager", "infer", "cpu", 8, "quick")
    settings = quick_settings(min_time_s=0.05, max_samples=50, threads=1)
    expected = sc.reference_file(cell, settings.seed, tmp_path)
    found = sc.run_child(cell, settings, 2, expected)
    assert found["error"] is None, found
    assert found["referee"] == "torch.utils.benchmark.Timer.blocked_autorange"
    check = sc.check_of(cell, found)
    assert check.failed is None and check.ratio is not None and check.ratio > 0
