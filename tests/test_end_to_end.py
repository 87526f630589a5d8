"""The CLI as a user runs it: real workers, real frameworks, a tiny matrix."""

import json
import subprocess
import sys
from pathlib import Path

from bench.results import load_run

COMMAND = [
    sys.executable,
    "-m",
    "bench",
    "run",
    "--device",
    "cpu",
    "--models",
    "mlp",
    "--backends",
    "torch-eager,jax-jit,tf-graph",
    "--modes",
    "infer",
]


def test_run_prints_the_run_directory_last_and_resume_finishes_a_cut_run(tmp_path):
    done = subprocess.run(
        [*COMMAND, "--out-dir", str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path and run_dir.is_dir()
    assert "median ms" in done.stdout  # the summary table

    run = load_run(run_dir)
    assert [c["backend"] for c in run.cells] == ["torch-eager", "jax-jit", "tf-graph"]
    for cell in run.cells:
        assert cell["status"] == "ok", cell
        assert cell["parity_max_rel_err"] < 1e-5
        assert cell["latency_ms"]["n"] >= 10 and len(cell["samples_ms"]) == cell["latency_ms"]["n"]
        assert cell["throughput_per_s"] > 0 and cell["first_call_s"] > 0
        assert cell["peak_host_rss_bytes"] > 50 * 2**20
        assert cell["framework_version"]
    eager, jit, graph = run.cells
    assert eager["warm_start"].startswith("no persistent compile cache")
    assert jit["first_call_warm_s"] > 0 and "JAX persistent" in jit["warm_start"]
    assert jit["break_even_note"] == "no jax-eager cell in this run"
    assert graph["first_call_warm_s"] is None  # tf.function keeps no cache between processes
    assert run.meta["finished_utc"] and run.meta["interrupted"] is False
    assert run.meta["command"].endswith("--out-dir " + str(tmp_path))
    assert run.meta["environment"]["key_packages"]["numpy"]

    # Cut the run after its first cell, as a crash of the parent would: resume runs the rest.
    lines = (run_dir / "cells.jsonl").read_text().splitlines()
    (run_dir / "cells.jsonl").write_text(lines[0] + "\n")
    resumed = subprocess.run(
        [sys.executable, "-m", "bench", "resume", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "2 cell(s)" in resumed.stderr
    cells = load_run(run_dir).cells
    assert [c["backend"] for c in cells] == ["torch-eager", "jax-jit", "tf-graph"]
    assert json.loads(lines[0]) == cells[0]  # what was measured is never rewritten
    assert all(c["status"] == "ok" for c in cells)


def test_dynamic_scenario_from_the_command_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--scenario",
            "dynamic",
            "--models",
            "lstm",
            "--backends",
            "torch-eager,jax-jit",
            "--streams",
            "skewed",
            "--out-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert run_dir.name.endswith("-cpu-dynamic")
    assert "dynamic shapes" in done.stdout
    run = load_run(run_dir)
    assert run.meta["dynamic_shapes"]["streams"]["skewed"]["n_steps"] == 64
    cells = {(c["backend"], c["strategy"]): c for c in run.cells}
    assert set(cells) == {
        (b, s) for b in ("torch-eager", "jax-jit") for s in ("exact", "dynamic", "bucket")
    }
    for backend in ("torch-eager", "jax-jit"):
        assert cells[backend, "dynamic"]["status"] == "skipped"
        assert cells[backend, "dynamic"]["error"].startswith("not applicable")
    exact, bucket = cells["jax-jit", "exact"], cells["jax-jit", "bucket"]
    for cell in (exact, bucket, cells["torch-eager", "exact"], cells["torch-eager", "bucket"]):
        assert cell["status"] == "ok", cell
        assert cell["n_steps"] == 64 and len(cell["step_ms"]) == len(cell["steady_step_ms"]) == 64
        assert cell["parity_max_rel_err"] < 1e-5 and len(cell["parity_steps"]) == 8
    # jax.jit traces once per distinct shape it is fed; buckets bound that.
    assert exact["compilations"] == exact["distinct_shapes"] > 5
    assert bucket["compilations"] == bucket["distinct_shapes"] <= 5
    assert exact["compilations_second_pass"] == 0 and exact["compile_s"] > 0
    assert exact["padding_waste"] == 0 and 0 < bucket["padding_waste"] < 0.5
    assert cells["torch-eager", "exact"]["compile_s"] is None
