"""``selfcheck``: does graphbench time a step as each framework's own timer does?

For a few cheap cells it starts one process per cell, set up exactly as a worker
(bench.worker.selfcheck: pinning, thread settings, environment, compile-cache directories), which
builds the backend once and then alternates graphbench's own steady-state measurement
with the framework's standard timing tool on the same step and inputs
(``Backend.standard_timer``: ``torch.utils.benchmark.Timer.blocked_autorange``, a
``timeit`` loop ending in ``jax.block_until_ready``, a ``timeit`` loop reading the output
with ``.numpy()``). The table sets the two medians side by side; a ratio outside the
tolerance means graphbench's way of measuring (its loop, its sync) shows the framework
slower or faster than its own tool does. Exit 0 when every compared cell is within the
tolerance, 1 otherwise (a cell that failed, or nothing compared at all). A framework that
is not installed is reported as not checked. Nothing here imports a framework.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

import models
from bench import backends
from bench.cli import args as check
from bench.matrix import scenarios
from bench.matrix.cells import MODES, Cell
from bench.matrix.job import Job
from bench.matrix.profiles import PROFILE_NAMES, Settings, available_cores, settings_for
from bench.matrix.scenarios.base import MatrixRequest
from bench.parent.cell_task import CellTask, run_task
from bench.parent.runner import classify
from bench.parent.worker_env import importable, worker_env
from bench.terminal import plain

DEVICE = "cpu"  # the tolerance below is stated for the CPU (docs/reading-the-numbers.md, selfcheck)
DEFAULT_MODELS = ("mlp", "cnn")
# torch.compile takes tens of seconds per model on a small CPU: by default it is checked
# on the first model only (DEFAULT_MODELS[0]).
DEFAULT_BACKENDS = ("torch-eager", "torch-compile", "jax-jit", "tf-graph")
DEFAULT_TOLERANCE = 0.10
DEFAULT_ROUNDS = 3
MAX_ROUNDS = 50
HEADERS = ("cell", "graphbench ms", "referee ms", "ratio", "within tolerance", "referee")
NUMERIC = frozenset(HEADERS[1:4])


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "selfcheck",
        help="time a few cells through graphbench and through each framework's own timer, "
        "interleaved; exit 1 when a ratio is outside the tolerance",
    )
    s.add_argument(
        "--models", help=f"comma-separated, or 'all' (default {','.join(DEFAULT_MODELS)})"
    )
    s.add_argument(
        "--backends",
        help=f"comma-separated CPU backends, or 'all' (default {','.join(DEFAULT_BACKENDS)}; "
        "torch-compile on the first model only)",
    )
    s.add_argument("--modes", help="infer, train, or 'all' (default infer)")
    s.add_argument("--profile", choices=PROFILE_NAMES, default="quick")
    s.add_argument(
        "--threads",
        type=check.bounded_int(1, available_cores()),
        help=f"CPU threads, as for run (default: all {available_cores()} cores)",
    )
    s.add_argument(
        "--tolerance",
        type=check.fraction,
        default=DEFAULT_TOLERANCE,
        help="how far graphbench's median may be from the referee's, e.g. 0.1 or 10%% "
        f"(default {DEFAULT_TOLERANCE * 100:.0f}%%)",
    )
    s.add_argument(
        "--rounds",
        type=check.bounded_int(1, MAX_ROUNDS),
        default=DEFAULT_ROUNDS,
        help=f"alternations of graphbench's loop and the referee (default {DEFAULT_ROUNDS})",
    )


@dataclass(frozen=True)
class Check:
    """One cell's comparison: both medians over every round, or why there are none."""

    cell: Cell
    referee: str | None = None
    graphbench_ms: float | None = None
    referee_ms: float | None = None
    not_checked: str | None = None  # the framework is not installed here: no verdict
    failed: str | None = None  # it should have been compared and was not: a failure

    @property
    def ratio(self) -> float | None:
        """graphbench's median over the referee's: above 1, graphbench shows it slower."""
        if self.graphbench_ms is None or not self.referee_ms:
            return None
        return self.graphbench_ms / self.referee_ms

    def within(self, tolerance: float) -> bool:
        ratio = self.ratio
        return ratio is not None and abs(ratio - 1) <= tolerance


def planned_cells(a: argparse.Namespace) -> list[Cell]:
    """The cells to compare, every name checked against the registries (UsageError)."""
    picked_models = check.names(
        "--models", a.models, models.MODEL_NAMES, default=",".join(DEFAULT_MODELS)
    )
    picked_backends = (
        backends.for_device(DEVICE)
        if a.backends is not None and a.backends.strip() == "all"
        else check.names("--backends", a.backends, backends.names(), ",".join(DEFAULT_BACKENDS))
    )
    modes = check.names("--modes", a.modes, MODES, default="infer")
    request = MatrixRequest(picked_models, picked_backends, modes, DEVICE, a.profile)
    cells = scenarios.get("fixed").expand(request)  # refuses a backend that cannot run here
    if a.backends is None:
        first = picked_models[0]
        cells = [c for c in cells if c.model == first or not backends.get(c.backend).slow_to_build]
    return cells


