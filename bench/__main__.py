"""The command line: ``python -m bench {list,env,run,resume,summary,report,compare}``.

The only place that exits the process. Bad input gets one line naming what was
expected and exit status 2; nothing here imports a framework.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import models
from bench import backends, compare, environment, summary
from bench.backends.base import ADAM, LOSS
from bench.cells import (
    DEVICES,
    MODES,
    Cell,
    backends_for_device,
    dynamic_models,
    expand,
    expand_dynamic,
    parse_batch_sizes,
    parse_names,
)
from bench.profiles import PRECISION_POLICY, PROFILE_NAMES, Settings, available_cores, settings_for
from bench.profiles import describe as describe_profile
from bench.results import (
    RUN_FILE,
    SCHEMA_VERSION,
    load_run,
    new_run_dir,
    utc_now,
    write_json_atomic,
)
from bench.runner import Runner
from bench.streams import STRATEGIES, STRATEGY_HELP, STREAM_STEPS, STREAMS

SCENARIOS = ("fixed", "dynamic")

EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A threshold: ``0.05`` or ``5%``."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction like 0.05 or a percentage like 5%, got {text!r}"
        )
    return value


def build_parser() -> Parser:
    parser = Parser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser(
        "list", help="models, backends (and whether they can run here), devices, profiles"
    )
    sub.add_parser("env", help="print what run.json records about this machine, as JSON")

    run = sub.add_parser("run", help="run a matrix of cells, one fresh process each")
    run.add_argument("--device", choices=DEVICES, default="cpu")
    run.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="fixed",
        help="fixed shapes (default), or dynamic: a stream of varying sequence lengths",
    )
    run.add_argument(
        "--models",
        default="all",
        help="comma-separated, or 'all' (default; for --scenario dynamic: the sequence models)",
    )
    run.add_argument(
        "--backends",
        default="all",
        help="comma-separated, or 'all' (default: every backend for --device)",
    )
    run.add_argument(
        "--modes",
        help="infer, train, or 'all' (default; for --scenario dynamic: each model's own)",
    )
    run.add_argument(
        "--strategies",
        help=f"--scenario dynamic: comma-separated from {', '.join(STRATEGIES)} (default: all)",
    )
    run.add_argument(
        "--streams",
        help=f"--scenario dynamic: comma-separated from {', '.join(STREAMS)} (default: all)",
    )
    run.add_argument(
        "--batch-sizes", help="e.g. 1,8,64 (default: each model's size for the profile)"
    )
    run.add_argument("--profile", choices=PROFILE_NAMES, default="quick")
    run.add_argument("--out-dir", type=Path, default=Path("results"))
    run.add_argument(
        "--timeout", type=positive_seconds, help="seconds per cell (default: the profile's)"
    )
    run.add_argument(
        "--threads",
        type=positive_int,
        help=f"CPU threads for every framework (default: all {available_cores()} cores)",
    )

    resume = sub.add_parser(
        "resume", help="run the cells of an interrupted run that have no result"
    )
    resume.add_argument("run_dir", type=Path)

    show = sub.add_parser("summary", help="print the summary table of a stored run")
    show.add_argument("run_dir", type=Path)
    show.add_argument("--markdown", action="store_true", help="as a Markdown table")

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

    comp = sub.add_parser("compare", help="compare run B against run A, cell by cell")
    comp.add_argument("run_a", type=Path, metavar="RUN_A")
    comp.add_argument("run_b", type=Path, metavar="RUN_B")
    comp.add_argument(
        "--threshold",
        type=fraction,
        default=compare.DEFAULT_THRESHOLD,
        help="smallest change that counts, e.g. 0.05 or 5%% (default 5%%)",
    )
    comp.add_argument(
        "--resamples",
        type=positive_int,
        default=compare.DEFAULT_RESAMPLES,
        help=f"bootstrap resamples (default {compare.DEFAULT_RESAMPLES})",
    )
    comp.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    comp.add_argument("--html", type=Path, metavar="FILE", help="also write the comparison page")
    comp.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when any cell is significantly slower beyond the threshold (for CI)",
    )
    return parser


def cmd_list(out: Console) -> int:
    t = Table(title="models", title_justify="left")
    for col in ("model", "quick (batch)", "full (batch)"):
        t.add_column(col, overflow="fold")
    for name in models.MODEL_NAMES:
        spec = models.spec(name)
        t.add_row(
            name,
            *(f"{spec.describe(spec.PROFILES[p])} ({spec.BATCH_SIZE[p]})" for p in PROFILE_NAMES),
        )
    out.print(t)

    cuda_reason = environment.cuda_unavailable_reason()
    t = Table(title="backends", title_justify="left")
    for col in ("backend", "framework", "devices", "available here", "what it is"):
        t.add_column(col, overflow="fold")
    for info in backends.BACKENDS.values():
        reason = backends.not_installed_reason(info.framework)
        if reason is None and "cpu" not in info.devices and cuda_reason:
            reason = f"needs CUDA: {cuda_reason}"
        t.add_row(info.name, info.framework, ",".join(info.devices), reason or "yes", info.summary)
    out.print(t)

    t = Table(title="devices", title_justify="left")
    t.add_column("device")
    t.add_column("available here", overflow="fold")
    t.add_row("cpu", f"yes ({environment.cpu_model()}, {available_cores()} cores)")
    gpus, _ = environment.gpus()
    t.add_row("cuda", ", ".join(g["name"] for g in gpus) if gpus else f"no: {cuda_reason}")
    out.print(t)

    t = Table(title="profiles", title_justify="left")
    t.add_column("profile")
    t.add_column("measurement", overflow="fold")
    for p in PROFILE_NAMES:
        t.add_row(p, describe_profile(p))
    out.print(t)

    t = Table(title="dynamic-shape scenario (--scenario dynamic)", title_justify="left")
    t.add_column("option")
    t.add_column("name")
    t.add_column("what it is", overflow="fold")
    t.add_row("models", ", ".join(dynamic_models()), "models with a sequence axis")
    for name, stream in STREAMS.items():
        steps = ", ".join(f"{n} steps ({p})" for p, n in STREAM_STEPS.items())
        t.add_row("--streams", name, f"{stream.description}; {steps}")
    for name, text in STRATEGY_HELP.items():
        t.add_row("--strategies", name, text)
    out.print(t)
    return 0


def run_meta(run_id: str, settings: Settings, cells: list[Cell], precision: str) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "started_utc": utc_now(),
        "finished_utc": None,
        "interrupted": None,
        "command": shlex.join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
        "cwd": str(Path.cwd()),
        "settings": settings.to_dict(),
        "precision_policy": {precision: PRECISION_POLICY[precision]},
        "training_step": {"loss": LOSS, "optimizer": {"name": "Adam", **asdict(ADAM)}},
        "environment": environment.collect(settings.threads),
        "matrix": [c.to_dict() for c in cells],
        "dynamic_shapes": {
            "streams": {
                name: {"description": s.description, "n_steps": STREAM_STEPS[settings.profile]}
                for name, s in STREAMS.items()
            },
            "strategies": STRATEGY_HELP,
            "buckets": "powers of two from the stream's shortest to its longest length",
        }
        if any(c.scenario == "dynamic" for c in cells)
        else None,
    }


def cmd_run(args: argparse.Namespace, out: Console, err: Console) -> int:
    device = args.device
    if device == "cuda":
        reason = environment.cuda_unavailable_reason()
        if reason:
            raise UsageError(
                f"--device cuda: no CUDA device is visible ({reason}); valid here: cpu"
            )
    dynamic = args.scenario == "dynamic"
    if not dynamic and (args.strategies or args.streams):
        raise UsageError("--strategies and --streams apply to --scenario dynamic only")
    all_models = dynamic_models() if dynamic else models.MODEL_NAMES
    model_names = (
        all_models
        if args.models.strip() == "all"
        else parse_names("--models", args.models, models.MODEL_NAMES)
    )
    backend_names = (
        backends_for_device(device)
        if args.backends.strip() == "all"
        else parse_names("--backends", args.backends, tuple(backends.BACKENDS))
    )
    modes = parse_names("--modes", args.modes, MODES) if args.modes else None
    batch_sizes = parse_batch_sizes(args.batch_sizes) if args.batch_sizes else None
    if args.threads and args.threads > available_cores():
        raise UsageError(
            f"--threads: {args.threads} is more than the {available_cores()} "
            f"schedulable cores; expected 1..{available_cores()}"
        )
    settings = settings_for(args.profile, timeout_s=args.timeout, threads=args.threads)
    if dynamic:
        strategies = parse_names("--strategies", args.strategies or "all", STRATEGIES)
        streams = parse_names("--streams", args.streams or "all", tuple(STREAMS))
        cells = expand_dynamic(
            model_names,
            backend_names,
            modes,
            device,
            args.profile,
            strategies,
            streams,
            batch_sizes,
        )
    else:
        cells = expand(
            model_names, backend_names, modes or MODES, device, args.profile, batch_sizes
        )

    run_dir = new_run_dir(args.out_dir, device, args.scenario)
    meta = run_meta(run_dir.name, settings, cells, "float32")
    write_json_atomic(run_dir / RUN_FILE, meta)
    return execute(run_dir, meta, cells, settings, out, err)


def cmd_resume(args: argparse.Namespace, out: Console, err: Console) -> int:
    run = load_run(args.run_dir)
    if "matrix" not in run.meta:
        raise UsageError(f"{args.run_dir}: run.json has no matrix to resume")
    settings = Settings.from_dict(run.meta["settings"])
    cells = [Cell.from_dict(c) for c in run.meta["matrix"]]
    run.meta.setdefault("resumed_utc", []).append(utc_now())
    return execute(run.path, run.meta, cells, settings, out, err)


def progress_detail(record: dict) -> str:
    """The one line a finished cell gets while the run goes on."""
    if record["status"] != "ok":
        return record.get("error") or ""
    if record["scenario"] == "dynamic":
        compiling = record["compile_s"]
        return (
            f"stream {record['total_s']:.3g} s"
            + ("" if compiling is None else f", {compiling:.3g} s of it compiling")
            + f", steady {record['steady_latency_ms']:.3g} ms/step"
        )
    return f"{record['latency_ms']['median']:.3g} ms, first call {record['first_call_s']:.3g} s"


def execute(
    run_dir: Path, meta: dict, cells: list[Cell], settings: Settings, out: Console, err: Console
) -> int:
    runner = Runner(run_dir, meta["run_id"], settings)
    todo = runner.pending(cells)
    err.print(f"graphbench: {len(todo)} cell(s) into {run_dir}")
    interrupted = False
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with progress:
        task = progress.add_task("", total=len(todo))

        def on_start(cell: Cell) -> None:
            progress.update(task, description=cell.label())

        def on_done(record: dict) -> None:
            mark = "[green]ok[/]" if record["status"] == "ok" else f"[red]{record['status']}[/]"
            progress.console.print(
                f"{mark} {Cell.from_dict(record).label()}: {progress_detail(record)}",
                markup=True,
                highlight=False,
            )
            progress.advance(task)

        try:
            runner.run(todo, on_start, on_done)
        except KeyboardInterrupt:
            interrupted = True
    meta["finished_utc"] = utc_now()
    meta["interrupted"] = interrupted
    write_json_atomic(run_dir / RUN_FILE, meta)

    run = load_run(run_dir)
    out.print(summary.table(run.cells, title=f"run {run.run_id}"))
    if interrupted:
        err.print(
            f"interrupted: finished cells are kept; continue with: python -m bench resume {run_dir}"
        )
    print(run_dir, flush=True)
    return EXIT_INTERRUPTED if interrupted else 0


def cmd_summary(args: argparse.Namespace, out: Console) -> int:
    run = load_run(args.run_dir)
    if args.markdown:
        print(summary.markdown(run.cells))
    else:
        out.print(summary.table(run.cells, title=f"run {run.run_id}"))
    return 0


def check_writable(option: str, path: Path) -> None:
    """Refuse an output path before any work is done, with the reason in one line."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory; expected a file name")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{option} {path}: directory {parent} is not writable")


