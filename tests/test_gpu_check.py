"""gpu-check without a GPU: a fake NVML (the GPU list), fake probes and peak, the stand-in
worker (tests/fake_worker.py). Its order, its budget, its survival of a failed probe and
a broken report, its summary and its bundle; the curated GPU tests it runs first."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench import backends
from bench.cli import gpucheck
from bench.cli import run as run_cmd
from bench.cli.gpucheck import bundle, gpu_tests, plan, summary
from bench.matrix import scenarios
from bench.matrix.scenarios.base import MatrixRequest
from bench.parent import environment, peaks
from bench.parent import probes as probe
from bench.parent.runner import Runner
from bench.results.store import load_run
from tests.fakes import FAKE_WORKER

ROOT = Path(__file__).parents[1]
FLOOR = {"median": 8.0, "p90": 9.0}
RO = "torch-compile-reduce-overhead"


def fake_peak(framework, python, device, threads, precisions):
    """What bench.worker.peak reports, for a stand-in GPU of 10 TFLOP/s in float32."""
    return {
        "device": device,
        "framework": framework,
        "framework_version": f"{framework} 0.0",
        "gpu": "Stand-in GPU",
        "flops_per_s": {"float32": 1e13},
        "bound_by": {"float32": "plain"},
        "matmul": {"plain": {"n": 8192, "dtype": "float32", "repetitions": 10}},
    }


@pytest.fixture
def stand_in_gpu(monkeypatch):
    """A visible stand-in GPU (NVML faked), healthy probes, a measured peak, every framework
    taken as installed. Returns the probes' problems to plant: {framework: problem}."""
    gpu = {"index": 0, "name": "Stand-in GPU", "memory_bytes": 2**37, "driver": "580.0"}
    monkeypatch.setattr(environment, "gpus", lambda: ([gpu], None))
    monkeypatch.setattr(environment, "cuda_unavailable_reason", lambda: None)
    problems: dict[str, str] = {}

    def fake_probe(framework, python, device):
        return probe.Probe(
            framework, python, installed=True, sees_device=framework not in problems,
            floor_us=FLOOR, problem=problems.get(framework),
        )  # fmt: skip

    monkeypatch.setattr(probe, "run_probe", fake_probe)
    monkeypatch.setattr(peaks, "run_peak", fake_peak)
    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)
    return problems


def with_stand_in_worker(monkeypatch, tmp_path, reference_s: float = 0.0) -> Path:
    """Cells run by the stand-in worker; each reference by a stand-in that takes
    ``reference_s`` and records its name in the returned file."""
    made = tmp_path / "references.txt"
    script = tmp_path / "fake_expected.py"
    script.write_text(
        "import sys, time\n"
        f"time.sleep({reference_s})\n"
        "open(sys.argv[2], 'wb').write(b'stand-in reference')\n"
        f"open({str(made)!r}, 'a').write(sys.argv[2] + '\\n')\n"
    )
    job = [sys.executable, str(script)]
    monkeypatch.setattr(
        run_cmd, "Runner", lambda *a, **k: Runner(*a, worker=FAKE_WORKER, expected_job=job, **k)
    )
    monkeypatch.setenv("FAKE_WORKER", "ok")
    return made


def order_in(run_dir: Path) -> list[str]:
    """The cells that ran, in the order cells.jsonl kept them (skipped ones are kept first,
    without a worker)."""
    lines = (run_dir / "cells.jsonl").read_text().splitlines()
    ran = [c for c in map(json.loads, lines) if c["status"] != "skipped"]
    return [f"{c['backend']} {c['mode']} {c['model']}" for c in ran]


