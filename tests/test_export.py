"""``python -m bench export``: pytest-benchmark JSON and storage, CSV, and report.data.

Fast tier: committed runs (tests/data) and copies of them with a planted slowdown; the
files are checked against pytest-benchmark's own Stats and read back by its own command
line, the CSV by pandas.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pytest_benchmark import __version__ as PYTEST_BENCHMARK_VERSION
from pytest_benchmark.stats import Stats

from bench import __main__ as cli
from bench import backends
from bench.analysis import export, metrics
from bench.analysis.metrics import Baselines
from bench.results.store import load_run
from report import data
from report.sections.fixed import cells_frame
from report.sections.stream import stream_frame

DATA = Path(__file__).parent / "data"
RUN_A = DATA / "report_cpu"
STREAMS = DATA / "report_dynamic"
SLOWED = {"model": "mlp", "backend": "jax-jit", "mode": "train", "batch_size": 128}
SLOWED_GROUP = "mlp train cpu b128 float32 quick"
SLOWDOWN = 1.5
TOP_LEVEL = {"machine_info", "commit_info", "benchmarks", "datetime", "version"}


def strict_json(text: str) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON")

    return json.loads(text, parse_constant=refuse)


def copy_run(src: Path, dst: Path, run_id: str, started: str, slow: bool = False, **env) -> Path:
    """A copy of a committed run under a new id and start; ``slow``: SLOWED's samples x1.5;
    ``env``: run.json environment fields to set (as another machine would have recorded)."""
    dst.mkdir()
    meta = json.loads((src / "run.json").read_text())
    meta.update(run_id=run_id, started_utc=started, finished_utc=started)
    meta["environment"].update(env)
    (dst / "run.json").write_text(json.dumps(meta))
    lines = []
    for line in (src / "cells.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["run_id"] = run_id
        if slow and all(record[k] == v for k, v in SLOWED.items()):
            record["samples_ms"] = [x * SLOWDOWN for x in record["samples_ms"]]
        lines.append(json.dumps(record))
    (dst / "cells.jsonl").write_text("\n".join(lines) + "\n")
    return dst


def run_cli(argv: list[str], capsys) -> str:
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


@pytest.fixture
def exported(tmp_path, capsys) -> dict:
    out = tmp_path / "a.json"
    run_cli(["export", str(RUN_A), "--format", "pytest-benchmark", "-o", str(out)], capsys)
    return strict_json(out.read_text())


# --- (a) the pytest-benchmark file ----------------------------------------------------


def test_the_file_has_pytest_benchmarks_structure_and_one_benchmark_per_ok_fixed_cell(exported):
    run = load_run(RUN_A)
    ok = [r for r in run.results if r.ok and r.cell.scenario == "fixed"]
    assert set(exported) == TOP_LEVEL
    assert exported["version"] == PYTEST_BENCHMARK_VERSION
    assert len(exported["benchmarks"]) == len(ok) < len(run.results)  # failures left out
    fullnames = [b["fullname"] for b in exported["benchmarks"]]
    assert len(set(fullnames)) == len(fullnames)
    for b in exported["benchmarks"]:
        assert set(b) == {"group", "name", "fullname", "params", "param", "extra_info"} | {
            "options",
            "stats",
        }


def test_stats_are_pytest_benchmarks_own_over_the_raw_samples_in_seconds(exported):
    run = load_run(RUN_A)
    by_name = {export.fullname_of(r): r for r in run.results if r.ok}
    for b in exported["benchmarks"]:
        seconds = [ms / 1e3 for ms in metrics.step_samples_ms(by_name[b["fullname"]])]
        stats = Stats()
        for s in seconds:
            stats.update(s)
        assert b["stats"] == {**stats.as_dict(), "data": seconds, "iterations": 1}


def test_group_name_and_params_say_the_cell(exported):
    (b,) = [
        b
        for b in exported["benchmarks"]
        if b["fullname"] == "graphbench::mlp/infer/cpu/b32/float32/quick::torch-compile"
    ]
    assert b["group"] == "mlp infer cpu b32 float32 quick"
    assert b["name"] == "torch-compile"
    assert b["params"] == {
        "model": "mlp",
        "mode": "infer",
        "device": "cpu",
        "batch_size": 32,
        "precision": "float32",
        "profile": "quick",
        "backend": "torch-compile",
    }
    assert b["param"] == "mlp-infer-cpu-32-float32-quick-torch-compile"
    assert b["options"]["timer"] == "perf_counter"


def test_extra_info_is_what_bench_metrics_computes(exported):
    run = load_run(RUN_A)
    baselines = Baselines([r for r in run.results if r.cell.scenario == "fixed"])
    for b in exported["benchmarks"]:
        (r,) = [r for r in run.results if r.ok and export.fullname_of(r) == b["fullname"]]
        extra = b["extra_info"]
        assert extra["run_id"] == run.run_id
        assert extra["repetition"] == 1
        assert extra["first_call_s"] == r.first_call.first_call_s
        assert extra["first_call_warm_s"] == (r.warm.first_call_warm_s if r.warm else None)
        assert extra["parity_max_rel_err"] == r.parity.parity_max_rel_err
        assert extra["parity_tolerance"] == r.parity.parity_tolerance
        assert (extra["peak_memory_bytes"], extra["peak_memory_counter"]) == metrics.peak_memory(r)
        assert extra["throughput_per_s"] == metrics.throughput_per_s(r)
        assert extra["achieved_flops_per_s"] == metrics.achieved_flops_per_s(r)
        assert extra["speedup_vs_eager"] == metrics.speedup_vs_eager(r, baselines)
        if not backends.get(r.cell.backend).static:
            assert extra["break_even_steps"] is None and "baseline" in extra["break_even_note"]
            continue
        for warm, key in ((False, "break_even"), (True, "break_even_warm")):
            expected = metrics.break_even(r, baselines.eager(r), warm=warm)
            assert extra[f"{key}_steps"] == expected.steps
            assert extra[f"{key}_note"] == expected.text()


def test_a_static_cell_that_never_pays_back_has_null_steps_and_the_reason(exported):
    notes = [
        (b["extra_info"]["break_even_steps"], b["extra_info"]["break_even_note"])
        for b in exported["benchmarks"]
    ]
    assert any(isinstance(steps, int) and steps > 0 for steps, _ in notes)
    assert all(steps is not None or note for steps, note in notes)


def test_machine_and_commit_come_from_run_json_not_this_machine(tmp_path, capsys):
    other = copy_run(
        RUN_A,
        tmp_path / "other",
        "20260105-000000-cpu",
        "2026-01-05T10:20:30.000000Z",
        host="bench-host-7",
        python="3.12.4",
        git={"commit": "feedface" * 5, "dirty": True},
    )
    out = tmp_path / "o.json"
    run_cli(["export", str(other), "--format", "pytest-benchmark", "-o", str(out)], capsys)
    written = strict_json(out.read_text())
    assert written["machine_info"]["node"] == "bench-host-7"
    assert written["machine_info"]["python_version"] == "3.12.4"
    assert written["machine_info"]["cpu"]["brand_raw"] == "Test CPU (fixture)"
    assert written["commit_info"]["id"] == "feedface" * 5
    assert written["commit_info"]["dirty"] is True
    assert written["commit_info"]["project"] == "graphbench"
    assert written["datetime"] == "2026-01-05T10:20:30+00:00"
    meta = load_run(other).meta
    assert export.machine_id(meta) == "Linux-CPython-3.12-64bit"
    assert export.save_name(meta) == f"{'feedface' * 5}_20260105_102030_uncommitted-changes"


def test_nothing_in_the_file_is_a_nan_or_an_infinity(exported):
    text = json.dumps(exported)
    assert "NaN" not in text and "Infinity" not in text


# --- (b) the acceptance test: pytest-benchmark's own command line reads the storage ----


def pytest_benchmark_cli(storage: Path, *args: str, cwd: Path) -> str:
    """pytest-benchmark's console entry point (``pytest-benchmark``, i.e. pytest_benchmark.cli
    main), run as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "--storage", f"file://{storage}", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def medians(table: str, group: str, name: str) -> dict[str, float]:
    """{source: median} of ``name``'s rows in ``group``'s table (compare --columns median)."""
    section = table.split(f"benchmark '{group}'", 1)[1].split("benchmark '", 1)[0]
    rows = re.findall(rf"^{re.escape(name)} \((\S+)\)\s+([\d,.]+)", section, re.MULTILINE)
    return {source: float(value.replace(",", "")) for source, value in rows}


