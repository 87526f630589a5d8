"""``report`` and ``compare``: stored runs -> an HTML page, or B against A."""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.text import Text

from bench.analysis import compare
from bench.cli import args as check
from bench.errors import UsageError
from bench.results.store import load_run
from bench.terminal import plain

EXIT_REGRESSION = 1


def command_line(argv: list[str] | None) -> str:
    """The command as typed (for a page's footer), whether from a shell or from main()."""
    words = sys.argv[1:] if argv is None else argv
    return shlex.join([Path(sys.executable).name, "-m", "bench", *words])


def write_output(option: str, path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a page."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file (mkstemp makes it private)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
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


def cmd_report(a: argparse.Namespace, err: Console, command: str) -> int:
    if a.newest_in is not None:
        if a.run_dirs:
            raise UsageError("give RUN_DIR(s) or --newest-in DIR, not both")
        if not a.newest_in.is_dir():
            raise UsageError(f"--newest-in {a.newest_in}: no such directory")
        run_dirs, notes = report_module("discover").newest_runs(a.newest_in)
        for note in notes:
            err.print(Text(f"note: {plain(note)}"))
        if not run_dirs:
            raise UsageError(
                f"no finished run under {a.newest_in}; run `nox -s bench` "
                "(or python -m bench run) first"
            )
    elif a.run_dirs:
        run_dirs = a.run_dirs
    else:
        raise UsageError("expected at least one RUN_DIR (or --newest-in DIR)")
    check.output_file("-o", a.output)
    runs = [load_run(d) for d in run_dirs]
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise UsageError(f"the same run was given twice: {', '.join(ids)}")
    if not any(r.results for r in runs):
        raise UsageError(f"nothing to report: {', '.join(ids)} has no finished cell yet")
    page = report_module("html").render_report(
        runs,
        generated_by=command,
        include_contended=a.include_contended,
        include_slow=a.include_slow,
        report_dir=a.output.absolute().parent,
    )
    write_output("-o", a.output, page)
    print(a.output, flush=True)
    return 0


def cmd_compare(a: argparse.Namespace, out: Console, err: Console, command: str) -> int:
    run_a, run_b = load_run(a.run_a), load_run(a.run_b)
    if a.html is not None:
        check.output_file("--html", a.html)
    result = compare.compare_runs(
        run_a,
        run_b,
        a.threshold,
        a.resamples,
        a.seed,
        include_contended=a.include_contended,
        include_slow=a.include_slow,
    )
    out.print(compare.table(result))
    for t in compare.side_tables(result):
        out.print(t)
    if a.html is not None:
        page = report_module("compare_page").render_comparison(result, command)
        write_output("--html", a.html, page)
        err.print(Text(plain(f"comparison page: {a.html}")))
    if a.fail_on_regression:
        reasons = compare.gate_failures(result)
        if reasons:
            err.print(Text(plain("regression: " + "; ".join(reasons))))
            return EXIT_REGRESSION
    return 0
