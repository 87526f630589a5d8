"""The report's "ahead of time" section: the three execution styles' starts side by side.

For each block (model, mode, batch, precision, device) that holds an ahead-of-time cell,
every ok fixed-shape cell of it: its style, the artefact's build time, size and files, the
cold-start worker's load, the time to first result (cold and warm) and the steady-state
step. Every figure is the record's (the Artifact group) or bench.analysis.metrics'
(time_to_first_result, median_ms), not recomputed here.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bench import backends
from bench.analysis import metrics
from bench.results.record import CellResult
from bench.results.store import Run
from report import fmt, measures, plots
from report.figures import figure
from report.measures import Measure, computed_by
from report.sections import Options, Section
from report.tables import Column, Row, Table

ID = "ahead-of-time"
BLOCK = ("model", "profile", "mode", "batch_size", "precision", "device")
# Each cell's derived numbers, from bench.analysis.metrics (the section computes none).
MEASURES = {
    "style": Measure("style", metrics.execution_style, kind="text"),
    "first_result_s": Measure("first_result_s", metrics.time_to_first_result, when="ok"),
    "warm_s": Measure("warm_s", metrics.time_to_first_result, options=(("warm", True),), when="ok"),
    "steady_ms": Measure("steady_ms", metrics.median_ms, when="ok"),
}


def _numbers(r: CellResult) -> dict:
    """The cell's measures, a missing number as None."""
    out = measures.compute(MEASURES, {"result": r})
    return {k: None if isinstance(v, float) and v != v else v for k, v in out.items()}


def _block(r: CellResult) -> tuple:
    return tuple(getattr(r.cell, k) for k in BLOCK)


def compared(runs: Sequence[Run]) -> list[CellResult]:
    """The ok fixed-shape cells of every block that holds an ahead-of-time cell."""
    cells = [r for run in runs for r in metrics.pool_repetitions(run.results)]
    fixed = [r for r in cells if r.cell.scenario == "fixed"]
    blocks = {_block(r) for r in fixed if backends.get(r.cell.backend).artifact}
    return sorted((r for r in fixed if r.ok and _block(r) in blocks), key=_block)


def _num(value: float | None) -> str:
    return "–" if value is None else fmt.sig(value)


def start_table(cells: list[CellResult]) -> Table:
    columns = (
        Column("cell", wrap="wrap"),
        Column("style", help="eager, just in time (jit) or ahead of time (aot)"),
        Column("artefact s", True, "artifact_build_s: export, compile and write, once"),
        Column("artefact MB", True, "artifact_bytes: every file of the artefact"),
        Column("files", wrap="reason", help="artifact_files: what the artefact holds"),
        Column("load s", True, "load_s: the cold-start worker loading the artefact"),
        Column("to first result s", True, metrics.DEFINITIONS["first_result"].help()),
        Column("warm s", True, "a just-in-time cell's warm start (a persistent compile cache)"),
        Column("steady ms", True, "median steady-state step"),
    )
    rows = []
    for r in cells:
        a, n = r.artifact, _numbers(r)
        style = n["style"]
        files = ", ".join(
            f"{name} ({fmt.sig(size / 1e6)} MB)"
            for name, size in (a.artifact_files if a else {}).items()
        )
        rows.append(
            Row(
                (
                    f"{r.cell.model} {r.cell.mode} b{r.cell.batch_size} {r.cell.backend}",
                    style,
                    _num(a.artifact_build_s if a else None),
                    _num(a.artifact_bytes / 1e6 if a and a.artifact_bytes is not None else None),
                    (a.artifact_error or files or "–") if a else "–",
                    _num(a.load_s if a else None),
                    _num(n["first_result_s"]),
                    _num(n["warm_s"] if style == "jit" else None),
                    _num(n["steady_ms"]),
                )
            )
        )
    return Table("ahead-of-time-table", columns, tuple(rows), "No ahead-of-time cell ran.")


def start_frame(cells: list[CellResult]) -> pd.DataFrame:
    rows = []
    for r in cells:
        n = _numbers(r)
        panel = f"{r.cell.model} {r.cell.mode} b{r.cell.batch_size} · {r.cell.device}"
        rows.append(
            {
                "panel": panel,
                "backend": r.cell.backend,
                "style": n["style"],
                "steady_ms": n["steady_ms"],
                "first_result_s": n["first_result_s"],
            }
        )
    return pd.DataFrame(rows, columns=["panel", "backend", "style", "steady_ms", "first_result_s"])


def build(
    runs: Sequence[Run], first_figure: int = 1, options: Options | None = None
) -> Section | None:
    cells = compared(runs)
    if not any(r.artifact is not None for r in cells):
        return None
    block = figure(
        f"fig-{ID}",
        str(first_figure),
        (
            "Time to first result against the steady-state step, per execution style",
            "Each ok cell of a block with an ahead-of-time backend: its median steady step "
            "(x) and the time a new process takes to its first correct output (y; eager and "
            "just in time: build + first call, cold; ahead of time: the cold-start worker's "
            "load + first call, the artefact built once before). "
            + computed_by(*MEASURES.values()),
        ),
        lambda: plots.first_result_vs_step(start_frame(cells)),
    )
    return Section(
        scenario=ID,
        template="sections/aot.html.j2",
        noun="cells beside an ahead-of-time backend",
        total=len(cells),
        counts=[],
        warnings=[],
        nav=[(ID, "Ahead of time: artefacts and the time to first result")],
        context={"table": start_table(cells), "figure": block},
        failures=pd.DataFrame(),
        figures_used=1,
    )
