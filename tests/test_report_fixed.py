"""The report's fixed-shape data: the tidy frame of cells, break-even, geometric means,
formatting; every number must be bench.analysis.metrics' own."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest

from bench.analysis import metrics
from bench.results.store import load_run
from report import discover, fmt, plots
from report.figures import to_svg
from report.sections import fixed
from tests.report_fixtures import CPU_RUN, CUDA_RUN, RUN_B


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    return fixed.cells_frame([load_run(CPU_RUN), load_run(CUDA_RUN)])


def one(cells, **where):
    mask = pd.Series(True, index=cells.index)
    for k, v in where.items():
        mask &= cells[k].astype(str) == str(v)
    assert mask.sum() == 1, where
    return cells[mask].iloc[0]


def test_one_row_per_cell_in_registry_and_run_order(cells):
    assert len(cells) == 28
    assert list(cells["model"].cat.categories) == ["mlp", "cnn"]
    assert list(cells["backend"].cat.categories) == [
        "torch-eager", "torch-compile", "jax-eager", "jax-jit", "tf-eager", "tf-xla",
    ]  # fmt: skip
    assert set(cells["source"]) == {"cpu", "cuda"}


def test_speedup_vs_eager_is_bench_metrics_own(cells):
    run = load_run(CPU_RUN)
    baselines = metrics.Baselines(run.results)
    for r in run.results:
        c = r.cell
        row = one(cells, device="cpu", model=c.model, mode=c.mode, batch_size=c.batch_size,
                  backend=c.backend)  # fmt: skip
        expected = metrics.speedup_vs_eager(r, baselines)
        assert (math.isnan(row["vs_eager"]) and expected is None) or row["vs_eager"] == expected


def test_speedup_vs_torch_eager_and_not_ok_cells(cells):
    r = one(cells, device="cpu", model="mlp", mode="train", backend="jax-eager")
    assert r["vs_torch_eager"] == pytest.approx(8.99 / 58.1, rel=0.01)  # a slowdown: < 1
    failed = one(cells, model="cnn", backend="jax-jit")
    assert failed["status"] == "failed" and math.isnan(failed["median_ms"])
    assert math.isnan(failed["vs_eager"]) and failed["samples_ms"] == []


def test_memory_comes_from_the_counter_of_the_device(cells):
    cpu = one(cells, device="cpu", model="mlp", mode="infer", batch_size=128, backend="jax-jit")
    assert cpu["memory_kind"] == "host" and cpu["memory_counter"].startswith("VmHWM")
    gpu = one(cells, device="cuda", backend="jax-jit")
    assert gpu["memory_kind"] == "device" and gpu["memory_bytes"] == 12.6e6
    assert gpu["memory_counter"] == "jax memory_stats()['peak_bytes_in_use']"


def test_achieved_flops_and_noisy_flag(cells):
    r = one(cells, device="cpu", model="mlp", mode="infer", batch_size=128, backend="tf-xla")
    assert r["flops_per_s"] == pytest.approx(476577792 / (r["median_ms"] / 1e3))
    assert list(cells.loc[cells["noisy"], "backend"].astype(str)) == ["jax-eager"]


def test_break_even_frame_pairs_static_with_own_eager(cells):
    pairs = fixed.break_even_frame(cells)
    keyed = {(r.model, r.mode, r.batch_size, r.source, r.backend): r for r in pairs.itertuples()}
    # Static cells that are ok and have an ok eager cell: 11 (not cnn jax-jit, cnn tf-xla,
    # mlp train tf-xla).
    assert len(pairs) == 11
    r = keyed[("mlp", "infer", 128, "cpu", "torch-compile")]
    assert r.eager_backend == "torch-eager"
    expected = (r.static_start_s - r.eager_start_s) / (
        (r.eager_median_ms - r.static_median_ms) / 1e3
    )
    assert r.break_even_steps == math.ceil(expected)  # whole steps
    assert r.static_start_s == pytest.approx(1.47 + 7.63)  # build + first call
    assert keyed[("mlp", "train", 128, "cpu", "jax-jit")].break_even_steps == 0.0
    assert fmt.steps(math.inf) == "never (∞)" and fmt.steps(114016.2) == "114,017"


def test_break_even_frame_of_a_run_with_no_static_backend_is_empty(cells):
    # Regression: a run of eager backends only (torch-eager, jax-eager) crashed the report.
    eager_only = cells[~cells["static"]]
    assert len(eager_only) > 0
    pairs = fixed.break_even_frame(eager_only)
    assert len(pairs) == 0 and "break_even_steps" in pairs.columns


def test_geomean_keeps_slowdowns_and_counts(cells):
    geo = fixed.geomean_frame(cells)
    g = geo[(geo["panel"] == "infer · cpu") & (geo["backend"] == "jax-jit")].iloc[0]
    assert (g["vs_eager_covered"], g["ok"], g["total"]) == (2, 2, 3)
    slow = geo[(geo["panel"] == "train · cpu") & (geo["backend"] == "jax-eager")].iloc[0]
    assert slow["vs_torch_eager"] < 0.2
    assert list(geo["panel"].unique()) == ["infer · cpu", "train · cpu", "infer · cuda"]


def test_two_runs_on_one_device_keep_their_own_baselines():
    both = fixed.cells_frame([load_run(CPU_RUN), load_run(RUN_B)])
    assert set(both["source"]) == {"cpu · 20260102-000000-cpu", "cpu · 20260104-000000-cpu"}
    slow = one(both, run_id="20260104-000000-cpu", model="mlp", mode="infer", batch_size=128,
               backend="torch-eager")  # fmt: skip
    assert slow["vs_eager"] == 1.0  # against its own run's torch-eager, not run A's


def test_samples_frame_has_every_raw_sample_of_ok_cells(cells):
    samples = fixed.samples_frame(cells)
    assert len(samples) == int(cells.loc[cells["status"] == "ok", "n"].sum())


@pytest.mark.parametrize(
    "value, text",
    [(58.0, "58.0"), (4.314, "4.31"), (0.005344, "0.00534"), (1234.5, "1,234"),
     (math.nan, "–"), (math.inf, "∞"), (0.0, "0")],
)  # fmt: skip
def test_significant_digits(value, text):
    assert fmt.sig(value) == text


def test_speedups_print_below_one():
    assert fmt.times(0.153) == "0.15×" and fmt.times(13.414) == "13.41×"


def test_plots_label_the_memory_counter(cells):
    fig = plots.peak_memory(cells)
    labels = {ax.get_xlabel() for ax in fig.axes if ax.get_visible() and ax.get_xlabel()}
    assert labels == {"peak host RSS (worker VmHWM), MiB", "peak device allocator memory, MiB"}


def test_svg_has_no_text_from_results_and_unique_ids():
    from matplotlib.figure import Figure

    fig = Figure()
    fig.subplots().set_title("<script>alert(1)</script> --> ]]>")
    a, b = str(to_svg(fig, "fa", "<t>")), str(to_svg(fig, "fb", "t"))
    assert "<script" not in a and "-->" not in a and "<!--" not in a
    assert "<title>&lt;t&gt;</title>" in a
    ids_a = set(__import__("re").findall(r'id="([^"]+)"', a))
    ids_b = set(__import__("re").findall(r'id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    assert a == str(to_svg(fig, "fa", "<t>"))  # deterministic: no dates, stable ids


def _copy(src, dst, **meta):
    shutil.copytree(src, dst)
    if meta:
        data = json.loads((dst / "run.json").read_text())
        data.update(meta)
        (dst / "run.json").write_text(json.dumps(data))


def test_newest_run_of_each_device(tmp_path):
    _copy(CPU_RUN, tmp_path / "a-cpu", started_utc="2026-01-01T00:00:00Z")
    _copy(RUN_B, tmp_path / "b-cpu", started_utc="2026-02-01T00:00:00Z")
    _copy(CUDA_RUN, tmp_path / "c-cuda")
    (tmp_path / "d-empty").mkdir()
    (tmp_path / "d-empty" / "run.json").write_text("{}")
    _copy(CPU_RUN, tmp_path / "e-future", started_utc="2027-01-01T00:00:00Z", schema_version=9)
    found, notes = discover.newest_runs(tmp_path)
    assert [p.name for p in found] == ["b-cpu", "c-cuda"]
    assert any("d-empty" in n and "no finished cell" in n for n in notes)
    assert any("e-future" in n and "schema_version 9" in n for n in notes)


def test_stream_cells_are_left_to_their_own_section(tmp_path):
    """A stream cell must not break the fixed-shape frame."""
    run = tmp_path / "run"
    shutil.copytree(CPU_RUN, run)
    record = json.loads((run / "cells.jsonl").read_text().splitlines()[0])
    record.update(scenario="dynamic", model="lstm", strategy="bucket", stream="uniform",
                  samples_ms=[], latency_ms=None, total_s=1.5)  # fmt: skip
    with open(run / "cells.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    loaded = load_run(run)
    assert len(fixed.cells_frame([loaded])) == 24  # the fixed cells only


def test_break_even_citation_says_why_it_never_pays_back():
    within = metrics.BreakEven(metrics.BreakEvenKind.WITHIN_NOISE, None, 0.984, 0.969, 1.001)
    pair = pd.Series(
        {
            "model": "lstm",
            "mode": "train",
            "batch_size": 32,
            "device": "cpu",
            "backend": "torchscript",
            "eager_backend": "torch-eager",
            "break_even": within,
            "break_even_steps": math.inf,
            "break_even_warm": metrics.BreakEven(metrics.BreakEvenKind.NOT_MEASURED),
            "break_even_warm_steps": math.nan,
            "static_start_s": 0.978,
            "eager_start_s": 0.901,
            "static_median_ms": 23.1,
            "eager_median_ms": 23.5,
            "run_id": "r1",
            "commit": "abc1234",
        }
    )
    assert fixed.cite_break_even(pair) == (
        "lstm train b32 cpu torchscript vs torch-eager: never breaks even, per-step gain "
        "within the noise: static/eager median 0.984, 95% CI 0.969-1.001; start "
        "0.978 s vs 0.901 s, median 23.1 ms vs 23.5 ms; run r1 @ abc1234"
    )
