"""gpu-check's ``summary.md``: written when the check starts and again after each phase and
each cell, so that whatever stops the check, the file says how far it got."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.analysis import metrics, summary
from bench.cli.gpucheck.gpu_tests import TestsOutcome
from bench.matrix.cells import Cell
from bench.results import device_peak as peak_words
from bench.results.record import CellResult

SUMMARY = "summary.md"


@dataclass
class Findings:
    """What the check has found so far (each phase fills its part in)."""

    budget_s: float
    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    gpus: list[dict[str, Any]] = field(default_factory=list)
    tests: TestsOutcome | None = None
    skipped_frameworks: dict[str, str] = field(default_factory=dict)
    device_peak: dict[str, Any] | None = None
    planned: list[Cell] = field(default_factory=list)
    results: list[CellResult] = field(default_factory=list)
    sentinel_ms: float | None = None
    run_dir: Path | None = None
    report: str = "not drawn yet"
    # Each phase that has begun and when, in seconds from the start (its time: to the next).
    phase_starts: dict[str, float] = field(default_factory=dict)

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def begin(self, phase: str) -> None:
        self.phase = phase
        self.phase_starts[phase] = self.elapsed_s()

    def phase_times(self) -> str:
        """``GPU tests 150 s, cells 210 s (so far)``."""
        starts = list(self.phase_starts.items())
        if not starts:
            return ""
        ends = [t for _, t in starts[1:]] + [self.elapsed_s()]
        return ", ".join(
            f"{name} {end - t:.0f} s" for (name, t), end in zip(starts, ends, strict=True)
        )


def render(f: Findings) -> str:
    """summary.md's text."""
    lines = [
        "# gpu-check",
        "",
        f"- phase: {f.phase}; {f.elapsed_s():.0f} s of the {f.budget_s:.0f} s budget",
        f"- time per phase: {f.phase_times() or 'none yet'}",
        f"- GPU: {', '.join(str(g.get('name')) for g in f.gpus) or 'unknown'}",
        f"- GPU tests: {'not run yet' if f.tests is None else f.tests.line}",
    ]
    if f.tests and f.tests.failed:
        lines += [f"  - failed: {name}" for name in f.tests.failed]
    for framework, reason in f.skipped_frameworks.items():
        lines.append(f"- skipped {framework}: {reason}")
    if f.device_peak is not None:
        lines.append(f"- device peak: {peak_words.describe(f.device_peak)}")
    newest = {r.cell.key(): r for r in f.results}
    ok = sum(r.ok for r in newest.values())
    lines += [
        f"- matrix: {len(newest)} of {len(f.planned)} cells recorded in the budget ({ok} ok), "
        f"{len(f.planned) - len(newest)} not started",
        f"- run directory: {f.run_dir if f.run_dir else 'not made yet'}",
        f"- report: {f.report}",
        "",
    ]
    if f.results:
        lines += [
            summary.markdown(f.results, device_peak=f.device_peak, sentinel_ms=f.sentinel_ms),
            "",
        ]
    lines += [
        "Cells in the order run (fraction of peak: achieved FLOP/s over the device peak "
        "measured for the cell's precision):",
        "",
        "| # | cell | status | parity error | of peak | allocator peak MiB | NVML peak MiB "
        "| SM clock MHz during samples (min/median/max) | J per step | CUDA graphs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, cell in enumerate(f.planned, 1):
        r = newest.get(cell.key())
        if r is None:
            lines.append(f"| {i} | {cell.label()} | not started |" + " - |" * 7)
            continue
        lines.append(f"| {i} | " + " | ".join(row(r, f.device_peak)) + " |")
    return "\n".join(lines) + "\n"


def row(r: CellResult, device_peak: object) -> list[str]:
    m, s = r.memory, r.steady
    parity = r.parity.parity_max_rel_err if r.parity else None
    fraction = metrics.fraction_of_peak(r, device_peak)
    status = str(r.status) if r.ok else f"{r.status}: {r.error}"
    return [
        r.cell.label(),
        status.replace("|", "/").replace("\n", " ")[:300],
        "-" if parity is None else f"{parity:.2e}",
        "-" if fraction is None else f"{fraction:.1%}",
        _mib(m.peak_device_bytes if m else None),
        _mib(m.peak_gpu_process_bytes if m else None),
        _spread(metrics.gpu_during_samples(r).get("SM clock MHz")),
        _number(metrics.energy_per_step_j(r), ".3g"),
        cuda_graphs_text(s.cuda_graphs if s else None),
    ]


def cuda_graphs_text(graphs: dict | None) -> str:
    """What the CUDA-graph evidence says, in a cell: used or not, and what it rests on."""
    if not graphs:
        return "-"
    if not graphs.get("requested"):
        return f"not requested ({graphs.get('why') or 'mode'})"
    words = ["used" if graphs.get("used") else "not used"]
    for key in ("replays", "steps_replayed", "steps", "graphs_recorded", "rerecordings", "skips"):
        if graphs.get(key) is not None:
            words.append(f"{key} {graphs[key]}")
    if graphs.get("why"):
        words.append(str(graphs["why"]))
    return "; ".join(words).replace("|", "/")[:300]


def _spread(spread: metrics.Spread | None) -> str:
    return "-" if spread is None else f"{spread.min:g}/{spread.median:g}/{spread.max:g}"


def _number(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def write(out_dir: Path, f: Findings) -> Path:
    """Write summary.md whole (a reader never sees half of it)."""
    path = out_dir / SUMMARY
    partial = path.with_suffix(".md.partial")
    partial.write_text(render(f))
    os.replace(partial, path)
    return path


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f}"
