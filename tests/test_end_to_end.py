"""The CLI as a user runs it: real workers, real frameworks, a tiny matrix."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.analysis import metrics
from bench.results.record import Status
from bench.results.store import load_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

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
    assert [r.cell.backend for r in run.results] == ["torch-eager", "jax-jit", "tf-graph"]
    for r in run.results:
        assert r.status is Status.OK, r
        assert r.parity.parity_max_rel_err < 1e-5
        assert len(r.steady.samples_ms) >= 10
        assert metrics.throughput_per_s(r) > 0 and r.first_call.first_call_s > 0
        assert r.memory.peak_host_rss_bytes > 50 * 2**20
        assert r.setup.framework_version and r.setup.packages
        assert (run_dir / r.process.log).is_file()
        assert r.sentinel.sentinel_before_ms > 0 and r.sentinel.sentinel_after_ms > 0
    assert run.meta.progress.sentinel_median_ms == metrics.sentinel_reference_ms(run.results)
    eager, jit, graph = run.results
    assert eager.warm.warm_start.startswith("no persistent compile cache")
    assert jit.warm.first_call_warm_s > 0 and "JAX persistent" in jit.warm.warm_start
    assert metrics.break_even(jit, None).kind is metrics.BreakEvenKind.NO_BASELINE
    assert graph.warm.first_call_warm_s is None  # tf.function keeps no cache between processes
    assert run.meta.progress.finished_utc and run.meta.progress.interrupted is False
    assert run.meta.identity.command.endswith("--out-dir " + str(tmp_path))
    assert run.meta.environment.key_packages["numpy"]

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
    results = load_run(run_dir).results
    assert [r.cell.backend for r in results] == ["torch-eager", "jax-jit", "tf-graph"]
    assert json.loads(lines[0]) == results[0].to_json()  # what was measured is never rewritten
    assert all(r.ok for r in results)


def test_stream_scenario_from_the_command_line(tmp_path):
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
    assert run_dir.name.endswith("-cpu-stream")
    assert "a stream of varying sequence lengths" in done.stdout
    run = load_run(run_dir)
    assert run.meta.plan.scenario_settings["streams"]["skewed"]["n_steps"] == 64
    cells = {(r.cell.backend, r.cell.strategy): r for r in run.results}
    assert set(cells) == {
        (b, s) for b in ("torch-eager", "jax-jit") for s in ("exact", "dynamic", "bucket")
    }
    for backend in ("torch-eager", "jax-jit"):
        assert cells[backend, "dynamic"].status is Status.NOT_APPLICABLE
    exact, bucket = cells["jax-jit", "exact"], cells["jax-jit", "bucket"]
    for r in (exact, bucket, cells["torch-eager", "exact"], cells["torch-eager", "bucket"]):
        assert r.ok, r
        p = r.passes
        assert len(p.lengths) == len(p.step_ms) == len(p.steady_step_ms) == 64
        assert r.parity.parity_max_rel_err < 1e-5 and len(p.parity_steps) == 8
    # jax.jit traces once per distinct shape it is fed; buckets bound that.
    assert exact.passes.compilations == metrics.distinct_shapes(exact) > 5
    assert bucket.passes.compilations == metrics.distinct_shapes(bucket) <= 5
    assert exact.passes.compilations_second_pass == 0 and metrics.compile_s(exact) > 0
    assert metrics.padding_waste(exact) == 0 and 0 < metrics.padding_waste(bucket) < 0.5
    assert metrics.compile_s(cells["torch-eager", "exact"]) is None
