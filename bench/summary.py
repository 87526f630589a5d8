"""The end-of-run summary: one row per cell, grouped by model, mode and batch size."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group
from rich.table import Table

from bench import backends
from bench.cells import block_key
from bench.stats import is_noisy, speedup

HEADERS = (
    "model",
    "mode",
    "batch",
    "backend",
    "median ms",
    "p90 ms",
    "throughput/s",
    "first call s",
    "warm s",
    "vs eager",
    "break-even",
    "status",
)
DYNAMIC_HEADERS = (
    "model",
    "mode",
    "stream",
    "backend",
    "strategy",
    "shapes",
    "compiles",
    "total s",
    "compile s",
    "steady ms",
    "padding",
    "status",
)


def eager_medians(records: Iterable[dict]) -> dict[tuple, float]:
    """(block, framework) -> median latency of that framework's eager backend."""
    out = {}
    for r in records:
        if r["status"] == "ok" and not backends.get(r["backend"]).static:
            out[(block_key(r), r["framework"])] = r["latency_ms"]["median"]
    return out


def speedup_vs_eager(record: dict, baselines: dict[tuple, float]) -> float | None:
    if record["status"] != "ok":
        return None
    base = baselines.get((block_key(record), record["framework"]))
    return speedup(base, record["latency_ms"]["median"])


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def status_text(record: dict, width: int = 60) -> str:
    if record["status"] == "ok":
        # A dynamic cell's steps differ in length by design: its spread is not noise.
        noisy = record["scenario"] == "fixed" and is_noisy(record["latency_ms"])
        return "ok (noisy)" if noisy else "ok"
    reason = (record.get("error") or "").replace("\n", " ")
    if len(reason) > width:
        reason = reason[: width - 1] + "…"
    return f"{record['status']}: {reason}" if reason else record["status"]


def _break_even(record: dict) -> str:
    if record.get("break_even_steps") is not None:
        return f"{record['break_even_steps']:,.0f} steps"
    note = record.get("break_even_note") or ""
    return "never" if note.startswith("never") else "-"


def rows(records: list[dict]) -> list[tuple[str, ...]]:
    """The fixed-shape cells: latency, throughput, first call and its pay-back."""
    baselines = eager_medians(records)
    out: list[tuple[str, ...]] = []
    # Stable sort: within a block, backends keep the order they ran in (eager first).
    order = ("model", "profile", "mode", "batch_size", "device", "precision")
    for r in sorted(records, key=lambda r: tuple(r[k] for k in order)):
        lat = r["latency_ms"] if r["status"] == "ok" else None
        ratio = speedup_vs_eager(r, baselines)
        out.append(
            (
                r["model"],
                r["mode"],
                str(r["batch_size"]),
                r["backend"],
                _num(lat and lat["median"], ".3g"),
                _num(lat and lat["p90"], ".3g"),
                _num(r["throughput_per_s"] if lat else None, ",.0f"),
                _num(r["first_call_s"], ".3g"),
                _num(r.get("first_call_warm_s"), ".3g"),
                "-" if ratio is None else f"{ratio:.2f}x",
                _break_even(r),
                status_text(r),
            )
        )
    return out


def dynamic_rows(records: list[dict]) -> list[tuple[str, ...]]:
    """The dynamic-shape cells: the whole stream's cost and what compiling took of it."""
    out: list[tuple[str, ...]] = []
    order = ("model", "profile", "mode", "stream", "batch_size", "device", "precision")
    for r in sorted(records, key=lambda r: tuple(r[k] for k in order)):
        ok = r["status"] == "ok"
        out.append(
            (
                r["model"],
                r["mode"],
                r["stream"],
                r["backend"],
                r["strategy"],
                _num(r.get("distinct_shapes") if ok else None, "d"),
                _num(r.get("compilations") if ok else None, "d"),
                _num(r.get("total_s") if ok else None, ".3g"),
                _num(r.get("compile_s") if ok else None, ".3g"),
                _num(r.get("steady_latency_ms") if ok else None, ".3g"),
                "-" if not ok else f"{100 * r['padding_waste']:.0f}%",
                status_text(r),
            )
        )
    return out


def _views(records: list[dict]):
    fixed = [r for r in records if r["scenario"] == "fixed"]
    dynamic = [r for r in records if r["scenario"] == "dynamic"]
    if fixed or not dynamic:
        yield "fixed shapes", HEADERS, rows(fixed), 3
    if dynamic:
        yield (
            "dynamic shapes (a stream of varying sequence lengths)",
            DYNAMIC_HEADERS,
            (dynamic_rows(dynamic)),
            3,
        )


def table(records: list[dict], title: str | None = None) -> Group:
    """One table per scenario present in ``records``."""
    tables = []
    for name, headers, body, group in _views(records):
        t = Table(title=f"{title}: {name}" if title else name, title_justify="left")
        for h in headers:
            numeric = h in NUMERIC_COLUMNS
            t.add_column(h, justify="right" if numeric else "left", overflow="fold")
        previous = None
        for row in body:
            if previous is not None and row[:group] != previous:
                t.add_section()
            previous = row[:group]
            t.add_row(*row)
        tables.append(t)
    return Group(*tables)


NUMERIC_COLUMNS = {
    "batch",
    "median ms",
    "p90 ms",
    "throughput/s",
    "first call s",
    "warm s",
    "vs eager",
    "break-even",
    "shapes",
    "compiles",
    "total s",
    "compile s",
    "steady ms",
    "padding",
}


def markdown(records: list[dict]) -> str:
    parts = []
    for name, headers, body, _ in _views(records):
        lines = [f"**{name}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
