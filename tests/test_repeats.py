"""``--repeats K``: the matrix K times in rotated order, each repetition stored apart, read
back as one cell per identity (bench.analysis.metrics.pool_repetitions), resumed exactly."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bench import __main__ as cli
from bench.analysis import metrics
from bench.analysis.compare import compare_runs
from bench.matrix.cells import Cell, repeated
from bench.results.record import Contention, Outcome, Status
from bench.results.store import Run, load_run
from tests.fakes import with_stand_in_worker
from tests.report_fixtures import CPU_RUN


def test_repetitions_are_rotated_and_each_cell_is_run_k_times():
    cells = [Cell("mlp", "torch-eager", "infer", "cpu", b, "quick") for b in (1, 2, 3)]
    order = repeated(cells, 3)
    assert [(c.batch_size, c.repetition) for c in order] == [
        (1, 1), (2, 1), (3, 1),
        (2, 2), (3, 2), (1, 2),
        (3, 3), (1, 3), (2, 3),
    ]  # fmt: skip
    assert repeated(cells, 1) == cells
    six = repeated(cells * 2, 2)  # six cells, two repetitions: the second starts at the 4th
    assert [c.repetition for c in six] == [1] * 6 + [2] * 6 and six[6] == replace(
        six[3], repetition=2
    )


def result(run: Run, rep: int, samples: list[float], **more):
    base = next(r for r in run.results if r.ok and r.steady)
    steady = replace(base.steady, samples_ms=samples)
    return replace(base, cell=replace(base.cell, repetition=rep), steady=steady, **more)


def test_repetitions_pool_into_one_cell_with_their_spread():
    run = load_run(CPU_RUN)
    reps = [result(run, 1, [1.0, 1.0, 1.1]), result(run, 2, [1.2, 1.2]), result(run, 3, [1.0])]
    (pooled,) = metrics.pool_repetitions(reps)
    assert pooled.cell.repetition == 1 and metrics.ok_repetitions(pooled) == (3, 3)
    assert metrics.step_samples_ms(pooled) == [1.0, 1.0, 1.1, 1.2, 1.2, 1.0]
    assert metrics.repetition_medians(pooled) == [1.0, 1.2, 1.0]
    assert metrics.repetition_spread(pooled) == pytest.approx(0.2)
    assert metrics.is_noisy(pooled)  # within each process tight, across processes 20% apart
    steadies = [r.steady for r in reps]
    assert pooled.steady.pipeline_steps == sum(s.pipeline_steps for s in steadies)
    close = [result(run, 1, [1.0, 1.0]), result(run, 2, [1.02, 1.02])]
    assert not metrics.is_noisy(metrics.pool_repetitions(close)[0])


def test_a_failed_repetition_leaves_the_others_and_says_so():
    run = load_run(CPU_RUN)
    bad = replace(result(run, 2, []), outcome=Outcome(Status.FAILED, "boom"), steady=None)
    (pooled,) = metrics.pool_repetitions([result(run, 1, [2.0]), bad, result(run, 3, [4.0])])
    assert pooled.ok and metrics.ok_repetitions(pooled) == (2, 3)
    assert metrics.median_ms(pooled) == 3.0


def doubled(r):
    return replace(r, steady=replace(r.steady, samples_ms=[2 * x for x in r.steady.samples_ms]))


def test_compare_pools_repetitions_and_leaves_contended_cells_unjudged():
    a = load_run(CPU_RUN)
    ok = [r for r in a.results if r.ok and r.steady]
    pairs = [(r, doubled(r)) for r in ok]
    slow = [b for _, b in pairs]
    rep2 = [replace(b, cell=replace(b.cell, repetition=2)) for b in slow]
    b = Run(a.path, a.meta, [*slow, *rep2], [])
    result = compare_runs(a, b)
    assert len(result.slower) == len(pairs) and not result.only_b  # pooled: one cell each
    hot = Contention(contention=0.6, contended=True)
    b_hot = Run(a.path, a.meta, [replace(x, contention=hot) for x in slow], [])
    judged = compare_runs(a, b_hot)
    assert judged.cells == [] and len(judged.contended) == len(pairs)
    assert len(compare_runs(a, b_hot, include_contended=True).slower) == len(pairs)


def test_repeats_run_rotated_and_resume_completes_exactly_the_missing_ones(
    tmp_path, monkeypatch, capsys
):
    with_stand_in_worker(monkeypatch)
    argv = ["run", "--models", "mlp", "--backends", "torch-eager,jax-jit", "--modes", "infer",
            "--batch-sizes", "1,2", "--repeats", "3", "--out-dir", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    (run_dir,) = tmp_path.iterdir()
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["repeats"] == 3 and len(meta["matrix"]) == 12
    assert [m["repetition"] for m in meta["matrix"]] == [1] * 4 + [2] * 4 + [3] * 4
    assert meta["matrix"][4] == {**meta["matrix"][1], "repetition": 2}  # rotated by one
    lines = (run_dir / "cells.jsonl").read_text().splitlines()
    kept = [line for i, line in enumerate(lines) if i not in (2, 7, 11)]  # as if cut short
    (run_dir / "cells.jsonl").write_text("\n".join(kept) + "\n")
    capsys.readouterr()
    assert cli.main(["resume", str(run_dir)]) == 0
    assert "3 cell(s) into" in capsys.readouterr().err
    run = load_run(run_dir)
    keys = [r.cell.key() for r in run.results]
    assert len(keys) == len(set(keys)) == 12
    assert cli.main(["summary", str(run_dir)]) == 0
    table = capsys.readouterr().out
    assert table.count("jax-jit") == 2  # one row per cell, not per repetition


def test_a_pooled_cell_is_one_row_of_the_report(tmp_path):
    from report.sections import fixed

    run = load_run(CPU_RUN)
    reps = [
        result(run, 1, [1.0, 1.0], contention=Contention(contention=0.3, contended=True)),
        result(run, 2, [1.5, 1.5]),
    ]
    cells = fixed.cells_frame([Run(run.path, run.meta, reps, [])])
    (row,) = cells.itertuples()
    assert row.repetitions == 2 and row.repetition_spread == pytest.approx(0.4)
    assert row.noisy and row.contended and row.contention == 0.3
    assert ", contended: others used 30.0% of its cores, 2 repetitions" in fixed.cite_cell(
        cells.iloc[0]
    )
