"""``python -m bench report``: bad input is one line with exit status 2."""

from __future__ import annotations

import shutil

import pytest

from bench import __main__ as cli
from tests.report_fixtures import CPU_RUN, rendered_report  # noqa: F401 (a fixture)
from tests.stored_runs import copy_with_schema_version


def error_of(capsys, *argv: str) -> str:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured
    assert len(lines) == 1 and lines[0].startswith("graphbench: error: "), lines
    return lines[0]


def test_report_writes_the_file_and_prints_its_path(rendered_report):  # noqa: F811
    assert rendered_report.stat().st_size > 100_000
    assert rendered_report.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["report", "/nonexistent/run"], "not a graphbench run"),
        (["report"], "expected at least one RUN_DIR (or --newest-in DIR)"),
        (["report", str(CPU_RUN), "-o", "/nonexistent/dir/r.html"], "does not exist"),
        (["report", str(CPU_RUN), "-o", "/tmp"], "is a directory"),
        (["report", str(CPU_RUN), str(CPU_RUN)], "the same run was given twice"),
        (["report", str(CPU_RUN), "-o", str(CPU_RUN / "cells.jsonl")], "a run's own data"),
        (["report", str(CPU_RUN), "-o", str(CPU_RUN / "run.json")], "a run's own data"),
        (["report", "--newest-in", "/nonexistent"], "no such directory"),
    ],
)
def test_bad_input(capsys, argv, expected):
    assert expected in error_of(capsys, *argv)


def test_unknown_schema_version(capsys, tmp_path):
    run = copy_with_schema_version(CPU_RUN, tmp_path, 3)
    line = error_of(capsys, "report", str(run), "-o", str(tmp_path / "r.html"))
    assert "schema_version 3 is not supported" in line


def test_no_runs_says_to_run_the_benchmark_first(capsys, tmp_path):
    line = error_of(capsys, "report", "--newest-in", str(tmp_path), "-o", str(tmp_path / "r.html"))
    assert "no finished run under" in line and "nox -s bench" in line


def test_a_run_without_cells(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(CPU_RUN / "run.json", run / "run.json")
    line = error_of(capsys, "report", str(run), "-o", str(tmp_path / "r.html"))
    assert "nothing to report: 20260102-000000-cpu has no finished cell yet" in line
