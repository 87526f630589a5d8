"""``gpu-check``: prove the CUDA path on the GPU at hand, in a few minutes, in one command.

On a machine with an NVIDIA GPU whose Python has CUDA builds of PyTorch and JAX (and no
network, no nox, no TensorFlow needed), it runs, within a time budget:

1. the GPU tests of every installed framework (tests/test_gpu.py, the quick tier);
2. a small full-profile matrix on ``--device cuda`` (MLP, CNN and the GPT-2-small
   transformer; eager, torch.compile, reduce-overhead, TorchScript and jax.jit; inference
   and training), cheapest cells first, with the quick profile's measurement loop (a
   check, not a benchmark to cite); cells the budget leaves no time for are not started
   and are listed as such (``python -m bench resume`` measures them);
3. the HTML report,

and leaves in DIR: ``gpu-tests.log``, the run directory, ``report.html`` and
``summary.md`` (the summary table, parity errors, memory figures, what was not run).
Without a GPU it is one line and exit 2.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from bench import backends
from bench.analysis import metrics, summary
from bench.cli import args as check
from bench.cli.pages import report_module, write_output
from bench.cli.run import execute, probe_frameworks, probes_meta, run_meta, write_meta
from bench.errors import UsageError
from bench.matrix import scenarios
from bench.matrix.profiles import settings_for
from bench.matrix.scenarios.base import MatrixRequest
from bench.parent import environment
from bench.results.store import load_run, new_run_dir

MODELS = ("mlp", "cnn", "transformer")
BACKENDS = (
    "torch-eager",
    "torchscript",
    "jax-jit",
    "torch-compile",
    "torch-compile-reduce-overhead",
)
DEFAULT_BUDGET_S = 360.0  # the whole check; a rerun still fits a 15-minute GPU lease
TESTS_SHARE = 0.3  # of the budget, for the GPU tests
CELL_TIMEOUT_S = 240.0
REPO = Path(__file__).resolve().parents[2]


def add_parser(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "gpu-check",
        help="prove the CUDA path here in minutes (GPU tests, a "
        "small full-profile matrix, the report)",
    )
    g.add_argument("--out-dir", type=Path, required=True, metavar="DIR")
    g.add_argument(
        "--budget",
        type=check.seconds,
        default=DEFAULT_BUDGET_S,
        help=f"seconds for the whole check (default {DEFAULT_BUDGET_S:.0f})",
    )


def cmd_gpu_check(a: argparse.Namespace, out: Console, err: Console) -> int:
    reason = environment.cuda_unavailable_reason()
    if reason:
        raise UsageError(f"gpu-check needs a CUDA device: none is visible ({reason})")
    check.output_dir("--out-dir", a.out_dir)
    start = time.monotonic()
    deadline = start + a.budget
    tests = run_gpu_tests(a.out_dir, min(a.budget * TESTS_SHARE, deadline - time.monotonic()), err)

    present = [b for b in BACKENDS if not backends.not_installed_reason(backends.get(b).framework)]
    if not present:
        raise UsageError("gpu-check: neither PyTorch nor JAX is installed here")
    request = MatrixRequest(MODELS, tuple(present), None, "cuda", "full")
    # Cheapest first (no compilation, then compilers), so a short budget still covers every
    # model and framework.
    cells = sorted(
        scenarios.get("fixed").expand(request),
        key=lambda c: (backends.get(c.backend).slow_to_build, MODELS.index(c.model)),
    )
    settings = settings_for(
        "full",
        warmup_steps=5,
        warmup_min_s=0.5,
        min_samples=10,
        min_time_s=1.0,
        max_samples=500,
        timeout_s=CELL_TIMEOUT_S,
    )
    probes = probe_frameworks(cells, {}, "cuda", err)
    run_dir = new_run_dir(a.out_dir, "cuda", "gpu-check")
    meta = run_meta(
        run_dir.name, settings, cells, "fixed", probes_meta(probes, gpu_check_budget_s=a.budget)
    )
    write_meta(run_dir, meta)
    report_reserve = 30.0  # the report is drawn after the matrix
    execute(run_dir, meta, cells, settings, out, err, probes, deadline=deadline - report_reserve)

    run = load_run(run_dir)
    page = report_module("html").render_report([run], generated_by="python -m bench gpu-check")
    write_output("report", a.out_dir / "report.html", page)
    text = summary_text(run, cells, tests, time.monotonic() - start)
    write_output("summary", a.out_dir / "summary.md", text)
    err.print(Text(f"gpu-check: {a.out_dir / 'summary.md'}, {a.out_dir / 'report.html'}"))
    print(run_dir, flush=True)
    return 0


def run_gpu_tests(out_dir: Path, budget_s: float, err: Console) -> str:
    """The quick tier of the GPU tests, in this interpreter; their log goes to DIR."""
    log = out_dir / "gpu-tests.log"
    test_file = REPO / "tests" / "test_gpu.py"
    if not test_file.is_file():
        log.write_text("tests/test_gpu.py is not here (an installed copy, not a checkout)\n")
        return "not run: tests/test_gpu.py is not in this copy"
    err.print(Text(f"gpu-check: GPU tests (at most {budget_s:.0f} s)"))
    argv = [sys.executable, "-m", "pytest", "-q", "-m", "gpu and not slow", str(test_file)]
    try:
        done = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=max(10.0, budget_s)
        )
    except subprocess.TimeoutExpired as exc:
        text = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        log.write_text(text + f"\nstopped: over the {budget_s:.0f} s the budget gave the tests\n")
        return f"stopped after {budget_s:.0f} s (see gpu-tests.log)"
    log.write_text(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else f"pytest exited {done.returncode}"


def summary_text(run, cells: list, tests: str, wall_s: float) -> str:
    """The check's findings as Markdown: what ran, the summary table, parity and memory."""
    done = {r.cell.key() for r in run.results}
    not_run = [c.label() for c in cells if c.key() not in done]
    gpus = run.meta.environment.gpus or []
    lines = [
        "# gpu-check",
        "",
        f"- GPU: {', '.join(str(g.get('name')) for g in gpus) or 'unknown'}",
        f"- GPU tests: {tests}",
        f"- matrix: {len(run.results)} of {len(cells)} cells ran in the budget; wall time "
        f"{wall_s:.0f} s",
        f"- harness floor (empty synced step, µs): {run.meta.probes.harness_floor_us}",
        "",
        summary.markdown(
            run.results,
            device_peak=run.meta.probes.device_peak,
            sentinel_ms=metrics.run_sentinel_ms(run),
        ),
        "",
        "| cell | status | parity error | allocator peak MiB | NVML peak MiB | CUDA graphs |",
        "|---|---|---|---|---|---|",
    ]
    for r in run.results:
        m, s = r.memory, r.steady
        parity = r.parity.parity_max_rel_err if r.parity else None
        lines.append(
            "| "
            + " | ".join(
                [
                    r.cell.label(),
                    str(r.status),
                    "-" if parity is None else f"{parity:.2e}",
                    _mib(m.peak_device_bytes if m else None),
                    _mib(m.peak_gpu_process_bytes if m else None),
                    str(s.cuda_graphs) if s and s.cuda_graphs else "-",
                ]
            )
            + " |"
        )
    if not_run:
        lines += ["", f"Not run within the budget ({len(not_run)}): " + ", ".join(not_run)]
    return "\n".join(lines) + "\n"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f}"
