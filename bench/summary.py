"""The end-of-run summary: one row per cell, grouped by model, mode and batch size."""

from __future__ import annotations

from collections.abc import Iterable

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
    "vs eager",
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
        return "ok (noisy)" if is_noisy(record["latency_ms"]) else "ok"
    reason = (record.get("error") or "").replace("\n", " ")
    if len(reason) > width:
        reason = reason[: width - 1] + "…"
    return f"{record['status']}: {reason}" if reason else record["status"]


def rows(records: list[dict]) -> list[tuple[str, ...]]:
    baselines = eager_medians(records)
    out: list[tuple[str, ...]] = []
    # Stable sort: within a block, backends keep the order they ran in (eager first).
    order = ("scenario", "model", "profile", "mode", "batch_size", "device", "precision")
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
                "-" if ratio is None else f"{ratio:.2f}x",
                status_text(r),
            )
        )
    return out


def table(records: list[dict], title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(HEADERS):
        t.add_column(h, justify="right" if 2 <= i <= 8 else "left", overflow="fold")
    previous = None
    for row in rows(records):
        if previous is not None and row[:3] != previous:
            t.add_section()
        previous = row[:3]
        t.add_row(*row)
    return t


def markdown(records: list[dict]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(records)]
    return "\n".join(lines)
