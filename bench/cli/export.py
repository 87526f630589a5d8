"""``export``: stored runs -> pytest-benchmark JSON (one file, or a storage directory) or CSV.

``--format pytest-benchmark -o FILE``: the file ``pytest --benchmark-json`` would write for
the run (bench.analysis.export). ``--format pytest-benchmark --storage DIR``: each run saved into a
pytest-benchmark storage directory, as ``--benchmark-save`` would, for
``pytest-benchmark compare``. ``--format csv -o FILE``: the report's frame of fixed-shape
cells, one row per cell (report.data). Each path written is printed on stdout.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.text import Text

from bench.analysis import export as benchmark_json
from bench.cli import args as check
from bench.cli.pages import write_output
from bench.errors import UsageError
from bench.results.store import RUN_FILE, Run, load_run
from bench.terminal import plain

FORMATS = ("pytest-benchmark", "csv")
EXTRA = benchmark_json.EXTRA
FILE_SCHEME = "file://"


def add_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "export",
        help="stored runs as pytest-benchmark JSON (a file, or a storage directory for "
        "pytest-benchmark compare) or as CSV",
    )
    e.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    e.add_argument("--format", required=True, choices=FORMATS)
    e.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="the file to write (pytest-benchmark: one run)",
    )
    e.add_argument(
        "--storage",
        metavar="DIR",
        help="pytest-benchmark only: save each run into this storage directory (or "
        "file://DIR), numbered after the files already there",
    )


def cmd_export(a: argparse.Namespace, err: Console) -> int:
    if a.format == "csv":
        return export_csv(a, err)
    return export_pytest_benchmark(a, err)


# --- checks, before any work ----------------------------------------------------------


def storage_dir(text: str) -> Path:
    """``DIR`` or ``file://DIR``, as pytest-benchmark's --storage takes a directory."""
    if "://" in text and not text.startswith(FILE_SCHEME):
        raise UsageError(
            f"--storage {text}: only a directory (or file://DIR) can be written; "
            "pytest-benchmark's other storages are not supported"
        )
    path = Path(text.removeprefix(FILE_SCHEME))
    if (path / RUN_FILE).is_file():  # its files would sit among the run's own data
        raise UsageError(f"--storage {path}: that is a run directory; choose another")
    return path


def report_data() -> ModuleType:
    """report.data (pandas and the report's modules), or a refusal naming the extra."""
    try:
        return importlib.import_module("report.data")
    except ImportError as exc:
        raise UsageError(
            f"export --format csv needs pandas and the report's modules ({exc.name or exc} "
            f"is missing): {EXTRA}"
        ) from None


def loaded_runs(run_dirs: list[Path], err: Console) -> list[Run]:
    """The runs, each read and validated; the same run twice is refused."""
    runs = [load_run(d) for d in run_dirs]
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise UsageError(f"the same run was given twice: {', '.join(ids)}")
    for run in runs:
        for note in run.notes:
            err.print(Text(f"note: {plain(note)}"))
    return runs


# --- the formats ----------------------------------------------------------------------


def pytest_benchmark_destination(a: argparse.Namespace) -> Path | None:
    """The storage directory (None: the -o file), every option checked before any work."""
    if a.output is not None and a.storage is not None:
        raise UsageError("--format pytest-benchmark: give -o FILE or --storage DIR, not both")
    if a.output is None and a.storage is None:
        raise UsageError("--format pytest-benchmark: expected -o FILE (one run) or --storage DIR")
    if a.output is not None and len(a.run_dirs) > 1:
        raise UsageError(
            "-o FILE holds one run (one pytest-benchmark session); give one RUN_DIR, or "
            "--storage DIR for several"
        )
    if a.output is not None:
        check.output_file("-o", a.output)
        return None
    return storage_dir(a.storage)


def export_pytest_benchmark(a: argparse.Namespace, err: Console) -> int:
    directory = pytest_benchmark_destination(a)
    benchmark_json.pytest_benchmark()  # installed, or a refusal naming the extra
    runs = loaded_runs(a.run_dirs, err)
    for run in runs:  # every run has something to export, before any is written
        benchmark_json.require_cells(run)
    if directory is None:
        write_output("-o", a.output, benchmark_json.json_text(runs[0]))
        print(a.output, flush=True)
    else:
        save_all(runs, directory, err)
    return 0


def save_all(runs: list[Run], directory: Path, err: Console) -> None:
    """Each run into the storage directory (created if need be), in the order given."""
    check.output_dir("--storage", directory)
    for run in runs:
        path, written = benchmark_json.save(run, directory)
        if not written:
            err.print(Text(plain(f"note: {run.run_id} is already in {path}; not saved again")))
        print(path, flush=True)


def export_csv(a: argparse.Namespace, err: Console) -> int:
    if a.storage is not None:
        raise UsageError("--storage applies to --format pytest-benchmark only")
    if a.output is None:
        raise UsageError("--format csv: expected -o FILE")
    check.output_file("-o", a.output)
    data = report_data()
    runs = loaded_runs(a.run_dirs, err)
    cells = data.cells_frame(runs)
    if cells.empty:
        names = ", ".join(r.run_id for r in runs)
        raise UsageError(f"nothing to export: no fixed-shape cell in {names}")
    write_output("-o", a.output, data.cells_csv(cells))
    print(a.output, flush=True)
    return 0
