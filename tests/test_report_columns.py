"""Every tooltip and caption names the bench.analysis.metrics function that computes what it shows.

Three links, each checked on the committed fixture runs (tests/data/report_*):
1. a column's tooltip (a figure's caption) cites exactly the functions of the measures it
   declares it shows (report.measures), and each is that very bench.analysis.metrics function;
2. the section's frame fills each measure's column by calling that measure's function:
   swapped for a perturbed copy, every column it fills changes;
3. the column's cells (the figure's drawing) come from those frame columns: perturbed
   there, its cells change.
And no report module calls a bench.analysis.metrics function itself (an AST check), so no other
code path computes a number the report shows.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.analysis import metrics
from bench.analysis.stats import Latency
from bench.results.record import Sentinel
from bench.results.store import Run, load_run
from report import measures
from report.figures import to_svg
from report.measures import Aggregate, Measure
from report.sections import fixed, stream
from report.sections.fixed import figures, frames, section
from report.tables import Table
from tests.report_fixtures import CPU_RUN, CUDA_RUN, DYNAMIC_RUN

REPORT = Path(__file__).parents[1] / "report"


# --- perturbing a value: every kind a metric returns, changed so that the page shows it ----


def skew(value: Any) -> Any:
    """A different value of the same kind (None stays None: there is nothing to show)."""
    if value is None or (isinstance(value, str) and not value):
        return value
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value * 3 + 1
    if isinstance(value, float):
        return value * 3 + 1 if math.isfinite(value) else value
    if isinstance(value, str):
        return value + " (perturbed)"
    if isinstance(value, (list, tuple)):
        return type(value)(skew(v) for v in value)
    if isinstance(value, Latency):
        return dataclasses.replace(
            value, **{f.name: skew(getattr(value, f.name)) for f in dataclasses.fields(value)}
        )
    if isinstance(value, metrics.BreakEven):
        return dataclasses.replace(value, steps=skew(value.steps))
    if isinstance(value, metrics.Overtaking):
        kinds = list(metrics.OvertakeKind)  # the next kind, and its step and baseline changed
        kind = kinds[(kinds.index(value.kind) + 1) % len(kinds)]
        return dataclasses.replace(
            value, kind=kind, step=skew(value.step or 0), baseline=skew(value.baseline)
        )
    raise TypeError(f"no perturbation for {type(value).__name__}")


def perturbed(metric: Any) -> Any:
    @functools.wraps(metric)  # the same name and docstring: only what it returns differs
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return skew(metric(*args, **kwargs))

    return wrapper


def skew_column(values: pd.Series) -> pd.Series:
    out = [skew(v) for v in values]
    return pd.Series(out, index=values.index, dtype=values.dtype if values.dtype != bool else bool)


# --- the fixtures ------------------------------------------------------------------------


def with_peak_and_floor(run: Run) -> Run:
    """The run as if it had measured its device's peak and its harness floors, put where
    some of its cells are beyond the peak and near the floor (the committed runs predate
    both), so that every column has values to perturb."""
    ok = [r for r in run.results if r.ok and r.cell.scenario == "fixed"]
    achieved = sorted(f for r in ok if (f := metrics.achieved_flops_per_s(r)))
    medians = sorted(m for r in ok if (m := metrics.median_ms(r)))
    device = ok[0].cell.device
    probes = dataclasses.replace(
        run.meta.probes,
        device_peak={"device": device, "flops_per_s": {"float32": achieved[len(achieved) // 2]}},
        harness_floor_us={
            r.cell.framework: {"median": medians[len(medians) // 2] * 1e3 / metrics.FLOOR_MARGIN}
            for r in ok
        },
    )
    return dataclasses.replace(run, meta=dataclasses.replace(run.meta, probes=probes))


def with_sentinel(run: Run) -> Run:
    """The run as if its workers had timed the sentinel (the committed runs predate it): a
    third of the cells in a slow window, the rest at the run's median."""
    results = [
        dataclasses.replace(r, sentinel=Sentinel(10.0, 13.0 if i % 3 == 0 else 10.0))
        for i, r in enumerate(run.results)
    ]
    progress = dataclasses.replace(run.meta.progress, sentinel_median_ms=10.0)
    meta = dataclasses.replace(run.meta, progress=progress)
    return dataclasses.replace(run, results=results, meta=meta)


def with_reduced_precision(run: Run) -> Run:
    """The run plus a bf16 copy of each ok fixed cell, a fifth faster and a tenth smaller,
    so that the precision table and figure have cells to show."""
    copies = [
        dataclasses.replace(
            r,
            cell=dataclasses.replace(r.cell, precision="amp-bf16"),
            steady=dataclasses.replace(r.steady, samples_ms=[x * 0.8 for x in r.steady.samples_ms]),
            memory=dataclasses.replace(
                r.memory, peak_host_rss_bytes=int(r.memory.peak_host_rss_bytes * 0.9)
            ),
        )
        for r in run.results
        if r.ok and r.steady and r.memory and r.memory.peak_host_rss_bytes
    ]
    return dataclasses.replace(run, results=[*run.results, *copies])


