"""Each scenario's measurement, by the scenario's name (bench.matrix.scenarios has its
matrix): the reference outputs (bench.worker.expected) and the measured cell
(bench.worker.main)."""

from __future__ import annotations

from bench.worker.scenarios import fixed, stream
from bench.worker.scenarios.base import ScenarioMeasure

MEASURES: dict[str, ScenarioMeasure] = {"fixed": fixed.MEASURE, "stream": stream.MEASURE}


def get(name: str) -> ScenarioMeasure:
    """The measurement of the scenario a cell names (its canonical name)."""
    return MEASURES[name]
