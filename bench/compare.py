"""Compare two runs cell by cell: is B faster, slower, or unchanged against A?

Cells match by identity (scenario, model, profile, backend, mode, device, batch size,
precision). For each pair of ok cells: the ratio of medians B/A with a bootstrap
confidence interval from the raw samples. A cell is *slower* only when the interval
lies above 1 and the ratio exceeds 1 + threshold, *faster* only when the interval lies
below 1 and the ratio is under 1 - threshold: a change must be both real (outside the
noise) and large enough to matter. Pure functions, plus the terminal table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.markup import escape
from rich.table import Table

from bench.results import Run
from bench.stats import bootstrap_ratio_ci, is_noisy

IDENTITY = ("scenario", "model", "profile", "backend", "mode", "device", "batch_size", "precision")
# Dynamic-shape cells (issue 5) also have a strategy and a stream; None for fixed cells.
OPTIONAL_IDENTITY = ("strategy", "stream")
DEFAULT_THRESHOLD = 0.05
DEFAULT_RESAMPLES = 2000
CONFIDENCE = 0.95

FASTER, SLOWER, UNCHANGED = "faster", "slower", "unchanged"


def identity(record: dict) -> tuple:
    """A cell's identity within and across runs (strategy and stream: None for fixed cells)."""
    return tuple(record[k] for k in IDENTITY) + tuple(record.get(k) for k in OPTIONAL_IDENTITY)


def label(key: tuple, with_profile: bool = False) -> str:
    """``mlp jax-jit train cpu b128`` (plus scenario, precision and profile where they vary)."""
    cell = dict(zip(IDENTITY + OPTIONAL_IDENTITY, key, strict=True))
    text = (
        f"{cell['model']} {cell['backend']} {cell['mode']} {cell['device']} b{cell['batch_size']}"
    )
    if cell["precision"] != "float32":
        text += f" {cell['precision']}"
    if cell["scenario"] != "fixed":
        extra = [str(cell[k]) for k in OPTIONAL_IDENTITY if cell[k] is not None]
        text += f" ({' '.join([cell['scenario'], *extra])})"
    return text + (f" ({cell['profile']})" if with_profile else "")


def verdict(ratio: float, low: float, high: float, threshold: float) -> str:
    if low > 1 and ratio > 1 + threshold:
        return SLOWER
    if high < 1 and ratio < 1 - threshold:
        return FASTER
    return UNCHANGED


@dataclass(frozen=True)
class CellChange:
    """One cell that is ok in both runs."""

    key: tuple
    label: str
    median_a_ms: float
    median_b_ms: float
    ratio: float  # B / A: above 1 is slower
    low: float
    high: float
    verdict: str
    noisy: bool = False


@dataclass(frozen=True)
class StatusChange:
    key: tuple
    label: str
    status_a: str
    status_b: str
    error_b: str


@dataclass(frozen=True)
class Comparison:
    run_a: str
    run_b: str
    commit_a: str
    commit_b: str
    threshold: float
    resamples: int
    cells: list[CellChange] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)  # ok in both, but no raw samples

    @property
    def slower(self) -> list[CellChange]:
        return [c for c in self.cells if c.verdict == SLOWER]

    @property
    def faster(self) -> list[CellChange]:
        return [c for c in self.cells if c.verdict == FASTER]

    def headline(self) -> str:
        counts = {v: sum(c.verdict == v for c in self.cells) for v in (SLOWER, FASTER, UNCHANGED)}
        parts = [f"{n} {v}" for v, n in counts.items()]
        if self.status_changes:
            parts.append(f"{len(self.status_changes)} status change(s)")
        if self.only_a or self.only_b:
            parts.append(f"{len(self.only_a)} only in A, {len(self.only_b)} only in B")
        if self.not_compared:
            parts.append(f"{len(self.not_compared)} not compared")
        return (
            f"{len(self.cells)} matching ok cell(s): " + ", ".join(parts) + f" (threshold "
            f"{self.threshold:.0%}, {CONFIDENCE:.0%} bootstrap CI, {self.resamples} resamples)"
        )


