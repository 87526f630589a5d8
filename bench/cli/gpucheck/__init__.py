"""``gpu-check``: prove the CUDA path on the GPU at hand, riskiest first, in one 15-minute slot.

On a machine with an NVIDIA GPU whose Python has CUDA builds of PyTorch and JAX (no
network, no nox, no TensorFlow needed), it runs, all within one wall-clock budget
(``--budget``, 420 s by default: probes, references, tests, cells and the report):

1. the curated GPU tests (gpu_tests: the MLP with training and every precision on
   torch-eager, torch-compile, reduce-overhead and jax-jit), unless ``--skip-tests``;
2. each framework's probe (one that fails is skipped with its reason; the check goes
   on) and the device's measured peak (run.json ``device_peak``, as ``run`` measures it);
3. a full-profile CUDA matrix (``--models``, ``--backends``, ``--precisions``) in risk
   order (plan.risk_order), with the quick profile's measurement loop (a check, not a
   benchmark to cite), each block's references computed just before its first cell and
   only if it starts; cells the budget leaves no time for are listed as not started
   (``python -m bench resume`` measures them);
4. the HTML report, drawn last: its failure is recorded in summary.md, not fatal.

``summary.md`` is written first and again after each phase and cell; ``--bundle FILE``
packs the check into one tar.gz a GPU machine can hand back (bundle). Without a GPU it is
one line and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.text import Text

from bench.analysis import metrics
from bench.cli import args as check
from bench.cli import run as run_cmd
from bench.cli.gpucheck import bundle, gpu_tests, plan
from bench.cli.gpucheck.summary import SUMMARY, Findings
from bench.cli.gpucheck.summary import write as write_summary
from bench.cli.pages import report_module
from bench.errors import UsageError
from bench.matrix import scenarios
from bench.matrix.cells import Cell
from bench.matrix.profiles import settings_for
from bench.parent import environment
from bench.parent import probes as probing
from bench.results.record import CellResult
from bench.results.store import load_run, new_run_dir

DEFAULT_BUDGET_S = 420.0  # the whole check: a rerun still fits a 15-minute GPU slot
TESTS_SHARE = 0.4  # of the budget, at most, for the GPU tests
# Kept at the end for the report and the bundle (a share of a short budget); a cell
# started just before the cells' deadline may still run for the runner's minimum timeout
# (30 s) into it.
REPORT_RESERVE_S = 40.0
REPORT_RESERVE_SHARE = 0.1
CELL_TIMEOUT_S = 240.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "gpu-check",
        help="prove the CUDA path here in minutes, riskiest first (GPU tests, a small "
        "full-profile matrix, the report)",
    )
    g.add_argument("--out-dir", type=Path, required=True, metavar="DIR")
    g.add_argument(
        "--budget",
        type=check.seconds,
        default=DEFAULT_BUDGET_S,
        help=f"seconds for the whole check (default {DEFAULT_BUDGET_S:.0f})",
    )
    g.add_argument("--models", metavar="LIST", help=f"default {','.join(plan.MODELS)} (or 'all')")
    g.add_argument(
        "--backends",
        metavar="LIST",
        help=f"CUDA backends (default those of {','.join(plan.BACKENDS)} installed here)",
    )
    g.add_argument("--precisions", metavar="LIST", help="default float32 (or 'all')")
    g.add_argument("--skip-tests", action="store_true", help="go straight to the cells")
    g.add_argument(
        "--bundle",
        type=Path,
        metavar="FILE",
        help="also write FILE, one tar.gz under 16 MiB of the check (no reference outputs)",
    )


def cmd_gpu_check(a: argparse.Namespace, out: Console, err: Console) -> int:
    request = plan.request_from(a)  # bad options first: one line, whatever the machine
    if a.bundle is not None:
        check.output_file("--bundle", a.bundle)
    reason = environment.cuda_unavailable_reason()
    if reason:
        raise UsageError(f"gpu-check needs a CUDA device: none is visible ({reason})")
    check.output_dir("--out-dir", a.out_dir)  # made here: not on a machine without a GPU
    found = Findings(budget_s=a.budget, gpus=environment.gpus()[0] or [])
    deadline = found.started + a.budget
    cells_deadline = deadline - min(REPORT_RESERVE_S, REPORT_RESERVE_SHARE * a.budget)
    cells = plan.risk_order(scenarios.get("fixed").expand(request))
    found.planned = cells

    def phase(name: str) -> None:
        found.begin(name)
        write_summary(a.out_dir, found)
        err.print(Text(f"gpu-check: {name} ({found.elapsed_s():.0f} s of {a.budget:.0f})"))

    try:
        code = run_phases(a, found, cells, cells_deadline, phase, out, err)
    except BaseException as exc:  # the summary and the bundle say where it stopped, then raise
        found.phase = f"stopped in {found.phase}: {type(exc).__name__}: {exc}"
        write_summary(a.out_dir, found)
        if a.bundle is not None:
            with contextlib.suppress(OSError):
                write_bundle(a, found)
        raise
    summary_path = write_summary(a.out_dir, found)
    if a.bundle is not None:
        try:
            notes = write_bundle(a, found)
        except OSError as exc:
            raise UsageError(f"--bundle {a.bundle}: cannot be written ({exc})") from None
        cut = f" ({len(notes)} part(s) cut or left out: see BUNDLE.txt)" if notes else ""
        err.print(Text(f"gpu-check: bundle {a.bundle}{cut}"))
    err.print(Text(f"gpu-check: {summary_path}; report: {found.report}"))
    print(found.run_dir, flush=True)
    return code


def run_phases(
    a: argparse.Namespace,
    found: Findings,
    cells: list[Cell],
    cells_deadline: float,
    phase: Callable[[str], None],
    out: Console,
    err: Console,
) -> int:
    """The tests, the probes and peak, the cells and the report, each filling ``found``
    in; the exit code of the cells' run (0, or 130 interrupted)."""
    phase("GPU tests")
    tests_s = min(a.budget * TESTS_SHARE, cells_deadline - time.monotonic())
    found.tests = gpu_tests.run(a.out_dir, tests_s, a.skip_tests)

    phase("probes and the device peak")
    probes = probe_each(cells)
    found.skipped_frameworks = {f: p.problem for f, p in probes.items() if p.problem}
    settings = settings_for(
        "full",
        warmup_steps=5,
        warmup_min_s=0.5,
        min_samples=10,
        min_time_s=1.0,
        max_samples=500,
        timeout_s=CELL_TIMEOUT_S,
    )
    found.device_peak = run_cmd.measure_peak(cells, {}, probes, "cuda", settings.threads, err)
    run_dir = new_run_dir(a.out_dir, "cuda", "gpu-check")
    found.run_dir = run_dir
    meta = run_cmd.run_meta(
        run_dir.name,
        settings,
        cells,
        "fixed",
        run_cmd.probes_meta(probes, found.device_peak, gpu_check_budget_s=a.budget),
    )
    run_cmd.write_meta(run_dir, meta)

    def kept(r: CellResult) -> None:
        found.results.append(r)
        write_summary(a.out_dir, found)

    phase("cells")
    code = run_cmd.execute(
        run_dir, meta, cells, settings, out, err, probes,
        deadline=cells_deadline, lazy_references=True, on_result=kept,
    )  # fmt: skip
    run = load_run(run_dir)
    found.results, found.sentinel_ms = run.results, metrics.run_sentinel_ms(run)

    phase("report")
    found.report = draw_report(run, a.out_dir / "report.html")
    found.phase = "done" if code == 0 else "interrupted"
    return code


def write_bundle(a: argparse.Namespace, found: Findings) -> list[str]:
    extra = [a.out_dir / SUMMARY, a.out_dir / gpu_tests.LOG, a.out_dir / gpu_tests.JUNIT]
    return bundle.write(a.bundle, a.out_dir, found.run_dir, extra)


def probe_each(cells: list) -> dict[str, probing.Probe]:
    """Each framework's probe on CUDA; one that fails keeps its problem (its cells are then
    recorded as skipped with it) instead of stopping the check, as it stops ``run``."""
    frameworks = dict.fromkeys(c.framework for c in cells)
    return {f: probing.run_probe(f, sys.executable, "cuda") for f in frameworks}


def draw_report(run, path: Path) -> str:
    """Draw the HTML report; how that went, in words (a failure is reported, not raised)."""
    try:
        page = report_module("html").render_report([run], generated_by="python -m bench gpu-check")
        path.write_text(page)
    except Exception as exc:  # whatever breaks the report, the check's findings stand
        return f"failed: {type(exc).__name__}: {exc}"
    return str(path)
