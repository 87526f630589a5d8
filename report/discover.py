"""Find the runs to report under a results directory: the newest run of each kind.

A run's kind is its devices and its scenarios other than ``fixed``; a run that cannot be
read is passed over with a note rather than stopping the report of the others.
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import SchemaError
from bench.results.store import CELLS_FILE, RUN_FILE, Run, load_run


def _kind(run: Run) -> tuple[str, ...] | None:
    """A run's devices (and scenarios other than ``fixed``): newest runs are kept per kind."""
    cells = [r.cell for r in run.results]
    devices = sorted({c.device for c in cells})
    scenarios = sorted({c.scenario for c in cells} - {"fixed"})
    return tuple(devices + scenarios) if devices else None


def newest_runs(results_dir: Path) -> tuple[list[Path], list[str]]:
    """(the newest run with at least one finished cell per kind, notes on runs passed over).

    Newest by ``started_utc`` (then by directory name).
    """
    found: dict[tuple[str, ...], tuple[str, str, Path]] = {}
    notes = []
    for meta_path in sorted(results_dir.glob(f"*/{RUN_FILE}")):
        run_dir = meta_path.parent
        cells = run_dir / CELLS_FILE
        if not cells.is_file() or cells.stat().st_size == 0:
            notes.append(f"{run_dir}: no finished cell yet, passed over")
            continue
        try:
            run = load_run(run_dir)
        except SchemaError as exc:
            notes.append(f"{run_dir}: passed over ({exc})")
            continue
        kind = _kind(run)
        if kind is None:
            continue
        stamp = (run.meta.identity.started_utc, run_dir.name)
        if kind not in found or stamp > found[kind][:2]:
            found[kind] = (*stamp, run_dir)
    return [found[k][2] for k in sorted(found)], notes
