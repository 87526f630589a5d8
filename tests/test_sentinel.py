"""The sentinel: slow windows seen, flagged and measured again (bench.worker.sentinel,
bench.analysis.metrics.is_slow_window, run --remeasure-slow)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench.analysis import compare, metrics, summary
from bench.results.record import SLOW_WINDOW_SHARE, CellResult, Sentinel
from bench.results.store import load_run
from bench.worker.sentinel import SentinelWatch, SentinelWorkload
from tests.fakes import with_stand_in_worker

GOLDEN = Path(__file__).parent / "data" / "run_v2" / "cells.jsonl"
RUN = ["run", "--models", "mlp", "--backends", "torch-eager,jax-jit,tf-eager", "--modes", "infer"]


def test_the_sentinel_times_the_same_work_before_and_after():
    ticks = iter(range(100))
    watch = SentinelWatch(SentinelWorkload(clock=lambda: next(ticks) * 0.002))
    assert watch.group() is None  # no samples were taken
    watch.before()
    watch.after()
    assert watch.group() == Sentinel(sentinel_before_ms=2.0, sentinel_after_ms=2.0)


def _record(before: float, after: float) -> CellResult:
    line = json.loads(GOLDEN.read_text().splitlines()[0])
    line.update(sentinel_before_ms=before, sentinel_after_ms=after)
    return CellResult.from_json(line, "test")


@pytest.mark.parametrize(
    "before, after, slow",
    [(10.0, 10.0, False), (10.0, 11.4, False), (10.0, 11.6, True), (13.0, 10.0, True)],
)
def test_a_cell_is_in_a_slow_window_when_its_slower_sentinel_time_is_past_the_share(
    before, after, slow
):
    r = _record(before, after)
    assert metrics.sentinel_ms(r) == max(before, after)
    assert metrics.slow_window_ratio(r, 10.0) == pytest.approx(max(before, after) / 10.0)
    assert metrics.is_slow_window(r, 10.0) is slow
    assert SLOW_WINDOW_SHARE == 0.15
    assert metrics.is_slow_window(r, None) is False  # no reference: nothing to say


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Two runs of three cells, a slow window planted in jax-jit's first measurement: one
    measured again (the default), one not."""
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("planted")
    runs = {}
    try:
        with_stand_in_worker(mp, "sentinel")
        mp.setenv("FAKE_WORKER_SLOW", "jax-jit")
        for name, extra in (("again", []), ("kept", ["--remeasure-slow", "0"])):
            mp.setenv("FAKE_WORKER_MARKER", str(tmp / f"{name}.marker"))
            assert cli.main([*RUN, "--out-dir", str(tmp / name), *extra]) == 0
            (runs[name],) = (tmp / name).iterdir()
    finally:
        mp.undo()
    return runs


def test_a_planted_slow_window_marks_its_cell(planted, capsys):
    run = load_run(planted["kept"])
    reference = run.meta.progress.sentinel_median_ms
    assert reference == metrics.sentinel_reference_ms(run.results) > 0
    # (Only the planted window is asserted on: a shared test machine may slow another cell.)
    ratios = {r.cell.backend: metrics.slow_window_ratio(r, reference) for r in run.results}
    assert max(ratios, key=ratios.get) == "jax-jit"
    assert metrics.is_slow_window(
        next(r for r in run.results if r.cell.backend == "jax-jit"), reference
    )
    assert cli.main(["summary", str(planted["kept"]), "--markdown"]) == 0
    jax_row = next(line for line in capsys.readouterr().out.splitlines() if "jax-jit" in line)
    assert "slow window ×" in jax_row


def test_re_measurement_replaces_it_and_both_records_stay(planted):
    lines = (planted["again"] / "cells.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    jax = [r for r in records if r["backend"] == "jax-jit"]
    assert len(records) >= 4 and len(jax) == 2  # nothing measured is lost
    assert jax[0]["remeasured"] is None and jax[1]["remeasured"].startswith("slow window")
    assert list((planted["again"] / "logs").glob("*jax-jit*-again1.log"))
    run = load_run(planted["again"])
    reference = metrics.run_sentinel_ms(run)
    (used,) = [r for r in run.results if r.cell.backend == "jax-jit"]
    first = CellResult.from_json(jax[0], "first")
    assert used.process.remeasured  # the newer record is the one read
    assert metrics.slow_window_ratio(used, reference) < metrics.slow_window_ratio(first, reference)
    assert any("measured again (slow window" in note for note in run.notes)


def test_compare_does_not_judge_a_cell_from_a_slow_window_unless_asked(planted):
    kept, again = load_run(planted["kept"]), load_run(planted["again"])
    result = compare.compare_runs(again, kept)
    assert "jax-jit" in [name.split()[1] for name in result.slow]
    judged = compare.compare_runs(again, kept, include_slow=True)
    assert not judged.slow and len(judged.cells) == len(result.cells) + len(result.slow)
    assert "slow window" in summary.markdown(
        kept.results, sentinel_ms=metrics.run_sentinel_ms(kept)
    )


def test_compare_says_when_one_run_s_whole_machine_was_slower(planted):
    kept, again = load_run(planted["kept"]), load_run(planted["again"])
    assert compare.compare_runs(again, kept).sentinel_ratio == pytest.approx(
        metrics.run_sentinel_ms(kept) / metrics.run_sentinel_ms(again)
    )
    slower = dataclasses.replace(
        kept.meta, progress=dataclasses.replace(kept.meta.progress, sentinel_median_ms=99.0)
    )
    result = compare.compare_runs(again, dataclasses.replace(kept, meta=slower))
    assert "by the sentinel: part of every ratio is the machine's" in result.headline()