def short_commit(git: dict | None) -> str:
    """``78d4d6c`` or ``78d4d6c (dirty)``; ``unknown commit`` where git was not available."""
    commit = (git or {}).get("commit")
    if not commit:
        return "unknown commit"
    return commit[:7] + (" (dirty)" if (git or {}).get("dirty") else "")


def run_commit(run: Run) -> str:
    return short_commit((run.meta.get("environment") or {}).get("git"))


def compare_runs(
    a: Run,
    b: Run,
    threshold: float = DEFAULT_THRESHOLD,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Every cell of B against the matching cell of A."""
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be a fraction in [0, 1), got {threshold}")
    cells_a = {identity(r): r for r in a.cells}
    cells_b = {identity(r): r for r in b.cells}
    with_profile = len({k[2] for k in (*cells_a, *cells_b)}) > 1
    result = Comparison(a.run_id, b.run_id, run_commit(a), run_commit(b), threshold, resamples)
    result.only_a.extend(label(k, with_profile) for k in cells_a if k not in cells_b)
    result.only_b.extend(label(k, with_profile) for k in cells_b if k not in cells_a)
    for key, ra in cells_a.items():
        rb = cells_b.get(key)
        if rb is None:
            continue
        name = label(key, with_profile)
        if ra["status"] != rb["status"]:
            result.status_changes.append(
                StatusChange(key, name, ra["status"], rb["status"], rb.get("error") or "")
            )
        if ra["status"] != "ok" or rb["status"] != "ok":
            continue
        if not ra.get("samples_ms") or not rb.get("samples_ms") or not ra.get("latency_ms"):
            result.not_compared.append(name)  # e.g. a dynamic-shape cell: no per-step samples
            continue
        ratio, low, high = bootstrap_ratio_ci(
            ra["samples_ms"], rb["samples_ms"], resamples, CONFIDENCE, seed
        )
        result.cells.append(
            CellChange(
                key,
                name,
                ra["latency_ms"]["median"],
                rb["latency_ms"]["median"],
                ratio,
                low,
                high,
                verdict(ratio, low, high, threshold),
                is_noisy(ra["latency_ms"]) or is_noisy(rb["latency_ms"]),
            )
        )
    return result


def change_text(ratio: float) -> str:
    """+30.0% (slower) or -12.5% (faster): B's median against A's."""
    return f"{(ratio - 1) * 100:+.1f}%"


STYLE = {SLOWER: "bold red", FASTER: "bold green", UNCHANGED: "dim"}


def table(result: Comparison) -> Table:
    t = Table(
        title=escape(
            f"B {result.run_b} @ {result.commit_b} against A {result.run_a} @ {result.commit_a}"
        ),
        title_justify="left",
        caption=result.headline(),
        caption_justify="left",
    )
    t.add_column("cell", overflow="fold")
    for name in ("A median ms", "B median ms", "B/A", "95% CI", "change"):
        t.add_column(name, justify="right")
    t.add_column("verdict")
    for c in result.cells:
        t.add_row(
            escape(c.label),
            f"{c.median_a_ms:.3g}",
            f"{c.median_b_ms:.3g}",
            f"{c.ratio:.3f}",
            f"{c.low:.3f}–{c.high:.3f}",
            change_text(c.ratio),
            f"[{STYLE[c.verdict]}]{c.verdict}[/]" + (" (noisy)" if c.noisy else ""),
        )
    return t


def side_tables(result: Comparison) -> list[Table]:
    """Status changes and cells present in only one run (none where there are none)."""
    out = []
    if result.status_changes:
        t = Table(title="status changes", title_justify="left")
        for name in ("cell", "A", "B", "B's reason"):
            t.add_column(name, overflow="fold")
        for s in result.status_changes:
            t.add_row(*(escape(x) for x in (s.label, s.status_a, s.status_b, s.error_b or "-")))
        out.append(t)
    for title, names in (
        ("only in A", result.only_a),
        ("only in B", result.only_b),
        ("ok in both but not compared (no per-step samples)", result.not_compared),
    ):
        if names:
            t = Table(title=f"{title} ({len(names)})", title_justify="left")
            t.add_column("cell", overflow="fold")
            for n in names:
                t.add_row(escape(n))
            out.append(t)
    return out
