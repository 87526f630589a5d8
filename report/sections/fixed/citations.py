"""One line per number a reader may cite, with the run and commit it comes from."""

from __future__ import annotations

import math

import pandas as pd

from bench.analysis import metrics
from bench.analysis.metrics import TORCH_EAGER
from bench.results.device_peak import describe as describe_peak
from bench.results.store import Run
from report import fmt, frame


def _run(run_id: str, commit: str) -> str:
    return f"run {run_id} @ {commit}"


def cite_cell(r: pd.Series) -> str:
    """``mlp train b128 cpu jax-jit: median 4.31 ms (p90 4.46, n 231), 29,690 examples/s,
    13.44× vs jax-eager; run 20261123-002734-cpu @ 78d4d6c (dirty)``"""
    where = f"{r['model']} {r['mode']} b{r['batch_size']} {r['device']} {r['backend']}"
    if r["precision"] != "float32":
        where += f" {r['precision']}"
    noisy = f", noisy: IQR {fmt.percent(r['iqr_ratio'])} of median" if r["noisy"] else ""
    if r["contended"]:
        noisy += f", contended: others used {fmt.percent(r['contention'])} of its cores"
    if r["slow_window"]:
        noisy += f", slow window: its sentinel ran {fmt.times(r['slow_window_ratio'])} the median"
    if r["repetitions"] > 1:
        noisy += f", {r['repetitions']} repetitions"
    text = (
        f"{where}: median {fmt.sig(r['median_ms'])} ms (p90 {fmt.sig(r['p90_ms'])}, "
        f"n {r['n']}{noisy}), {fmt.count(r['throughput_per_s'])} examples/s"
    )
    if r["static"] and not math.isnan(r["vs_eager"]):
        text += f", {fmt.times(r['vs_eager'])} vs {r['eager_backend']}"
    if r["impossible"]:
        text += (
            f", IMPOSSIBLE: {fmt.percent(r['fraction_of_peak'])} of the device's measured "
            f"{r['precision']} peak (a timing or FLOP-count error: do not cite)"
        )
    elif not math.isnan(r["fraction_of_peak"]):
        text += f", {fmt.percent(r['fraction_of_peak'])} of measured peak"
    return f"{text}; {_run(r['run_id'], r['commit'])}"


def cite_peak(run: Run) -> str | None:
    """``cpu: float32: 225 GFLOP/s (torch 2.13.0 matmul 1024×1024 float32, best of 41); memory:
    44.7 GB/s (...); run ... @ ...``; None where the run measured no peak."""
    device_peak = run.meta.probes.device_peak
    if not isinstance(device_peak, dict) or not device_peak.get("flops_per_s"):
        return None
    return f"{describe_peak(device_peak)}; {_run(run.run_id, frame.commit_of(run))}"


def cite_geomean(g: pd.Series) -> str | None:
    """``jax-jit train cpu: geometric-mean speedup 3.10× vs jax-eager over 2/2 workloads,
    ...``; None where there is nothing to cite (torch-eager against itself)."""
    parts = []
    if g["backend"] != g["eager_backend"] and g["vs_eager_covered"]:
        parts.append(
            f"{fmt.times(g['vs_eager'])} vs {g['eager_backend']} over "
            f"{g['vs_eager_covered']}/{g['total']} workloads"
        )
    if g["eager_backend"] != TORCH_EAGER and g["vs_torch_eager_covered"]:
        parts.append(
            f"{fmt.times(g['vs_torch_eager'])} vs {TORCH_EAGER} over "
            f"{g['vs_torch_eager_covered']}/{g['total']} workloads"
        )
    if not parts:
        return None
    where = f"{g['backend']} {g['panel'].replace(' · ', ' ')}"
    return (
        f"{where}: geometric-mean speedup {', '.join(parts)}; run {g['run_ids']} @ {g['commits']}"
    )


def cite_break_even(r: pd.Series) -> str:
    """``mlp train b128 cpu tf-xla vs tf-eager: breaks even after 58 steps ...``"""
    b: metrics.BreakEven = r["break_even"]
    if b.never:
        verdict = f"never breaks even, {b.text().removeprefix('never: ')}"
    elif b.kind is metrics.BreakEvenKind.AHEAD:
        verdict = "ahead from the first step"
    else:
        verdict = f"breaks even after {fmt.steps(r['break_even_steps'])} steps"
    warm = r["break_even_warm"]
    if warm.steps is not None:
        verdict += f" ({fmt.steps(r['break_even_warm_steps'])} from a warm start)"
    return (
        f"{r['model']} {r['mode']} b{r['batch_size']} {r['device']} {r['backend']} vs "
        f"{r['eager_backend']}: {verdict}; start {fmt.sig(r['static_start_s'])} s vs "
        f"{fmt.sig(r['eager_start_s'])} s, median {fmt.sig(r['static_median_ms'])} ms vs "
        f"{fmt.sig(r['eager_median_ms'])} ms; {_run(r['run_id'], r['commit'])}"
    )
