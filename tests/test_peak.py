"""The device's measured peak (bench.worker.peak): % of peak and the impossible flag
(bench.analysis.metrics)
on hand-made results, in the summary and the report; run.json's ``device_peak`` validated;
and, in the framework tier, the measurement itself in its own process."""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import __main__ as cli
from bench.analysis import metrics, summary
from bench.errors import SchemaError
from bench.matrix.cells import Cell
from bench.parent import peaks
from bench.results import device_peak
from bench.results.probe import Probe
from bench.results.record import Build, CellResult, FirstCall, Outcome, Passes, Status, Steady
from bench.results.store import load_run, read_meta
from bench.worker import peak
from tests.fakes import FakeClock, with_stand_in_worker
from tests.report_fixtures import CPU_RUN
from tests.stored_runs import copy_run

# One framework's measurement (what ``python -m bench.worker.peak`` prints)...
TORCH = {
    "device": "cpu",
    "framework": "torch",
    "framework_version": "2.13.0+cpu",
    "threads": 2,
    "statistic": device_peak.STATISTIC,
    "flops_per_s": {"float32": 1e9, "bf16": 4e9},
    "bound_by": {"float32": "float32", "bf16": "bfloat16"},
    "matmul": {
        "float32": {
            "flops_per_s": 1e9,
            "dtype": "float32",
            "tf32": False,
            "n": 1024,
            "repetitions": 10,
        },
        "bfloat16": {
            "flops_per_s": 4e9,
            "dtype": "bfloat16",
            "tf32": False,
            "n": 2048,
            "repetitions": 10,
        },
    },
    "memory": {"bytes_per_s": 2e10, "bytes": 256 * 2**20, "repetitions": 10},
    "contention": 0.01,
    "problem": None,
}
# ... and run.json's device_peak, which combines the run's frameworks'.
PEAK = peaks.combine("cpu", {"torch": TORCH})


def fixed(median_ms: float, flops: int = 1_000_000, precision: str = "float32", **kw):
    """A fixed-shape cell: ``flops`` FLOPs per step in ``median_ms``."""
    cell = Cell(
        "mlp",
        kw.pop("backend", "torch-eager"),
        "infer",
        kw.pop("device", "cpu"),
        8,
        "quick",
        precision=precision,
    )
    status = kw.pop("status", Status.OK)
    samples = [median_ms] * 20 if status is Status.OK else []
    return CellResult(
        "run",
        cell,
        Outcome(status),
        build=Build(0.1, flops),
        first_call=FirstCall(0.1),
        steady=Steady([], samples, 20, 0.02 * median_ms),
    )


# --- bench.analysis.metrics ----------------------------------------------------------------------


def test_fraction_of_peak_is_achieved_flops_over_the_precisions_peak():
    r = fixed(4.0)  # 1e6 FLOPs in 4 ms: 2.5e8 FLOP/s
    assert metrics.achieved_flops_per_s(r) == pytest.approx(2.5e8)
    assert metrics.fraction_of_peak(r, PEAK) == pytest.approx(0.25)
    assert not metrics.impossible(r, PEAK)
    bf16 = fixed(4.0, precision="bf16")
    assert metrics.fraction_of_peak(bf16, PEAK) == pytest.approx(2.5e8 / 4e9)


def test_a_planted_cell_faster_than_the_peak_is_impossible():
    planted = fixed(0.5)  # 1e6 FLOPs in 0.5 ms: 2e9 FLOP/s, twice the peak
    assert metrics.fraction_of_peak(planted, PEAK) == pytest.approx(2.0)
    assert metrics.impossible(planted, PEAK)
    exactly = fixed(1.0)  # at the peak, not above it
    assert metrics.fraction_of_peak(exactly, PEAK) == pytest.approx(1.0)
    assert not metrics.impossible(exactly, PEAK)


@pytest.mark.parametrize(
    "device_peak, r",
    [
        (None, fixed(0.5)),  # a run that measured no peak (or predates it)
        ({"device": "cpu", "problem": "no framework"}, fixed(0.5)),
        ({**PEAK, "device": "cuda"}, fixed(0.5)),  # another device's peak
        (PEAK, fixed(0.5, precision="amp-bf16")),  # no peak for this precision
        ({**PEAK, "flops_per_s": {"float32": True}}, fixed(0.5)),
        ({**PEAK, "flops_per_s": {"float32": -1.0}}, fixed(0.5)),
        ({**PEAK, "flops_per_s": {"float32": math.inf}}, fixed(0.5)),
        (PEAK, fixed(0.5, status=Status.FAILED)),  # no median
        (PEAK, fixed(0.5, flops=0)),  # no FLOP count
    ],
)
def test_fraction_of_peak_is_none_where_either_side_is_unknown(device_peak, r):
    assert metrics.fraction_of_peak(r, device_peak) is None
    assert not metrics.impossible(r, device_peak)


