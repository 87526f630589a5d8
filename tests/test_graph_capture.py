"""Graph capture (run --diagnose, bench.worker.capture): graphs, breaks, recompilations and
the first call's phases, read from each framework's own facilities.

The unmarked tests are harness logic (no framework). The framework tests diagnose real
backends in this process, as a diagnosing worker does (bench.worker.capture.diagnose): mlp on
torch.compile is one graph with no break in inference and breaks at backward() in training,
the early-exit model (examples/models) breaks at its ``if``, a jax.jit stream gives one
compilation reason per new shape, and the phases add up to the first call.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import models
from bench import __main__ as cli
from bench.analysis.capture import graphs_breaks, outside_the_graph, skipped_phases
from bench.errors import SchemaError
from bench.matrix.cells import Cell
from bench.matrix.job import CAPTURE_FILE
from bench.matrix.profiles import settings_for
from bench.results.record import (
    OTHER_PHASE,
    CellResult,
    GraphCapture,
    Outcome,
    Status,
    checked_fields,
)
from bench.worker import capture
from bench.worker.scenarios.base import Measurement
from tests.report_fixtures import CPU_RUN
from tests.stored_runs import copy_run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "models"
DATA_DEPENDENT = "Data-dependent branching"


# --- the record and the harness (no framework) ------------------------------------------


def test_graph_capture_round_trips_through_the_stored_record():
    found = GraphCapture(
        capture_tool="torch._dynamo counters",
        graphs=2,
        graph_breaks=1,
        break_reasons=[{"reason": DATA_DEPENDENT, "where": "m.py:9", "count": 1}],
        recompilations=1,
        recompile_reasons=[{"step": 3, "length": 48, "reason": "x: shape changed"}],
        capture_first_call_s=1.5,
        first_call_phases={"Dynamo tracing": 0.5, "other": 1.0},
        phase_tolerance_s=0.075,
        cache_counters={"inductor_fx_local_cache_miss_count": 1},
    )
    cell = Cell("mlp", "torch-compile", "infer", "cpu", 8, "quick")
    result = CellResult("r1", cell, Outcome(Status.OK))
    result = replace(result, graph_capture=found)
    assert CellResult.from_json(result.to_json(), "x").graph_capture == found


@pytest.mark.parametrize(
    "data, message",
    [
        ({"graphs": -1}, "field 'graphs': expected a number >= 0"),
        ({"graph_breaks": "two"}, "field 'graph_breaks': expected an integer"),
        ({"first_call_phases": {"trace": float("inf")}}, "expected a finite number"),
        ({"graphz": 1}, "unknown field(s) graphz"),
        ([1], "expected a JSON object"),
    ],
)
def test_a_diagnosing_workers_file_is_checked_as_the_record_is(data, message):
    with pytest.raises(SchemaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        checked_fields(GraphCapture, data, "capture.json")


def test_other_is_what_the_framework_attributes_to_no_phase():
    phases = capture.with_other({"trace": 0.25, "lower": 0.0, "XLA compile": 1.25}, 2.0)
    assert phases == {"trace": 0.25, "XLA compile": 1.25, "other": 0.5}  # zero phases dropped
    assert capture.tolerance_s(10.0) == pytest.approx(0.5)
    assert capture.tolerance_s(0.1) == capture.PHASE_TOLERANCE_MIN_S


def test_source_lines_are_shown_from_the_checkout_or_the_installed_package():
    assert capture.short_where(f"{capture.REPO}/models/x/torch.py:12") == "models/x/torch.py:12"
    assert capture.short_where("/v/lib/site-packages/torch/optim/a.py:7") == "torch/optim/a.py:7"
    message = f"f defined at {capture.REPO}/bench/x.py:3, /v/lib/site-packages/jax/y.py:9"
    assert capture.short_paths(message) == "f defined at bench/x.py:3, jax/y.py:9"


def test_the_summary_column_is_graphs_slash_breaks():
    assert graphs_breaks(GraphCapture(graphs=3, graph_breaks=2)) == "3/2"
    assert graphs_breaks(None) == "-"
    assert graphs_breaks(GraphCapture(capture_error="failed")) == "-"


WARM = GraphCapture(
    first_call_phases={"Dynamo tracing": 0.5, "Inductor code generation": 1.0, "other": 0.1},
    warm_first_call_s=0.7,
    warm_phases={"Dynamo tracing": 0.5, "other": 0.2},
    warm_cache_counters={"inductor_fx_local_cache_hit_count": 1, "x_miss_count": 0},
)


def test_the_warm_worker_shows_the_phases_its_cache_skipped():
    assert skipped_phases(WARM) == ["Inductor code generation"]
    assert skipped_phases(replace(WARM, warm_phases={})) == []  # no warm worker: nothing said


def test_cuda_graph_skips_count_as_outside_the_graph():
    found = GraphCapture(fallbacks=["fallback_op x2"], cuda_graph_skips=1)
    found = replace(found, cuda_graph_skip_reasons=["mutated inputs (1 instances)"])
    assert outside_the_graph(found) == [
        "fallback_op x2",
        "CUDA graphs skipped ×1: mutated inputs (1 instances)",
    ]
    assert outside_the_graph(GraphCapture(cuda_graph_skips=0)) == []


def _with_capture(run: Path, label: str, found: GraphCapture) -> None:
    """Add a GraphCapture to the cell ``label`` of a stored run."""
    from dataclasses import asdict

    lines = []
    for line in (run / "cells.jsonl").read_text().splitlines():
        data = json.loads(line)
        if CellResult.from_json(data, "x").cell.label() == label:
            data.update(asdict(found))
        lines.append(json.dumps(data))
    (run / "cells.jsonl").write_text("\n".join(lines) + "\n")


PLANTED = "mlp torch-compile infer cpu b128"


def test_compare_fails_on_a_new_graph_break_naming_its_reason(tmp_path, capsys):
    """The same run twice, but B's torch-compile cell gained a data-dependent break."""
    a, b = copy_run(CPU_RUN, tmp_path / "a"), copy_run(CPU_RUN, tmp_path / "b")
    _with_capture(a, PLANTED, GraphCapture(graphs=1, graph_breaks=0, recompilations=0))
    new = {"reason": DATA_DEPENDENT, "where": "models/x/torch.py:25", "count": 1}
    _with_capture(b, PLANTED, GraphCapture(graphs=2, graph_breaks=1, break_reasons=[new]))
    assert cli.main(["compare", str(a), str(a), "--fail-on-regression"]) == 0
    capsys.readouterr()
    assert cli.main(["compare", str(a), str(b), "--fail-on-regression"]) == 1
    err = capsys.readouterr().err
    assert "1 cell(s) gained graph breaks or recompilations" in err
    assert f"{PLANTED} (graph breaks 0 -> 1" in err
    assert f"new: {DATA_DEPENDENT} at models/x/torch.py:25" in err
    # The other way round is no regression: fewer breaks.
    assert cli.main(["compare", str(b), str(a), "--fail-on-regression"]) == 0
    assert "graph capture changes" in capsys.readouterr().out