def test_pytest_benchmark_compare_and_list_find_both_runs_and_the_slowdown(tmp_path, capsys):
    run_b = copy_run(
        RUN_A, tmp_path / "b", "20260103-000000-cpu", "2026-01-03T00:00:00.000000Z", slow=True
    )
    storage = tmp_path / "storage"
    printed = [
        run_cli(
            ["export", str(run), "--format", "pytest-benchmark", "--storage", str(storage)], capsys
        )
        for run in (RUN_A, run_b)
    ]
    files = sorted(storage.glob("*/*.json"))
    assert [f.parent.name for f in files] == ["Linux-CPython-3.11-64bit"] * 2
    assert [f.name[:5] for f in files] == ["0001_", "0002_"]
    assert [p.strip() for p in printed] == [str(f) for f in files]

    listed = pytest_benchmark_cli(storage, "list", cwd=tmp_path).split()
    assert listed == [str(f) for f in files]

    table = pytest_benchmark_cli(
        storage, "compare", "--columns", "median", "--group-by", "group", cwd=tmp_path
    )
    slowed = medians(table, SLOWED_GROUP, "jax-jit")
    unchanged = medians(table, SLOWED_GROUP, "torch-eager")
    assert len(slowed) == len(unchanged) == 2  # one row per run
    (a, b) = (slowed[s] for s in sorted(slowed))
    assert b / a == pytest.approx(SLOWDOWN, rel=1e-3)
    (a, b) = (unchanged[s] for s in sorted(unchanged))
    assert b == a


