"""Numbers as the page and the citations print them (NaN, a missing value, prints as –)."""

from __future__ import annotations

import math


def missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def sig(value: float, digits: int = 3) -> str:
    """Three significant digits, trailing zeros kept (4.31, 58.0, 0.00534); 1,234 above 1000."""
    if missing(value):
        return "–"
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "0"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    text = f"{value:#.{digits}g}"
    return text.rstrip(".") if "e" not in text else f"{value:.{digits - 1}e}"


def count(value: float) -> str:
    """12,345 (a rate or a count, no decimals)."""
    return "–" if missing(value) else f"{value:,.0f}"


def mib(value: float) -> str:
    return "–" if missing(value) else f"{value / 2**20:,.0f}"


def percent(value: float) -> str:
    return "–" if missing(value) else f"{100 * value:.1f}%"


def times(value: float) -> str:
    """A speedup: 13.44×, 0.78× (slowdowns stay below 1)."""
    return "–" if missing(value) else f"{value:.2f}×"


def error(value: float) -> str:
    return "–" if missing(value) else f"{value:.1e}"


def steps(value: float) -> str:
    """Break-even steps, rounded up: the step at which the static backend is ahead."""
    if missing(value):
        return "–"
    if math.isinf(value):
        return "never (∞)"
    return f"{math.ceil(value):,}"
