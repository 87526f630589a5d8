"""Stored runs -> one tidy pandas DataFrame of cells, and the frames derived from it.

One row per cell (per run). Nothing here plots or writes; the figures and the page
read only these frames. Nothing assumes a fixed list of models or backends: models
keep the order they were run in, backends the registry's order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench import backends
from bench.breakeven import break_even, overtaking_step, time_to_first_result
from bench.cells import block_key
from bench.compare import IDENTITY, short_commit
from bench.results import Run
from bench.stats import is_noisy
from bench.streams import STRATEGIES, STRATEGY_HELP, STREAMS
from bench.summary import eager_medians, speedup_vs_eager

TORCH_EAGER = "torch-eager"
MODES = ("infer", "train")
# The scenario these frames describe: one shape per cell. Other scenarios (dynamic shapes)
# measure other things and get their own sections.
FIXED = "fixed"

# Cells that are compared with each other: a block is everything but the backend.
BLOCK = ("run_id", "scenario", "model", "profile", "mode", "device", "batch_size", "precision")


def _torch_eager_medians(records: Sequence[dict]) -> dict[tuple, float]:
    return {
        block_key(r): r["latency_ms"]["median"]
        for r in records
        if r["status"] == "ok" and r["backend"] == TORCH_EAGER
    }


def _num(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


def _memory(record: dict) -> tuple[float, str | None, str]:
    """Peak memory of a cell: the device allocator's on CUDA, the host's VmHWM on the CPU."""
    if record["device"] != "cpu":
        return _num(record.get("peak_device_bytes")), record.get("device_memory_counter"), "device"
    return _num(record.get("peak_host_rss_bytes")), record.get("host_memory_counter"), "host"


def _row(run: Run, record: dict, eager: dict, torch_eager: dict) -> dict:
    ok = record["status"] == "ok"
    lat = record["latency_ms"] if ok else None
    median = lat["median"] if lat else math.nan
    torch_base = torch_eager.get(block_key(record)) if ok else None
    memory, counter, memory_kind = _memory(record)
    flops = _num(record.get("flops_per_step"))
    info = backends.get(record["backend"])
    vs_eager = speedup_vs_eager(record, eager)
    return {
        "run_id": run.run_id,
        "commit": short_commit(run.meta.get("environment", {}).get("git")),
        **{k: record[k] for k in IDENTITY},
        "framework": record["framework"],
        "static": info.static,
        "eager_backend": backends.eager_baseline(record["framework"]),
        "status": record["status"],
        "error": record.get("error") or "",
        "output_tail": "\n".join(record.get("output_tail") or []),
        "noisy": bool(lat and is_noisy(lat)),
        "median_ms": median,
        "p90_ms": lat["p90"] if lat else math.nan,
        "p99_ms": lat["p99"] if lat else math.nan,
        "iqr_ms": lat["iqr"] if lat else math.nan,
        "iqr_ratio": lat["iqr"] / median if lat and median > 0 else math.nan,
        "n": lat["n"] if lat else 0,
        "samples_ms": list(record["samples_ms"]) if ok else [],
        "throughput_per_s": _num(record["throughput_per_s"]) if ok else math.nan,
        "build_s": _num(record.get("build_s")),
        "first_call_s": _num(record["first_call_s"]),
        "first_call_warm_s": _num(record.get("first_call_warm_s")),
        "time_to_first_s": _num(time_to_first_result(record)) if ok else math.nan,
        "memory_bytes": memory,
        "memory_counter": counter or "",
        "memory_kind": memory_kind,
        "parity_max_rel_err": _num(record["parity_max_rel_err"]),
        "parity_tolerance": _num(record.get("parity_tolerance")),
        "flops_per_step": flops,
        "flops_per_s": flops / (median / 1e3) if ok and flops > 0 and median > 0 else math.nan,
        "compilations": _num(record.get("compilations")),
        "vs_eager": math.nan if vs_eager is None else vs_eager,
        "vs_torch_eager": torch_base / median if torch_base and median > 0 else math.nan,
    }


def _sources(frame: pd.DataFrame) -> pd.Series:
    """Where a cell ran, as a heading: the device, plus the run id where a device has several."""
    runs_per_device = frame.groupby("device")["run_id"].transform("nunique")
    label = frame["device"].astype(str)
    return label.where(runs_per_device <= 1, label + " · " + frame["run_id"].astype(str))


def fixed_cells(run: Run) -> list[dict]:
    return [r for r in run.cells if r["scenario"] == FIXED]


def cells_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per fixed-shape cell of every run, with speedups computed within each run."""
    rows = []
    for run in runs:
        records = fixed_cells(run)
        eager = eager_medians(records)
        torch_eager = _torch_eager_medians(records)
        rows += [_row(run, r, eager, torch_eager) for r in records]
    if not rows:
        raise ValueError("no fixed-shape cell to report: the run(s) have no finished cell yet")
    frame = pd.DataFrame(rows)
    frame["source"] = _sources(frame)
    # Categorical orders: models as first run, backends as in the registry.
    model_order = list(dict.fromkeys(frame["model"]))
    registry = [b for b in backends.BACKENDS if b in set(frame["backend"])]
    mode_order = [m for m in MODES if m in set(frame["mode"])] + sorted(
        set(frame["mode"]) - set(MODES)
    )
    frame["model"] = pd.Categorical(frame["model"], model_order, ordered=True)
    frame["backend"] = pd.Categorical(frame["backend"], registry, ordered=True)
    frame["mode"] = pd.Categorical(frame["mode"], mode_order, ordered=True)
    order = ["source", "model", "mode", "batch_size", "backend"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


def workload(frame: pd.DataFrame) -> pd.Series:
    """``mlp b128``: a model at one batch size (the row of a heatmap)."""
    return frame["model"].astype(str) + " b" + frame["batch_size"].astype(str)


def panel(frame: pd.DataFrame) -> pd.Series:
    """``train · cpu``: one mode on one device: a panel of a figure."""
    return frame["mode"].astype(str) + " · " + frame["source"]


def samples_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per raw timed sample of every ``ok`` cell (for the latency distributions)."""
    ok = cells[cells["status"] == "ok"]
    keep = ["source", "model", "mode", "batch_size", "backend", "samples_ms"]
    long = ok[keep].explode("samples_ms").rename(columns={"samples_ms": "latency_ms"})
    long["latency_ms"] = long["latency_ms"].astype(float)
    return long.dropna(subset=["latency_ms"]).reset_index(drop=True)


def break_even_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """Every ok static cell against its framework's ok eager cell in the same block."""
    ok = cells[cells["status"] == "ok"].copy()
    ok["backend_name"] = ok["backend"].astype(str)
    key = list(BLOCK)
    measured = ["median_ms", "time_to_first_s", "samples_ms"]
    eager = ok[~ok["static"]][[*key, "backend_name", *measured]].rename(
        columns={
            "backend_name": "eager_backend",
            "median_ms": "eager_median_ms",
            "time_to_first_s": "eager_first_s",
            "samples_ms": "eager_samples_ms",
        }
    )
    static = ok[ok["static"]].rename(
        columns={
            "median_ms": "static_median_ms",
            "time_to_first_s": "static_first_s",
            "samples_ms": "static_samples_ms",
        }
    )
    keep = ["source", "commit", "backend", "eager_backend"]
    static = static[[*key, *keep, "static_median_ms", "static_first_s", "static_samples_ms"]]
    out = static.merge(eager, on=[*key, "eager_backend"], how="inner")
    out = out[out["static_first_s"].notna() & out["eager_first_s"].notna()]
    results = [
        break_even(s, e, ss, es)
        for s, e, ss, es in zip(
            out["static_first_s"],
            out["eager_first_s"],
            out["static_samples_ms"],
            out["eager_samples_ms"],
            strict=True,
        )
    ]
    out["break_even_steps"] = [steps for steps, _ in results]
    out["break_even_note"] = [note for _, note in results]
    return out.drop(columns=["static_samples_ms", "eager_samples_ms"]).reset_index(drop=True)


def geomean(values: pd.Series) -> float:
    finite = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.log(finite).mean())) if len(finite) else math.nan