def test_the_report_has_a_graph_capture_section(tmp_path):
    from bench.results.store import load_run
    from report.html import render_report

    run = copy_run(CPU_RUN, tmp_path)
    found = replace(
        WARM,
        graphs=2,
        graph_breaks=1,
        break_reasons=[{"reason": DATA_DEPENDENT, "where": "models/x/torch.py:25", "count": 1}],
        capture_first_call_s=1.6,
        cuda_graph_skips=1,
        cuda_graph_skip_reasons=["mutated inputs"],
    )
    _with_capture(run, PLANTED, found)
    page = render_report([load_run(run)])
    assert 'id="graph-capture"' in page and 'id="fig-graph-capture"' in page
    assert f"{DATA_DEPENDENT} at models/x/torch.py:25 (×1)" in page
    assert "Dynamo tracing 0.500 s" in page
    assert "not run: Inductor code generation" in page
    assert "cache hits: inductor_fx_local_cache_hit_count 1" in page
    assert "CUDA graphs skipped ×1: mutated inputs" in page
    assert 'id="graph-capture"' not in render_report([load_run(CPU_RUN)])  # none diagnosed


def test_graph_capture_has_one_writer_and_it_reads_the_workers_file():
    """The runner builds the group (runner.graph_capture_of), from capture.json only."""
    source = (ROOT / "bench" / "parent" / "runner.py").read_text()
    calls = {
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(c, ast.Call) and getattr(c.func, "id", None) == "GraphCapture"
            for c in ast.walk(node)
        )
    }
    assert calls == {"graph_capture_of"}


