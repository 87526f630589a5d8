"""Compare two runs cell by cell: is B faster, slower, or unchanged against A?

Cells match by identity (scenario, model, profile, backend, mode, device, batch size,
precision, stream, strategy): a bfloat16 cell is never compared with a float32 one.
For each pair of ok cells: the ratio of medians B/A with a bootstrap confidence
interval from the raw samples. A cell is *slower* only when the interval lies above 1
and the ratio exceeds 1 + threshold, *faster* only when the interval lies below 1 and
the ratio is under 1 - threshold: a change must be both real (outside the noise) and
large enough to matter. ``gate_failures`` is what ``--fail-on-regression`` fails on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from bench.analysis import metrics
from bench.analysis.capture import reason_keys
from bench.analysis.stats import bootstrap_ratio_ci
from bench.results.record import SLOW_WINDOW_SHARE, CellResult, Status
from bench.results.store import Run
from bench.terminal import plain

DEFAULT_THRESHOLD = 0.05
DEFAULT_RESAMPLES = 2000
MAX_RESAMPLES = 1_000_000
CONFIDENCE = 0.95

FASTER, SLOWER, UNCHANGED = "faster", "slower", "unchanged"


def identity(r: CellResult) -> tuple:
    """What a cell is across runs: its identity but the repetition."""
    return r.cell.workload()


def label(r: CellResult, with_profile: bool = False) -> str:
    """``mlp jax-jit train cpu b128`` (+ precision, stream and strategy, and the profile
    where the runs differ in it)."""
    text = r.cell.label()
    return text + (f" ({r.cell.profile})" if with_profile else "")


def verdict(ratio: float, low: float, high: float, threshold: float) -> str:
    if low > 1 and ratio > 1 + threshold:
        return SLOWER
    if high < 1 and ratio < 1 - threshold:
        return FASTER
    return UNCHANGED


@dataclass(frozen=True)
class CellChange:
    """One cell that is ok in both runs."""

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
    label: str
    status_a: str
    status_b: str
    error_b: str

    @property
    def worse(self) -> bool:
        """ok in A, not ok in B: a cell that stopped working."""
        return self.status_a == Status.OK.value and self.status_b != Status.OK.value


@dataclass(frozen=True)
class GraphChange:
    """A static cell whose graph capture changed (both runs diagnosed it: run --diagnose)."""

    label: str
    breaks_a: int
    breaks_b: int
    recompiles_a: int
    recompiles_b: int
    new_reasons: list[str]  # break and recompilation reasons B has and A had not

    @property
    def worse(self) -> bool:
        """More graph breaks or recompilations in B: what PyTorch's CI gates on."""
        return self.breaks_b > self.breaks_a or self.recompiles_b > self.recompiles_a

    def text(self) -> str:
        new = f"; new: {' | '.join(self.new_reasons)}" if self.new_reasons else ""
        return (
            f"{self.label} (graph breaks {self.breaks_a} -> {self.breaks_b}, recompilations "
            f"{self.recompiles_a} -> {self.recompiles_b}{new})"
        )


