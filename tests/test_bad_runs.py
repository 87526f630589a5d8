"""The last bad inputs, by class: damaged run.json entries (with cells.jsonl missing or torn),
overlong numbers, impossible stored samples, a timeout no worker can meet, a run with no
results. Each case is one line with the documented exit status, never a traceback, and a
refused command changes nothing in the run directory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import __main__ as cli

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "run_v2"
GOOD_META = json.loads((GOLDEN / "run.json").read_text())
GOOD_LINE = json.loads((GOLDEN / "cells.jsonl").read_text().splitlines()[0])
HUGE = "9" * 5000


def _drop(name: str) -> Callable[[dict], None]:
    return lambda m: m["matrix"][0].pop(name)


# (name, change to run.json, what happens to cells.jsonl, the message's words)
DAMAGED_META: list[tuple[str, Callable[[dict], object], str, str]] = [
    ("entry-no-backend", _drop("backend"), "keep", "matrix[0]: missing field(s) backend"),
    ("entry-no-model", _drop("model"), "missing", "matrix[0]: missing field(s) model"),
    ("entry-no-batch", _drop("batch_size"), "torn", "matrix[0]: missing field(s) batch_size"),
    ("entry-extra", lambda m: m["matrix"][1].update(speed=9), "keep", "matrix[1]: unknown field"),
    ("entry-wrong-type", lambda m: m["matrix"][0].update(batch_size="8"), "torn", "batch_size"),
    (
        "settings-extra",
        lambda m: m["settings"].update(fast=True),
        "keep",
        "unknown field(s) 'fast'",
    ),
    ("settings-extra-torn", lambda m: m["settings"].update(x=1), "torn", "unknown field(s) 'x'"),
    ("settings-string", lambda m: m["settings"].update(min_samples="10"), "missing", "min_samples"),
    ("settings-bool", lambda m: m["settings"].update(threads=True), "keep", "field 'threads'"),
    ("settings-list", lambda m: m.update(settings=[1]), "missing", "field 'settings'"),
    ("tiny-timeout", lambda m: m["settings"].update(timeout_s=1e-9), "keep", "at least 1 s"),
    ("bad-interpreters", lambda m: m.update(interpreters="torch"), "torn", "'interpreters'"),
    ("bad-trace", lambda m: m.update(trace="yes"), "keep", "field 'trace'"),
    ("bad-environment", lambda m: m.update(environment={"ram_bytes": "1G"}), "keep", "ram_bytes"),
]
# Stored samples that cannot be measurements, in cells.jsonl line 1.
IMPOSSIBLE = [
    ("negative-sample", {"samples_ms": [1.0, -2.0]}, "field 'samples_ms': expected a number >= 0"),
    ("negative-warmup", {"warmup_ms": [-0.1]}, "field 'warmup_ms': expected a number >= 0"),
    ("string-sample", {"samples_ms": [1.0, "2"]}, "field 'samples_ms': expected a number"),
    ("string-first-call", {"first_call_s": "3"}, "field 'first_call_s': expected a number"),
    ("negative-first-call", {"first_call_s": -1}, "field 'first_call_s': expected a number >= 0"),
    ("string-build", {"build_s": "0.1"}, "field 'build_s': expected a number"),
]


def _write(root: Path, name: str, meta: dict | None = None, cells: str | None = None) -> Path:
    run = root / name
    shutil.copytree(GOLDEN, run)
    if meta is not None:
        (run / "run.json").write_text(json.dumps(meta))
    if cells == "missing":
        (run / "cells.jsonl").unlink()
    elif cells == "torn":
        with open(run / "cells.jsonl", "a") as f:
            f.write('{"schema_version": 2, "run_id"')
    elif cells is not None and cells != "keep":
        (run / "cells.jsonl").write_text(cells)
    return run


def _snapshot(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def _one_line(argv: list[str], capsys, code: int = 2, out: str | None = None) -> str:
    """The one line ``argv`` writes to stderr, having exited ``code`` (and, where given,
    written ``out`` on stdout)."""
    status = cli.main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err, captured.err
    assert status == code and len(lines) == 1, (argv, status, captured.err[-600:])
    assert out is None or captured.out == out, captured.out
    return lines[0]


def _commands(run: Path, tmp: Path) -> list[list[str]]:
    """Every command that reads a run directory, on ``run``."""
    return [
        ["resume", str(run)],
        ["summary", str(run)],
        ["summary", str(run), "--markdown"],
        ["report", str(run), "-o", str(tmp / "r.html")],
        ["compare", str(GOLDEN), str(run)],
        ["compare", str(run), str(GOLDEN)],
        ["export", str(run), "--format", "csv", "-o", str(tmp / "e.csv")],
        ["merge", str(run), "-o", str(tmp / "merged")],
    ]


@pytest.mark.parametrize(
    "name, change, cells, words", DAMAGED_META, ids=[c[0] for c in DAMAGED_META]
)
def test_a_damaged_run_json_is_one_line_naming_the_file_and_field_for_every_command(
    tmp_path, capsys, name, change, cells, words
):
    meta = json.loads(json.dumps(GOOD_META))
    change(meta)
    run = _write(tmp_path, name, meta, cells)
    before = _snapshot(run)
    for argv in _commands(run, tmp_path):
        line = _one_line(argv, capsys)
        assert f"{run}/run.json" in line and words in line, (argv, line)
        assert _snapshot(run) == before, f"{argv} changed the run directory"
    assert not (tmp_path / "merged").exists() and not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("name, change, words", IMPOSSIBLE, ids=[c[0] for c in IMPOSSIBLE])
def test_an_impossible_stored_sample_is_refused_naming_file_line_and_field(
    tmp_path, capsys, name, change, words
):
    run = _write(tmp_path, name, cells=json.dumps({**GOOD_LINE, **change}) + "\n")
    before = _snapshot(run)
    for argv in _commands(run, tmp_path)[1:]:  # resume would measure the cell again
        line = _one_line(argv, capsys)
        assert f"{run}/cells.jsonl:1" in line and words in line, (argv, line)
    assert _snapshot(run) == before


NUMERIC_OPTIONS = [
    ["run", "--batch-sizes"],
    ["run", "--timeout"],
    ["run", "--threads"],
    ["run", "--repeats"],
    ["compare", str(GOLDEN), str(GOLDEN), "--threshold"],
    ["compare", str(GOLDEN), str(GOLDEN), "--resamples"],
    ["compare", str(GOLDEN), str(GOLDEN), "--seed"],
    ["selfcheck", "--rounds"],
    ["selfcheck", "--tolerance"],
    ["selfcheck", "--threads"],
    ["gpu-check", "--out-dir", "/tmp/never", "--budget"],
]


@pytest.mark.parametrize("literal", [HUGE, "1" * 60, "0." + "0" * 4999 + "1", "1e999", "٣"])
@pytest.mark.parametrize("option", NUMERIC_OPTIONS, ids=lambda o: " ".join(o[:1] + o[-1:]))
def test_a_number_too_long_to_be_meant_is_one_line(capsys, option, literal):
    line = _one_line([*option, literal], capsys)
    assert option[-1] in line and "expected" in line and len(line) < 400, line


@pytest.mark.parametrize("value", ["1e-9", "0.5", "0.999", "0"])
def test_a_timeout_no_worker_can_meet_is_refused(capsys, value):
    line = _one_line(["run", "--timeout", value], capsys)
    assert "--timeout" in line and "expected a number of seconds from 1 to" in line


class Parsed(Exception):
    """Raised where ``run`` starts its work: the command line was accepted."""


@pytest.mark.parametrize("value", ["1", "1.0", "600"])
def test_a_timeout_from_the_floor_is_accepted(monkeypatch, value):
    from bench.cli import run as run_cmd

    def accepted(a):
        raise Parsed(a.timeout)

    monkeypatch.setattr(run_cmd, "request_from", accepted)
    with pytest.raises(Parsed) as caught:
        cli.main(["run", "--timeout", value])
    assert caught.value.args == (float(value),)


@pytest.mark.parametrize("cells", ["", "missing", "torn"])
def test_summary_of_a_run_with_no_results_says_so_and_how_to_resume(tmp_path, capsys, cells):
    run = _write(tmp_path, "empty", cells=cells or "\n")
    if cells == "torn":
        (run / "cells.jsonl").write_text('{"schema_version": 2, "run_id"')
    for argv in (["summary", str(run)], ["summary", str(run), "--markdown"]):
        line = _one_line(argv, capsys, code=0, out="")  # no empty table
        assert "has no results yet" in line and f"python -m bench resume {run}" in line
