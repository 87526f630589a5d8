"""Ahead-of-time backends: the Artifact record group, time to first result for the three
execution styles, the registry's not-applicable cells, and (end to end) the artefact's
workers and an exporter that cannot handle a model.

Each AOT backend's parity on the MLP is tests/test_parity.py's (generated from the
registry, as for every backend); torch-aoti's is marked slow there (Inductor compiles).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import models
from bench import backends
from bench.analysis import metrics
from bench.analysis.summary_rows import start_table
from bench.matrix.cells import Cell
from bench.results.record import (
    Artifact,
    Build,
    CellResult,
    FirstCall,
    Outcome,
    Status,
    Steady,
    WarmStart,
)

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "run_v2" / "cells.jsonl"
EXAMPLES = ROOT / "examples" / "models"
AOT = [name for name, info in backends.BACKENDS.items() if info.artifact]


def cell(backend: str) -> Cell:
    return Cell("mlp", backend, "infer", "cpu", 128, "quick")


def result(backend: str, **groups) -> CellResult:
    return CellResult(run_id="r", cell=cell(backend), outcome=Outcome(Status.OK), **groups)


ARTIFACT = Artifact(
    artifact_build_s=20.0,
    artifact_bytes=7_000_000,
    artifact_files={"model.onnx": 7_000_000},
    load_s=0.15,
    load_first_call_s=0.05,
)


# --- the record --------------------------------------------------------------------------


def test_the_artifact_group_round_trips_and_earlier_records_have_none():
    r = result("onnxruntime", build=Build(build_s=0.1), artifact=ARTIFACT)
    back = CellResult.from_json(json.loads(json.dumps(r.to_json())), "x")
    assert back.artifact == ARTIFACT and back == r
    for line in GOLDEN.read_text().splitlines():  # a run made before the group existed
        assert CellResult.from_json(json.loads(line), "golden").artifact is None


def test_an_artifact_field_out_of_range_is_refused_in_one_line():
    from bench.errors import SchemaError

    data = {**result("onnxruntime", artifact=ARTIFACT).to_json(), "artifact_bytes": -1}
    with pytest.raises(SchemaError, match="field 'artifact_bytes': expected a number >= 0"):
        CellResult.from_json(data, "x")


# --- the metric --------------------------------------------------------------------------


def test_time_to_first_result_for_each_execution_style():
    build, first = Build(build_s=0.5), FirstCall(first_call_s=2.0)
    eager = result("torch-eager", build=build, first_call=first)
    jit = result(
        "torch-compile",
        build=build,
        first_call=first,
        warm=WarmStart(warm_start="cache", build_warm_s=0.4, first_call_warm_s=0.6),
    )
    aot = result("onnxruntime", build=build, first_call=first, artifact=ARTIFACT)
    assert metrics.time_to_first_result(eager) == pytest.approx(2.5)
    assert metrics.time_to_first_result(eager, warm=True) is None  # eager keeps no cache
    assert metrics.time_to_first_result(jit) == pytest.approx(2.5)
    assert metrics.time_to_first_result(jit, warm=True) == pytest.approx(1.0)
    # The cold-start worker's load and first call, not the timed worker's build and call.
    assert metrics.time_to_first_result(aot) == pytest.approx(0.2)
    assert metrics.time_to_first_result(aot, warm=True) == pytest.approx(0.2)
    assert metrics.time_to_first_result(aot, with_artifact_build=True) == pytest.approx(20.2)
    unloaded = result("onnxruntime", artifact=Artifact(artifact_build_s=20.0))
    assert metrics.time_to_first_result(unloaded) is None
    styles = [metrics.execution_style(r) for r in (eager, jit, aot)]
    assert styles == ["eager", "jit", "aot"]


def test_break_even_of_an_aot_cell_starts_from_its_cold_start():
    """Against eager, an AOT cell's start is the artefact's load and first call: its build
    is paid once, ahead of time."""
    samples = Steady(warmup_ms=[], samples_ms=[10.0, 10.1, 9.9] * 10)
    fast = Steady(warmup_ms=[], samples_ms=[5.0, 5.1, 4.9] * 10)
    eager = result(
        "torch-eager", build=Build(build_s=0.0), first_call=FirstCall(0.0), steady=samples
    )
    aot = result(
        "onnxruntime", build=Build(build_s=0.1), first_call=FirstCall(0.1), steady=fast,
        artifact=ARTIFACT,
    )  # fmt: skip
    found = metrics.break_even(aot, eager)
    # 0.2 s of start, 5 ms saved per step: 40 steps.
    assert found.kind is metrics.BreakEvenKind.STEPS and found.steps == 40


def test_the_start_table_sets_the_three_styles_side_by_side():
    build, first = Build(build_s=0.5), FirstCall(first_call_s=2.0)
    steady = Steady(samples_ms=[3.0, 3.0, 3.0])
    results = [
        result("torch-eager", build=build, first_call=first, steady=steady),
        result("torch-compile", build=build, first_call=first, steady=steady),
        result("onnxruntime", build=build, first_call=first, steady=steady, artifact=ARTIFACT),
    ]
    view = start_table(results)
    assert view is not None
    rows = {row[3]: dict(zip(view.headers, row, strict=True)) for row in view.rows}
    assert rows["onnxruntime"]["style"] == "aot" and rows["onnxruntime"]["artefact MB"] == "7"
    assert rows["onnxruntime"]["to first result s"] == "0.2"
    assert rows["torch-compile"]["style"] == "jit" and rows["torch-eager"]["load s"] == "-"
    assert start_table(results[:2]) is None  # no AOT cell: no table


# --- the registry ------------------------------------------------------------------------


@pytest.mark.parametrize("name", AOT)
def test_each_aot_backend_says_what_its_artefact_holds_and_why_it_does_not_train(name):
    info = backends.get(name)
    assert info.artifact and info.static
    assert info.not_applicable("train", "float32") == info.train_not_applicable
    assert info.not_applicable("infer", "float32") is None


def test_onnxruntime_needs_its_extra_and_refuses_bfloat16_with_the_reason(monkeypatch):
    info = backends.get("onnxruntime")
    assert "bfloat16" in (info.not_applicable("infer", "bf16") or "")
    # torch itself installed (the fast tier has no framework), onnxruntime not.
    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)
    real = backends.importlib.util.find_spec
    monkeypatch.setattr(
        backends.importlib.util,
        "find_spec",
        lambda name: None if name == "onnxruntime" else real(name),
    )
    reason = backends.backend_not_installed_reason("onnxruntime")
    assert reason == "onnxruntime not installed (pip install 'graphbench[onnx]')"
    assert backends.backend_not_installed_reason("torch-export") is None


# --- end to end --------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.slow
def test_an_exporter_that_cannot_handle_a_data_dependent_branch_fails_the_cell_and_the_run_goes_on(
    tmp_path, monkeypatch
):
    """EarlyExit (examples/models) branches on its data in a Python ``if``: torch.export
    cannot guard on it, so torch-export's cell is failed with torch.export's own error, from
    the artefact worker; jax-export's (``lax.cond``) builds, loads in a fresh process and
    runs, with its artefact's build, size and cold start recorded."""
    env = {**os.environ, models.MODEL_PATH_ENV: str(EXAMPLES)}
    # The records name a model of examples/models: known to this process's checks too.
    monkeypatch.setattr(models, "MODEL_NAMES", (*models.MODEL_NAMES, "earlyexit"))
    argv = [sys.executable, "-m", "bench", "run", "--models", "earlyexit", "--modes", "infer"]
    argv += ["--backends", "torch-export,jax-export", "--out-dir", str(tmp_path / "runs")]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = (tmp_path / "runs").iterdir()
    found = {}
    for line in (run / "cells.jsonl").read_text().splitlines():
        r = CellResult.from_json(json.loads(line), "x")
        found[r.cell.backend] = r
    failed, ok = found["torch-export"], found["jax-export"]
    assert failed.status is Status.FAILED and failed.artifact is None
    assert failed.error.startswith("GuardOnDataDependentSymNode: Could not guard on data-dependent")
    assert ok.ok and ok.parity and ok.parity.parity_max_rel_err < ok.parity.parity_tolerance
    a = ok.artifact
    assert a is not None and a.artifact_error is None
    assert set(a.artifact_files) == {"exported.bin", "params.npz"}
    assert a.artifact_bytes == sum(a.artifact_files.values()) > 0
    assert a.artifact_build_s > 0 and a.load_s > 0 and a.load_first_call_s > 0
    logs = {p.name for p in (run / "logs").iterdir()}
    assert any(n.endswith("jax-export-infer-b128-load.log") for n in logs)
    assert "time to first result" in done.stdout