def load_fixed_runs() -> list[Run]:
    cpu = with_reduced_precision(with_sentinel(with_peak_and_floor(load_run(CPU_RUN))))
    return [cpu, load_run(CUDA_RUN)]


@pytest.fixture(scope="module")
def fixed_runs():
    return load_fixed_runs()


@pytest.fixture(scope="module")
def cells(fixed_runs):
    return fixed.cells_frame(fixed_runs)


def fixed_tables(cells: pd.DataFrame, only: str | None = None) -> dict[str, Table]:
    pairs, geo = fixed.break_even_frame(cells), fixed.geomean_frame(cells)
    names = [only] if only else list(section.TABLES)
    return {name: section.TABLES[name](cells, pairs, geo, None) for name in names}


@pytest.fixture(scope="module")
def stream_data():
    return stream.stream_frame([load_run(DYNAMIC_RUN)])


def stream_tables(data: pd.DataFrame) -> dict[str, Table]:
    return {
        f"stream-{i}": stream.stream_table(group, f"t{i}")
        for i, (_, group) in enumerate(stream.stream_groups(data))
    }


def column_cells(table: Table, index: int) -> list[str]:
    return [str(row.cells[index]) for row in table.rows if row.classes != "group"]


def metric_names(shows: tuple[Measure | Aggregate, ...]) -> list[str]:
    return [m.__name__ for m in dict.fromkeys(s.metric for s in shows)]


# --- 1. the tooltip (caption) names exactly the functions of what it shows ----------------


def _every_column(tables: dict[str, Table]):
    for name, table in tables.items():
        for index, column in enumerate(table.columns):
            yield name, index, column


def test_every_tooltip_cites_the_functions_of_what_its_column_shows(cells, stream_data):
    tables = {**fixed_tables(cells), **stream_tables(stream_data)}
    cited_somewhere = 0
    for name, _, column in _every_column(tables):
        where = f"{name}: {column.label}"
        assert measures.cited(column.help) == metric_names(column.shows), where
        for shown in column.shows:
            assert getattr(metrics, shown.metric.__name__) is shown.metric, where
        cited_somewhere += bool(column.shows)
    assert cited_somewhere >= 30  # the check covers the page's derived columns


@pytest.mark.parametrize("key", list(figures.FIGURES))
def test_every_caption_cites_the_functions_of_what_its_figure_draws(key):
    spec = figures.FIGURES[key]
    title, caption = spec.words()
    assert measures.cited(caption) == metric_names(spec.shows), key
    for shown in spec.shows:
        assert getattr(metrics, shown.metric.__name__) is shown.metric, key
    assert measures.cited(title) == []


def test_the_stream_caption_cites_the_overtaking_step():
    assert measures.cited(stream.CAPTION[1]) == ["overtaking"]


# --- 2. each frame column is what its measure's function returns ------------------------


def _changed(before: pd.Series, after: pd.Series) -> bool:
    return any(repr(a) != repr(b) for a, b in zip(before, after, strict=True))


@pytest.fixture(scope="module")
def fixed_perturbed(fixed_runs):
    """The cells frame with every measure's function and every aggregate's perturbed."""
    with pytest.MonkeyPatch.context() as patch:
        for key, m in frames.MEASURES.items():
            patch.setitem(frames.MEASURES, key, dataclasses.replace(m, metric=perturbed(m.metric)))
        return fixed.cells_frame(fixed_runs)


# Measures the fixture runs hold no value for (no run measured repeats of a cell): their
# columns are missing both before and after.
NEVER_MEASURED = {"repetition_spread"}


@pytest.mark.parametrize("key", list(frames.MEASURES))
def test_the_frame_column_is_what_the_measure_function_returns(cells, fixed_perturbed, key):
    if key in NEVER_MEASURED:
        assert cells[key].isna().all() and fixed_perturbed[key].isna().all()
        return
    assert _changed(cells[key], fixed_perturbed[key]), key


def test_the_stream_frame_columns_are_what_their_functions_return(stream_data, monkeypatch):
    for key, m in stream.MEASURES.items():
        monkeypatch.setitem(
            stream.MEASURES, key, dataclasses.replace(m, metric=perturbed(m.metric))
        )
    after = stream.stream_frame([load_run(DYNAMIC_RUN)])
    for key in stream.MEASURES:
        assert _changed(stream_data[key], after[key]), key


@pytest.mark.parametrize("key", list(frames.AGGREGATES))
def test_the_geomean_frame_is_what_the_aggregate_functions_return(cells, monkeypatch, key):
    before = fixed.geomean_frame(cells)
    a = frames.AGGREGATES[key]
    monkeypatch.setitem(frames.AGGREGATES, key, dataclasses.replace(a, metric=perturbed(a.metric)))
    after = fixed.geomean_frame(cells)
    columns = ["ok", "total"] if key == "pass_count" else [key]
    assert all(_changed(before[c], after[c]) for c in columns), key
    untouched = [c for c in before.columns if c not in columns]
    assert before[untouched].equals(after[untouched])


