"""Copies of stored runs for tests that change what a run claims about itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def copy_run(source: Path, tmp_path: Path) -> Path:
    """A writable copy of a stored run directory, as ``tmp_path/run``."""
    run = tmp_path / "run"
    shutil.copytree(source, run)
    return run


def copy_with_schema_version(source: Path, tmp_path: Path, version: int) -> Path:
    """A copy of a stored run whose run.json claims ``schema_version`` ``version``."""
    run = copy_run(source, tmp_path)
    meta_file = run / "run.json"
    meta = json.loads(meta_file.read_text())
    meta["schema_version"] = version
    meta_file.write_text(json.dumps(meta))
    return run