def test_a_stream_cell_has_no_fraction_of_peak():
    # Its FLOP count is for one length, its steps are of many: no share of a peak.
    cell = Cell(
        "lstm",
        "torch-eager",
        "infer",
        "cpu",
        8,
        "quick",
        scenario="stream",
        strategy="exact",
        stream="skewed",
    )
    passes = Passes([16], [16], [0], [0.001], [], [0.001], 0, 0)
    r = CellResult("run", cell, Outcome(Status.OK), build=Build(0.1, 10**12), passes=passes)
    assert metrics.achieved_flops_per_s(r) is not None
    assert metrics.fraction_of_peak(r, PEAK) is None


def test_the_definitions_name_the_functions():
    assert (
        metrics.DEFINITIONS["fraction_of_peak"].function
        == "bench.analysis.metrics.fraction_of_peak"
    )
    assert "100%" in metrics.DEFINITIONS["impossible"].text


# --- bench.worker.peak, without a framework ----------------------------------------------------


def test_each_precision_maps_to_the_matmul_that_bounds_it():
    assert {
        p: peak.matmul_mode(p) for p in ("float32", "tf32", "amp-bf16", "bf16", "amp-fp16")
    } == {
        "float32": "float32",
        "tf32": "tf32",
        "amp-bf16": "bfloat16",
        "bf16": "bfloat16",
        "amp-fp16": "float16",
    }
    assert peak.mode_dtype("tf32") == ("float32", True)
    assert peak.mode_dtype("bfloat16") == ("bfloat16", False)
    # A CPU has no TF32 or fp16 AMP: only float32 and what applies is measured.
    assert peak.modes_for(["amp-fp16", "tf32", "bf16"], "cpu") == ["float32", "bfloat16"]
    assert peak.modes_for(["amp-fp16", "tf32", "bf16", "amp-bf16"], "cuda") == [
        "float32",
        "float16",
        "tf32",
        "bfloat16",
    ]


def test_a_precisions_peak_is_the_faster_of_its_mode_and_float32():
    matmul = {
        "float32": {"flops_per_s": 2e11},
        "bfloat16": {"flops_per_s": 1e11},
        "tf32": {"problem": "RuntimeError: no"},
    }
    flops, bound_by = peak.bounds(matmul, ["float32", "bf16", "tf32"])
    # bfloat16 slower than float32 (a CPU without bf16 units): a framework may upcast.
    assert flops == {"float32": 2e11, "bf16": 2e11, "tf32": 2e11}
    assert bound_by == {"float32": "float32", "bf16": "float32", "tf32": "float32"}
    flops, bound_by = peak.bounds({**matmul, "bfloat16": {"flops_per_s": 9e11}}, ["bf16"])
    assert flops == {"bf16": 9e11} and bound_by == {"bf16": "bfloat16"}


class FakeKernels:
    """An operation whose call takes size * per_unit seconds of a fake clock, but for a
    disturbed call now and then; a size of ``oom`` or more fails as out of memory."""

    def __init__(self, clock: FakeClock, per_unit: float, oom: int | None = None):
        self.clock, self.per_unit, self.oom = clock, per_unit, oom
        self.calls = 0
        self.made: list[int] = []

    def make(self, size: int):
        self.made.append(size)
        if self.oom is not None and size >= self.oom:
            raise MemoryError("out of memory")

        def run(calls: int) -> None:
            for _ in range(calls):
                self.calls += 1
                slow = 3.0 if self.calls % 4 == 0 else 1.0  # another process's burst
                self.clock.advance(size * self.per_unit * slow)

        return run


def test_the_kernel_grows_until_a_call_is_long_enough_and_the_best_repetition_counts():
    clock = FakeClock()
    kernels = FakeKernels(clock, per_unit=1e-5)  # 512: 5.12 ms, the first long enough
    t = peak.time_kernel(kernels.make, [256, 512, 1024], clock=clock)
    assert t.size == 512 and kernels.made == [256, 512]
    assert t.best_s == pytest.approx(5.12e-3)  # the undisturbed calls
    assert t.median_s >= t.best_s
    assert peak.REPETITIONS <= len(t.per_call_s) <= peak.MAX_REPETITIONS
    assert sum(t.per_call_s) * t.calls_per_repetition >= peak.MIN_TIMED_S


