"""Every bad invocation is one line and exit status 2, never a traceback, never accepted.

A table across every subcommand (flags, values, paths, crafted result files), then a
hypothesis fuzz of option values that no case here was written for.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import __main__ as cli
from bench.cli import run as run_cmd
from bench.parent import probes as probe

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "run_v2"


def broken_runs(root: Path) -> dict[str, Path]:
    """Run directories each broken in one way, keyed by what is wrong with them."""
    runs: dict[str, Path] = {}

    def make(name: str, cells: str | None = None, meta: object = None) -> None:
        d = root / name
        shutil.copytree(GOLDEN, d)
        if cells is not None:
            (d / "cells.jsonl").write_text(cells)
        if meta is not None:
            (d / "run.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
        runs[name] = d

    good_meta = json.loads((GOLDEN / "run.json").read_text())
    line = json.loads((GOLDEN / "cells.jsonl").read_text().splitlines()[0])
    make("array-line", "[1, 2, 3]\n")
    make("number-line", "42\n")
    make("null-line", "null\n")
    make("string-samples", json.dumps({**line, "samples_ms": "fast"}) + "\n")
    make("nan-sample", json.dumps({**line, "samples_ms": [1.0, float("nan")]}) + "\n")
    make("inf-pipeline", json.dumps({**line, "pipeline_s": float("inf")}) + "\n")
    make("unknown-model", json.dumps({**line, "model": "resnet9000"}) + "\n")
    make("dotdot-model", json.dumps({**line, "model": "../../etc"}) + "\n")
    make("bad-status", json.dumps({**line, "status": "great"}) + "\n")
    make("negative-batch", json.dumps({**line, "batch_size": -3}) + "\n")
    make("string-batch", json.dumps({**line, "batch_size": "8"}) + "\n")
    make("broken-json", '{"schema_version": 2,\n' + json.dumps(line) + "\n")
    make("binary", "\x00\x01\x02\n")
    make("meta-array", meta="[1]")
    make("meta-not-json", meta="{not json")
    make("meta-no-settings", meta={k: v for k, v in good_meta.items() if k != "settings"})
    make(
        "meta-bad-settings",
        meta={**good_meta, "settings": {**good_meta["settings"], "threads": -1}},
    )
    make(
        "meta-nan-timeout",
        meta=json.dumps(
            {**good_meta, "settings": {**good_meta["settings"], "timeout_s": float("nan")}}
        ),
    )
    make(
        "meta-unknown-model",
        meta={**good_meta, "matrix": [{**good_meta["matrix"][0], "model": "gpt9"}]},
    )
    make("meta-dotdot", meta={**good_meta, "matrix": [{**good_meta["matrix"][0], "model": "../x"}]})
    make("meta-matrix-string", meta={**good_meta, "matrix": "everything"})
    make("meta-run-id-path", meta={**good_meta, "run_id": "../../x"})
    make("meta-version-9", meta={**good_meta, "schema_version": 9})
    make("meta-pythons-string", meta={**good_meta, "pythons": "torch"})
    make("meta-python-missing", meta={**good_meta, "pythons": {"torch": "/nonexistent/python"}})
    bad_shard = {"index": 5, "count": 2, "positions": [0], "matrix_cells": 1}
    make("meta-bad-shard", meta={**good_meta, "shard": bad_shard})
    (root / "no-run").mkdir()
    runs["no-run"] = root / "no-run"
    (root / "a-file").write_text("x")
    runs["a-file"] = root / "a-file"
    return runs


def cases(tmp: Path, runs: dict[str, Path]) -> list[tuple[list[str], str]]:
    good = str(GOLDEN)
    # (No read-only directory: tests run as root in CI, and root writes anywhere; /proc
    # refuses everyone.)
    long = "x" * 300
    r = {k: str(v) for k, v in runs.items()}
    return [
        # the command itself
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["list", "--html"], "unrecognized arguments: --html"),
        (["env", "extra"], "unrecognized arguments: extra"),
        # run: names
        (["run", "--models", "resnet9000"], "--models: unknown 'resnet9000'"),
        (["run", "--models", ""], "--models: empty name"),
        (["run", "--models", "mlp,,cnn"], "--models: empty name"),
        (["run", "--backends", "onnx"], "--backends: unknown 'onnx'"),
        (["run", "--backends", " "], "--backends: empty name"),
        (["run", "--modes", ""], "--modes: empty name"),
        (["run", "--modes", "serve"], "--modes: unknown 'serve'"),
        (["run", "--precisions", "fp8"], "--precisions: unknown 'fp8'"),
        (["run", "--precisions", ""], "--precisions: empty name"),
        (["run", "--device", "tpu"], "invalid choice: 'tpu'"),
        (["run", "--profile", "huge"], "invalid choice: 'huge'"),
        (["run", "--scenario", "static"], "--scenario: unknown 'static'"),
        (["run", "--scenario", "stream", "--models", "mlp"], "mlp has no sequence axis"),
        (["run", "--strategies", "exact"], "--strategies applies to --scenario stream only"),
        (["run", "--streams", "skewed"], "--streams applies to --scenario stream only"),
        (["run", "--scenario", "stream", "--streams", "zipf"], "--streams: unknown 'zipf'"),
        (["run", "--scenario", "stream", "--strategies", ""], "--strategies: empty name"),
        (["run", "--backends", "torch-compile-reduce-overhead"], "cannot run on cpu"),
        # run: numbers
        (["run", "--batch-sizes", ""], "--batch-sizes: '' is not an integer"),
        (["run", "--batch-sizes", "0"], "is not an integer from 1 to 1048576"),
        (["run", "--batch-sizes", "-4"], "is not an integer from 1 to"),
        (["run", "--batch-sizes", "8,x"], "'x' is not an integer"),
        (["run", "--batch-sizes", "1.5"], "'1.5' is not an integer"),
        (["run", "--batch-sizes", "1000000000000"], "is not an integer from 1 to 1048576"),
        (["run", "--batch-sizes", "²"], "'²' is not an integer"),
        (["run", "--models", "resnet", "--batch-sizes", "1000000"], "is too large for resnet"),
        (["run", "--timeout", "inf"], "expected a number of seconds from 1 to"),
        (["run", "--timeout", "nan"], "expected a number of seconds from 1 to"),
        (["run", "--timeout", "0"], "expected a number of seconds from 1 to"),
        (["run", "--timeout", "-5"], "expected a number of seconds from 1 to"),
        (["run", "--timeout", "1e9"], "from 1 to 604800"),
        (["run", "--timeout", "soon"], "expected a number of seconds"),
        (["run", "--threads", "0"], "expected an integer from 1 to"),
        (["run", "--threads", "100000"], "expected an integer from 1 to"),
        (["run", "--threads", "two"], "expected an integer from 1 to"),
        # run: paths and interpreters
        (["run", "--out-dir", r["a-file"]], "exists and is not a directory"),
        (["run", "--out-dir", "/proc/self/graphbench"], "cannot be created"),
        (["run", "--out-dir", "/nonexistent/dir/x"], "does not exist"),
        (["run", "--out-dir", "/proc/graphbench"], "--out-dir /proc/graphbench"),
        (["run", "--out-dir", str(tmp / long)], "a name longer than 255 bytes"),
        (["run", "--python", "torch"], "is not FRAMEWORK=PATH"),
        (["run", "--python", "mxnet=/usr/bin/python3"], "unknown framework 'mxnet'"),
        (["run", "--python", "torch=/nonexistent"], "not an executable file"),
        (["run", "--python", "torch=" + r["a-file"]], "not an executable file"),
        # run: where the cells run
        (["run", "--shard", "3/2"], "--shard: expected 1 <= I <= N"),
        (["run", "--shard", "0/4"], "--shard: expected 1 <= I <= N"),
        (["run", "--shard", "half"], "--shard: expected I/N"),
        (["run", "--shard", ""], "--shard: expected I/N"),
        (["run", "--executor", "slurm"], "invalid choice: 'slurm'"),
        (["run", "--ray-address", "auto"], "--ray-address applies to --executor ray only"),
        (["run", "--executor", "ray", "--gpus", "all"], "--gpus applies to --executor local"),
        (["run", "--gpus", "0"], "--gpus: the matrix has no CUDA cell"),
        # resume
        (["resume"], "the following arguments are required: run_dir"),
        (["resume", "/nonexistent/run"], "not a graphbench run"),
        (["resume", r["no-run"]], "not a graphbench run"),
        (["resume", r["meta-unknown-model"]], "matrix[0]: field 'model': unknown 'gpt9'"),
        (["resume", r["meta-dotdot"]], "holds a path separator"),
        (["resume", r["meta-matrix-string"]], "field 'matrix': expected a list"),
        (["resume", r["meta-bad-settings"]], "field 'threads': expected a non-negative"),
        (["resume", r["meta-nan-timeout"]], "not valid JSON"),
        (["resume", r["meta-pythons-string"]], "field 'pythons': expected an object"),
        (["resume", r["meta-python-missing"]], "not an executable file"),
        (["resume", r["meta-bad-shard"]], "field 'shard'"),
        (["resume", good, "--ray-address", "auto"], "--ray-address applies to --executor ray"),
        (["resume", good, "--gpus", "0,1"], "--gpus: the matrix has no CUDA cell"),
        (["resume", good, "--executor", "k8s"], "invalid choice: 'k8s'"),
        # merge
        (["merge", good], "the following arguments are required: -o/--output"),
        (["merge", "-o", str(tmp / "m")], "the following arguments are required: RUN_DIR"),
        (["merge", good, "-o", good], "already exists; expected a new directory"),
        (["merge", good, "-o", "/nonexistent/dir/m"], "does not exist"),
        (["merge", good, "-o", str(tmp / long)], "a name longer than 255 bytes"),
        (["merge", good, "-o", str(tmp / "m")], "is not a shard"),
        (["merge", r["no-run"], "-o", str(tmp / "m")], "not a graphbench run"),
        (["merge", r["meta-bad-shard"], "-o", str(tmp / "m")], "field 'shard'"),
        (["merge", r["nan-sample"], "-o", str(tmp / "m")], "not valid JSON"),
        # summary on hostile files
        (["summary", r["array-line"]], "cells.jsonl:1: expected a JSON object"),
        (["summary", r["number-line"]], "cells.jsonl:1: expected a JSON object"),
        (["summary", r["null-line"]], "cells.jsonl:1: expected a JSON object"),
        (["summary", r["string-samples"]], "field 'samples_ms': expected a list"),
        (["summary", r["nan-sample"]], "not valid JSON"),
        (["summary", r["inf-pipeline"]], "not valid JSON"),
        (["summary", r["unknown-model"]], "field 'model': unknown 'resnet9000'"),
        (["summary", r["dotdot-model"]], "holds a path separator"),
        (["summary", r["bad-status"]], "field 'status': expected one of ok"),
        (["summary", r["negative-batch"]], "field 'batch_size': expected a positive integer"),
        (["summary", r["string-batch"]], "field 'batch_size': expected a positive integer"),
        (["summary", r["broken-json"]], "cells.jsonl:1: not valid JSON"),
        (["summary", r["binary"]], "not valid JSON"),
        (["summary", r["meta-array"]], "run.json: expected a JSON object"),
        (["summary", r["meta-not-json"]], "run.json: not valid JSON"),
        (["summary", r["meta-no-settings"]], "missing field(s) settings"),
        (["summary", r["meta-run-id-path"]], "field 'run_id'"),
        (["summary", r["meta-version-9"]], "schema_version 9 is not supported"),
        (["summary", r["a-file"]], "not a graphbench run"),
        # report
        (["report"], "expected at least one RUN_DIR"),
        (["report", good, "--newest-in", str(tmp)], "give RUN_DIR(s) or --newest-in DIR"),
        (["report", "--newest-in", "/nonexistent"], "no such directory"),
        (["report", "--newest-in", r["no-run"]], "no finished run under"),
        (["report", good, good], "the same run was given twice"),
        (["report", good, "-o", str(tmp)], "is a directory"),
        (["report", good, "-o", "/nonexistent/dir/r.html"], "does not exist"),
        (["report", good, "-o", "/proc/self/r.html"], "/proc/self is not writable"),
        (["report", good, "-o", str(GOLDEN / "cells.jsonl")], "a run's own data"),
        (["report", good, "-o", str(GOLDEN / "run.json")], "a run's own data"),
        (["report", good, "-o", str(tmp / long)], "a name longer than 255 bytes"),
        (["report", r["string-samples"]], "field 'samples_ms'"),
        (["report", r["meta-version-9"]], "schema_version 9 is not supported"),
        # compare
        (["compare", good], "the following arguments are required: RUN_B"),
        (["compare", good, r["no-run"]], "not a graphbench run"),
        (["compare", good, r["nan-sample"]], "not valid JSON"),
        (["compare", good, good, "--threshold", "five"], "expected a fraction from 0"),
        (["compare", good, good, "--threshold", "1.5"], "expected a fraction from 0"),
        (["compare", good, good, "--threshold", "nan"], "expected a fraction from 0"),
        (["compare", good, good, "--threshold=-5%"], "expected a fraction from 0"),
        (["compare", good, good, "--threshold", "-5%"], "--threshold: expected one argument"),
        (["compare", good, good, "--resamples", "0"], "expected an integer from 1 to 1000000"),
        (["compare", good, good, "--resamples", str(10**12)], "from 1 to 1000000"),
        (["compare", good, good, "--seed", "-1"], "expected an integer from 0"),
        (["compare", good, good, "--html", str(GOLDEN / "run.json")], "a run's own data"),
        (["compare", good, good, "--html", str(tmp)], "is a directory"),
        (["compare", good, good, "--html", "/nonexistent/x.html"], "does not exist"),
        # export
        (["export", good, "-o", str(tmp / "e.json")], "required: --format"),
        (["export", good, "--format", "xml", "-o", str(tmp / "e")], "invalid choice: 'xml'"),
        (["export", "--format", "csv", "-o", str(tmp / "e.csv")], "required: RUN_DIR"),
        (["export", good, "--format", "pytest-benchmark"], "expected -o FILE (one run) or"),
        (
            [
                "export",
                good,
                "--format",
                "pytest-benchmark",
                "-o",
                str(tmp / "e"),
                "--storage",
                str(tmp),
            ],
            "not both",
        ),
        (["export", good, good, "--format", "pytest-benchmark", "-o", str(tmp / "e")], "one run"),
        (["export", good, "--format", "pytest-benchmark", "-o", str(tmp)], "is a directory"),
        (["export", good, "--format", "csv", "-o", "/nonexistent/dir/e.csv"], "does not exist"),
        (
            ["export", good, "--format", "csv", "-o", str(GOLDEN / "cells.jsonl")],
            "a run's own data",
        ),
        (["export", good, "--format", "csv", "-o", str(tmp / long)], "a name longer than 255"),
        (["export", good, "--format", "csv"], "--format csv: expected -o FILE"),
        (["export", good, "--format", "csv", "--storage", str(tmp)], "pytest-benchmark only"),
        (
            ["export", good, "--format", "pytest-benchmark", "--storage", r["a-file"]],
            "exists and is not a directory",
        ),
        (
            ["export", good, "--format", "pytest-benchmark", "--storage", "/nonexistent/dir/s"],
            "does not exist",
        ),
        (
            ["export", good, "--format", "pytest-benchmark", "--storage", "s3://bucket/x"],
            "only a directory (or file://DIR)",
        ),
        (
            ["export", good, "--format", "pytest-benchmark", "--storage", good],
            "that is a run directory",
        ),
        (
            ["export", r["no-run"], "--format", "csv", "-o", str(tmp / "e.csv")],
            "not a graphbench run",
        ),
        (
            ["export", r["nan-sample"], "--format", "csv", "-o", str(tmp / "e.csv")],
            "not valid JSON",
        ),
        (["export", good, good, "--format", "csv", "-o", str(tmp / "e.csv")], "given twice"),
        (
            [
                "export",
                str(DATA / "report_dynamic"),
                "--format",
                "pytest-benchmark",
                "-o",
                str(tmp / "e"),
            ],
            "no ok fixed-shape cell to export",
        ),
        (
            ["export", str(DATA / "report_dynamic"), "--format", "csv", "-o", str(tmp / "e.csv")],
            "no fixed-shape cell in",
        ),
        # gpu-check (no GPU here)
        (["gpu-check"], "the following arguments are required: --out-dir"),
        (["gpu-check", "--out-dir", str(tmp / "x")], "gpu-check needs a CUDA device"),
        (["gpu-check", "--out-dir", str(tmp / "x"), "--budget", "0"], "expected a number of"),
        # selfcheck (refused before any process starts)
        (["selfcheck", "--models", "resnet9000"], "--models: unknown 'resnet9000'"),
        (["selfcheck", "--models", "mlp,,cnn"], "--models: empty name"),
        (["selfcheck", "--backends", "onnx"], "--backends: unknown 'onnx'"),
        (["selfcheck", "--backends", "torch-compile-reduce-overhead"], "cannot run on cpu"),
        (["selfcheck", "--modes", "serve"], "--modes: unknown 'serve'"),
        (["selfcheck", "--tolerance", "1.5"], "expected a fraction from 0"),
        (["selfcheck", "--tolerance", "ten"], "expected a fraction from 0"),
        (["selfcheck", "--rounds", "0"], "expected an integer from 1"),
        (["selfcheck", "--profile", "huge"], "invalid choice: 'huge'"),
        (["selfcheck", "extra"], "unrecognized arguments: extra"),
    ]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    return cases(tmp, broken_runs(tmp))


def test_there_are_many_cases_across_every_subcommand(table):
    commands = {argv[0] for argv, _ in table if argv}
    assert len(table) >= 60
    assert commands >= {
        "list", "env", "run", "resume", "merge", "summary", "report", "compare", "gpu-check",
        "selfcheck", "export",
    }  # fmt: skip


def test_every_bad_invocation_is_one_line_with_exit_2(table, capsys):
    failures = []
    for argv, expected in table:
        code = cli.main(argv)
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        ok = (
            code == 2
            and len(lines) == 1
            and lines[0].startswith("graphbench: error: ")
            and expected in lines[0]
            and "Traceback" not in captured.err
        )
        if not ok:
            failures.append((argv, code, captured.err[-400:]))
    assert not failures, "\n".join(map(str, failures))


# --- a fuzz: values no case above was written for --------------------------------------

OPTIONS = [
    "--models",
    "--backends",
    "--modes",
    "--precisions",
    "--batch-sizes",
    "--timeout",
    "--threads",
    "--scenario",
    "--profile",
    "--device",
    "--python",
    "--shard",
    "--gpus",
    "--executor",
    "--ray-address",
]
hostile = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(option=st.sampled_from(OPTIONS), value=hostile)
def test_any_option_value_is_accepted_or_refused_in_one_line(monkeypatch, capsys, option, value):
    """Whatever a value is, ``run`` either accepts it (and would run: stopped here before any
    work) or refuses it in one line with exit 2. Never a traceback."""
    monkeypatch.setattr(run_cmd, "execute", lambda *a, **k: 0)
    monkeypatch.setattr(probe, "check", lambda frameworks, pythons, device: {})
    monkeypatch.setattr(run_cmd, "new_run_dir", lambda *a: Path("/nonexistent/never-made"))
    monkeypatch.setattr(run_cmd, "write_meta", lambda *a: None)
    code = cli.main(["run", option, value, "--out-dir", "/tmp"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if code != 0:
        lines = captured.err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("graphbench: error: "), (
            option,
            value,
            captured.err,
        )
