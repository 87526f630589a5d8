"""Find the runs to report under a results directory: the newest run of each device.

Reads only run.json files (no pandas), so the CLI can list and check runs cheaply.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.results import CELLS_FILE, RUN_FILE, SchemaError, load_run


def _kind(meta: dict, run_dir: Path) -> tuple[str, ...] | None:
    """A run's devices (and scenarios other than ``fixed``): newest runs are kept per kind."""
    cells = meta.get("matrix") or []
    if not cells:
        cells = load_run(run_dir).cells
    devices = sorted({c["device"] for c in cells})
    scenarios = sorted({c.get("scenario", "fixed") for c in cells} - {"fixed"})
    return tuple(devices + scenarios) if devices else None


def newest_runs(results_dir: Path) -> tuple[list[Path], list[str]]:
    """(the newest run with at least one finished cell per device, notes on runs passed over).

    Newest by ``started_utc`` (then by directory name). A run that cannot be read is
    passed over with a note rather than stopping the report of the others.
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
            meta = json.loads(meta_path.read_text())
            load_run(run_dir)  # refuses unknown schema versions and broken files
            kind = _kind(meta, run_dir)
        except (SchemaError, json.JSONDecodeError, KeyError) as exc:
            notes.append(f"{run_dir}: passed over ({exc})")
            continue
        if kind is None:
            continue
        stamp = (str(meta.get("started_utc") or ""), run_dir.name)
        if kind not in found or stamp > found[kind][:2]:
            found[kind] = (*stamp, run_dir)
    return [found[k][2] for k in sorted(found)], notes
