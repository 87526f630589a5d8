"""Comparing two runs: bootstrap intervals, verdicts, and the planted changes in compare_b."""

from __future__ import annotations

import pytest
from markupsafe import escape

from bench import __main__ as cli
from bench.analysis.compare import FASTER, SLOWER, UNCHANGED, compare_runs, gate_failures, verdict
from bench.results.store import load_run
from tests.report_fixtures import CPU_RUN, RUN_B
from tests.stored_runs import copy_run, copy_with_schema_version


@pytest.mark.parametrize(
    "ratio, low, high, expected",
    [
        (1.30, 1.28, 1.32, SLOWER),
        (1.03, 1.01, 1.05, UNCHANGED),  # real but under the 5% threshold
        (1.20, 0.95, 1.50, UNCHANGED),  # large but within the noise
        (0.80, 0.78, 0.82, FASTER),
        (0.97, 0.96, 0.98, UNCHANGED),
    ],
)
def test_verdict_needs_both_the_interval_and_the_threshold(ratio, low, high, expected):
    assert verdict(ratio, low, high, 0.05) == expected


@pytest.fixture(scope="module")
def result():
    return compare_runs(load_run(CPU_RUN), load_run(RUN_B))


def test_planted_30_percent_slowdown_is_flagged_and_1_percent_is_not(result):
    assert [c.label for c in result.slower] == ["mlp torch-eager infer cpu b128"]
    assert result.slower[0].ratio == pytest.approx(1.30, abs=1e-4)
    assert result.slower[0].low > 1.2
    one = next(c for c in result.cells if c.label == "mlp jax-jit infer cpu b128")
    assert one.ratio == pytest.approx(1.01, abs=1e-4) and one.verdict == UNCHANGED
    assert result.faster == []
    assert all(c.verdict == UNCHANGED for c in result.cells if c not in result.slower)


def test_cells_in_one_run_and_status_changes_are_listed(result):
    assert result.only_a == ["mlp tf-eager train cpu b128"]
    assert result.only_b == ["mlp torchscript infer cpu b128"]
    changes = {(s.label, s.status_a, s.status_b) for s in result.status_changes}
    assert changes == {
        ("mlp jax-jit train cpu b128", "ok", "oom"),
        ("cnn jax-jit infer cpu b32", "failed", "ok"),
    }
    assert result.commit_a == "0123456" and result.commit_b == "0123456 (dirty)"


def test_cli_table_and_exit_status(capsys):
    assert cli.main(["compare", str(CPU_RUN), str(RUN_B)]) == 0
    out = capsys.readouterr().out
    assert "mlp torch-eager infer cpu b128" in out and "+30.0%" in out and "slower" in out
    assert "1 slower, 0 faster, 18 unchanged" in out


def test_fail_on_regression_exits_1_and_names_what_failed(capsys):
    assert cli.main(["compare", str(CPU_RUN), str(RUN_B), "--fail-on-regression"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "regression: 1 cell(s) slower" in err and "mlp torch-eager infer cpu b128" in err
    # A cell that stopped working and a cell that disappeared fail the gate too.
    assert "1 cell(s) stopped being ok: mlp jax-jit train cpu b128 (oom)" in err
    assert "1 cell(s) of A missing from B: mlp tf-eager train cpu b128" in err


def test_the_gate_passes_only_when_everything_held(tmp_path):
    a = load_run(CPU_RUN)
    assert gate_failures(compare_runs(a, a)) == []
    empty = copy_run(RUN_B, tmp_path)
    (empty / "cells.jsonl").write_text("")
    reasons = gate_failures(compare_runs(a, load_run(empty)))
    assert reasons[0] == "no cell is ok in both runs: nothing was compared"


def test_html_page_lists_the_same(tmp_path, capsys):
    out = tmp_path / "cmp.html"
    assert cli.main(["compare", str(CPU_RUN), str(RUN_B), "--html", str(out)]) == 0
    page = out.read_text()
    assert '<tr class="slower"><td>mlp torch-eager infer cpu b128</td>' in page
    assert page.count('<tr class="slower">') == 1
    assert "mlp torchscript infer cpu b128" in page and "mlp tf-eager train cpu b128" in page
    assert str(escape("worker killed by SIGKILL (the kernel's OOM killer")) in page  # v1 text
    assert "<script" not in page and 'id="fig-compare"' in page


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--threshold", "five"], "expected a fraction from 0 to below 1 like 0.05"),
        (["--threshold", "1.5"], "expected a fraction from 0 to below 1"),
        (["--resamples", "0"], "expected an integer from 1 to 1000000"),
        (["--resamples", str(10**12)], "expected an integer from 1 to 1000000"),
        (["--html", "/nonexistent/dir/cmp.html"], "directory /nonexistent/dir does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, expected):
    assert cli.main(["compare", str(CPU_RUN), str(RUN_B), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


def test_unknown_schema_version_is_refused(tmp_path, capsys):
    run = copy_with_schema_version(RUN_B, tmp_path, 3)
    assert cli.main(["compare", str(CPU_RUN), str(run)]) == 2
    assert "schema_version 3 is not supported" in capsys.readouterr().err


def test_cells_match_by_precision_too():
    """A bfloat16 cell is never compared with a float32 one: each is alone in its run."""
    from dataclasses import replace

    from bench.results.store import Run

    a = load_run(CPU_RUN)
    ok = next(r for r in a.results if r.ok)
    bf16 = replace(ok, cell=replace(ok.cell, precision="amp-bf16"))
    run_a = Run(a.path, a.meta, [ok], [])
    meta_b = replace(a.meta, identity=replace(a.meta.identity, run_id="b"))
    run_b = Run(a.path, meta_b, [bf16], [])
    result = compare_runs(run_a, run_b)
    assert result.cells == [] and result.only_a == [ok.cell.label()]
    assert result.only_b == [bf16.cell.label()] and "amp-bf16" in result.only_b[0]
