"""Nothing lost, nothing leaked: a full disk, a killed parent, two resumes at once, secrets in
the environment, hostile strings in every field of a result."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench.parent import environment
from bench.results.record import Outcome, Status
from bench.results.store import RunLock, load_run
from tests.fakes import FAKE_WORKER, with_stand_in_worker

DATA = Path(__file__).parent / "data"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 96 KiB filesystem of the test's own (tmpfs); a write stub does the same where the
    machine refuses mounts (test_a_full_disk_mid_append_is_one_line_too)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): the stub test covers it"
        )
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


RUN_ARGS = ["run", "--models", "mlp,cnn", "--modes", "infer,train", "--batch-sizes", "1,2,4,8"]


@pytest.mark.e2e  # a whole matrix through the command line, seconds
def test_a_full_disk_stops_the_run_in_one_line_and_resume_finishes_it(
    tiny_disk, monkeypatch, capsys
):
    with_stand_in_worker(monkeypatch)
    code = cli.main([*RUN_ARGS, "--out-dir", str(tiny_disk)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("graphbench: error: the disk is full"), err[-3:]
    assert "python -m bench resume" in err[-1]
    (run_dir,) = [p for p in tiny_disk.iterdir() if p.is_dir()]
    kept = load_run(run_dir)  # everything written is still readable
    assert not list(run_dir.glob(".*.tmp*")) and not list(run_dir.glob(".run.json.*"))
    # Make room (a bigger tmpfs), then resume: every cell exactly once.
    subprocess.run(["mount", "-o", "remount,size=8m", str(tiny_disk)], check=True)
    assert cli.main(["summary", str(run_dir)]) == 0
    assert cli.main(["resume", str(run_dir)]) == 0
    capsys.readouterr()
    final = load_run(run_dir)
    keys = [r.cell.key() for r in final.results]
    assert len(keys) == len(set(keys)) == len(final.meta.plan.matrix) > len(kept.results)


@pytest.mark.e2e  # a whole matrix through the command line, seconds
def test_a_full_disk_mid_append_is_one_line_too(tmp_path, monkeypatch, capsys):
    """The write stub: the third append finds the disk full."""
    import errno

    from bench.parent import runner as runner_module

    with_stand_in_worker(monkeypatch)
    real_append = runner_module.append_result
    calls = {"n": 0}

    def append(run_dir, result):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(run_dir, result)

    monkeypatch.setattr(runner_module, "append_result", append)
    code = cli.main([*RUN_ARGS, "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "the disk is full" in err[-1]
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    run = load_run(run_dir)
    assert len(run.results) == 2 and run.meta.progress.interrupted is True
    assert run.meta.progress.interrupted_by == "disk full"


def test_a_second_resume_is_refused_naming_the_holder(tmp_path, capsys):
    run = tmp_path / "run"
    import shutil

    shutil.copytree(DATA / "run_v2", run)
    with RunLock(run):
        assert cli.main(["resume", str(run)]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.search(r"is being written by pid \d+ on \S+; wait for it", line), line


def processes(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.mark.e2e
def test_a_killed_parent_leaves_no_worker_and_no_temp_dir_and_resume_finishes(tmp_path):
    """kill -9 of `bench run` while a worker measures: the worker and its compile pools are
    gone within seconds, its job and cache directories removed; resume runs every cell
    exactly once."""
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    parent = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--models", "mlp", "--modes", "infer,train",
         "--backends", "torch-eager,jax-eager", "--out-dir", str(tmp_path / "out")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not processes(f"bench.worker {tmp_path}") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes(f"bench.worker {tmp_path}"), "no worker started"
    time.sleep(1.0)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while processes(f"bench.worker {tmp_path}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes(f"bench.worker {tmp_path}") == [], "a worker outlived its parent"
    assert list((tmp_path / "tmp").iterdir()) == [], "a temp directory leaked"
    (run_dir,) = (tmp_path / "out").iterdir()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "resume", str(run_dir)], env=env, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = load_run(run_dir)
    keys = [r.cell.key() for r in run.results]
    assert len(keys) == len(set(keys)) == 4 and all(r.ok for r in run.results)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_are_handled_like_ctrl_c(tmp_path, signame):
    """The run stops, keeps what it measured, says it was interrupted and how to resume."""
    env = {**os.environ, "FAKE_WORKER": "hang", "FAKE_WORKER_PIDFILE": str(tmp_path / "pid")}
    code = (
        "import sys; from bench.cli import run; from bench.parent.runner import Runner; "
        "from bench import backends; from bench.parent import probes as probe; "
        "probe.check = lambda f, p, d: {}; backends.not_installed_reason = lambda f: None; "
        f"run.Runner = lambda *a, **k: Runner(*a, worker={FAKE_WORKER!r}, **k); "
        "from bench.cli import main; sys.exit(main(['run', '--models', 'mlp', '--backends', "
        f"'torch-eager', '--modes', 'infer', '--out-dir', {str(tmp_path)!r}]))"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (tmp_path / "pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    parent.send_signal(getattr(signal, signame))
    _, err = parent.communicate(timeout=60)
    assert parent.returncode == 130, err
    assert f"interrupted ({signame})" in err and "python -m bench resume" in err
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["interrupted"] is True and meta["interrupted_by"] == signame


SECRETS = {
    "TF_VAR_db_password": "hunter2",
    "NVIDIA_API_KEY": "nvapi-secret-x",
    "TORCH_HUB_TOKEN": "hub-token-y",
    "TF_TOKEN_app_terraform_io": "tf-token-z",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-w",
    "JAX_SECRET_THING": "jax-secret-v",
}


def test_only_allowlisted_variables_are_recorded_and_credentials_never():
    env = {**SECRETS, "OMP_NUM_THREADS": "2", "XLA_FLAGS": "--xla_dump_to=/tmp", "HOME": "/root"}
    recorded = environment.recorded_environment(env)
    assert recorded == {"OMP_NUM_THREADS": "2", "XLA_FLAGS": "--xla_dump_to=/tmp"}
    for name in SECRETS:
        assert environment.looks_secret(name), name


@pytest.mark.e2e
def test_secrets_in_the_environment_reach_no_file_of_a_run_or_its_report(tmp_path):
    env = {**os.environ, **SECRETS}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--models", "mlp", "--modes", "infer",
         "--backends", "torch-eager,jax-eager", "--out-dir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert cli.main(["report", str(run_dir), "-o", str(tmp_path / "report.html")]) == 0
    files = [p for p in run_dir.rglob("*") if p.is_file() and p.suffix != ".npz"]
    files.append(tmp_path / "report.html")
    for path in files:
        text = path.read_text(errors="replace")
        for value in SECRETS.values():
            assert value not in text, f"{value} leaked into {path}"


HOSTILE = "\x1b[31mR\x1b]8;;http://e/\x07L\x1b]8;;\x07 [/x] [b]B[/b] | <i>"


def test_hostile_strings_in_results_print_literally(tmp_path, capsys):
    """Escape sequences never reach the terminal, rich markup is never interpreted, a
    Markdown table is never broken."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(DATA / "run_v2", run)
    results = load_run(run).results
    error = f"E: {HOSTILE}"
    hostile = replace(results[1], outcome=Outcome(Status.FAILED, error))
    with open(run / "cells.jsonl", "w") as f:
        for r in [results[0], hostile, *results[2:]]:
            f.write(json.dumps(r.to_json()) + "\n")
    assert cli.main(["summary", str(run)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out  # no control character at all
    assert "x1b[31mR" in out and "[/x]" in out and "[b]B[/b]" in out  # shown, not applied
    assert cli.main(["summary", str(run), "--markdown"]) == 0
    md = capsys.readouterr().out
    row = next(line for line in md.splitlines() if "E: " in line)
    assert row.count(" | ") == 12  # the pipe in the error did not add a column
    assert "\\|" in row and "\\[/x\\]" in row and "\x1b" not in row
    assert cli.main(["compare", str(run), str(run)]) == 0
    assert "\x1b" not in capsys.readouterr().out