def test_a_run_already_in_the_storage_is_not_saved_twice(tmp_path, capsys):
    storage = tmp_path / "storage"
    argv = ["export", str(RUN_A), "--format", "pytest-benchmark", "--storage", f"file://{storage}"]
    first = run_cli(argv, capsys)
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 0 and captured.out == first
    assert "not saved again" in captured.err
    assert len(list(storage.glob("*/*.json"))) == 1


# --- (c) CSV --------------------------------------------------------------------------


def test_csv_has_one_row_per_cell_of_the_reports_frame_and_round_trips(tmp_path, capsys):
    run_b = copy_run(RUN_A, tmp_path / "b", "20260103-000000-cpu", "2026-01-03T00:00:00Z")
    out = tmp_path / "cells.csv"
    run_cli(["export", str(RUN_A), str(run_b), "--format", "csv", "-o", str(out)], capsys)
    cells = cells_frame([load_run(RUN_A), load_run(run_b)])
    read = pd.read_csv(out)
    assert len(read) == len(cells) == 48
    assert list(read.columns) == list(data.csv_frame(cells).columns)
    assert {"break_even_steps", "break_even_note", "samples_ms"} <= set(read.columns)
    assert "break_even" not in read.columns
    for column in ("median_ms", "throughput_per_s", "vs_eager", "memory_bytes"):
        assert read[column].equals(cells[column].astype(float)) or all(
            (math.isnan(x) and math.isnan(y)) or x == y
            for x, y in zip(read[column], cells[column], strict=True)
        )
    assert list(read["backend"]) == [str(b) for b in cells["backend"]]
    samples = [data.split_list(v) for v in read["samples_ms"]]
    assert samples == [list(map(float, s)) for s in cells["samples_ms"]]
    again = data.read_cells_csv(out)
    assert list(again["samples_ms"]) == samples
    steps = [b.value() if b is not None else math.nan for b in cells["break_even"]]
    assert all(
        (math.isnan(x) and math.isnan(y)) or x == y
        for x, y in zip(read["break_even_steps"], steps, strict=True)
    )


def test_list_columns_are_joined_so_a_csv_cell_holds_them(tmp_path):
    frame = pd.DataFrame({"samples_ms": [[0.1, 2.0, 1e-7], []], "other": ["a,b", "c"]})
    flat = data.csv_frame(frame)
    assert list(flat["samples_ms"]) == ["0.1;2.0;1e-07", ""]
    path = tmp_path / "x.csv"
    path.write_text(data.cells_csv(frame))
    back = data.read_cells_csv(path)
    assert list(back["samples_ms"]) == [[0.1, 2.0, 1e-7], []]
    assert list(back["other"]) == ["a,b", "c"]


# --- (d) the notebook entry point -----------------------------------------------------


def test_load_cells_is_the_reports_frame():
    expected = cells_frame([load_run(RUN_A)])
    pd.testing.assert_frame_equal(data.load_cells(RUN_A), expected)
    pd.testing.assert_frame_equal(data.load_cells(str(RUN_A)), expected)


def test_load_streams_is_the_stream_sections_frame():
    pd.testing.assert_frame_equal(data.load_streams(STREAMS), stream_frame([load_run(STREAMS)]))


def test_every_column_of_load_cells_is_documented():
    undocumented = set(data.load_cells(RUN_A).columns) - set(data.CELL_COLUMNS)
    assert not undocumented, f"add these to report.data.CELL_COLUMNS: {sorted(undocumented)}"


# --- missing extras: one line naming the extra ----------------------------------------


def test_without_pytest_benchmark_the_export_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pytest_benchmark", None)
    out = tmp_path / "a.json"
    code = cli.main(["export", str(RUN_A), "--format", "pytest-benchmark", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "pytest_benchmark is missing" in err[0] and "graphbench[report]" in err[0]
    assert not out.exists()


def test_without_pandas_the_csv_export_names_the_extra(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "report" or m.startswith("report.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pandas", None)
    out = tmp_path / "c.csv"
    code = cli.main(["export", str(RUN_A), "--format", "csv", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "pandas is missing" in err[0] and "graphbench[report]" in err[0]
    assert not out.exists()