def reference_file(cell: Cell, seed: int, directory: Path) -> Path:
    """The block's float64 NumPy reference outputs (the first call is checked against them),
    computed once per block, in a process of its own as a run computes them."""
    path = directory / scenarios.get(cell.scenario).reference_name(cell, seed)
    if not path.exists():
        job = directory / f"{path.stem}-job.json"
        job.write_text(json.dumps({"cell": cell.to_dict(), "seed": seed}))
        env = {**os.environ, "PYTHONPATH": importable(os.environ.get("PYTHONPATH"))}
        argv = [sys.executable, "-m", "bench.worker.expected", str(job), str(path)]
        subprocess.run(argv, env=env, check=True, capture_output=True)
    return path


def run_child(cell: Cell, settings: Settings, rounds: int, expected: Path) -> dict[str, Any]:
    """One ``python -m bench.worker.selfcheck`` process for the cell, started as its worker would be
    (environment, process group, timeout, watchdog, compile caches of its own)."""
    info = backends.get(cell.backend)
    timeout_s = settings.timeout_s * info.timeout_factor
    task = CellTask(
        job=Job("selfcheck", cell, settings, str(expected), "cold"),
        index=0,
        expected_path=str(expected),
        worker=(sys.executable, "-m", "bench.worker.selfcheck", str(rounds)),
        env=worker_env(cell, settings),
        cache_env=backends.cache_env(cell.backend),
        warm_start=False,
        timeout_s=timeout_s,
    )
    run = run_task(task).cold
    if run.result is None:  # it died, or ran out of time, before writing its result
        return {"referee": None, "error": classify(run, timeout_s).error}
    return run.result


def pooled_median(rounds: list[list[float]] | None) -> float | None:
    values = [x for samples in rounds or [] for x in samples]
    return statistics.median(values) if values else None


def check_of(cell: Cell, result: dict[str, Any]) -> Check:
    """The child's result as a Check: each side's median over all its rounds."""
    referee = result.get("referee")
    if result.get("error"):
        return Check(cell, referee, failed=str(result["error"]))
    ours = pooled_median(result.get("graphbench_ms"))
    theirs = pooled_median(result.get("referee_ms"))
    if ours is None or theirs is None:
        return Check(cell, referee, failed="no samples")
    return Check(cell, referee, ours, theirs)


def check_cell(cell: Cell, settings: Settings, rounds: int, scratch: Path) -> Check:
    reason = backends.not_installed_reason(cell.framework)
    if reason:
        return Check(cell, not_checked=reason)
    expected = reference_file(cell, settings.seed, scratch)
    return check_of(cell, run_child(cell, settings, rounds, expected))


def verdict_text(c: Check, tolerance: float) -> str:
    if c.not_checked:
        return f"not checked: {c.not_checked}"
    if c.failed:
        return f"failed: {c.failed}"
    return "yes" if c.within(tolerance) else "no"


def percent(tolerance: float) -> str:
    return f"±{tolerance * 100:g}%"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def rows(checks: list[Check], tolerance: float) -> list[tuple[str, ...]]:
    return [
        (
            c.cell.label(),
            _num(c.graphbench_ms, ".4g"),
            _num(c.referee_ms, ".4g"),
            _num(c.ratio, ".3f"),
            verdict_text(c, tolerance),
            c.referee or "-",
        )
        for c in checks
    ]


def table(checks: list[Check], tolerance: float, rounds: int) -> Table:
    """The comparison, every string from a result shown literally."""
    title = (
        f"selfcheck: graphbench's median / the framework's own timer's median, "
        f"{rounds} interleaved rounds, tolerance {percent(tolerance)}"
    )
    t = Table(title=Text(title), title_justify="left")
    for h in HEADERS:
        t.add_column(h, justify="right" if h in NUMERIC else "left", overflow="fold")
    for row in rows(checks, tolerance):
        t.add_row(*(Text(plain(cell)) for cell in row))
    return t


def exit_code(checks: list[Check], tolerance: float) -> int:
    """0 when every cell that could be compared is within the tolerance and at least one
    was; 1 otherwise (a failed cell counts as outside)."""
    compared = [c for c in checks if c.not_checked is None]
    if not compared:
        return 1
    return 0 if all(c.within(tolerance) for c in compared) else 1


def conclusion(checks: list[Check], tolerance: float) -> str:
    compared = [c for c in checks if c.not_checked is None]
    within = sum(c.within(tolerance) for c in compared)
    text = f"selfcheck: {within} of {len(compared)} compared cells within {percent(tolerance)}"
    skipped = len(checks) - len(compared)
    if skipped:
        text += f"; {skipped} not checked (framework not installed)"
    if not compared:
        text += "; nothing was compared"
    return text


def cmd_selfcheck(a: argparse.Namespace, out: Console, err: Console) -> int:
    cells = planned_cells(a)
    settings = settings_for(a.profile, threads=a.threads)
    checks = []
    with tempfile.TemporaryDirectory(prefix="graphbench-selfcheck-") as scratch:
        for i, cell in enumerate(cells, 1):
            err.print(Text(plain(f"selfcheck: {cell.label()} ({i} of {len(cells)})")))
            checks.append(check_cell(cell, settings, a.rounds, Path(scratch)))
    out.print(table(checks, a.tolerance, a.rounds))
    out.print(Text(plain(conclusion(checks, a.tolerance))))
    return exit_code(checks, a.tolerance)
