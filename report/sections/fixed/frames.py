"""The fixed-shape section's frames: one row per cell (every derived number from
bench.analysis.metrics), its raw samples, its static/eager pairs and its geometric means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.analysis import metrics
from bench.analysis.metrics import Baselines
from bench.results.device_peak import describe as describe_peak
from bench.results.record import CellResult
from bench.results.store import Run
from report import frame, measures
from report.measures import Aggregate, Measure

SCENARIO = "fixed"


M = metrics
# Every derived number of a cell, each computed by the one bench.analysis.metrics function named.
MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("noisy", M.is_noisy, kind="flag"),
        Measure("contended", M.is_contended, kind="flag"),
        Measure("eager_contended", M.is_contended, ("eager",), kind="flag", when="present"),
        Measure(
            "torch_eager_contended", M.is_contended, ("torch_eager",), kind="flag", when="present"
        ),
        Measure("slow_window", M.is_slow_window, ("result", "sentinel_ms"), kind="flag"),
        Measure(
            "eager_slow_window",
            M.is_slow_window,
            ("eager", "sentinel_ms"),
            kind="flag",
            when="present",
        ),
        Measure(
            "torch_eager_slow_window",
            M.is_slow_window,
            ("torch_eager", "sentinel_ms"),
            kind="flag",
            when="present",
        ),
        Measure("slow_window_ratio", M.slow_window_ratio, ("result", "sentinel_ms")),
        Measure("repetitions", M.ok_repetitions, part=1, kind="count"),
        Measure("repetition_spread", M.repetition_spread),
        Measure("near_floor", M.near_floor, ("result", "floor_us"), kind="flag"),
        Measure("median_ms", M.median_ms),
        Measure("p90_ms", M.latency, part="p90"),
        Measure("p99_ms", M.latency, part="p99"),
        Measure("iqr_ms", M.latency, part="iqr"),
        Measure("iqr_ratio", M.latency, part="iqr_ratio"),
        Measure("n", M.latency, part="n", kind="count"),
        Measure("samples_ms", M.step_samples_ms, kind="list", when="ok"),
        Measure("throughput_per_s", M.throughput_per_s),
        Measure("time_to_steady_s", M.time_to_steady_state, when="ok"),
        Measure("memory_bytes", M.peak_memory, part=0),
        Measure("memory_counter", M.peak_memory, part=1, kind="text"),
        Measure("flops_per_s", M.achieved_flops_per_s),
        Measure("peak_flops_per_s", M.peak_flops_per_s, ("device_peak", "precision", "device")),
        Measure("fraction_of_peak", M.fraction_of_peak, ("result", "device_peak")),
        Measure("impossible", M.impossible, ("result", "device_peak"), kind="flag"),
        Measure("memory_vs_eager", M.memory_vs_eager, ("result", "baselines")),
        Measure("vs_float32", M.speedup_vs_float32, ("result", "baselines")),
        Measure("memory_saved", M.memory_saved_vs_float32, ("result", "baselines")),
        Measure("vs_eager", M.speedup_vs_eager, ("result", "baselines")),
        Measure("vs_torch_eager", M.speedup_vs_torch_eager, ("result", "baselines")),
        Measure("break_even", M.break_even, ("result", "eager"), kind="object", when="ok"),
        Measure(
            "break_even_warm",
            M.break_even,
            ("result", "eager"),
            (("warm", True),),
            kind="object",
            when="ok",
        ),
    )
}
# Numbers over a group of cells (a backend in a panel): geomean_frame.
AGGREGATES: dict[str, Aggregate] = {
    a.key: a
    for a in (
        Aggregate("vs_eager", M.geomean, "vs_eager"),
        Aggregate("vs_torch_eager", M.geomean, "vs_torch_eager"),
        Aggregate("pass_count", M.pass_count, "status"),
    )
}
# The frame's columns after report.frame.base_row's, in order: MEASURES' and recorded ones.
COLUMNS = (
    "noisy", "contended", "run_path", "trace_tool", "trace_files", "top_ops", "trace_error",
    "eager_contended", "torch_eager_contended", "contention", "slow_window",
    "eager_slow_window", "torch_eager_slow_window", "slow_window_ratio", "repetitions",
    "repetition_spread", "near_floor", "floor_us", "median_ms", "p90_ms", "p99_ms", "iqr_ms",
    "iqr_ratio", "n", "samples_ms", "throughput_per_s", "build_s", "first_call_s",
    "first_call_warm_s", "time_to_steady_s", "memory_bytes", "memory_counter", "memory_kind",
    "parity_max_rel_err", "parity_tolerance", "flops_per_step", "flops_per_s",
    "peak_flops_per_s", "fraction_of_peak", "impossible", "peak_how", "peak_contention",
    "compilations", "memory_vs_eager", "gpu_memory_bytes", "gpu_name", "vs_float32",
    "memory_saved", "parity_float32_eager_err", "vs_eager", "vs_torch_eager", "break_even",
    "break_even_warm",
)  # fmt: skip


def floor_us(run: Run, framework: str) -> float | None:
    """The run's harness floor for a framework (bench.worker.probe; None in runs that predate
    it)."""
    floor = run.meta.probes.harness_floor_us.get(framework, {}).get("median")
    return float(floor) if isinstance(floor, (int, float)) else None


def _recorded(run: Run, r: CellResult) -> dict:
    """What the cell's record and its run hold as they are: no formula over them."""
    device_peak = run.meta.probes.device_peak
    contention = device_peak.get("contention") if isinstance(device_peak, dict) else None
    return {
        "run_path": str(run.path),
        "trace_tool": r.trace.trace_tool if r.trace else None,
        "trace_files": list(r.trace.trace_files) if r.trace else [],
        "top_ops": list(r.trace.top_ops) if r.trace else [],
        "trace_error": r.trace.trace_error if r.trace else None,
        "contention": frame.num(r.contention.contention if r.contention else None),
        "floor_us": frame.num(floor_us(run, r.cell.framework)),
        "build_s": frame.num(r.build.build_s if r.build else None),
        "first_call_s": frame.num(r.first_call.first_call_s if r.first_call else None),
        "first_call_warm_s": frame.num(r.warm.first_call_warm_s if r.warm else None),
        "memory_kind": "host" if r.cell.device == "cpu" else "device",  # peak_memory's counter
        "parity_max_rel_err": frame.num(r.parity.parity_max_rel_err if r.parity else None),
        "parity_tolerance": frame.num(r.parity.parity_tolerance if r.parity else None),
        "flops_per_step": frame.num(r.build.flops_per_step if r.build else None),
        "peak_contention": frame.num(contention),
        "compilations": frame.num(r.steady.compilations if r.steady else None),
        "gpu_memory_bytes": frame.num(r.memory.peak_gpu_process_bytes if r.memory else None),
        "gpu_name": r.gpu.gpu_name if r.gpu else "",
        "parity_float32_eager_err": frame.num(
            r.parity.parity_float32_eager_err if r.parity else None
        ),
    }


