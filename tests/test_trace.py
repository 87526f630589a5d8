"""``run --trace``: a profiling worker after the measured ones, its files kept, its top
operations by self time read from the Chrome trace without a framework."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench.analysis import traces as trace
from bench.results.record import Trace
from bench.results.store import Run, load_run
from tests.report_fixtures import CPU_RUN


def event(name, ts, dur, tid=1, **more):
    return {"ph": "X", "name": name, "ts": ts, "dur": dur, "pid": 1, "tid": tid, **more}


def test_self_time_is_duration_minus_direct_children_per_thread():
    events = [
        event("step", 0, 100),
        event("matmul", 10, 50),
        event("kernel", 20, 30),  # inside matmul
        event("relu", 70, 20),
        event("other-thread", 0, 40, tid=2),
        event("ProfilerStep#1", 0, 100),  # a step marker: not an operation
        event("$ python frame", 0, 100),  # the Python tracer's: not an operation
        {"ph": "i", "name": "instant", "ts": 5},
    ]
    times = trace.self_times_us(events)
    assert times == {"step": 30.0, "matmul": 20.0, "kernel": 30.0, "relu": 20.0,
                     "other-thread": 40.0}  # fmt: skip


def test_top_ops_per_step_and_share_from_a_gzipped_trace(tmp_path):
    path = tmp_path / "trace.json.gz"
    events = [event("a", 0, 3000), event("b", 5000, 1000)]
    path.write_bytes(gzip.compress(json.dumps({"traceEvents": events}).encode()))
    ops = trace.top_ops(path, steps=2, most=1)
    assert ops == [{"name": "a", "self_ms_per_step": 1.5, "share": 0.75}]


def traced_run(tmp_path: Path, files: dict[str, str]) -> Run:
    """The committed CPU run with a trace on its first two ok cells."""
    run = load_run(CPU_RUN)
    folder = tmp_path / "run"
    folder.mkdir()
    results = []
    for i, r in enumerate(run.results):
        if i < 2 and r.ok:
            names = []
            for name, text in files.items():
                target = folder / "traces" / f"c{i}" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
                names.append(f"traces/c{i}/{name}")
            ops = [{"name": f"op<{i}>", "self_ms_per_step": 1.0 + i, "share": 0.5}]
            r = replace(r, trace=Trace(trace_tool="torch.profiler", trace_steps=5,
                                       trace_files=names, top_ops=ops))  # fmt: skip
        results.append(r)
    return Run(folder, run.meta, results, [])


def test_the_report_links_each_trace_and_shows_top_ops_side_by_side(tmp_path):
    from report import html

    run = traced_run(tmp_path, {"trace.json": "{}"})
    page = html.render_report([run], report_dir=tmp_path)
    assert 'href="run/traces/c0/trace.json"' in page
    assert "op&lt;0&gt;" in page and "op&lt;1&gt;" in page  # escaped, both backends
    assert "Profiler traces: where the steps go" in page


def test_a_hostile_trace_name_is_never_a_link(tmp_path):
    from report.sections.fixed import trace_link

    (tmp_path / "traces").mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    assert trace_link(str(tmp_path), "../secret.txt", tmp_path) == "../secret.txt"
    assert trace_link(str(tmp_path), "javascript:alert(1)", tmp_path) == "javascript:alert(1)"
    assert trace_link(str(tmp_path), "traces/missing.json", tmp_path) == "traces/missing.json"


@pytest.mark.e2e
@pytest.mark.slow
def test_trace_leaves_a_parseable_file_per_cell_and_times_nothing_under_the_profiler(tmp_path):
    backends = "torch-eager,torch-compile,jax-jit,tf-graph"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--trace", "--models", "cnn", "--backends",
         backends, "--modes", "infer", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run = load_run(done.stdout.strip().splitlines()[-1])
    assert len(run.results) == 4
    for r in run.results:
        assert r.ok and r.trace is not None and r.trace.trace_error is None, r.cell.label()
        assert r.trace.top_ops and r.trace.trace_steps == trace.TRACE_STEPS
        chrome = [f for f in r.trace.trace_files if ".json" in f]
        assert trace.load_events(run.path / chrome[0])  # parses as a Chrome trace
        for xplane in [f for f in r.trace.trace_files if f.endswith(".xplane.pb")]:
            check_xplane(run.path / xplane, r.cell.framework)
        # The measured worker ran without a profiler: its log is apart from the trace's.
        assert (run.path / r.process.log).is_file()
        assert (run.path / r.process.log.replace(".log", "-trace.log")).is_file()
    html_page = tmp_path / "report.html"
    assert subprocess.run([sys.executable, "-m", "bench", "report", str(run.path), "-o",
                           str(html_page)], capture_output=True).returncode == 0  # fmt: skip
    assert "Profiler traces: where the steps go" in html_page.read_text()


def check_xplane(path: Path, framework: str) -> None:
    """An XSpace file opens with the profiler's own loader."""
    if framework == "jax":
        import jax

        assert jax.profiler.ProfileData.from_file(str(path)).planes
    else:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        assert space.planes


def test_a_traced_run_exports_to_csv(tmp_path):
    from report import data
    from report.sections import fixed

    text = data.cells_csv(fixed.cells_frame([traced_run(tmp_path, {"trace.json": "{}"})]))
    assert '"op<0>"' in text.replace('""', '"') and "traces/c0/trace.json" in text