def write_output(option: str, path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a page."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file (mkstemp makes it private)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None


def report_module(name: str) -> ModuleType:
    """Import part of report/ (pandas, seaborn, matplotlib, jinja2), or say how to get it."""
    try:
        return importlib.import_module(f"report.{name}")
    except ImportError as exc:
        raise UsageError(
            f"the report needs its extra ({exc.name or exc} is missing): "
            "pip install 'graphbench[report]'"
        ) from None


def command_line(argv: list[str] | None) -> str:
    """The command as typed (for the page's footer), whether from a shell or from main()."""
    words = sys.argv[1:] if argv is None else argv
    return shlex.join([Path(sys.executable).name, "-m", "bench", *words])


def cmd_report(args: argparse.Namespace, err: Console, command: str) -> int:
    if args.newest_in is not None:
        if args.run_dirs:
            raise UsageError("give RUN_DIR(s) or --newest-in DIR, not both")
        if not args.newest_in.is_dir():
            raise UsageError(f"--newest-in {args.newest_in}: no such directory")
        discover = report_module("discover")
        run_dirs, notes = discover.newest_runs(args.newest_in)
        for note in notes:
            err.print(f"note: {note}", markup=False)
        if not run_dirs:
            raise UsageError(
                f"no finished run under {args.newest_in}; run `nox -s bench` "
                "(or python -m bench run) first"
            )
    elif args.run_dirs:
        run_dirs = args.run_dirs
    else:
        raise UsageError("expected at least one RUN_DIR (or --newest-in DIR)")
    check_writable("-o", args.output)
    runs = [load_run(d) for d in run_dirs]
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise UsageError(f"the same run was given twice: {', '.join(ids)}")
    page = report_module("html").render_report(runs, generated_by=command)
    write_output("-o", args.output, page)
    print(args.output, flush=True)
    return 0


def cmd_compare(args: argparse.Namespace, out: Console, err: Console, command: str) -> int:
    run_a, run_b = load_run(args.run_a), load_run(args.run_b)
    if args.html is not None:
        check_writable("--html", args.html)
    result = compare.compare_runs(run_a, run_b, args.threshold, args.resamples, args.seed)
    out.print(compare.table(result))
    for t in compare.side_tables(result):
        out.print(t)
    if args.html is not None:
        page = report_module("compare_page").render_comparison(result, command)
        write_output("--html", args.html, page)
        err.print(f"comparison page: {args.html}", markup=False)
    if args.fail_on_regression and result.slower:
        err.print(
            f"regression: {len(result.slower)} cell(s) slower than {result.run_a} beyond "
            f"{result.threshold:.0%}: " + ", ".join(c.label for c in result.slower),
            markup=False,
        )
        return EXIT_REGRESSION
    return 0


def main(argv: list[str] | None = None) -> int:
    # Wide enough for the summary table when stdout is a file or a pipe (CI logs, notes).
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            return cmd_list(out)
        if args.command == "env":
            env = {
                "environment": environment.collect(),
                "precision_policy": PRECISION_POLICY,
                "settings": {p: settings_for(p).to_dict() for p in PROFILE_NAMES},
            }
            print(json.dumps(env, indent=2))
            return 0
        if args.command == "run":
            return cmd_run(args, out, err)
        if args.command == "resume":
            return cmd_resume(args, out, err)
        if args.command == "summary":
            return cmd_summary(args, out)
        if args.command == "report":
            return cmd_report(args, err, command_line(argv))
        if args.command == "compare":
            return cmd_compare(args, out, err, command_line(argv))
        raise UsageError(f"unknown command {args.command!r}")
    except (UsageError, ValueError) as exc:  # SchemaError is a ValueError
        print(f"graphbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