def _row(run: Run, r: CellResult, baselines: Baselines, sentinel_ms: float | None) -> dict:
    inputs = {
        "result": r,
        "baselines": baselines,
        "eager": baselines.eager(r),
        "torch_eager": baselines.torch_eager(r),
        "device_peak": run.meta.probes.device_peak,
        "floor_us": floor_us(run, r.cell.framework),
        "precision": r.cell.precision,
        "device": r.cell.device,
        "sentinel_ms": sentinel_ms,
    }
    values = {**_recorded(run, r), **measures.compute(MEASURES, inputs)}
    has_peak = not math.isnan(values["peak_flops_per_s"])  # how a peak was measured, if one was
    values["peak_how"] = describe_peak(inputs["device_peak"], r.cell.precision) if has_peak else ""
    return {**frame.base_row(run, r), **{k: values[k] for k in COLUMNS}}


def cells_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per fixed-shape cell of every run, with speedups computed within each run."""
    rows = []
    for run in runs:
        results = [r for r in run.results if r.cell.scenario == SCENARIO]
        results = metrics.pool_repetitions(results)  # a cell run K times is one row
        baselines = Baselines(results)
        sentinel_ms = metrics.run_sentinel_ms(run)
        rows += [_row(run, r, baselines, sentinel_ms) for r in results]
    if not rows:
        return pd.DataFrame()
    return frame.ordered(
        pd.DataFrame(rows), ["model", "mode", "batch_size", "precision", "backend"]
    )


def samples_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per raw timed sample of every ``ok`` cell (for the latency distributions)."""
    ok = cells[cells["status"] == "ok"]
    keep = ["source", "model", "mode", "batch_size", "precision", "backend", "samples_ms"]
    long = ok[keep].explode("samples_ms").rename(columns={"samples_ms": "latency_ms"})
    long["latency_ms"] = long["latency_ms"].astype(float)
    return long.dropna(subset=["latency_ms"]).reset_index(drop=True)


