"""The report's stream section, from the committed fixture run (tests/data/report_dynamic,
written by schema 1 when the scenario was called dynamic).

The shared page (tests.report_fixtures) holds the fixed-shape runs and the stream one; the
browser test measures every figure on it, the stream one included.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from bench import __main__ as cli
from bench.analysis.metrics import overtaking_step
from bench.results.store import load_run
from report import html, plots
from report.sections import stream
from tests.report_fixtures import CUDA_RUN, DYNAMIC_RUN, rendered_report  # noqa: F401 (a fixture)

RUN_ID = "20260106-000000-cpu-dynamic"


@pytest.fixture(scope="module")
def page(rendered_report) -> str:  # noqa: F811
    return rendered_report.read_text()


@pytest.fixture(scope="module")
def dynamic() -> pd.DataFrame:
    return stream.stream_frame([load_run(DYNAMIC_RUN)])


def step_ms(backend: str, strategy: str) -> list[float]:
    (r,) = [
        r
        for r in load_run(DYNAMIC_RUN).results
        if (r.cell.backend, r.cell.strategy) == (backend, strategy)
    ]
    return r.passes.step_ms


def element(page: str, element_id: str, end: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index(end, start)]


def table_rows(table: str) -> list[tuple[str, list[str]]]:
    """(class, cell texts) of every body row."""
    body = table[table.index("<tbody>") :]
    return [
        (cls, re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
        for cls, row in re.findall(r'<tr(?: class="(\w+)")?>(.*?)</tr>', body, re.S)
    ]


def one(dynamic: pd.DataFrame, backend: str, strategy: str) -> pd.Series:
    rows = dynamic[
        (dynamic["backend"].astype(str) == backend) & (dynamic["strategy"].astype(str) == strategy)
    ]
    assert len(rows) == 1, (backend, strategy)
    return rows.iloc[0]


def test_the_section_is_on_the_page_with_its_reading_guide(page):
    section = element(page, "stream", "</section>")
    assert "<h2>Shape streams: the price of a static graph</h2>" in section
    # What the strategies mean, as the run recorded them, and the stream's description.
    for text in (
        "<dt><code>exact</code></dt><dd>each batch at its own length",
        "<dt><code>bucket</code></dt><dd>right-padded to the next power of two",
        "<dt>compile s</dt><dd>first-pass total − second-pass total",
        "Stream: log-normal lengths (median 48, sigma 0.75) clipped to 16..256; 64 steps.",
    ):
        assert text in section, text
    assert '<a href="#stream">Shape streams: the price of a static graph</a>' in page
    assert "7 stream cells:" in page and "1 not-applicable" in page
    # The fixed-shape part is still there, figures numbered as before; the stream follows.
    assert 'id="summary-table"' in page and "Figure 6. Achieved FLOP/s." in page
    assert "Figure 7.1. Cumulative wall time over the stream: lstm · infer · skewed" in page


def test_without_stream_cells_there_is_no_section(tmp_path):
    out = tmp_path / "report.html"
    assert cli.main(["report", str(CUDA_RUN), "-o", str(out)]) == 0
    text = out.read_text()
    assert 'id="stream' not in text and "Shape streams" not in text
    assert "stream cells" not in text and 'id="summary-table"' in text


def test_the_table_has_a_row_per_cell_not_applicable_ones_included(page):
    rows = table_rows(element(page, "stream-table-1", "</table>"))
    assert [(r[0], r[1]) for _, r in rows] == [
        (r.cell.backend, r.cell.strategy) for r in load_run(DYNAMIC_RUN).results
    ]
    na = [(cls, r) for cls, r in rows if r[2] == "not applicable"]
    assert len(na) == 1
    cls, cells = na[0]
    assert cls == "na" and cells[:2] == ["jax-jit", "dynamic"]
    assert cells[-1] == "jax.jit of the whole step has no dynamic-shape mode (one trace per shape)"
    jit = next(r for _, r in rows if r[:2] == ["jax-jit", "exact"])
    # shapes, compilations, total s, compile s, share, steady ms, padding, overtakes, note
    assert jit[3:] == ["41", "41", "5.71", "4.88", "85.5%", "7.98", "0.0%", "never",
                       "last compilation at step 61"]  # fmt: skip
    eager = next(r for _, r in rows if r[:2] == ["torch-eager", "exact"])
    assert eager[4] == "–" and eager[6] == "–" and eager[10] == "baseline"
    bucket = next(r for _, r in rows if r[:2] == ["torch-eager", "bucket"])
    assert bucket[3] == "5" and bucket[9] == "22.5%"


def test_the_crossing_is_computed_from_step_ms_and_shown(page, dynamic):
    expected = overtaking_step(step_ms("jax-eager", "exact"), step_ms("jax-jit", "bucket"))
    assert expected == 50
    assert one(dynamic, "jax-jit", "bucket")["overtakes_at"] == expected
    assert one(dynamic, "jax-jit", "exact")["overtakes_note"] == "never"
    assert one(dynamic, "tf-graph", "dynamic")["overtakes_note"] == "no tf-eager exact cell"
    rows = table_rows(element(page, "stream-table-1", "</table>"))
    row = next(r for _, r in rows if r[:2] == ["jax-jit", "bucket"])
    assert row[10] == "50"
    caption = element(page, "fig-stream-1", "</figure>")
    assert "<svg" in caption
    assert "jax-jit bucket overtakes jax-eager at step 50" in caption
    assert "jax-jit exact never overtakes jax-eager" in caption
    assert "tf-graph (dynamic) has no crossing to mark: no tf-eager exact cell" in caption
    assert (
        "lstm infer b32 cpu skewed stream (64 steps) jax-jit bucket: 1.78 s total, 0.670 s "
        "compiling (37.6%), 5 compilations, steady 12.8 ms/step, 22.5% padding, overtakes "
        f"jax-eager (exact) at step 50; run {RUN_ID} @ 284c481 (dirty)"
    ) in page


def test_a_recorded_crossing_is_not_trusted(tmp_path):
    """The report recomputes crossings from the raw step times, whatever a cell says."""
    run = tmp_path / "run"
    shutil.copytree(DYNAMIC_RUN, run)
    lines = (run / "cells.jsonl").read_text().splitlines()
    lines = [json.dumps({**json.loads(line), "overtakes_eager_at_step": 3}) for line in lines]
    (run / "cells.jsonl").write_text("\n".join(lines) + "\n")
    planted = stream.stream_frame([load_run(run)])
    assert one(planted, "jax-jit", "bucket")["overtakes_at"] == 50


def test_the_figure_rings_the_crossing_on_the_static_line(dynamic):
    (heading, group), *rest = stream.stream_groups(dynamic)
    assert not rest and heading == "lstm · infer · skewed stream · batch 32 · cpu"
    fig = plots.cumulative_time(group, stream.cumulative_frame(group), heading)
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_yscale() == "log"  # totals 0.34 s .. 5.7 s
    steps = step_ms("jax-jit", "bucket")
    rings = [line for line in ax.get_lines() if line.get_marker() == plots.CROSSING_MARKER]
    assert len(rings) == 1
    assert list(rings[0].get_xdata()) == [50]
    assert rings[0].get_ydata()[0] == pytest.approx(sum(steps[:50]) / 1e3)
    # A line per ok cell (6), ending at its total.
    curves = [line for line in ax.get_lines() if line.get_marker() != plots.CROSSING_MARKER]
    ends = sorted(float(line.get_ydata()[-1]) for line in curves)
    ok = group[group["status"] == "ok"]
    assert ends == pytest.approx(sorted(ok["total_s"]), rel=1e-5)  # step_ms rounded to 0.1 µs
    assert "step 50" in [t.get_text() for t in ax.texts]


def test_many_lines_get_a_panel_per_framework(dynamic, monkeypatch):
    monkeypatch.setattr(plots.stream, "MAX_LINES_PER_PANEL", 3)  # read where it is drawn
    fig = plots.cumulative_time(dynamic, stream.cumulative_frame(dynamic), "t")
    panels = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title(loc="left") for a in panels] == ["torch", "jax", "tf"]
    assert len(panels[1].get_lines()) == 4  # jax-eager, jax-jit exact and bucket, a ring
    assert "no tf-eager exact cell in this run" in panels[2].texts[0].get_text()


def test_cumulative_frame_is_the_running_total_of_step_ms(dynamic):
    data = stream.cumulative_frame(dynamic)
    line = data[(data["backend"] == "jax-jit") & (data["strategy"] == "exact")]
    assert list(line["step"]) == list(range(1, 65))
    assert np.allclose(line["cumulative_s"], np.cumsum(step_ms("jax-jit", "exact")) / 1e3)
    assert set(zip(data["backend"], data["strategy"], strict=True)) == {
        ("torch-eager", "exact"), ("torch-eager", "bucket"), ("jax-eager", "exact"),
        ("jax-jit", "exact"), ("jax-jit", "bucket"), ("tf-graph", "dynamic"),
    }  # fmt: skip


@pytest.fixture(scope="module")
def broken_page(tmp_path_factory) -> str:
    """A dynamic-only run with a failed cell and markup in its error and stream description."""
    run = tmp_path_factory.mktemp("broken") / "run"
    shutil.copytree(DYNAMIC_RUN, run)
    cells = [json.loads(line) for line in (run / "cells.jsonl").read_text().splitlines()]
    for r in cells:
        if (r["backend"], r["strategy"]) == ("tf-graph", "dynamic"):
            r.update(status="failed", error="ValueError: <script>alert(1)</script> & <b>x</b>",
                     output_tail=["Traceback", "<img src=x>"])  # fmt: skip
    (run / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cells))
    meta = json.loads((run / "run.json").read_text())
    meta["dynamic_shapes"]["streams"]["skewed"]["description"] = "<i>lengths</i> & more"
    (run / "run.json").write_text(json.dumps(meta))
    out = run.parent / "report.html"
    assert cli.main(["report", str(run), "-o", str(out)]) == 0
    return out.read_text()


def test_strings_from_results_are_escaped(broken_page):
    assert "<script>alert" not in broken_page and "<b>x</b>" not in broken_page
    assert "<img" not in broken_page and "<i>lengths</i>" not in broken_page
    error = str(escape("ValueError: <script>alert(1)</script> & <b>x</b>"))
    assert error in element(broken_page, "stream-table-1", "</table>")
    assert "Stream: &lt;i&gt;lengths&lt;/i&gt; &amp; more; 64 steps." in broken_page


def test_failed_dynamic_cells_are_failures_not_applicable_ones_are_not(broken_page):
    failures = element(broken_page, "failures-table", "</table>")
    rows = table_rows(failures)
    assert [(cls, r[4], r[5]) for cls, r in rows] == [
        ("bad", "tf-graph (dynamic, skewed stream)", "failed")
    ]
    assert "jax-jit (dynamic" not in failures
    assert "<details><summary>last lines</summary><pre>Traceback" in failures
    # In the stream's table the failed cell is a red row, the skipped one a muted row.
    table = element(broken_page, "stream-table-1", "</table>")
    classes = {tuple(r[:3]): cls for cls, r in table_rows(table)}
    assert classes[("tf-graph", "dynamic", "failed")] == "bad"
    assert classes[("jax-jit", "dynamic", "not applicable")] == "na"


def test_a_dynamic_only_run_has_no_fixed_part(broken_page):
    assert "fixed-shape cells" not in broken_page and 'id="summary-table"' not in broken_page
    assert "Figure 1.1. Cumulative wall time over the stream" in broken_page
    # Its sections: the stream one first, then failures, citations and environment.
    order = [broken_page.index(f'<section id="{s}">') for s in
             ("stream", "failures", "citations", "environment")]  # fmt: skip
    assert order == sorted(order)
    assert html.render_report([load_run(DYNAMIC_RUN)]).count("<figure") == 1