def graph_change(name: str, ra: CellResult, rb: CellResult) -> GraphChange | None:
    """How the graph capture of one cell changed from A to B; None where either run has
    none (not diagnosed) or nothing changed."""
    a, b = ra.graph_capture, rb.graph_capture
    if a is None or b is None or a.graph_breaks is None or b.graph_breaks is None:
        return None
    counts = (a.graph_breaks, b.graph_breaks, a.recompilations or 0, b.recompilations or 0)
    old = reason_keys(a.break_reasons) + reason_keys(a.recompile_reasons)
    new = reason_keys(b.break_reasons) + reason_keys(b.recompile_reasons)
    added = sorted(k for k in new if k not in old)
    if counts[0] == counts[1] and counts[2] == counts[3] and not added:
        return None
    return GraphChange(name, *counts, added)


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
    not_compared: list[str] = field(default_factory=list)  # ok in both, but no samples
    # ok in both, but another process used the cores of one of them (bench.worker.contention):
    # not judged unless asked (include_contended).
    contended: list[str] = field(default_factory=list)
    # ok in both, but one was measured in a slow window (its sentinel ran slow: bench.analysis.
    # metrics.is_slow_window): not judged unless asked (include_slow).
    slow: list[str] = field(default_factory=list)
    # B's median sentinel time over A's (bench.worker.sentinel): how much slower B's machine
    # ran as a whole, which no cell's own flag can show. None where a run has no sentinel.
    sentinel_ratio: float | None = None
    graph_changes: list[GraphChange] = field(default_factory=list)  # bench.analysis.capture

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
        if self.contended:
            parts.append(f"{len(self.contended)} contended, not judged")
        if self.slow:
            parts.append(f"{len(self.slow)} in a slow window, not judged")
        ratio = self.sentinel_ratio
        if ratio is not None and not 1 / (1 + SLOW_WINDOW_SHARE) <= ratio <= 1 + SLOW_WINDOW_SHARE:
            parts.append(
                f"B's machine ran {ratio:.2f}× A's by the sentinel: part of every ratio is "
                "the machine's"
            )
        if self.graph_changes:
            parts.append(f"{len(self.graph_changes)} graph capture change(s)")
        return (
            f"{len(self.cells)} matching ok cell(s): " + ", ".join(parts) + f" (threshold "
            f"{self.threshold:.0%}, {CONFIDENCE:.0%} bootstrap CI, {self.resamples} resamples)"
        )


def gate_failures(result: Comparison) -> list[str]:
    """Why ``--fail-on-regression`` fails (empty: it passes). A gate that compared nothing,
    lost a cell or saw one break must not pass."""
    reasons = []
    if not result.cells:
        reasons.append("no cell is ok in both runs: nothing was compared")
    if result.slower:
        reasons.append(
            f"{len(result.slower)} cell(s) slower beyond {result.threshold:.0%}: "
            + ", ".join(c.label for c in result.slower)
        )
    worse = [s for s in result.status_changes if s.worse]
    if worse:
        reasons.append(
            f"{len(worse)} cell(s) stopped being ok: "
            + ", ".join(f"{s.label} ({s.status_b})" for s in worse)
        )
    if result.only_a:
        reasons.append(
            f"{len(result.only_a)} cell(s) of A missing from B: " + ", ".join(result.only_a)
        )
    grown = [g for g in result.graph_changes if g.worse]
    if grown:
        reasons.append(
            f"{len(grown)} cell(s) gained graph breaks or recompilations: "
            + ", ".join(g.text() for g in grown)
        )
    return reasons


def short_commit(git: dict | None) -> str:
    """``78d4d6c`` or ``78d4d6c (dirty)``; ``unknown commit`` where git was not available."""
    commit = (git or {}).get("commit")
    if not commit:
        return "unknown commit"
    return str(commit)[:7] + (" (dirty)" if (git or {}).get("dirty") else "")


def run_commit(run: Run) -> str:
    return short_commit(run.meta.environment.git)