def break_even_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """Every ok static cell whose block has an ok eager cell: its break-even, cold and warm
    (bench.analysis.metrics.break_even), beside the starts and medians it comes from."""
    ok = cells[(cells["status"] == "ok") & cells["static"]]
    has_baseline = [b.kind is not metrics.BreakEvenKind.NO_BASELINE for b in ok["break_even"]]
    # .loc with a typed mask: a bare empty list would select no *columns* instead of no rows.
    ok = ok.loc[pd.Series(has_baseline, index=ok.index, dtype=bool)]
    eager = cells[(cells["status"] == "ok") & ~cells["static"]]
    key = ["run_id", "source", "model", "mode", "batch_size", "precision"]
    eager = eager[[*key, "backend", "median_ms", "time_to_steady_s"]].rename(
        columns={
            "backend": "eager_backend",
            "median_ms": "eager_median_ms",
            "time_to_steady_s": "eager_start_s",
        }
    )
    eager["eager_backend"] = eager["eager_backend"].astype(str)
    keep = [*key, "commit", "device", "backend", "eager_backend", "median_ms", "time_to_steady_s"]
    out = ok[[*keep, "first_call_warm_s", "break_even", "break_even_warm"]].merge(
        eager, on=[*key, "eager_backend"], how="inner"
    )
    out = out.rename(
        columns={"median_ms": "static_median_ms", "time_to_steady_s": "static_start_s"}
    )
    out["break_even_steps"] = [b.value() for b in out["break_even"]]
    out["break_even_warm_steps"] = [b.value() for b in out["break_even_warm"]]
    return out.reset_index(drop=True)


def aggregate(key: str, group: pd.DataFrame) -> Any:
    """AGGREGATES[key] over a group of frame rows."""
    spec = AGGREGATES[key]
    return spec.metric(group[spec.of])


def geomean_frame(
    cells: pd.DataFrame, include_contended: bool = False, include_slow: bool = False
) -> pd.DataFrame:
    """Per backend, mode and device: geometric-mean speedups and the pass rate (AGGREGATES)
    and how many workloads the speedups cover. A workload is a model at one batch size.
    ``covered`` counts the workloads with a speedup (the cell and its baseline are both ok,
    neither was contended unless ``include_contended``, neither measured in a slow window
    unless ``include_slow``), ``total`` those the backend was asked to run (not-applicable
    ones aside)."""
    data = cells[~cells["not_applicable"]]
    if not include_slow:  # a speedup from a slow window is the machine's, not the backend's
        data = data.assign(
            vs_eager=data["vs_eager"].where(~(data["slow_window"] | data["eager_slow_window"])),
            vs_torch_eager=data["vs_torch_eager"].where(
                ~(data["slow_window"] | data["torch_eager_slow_window"])
            ),
        )
    if not include_contended:  # a contended cell's or baseline's speedup is the machine's
        data = data.assign(
            vs_eager=data["vs_eager"].where(~(data["contended"] | data["eager_contended"])),
            vs_torch_eager=data["vs_torch_eager"].where(
                ~(data["contended"] | data["torch_eager_contended"])
            ),
        )
    data = data.assign(panel=frame.panel(data))
    rows = []
    for (panel_label, backend), group in data.groupby(
        ["panel", "backend"], observed=True, sort=False
    ):
        vs_eager, vs_torch = group["vs_eager"].dropna(), group["vs_torch_eager"].dropna()
        ok, total = aggregate("pass_count", group)
        rows.append(
            {
                "panel": panel_label,
                "mode": group["mode"].iloc[0],
                "backend": backend,
                "eager_backend": group["eager_backend"].iloc[0],
                "run_ids": ", ".join(dict.fromkeys(group["run_id"])),
                "commits": ", ".join(dict.fromkeys(group["commit"])),
                "vs_eager": frame.num(aggregate("vs_eager", group)),
                "vs_eager_covered": len(vs_eager),
                "vs_torch_eager": frame.num(aggregate("vs_torch_eager", group)),
                "vs_torch_eager_covered": len(vs_torch),
                "ok": ok,
                "total": total,
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    panel_rank = {p: i for i, p in enumerate(dict.fromkeys(data["panel"]))}
    out["backend"] = pd.Categorical(out["backend"], cells["backend"].cat.categories, ordered=True)
    out = out.assign(rank=out["panel"].map(panel_rank))
    return out.sort_values(["rank", "backend"], kind="stable").drop(columns="rank")
