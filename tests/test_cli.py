"""The command line: one-line errors with exit status 2, and no framework in the parent."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench.parent import environment
from tests.stored_runs import copy_with_schema_version

GOLDEN = Path(__file__).parent / "data" / "run_v1"
GOLDEN_V2 = Path(__file__).parent / "data" / "run_v2"


def error_of(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured
    assert len(lines) == 1, lines
    assert lines[0].startswith("graphbench: error: ")
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["run", "--models", "resnet9000"],
            "--models: unknown 'resnet9000'; expected 'all' or a comma-separated list of: "
            "cnn, lstm",
        ),
        (["run", "--backends", "torch-eager,onnx"], "--backends: unknown 'onnx'"),
        (
            ["run", "--modes", "serve"],
            "--modes: unknown 'serve'; expected 'all' or a comma-separated list of: infer, train",
        ),
        (["run", "--batch-sizes", "8,0"], "--batch-sizes: '0' is not an integer from 1 to"),
        (["run", "--batch-sizes", "eight"], "--batch-sizes: 'eight' is not an integer from 1"),
        (["run", "--device", "tpu"], "invalid choice: 'tpu' (choose from 'cpu', 'cuda')"),
        (["run", "--profile", "huge"], "invalid choice: 'huge' (choose from 'quick', 'full')"),
        (["run", "--timeout", "-5"], "expected a number of seconds from 1 to"),
        (["run", "--threads", "0"], "expected an integer from 1 to"),
        (["run", "--threads", "100000"], "expected an integer from 1 to"),
        (
            ["run", "--backends", "torch-compile-reduce-overhead"],
            "cannot run on cpu; backends for cpu: torch-eager",
        ),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["summary", "/nonexistent/run"], "not a graphbench run"),
        (
            ["run", "--scenario", "dynamic", "--models", "mlp"],
            "--scenario stream: mlp has no sequence axis; models for the stream scenario: "
            "lstm, transformer",
        ),
        (["run", "--strategies", "exact"], "--strategies applies to --scenario stream only"),
        (["run", "--scenario", "dynamic", "--streams", "zipf"], "--streams: unknown 'zipf'"),
        (["run", "--scenario", "dynamic", "--strategies", "jit"], "--strategies: unknown 'jit'"),
        (
            ["run", "--scenario", "static"],
            "--scenario: unknown 'static'; expected one of: fixed, stream, dynamic (= stream)",
        ),
    ],
)
def test_bad_input_is_one_line_with_exit_2(capsys, argv, expected):
    assert expected in error_of(capsys, *argv)


def test_unavailable_cuda_is_refused(capsys, monkeypatch):
    monkeypatch.setattr(environment, "cuda_unavailable_reason", lambda: "no NVIDIA driver")
    line = error_of(capsys, "run", "--device", "cuda")
    assert line == (
        "graphbench: error: --device cuda: no CUDA device is visible "
        "(no NVIDIA driver); valid here: cpu"
    )


def test_unknown_schema_version_is_refused(capsys, tmp_path):
    run = copy_with_schema_version(GOLDEN, tmp_path, 7)
    assert "schema_version 7 is not supported" in error_of(capsys, "summary", str(run))


def test_summary_of_a_stored_run(capsys):
    assert cli.main(["summary", str(GOLDEN), "--markdown"]) == 0
    out = capsys.readouterr().out
    rows = [line.split(" | ")[3:] for line in out.splitlines() if line.startswith("| mlp |")]
    # IQR 1 ms on a 2 ms median: noisy.
    assert rows[0] == [
        "torch-eager",
        "2",
        "3.6",
        "64,000",  # recomputed from pipeline_steps and pipeline_s: what schema 1 stored
        "0.005",
        "-",
        "1.00x",
        "-",
        "-",  # graphs/breaks: not diagnosed (run --diagnose)
        "ok (noisy) |",
    ]
    assert rows[1] == [
        "jax-jit",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "failed: worker died of SIGSEGV |",
    ]


def test_summary_of_a_stored_schema_2_run_shows_both_scenarios(capsys):
    assert cli.main(["summary", str(GOLDEN_V2)]) == 0
    out = capsys.readouterr().out
    assert "fixed shapes" in out and "a stream of varying sequence lengths" in out
    assert "not-applicable" in out


def test_parent_commands_never_import_a_framework(tmp_path):
    code = (
        "import sys\n"
        "from bench import __main__ as cli\n"
        "assert cli.main(['list']) == 0\n"
        "assert cli.main(['env']) == 0\n"
        f"assert cli.main(['summary', {str(GOLDEN)!r}]) == 0\n"
        "from bench.matrix import scenarios\n"
        "from bench.parent.runner import Runner\n"
        "from bench.matrix.scenarios.base import MatrixRequest\n"
        "scenarios.get('fixed').expand(MatrixRequest(('mlp', 'cnn'),\n"
        "    ('torch-eager', 'jax-jit', 'tf-xla'), ('infer', 'train'), 'cpu', 'quick'))\n"
        "from bench.backends import FRAMEWORKS\n"
        "names = [p for f in FRAMEWORKS.values() for p in f.packages]\n"
        "loaded = sorted(m for m in names if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in out.stdout


def test_env_prints_what_run_json_records(capsys):
    assert cli.main(["env"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert {
        "cpu_model",
        "cpu_count",
        "ram_bytes",
        "gpus",
        "git",
        "packages",
        "key_packages",
        "python",
        "threads",
        "environment_variables",
    } <= set(env["environment"])
    assert set(env["settings"]) == {"quick", "full"}
    assert "float32" in env["precision_policy"]