def gpu_check(capsys, *argv: str) -> Path:
    code = cli.main(["gpu-check", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    print(captured.err)
    return Path(captured.out.strip().splitlines()[-1])


# --- the order --------------------------------------------------------------------------


def default_cells(precisions=("float32",)) -> list:
    request = MatrixRequest(plan.MODELS, plan.BACKENDS, None, "cuda", "full", precisions=precisions)
    return scenarios.get("fixed").expand(request)


def test_the_riskiest_cells_come_first():
    ordered = plan.risk_order(default_cells())
    labels = [(c.backend, c.mode, c.model) for c in ordered]
    assert labels[:2] == [(RO, "infer", "mlp"), (RO, "train", "mlp")]
    compiled = {"torch-compile", RO}
    kinds = [c.backend in compiled for c in ordered]
    # Every torch.compile and reduce-overhead cell before any other.
    assert kinds == sorted(kinds, reverse=True) and sum(kinds) == 12
    rest = [c for c in ordered if c.backend not in compiled]
    assert [c.model for c in rest] == ["mlp"] * 6 + ["cnn"] * 6 + ["transformer"] * 6
    first_eager = labels.index(("torch-eager", "infer", "mlp"))
    assert all(
        labels.index((RO, m, x)) < first_eager for m in ("infer", "train") for x in plan.MODELS
    )


def test_the_order_is_a_permutation_and_keeps_float32_first():
    cells = default_cells(("float32", "bf16"))
    ordered = plan.risk_order(cells)
    assert sorted(c.key() for c in ordered) == sorted(c.key() for c in cells)
    assert [c.precision for c in ordered[:2]] == ["float32", "float32"]
    # Without reduce-overhead, torch.compile leads.
    no_graphs = [c for c in cells if c.backend != RO]
    assert plan.risk_order(no_graphs)[0].backend == "torch-compile"


# --- the curated GPU tests --------------------------------------------------------------


def test_the_curated_subset_is_the_mlp_training_and_every_precision():
    """``-m gpu_check`` collects (no GPU needed to collect) exactly the MLP on the four
    backends that are installed here, forward, an Adam step and every precision in both
    modes, and no max-autotune."""
    from bench.matrix.precision import PRECISIONS

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", gpu_tests.MARKER, str(gpu_tests.TEST_FILE)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ids = {line.split("::", 1)[1] for line in done.stdout.splitlines() if "::" in line}
    from tests.test_gpu import GPU_CHECK_BACKENDS

    chosen = [
        b
        for b in GPU_CHECK_BACKENDS
        if not backends.not_installed_reason(backends.get(b).framework)
    ]
    assert chosen == list(GPU_CHECK_BACKENDS)  # torch and JAX are installed here
    expected = set()
    for b in chosen:
        expected |= {f"test_forward_matches_the_reference_on_cuda[{b}-mlp]"}
        expected |= {f"test_one_adam_step_on_cuda[{b}-mlp]"}
        expected |= {
            f"test_each_precision_on_cuda[{mode}-{b}-mlp-{p}]"
            for mode in ("infer", "train")
            for p in PRECISIONS
        }
    assert ids == expected
    assert not [i for i in ids if "max-autotune" in i]


GOOD_AND_BAD = """
import time
import pytest

@pytest.mark.gpu_check
def test_good():
    import os
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"  # JAX takes what it uses

@pytest.mark.gpu_check
def test_bad():
    assert 1 == 2, "planted failure"

@pytest.mark.gpu_check
def test_long():
    time.sleep({sleep})

def test_not_in_the_subset():
    raise AssertionError("never collected")
"""


def test_the_gpu_tests_name_their_failures(monkeypatch, tmp_path):
    test_file = tmp_path / "test_planted.py"
    test_file.write_text(GOOD_AND_BAD.format(sleep=0))
    monkeypatch.setattr(gpu_tests, "TEST_FILE", test_file)
    outcome = gpu_tests.run(tmp_path, 120, skip=False)
    assert outcome.ran and "1 failed, 2 passed" in outcome.line
    assert len(outcome.failed) == 1 and outcome.failed[0].startswith("test_bad: ")
    log = (tmp_path / gpu_tests.LOG).read_text()
    assert re.search(r"^PASSED \S*test_planted.py::test_good", log, re.M)  # -rA: every test
    assert re.search(r"^FAILED \S*test_planted.py::test_bad", log, re.M)
    assert "never collected" not in log


def test_gpu_tests_over_their_budget_are_interrupted_and_still_named(monkeypatch, tmp_path):
    test_file = tmp_path / "test_planted.py"
    test_file.write_text(GOOD_AND_BAD.format(sleep=600))
    monkeypatch.setattr(gpu_tests, "TEST_FILE", test_file)
    start = time.monotonic()
    outcome = gpu_tests.run(tmp_path, 15, skip=False)
    assert time.monotonic() - start < 15 + gpu_tests.GRACE_S + 5
    assert outcome.line.startswith("stopped after 15 s")
    assert [f.split(":")[0] for f in outcome.failed] == ["test_bad"]  # the XML was written
    assert "stopped at the 15 s" in (tmp_path / gpu_tests.LOG).read_text()


def test_skipped_tests_say_so(tmp_path):
    assert gpu_tests.run(tmp_path, 10, skip=True).line == "not run (--skip-tests)"


# --- the whole check, with the stand-in worker ---------------------------------------------


def test_gpu_check_survives_a_failed_probe_and_a_broken_report(
    capsys, monkeypatch, tmp_path, stand_in_gpu
):
    """JAX's probe fails: its cells are skipped with the reason, torch's run, riskiest first.
    The report raises: summary.md says so and the check still exits 0. The bundle holds the
    named files, flat, and no reference."""
    stand_in_gpu["jax"] = "jax 0.11 (CUDA 13) sees no GPU"
    with_stand_in_worker(monkeypatch, tmp_path)

    def broken(kind):
        raise RuntimeError("the report template is broken")

    monkeypatch.setattr(gpucheck, "report_module", broken)
    written = []  # how many cells each summary.md it wrote had

    def write_summary(out_dir, found):
        written.append(len(found.results))
        return summary.write(out_dir, found)

    monkeypatch.setattr(gpucheck, "write_summary", write_summary)
    out, packed = tmp_path / "check", tmp_path / "gpu-check.tar.gz"
    run_dir = gpu_check(
        capsys, "--out-dir", str(out), "--models", "mlp", "--skip-tests", "--bundle", str(packed)
    )
    assert set(range(11)) <= set(written)  # again after each of the 10 cells
    order = order_in(run_dir)
    assert order[:2] == [f"{RO} infer mlp", f"{RO} train mlp"]
    assert order.index("torch-eager infer mlp") > order.index("torch-compile train mlp")
    run = load_run(run_dir)
    by_backend = {r.cell.backend: r for r in run.results}
    assert str(by_backend["jax-jit"].status) == "skipped"
    assert "sees no GPU" in by_backend["jax-jit"].error
    assert all(r.ok for r in run.results if r.cell.framework == "torch")
    assert run.meta.probes.device_peak["flops_per_s"] == {"float32": 1e13}
    text = (out / "summary.md").read_text()
    assert "- skipped jax: jax 0.11 (CUDA 13) sees no GPU" in text
    assert "report: failed: RuntimeError: the report template is broken" in text
    assert "- phase: done" in text
    assert re.search(r"- time per phase: GPU tests \d+ s, probes and the device peak \d+ s, "
                     r"cells \d+ s, report \d+ s", text)  # fmt: skip
    assert "10 of 10 cells recorded in the budget (8 ok), 0 not started" in text
    assert "device peak: cuda on Stand-in GPU: float32: 10 TFLOP/s" in text
    assert packed.stat().st_size < bundle.LIMIT_BYTES
    with tarfile.open(packed) as tar:
        names = tar.getnames()
    assert {"summary.md", "gpu-tests.log", "run.json", "cells.jsonl", "BUNDLE.txt"} <= set(names)
    assert any(n.startswith("logs/") for n in names)
    assert all(n.count("/") <= 1 for n in names)  # a folder deep at most
    assert not [n for n in names if n.startswith("expected") or n.endswith(".npz")]
    assert (run_dir / "expected").is_dir() and any((run_dir / "expected").iterdir())


def test_gpu_check_keeps_to_its_budget_references_included(
    capsys, monkeypatch, tmp_path, stand_in_gpu
):
    """Each reference takes 2.5 s: the budget runs out before every block. The check ends
    within it; references were computed only for the blocks of cells that started, the
    riskiest started first, and summary.md lists the rest as not started."""
    made = with_stand_in_worker(monkeypatch, tmp_path, reference_s=2.5)
    # A stand-in report: the real one takes longer on 2 busy cores than this budget's share
    # for it (on a GPU machine, seconds of the 40 s kept for it).
    page = type("Report", (), {"render_report": staticmethod(lambda runs, generated_by: "")})
    monkeypatch.setattr(gpucheck, "report_module", lambda kind: page)
    budget = 14.0
    start = time.monotonic()
    run_dir = gpu_check(
        capsys, "--out-dir", str(tmp_path / "check"), "--skip-tests", "--budget", str(budget),
        "--backends", f"torch-eager,{RO}",
    )  # fmt: skip
    assert time.monotonic() - start < budget
    run = load_run(run_dir)
    started = {(r.cell.model, r.cell.mode) for r in run.results}
    assert 2 <= len(run.results) < 12
    assert order_in(run_dir)[:2] == [f"{RO} infer mlp", f"{RO} train mlp"]
    references = made.read_text().splitlines() if made.exists() else []
    assert len(references) == len(started)  # one per block that started, none more
    assert all(r.ok for r in run.results)
    summary = (tmp_path / "check" / "summary.md").read_text()
    assert summary.count("| not started |") == 12 - len(run.results)


def test_gpu_check_summary_gives_each_cell_against_the_peak(
    capsys, monkeypatch, tmp_path, stand_in_gpu
):
    """A worker that returns a plausible CUDA result at once (in-process): the summary's
    rows, the fraction of the measured peak, the report, the GPU tests' line."""
    from bench.parent.cell_task import TaskResult, WorkerRun
    from bench.parent.executors import local

    def fake_task(task):
        cell = task.job.cell
        record = {"schema_version": 2, "run_id": task.job.run_id, **cell.to_dict(),
                  "status": "ok", "build_s": 0.1, "flops_per_step": 10**9,
                  "parity_max_rel_err": 2e-6, "parity_tolerance": 1e-3, "first_call_s": 0.5,
                  "warmup_ms": [3.0, 1.0], "samples_ms": [1.0, 1.0, 1.0], "pipeline_steps": 3,
                  "pipeline_s": 0.003, "peak_device_bytes": 2**30,
                  "device_memory_counter": "torch.cuda.max_memory_allocated",
                  "peak_gpu_process_bytes": 2**31, "gpu_process_memory_counter": "NVML",
                  "gpu_name": "Stand-in GPU", "gpu_uuid": "GPU-0"}  # fmt: skip
        return TaskResult(WorkerRun(record, 0, False, 0.1, "fake"), None, 0.1, "now", "host")

    monkeypatch.setattr(local, "run_task", fake_task)
    # The stand-in reads no reference: skip computing GPT-2's in float64 on 2 cores.
    monkeypatch.setattr(Runner, "ensure_expected", lambda self, cell: tmp_path / "unused.npz")
    out = tmp_path / "check"
    seen = []

    def tests_run(*a):  # summary.md is there before the first phase's work
        seen.append((out / "summary.md").read_text())
        return gpu_tests.TestsOutcome("48 passed in 3s")

    monkeypatch.setattr(gpu_tests, "run", tests_run)
    run_dir = gpu_check(capsys, "--out-dir", str(out), "--budget", "120")
    assert {"report.html", "summary.md", run_dir.name} <= {p.name for p in out.iterdir()}
    assert len((run_dir / "cells.jsonl").read_text().splitlines()) == 3 * 5 * 2
    [first] = seen
    assert "- phase: GPU tests;" in first and "- GPU tests: not run yet" in first
    assert first.count("| not started |") == 30
    summary = (out / "summary.md").read_text()
    assert "30 of 30 cells recorded in the budget (30 ok), 0 not started" in summary
    assert "- GPU tests: 48 passed in 3s" in summary and "- GPU: Stand-in GPU" in summary
    # 1e9 FLOP in 1 ms against a 10 TFLOP/s peak: 10%.
    assert "| mlp torch-eager infer cuda b2048 | ok | 2.00e-06 | 10.0% | 1,024 | 2,048 | - |" in (
        summary
    )
    assert "Stand-in GPU" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--models", "vgg"], "--models: unknown 'vgg'"),
        (["--backends", "torch-eager,nope"], "--backends: unknown 'nope'"),
        (["--backends", "torch-eager,"], "--backends: empty name"),
        (["--precisions", "fp8"], "--precisions: unknown 'fp8'"),
        (["--budget", "abc"], "expected a number of seconds"),
        (["--bundle", "TMP"], "is a directory; expected a file name"),
        (["--bundle", "TMP/no/b.tar.gz"], "does not exist"),
    ],
)
def test_bad_options_are_one_line(capsys, tmp_path, argv, expected):
    argv = [part.replace("TMP", str(tmp_path)) for part in argv]
    code = cli.main(["gpu-check", "--out-dir", str(tmp_path / "x"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and expected in err[-1] and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "x").exists()


def test_without_a_gpu_it_stops_in_seconds(tmp_path):
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "gpu-check", "--out-dir", str(tmp_path / "x")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and time.monotonic() - start < 30
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "gpu-check needs a CUDA device: none is visible" in lines[0]


# --- the bundle -----------------------------------------------------------------------------


def test_the_bundle_cuts_long_logs_and_stays_under_16_mib(tmp_path):
    """Logs of 40 MiB in all, hard to compress: the bundle keeps each log's head and tail,
    says what it cut, leaves out the report, and stays under the limit."""
    import os

    run_dir = tmp_path / "run"
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "expected").mkdir()
    (run_dir / "expected" / "ref.npz").write_bytes(b"0" * 1000)
    (run_dir / "run.json").write_text("{}")
    (run_dir / "cells.jsonl").write_text("")
    for i in range(40):
        data = b"first line\n" + os.urandom(2**20) + b"\nlast line: the error\n"
        (run_dir / "logs" / f"{i:03d}-cell.log").write_bytes(data)
    (tmp_path / "report.html").write_bytes(os.urandom(3 * 2**20))
    (tmp_path / "summary.md").write_text("# gpu-check\n")
    packed = tmp_path / "b.tar.gz"
    notes = bundle.write(packed, tmp_path, run_dir, [tmp_path / "summary.md"])
    assert packed.stat().st_size < bundle.LIMIT_BYTES
    with tarfile.open(packed) as tar:
        names = tar.getnames()
        log = tar.extractfile("logs/000-cell.log").read()
        note = tar.extractfile("BUNDLE.txt").read().decode()
    assert log.startswith(b"first line") and log.endswith(b"last line: the error\n")
    assert b"bytes cut by gpu-check's bundle" in log
    assert "report.html: left out" in note and "logs/000-cell.log: cut" in note
    assert notes and "ref.npz" not in " ".join(names) and names[0] == "summary.md"


def test_nothing_on_the_check_s_path_needs_tensorflow_or_nox():
    """The GPU machine has torch and JAX only, and no nox: the parent's modules of the check
    import no framework at all, and no nox (the workers import their own framework only)."""
    code = (
        "import sys\n"
        "from bench import __main__\n"
        "from bench.cli import gpucheck\n"
        "from bench.cli.pages import report_module\n"
        "report_module('html')\n"
        "import bench.worker.probe, bench.worker.peak, bench.worker.main, bench.worker.expected\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(roots & {'tensorflow', 'keras', 'nox', 'torch', 'jax'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_phase_that_breaks_still_leaves_the_summary_and_the_bundle(
    monkeypatch, tmp_path, stand_in_gpu
):
    """Whatever stops the check (here the peak's measurement raises), summary.md says in
    which phase and why, and the bundle is written before the error goes on up."""

    def broken(*a):
        raise RuntimeError("the peak's worker vanished")

    monkeypatch.setattr(run_cmd, "measure_peak", broken)
    out, packed = tmp_path / "check", tmp_path / "b.tar.gz"
    with pytest.raises(RuntimeError, match="vanished"):
        cli.main(["gpu-check", "--out-dir", str(out), "--skip-tests", "--bundle", str(packed)])
    text = (out / "summary.md").read_text()
    assert "- phase: stopped in probes and the device peak: RuntimeError: the peak's" in text
    with tarfile.open(packed) as tar:
        assert {"summary.md", "gpu-tests.log", "BUNDLE.txt"} <= set(tar.getnames())


def test_a_summary_row_gives_the_clocks_energy_and_cuda_graph_evidence_of_the_samples():
    from bench.matrix.cells import Cell
    from bench.results.record import CellResult, Gpu, Outcome, Status, Steady

    graphs = {"requested": True, "used": True, "replays": 96, "steps": 48, "steps_replayed": 46}
    graphs |= {"graphs_recorded": 2, "rerecordings": 0, "skips": 0, "why": []}
    steady = Steady(samples_ms=[1.0] * 10, pipeline_steps=10, pipeline_s=0.01, cuda_graphs=graphs)
    gpu = Gpu(gpu_sm_clock_samples_mhz=[1755, 1980, 1980], gpu_samples_energy_mj=4_000)
    cell = Cell("mlp", "torch-compile-reduce-overhead", "train", "cuda", 8, "full")
    r = CellResult("run", cell, outcome=Outcome(Status.OK), steady=steady, gpu=gpu)
    row = summary.row(r, None)
    assert row[-3] == "1755/1980/1980"
    assert row[-2] == "0.2"  # 4 J over 20 steps
    assert row[-1].startswith("used; replays 96; steps_replayed 46; steps 48; graphs_recorded 2")
    r = CellResult("run", cell, outcome=Outcome(Status.OK), steady=Steady(samples_ms=[1.0]))
    assert summary.row(r, None)[-3:] == ["-", "-", "-"]