def geomean_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """Per backend, mode and device: geometric-mean speedups and how many workloads they cover.

    A workload is a model at one batch size. ``covered`` counts the workloads with a
    speedup (the cell and its baseline are both ok), ``total`` those the backend was
    asked to run. Slowdowns stay below 1: nothing is clipped.
    """
    frame = cells.assign(panel=panel(cells))
    rows = []
    groups = frame.groupby(["panel", "backend"], observed=True, sort=False)
    for (panel_label, backend), group in groups:
        rows.append(
            {
                "panel": panel_label,
                "source": group["source"].iloc[0],
                "mode": group["mode"].iloc[0],
                "backend": backend,
                "framework": group["framework"].iloc[0],
                "eager_backend": group["eager_backend"].iloc[0],
                "run_ids": ", ".join(dict.fromkeys(group["run_id"])),
                "commits": ", ".join(dict.fromkeys(group["commit"])),
                "vs_eager": geomean(group["vs_eager"]),
                "vs_eager_covered": int(group["vs_eager"].notna().sum()),
                "vs_torch_eager": geomean(group["vs_torch_eager"]),
                "vs_torch_eager_covered": int(group["vs_torch_eager"].notna().sum()),
                "ok": int((group["status"] == "ok").sum()),
                "total": len(group),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    # Panels as they first appear (device, then mode); backends in the registry's order.
    panel_rank = {p: i for i, p in enumerate(dict.fromkeys(frame["panel"]))}
    out["backend"] = pd.Categorical(out["backend"], cells["backend"].cat.categories, ordered=True)
    out = out.assign(rank=out["panel"].map(panel_rank))
    return out.sort_values(["rank", "backend"], kind="stable").drop(columns="rank")


# --- the dynamic-shape scenario: a stream of varying sequence lengths -------------------

DYNAMIC = "dynamic"
# A strategy a backend has no use for is recorded as skipped, with a reason starting so.
NOT_APPLICABLE = "not applicable"
# The eager backend a static backend is measured against is fed the stream as it comes.
EAGER_STRATEGY = "exact"
# Cells fed the same stream: a dynamic block is everything but the backend and strategy.
DYNAMIC_BLOCK = (*BLOCK, "stream")


def dynamic_cells(run: Run) -> list[dict]:
    return [r for r in run.cells if r["scenario"] == DYNAMIC]


def is_not_applicable(record: dict) -> bool:
    """Skipped because the strategy means nothing for the backend (not a failure)."""
    return record["status"] == "skipped" and (record.get("error") or "").startswith(NOT_APPLICABLE)


def stream_description(run: Run, stream: str) -> str:
    """What run.json says the stream is (bench.streams' text for runs that did not record it)."""
    recorded = ((run.meta.get("dynamic_shapes") or {}).get("streams") or {}).get(stream) or {}
    known = STREAMS.get(stream)
    return recorded.get("description") or (known.description if known else "not recorded")


def strategy_descriptions(runs: Sequence[Run]) -> dict[str, str]:
    """Each strategy as the runs recorded it (bench.streams' text where none did)."""
    out = dict(STRATEGY_HELP)
    for run in runs:
        out.update(((run.meta.get("dynamic_shapes") or {}).get("strategies")) or {})
    return out


def bucket_description(runs: Sequence[Run]) -> str:
    for run in runs:
        text = (run.meta.get("dynamic_shapes") or {}).get("buckets")
        if text:
            return str(text)
    return "powers of two"


def _overtaking(record: dict, eager: dict | None) -> tuple[float, str]:
    """(step, note): where a static cell overtakes its eager cell; NaN and why where it does
    not. Computed from the two cells' first-pass step times (never read from the record)."""
    info = backends.get(record["backend"])
    if record["status"] != "ok":
        return math.nan, ""
    if not info.static:  # eager backends compile nothing: there is nothing to pay back
        return math.nan, "baseline" if record["strategy"] == EAGER_STRATEGY else ""
    eager_name = f"{backends.eager_baseline(info.framework)} {EAGER_STRATEGY}"
    if eager is None:
        return math.nan, f"no {eager_name} cell"
    if eager["status"] != "ok":
        return math.nan, f"{eager_name} is {eager['status']}"
    try:
        step = overtaking_step(eager["step_ms"], record["step_ms"])
    except ValueError:
        return math.nan, "streams differ in length"
    return (math.nan, "never") if step is None else (float(step), "")


def _dynamic_row(run: Run, record: dict, eager: dict | None) -> dict:
    ok = record["status"] == "ok"
    info = backends.get(record["backend"])
    total = _num(record.get("total_s")) if ok else math.nan
    compile_s = _num(record.get("compile_s")) if ok else math.nan
    steps = list(record.get("step_ms") or []) if ok else []
    compiled_at = record.get("compiled_at") or []
    overtakes, note = _overtaking(record, eager)
    return {
        "run_id": run.run_id,
        "commit": short_commit(run.meta.get("environment", {}).get("git")),
        **{k: record[k] for k in IDENTITY},
        "strategy": record["strategy"],
        "stream": record["stream"],
        "stream_description": stream_description(run, record["stream"]),
        "framework": record["framework"],
        "static": info.static,
        "eager_backend": backends.eager_baseline(record["framework"]),
        "status": record["status"],
        "not_applicable": is_not_applicable(record),
        "error": record.get("error") or "",
        "output_tail": "\n".join(record.get("output_tail") or []),
        "n_steps": _num(record.get("n_steps")),
        "distinct_shapes": _num(record.get("distinct_shapes")) if ok else math.nan,
        "compilations": _num(record.get("compilations")) if ok else math.nan,
        "compilations_second_pass": _num(record.get("compilations_second_pass")),
        # 1-based, as the overtaking step: the step after which the stream runs steady.
        "last_compile_step": compiled_at[-1] + 1 if ok and compiled_at else math.nan,
        "total_s": total,
        "compile_s": compile_s,
        "compile_share": compile_s / total if total > 0 else math.nan,
        "steady_ms": _num(record.get("steady_latency_ms")) if ok else math.nan,
        "padding_waste": _num(record.get("padding_waste")) if ok else math.nan,
        "step_ms": steps,
        "overtakes_at": overtakes,
        "overtakes_note": note,
    }


def dynamic_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per dynamic-shape cell of every run, skipped ones included, with the step at
    which each static cell overtakes its framework's eager cell (``exact``) on the stream."""
    rows = []
    for run in runs:
        records = dynamic_cells(run)
        eager = {
            (block_key(r), r["backend"]): r
            for r in records
            if not backends.get(r["backend"]).static and r["strategy"] == EAGER_STRATEGY
        }
        for r in records:
            baseline = backends.eager_baseline(r["framework"])
            rows.append(_dynamic_row(run, r, eager.get((block_key(r), baseline))))
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    frame["source"] = _sources(frame)
    model_order = list(dict.fromkeys(frame["model"]))
    registry = [b for b in backends.BACKENDS if b in set(frame["backend"])]
    strategies = [s for s in STRATEGIES if s in set(frame["strategy"])]
    strategies += sorted(set(frame["strategy"]) - set(strategies))
    frame["model"] = pd.Categorical(frame["model"], model_order, ordered=True)
    frame["backend"] = pd.Categorical(frame["backend"], registry, ordered=True)
    frame["strategy"] = pd.Categorical(frame["strategy"], strategies, ordered=True)
    order = ["source", "model", "mode", "stream", "batch_size", "backend", "strategy"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


def stream_groups(dynamic: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(heading, cells): one group per model, mode, stream, batch size and device, in order.

    Each group is one stream fed to every backend: a table and a figure of its own.
    """
    keys = ["source", "model", "mode", "stream", "batch_size", "run_id"]
    out = []
    for _, group in dynamic.groupby(keys, observed=True, sort=False):
        r = group.iloc[0]
        heading = (
            f"{r['model']} · {r['mode']} · {r['stream']} stream · batch {r['batch_size']} · "
            f"{r['source']}"
        )
        out.append((heading, group))
    return out


def cumulative_frame(group: pd.DataFrame) -> pd.DataFrame:
    """One row per step of every ok cell: its running wall time over the stream (first pass,
    every trace and compilation included)."""
    ok = group[(group["status"] == "ok") & (group["step_ms"].map(len) > 0)]
    parts = [
        pd.DataFrame(
            {
                "backend": str(r["backend"]),
                "strategy": str(r["strategy"]),
                "framework": r["framework"],
                "step": np.arange(1, len(r["step_ms"]) + 1),
                "cumulative_s": np.cumsum(r["step_ms"]) / 1e3,
            }
        )
        for _, r in ok.iterrows()
    ]
    columns = ["backend", "strategy", "framework", "step", "cumulative_s"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