def compare_runs(
    a: Run,
    b: Run,
    threshold: float = DEFAULT_THRESHOLD,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    include_contended: bool = False,
    include_slow: bool = False,
) -> Comparison:
    """Every cell of B against the matching cell of A (a cell measured in several
    repetitions as one: bench.analysis.metrics.pool_repetitions). A cell that was contended in
    either run is listed, not judged, unless ``include_contended``; one measured in a slow
    window of either run likewise, unless ``include_slow``."""
    sentinel_a, sentinel_b = metrics.run_sentinel_ms(a), metrics.run_sentinel_ms(b)
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be a fraction in [0, 1), got {threshold}")
    cells_a = {identity(r): r for r in metrics.pool_repetitions(a.results)}
    cells_b = {identity(r): r for r in metrics.pool_repetitions(b.results)}
    with_profile = len({r.cell.profile for r in (*cells_a.values(), *cells_b.values())}) > 1
    result = Comparison(
        a.run_id,
        b.run_id,
        run_commit(a),
        run_commit(b),
        threshold,
        resamples,
        sentinel_ratio=sentinel_b / sentinel_a if sentinel_a and sentinel_b else None,
    )
    result.only_a.extend(label(r, with_profile) for k, r in cells_a.items() if k not in cells_b)
    result.only_b.extend(label(r, with_profile) for k, r in cells_b.items() if k not in cells_a)
    for key, ra in cells_a.items():
        rb = cells_b.get(key)
        if rb is None:
            continue
        name = label(ra, with_profile)
        if ra.status != rb.status:
            result.status_changes.append(
                StatusChange(name, str(ra.status), str(rb.status), rb.error)
            )
        changed = graph_change(name, ra, rb)
        if changed is not None:
            result.graph_changes.append(changed)
        if not ra.ok or not rb.ok:
            continue
        samples_a, samples_b = metrics.step_samples_ms(ra), metrics.step_samples_ms(rb)
        if not samples_a or not samples_b:
            result.not_compared.append(name)
            continue
        if not include_contended and (metrics.is_contended(ra) or metrics.is_contended(rb)):
            result.contended.append(name)
            continue
        slow = metrics.is_slow_window(ra, sentinel_a) or metrics.is_slow_window(rb, sentinel_b)
        if slow and not include_slow:
            result.slow.append(name)
            continue
        ratio, low, high = bootstrap_ratio_ci(samples_a, samples_b, resamples, CONFIDENCE, seed)
        median_a, median_b = metrics.median_ms(ra), metrics.median_ms(rb)
        assert median_a is not None and median_b is not None  # both ok, with samples
        result.cells.append(
            CellChange(
                name,
                median_a,
                median_b,
                ratio,
                low,
                high,
                verdict(ratio, low, high, threshold),
                metrics.is_noisy(ra) or metrics.is_noisy(rb),
            )
        )
    return result


def change_text(ratio: float) -> str:
    """+30.0% (slower) or -12.5% (faster): B's median against A's."""
    return f"{(ratio - 1) * 100:+.1f}%"


STYLE = {SLOWER: "bold red", FASTER: "bold green", UNCHANGED: "dim"}


def table(result: Comparison) -> Table:
    t = Table(
        title=Text(
            plain(
                f"B {result.run_b} @ {result.commit_b} against A {result.run_a} @ {result.commit_a}"
            )
        ),
        title_justify="left",
        caption=Text(result.headline()),
        caption_justify="left",
    )
    t.add_column("cell", overflow="fold")
    for name in ("A median ms", "B median ms", "B/A", "95% CI", "change"):
        t.add_column(name, justify="right")
    t.add_column("verdict")
    for c in result.cells:
        t.add_row(
            Text(plain(c.label)),
            f"{c.median_a_ms:.3g}",
            f"{c.median_b_ms:.3g}",
            f"{c.ratio:.3f}",
            f"{c.low:.3f}–{c.high:.3f}",
            change_text(c.ratio),
            Text(c.verdict + (" (noisy)" if c.noisy else ""), style=STYLE[c.verdict]),
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
            t.add_row(
                *(Text(plain(x)) for x in (s.label, s.status_a, s.status_b, s.error_b or "-"))
            )
        out.append(t)
    for title, names in (
        ("only in A", result.only_a),
        ("only in B", result.only_b),
        ("ok in both but not compared (no samples)", result.not_compared),
        ("contended, not judged (--include-contended judges them)", result.contended),
        ("in a slow window, not judged (--include-slow judges them)", result.slow),
        ("graph capture changes (run --diagnose)", [g.text() for g in result.graph_changes]),
    ):
        if names:
            t = Table(title=f"{title} ({len(names)})", title_justify="left")
            t.add_column("cell", overflow="fold")
            for n in names:
                t.add_row(Text(plain(n)))
            out.append(t)
    return out