# --- real backends, diagnosed in this process -------------------------------------------


@pytest.fixture
def example_models(monkeypatch):
    """examples/models importable as models.<name> and known to the record's checks (what
    GRAPHBENCH_MODEL_PATH does when the process starts)."""
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(EXAMPLES)])
    monkeypatch.setattr(models, "MODEL_NAMES", (*models.MODEL_NAMES, "earlyexit"))


def diagnosed(
    tmp_path: Path,
    backend_class,
    backend: str,
    model: str,
    mode: str,
    cfg=None,
    batch_size: int = 8,
    batches: list | None = None,
    lengths: list[int] | None = None,
    device: str = "cpu",
) -> dict:
    """What a diagnosing worker writes (capture.json) for one cell, diagnosed here."""
    spec = models.spec(model)
    cfg = cfg or spec.PROFILES["quick"]
    b = backend_class(backend, device)()
    b.build(model, cfg, spec.init_params(cfg, 0), mode, device)
    if batches is None:
        batches = [spec.make_batch(cfg, batch_size, 1)] * (1 + capture.AFTER_STEPS)
    m = Measurement(
        cell=Cell(model, backend, mode, device, batch_size, "quick"),
        settings=settings_for("quick"),
        backend=b,
        expected={},
        tolerance=0.0,
        phase="diagnose",
        clock=__import__("time").perf_counter,
        save=lambda r: None,
        result=CellResult("test", Cell(model, backend, mode, device, batch_size, "quick")),
        trace_dir=str(tmp_path),
    )
    assert capture.diagnose(m, [b.put(x) for x in batches], lengths).status is Status.OK
    out = json.loads((tmp_path / CAPTURE_FILE).read_text())
    checked_fields(GraphCapture, out, "capture.json")  # what the runner will accept
    return out


def assert_phases_add_up(out: dict) -> None:
    """The phases (other included) are the first call, and the framework's own phases do
    not exceed it by more than the stated tolerance."""
    phases, total = out["first_call_phases"], out["capture_first_call_s"]
    assert sum(phases.values()) == pytest.approx(total, abs=1e-5)
    assert phases[OTHER_PHASE] >= -out["phase_tolerance_s"], phases
    assert len(phases) > 1, phases  # the framework attributed something


@pytest.fixture
def cold_inductor(monkeypatch, tmp_path):
    """An empty Inductor cache of the test's own (a worker's is its cell's: cell_task), and
    no compilation left by earlier tests in this process: a diagnosing worker is a fresh
    process, where another test's compilation of the same step (with other thread settings)
    would not count as this cell's recompilation."""
    import torch

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    torch._dynamo.reset()


def small_mlp():
    return models.spec("mlp").Config(in_features=16, hidden=(32,), classes=4)


FRESH = "GRAPHBENCH_TEST_FRESH_PROCESS"


