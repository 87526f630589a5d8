"""The page: stored runs -> one self-contained HTML string (inline SVG and CSS, no scripts).

Each scenario present in the runs contributes its section (report.sections); the page
adds the runs, the failures of every section, the citations and the environments.
Every string from results reaches the page through Jinja2 with autoescaping on; the
only markup inserted as is, is the SVG that matplotlib wrote (text drawn as paths,
comments removed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.results.record import Status
from bench.results.store import Run
from report import envinfo, frame, sections, tables
from report.templating import render


def _runs_overview(runs: Sequence[Run]) -> list[dict[str, str]]:
    return [
        {
            "run_id": run.run_id,
            "devices": ", ".join(sorted({r.cell.device for r in run.results})),
            "started": run.meta.identity.started_utc,
            "commit": frame.commit_of(run),
            "cells": str(len(run.results)),
            "command": run.meta.identity.command,
        }
        for run in runs
    ]


def render_report(
    runs: Sequence[Run],
    generated_by: str = "",
    include_contended: bool = False,
    report_dir: Path | None = None,
    include_slow: bool = False,
) -> str:
    """The whole page for one or more runs (e.g. a CPU run and a GPU run side by side).
    Contended cells, and cells measured in a slow window, are shown but left out of
    geometric means unless ``include_contended`` / ``include_slow``."""
    options = sections.Options(include_contended, report_dir, include_slow)
    built = sections.build_all(runs, options)
    any_na = any(r.status is Status.NOT_APPLICABLE for run in runs for r in run.results)
    models = dict.fromkeys(r.cell.model for run in runs for r in run.results)
    backends = dict.fromkeys(r.cell.backend for run in runs for r in run.results)
    return render(
        "report.html.j2",
        title=", ".join(r.run_id for r in runs),
        generated_by=generated_by,
        runs=_runs_overview(runs),
        sections=built,
        models=", ".join(models),
        backends=", ".join(backends),
        failures=tables.failures_table([s.failures for s in built], any_na),
        environments=[envinfo.describe(r) for r in runs],
    )