# --- 3. each column's cells come from the frame columns it shows -------------------------


def _fixed_cases():
    tables = fixed_tables(fixed.cells_frame(load_fixed_runs()))
    for name, index, column in _every_column(tables):
        for shown in column.shows:
            if isinstance(shown, Measure) and shown.key not in NEVER_MEASURED:
                yield pytest.param(name, index, shown.key, id=f"{name}-{column.label}-{shown.key}")


@pytest.mark.parametrize(("table", "index", "key"), list(_fixed_cases()))
def test_a_column_shows_the_frame_column_of_its_measure(cells, table, index, key):
    before = fixed_tables(cells, table)[table]
    after = fixed_tables(cells.assign(**{key: skew_column(cells[key])}), table)[table]
    assert column_cells(before, index) != column_cells(after, index)


def test_a_geomean_column_shows_its_aggregate(cells, monkeypatch):
    tables = fixed_tables(cells, "geomean")
    for index, column in enumerate(tables["geomean"].columns):
        for shown in column.shows:
            if isinstance(shown, Aggregate):
                with monkeypatch.context() as patch:
                    fake = dataclasses.replace(shown, metric=perturbed(shown.metric))
                    patch.setitem(frames.AGGREGATES, shown.key, fake)
                    after = fixed_tables(cells, "geomean")
                before = column_cells(tables["geomean"], index)
                assert before != column_cells(after["geomean"], index), column.label


def _stream_cases():
    for index, column in enumerate(stream.COLUMNS):
        for shown in column.shows:
            yield pytest.param(index, shown.key, id=f"{column.label}-{shown.key}")


@pytest.mark.parametrize(("index", "key"), list(_stream_cases()))
def test_a_stream_column_shows_the_frame_column_of_its_measure(stream_data, index, key):
    def cells_of(tables: dict[str, Table]) -> list[str]:
        return [text for table in tables.values() for text in column_cells(table, index)]

    before = cells_of(stream_tables(stream_data))
    assert before != cells_of(
        stream_tables(stream_data.assign(**{key: skew_column(stream_data[key])}))
    )


def _svg(fig: Any) -> str:
    return str(to_svg(fig, "f", "t"))  # with the page's stable ids: equal drawings, equal text


@pytest.mark.slow  # draws each figure four or five times
@pytest.mark.parametrize("key", [k for k, s in figures.FIGURES.items() if s.shows])
def test_a_figure_draws_the_frame_columns_it_cites(cells, key):
    spec = figures.FIGURES[key]
    keys = [s.key for s in spec.shows if isinstance(s, Measure)]
    aggregates = [s for s in spec.shows if isinstance(s, Aggregate)]

    def draw(data: pd.DataFrame, geo_metric: Any = None) -> str:
        frames_ = figures.figure_frames(
            data, fixed.break_even_frame(data), fixed.geomean_frame(data)
        )
        if key == "precision":
            frames_ = dataclasses.replace(
                frames_, cells=frames_.cells[frames_.cells["precision"].astype(str) != "float32"]
            )
        more = {"model": str(frames_.cells["model"].iloc[0])} if key == "latency" else {}
        return _svg(spec.draw(frames_, **more))

    draw(cells)  # the first drawing in a process may lay out differently: not compared
    before = draw(cells)
    assert before == draw(cells)  # the comparison means something
    assert before != draw(cells.assign(**{k: skew_column(cells[k]) for k in keys})), keys
    for a in aggregates:
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(
                frames.AGGREGATES, a.key, dataclasses.replace(a, metric=perturbed(a.metric))
            )
            assert before != draw(cells), a.key


# --- and nothing else computes them -----------------------------------------------------

# bench.analysis.metrics names the report may use other than through a Measure or an Aggregate:
# the pooling of repetitions and the baselines a metric is handed (inputs, not numbers),
# and the enums and constants the words are built from.
# What a run's cells are set against, per run: the baselines, the sentinel's reference; and
# the GPU's state during the samples, which the environment section spans over a run's cells.
ALLOWED = {"pool_repetitions", "Baselines", "run_sentinel_ms", "gpu_during_samples"}


def test_no_report_module_calls_a_metric_itself():
    calls = []
    for path in sorted(REPORT.rglob("*.py")):
        tree = ast.parse(path.read_text())
        aliases = {"metrics", "M"}
        imported = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "bench.analysis.metrics"
            for a in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                name = f.attr if f.value.id in aliases else None
            else:
                name = f.id if isinstance(f, ast.Name) and f.id in imported else None
            target = getattr(metrics, name, None) if name else None
            if callable(target) and not isinstance(target, type) and name not in ALLOWED:
                calls.append(f"{path.relative_to(REPORT.parent)}:{node.lineno} {name}")
    assert not calls, calls
