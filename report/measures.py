"""What a report column or figure shows, declared: the bench.analysis.metrics function that
computes it.

A ``Measure`` is one column of a section's frame, filled by calling one metric function
on a cell's inputs (the result, its baselines, its run's device peak, ...); an
``Aggregate`` is one number over a group of the frame's rows (a geometric mean, a pass
rate). A table column or a figure lists what it shows (``shows``); its tooltip or
caption is written from those very functions' docstrings and names (``explain``,
``computed_by``), so what a reader is told a number is and what computes it cannot part.
tests/test_report_columns.py checks it by swapping each function for a perturbed one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# What a Measure's value is when the metric is not called (the cell is not ok, an input is
# missing), and how a value the metric returned is stored in the frame.
_MISSING: dict[str, Callable[[], Any]] = {
    "number": lambda: math.nan,
    "count": lambda: 0,
    "flag": lambda: False,
    "text": lambda: "",
    "list": list,
    "object": lambda: None,
}


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


_STORE: dict[str, Callable[[Any], Any]] = {
    "number": _number,
    "count": lambda v: 0 if v is None else int(v),
    "flag": bool,
    "text": lambda v: v or "",
    "list": lambda v: [] if v is None else list(v),
    "object": lambda v: v,
}


@dataclass(frozen=True)
class Measure:
    """A frame column: ``metric(*inputs, **options)``, or one part of what it returns.

    ``inputs`` name what the section hands each cell's metrics (``result``, ``baselines``,
    ``eager``, ``device_peak``, ...). ``when``: ``ok`` calls the metric for ok cells only,
    ``present`` only where every input is there; otherwise the column holds the kind's
    missing value (NaN, 0, False, "", [] or None).
    """

    key: str  # the frame column
    metric: Callable[..., Any]  # a bench.analysis.metrics function
    inputs: tuple[str, ...] = ("result",)
    options: tuple[tuple[str, Any], ...] = ()  # keyword arguments, e.g. (("warm", True),)
    part: str | int | None = None  # an attribute (latency's "p90"), method or index of it
    kind: str = "number"  # number, count, flag, text, list or object (kept as returned)
    when: str = ""  # "", "ok" or "present"

    def value(self, inputs: Mapping[str, Any]) -> Any:
        args = [inputs[name] for name in self.inputs]
        if (self.when == "ok" and not inputs["result"].ok) or (
            self.when == "present" and any(a is None for a in args)
        ):
            return _MISSING[self.kind]()
        out = self.metric(*args, **dict(self.options))
        if out is not None and isinstance(self.part, int):
            out = out[self.part]
        elif out is not None and self.part is not None:
            for attribute in self.part.split("."):  # "kind.value"; a method is called: "text"
                out = getattr(out, attribute)
                out = out() if callable(out) else out
        return _MISSING[self.kind]() if out is None else _STORE[self.kind](out)


@dataclass(frozen=True)
class Aggregate:
    """A number over a group of frame rows: ``metric(group[of])`` (e.g. a geometric mean of
    the group's speedups, or its pass rate from its statuses)."""

    key: str
    metric: Callable[..., Any]
    of: str  # the frame column handed to the metric


def compute(measures: Mapping[str, Measure], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every measure's column for one cell."""
    return {key: m.value(inputs) for key, m in measures.items()}


def name(metric: Callable[..., Any]) -> str:
    return f"bench.analysis.metrics.{metric.__name__}"


def definition(metric: Callable[..., Any]) -> str:
    """A metric's docstring as one line: its text before ``Reads:``, code marks dropped."""
    text = (metric.__doc__ or "").split("Reads:")[0]
    text = " ".join(text.replace("``", "").split())
    return text.rstrip(".")


def _metrics(shows: tuple[Measure | Aggregate, ...]) -> list[Callable[..., Any]]:
    return list(dict.fromkeys(s.metric for s in shows))


def explain(*shows: Measure | Aggregate, note: str = "") -> str:
    """A column's tooltip: ``note``, then each function's definition and name."""
    parts = [note] if note else []
    parts += [f"{definition(m)} ({name(m)})" for m in _metrics(shows)]
    return "; ".join(parts)


def computed_by(*shows: Measure | Aggregate) -> str:
    """``Computed by bench.analysis.metrics.a and bench.analysis.metrics.b.``: the end of a
    figure's caption."""
    names = [name(m) for m in _metrics(shows)]
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Computed by {listed}."


CITED = re.compile(r"bench\.analysis\.metrics\.(\w+)")


def cited(text: str) -> list[str]:
    """The bench.analysis.metrics functions a tooltip or caption names, in order."""
    return list(dict.fromkeys(CITED.findall(text)))
