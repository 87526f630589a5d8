"""The fixed-shape section's frames: one row per cell (every derived number from
bench.metrics), its raw samples, its static/eager pairs and its geometric means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from bench import metrics, peak
from bench.metrics import Baselines
from bench.record import CellResult
from bench.store import Run
from report import frame

SCENARIO = "fixed"


def _memory(r: CellResult) -> tuple[float, str, str]:
    """Peak memory of a cell: the device allocator's on CUDA, the host's VmHWM on the CPU."""
    m = r.memory
    if m is None:
        return math.nan, "", "host" if r.cell.device == "cpu" else "device"
    if r.cell.device != "cpu":
        return frame.num(m.peak_device_bytes), m.device_memory_counter or "", "device"
    return frame.num(m.peak_host_rss_bytes), m.host_memory_counter or "", "host"


def floor_us(run: Run, framework: str) -> float | None:
    """The run's harness floor for a framework (bench.probe; None in runs that predate it)."""
    floor = ((run.meta.get("harness_floor_us") or {}).get(framework) or {}).get("median")
    return float(floor) if isinstance(floor, (int, float)) else None


def peak_columns(run: Run, r: CellResult) -> dict:
    """A cell against its run's measured device peak (run.json ``device_peak``, bench.peak):
    the peak of its precision, the share of it the cell achieved, whether that is
    impossible, and how the peak was measured."""
    device_peak = run.meta.get("device_peak")
    value = metrics.peak_flops_per_s(device_peak, r.cell.precision, r.cell.device)
    contention = device_peak.get("contention") if isinstance(device_peak, dict) else None
    return {
        "peak_flops_per_s": frame.num(value),
        "fraction_of_peak": frame.num(metrics.fraction_of_peak(r, device_peak)),
        "impossible": metrics.impossible(r, device_peak),
        "peak_how": peak.describe(device_peak, r.cell.precision) if value else "",
        "peak_contention": frame.num(contention),
    }


def _row(run: Run, r: CellResult, baselines: Baselines) -> dict:
    lat = metrics.latency(r)
    memory, counter, kind = _memory(r)
    cold = metrics.break_even(r, baselines.eager(r)) if r.ok else None
    warm = metrics.break_even(r, baselines.eager(r), warm=True) if r.ok else None
    return {
        **frame.base_row(run, r),
        "noisy": metrics.is_noisy(r),
        "contended": metrics.is_contended(r),
        "run_path": str(run.path),
        "trace_tool": r.trace.trace_tool if r.trace else None,
        "trace_files": list(r.trace.trace_files) if r.trace else [],
        "top_ops": list(r.trace.top_ops) if r.trace else [],
        "trace_error": r.trace.trace_error if r.trace else None,
        "eager_contended": metrics.is_contended(e) if (e := baselines.eager(r)) else False,
        "torch_eager_contended": (
            metrics.is_contended(t) if (t := baselines.torch_eager(r)) else False
        ),
        "contention": frame.num(r.contention.contention if r.contention else None),
        "repetitions": metrics.ok_repetitions(r)[1],
        "repetition_spread": frame.num(metrics.repetition_spread(r)),
        "near_floor": metrics.near_floor(r, floor_us(run, r.cell.framework)),
        "floor_us": frame.num(floor_us(run, r.cell.framework)),
        "median_ms": lat.median if lat else math.nan,
        "p90_ms": lat.p90 if lat else math.nan,
        "p99_ms": lat.p99 if lat else math.nan,
        "iqr_ms": lat.iqr if lat else math.nan,
        "iqr_ratio": lat.iqr_ratio if lat else math.nan,
        "n": lat.n if lat else 0,
        "samples_ms": list(metrics.step_samples_ms(r)) if r.ok else [],
        "throughput_per_s": frame.num(metrics.throughput_per_s(r)),
        "build_s": frame.num(r.build.build_s if r.build else None),
        "first_call_s": frame.num(r.first_call.first_call_s if r.first_call else None),
        "first_call_warm_s": frame.num(r.warm.first_call_warm_s if r.warm else None),
        "time_to_steady_s": frame.num(metrics.time_to_steady_state(r)) if r.ok else math.nan,
        "memory_bytes": memory,
        "memory_counter": counter,
        "memory_kind": kind,
        "parity_max_rel_err": frame.num(r.parity.parity_max_rel_err if r.parity else None),
        "parity_tolerance": frame.num(r.parity.parity_tolerance if r.parity else None),
        "flops_per_step": frame.num(r.build.flops_per_step if r.build else None),
        "flops_per_s": frame.num(metrics.achieved_flops_per_s(r)),
        **peak_columns(run, r),
        "compilations": frame.num(r.steady.compilations if r.steady else None),
        "memory_vs_eager": frame.num(metrics.memory_vs_eager(r, baselines)),
        "gpu_memory_bytes": frame.num(r.memory.peak_gpu_process_bytes if r.memory else None),
        "gpu_name": r.gpu.gpu_name if r.gpu else "",
        "vs_float32": frame.num(metrics.speedup_vs_float32(r, baselines)),
        "memory_saved": frame.num(metrics.memory_saved_vs_float32(r, baselines)),
        "parity_float32_eager_err": frame.num(
            r.parity.parity_float32_eager_err if r.parity else None
        ),
        "vs_eager": frame.num(metrics.speedup_vs_eager(r, baselines)),
        "vs_torch_eager": frame.num(metrics.speedup_vs_torch_eager(r, baselines)),
        "break_even": cold,
        "break_even_warm": warm,
    }


def cells_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per fixed-shape cell of every run, with speedups computed within each run."""
    rows = []
    for run in runs:
        results = [r for r in run.results if r.cell.scenario == SCENARIO]
        results = metrics.pool_repetitions(results)  # a cell run K times is one row
        baselines = Baselines(results)
        rows += [_row(run, r, baselines) for r in results]
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
    (bench.metrics.break_even), beside the starts and medians it comes from."""
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


def geomean_frame(cells: pd.DataFrame, include_contended: bool = False) -> pd.DataFrame:
    """Per backend, mode and device: geometric-mean speedups (bench.metrics.geomean) and how
    many workloads they cover. A workload is a model at one batch size. ``covered`` counts
    the workloads with a speedup (the cell and its baseline are both ok, and neither was
    contended unless ``include_contended``), ``total`` those the backend was asked to run."""
    data = cells[~cells["not_applicable"]]
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
        rows.append(
            {
                "panel": panel_label,
                "mode": group["mode"].iloc[0],
                "backend": backend,
                "eager_backend": group["eager_backend"].iloc[0],
                "run_ids": ", ".join(dict.fromkeys(group["run_id"])),
                "commits": ", ".join(dict.fromkeys(group["commit"])),
                "vs_eager": frame.num(metrics.geomean(vs_eager)),
                "vs_eager_covered": len(vs_eager),
                "vs_torch_eager": frame.num(metrics.geomean(vs_torch)),
                "vs_torch_eager_covered": len(vs_torch),
                "ok": int((group["status"] == "ok").sum()),
                "total": len(group),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    panel_rank = {p: i for i, p in enumerate(dict.fromkeys(data["panel"]))}
    out["backend"] = pd.Categorical(out["backend"], cells["backend"].cat.categories, ordered=True)
    out = out.assign(rank=out["panel"].map(panel_rank))
    return out.sort_values(["rank", "backend"], kind="stable").drop(columns="rank")
