"""Graph capture on read (``run --diagnose``): the record's GraphCapture group arranged for
the summary, compare and the report. Nothing is recomputed; what the group holds was read
from the frameworks by the diagnosing workers (bench.worker.capture)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.results.record import OTHER_PHASE, GraphCapture


def top_breaks(reasons: list[dict[str, Any]], most: int = 5) -> list[dict[str, Any]]:
    """The most frequent break reasons (already deduplicated by the backend)."""
    return sorted(reasons, key=lambda r: (-int(r.get("count", 0)), str(r.get("where"))))[:most]


def reason_keys(reasons: list[dict[str, Any]]) -> Counter[str]:
    """Reasons as comparable keys (reason and source line; a stream's without its step)."""
    keys: Counter[str] = Counter()
    for r in reasons:
        where = f" at {r['where']}" if r.get("where") else ""
        keys[f"{r.get('reason', '')}{where}"] += int(r.get("count", 1))
    return keys


def graphs_breaks(found: GraphCapture | None) -> str:
    """The summary's ``graphs/breaks`` column: ``1/0``, ``3/2``; - where not diagnosed."""
    if found is None or found.graphs is None or found.graph_breaks is None:
        return "-"
    return f"{found.graphs}/{found.graph_breaks}"


def skipped_phases(found: GraphCapture) -> list[str]:
    """The cold first call's phases that the warm diagnosing worker's first call did not run
    at all (its persistent caches held their output); empty where there was no warm one."""
    if not found.warm_phases:
        return []
    return [
        phase
        for phase, seconds in found.first_call_phases.items()
        if phase != OTHER_PHASE and seconds > 0 and found.warm_phases.get(phase, 0.0) <= 0
    ]


def outside_the_graph(found: GraphCapture) -> list[str]:
    """What ran outside the compiled graph: the framework's fallbacks, and the graphs that
    were not recorded as CUDA graphs with the reasons given."""
    out = list(found.fallbacks)
    if found.cuda_graph_skips:
        why = "; ".join(found.cuda_graph_skip_reasons) or "no reason recorded"
        out.append(f"CUDA graphs skipped ×{found.cuda_graph_skips}: {why}")
    return out
