"""One-line citation strings a reviewer can paste: value, unit, what, where, which run."""

from __future__ import annotations

import math

import pandas as pd

from report import fmt
from report.frame import EAGER_STRATEGY, TORCH_EAGER


def _run(run_id: str, commit: str) -> str:
    return f"run {run_id} @ {commit}"


def cell(r: pd.Series) -> str:
    """``mlp train b128 cpu jax-jit: median 4.31 ms (p90 4.46, n 231), 29,690 examples/s,
    13.44× vs jax-eager; run 20261123-002734-cpu @ 78d4d6c (dirty)``"""
    where = f"{r['model']} {r['mode']} b{r['batch_size']} {r['device']} {r['backend']}"
    noisy = f", noisy: IQR {fmt.percent(r['iqr_ratio'])} of median" if r["noisy"] else ""
    text = (
        f"{where}: median {fmt.sig(r['median_ms'])} ms (p90 {fmt.sig(r['p90_ms'])}, "
        f"n {r['n']}{noisy}), {fmt.count(r['throughput_per_s'])} examples/s"
    )
    if r["static"] and not math.isnan(r["vs_eager"]):
        text += f", {fmt.times(r['vs_eager'])} vs {r['eager_backend']}"
    return f"{text}; {_run(r['run_id'], r['commit'])}"


def geomean(g: pd.Series) -> str | None:
    """``jax-jit train cpu: geometric-mean speedup 3.10× vs jax-eager over 2/2 workloads, ...``

    None where there is nothing to cite (torch-eager against itself).
    """
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
    run = f"run {g['run_ids']} @ {g['commits']}"
    return f"{where}: geometric-mean speedup {', '.join(parts)}; {run}"


def break_even(r: pd.Series) -> str:
    """``mlp train b128 cpu tf-xla vs tf-eager: breaks even after 58 steps ...``"""
    steps = r["break_even_steps"]
    verdict = (
        f"never breaks even, {r['break_even_note'].removeprefix('never: ')}"
        if math.isinf(steps)
        else "ahead from the first step"
        if steps == 0
        else f"breaks even after {fmt.steps(steps)} steps"
    )
    return (
        f"{r['model']} {r['mode']} b{r['batch_size']} {r['device']} {r['backend']} vs "
        f"{r['eager_backend']}: {verdict}; first result {fmt.sig(r['static_first_s'])} s vs "
        f"{fmt.sig(r['eager_first_s'])} s, median {fmt.sig(r['static_median_ms'])} ms vs "
        f"{fmt.sig(r['eager_median_ms'])} ms; {_run(r['run_id'], r['commit'])}"
    )


def dynamic(r: pd.Series) -> str:
    """``lstm infer b32 cpu skewed stream (64 steps) jax-jit bucket: 1.78 s total, 0.670 s
    compiling (37.6%), 5 compilations, steady 12.8 ms/step, 22.5% padding, overtakes
    jax-eager at step 50; run ... @ ...``"""
    where = (
        f"{r['model']} {r['mode']} b{r['batch_size']} {r['device']} {r['stream']} stream "
        f"({fmt.count(r['n_steps'])} steps) {r['backend']} {r['strategy']}"
    )
    parts = [f"{fmt.sig(r['total_s'])} s total"]
    if r["static"]:
        parts.append(
            f"{fmt.sig(r['compile_s'])} s compiling ({fmt.percent(r['compile_share'])}), "
            f"{fmt.count(r['compilations'])} compilations"
        )
    else:
        parts.append("eager (no compilation)")
    parts.append(f"steady {fmt.sig(r['steady_ms'])} ms/step")
    if r["padding_waste"] > 0:
        parts.append(f"{fmt.percent(r['padding_waste'])} padding")
    eager = f"{r['eager_backend']} ({EAGER_STRATEGY})"
    if math.isfinite(r["overtakes_at"]):
        parts.append(f"overtakes {eager} at step {r['overtakes_at']:,.0f}")
    elif r["overtakes_note"] == "never":
        parts.append(f"never overtakes {eager} within the stream")
    elif r["overtakes_note"].startswith("no "):
        parts.append(f"{r['overtakes_note']} to compare with")
    return f"{where}: {', '.join(parts)}; {_run(r['run_id'], r['commit'])}"
