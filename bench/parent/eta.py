"""The time a run has left: the expected cost of its remaining cells, not their count.

A cold ``torch.compile`` cell costs a hundred eager ones, so "40 of 90 done" says little.
Each cell's expected wall time comes from earlier runs of the same cell on this machine
(the median ``wall_s`` of its records under the same results directory, same host, CPU
and settings), else from bench.matrix.cost's stated prior. As cells finish, the estimate learns
how far off each source is on this run (the median ratio of actual to expected, per
source) and scales what is left by it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path

from bench.errors import SchemaError
from bench.matrix import cost
from bench.matrix.cells import Cell
from bench.matrix.profiles import Settings
from bench.results.store import load_run

HISTORY, PRIOR = "earlier runs", "estimates"


def _key(cell: Cell) -> tuple:
    return cell.workload()


def history(
    results_dir: Path, host: str | None, cpu: str | None, settings: Settings
) -> dict[tuple, float]:
    """Median wall time of each cell in the runs under ``results_dir`` made on this host and
    CPU with these settings (runs that cannot be read are skipped: this is an estimate)."""
    walls: dict[tuple, list[float]] = {}
    for meta_path in sorted(results_dir.glob("*/run.json")):
        try:
            run = load_run(meta_path.parent)
        except (SchemaError, OSError):
            continue
        env = run.meta.environment
        if (env.host, env.cpu_model) != (host, cpu):
            continue
        if run.meta.settings != settings:
            continue
        for r in run.results:
            if r.process is not None and r.process.wall_s and r.process.log:  # a worker ran
                walls.setdefault(_key(r.cell), []).append(r.process.wall_s)
    return {k: statistics.median(v) for k, v in walls.items()}


class Eta:
    def __init__(self, cells: Iterable[Cell], settings: Settings, known: dict[tuple, float]):
        self.expected: dict[tuple, tuple[float, str]] = {}
        for c in cells:
            if _key(c) in known:
                self.expected[c.key()] = (known[_key(c)], HISTORY)
            else:
                self.expected[c.key()] = (cost.prior_s(c, settings), PRIOR)
        self.left = dict(self.expected)
        self.ratios: dict[str, list[float]] = {HISTORY: [], PRIOR: []}

    def basis(self) -> str:
        """Where the estimate comes from, for the progress line."""
        sources = [source for _, source in self.left.values()]
        parts = [f"{sources.count(s)} from {s}" for s in (HISTORY, PRIOR) if s in sources]
        return ", ".join(parts)

    def finished(self, cell: Cell, wall_s: float | None) -> None:
        expected = self.left.pop(cell.key(), None)
        if expected is not None and wall_s and expected[0] > 0:
            self.ratios[expected[1]].append(wall_s / expected[0])

    def scale(self, source: str) -> float:
        """How far off this source has been in this run so far (1 before any cell ended)."""
        ratios = self.ratios[source] or self.ratios[HISTORY] + self.ratios[PRIOR]
        return statistics.median(ratios) if ratios else 1.0

    def remaining_s(self) -> float:
        return sum(seconds * self.scale(source) for seconds, source in self.left.values())


def clock_text(seconds: float) -> str:
    """``1 h 05 min``, ``12 min``, ``40 s``."""
    seconds = max(0.0, seconds)
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds)} s"
