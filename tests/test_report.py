"""The HTML report, rendered from the committed fixture runs (tests/data/report_*)."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from tests.report_fixtures import rendered_report  # noqa: F401 (a fixture)

FIGURES = ("fig-1a", "fig-1b", "fig-2-1", "fig-2-2", "fig-3", "fig-4", "fig-5a", "fig-5b", "fig-6")
TABLES = ("runs-table", "geomean-table", "summary-table", "failures-table", "noisy-table")


@pytest.fixture(scope="module")
def page(rendered_report) -> str:  # noqa: F811
    return rendered_report.read_text()


def section(page: str, element_id: str) -> str:
    """The markup of the element with this id, up to the end of its section/figure/table."""
    start = page.index(f'id="{element_id}"')
    ends = [page.find(tag, start) for tag in ("</figure>", "</table>", "</section>")]
    return page[start : min(e for e in ends if e != -1)]


@pytest.mark.parametrize("figure", FIGURES)
def test_every_figure_is_an_inline_svg_with_a_caption(page, figure):
    block = section(page, figure)
    assert "<svg" in block and "</svg>" in block
    caption = re.search(r"<figcaption><b>Figure [\w.]+\. (.+?)\.</b> (.+?)</figcaption>", block)
    assert caption and len(caption.group(2)) > 80, block[-500:]


def test_every_table_and_section_is_present(page):
    for table in (*TABLES, "break-even-table"):
        assert f'id="{table}"' in page, table
    for anchor in ("reading", "headline", "citations", "environment"):
        assert f'<section id="{anchor}">' in page


def test_the_page_fetches_nothing_and_runs_nothing(page):
    assert not re.search(r"<script|<link|<iframe|<img|@import|src=", page, re.I)
    # Namespaces (xmlns="http://www.w3.org/2000/svg") are names, not fetches.
    assert not re.search(r'(href|url\()\s*=?\s*"?https?:', page)


def test_error_strings_are_escaped(page):
    assert "<script>alert" not in page and "<b>not bold</b>" not in page
    error = "RuntimeError: <script>alert('pwned')</script> & <b>not bold</b>"
    assert str(escape(error)) in page


def test_failing_mismatching_and_skipped_cells_are_listed_with_reasons(page):
    failures = section(page, "failures-table")
    rows = re.findall(r"<tr class=\"bad\">(.*?)</tr>", failures, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r, re.S) for r in rows]
    found = {(c[0], c[4], c[5]) for c in cells}
    assert found == {("cnn", "jax-jit", "failed"), ("cnn", "tf-xla", "mismatch"),
                     ("mlp", "tf-xla", "skipped")}  # fmt: skip
    assert "max relative error 0.0213 of the first logits exceeds the tolerance 0.001" in failures
    assert "tensorflow not installed" in failures
    # The worker's last lines are there for the failure, behind a <details>.
    assert "<details><summary>last lines</summary><pre>Traceback" in failures


def test_noisy_cell_is_flagged_in_the_summary_and_its_own_table(page):
    noisy = section(page, "noisy-table")
    assert noisy.count('<tr class="noisy">') == 1
    assert "jax-eager" in noisy and "32.0%" in noisy
    summary = section(page, "summary-table")
    assert summary.count("ok (noisy)") == 1
    assert '<tr class="noisy">\n<td>jax-eager</td>' in summary


def test_summary_groups_cells_and_keeps_not_ok_cells(page):
    summary = section(page, "summary-table")
    groups = re.findall(r'<tr class="group"><td colspan="\d+">(.*?)</td>', summary)
    assert groups == [
        "mlp · infer · batch 32 · cpu",
        "mlp · infer · batch 128 · cpu",
        "mlp · train · batch 128 · cpu",
        "cnn · infer · batch 32 · cpu",
        "mlp · infer · batch 128 · cuda",
    ]
    assert summary.count('<tr class="bad">') == 3


def test_geomean_keeps_slowdowns_and_counts_coverage(page):
    geo = section(page, "geomean-table")
    rows = {
        tuple(re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)[:2]): re.findall(
            r"<td[^>]*>(.*?)</td>", r, re.S
        )
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", geo, re.S)[1:]
    }
    # jax-jit failed on cnn: 2 of its 3 workloads covered, pass rate 2/3.
    assert rows[("infer · cpu", "jax-jit")][3] == "2/3"
    assert rows[("infer · cpu", "jax-jit")][6] == "2/3 (66.7%)"
    # jax-eager is slower than torch-eager on mlp train: below 1, not clipped.
    assert rows[("train · cpu", "jax-eager")][4] == "0.15×"


def test_citation_lines_carry_value_unit_cell_run_and_commit(page):
    assert (
        "mlp train b128 cpu jax-jit: median 4.33 ms (p90 4.41, n 24), 30,769 examples/s, "
        "13.41× vs jax-eager; run 20260102-000000-cpu @ 0123456" in page
    )
    assert "mlp infer b32 cpu jax-eager: median 1.10 ms (p90 1.28, n 24, noisy: IQR 32.0%" in page
    assert (
        "jax-jit train cpu: geometric-mean speedup 13.41× vs jax-eager over 1/1 workloads" in page
    )
    assert (
        "mlp infer b128 cuda torch-compile vs torch-eager: breaks even after 503,508 steps" in page
    )


def test_environment_names_hardware_versions_threads_and_command(page):
    env = section(page, "environment")
    for text in (
        "NVIDIA H100 80GB HBM3",
        "Test CPU (fixture)",
        "float32 weights, activations and math",
        "torch.get_num_threads=2",
        "python -m bench run --device cuda --models mlp",
        "0123456789abcdef0123456789abcdef01234567",
    ):
        assert str(escape(text)) in env, text


def test_memory_caption_names_every_counter(page):
    caption = section(page, "fig-4")
    assert "cpu: VmHWM of the worker process" in caption
    assert "cuda (torch): torch.cuda.max_memory_allocated" in caption
    assert "cuda (jax): jax memory_stats()[&#39;peak_bytes_in_use&#39;]" in caption


def test_environment_warns_when_one_comparison_ran_on_two_gpu_models():
    from dataclasses import replace

    from bench.results.record import Gpu, Process
    from bench.results.store import Run, load_run
    from report import envinfo
    from tests.report_fixtures import CUDA_RUN

    run = load_run(CUDA_RUN)
    names = ["NVIDIA H100", "NVIDIA H100", "NVIDIA H200", "NVIDIA H100"]
    results = [
        replace(r, gpu=Gpu(gpu_index=i, gpu_uuid=f"GPU-{i}", gpu_name=name),
                process=replace(r.process or Process(), executor="ray"))
        for i, (r, name) in enumerate(zip(run.results, names, strict=True))
    ]  # fmt: skip
    env = envinfo.describe(Run(run.path, run.meta, results, []))
    (warning,) = env.warnings
    assert "mlp infer b128 float32: NVIDIA H100, NVIDIA H200" in warning
    facts = dict(env.facts)
    assert (
        facts["executor"] == "ray" and "GPU 2 NVIDIA H200 (GPU-2)" in facts["GPUs the cells ran on"]
    )
    same = [replace(r, gpu=Gpu(gpu_uuid="GPU-0", gpu_name="NVIDIA H100")) for r in run.results]
    assert envinfo.describe(Run(run.path, run.meta, same, [])).warnings == []
