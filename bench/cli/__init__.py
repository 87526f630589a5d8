"""The command line: ``python -m bench COMMAND`` (list, env, run, resume, merge, summary,
report, compare, export, gpu-check, selfcheck).

The only place that exits the process. A ``UsageError`` (bad input, an unusable path,
a results file that cannot be read) is printed as one line naming what was expected,
with exit status 2; anything else is a bug and shows its traceback. Nothing here
imports a framework.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from bench.analysis import compare
from bench.cli import args as check
from bench.cli import export, gpucheck, pages, run, selfcheck, show
from bench.errors import UsageError
from bench.matrix import scenarios
from bench.matrix.cells import DEVICES, MAX_REMEASURE_SLOW
from bench.matrix.precision import PRECISIONS
from bench.matrix.profiles import PROFILE_NAMES, available_cores
from bench.parent import executors
from bench.terminal import plain

EXIT_USAGE = 2
MAX_REPEATS = 100


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> Parser:
    parser = Parser(prog="python -m bench", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    listing = sub.add_parser(
        "list", help="models, backends (and whether they can run here), devices, profiles"
    )
    listing.add_argument(
        "--markdown", action="store_true", help="the tables of docs/backends-and-models.md"
    )
    sub.add_parser("env", help="print what run.json records about this machine, as JSON")

    r = sub.add_parser("run", help="run a matrix of cells, one fresh process each")
    r.add_argument("--device", choices=DEVICES, default="cpu")
    aliases = ", ".join(f"{a} (= {n})" for a, n in scenarios.ALIASES.items())
    r.add_argument(
        "--scenario",
        default="fixed",
        help=f"{', '.join(scenarios.names())} (default fixed; also accepted: {aliases})",
    )
    r.add_argument("--models", help="comma-separated, or 'all' (default: the scenario's models)")
    r.add_argument("--backends", help="comma-separated, or 'all' (default: every one for --device)")
    r.add_argument("--modes", help="infer, train, or 'all' (default: the scenario's modes)")
    for scenario in scenarios.SCENARIOS.values():
        for option, (valid, text) in scenario.options.items():
            r.add_argument(
                f"--{option}", help=f"--scenario {scenario.name}: {', '.join(valid)}; {text}"
            )
    r.add_argument("--batch-sizes", help="e.g. 1,8,64 (default: each model's size for the profile)")
    r.add_argument(
        "--precisions",
        help=f"comma-separated from {', '.join(PRECISIONS)}, or 'all' (default float32)",
    )
    r.add_argument(
        "--python",
        metavar="FRAMEWORK=PATH[,...]",
        help="run a framework's workers under this interpreter (its own environment, e.g. "
        "its CUDA build; default: this one)",
    )
    r.add_argument("--profile", choices=PROFILE_NAMES, default="quick")
    r.add_argument("--out-dir", type=Path, default=Path("results"))
    r.add_argument(
        "--timeout", type=check.seconds, help="seconds per cell (default: the profile's)"
    )
    r.add_argument(
        "--threads",
        type=check.bounded_int(1, available_cores()),
        help=f"CPU threads for every framework (default: all {available_cores()} cores)",
    )
    r.add_argument(
        "--repeats",
        type=check.bounded_int(1, MAX_REPEATS),
        help="measure the whole matrix K times, in rotated order, each cell in fresh "
        "processes (default: 1 for quick, 3 for full)",
    )
    r.add_argument(
        "--remeasure-slow",
        type=check.bounded_int(0, MAX_REMEASURE_SLOW),
        metavar="N",
        help="at the end of the run, measure a cell whose sentinel says it ran in a slow "
        "window again, in fresh processes, up to N times; both records are kept (default: 1)",
    )
    r.add_argument(
        "--trace",
        action="store_true",
        help="after each cell's measured workers, one more records a few steps with the "
        "framework's profiler (trace files under the run, top operations in the record)",
    )
    r.add_argument(
        "--diagnose",
        action="store_true",
        help="after each static cell's measured workers, more (untimed) ones read the "
        "framework's graph capture: graphs, graph breaks and recompilations with their "
        "reasons, the first call's compile phases and cache hits (docs/graph-capture.md)",
    )
    r.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N of the matrix (whole blocks, balanced by expected cost); "
        "join the N runs with python -m bench merge",
    )
    add_executor_options(r)

    resume = sub.add_parser(
        "resume", help="run the cells of an interrupted run that have no result"
    )
    resume.add_argument("run_dir", type=Path)
    add_executor_options(resume)

    merge = sub.add_parser("merge", help="join the shard runs of one matrix into one run")
    merge.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    merge.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT_DIR", help="the run to create"
    )

    summary = sub.add_parser("summary", help="print the summary table of a stored run")
    summary.add_argument("run_dir", type=Path)
    summary.add_argument("--markdown", action="store_true", help="as a Markdown table")

    report = sub.add_parser(
        "report", help="turn stored runs into one self-contained HTML file (figures, tables)"
    )
    report.add_argument("run_dirs", type=Path, nargs="*", metavar="RUN_DIR")
    report.add_argument(
        "-o", "--output", type=Path, default=Path("report.html"), help="default: report.html"
    )
    report.add_argument(
        "--newest-in",
        type=Path,
        metavar="DIR",
        help="report the newest run of each device under DIR (what `nox -s report` does)",
    )
    report.add_argument(
        "--include-contended",
        action="store_true",
        help="count contended cells in the geometric means (left out by default)",
    )
    report.add_argument(
        "--include-slow",
        action="store_true",
        help="count cells measured in a slow window in the geometric means (left out by default)",
    )

    comp = sub.add_parser("compare", help="compare run B against run A, cell by cell")
    comp.add_argument("run_a", type=Path, metavar="RUN_A")
    comp.add_argument("run_b", type=Path, metavar="RUN_B")
    comp.add_argument(
        "--threshold",
        type=check.fraction,
        default=compare.DEFAULT_THRESHOLD,
        help="smallest change that counts, e.g. 0.05 or 5%% (default 5%%)",
    )
    comp.add_argument(
        "--resamples",
        type=check.bounded_int(1, compare.MAX_RESAMPLES),
        default=compare.DEFAULT_RESAMPLES,
        help=f"bootstrap resamples (default {compare.DEFAULT_RESAMPLES})",
    )
    comp.add_argument(
        "--seed", type=check.bounded_int(0, 2**32 - 1), default=0, help="bootstrap seed (default 0)"
    )
    comp.add_argument("--html", type=Path, metavar="FILE", help="also write the comparison page")
    comp.add_argument(
        "--include-contended",
        action="store_true",
        help="judge cells that were contended in either run (listed, not judged, by default)",
    )
    comp.add_argument(
        "--include-slow",
        action="store_true",
        help="judge cells measured in a slow window of either run (listed, not judged, by default)",
    )
    comp.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a cell is slower beyond the threshold, stopped being ok or is missing "
        "from B, or when nothing was compared (for CI)",
    )
    export.add_parser(sub)
    gpucheck.add_parser(sub)
    selfcheck.add_parser(sub)
    return parser


def add_executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--executor",
        choices=executors.NAMES,
        default="local",
        help="where workers run: local (this machine; default) or ray (a Ray cluster)",
    )
    p.add_argument(
        "--gpus",
        metavar="LIST",
        help="local: run CUDA cells side by side, one per GPU, e.g. 0,1,2,3 or all",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="ray: the cluster to join, e.g. ray://head:10001 or auto (default: a local "
        "Ray instance)",
    )


def consoles() -> tuple[Console, Console]:
    # Wide enough for the summary table when stdout is a file or a pipe (CI logs, notes).
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    # Messages on stderr are lines a script may read: never wrapped.
    err = Console(
        stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 160
    )
    return out, err


def main(argv: list[str] | None = None) -> int:
    out, err = consoles()
    try:
        a = build_parser().parse_args(argv)
        command = pages.command_line(argv)
        if a.command == "list":
            return show.cmd_list(a, out)
        if a.command == "env":
            return show.cmd_env()
        if a.command == "run":
            return run.cmd_run(a, out, err)
        if a.command == "resume":
            return run.cmd_resume(a, out, err)
        if a.command == "merge":
            return run.cmd_merge(a, err, command)
        if a.command == "summary":
            return show.cmd_summary(a, out, err)
        if a.command == "report":
            return pages.cmd_report(a, err, command)
        if a.command == "compare":
            return pages.cmd_compare(a, out, err, command)
        if a.command == "export":
            return export.cmd_export(a, err)
        if a.command == "gpu-check":
            return gpucheck.cmd_gpu_check(a, out, err)
        if a.command == "selfcheck":
            return selfcheck.cmd_selfcheck(a, out, err)
        raise AssertionError(f"unhandled command {a.command!r}")
    except UsageError as exc:
        message = plain(" ".join(str(exc).split()))  # one line, nothing for the terminal
        print(f"graphbench: error: {message}", file=sys.stderr)
        return EXIT_USAGE