def in_a_fresh_process(test_id: str) -> bool:
    """Run this test again in an interpreter of its own, as a diagnosing worker is (an
    earlier test's in-process Inductor work, an AOTInductor build say, would otherwise be
    counted in this compile's phases): True in the outer run, which then only checks that
    the inner one passed; False inside it, which does the work."""
    if os.environ.get(FRESH):
        return False
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "framework"]
    done = subprocess.run(
        [*argv, f"{__file__}::{test_id}"],
        env={**os.environ, FRESH: "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    return True


@pytest.mark.framework
@pytest.mark.slow
def test_mlp_torch_compile_infer_is_one_graph_without_a_break(
    tmp_path, backend_class, cold_inductor
):
    if in_a_fresh_process("test_mlp_torch_compile_infer_is_one_graph_without_a_break"):
        return
    out = diagnosed(tmp_path, backend_class, "torch-compile", "mlp", "infer", small_mlp())
    assert (out["graphs"], out["graph_breaks"], out["break_reasons"]) == (1, 0, [])
    assert out["recompilations"] == 0
    assert "cuda_graph_skips" not in out  # no CUDA graphs asked for, or possible, here
    assert_phases_add_up(out)
    assert {"Dynamo tracing", "Inductor code generation"} <= set(out["first_call_phases"])
    assert out["cache_counters"]["inductor_fx_local_cache_hit_count"] == 0  # cold


@pytest.mark.framework
@pytest.mark.slow
def test_mlp_torch_compile_train_breaks_at_backward_with_its_reason(
    tmp_path, backend_class, cold_inductor
):
    out = diagnosed(tmp_path, backend_class, "torch-compile", "mlp", "train", small_mlp())
    source = (ROOT / "bench" / "backends" / "torch_backends.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if text.strip() == "loss.backward()")
    at_backward = [b for b in out["break_reasons"] if b["where"].endswith(f"_backends.py:{line}")]
    assert at_backward, out["break_reasons"]
    assert "backward()" in at_backward[0]["reason"] and at_backward[0]["count"] >= 1
    assert out["graph_breaks"] >= 1 and out["graphs"] >= 2
    assert_phases_add_up(out)


@pytest.mark.gpu
@pytest.mark.framework
@pytest.mark.slow
def test_reduce_overhead_on_cuda_says_whether_inductor_skipped_cuda_graphs(
    tmp_path, backend_class, cold_inductor
):
    """torch-compile-reduce-overhead on CUDA: Inductor's count of graphs it did not record as
    CUDA graphs, with a reason for each skip; no such fields on the CPU (test above)."""
    from bench.parent.environment import cuda_unavailable_reason

    if cuda_unavailable_reason() is not None:
        pytest.skip(f"no CUDA device: {cuda_unavailable_reason()}")
    out = diagnosed(
        tmp_path,
        backend_class,
        "torch-compile-reduce-overhead",
        "mlp",
        "train",
        small_mlp(),
        device="cuda",
    )
    assert isinstance(out["cuda_graph_skips"], int) and out["cuda_graph_skips"] >= 0
    assert bool(out["cuda_graph_skips"]) == bool(out["cuda_graph_skip_reasons"]), out
    assert_phases_add_up(out)


def _if_line(framework: str) -> int:
    source = (EXAMPLES / "earlyexit" / f"{framework}.py").read_text().splitlines()
    return next(i for i, text in enumerate(source, 1) if text.strip().startswith("if confidence"))


@pytest.mark.framework
@pytest.mark.slow
def test_the_control_flow_model_breaks_torch_compile_at_its_if(
    tmp_path, backend_class, example_models
):
    out = diagnosed(tmp_path, backend_class, "torch-compile", "earlyexit", "infer")
    where = f"examples/models/earlyexit/torch.py:{_if_line('torch')}"
    found = [b for b in out["break_reasons"] if b["where"] == where]
    assert found, out["break_reasons"]
    assert found[0]["reason"] == DATA_DEPENDENT and found[0]["count"] >= 1
    assert out["graphs"] >= 2


@pytest.mark.framework
@pytest.mark.parametrize("backend", ["jax-jit", "tf-graph"])
def test_the_control_flow_model_is_one_graph_per_shape_on_jax_and_tf(
    tmp_path, backend_class, example_models, backend
):
    """lax.cond and AutoGraph's tf.cond keep the branch inside one graph: one compilation
    per shape, none for a repeated shape, nothing left outside."""
    spec = models.spec("earlyexit")
    cfg = spec.PROFILES["quick"]
    batches = [spec.make_batch(cfg, n, 1) for n in (8, 8, 16, 8)]
    out = diagnosed(tmp_path, backend_class, backend, "earlyexit", "infer", batches=batches)
    assert (out["graphs"], out["graph_breaks"], out["fallbacks"]) == (2, 0, [])
    assert out["recompilations"] == 1 and len(out["recompile_reasons"]) == 1
    assert "16" in out["recompile_reasons"][0]["reason"]  # the new batch size, as given
    assert_phases_add_up(out)


@pytest.mark.framework
@pytest.mark.slow
def test_a_jax_jit_stream_gives_one_compilation_reason_per_new_shape(tmp_path, backend_class):
    from bench.worker.scenarios.stream import fed_batches

    cell = Cell("lstm", "jax-jit", "infer", "cpu", 4, "quick", scenario="stream")
    cell = replace(cell, stream="uniform", strategy="exact")
    cfg, params, fed, _, fed_lengths = fed_batches(cell, 0)
    steps = 10
    b = backend_class("jax-jit")()
    b.build("lstm", cfg, params, "infer", "cpu")
    m = Measurement(
        cell=cell,
        settings=settings_for("quick"),
        backend=b,
        expected={},
        tolerance=0.0,
        phase="diagnose",
        clock=__import__("time").perf_counter,
        save=lambda r: None,
        result=CellResult("test", cell),
        trace_dir=str(tmp_path),
    )
    data = [b.put(x) for x in fed[:steps]]
    capture.diagnose(m, data, [int(n) for n in fed_lengths[:steps]])
    out = json.loads((tmp_path / CAPTURE_FILE).read_text())
    seen: list[int] = []
    firsts = [i for i, n in enumerate(fed_lengths[:steps]) if n not in seen and not seen.append(n)]
    reasons = out["recompile_reasons"]
    assert [r["step"] for r in reasons] == firsts, reasons
    assert [r["length"] for r in reasons] == [int(fed_lengths[i]) for i in firsts]
    assert reasons[0]["reason"].startswith("never seen function")
    # The same in every run and on every machine: no object id, no path of this checkout.
    assert not any(" id=" in r["reason"] or str(ROOT) in r["reason"] for r in reasons), reasons
    for r in reasons[1:]:  # JAX's explanation names the input whose shape changed
        assert "different input types" in r["reason"] and str(r["length"]) in r["reason"]
    assert out["graphs"] == len(firsts) == len(np.unique(fed_lengths[:steps]))


def _html_text(page: str) -> str:
    """A page's text, tags and figures dropped, whitespace collapsed."""
    page = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.mark.e2e
@pytest.mark.slow
def test_run_diagnose_on_the_control_flow_model_as_a_user_would(tmp_path, example_models):
    """End to end, the planted model (GRAPHBENCH_MODEL_PATH=examples/models) on torch-compile,
    jax-jit and tf-graph with --diagnose: torch-compile breaks at the model's ``if`` for
    data-dependent branching, jax-jit and tf-graph compile it once; the cold first calls'
    phases add up; the warm diagnosing workers hit the caches the cold ones filled; the
    summary's graphs/breaks column and the report's section show it."""
    env = {**os.environ, models.MODEL_PATH_ENV: str(EXAMPLES)}
    argv = [sys.executable, "-m", "bench", "run", "--models", "earlyexit", "--modes", "infer"]
    argv += ["--backends", "torch-compile,jax-jit,tf-graph", "--profile", "quick"]
    argv += ["--diagnose", "--out-dir", str(tmp_path / "runs")]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = (tmp_path / "runs").iterdir()
    check_the_diagnosed_run(run, done.stdout, env, tmp_path / "report.html")


def check_the_diagnosed_run(run: Path, summary: str, env: dict, page_path: Path) -> None:
    found = {}
    for line in (run / "cells.jsonl").read_text().splitlines():
        r = CellResult.from_json(json.loads(line), "x")
        assert r.ok and r.graph_capture is not None and r.graph_capture.capture_error is None
        found[r.cell.backend] = r.graph_capture
    torch_, jax_, tf_ = found["torch-compile"], found["jax-jit"], found["tf-graph"]
    where = f"examples/models/earlyexit/torch.py:{_if_line('torch')}"
    assert [(b["reason"], b["where"]) for b in torch_.break_reasons] == [(DATA_DEPENDENT, where)]
    assert torch_.graph_breaks == 1 and torch_.graphs >= 2
    for g in (jax_, tf_):
        assert (g.graphs, g.graph_breaks, g.recompilations) == (1, 0, 0)
    assert "graphs/breaks" in summary and f" {torch_.graphs}/1 " in summary
    for g in (torch_, jax_):  # cold, then warm from the cold one's persistent cache
        assert_phases_add_up(
            {
                "first_call_phases": g.first_call_phases,
                "capture_first_call_s": g.capture_first_call_s,
                "phase_tolerance_s": g.phase_tolerance_s,
            }
        )
        assert g.warm_first_call_s is not None and OTHER_PHASE in g.warm_phases
    assert torch_.cache_counters["inductor_fx_local_cache_hit_count"] == 0
    assert torch_.warm_cache_counters["inductor_fx_local_cache_hit_count"] >= 1
    assert "Inductor code generation" in skipped_phases(torch_)
    assert jax_.cache_counters.get("persistent_cache_misses", 0) >= 1
    assert jax_.warm_cache_counters.get("persistent_cache_hits", 0) >= 1

    argv = [sys.executable, "-m", "bench", "report", str(run), "-o", str(page_path)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    page = page_path.read_text()
    section = _html_text(page[page.index('<section id="graph-capture"') :].split("</section>")[0])
    assert f"{DATA_DEPENDENT} at {where} (×1)" in section
    for backend in ("jax-jit", "tf-graph"):
        assert f"earlyexit infer {backend} · cpu 1 0 0 " in section


@pytest.mark.framework
def test_torchscript_scripts_the_control_flow_model_whole(tmp_path, backend_class, example_models):
    """torch.jit.script compiles the early exit's ``if`` into the graph (prim::If): one graph,
    no break, nothing in a fallback graph; TorchScript times no compile phase of its own."""
    out = diagnosed(tmp_path, backend_class, "torchscript", "earlyexit", "infer")
    assert (out["graphs"], out["graph_breaks"], out["fallbacks"]) == (1, 0, [])
    assert out["capture_tool"] == "torch.jit.last_executed_optimized_graph()"
    assert list(out["first_call_phases"]) == [OTHER_PHASE]


# --- the parent: the diagnosing workers' files become the group, failures a reason -------


def _runner_and_task(tmp_path):
    from bench.parent.runner import Runner

    (tmp_path / "run").mkdir()
    runner = Runner(tmp_path / "run", "r1", settings_for("quick"), diagnose=True)
    cell = Cell("mlp", "jax-jit", "infer", "cpu", 8, "quick")
    task = runner.task(cell, tmp_path / "expected.npz", None)
    assert task.diagnose and task.warm_start  # a static backend with a persistent cache
    return runner, task, cell


def _worker(result: dict | None = None, exit_code: int = 0):
    from bench.parent.cell_task import WorkerRun

    return WorkerRun(result, exit_code, False, 1.0, "last line of its log\n")


def test_the_parent_merges_the_warm_diagnosis_beside_the_cold_one(tmp_path):
    from bench.parent.cell_task import TaskResult

    runner, task, _ = _runner_and_task(tmp_path)
    cold = {"graphs": 1, "graph_breaks": 0, "capture_first_call_s": 2.0}
    warm = {"capture_first_call_s": 0.5, "first_call_phases": {OTHER_PHASE: 0.5}}
    warm["cache_counters"] = {"persistent_cache_hits": 1}
    outcome = TaskResult(_worker(), diagnosed=_worker(), capture=cold)
    outcome.diagnosed_warm, outcome.capture_warm = _worker(), warm
    g = runner.graph_capture_of(task, outcome, "000-x")
    assert (g.graphs, g.capture_first_call_s, g.warm_first_call_s) == (1, 2.0, 0.5)
    assert g.warm_cache_counters == {"persistent_cache_hits": 1} and g.capture_error is None
    assert (tmp_path / "run" / "logs" / "000-x-diagnose-warm.log").is_file()
    task_without = replace(task, diagnose=False)
    assert runner.graph_capture_of(task_without, outcome, "000-x") is None


def test_a_failing_diagnosing_worker_is_a_reason_and_the_cell_is_kept(tmp_path):
    from bench.parent.cell_task import TaskResult

    runner, task, cell = _runner_and_task(tmp_path)
    raised = CellResult("r1", cell, Outcome(Status.FAILED, "RuntimeError: boom")).to_json()
    outcome = TaskResult(_worker(), diagnosed=_worker(raised))
    g = runner.graph_capture_of(task, outcome, "000-x")
    assert g == GraphCapture(capture_error="the diagnosing worker failed: RuntimeError: boom")
    outcome = TaskResult(_worker(), diagnosed=_worker(), capture={"graphs": 1})
    outcome.diagnosed_warm = _worker(exit_code=-11)
    g = runner.graph_capture_of(task, outcome, "000-x")
    assert g.graphs == 1 and g.capture_error.startswith(
        "the warm diagnosing worker failed: worker died of SIGSEGV"
    )
    outcome = TaskResult(_worker(), diagnosed=_worker(), capture={"graphs": "one"})
    g = runner.graph_capture_of(task, outcome, "000-x")
    assert g.capture_error.startswith("the diagnosing worker wrote capture.json: field 'graphs'")
