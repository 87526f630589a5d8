"""The "where each number comes from" table of docs/reading-the-numbers.md, generated from
the metric definitions themselves: every function of bench.analysis.metrics whose docstring
has a ``Reads:`` line, with its first sentence and the fields it reads. A test keeps the
page equal to this (``python -m bench list --markdown`` prints it)."""

from __future__ import annotations

import inspect
import re

from bench.analysis import metrics


def _first_sentence(doc: str) -> str:
    text = " ".join(doc.split("Reads:", 1)[0].split())
    match = re.match(r"(.+?[.;:])(\s|$)", text)
    return (match.group(1) if match else text).rstrip(".;:")


def rows() -> list[tuple[str, str, str]]:
    """(function, what it computes, what it reads) per documented metric, in source order."""
    out = []
    functions = [
        f
        for _, f in inspect.getmembers(metrics, inspect.isfunction)
        if f.__module__ == metrics.__name__ and "Reads:" in (f.__doc__ or "")
    ]
    for f in sorted(functions, key=lambda f: f.__code__.co_firstlineno):
        doc = inspect.getdoc(f) or ""
        reads = " ".join(doc.split("Reads:", 1)[1].split())
        out.append((f.__name__, _first_sentence(doc), reads))
    return out


def markdown() -> str:
    """The table, as docs/reading-the-numbers.md holds it."""
    lines = ["| function (`bench.analysis.metrics.`) | what it computes | reads |", "|---|---|---|"]
    for name, what, reads in rows():
        cell = what.replace("|", "\\|")
        lines.append(f"| `{name}` | {cell} | {reads.replace('|', chr(92) + '|')} |")
    return "\n".join(lines)
