"""Stored runs -> tidy pandas frames: one row per cell, every derived number from
bench.analysis.metrics.

The columns every scenario's frame shares (identity, provenance, outcome) come from
``base_row``; each scenario's section (report.sections) adds its own measurements.
Nothing here plots or writes, and nothing computes a number bench.analysis.metrics owns.
Nothing assumes a fixed list of models or backends: models keep the order they were
run in, backends the registry's order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from bench import backends
from bench.analysis.compare import short_commit
from bench.matrix.cells import IDENTITY_FIELDS, MODES
from bench.matrix.precision import PRECISIONS
from bench.results.record import CellResult, Status
from bench.results.store import Run


def num(value: object) -> float:
    """A number for a frame column: NaN where there is none."""
    return float(value) if isinstance(value, (int, float)) and value is not None else math.nan


def commit_of(run: Run) -> str:
    return short_commit(run.meta.environment.git)


def base_row(run: Run, r: CellResult) -> dict:
    """The columns of a cell that every scenario shares: who, where, what happened."""
    info = backends.get(r.cell.backend)
    return {
        "run_id": run.run_id,
        "commit": commit_of(run),
        **{k: getattr(r.cell, k) for k in IDENTITY_FIELDS},
        "framework": r.cell.framework,
        "static": info.static,
        "eager_backend": backends.eager_counterpart(r.cell.backend),
        "status": str(r.status),
        "not_applicable": r.status is Status.NOT_APPLICABLE,
        "error": r.error,
        "output_tail": "\n".join(r.process.output_tail if r.process else []),
    }


def sources(frame: pd.DataFrame) -> pd.Series:
    """Where a cell ran, as a heading: the device, plus the run id where a device has several."""
    runs_per_device = frame.groupby("device")["run_id"].transform("nunique")
    label = frame["device"].astype(str)
    return label.where(runs_per_device <= 1, label + " · " + frame["run_id"].astype(str))


def ordered(frame: pd.DataFrame, sort: list[str], categories: dict | None = None) -> pd.DataFrame:
    """Categorical orders (models as first run, backends as in the registry, modes infer
    then train, plus ``categories``), then sorted by ``sort``."""
    frame = frame.assign(source=sources(frame))
    present = set(frame["mode"])
    orders = {
        "precision": [p for p in PRECISIONS if p in set(frame["precision"])],
        "model": list(dict.fromkeys(frame["model"])),
        "backend": [b for b in backends.BACKENDS if b in set(frame["backend"])],
        "mode": [m for m in MODES if m in present] + sorted(present - set(MODES)),
        **(categories or {}),
    }
    for column, order in orders.items():
        frame[column] = pd.Categorical(frame[column], order, ordered=True)
    return frame.sort_values(["source", *sort], kind="stable").reset_index(drop=True)


def workload(frame: pd.DataFrame) -> pd.Series:
    """``mlp b128``: a model at one batch size (the row of a heatmap)."""
    return frame["model"].astype(str) + " b" + frame["batch_size"].astype(str)


def panel(frame: pd.DataFrame) -> pd.Series:
    """``train · cpu``, ``train · amp-bf16 · cpu``: one mode, precision and device: a panel of
    a figure (and what a geometric mean is taken over)."""
    precision = frame["precision"].astype(str)
    shown = precision.where(precision == "float32", " · " + precision).replace("float32", "")
    return frame["mode"].astype(str) + shown + " · " + frame["source"]


def results_of(runs: Sequence[Run], scenario: str) -> list[tuple[Run, CellResult]]:
    return [(run, r) for run in runs for r in run.results if r.cell.scenario == scenario]
