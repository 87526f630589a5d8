"""The scenarios, by name: what a run measures. A scenario is a module here (its matrix),
one in bench/worker/scenarios/ (its measurement), its rows in bench/analysis/summary_rows.py
and, for the HTML report, ``report/sections/<name>.py``; tests/test_layout.py checks that
every scenario has all four.

``fixed``: one batch shape, timed until its step time is known.
``stream``: a stream of varying sequence lengths; ``dynamic`` is its old name, still
accepted on the command line.
"""

from __future__ import annotations

from bench.errors import UsageError
from bench.matrix.scenarios import fixed, stream
from bench.matrix.scenarios.base import Scenario

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (fixed.SCENARIO, stream.SCENARIO)}
ALIASES: dict[str, str] = {alias: s.name for s in SCENARIOS.values() for alias in s.aliases}


def names() -> tuple[str, ...]:
    return tuple(SCENARIOS)


def get(name: str) -> Scenario:
    """A scenario by its name or an alias; a UsageError naming the valid ones otherwise."""
    name = ALIASES.get(name, name)
    if name not in SCENARIOS:
        valid = ", ".join([*SCENARIOS, *(f"{a} (= {n})" for a, n in ALIASES.items())])
        raise UsageError(f"--scenario: unknown {name!r}; expected one of: {valid}")
    return SCENARIOS[name]