def test_a_size_that_runs_out_of_memory_keeps_the_last_that_ran():
    clock = FakeClock()
    kernels = FakeKernels(clock, per_unit=1e-9, oom=1024)  # never long enough
    t = peak.time_kernel(kernels.make, [256, 512, 1024, 2048], clock=clock)
    assert t.size == 512 and "1024 failed (MemoryError)" in t.note
    # Short calls are timed in blocks: a repetition lasts at least TARGET_OP_S.
    assert t.calls_per_repetition * 512e-9 >= peak.TARGET_OP_S
    with pytest.raises(MemoryError):
        peak.time_kernel(FakeKernels(clock, 1e-9, oom=1).make, [256], clock=clock)


class NumpyPeak:
    """A stand-in backend class whose peak kernels are NumPy's (no framework imported)."""

    @classmethod
    def peak_matmul(cls, device, n, dtype, tf32):
        if dtype != "float32":
            raise TypeError(f"no {dtype} matmul here")
        a = b = np.ones((n, n), np.float32)
        out = np.empty((n, n), np.float32)

        def run(calls):
            for _ in range(calls):
                np.matmul(a, b, out=out)

        return run, "np.matmul"

    @classmethod
    def peak_copy(cls, device, nbytes):
        src = np.ones(nbytes // 4, np.float32)
        dst = np.empty_like(src)

        def run(calls):
            for _ in range(calls):
                np.copyto(dst, src)

        return run, "np.copyto"


def test_a_measurement_records_how_it_was_taken(monkeypatch):
    monkeypatch.setattr(peak, "MAX_N", {"cpu": 1024})
    monkeypatch.setattr(peak, "MAX_COPY_BYTES", 0)  # the smallest copy that streams
    m = peak.measure_matmul(NumpyPeak, "cpu", "float32")
    assert m["op"] == "np.matmul" and m["dtype"] == "float32" and m["tf32"] is False
    assert m["n"] in (512, 1024) and m["flops_per_call"] == 2 * m["n"] ** 3
    assert m["flops_per_s"] == pytest.approx(m["flops_per_call"] / m["best_s"])
    assert m["best_s"] <= m["median_s"] and m["repetitions"] >= peak.REPETITIONS
    copy = peak.measure_copy(NumpyPeak, "cpu")
    assert copy["bytes"] == peak.copy_sizes("cpu")[0] and copy["op"] == "np.copyto"
    assert copy["bytes_per_s"] == pytest.approx(2 * copy["bytes"] / copy["best_s"])
    # A mode the framework cannot run is recorded with why; the others are still taken.
    failed = peak._guarded(functools.partial(peak.measure_matmul, NumpyPeak, "cpu", "bfloat16"))
    assert failed == {"problem": "TypeError: no bfloat16 matmul here"}


def test_the_copy_streams_from_memory():
    sizes = peak.copy_sizes("cpu")
    assert sizes[0] >= max(peak.MIN_COPY_BYTES, peak.LLC_FACTOR * peak.largest_cache_bytes())
    assert all(b == 2 * a for a, b in itertools.pairwise(sizes))
    assert peak.matmul_sizes("cpu")[-1] == peak.MAX_N["cpu"]


def test_every_working_framework_of_the_run_measures():
    def probe(framework, problem=None):
        return Probe(framework, sys.executable, installed=problem is None, problem=problem)

    probes = {"tf": probe("tf"), "jax": probe("jax"), "torch": probe("torch", "not installed")}
    assert peaks.frameworks_of(probes) == ["jax", "tf"]  # torch is not installed here
    assert peaks.frameworks_of({**probes, "torch": probe("torch")}) == ["torch", "jax", "tf"]
    assert peaks.frameworks_of({}) == []
    # No framework to measure in: recorded, not raised, and no process started.
    assert peaks.for_run({}, {}, "cpu", 2, ["float32"]) == {
        "device": "cpu",
        "problem": "no framework of this run could be probed",
    }


def test_the_runs_peak_is_the_highest_any_framework_reached():
    # One framework's matmul is not the device's: MKL's sgemm on an AMD CPU reached 220
    # GFLOP/s where XLA's reached 500.
    jax = {
        **TORCH,
        "framework": "jax",
        "framework_version": "jax 0.10.2, jaxlib 0.10.2",
        "flops_per_s": {"float32": 2.5e9, "bf16": 2.5e9},
        "bound_by": {"float32": "float32", "bf16": "float32"},
        "matmul": {"float32": {**TORCH["matmul"]["float32"], "flops_per_s": 2.5e9}},
        "memory": {**TORCH["memory"], "bytes_per_s": 1e10},
        "contention": 0.2,
    }
    tf = {"device": "cpu", "framework": "tf", "problem": "tensorflow not installed"}
    combined = peaks.combine("cpu", {"torch": TORCH, "jax": jax, "tf": tf})
    assert combined["flops_per_s"] == {"float32": 2.5e9, "bf16": 4e9}
    assert combined["bound_by"] == {
        "float32": {"framework": "jax", "matmul": "float32"},
        "bf16": {"framework": "torch", "matmul": "bfloat16"},
    }
    assert combined["memory"]["bytes_per_s"] == 2e10 and combined["memory"]["framework"] == "torch"
    assert combined["contention"] == 0.2 and combined["problem"] is None
    assert combined["frameworks"]["tf"]["problem"] == "tensorflow not installed"
    assert device_peak.describe(combined, "float32").startswith(
        "cpu: float32: 2.5 GFLOP/s (jax 0.10.2, jaxlib 0.10.2 matmul 1024×1024 float32"
    )
    # Where none measured anything, the run has no peak, and says why.
    failed = peaks.combine("cpu", {"tf": tf})
    assert failed["problem"] == "tf: tensorflow not installed" and failed["flops_per_s"] == {}
    assert metrics.fraction_of_peak(fixed(0.5), failed) is None


def test_describe_says_how_the_peak_was_measured():
    text = device_peak.describe(PEAK)
    assert text.startswith("cpu: float32: 1 GFLOP/s (torch 2.13.0+cpu matmul 1024×1024 float32")
    assert "best of 10" in text and "memory: 20 GB/s" in text and "256 MiB" in text
    assert device_peak.describe(PEAK, "bf16") == (
        "cpu: bf16: 4 GFLOP/s (torch 2.13.0+cpu matmul 2048×2048 bfloat16, best of 10)"
    )
    assert device_peak.describe(None) == "no peak measured"
    assert device_peak.describe({"problem": "boom"}) == "no peak: boom"


def test_a_failed_peak_process_is_recorded_not_raised(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'ImportError: no bench here' >&2\nexit 1\n")
    fake.chmod(0o755)
    got = peaks.run_peak("torch", str(fake), "cpu", 1, ["float32"])
    assert got["problem"] == f"measuring the peak in {fake} failed: ImportError: no bench here"


# --- the summary and the report ---------------------------------------------------------


def test_the_summary_flags_a_planted_impossible_cell():
    ok, planted, noisy_planted = (
        fixed(4.0),
        fixed(0.5, backend="jax-jit"),
        fixed(0.5, backend="tf-eager"),
    )
    spread = [0.3, 0.5, 0.7] * 7  # IQR/median 80%: noisy
    noisy_planted = CellResult(
        noisy_planted.run_id,
        noisy_planted.cell,
        noisy_planted.outcome,
        build=noisy_planted.build,
        first_call=noisy_planted.first_call,
        steady=Steady([], spread, 21, 0.01),
    )
    results = [ok, planted, noisy_planted]
    (view,) = summary.tables(results, PEAK)
    status = {row[view.headers.index("backend")]: row[-1] for row in view.rows}
    assert status["torch-eager"] == "ok"
    assert status["jax-jit"] == "ok (impossible: 200% of measured peak)"
    assert status["tf-eager"] == "ok (noisy, impossible: 200% of measured peak)"
    # Without the run's peak nothing is flagged; the Markdown summary flags it too.
    assert "impossible" not in str(summary.tables(results))
    assert "ok (impossible: 200% of measured peak)" in summary.markdown(results, PEAK)


def planted_run(tmp_path: Path) -> Path:
    """report_cpu with a measured peak of 400 GFLOP/s float32 (every real cell of it stays
    below) and one planted record: mlp infer b32 torch-eager claims 3× its FLOPs (511
    GFLOP/s, 127.9% of the peak)."""
    run = copy_run(CPU_RUN, tmp_path)
    meta = json.loads((run / "run.json").read_text())
    torch = {
        **TORCH,
        "flops_per_s": {"float32": 4e11},
        "bound_by": {"float32": "float32"},
        "matmul": {"float32": {**TORCH["matmul"]["float32"], "flops_per_s": 4e11}},
    }
    meta["device_peak"] = peaks.combine("cpu", {"torch": torch})
    (run / "run.json").write_text(json.dumps(meta))
    lines = (run / "cells.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert (first["model"], first["backend"], first["batch_size"]) == ("mlp", "torch-eager", 32)
    first["flops_per_step"] *= 3
    (run / "cells.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    return run


def test_the_report_shows_percent_of_peak_and_warns_of_the_planted_cell(tmp_path):
    pytest.importorskip("pandas")
    from report.sections import fixed as fixed_section

    run_dir = planted_run(tmp_path)
    run = load_run(run_dir)
    cells = fixed_section.cells_frame([run])
    assert int(cells["impossible"].sum()) == 1
    by_cell = {
        (r.cell.model, r.cell.mode, r.cell.batch_size, r.cell.backend): r for r in run.results
    }
    for _, row in cells.iterrows():
        r = by_cell[(row["model"], row["mode"], row["batch_size"], row["backend"])]
        expected = metrics.fraction_of_peak(r, run.meta.probes.device_peak)
        assert (expected is None and math.isnan(row["fraction_of_peak"])) or row[
            "fraction_of_peak"
        ] == expected

    out = tmp_path / "report.html"
    assert cli.main(["report", str(run_dir), "-o", str(out)]) == 0
    page = out.read_text()
    assert re.search(
        r'<p class="warning">1 ok cell\(s\) achieve more FLOP/s than their '
        r"device(&#39;|')s measured peak",
        page,
    )
    assert "127.9% impossible" in page  # the summary table's % of peak column
    header = re.search(r'<th[^>]*title="([^"]*)"[^>]*>% of peak</th>', page)
    assert header, "the % of peak column has a tooltip"
    assert "bench.analysis.metrics.fraction_of_peak" in header.group(1)
    assert "torch 2.13.0+cpu matmul 1024×1024 float32" in header.group(1)  # where it came from
    assert re.search(r"IMPOSSIBLE: 127.9% of the device(&#39;|')s measured float32 peak", page)
    assert "cpu: float32: 400 GFLOP/s (torch 2.13.0+cpu matmul" in page  # cited
    assert "bench.analysis.metrics.fraction_of_peak" in page  # the figure's caption


def test_a_run_without_a_peak_shows_no_share_and_no_warning(tmp_path):
    pytest.importorskip("pandas")
    out = tmp_path / "report.html"
    assert cli.main(["report", str(CPU_RUN), "-o", str(out)]) == 0
    page = out.read_text()
    assert "measured peak for their" not in page and "No run measured its device" in page


# --- run.json -----------------------------------------------------------------------------


def with_peak(tmp_path: Path, device_peak) -> Path:
    run = copy_run(CPU_RUN, tmp_path)
    meta = json.loads((run / "run.json").read_text())
    meta["device_peak"] = device_peak
    (run / "run.json").write_text(json.dumps(meta))
    return run


def test_run_json_keeps_a_valid_peak_and_one_that_failed(tmp_path):
    assert read_meta(with_peak(tmp_path / "a", PEAK)).probes.device_peak == PEAK
    failed = {"device": "cpu", "framework": "torch", "problem": "boom"}
    assert read_meta(with_peak(tmp_path / "b", failed)).probes.device_peak == failed


@pytest.mark.parametrize(
    "device_peak, message",
    [
        ([1e9], "field 'device_peak': expected an object"),
        ([], "field 'device_peak': expected an object"),
        ({**PEAK, "device": 0}, "field 'device_peak.device': expected a string"),
        ({**PEAK, "flops_per_s": [1e9]}, "field 'device_peak.flops_per_s': expected an object"),
        (
            {**PEAK, "flops_per_s": {"float32": "fast"}},
            "field 'device_peak.flops_per_s.float32': expected a positive number of FLOP/s",
        ),
        (
            {**PEAK, "flops_per_s": {"float32": 0}},
            "field 'device_peak.flops_per_s.float32': expected a positive number of FLOP/s",
        ),
        (
            {**PEAK, "flops_per_s": {"float64": 1e9}},
            "field 'device_peak.flops_per_s.float64': expected precision names",
        ),
        (
            {**PEAK, "frameworks": {"torch": 5}},
            "field 'device_peak.frameworks.torch': expected an object",
        ),
        ({**PEAK, "bound_by": "jax"}, "field 'device_peak.bound_by': expected an object"),
        (
            {**PEAK, "memory": {"bytes_per_s": -1}},
            "field 'device_peak.memory.bytes_per_s': expected a positive number of bytes/s",
        ),
        ({**PEAK, "memory": "fast"}, "field 'device_peak.memory': expected an object"),
    ],
)
def test_a_bad_peak_is_refused_with_one_line_naming_the_field(tmp_path, device_peak, message):
    run = with_peak(tmp_path, device_peak)
    with pytest.raises(SchemaError) as caught:
        read_meta(run)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(str(run / "run.json")) and message in text


# One cheap cell: enough for a run to measure (or fail to measure) its peak.
ONE_CELL_RUN = ["run", "--models", "mlp", "--backends", "torch-eager", "--modes", "infer"]


def test_a_run_records_its_peak_in_run_json(tmp_path, monkeypatch):
    with_stand_in_worker(monkeypatch)
    asked = []

    def fake_for_run(probes, pythons, device, threads, precisions):
        asked.append((device, threads, sorted(set(precisions))))
        return PEAK

    monkeypatch.setattr(peaks, "for_run", fake_for_run)
    assert cli.main([*ONE_CELL_RUN, "--threads", "1", "--out-dir", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert load_run(run_dir).meta.probes.device_peak == PEAK
    assert asked == [("cpu", 1, ["float32"])]


def test_a_run_with_no_framework_to_measure_in_says_so(tmp_path, monkeypatch):
    with_stand_in_worker(monkeypatch)  # its probes find nothing
    assert cli.main([*ONE_CELL_RUN, "--out-dir", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert load_run(run_dir).meta.probes.device_peak["problem"] == (
        "no framework of this run could be probed"
    )


# --- the measurement, for real ----------------------------------------------------------


def _positive_finite(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.mark.framework
@pytest.mark.parametrize("framework", peaks.PREFERENCE)
def test_the_peak_is_measured_in_a_process_of_its_own(framework):
    from bench import backends

    reason = backends.not_installed_reason(framework)
    if reason:
        pytest.fail(f"{framework}: {reason}; the test suite needs every framework")
    got = peaks.run_peak(framework, sys.executable, "cpu", 1, ["float32", "tf32"])
    assert peaks.combine("cpu", {framework: got})["flops_per_s"] == got["flops_per_s"]
    assert got["problem"] is None, got
    assert got["framework"] == framework and got["device"] == "cpu"
    assert len(got["cpu_affinity"]) == 1  # pinned as a worker with --threads 1 is
    # Never a speed: machines are shared. Only that each number is there and finite.
    assert list(got["flops_per_s"]) == ["float32"]  # tf32 does not apply on a CPU
    assert _positive_finite(got["flops_per_s"]["float32"])
    m = got["matmul"]["float32"]
    assert m["dtype"] == "float32" and m["tf32"] is False and m["n"] >= peak.MIN_N
    assert m["repetitions"] >= peak.MIN_REPETITIONS and m["best_s"] <= m["median_s"]
    assert _positive_finite(got["memory"]["bytes_per_s"])
    assert got["memory"]["bytes"] >= peak.MIN_COPY_BYTES
    assert got["statistic"].startswith("best")


@pytest.mark.e2e
@pytest.mark.framework
def test_a_real_run_records_a_finite_peak_and_share(tmp_path):
    command = [sys.executable, "-m", "bench", *ONE_CELL_RUN, "--out-dir", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "graphbench: device peak: cpu: float32:" in done.stderr
    run = load_run(Path(done.stdout.strip().splitlines()[-1]))
    device_peak = run.meta.probes.device_peak
    assert list(device_peak["frameworks"]) == ["torch"] and device_peak["problem"] is None
    assert _positive_finite(device_peak["flops_per_s"]["float32"])
    assert _positive_finite(device_peak["memory"]["bytes_per_s"])
    (r,) = run.results
    # Whether it is below 1 is not asserted: a busy machine can slow the peak's measurement.
    fraction = metrics.fraction_of_peak(r, device_peak)
    assert fraction is not None and math.isfinite(fraction) and fraction > 0