def test_the_report_section_lists_the_artefact_and_draws_the_three_styles():
    from report import plots
    from report.sections import aot

    build, first = Build(build_s=0.5), FirstCall(first_call_s=2.0)
    steady = Steady(samples_ms=[3.0, 3.0, 3.0])
    cells = [
        result("torch-eager", build=build, first_call=first, steady=steady),
        result("torch-compile", build=build, first_call=first, steady=steady),
        result("onnxruntime", build=build, first_call=first, steady=steady, artifact=ARTIFACT),
    ]
    table = aot.start_table(cells)
    onnx = next(row.cells for row in table.rows if "onnxruntime" in row.cells[0])
    assert onnx[1] == "aot" and "model.onnx (7.00 MB)" in onnx[4] and onnx[6] == "0.200"
    frame = aot.start_frame(cells)
    assert list(frame["style"]) == ["eager", "jit", "aot"]
    assert list(frame["first_result_s"]) == pytest.approx([2.5, 2.5, 0.2])
    plots.first_result_vs_step(frame)  # draws: one panel, three styles


FAST_AOT = [n for n in AOT if not backends.get(n).slow_to_build]


@pytest.mark.framework
@pytest.mark.parametrize("name", FAST_AOT)
def test_an_artefact_loaded_alone_runs_another_batch_size(backend_class, tmp_path, name):
    """Exported for a batch of 4, then loaded by a backend given no weights (as the
    cold-start worker loads it): it runs a batch of 3 correctly, since the export declared
    the batch dimension dynamic."""
    from bench.worker.parity import max_rel_err
    from bench.worker.scenarios.fixed import inputs, reference_output

    cls = backend_class(name)
    cfg, params, batch = inputs("mlp", "quick", 4, seed=0)
    exporter = cls()
    exporter.use_artifact(tmp_path, export=True)
    exporter.build("mlp", cfg, params, "infer", "cpu")
    exporter.export_artifact(exporter.put(batch), tmp_path)
    loader = cls()
    loader.use_artifact(tmp_path, export=False)
    loader.build("mlp", cfg, {}, "infer", "cpu")  # no weights: they are in the artefact
    three = tuple(a[:3] for a in batch)
    out = loader.step(loader.put(three))
    loader.sync(out)
    got = loader.to_numpy(out)
    assert got.shape[0] == 3
    assert max_rel_err(got, reference_output("mlp", cfg, params, three, "infer")) < 1e-5
