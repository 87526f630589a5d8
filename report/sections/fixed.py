"""The report's fixed-shape section: headline speedups, figures 1-6, tables, citations.

Every number comes from bench.analysis.metrics through ``cells_frame`` and ``break_even_frame``;
the figures (report.plots) and tables only arrange and format them.
"""

from __future__ import annotations

import functools
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.analysis import metrics
from bench.analysis.metrics import DEFINITIONS, NOISY_IQR_RATIO, TORCH_EAGER, Baselines
from bench.analysis.traces import TRACE_DIR
from bench.results.device_peak import describe as describe_peak
from bench.results.record import CONTENDED_SHARE, STATUSES, CellResult
from bench.results.store import Run
from report import fmt, frame, plots
from report.figures import figure
from report.sections import Options, Section
from report.tables import Column, Link, Row, Table, status_text

SCENARIO = "fixed"
# A busy machine: the page warns when more than this share of the ok cells is noisy.
NOISY_WARNING_SHARE = 0.25


# --- the frame ------------------------------------------------------------------------


def _memory(r: CellResult) -> tuple[float, str, str]:
    """Peak memory of a cell: the device allocator's on CUDA, the host's VmHWM on the CPU."""
    m = r.memory
    if m is None:
        return math.nan, "", "host" if r.cell.device == "cpu" else "device"
    if r.cell.device != "cpu":
        return frame.num(m.peak_device_bytes), m.device_memory_counter or "", "device"
    return frame.num(m.peak_host_rss_bytes), m.host_memory_counter or "", "host"


def floor_us(run: Run, framework: str) -> float | None:
    """The run's harness floor for a framework (bench.worker.probe; None in runs that predate "
    "it)."""
    floor = ((run.meta.get("harness_floor_us") or {}).get(framework) or {}).get("median")
    return float(floor) if isinstance(floor, (int, float)) else None


def peak_columns(run: Run, r: CellResult) -> dict:
    """A cell against its run's measured device peak (run.json ``device_peak``, bench.worker.peak):
    the peak of its precision, the share of it the cell achieved, whether that is
    impossible, and how the peak was measured."""
    device_peak = run.meta.get("device_peak")
    value = metrics.peak_flops_per_s(device_peak, r.cell.precision, r.cell.device)
    contention = device_peak.get("contention") if isinstance(device_peak, dict) else None
    return {
        "peak_flops_per_s": frame.num(value),
        "fraction_of_peak": frame.num(metrics.fraction_of_peak(r, device_peak)),
        "impossible": metrics.impossible(r, device_peak),
        "peak_how": describe_peak(device_peak, r.cell.precision) if value else "",
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


def geomean_frame(cells: pd.DataFrame, include_contended: bool = False) -> pd.DataFrame:
    """Per backend, mode and device: geometric-mean speedups (bench.analysis.metrics.geomean) and
    how
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


# --- traces (run --trace) -------------------------------------------------------------


def trace_link(run_path: str, name: str, report_dir: Path | None) -> Link | str:
    """A link from the report to a trace file of a run; plain text for a name that is not a
    file under the run's traces/ folder (a hostile record cannot make a link elsewhere)."""
    path = (Path(run_path) / name).resolve()
    traces = (Path(run_path) / TRACE_DIR).resolve()
    if traces not in path.parents or not path.is_file():
        return name
    href = os.path.relpath(path, report_dir) if report_dir else path.as_uri()
    return Link(name.rsplit("/", 1)[-1], Path(href).as_posix())


def traces_table(cells: pd.DataFrame, report_dir: Path | None) -> Table:
    """Every traced cell: its profiler, its files (links) and its top operation."""
    columns = (
        Column("cell", wrap="wrap"),
        Column("profiler"),
        Column("trace files", wrap="wrap"),
        Column("top operation (self ms/step, share)", wrap="wrap"),
    )
    rows = []
    for _, r in cells[cells["trace_tool"].notna()].iterrows():
        links = [trace_link(r["run_path"], f, report_dir) for f in r["trace_files"]]
        top = r["top_ops"][0] if r["top_ops"] else None
        best = (
            f"{top['name']} ({fmt.sig(top['self_ms_per_step'])} ms, {fmt.percent(top['share'])})"
            if top
            else str(r["trace_error"] or "–")
        )
        for i, link in enumerate(links or ["–"]):
            first = i == 0
            rows.append(
                Row(
                    (
                        _cell_label(r) if first else "",
                        str(r["trace_tool"]) if first else "",
                        link,
                        best if first else "",
                    )
                )
            )
    empty = "No trace: run with --trace to record each cell's steps with its profiler."
    return Table("traces-table", columns, tuple(rows), empty)


def _cell_label(r: pd.Series) -> str:
    text = f"{r['model']} {r['mode']} b{r['batch_size']} {r['device']} {r['backend']}"
    return text if r["precision"] == "float32" else f"{text} {r['precision']}"


def top_ops_table(cells: pd.DataFrame) -> Table:
    """Per block with traces: the top operations of its fastest and slowest traced backend,
    side by side (why one is faster: where each spends its steps)."""
    columns = (
        Column("#", True),
        Column("fastest: operation", wrap="wrap"),
        Column("self ms/step", True),
        Column("share", True),
        Column("slowest: operation", wrap="wrap"),
        Column("self ms/step", True),
        Column("share", True),
    )
    traced = cells[(cells["status"] == "ok") & cells["top_ops"].map(bool)]
    rows: list[Row] = []
    for _, block in traced.groupby(
        ["run_id", "model", "mode", "batch_size", "device", "precision"], observed=True, sort=False
    ):
        if len(block) < 2:
            continue
        block = block.sort_values("median_ms")
        fast, slow = block.iloc[0], block.iloc[-1]
        rows.append(
            Row(
                (
                    f"{_cell_label(fast).rsplit(' ', 1)[0]}: fastest {fast['backend']} "
                    f"({fmt.sig(fast['median_ms'])} ms), slowest {slow['backend']} "
                    f"({fmt.sig(slow['median_ms'])} ms)",
                ),
                "group",
            )
        )
        for i in range(max(len(fast["top_ops"]), len(slow["top_ops"]))):
            a = fast["top_ops"][i] if i < len(fast["top_ops"]) else None
            b = slow["top_ops"][i] if i < len(slow["top_ops"]) else None
            rows.append(Row((str(i + 1), *_op_cells(a), *_op_cells(b))))
    empty = "No block has two traced ok backends (run with --trace)."
    return Table("top-ops-table", columns, tuple(rows), empty)


def _op_cells(op: dict | None) -> tuple[str, str, str]:
    if op is None:
        return ("", "", "")
    return (str(op["name"]), fmt.sig(op["self_ms_per_step"]), fmt.percent(op["share"]))


# --- tables ---------------------------------------------------------------------------


def _classes(r: pd.Series) -> str:
    if r["status"] != "ok":
        return "bad"
    return "noisy" if r["noisy"] or r["contended"] else ""


def _help(key: str) -> str:
    return DEFINITIONS[key].help()


SUMMARY_COLUMNS = (
    Column("backend"),
    Column("median ms", True, _help("median")),
    Column("p90 ms", True, _help("latency")),
    Column("p99 ms", True, _help("latency")),
    Column("IQR ms (of median)", True, f"interquartile range; {_help('noisy')}"),
    Column("examples/s", True, _help("throughput")),
    Column("% of peak", True, f"{_help('fraction_of_peak')}; {_help('impossible')}"),
    Column("first call s", True, "first step including tracing/compilation, cold caches"),
    Column("start s", True, _help("steady_start")),
    Column(
        "warm first call s",
        True,
        "the first call of a new process that finds the compile cache the first one left "
        "(only backends that keep one)",
    ),
    Column("peak MiB", True, "device allocator peak on CUDA, host VmHWM on CPU"),
    Column("parity err", True, "max |y - y_ref| / max |y_ref| against float64 NumPy"),
    Column("vs eager", True, _help("vs_eager")),
    Column("vs torch-eager", True, _help("vs_torch_eager")),
    Column("status"),
)


def summary_table(cells: pd.DataFrame) -> Table:
    """Every cell, grouped under a heading row per model, mode, batch size and device."""
    rows: list[Row] = []
    previous = None
    for _, r in cells.iterrows():
        precision = "" if r["precision"] == "float32" else f" · {r['precision']}"
        group = f"{r['model']} · {r['mode']} · batch {r['batch_size']}{precision} · {r['source']}"
        if group != previous:
            rows.append(Row((group,), "group"))
            previous = group
        iqr = f"{fmt.sig(r['iqr_ms'])} ({fmt.percent(r['iqr_ratio'])})" if r["n"] else "–"
        rows.append(
            Row(
                (
                    str(r["backend"]),
                    fmt.sig(r["median_ms"]),
                    fmt.sig(r["p90_ms"]),
                    fmt.sig(r["p99_ms"]),
                    iqr,
                    fmt.count(r["throughput_per_s"]),
                    peak_text(r),
                    fmt.sig(r["first_call_s"]),
                    fmt.sig(r["time_to_steady_s"]),
                    fmt.sig(r["first_call_warm_s"]),
                    fmt.mib(r["memory_bytes"]),
                    fmt.error(r["parity_max_rel_err"]),
                    fmt.times(r["vs_eager"]),
                    fmt.times(r["vs_torch_eager"]),
                    status_text(r),
                ),
                _classes(r),
            )
        )
    return Table("summary-table", with_peak_sources(SUMMARY_COLUMNS, cells), tuple(rows))


def peak_text(r: pd.Series) -> str:
    """``12.3%``, ``130.0% impossible``, or – where the run measured no peak."""
    text = fmt.percent(r["fraction_of_peak"])
    return f"{text} impossible" if r["impossible"] else text


def with_peak_sources(columns: tuple[Column, ...], cells: pd.DataFrame) -> tuple[Column, ...]:
    """The % of peak column's tooltip, extended by where each run's peak came from."""
    measured = cells[cells["peak_how"] != ""][["run_id", "peak_how"]].drop_duplicates()
    several = measured["run_id"].nunique() > 1
    sources = [
        f"run {run_id}: {how}" if several else how
        for run_id, how in measured.itertuples(index=False)
    ]
    where = "; ".join(sources) if sources else "no run of this table measured its device's peak"
    return tuple(
        Column(c.label, c.numeric, f"{c.help}. Peaks: {where}", c.wrap)
        if c.label == "% of peak"
        else c
        for c in columns
    )


WHERE_COLUMNS = (
    Column("model"),
    Column("mode"),
    Column("batch", True),
    Column("device"),
    Column("backend"),
)


def _where(r: pd.Series) -> tuple[str, ...]:
    return (str(r["model"]), str(r["mode"]), str(r["batch_size"]), r["source"], str(r["backend"]))


def noisy_table(cells: pd.DataFrame) -> Table:
    """ok cells whose IQR is over the noise threshold of their median."""
    rows = [
        Row(
            (
                *_where(r),
                fmt.sig(r["median_ms"]),
                fmt.sig(r["iqr_ms"]),
                fmt.percent(r["iqr_ratio"]),
                fmt.sig(r["p99_ms"]),
                str(r["n"]),
            ),
            "noisy",
        )
        for _, r in cells[cells["noisy"]].iterrows()
    ]
    columns = (
        *WHERE_COLUMNS,
        Column("median ms", True),
        Column("IQR ms", True),
        Column("IQR / median", True),
        Column("p99 ms", True),
        Column("samples", True),
    )
    empty = f"No cell is noisy (IQR/median ≤ {NOISY_IQR_RATIO:.0%})."
    return Table("noisy-table", columns, tuple(rows), empty)


def memory_table(cells: pd.DataFrame) -> Table:
    """Each static backend's peak memory against its framework's eager one, per workload."""
    static = cells[(cells["status"] == "ok") & cells["static"] & cells["memory_vs_eager"].notna()]
    rows = [
        Row(
            (
                p,
                w,
                str(r["backend"]),
                str(r["eager_backend"]),
                fmt.mib(r["memory_bytes"]),
                fmt.times(r["memory_vs_eager"]),
                fmt.mib(r["gpu_memory_bytes"]),
                r["memory_counter"] or "–",
            )
        )
        for p, w, (_, r) in zip(
            frame.panel(static), frame.workload(static), static.iterrows(), strict=True
        )
    ]
    columns = (
        Column("mode · device"),
        Column("model, batch"),
        Column("backend"),
        Column("eager backend"),
        Column("peak MiB", True),
        Column("eager / this", True, _help("memory_vs_eager")),
        Column(
            "NVML peak MiB",
            True,
            "the worker's GPU memory as the driver saw it (sampled), the same counter for every "
            "framework; it includes the CUDA context",
        ),
        Column("counter", wrap="wrap"),
    )
    return Table("memory-table", columns, tuple(rows), "No static cell with an ok eager cell.")


def precision_table(cells: pd.DataFrame) -> Table:
    """Each reduced-precision cell against the same backend at float32: speed, memory, error."""
    reduced = cells[(cells["precision"].astype(str) != "float32") & ~cells["not_applicable"]]
    rows = [
        Row(
            (
                p,
                w,
                str(r["backend"]),
                str(r["precision"]),
                status_text(r),
                fmt.sig(r["median_ms"]),
                fmt.times(r["vs_float32"]),
                fmt.percent(r["memory_saved"]),
                fmt.error(r["parity_max_rel_err"]),
                fmt.error(r["parity_float32_eager_err"]),
                fmt.error(r["parity_tolerance"]),
            ),
            "" if r["status"] == "ok" else "bad",
        )
        for p, w, (_, r) in zip(
            frame.panel(reduced), frame.workload(reduced), reduced.iterrows(), strict=True
        )
    ]
    columns = (
        Column("mode · precision · device"),
        Column("model, batch"),
        Column("backend"),
        Column("precision"),
        Column("status"),
        Column("median ms", True, _help("median")),
        Column("vs float32", True, _help("vs_float32")),
        Column("memory saved", True, _help("memory_saved")),
        Column("parity err", True, "this cell's max relative error against float64 NumPy"),
        Column(
            "float32 eager err",
            True,
            "the same error of its framework's float32 eager output: the part of the cell's "
            "error the backend would have in float32",
        ),
        Column("tolerance", True, "the precision's parity tolerance (bench.matrix.precision)"),
    )
    return Table("precision-table", columns, tuple(rows), "Every cell is float32.")


def geomean_table(geo: pd.DataFrame) -> Table:
    rows = [
        Row(
            (
                g["panel"],
                str(g["backend"]),
                fmt.times(g["vs_eager"]),
                f"{g['vs_eager_covered']}/{g['total']}",
                fmt.times(g["vs_torch_eager"]),
                f"{g['vs_torch_eager_covered']}/{g['total']}",
                f"{g['ok']}/{g['total']} ({fmt.percent(g['ok'] / g['total'])})",
            ),
            "" if g["ok"] == g["total"] else "bad",
        )
        for _, g in geo.iterrows()
    ]
    columns = (
        Column("mode · device"),
        Column("backend"),
        Column("geomean vs own eager", True, _help("geomean")),
        Column("covered", True, "workloads with a speedup / workloads run"),
        Column("geomean vs torch-eager", True, _help("geomean")),
        Column("covered", True),
        Column("pass rate", True, _help("pass_rate")),
    )
    return Table("geomean-table", columns, tuple(rows), "No cell to summarise.")


def break_even_table(pairs: pd.DataFrame) -> Table:
    rows = [
        Row(
            (
                p,
                w,
                str(r["backend"]),
                str(r["eager_backend"]),
                f"{fmt.sig(r['static_start_s'])} / {fmt.sig(r['eager_start_s'])}",
                f"{fmt.sig(r['static_median_ms'])} / {fmt.sig(r['eager_median_ms'])}",
                fmt.steps(r["break_even_steps"]),
                fmt.steps(r["break_even_warm_steps"]),
            ),
        )
        for p, w, (_, r) in zip(
            frame.panel(pairs), frame.workload(pairs), pairs.iterrows(), strict=True
        )
    ]
    columns = (
        Column("mode · device"),
        Column("model, batch"),
        Column("static backend"),
        Column("eager backend"),
        Column("start s (static / eager)", True, _help("steady_start")),
        Column("median ms (static / eager)", True),
        Column("break-even steps (cold)", True, _help("break_even")),
        Column(
            "break-even steps (warm)",
            True,
            "the same with the static backend's warm start (a new process finding its compile "
            "cache); – where nothing persists between processes",
        ),
    )
    return Table("break-even-table", columns, tuple(rows), "No static/eager pair of ok cells.")


# --- citations ------------------------------------------------------------------------


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
    device_peak = run.meta.get("device_peak")
    if not isinstance(device_peak, dict) or not device_peak.get("flops_per_s"):
        return None
    return f"{describe_peak(device_peak)}; {_run(run.run_id, frame.commit_of(run))}"


def impossible_warning(cells: pd.DataFrame) -> str | None:
    """The banner when any cell claims more FLOP/s than its device's measured peak."""
    bad = cells[cells["impossible"]]
    if bad.empty:
        return None
    busy = bad["peak_contention"].max()
    note = (
        f" (the peak was measured while other processes used {fmt.percent(busy)} of the "
        "cores: it may be low; re-run on a quiet machine)"
        if busy > CONTENDED_SHARE
        else ""
    )
    return (
        f"{len(bad)} ok cell(s) achieve more FLOP/s than their device's measured peak for their "
        f"precision (up to {fmt.percent(bad['fraction_of_peak'].max())} of it): impossible. "
        "Their step time did not wait for the device or their FLOP count is too high, or the "
        f"peak is wrong{note}. They are marked “impossible” in the % of peak column; do not "
        "cite their speed."
    )


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


# --- figures --------------------------------------------------------------------------

HEATMAP_CAPTION = (
    "One panel per mode and device; each row is a model at one batch size, each column a "
    "backend. The number is the baseline's median step time divided by this backend's: "
    "2.00× is twice as fast, 0.50× half as fast (slowdowns stay below 1, never clipped). "
    "Blue is faster, red slower; the colour saturates at 8× but the number is exact. "
    f"An asterisk (1.24×*) marks a noisy cell: its IQR is over {NOISY_IQR_RATIO:.0%} of its "
    "median. Grey cells print the status of a cell that has no speed: failed, timeout, oom, "
    "skipped, or mismatch (its output disagreed with the float64 reference, so it was not "
    "timed). “no baseline”: this cell is ok but its baseline is not. The last row is each "
    f"backend's pass rate in the panel (ok cells / cells run). Computed by "
    f"{DEFINITIONS['vs_eager'].function} and {DEFINITIONS['vs_torch_eager'].function}."
)

CAPTIONS: dict[str, tuple[str, str]] = {
    "speedup-eager": (
        "Speedup over the same framework's eager backend",
        "What compiling or tracing buys within one framework (torch-compile against "
        "torch-eager, jax-jit against jax-eager, tf-xla against tf-eager). " + HEATMAP_CAPTION,
    ),
    "speedup-torch": (
        "Speedup over torch-eager",
        "Every backend against one common baseline, eager PyTorch, so backends of different "
        "frameworks can be compared on the same scale (jax-jit against torch-eager, not "
        "against jax-eager). Read it as Figure {first}a: the number is torch-eager's median "
        "over this backend's, blue faster, red slower, grey not ok, last row the pass rate.",
    ),
    "latency": (
        "Steady-state latency: {model}",
        "One box per backend from its raw timed samples (each one synced step after the "
        "warm-up). The box spans the middle half of the samples (the IQR), the line inside "
        "is the median, whiskers reach 1.5 IQR and dots are the samples beyond. Further "
        "left is faster; a wide box is a noisy cell. The axis is logarithmic where the "
        "backends span more than 10×. Cells that are not ok are named with their status.",
    ),
    "throughput": (
        "Throughput against batch size",
        "Examples per second, measured as back-to-back steps with one sync at the end (so "
        "an asynchronous backend may overlap dispatch and execution). One panel per model "
        "and mode/device, one line per backend; higher is better, and a line that flattens "
        "has saturated the device. Both axes are logarithmic. A model measured at a single "
        "batch size shows points only. ok cells only. Computed by "
        f"{DEFINITIONS['throughput'].function}.",
    ),
    "memory": (
        "Peak memory per cell",
        "Each dot is one ok cell (colour and marker: model and batch size). On CPU the "
        "counter is the worker process's peak resident set (VmHWM), which covers its whole "
        "life: interpreter, framework runtime, compiler and the steps, so it is the "
        "footprint of running that backend, not the size of the model's tensors. On CUDA it "
        "is the framework allocator's peak. Counters in these runs: {counters}.",
    ),
    "first-call": (
        "First-call time",
        "The first step of each cell, including tracing and compilation from empty caches "
        "(a cold start); logarithmic axis. Eager backends pay little here; compiled and "
        "traced backends pay it once per input shape. Cells that timed out keep the first "
        "call they measured.",
    ),
    "break-even": (
        "Break-even steps of static backends",
        "After how many steps a compiled or traced backend has paid back its start-up "
        "against its framework's eager backend: (static first result − eager first result) "
        "/ (eager median − static median), where first result = build + first call. A job "
        "longer than that is better off with the static backend. ◀ at the left edge (0): "
        "it starts sooner and runs faster, so it is ahead from the first step. ▶ at the "
        "right edge (never): its steps are not measurably faster (the bootstrap "
        f"{metrics.BREAK_EVEN_CONFIDENCE:.0%} interval of the static/eager median ratio "
        "reaches 1), so its start-up is never paid back. Logarithmic axis. Computed by "
        f"{DEFINITIONS['break_even'].function}.",
    ),
    "flops": (
        "Achieved FLOP/s",
        "The model's analytic FLOPs per step (each multiply-add of a matmul or convolution "
        "counts 2; a training step counts 3× the forward pass; elementwise work is not "
        "counted) divided by the median step time. Higher is better; it is comparable "
        "across batch sizes and models, and a lower bound on the arithmetic done. Computed "
        f"by {DEFINITIONS['flops'].function}. Where the run measured its device's peak at the "
        "start (run.json device_peak: the best of several large matrix multiplies in the "
        "precision's matmul mode, bench.worker.peak), a dashed line marks it and the top axis "
        "reads "
        "the share of it (% of peak, computed by "
        f"{DEFINITIONS['fraction_of_peak'].function}); a point beyond the line, circled in red, "
        f"is impossible ({DEFINITIONS['impossible'].function}): its timing or its FLOP count "
        "is wrong.",
    ),
}


def _counters(cells: pd.DataFrame) -> str:
    seen = cells[cells["memory_counter"] != ""][["device", "framework", "memory_counter"]]
    parts = [
        f"{d} ({f}): {c}" if d != "cpu" else f"cpu: {c}"
        for d, f, c in seen.drop_duplicates().itertuples(index=False)
    ]
    return "; ".join(dict.fromkeys(parts)) or "none recorded"


PRECISION_CAPTION = (
    "Speedup of each reduced precision over float32 on the same backend",
    "One panel per mode, precision and device; each row a model at one batch size, each "
    "column a backend. The number is the backend's float32 median over its median at this "
    "precision: above 1, the precision makes the backend faster (tensor cores, less memory "
    "traffic); below 1, slower (on a CPU without native bfloat16 matmuls, say, the casts "
    "cost more than they save). Colours as Figure {first}a. Computed by "
    f"{DEFINITIONS['vs_float32'].function}.",
)


def precision_figure(cells: pd.DataFrame, number: int):
    """The reduced precisions' speedups over float32 (None where every cell is float32)."""
    reduced = cells[(cells["precision"].astype(str) != "float32") & ~cells["not_applicable"]]
    if reduced.empty:
        return None
    return figure(
        f"fig-{number}",
        str(number),
        PRECISION_CAPTION,
        lambda: plots.speedup_heatmap(reduced, "vs_float32"),
        first=str(number - 6),
    )


def build_figures(cells: pd.DataFrame, pairs: pd.DataFrame, first: int) -> list:
    # A combination that means nothing (tf32 on a CPU) has no place in a figure.
    cells = cells[~cells["not_applicable"]]
    n = [str(first + i) for i in range(6)]
    used_models = set(cells["model"].astype(str))
    models = [m for m in cells["model"].cat.categories if m in used_models]
    samples = samples_frame(cells)
    figures = [
        figure(
            f"fig-{n[0]}a",
            f"{n[0]}a",
            CAPTIONS["speedup-eager"],
            lambda: plots.speedup_heatmap(cells, "vs_eager"),
        ),
        figure(
            f"fig-{n[0]}b",
            f"{n[0]}b",
            CAPTIONS["speedup-torch"],
            lambda: plots.speedup_heatmap(cells, "vs_torch_eager"),
            first=n[0],
        ),
    ]
    for i, model in enumerate(models, start=1):
        figures.append(
            figure(
                f"fig-{n[1]}-{i}",
                f"{n[1]}.{i}",
                CAPTIONS["latency"],
                functools.partial(plots.latency_distributions, cells, samples, model),
                model=model,
            )
        )
    figures += [
        figure(
            f"fig-{n[2]}", n[2], CAPTIONS["throughput"], lambda: plots.throughput_vs_batch(cells)
        ),
        figure(
            f"fig-{n[3]}",
            n[3],
            CAPTIONS["memory"],
            lambda: plots.peak_memory(cells),
            counters=_counters(cells),
        ),
        figure(f"fig-{n[4]}a", f"{n[4]}a", CAPTIONS["first-call"], lambda: plots.first_call(cells)),
        figure(f"fig-{n[4]}b", f"{n[4]}b", CAPTIONS["break-even"], lambda: plots.break_even(pairs)),
        figure(f"fig-{n[5]}", n[5], CAPTIONS["flops"], lambda: plots.achieved_flops(cells)),
    ]
    return figures


# --- the section ----------------------------------------------------------------------


def build(
    runs: Sequence[Run], first_figure: int = 1, options: Options | None = None
) -> Section | None:
    options = options or Options()
    include_contended = options.include_contended
    cells = cells_frame(runs)
    if cells.empty:
        return None
    pairs = break_even_frame(cells)
    geo = geomean_frame(cells, include_contended)
    statuses = Counter(cells["status"])
    ok = cells[cells["status"] == "ok"]
    noisy = int(cells["noisy"].sum())
    contended = int(cells["contended"].sum())
    warnings = []
    if contended:
        warnings.append(
            f"{contended} cell(s) were contended: other processes used more than "
            f"{CONTENDED_SHARE:.0%} of the cores their worker was pinned to while it took its "
            "samples, so their times are the machine's, not the backend's. They are marked "
            "“contended”, left out of the geometric means"
            + (" (included here: --include-contended)" if include_contended else "")
            + "; re-run them on a quiet machine (python -m bench run ...) before citing them."
        )
    if noisy > NOISY_WARNING_SHARE * max(1, len(ok)):
        warnings.append(
            f"{noisy} of the {len(ok)} ok cells are noisy (interquartile range over "
            f"{NOISY_IQR_RATIO:.0%} of the median): the machine was probably busy while these "
            "runs measured. Medians are still the best estimate, but treat differences of less "
            "than about the spread as unproven, and re-run on a quiet machine before citing them."
        )
    if impossible := impossible_warning(cells):
        warnings.append(impossible)
    near = int(cells["near_floor"].sum())
    if near:
        warnings.append(
            f"{near} ok cell(s) have a median within {metrics.FLOOR_MARGIN:g}× the harness floor "
            "(an empty synced step of their framework, measured at the start of the run): much "
            "of their time is the timer and the sync, not the model; they are marked "
            "“near floor”."
        )
    figures = build_figures(cells, pairs, first_figure)
    nav = [
        ("reading", "How to read this report"),
        ("headline", "Geometric-mean speedups"),
        *((f.id, f"Figure {f.number}: {f.title}") for f in figures),
        ("summary", "Summary of every cell"),
        ("noisy", "Noisy cells"),
        ("break-even", "Break-even steps"),
        ("memory", "Peak memory against eager"),
    ]
    if (cells["precision"].astype(str) != "float32").any():
        nav.append(("precision", "Reduced precision against float32"))
    if cells["trace_tool"].notna().any():
        nav.append(("traces", "Profiler traces: where the steps go"))
    citations = [
        ("Cells", [cite_cell(r) for _, r in ok.iterrows()], "No ok cell."),
        (
            "Geometric-mean speedups",
            [c for _, g in geo.iterrows() if (c := cite_geomean(g))],
            "No speedup to cite.",
        ),
        (
            "Break-even",
            [cite_break_even(r) for _, r in pairs.iterrows()],
            "No static/eager pair to cite.",
        ),
        (
            "Measured peak",
            [
                c
                for run in runs
                if any(r.cell.scenario == SCENARIO for r in run.results) and (c := cite_peak(run))
            ],
            "No run measured its device's peak.",
        ),
    ]
    return Section(
        scenario=SCENARIO,
        total=len(cells),
        template="sections/fixed.html.j2",
        noun="fixed-shape cells",
        counts=[
            *((s, statuses[s]) for s in STATUSES if statuses[s]),
            ("noisy", noisy),
            ("contended", contended),
        ],
        warnings=warnings,
        nav=nav,
        context={
            "figures": figures,
            "geomean": geomean_table(geo),
            "summary": summary_table(cells),
            "noisy_cells": noisy_table(cells),
            "break_even": break_even_table(pairs),
            "memory": memory_table(cells),
            "precision": precision_table(cells),
            "precision_figure": precision_figure(cells, first_figure + 6),
            "noise_threshold": f"{NOISY_IQR_RATIO:.0%}",
            "traced": bool(cells["trace_tool"].notna().any()),
            "traces": traces_table(cells, options.report_dir),
            "top_ops": top_ops_table(cells),
        },
        failures=cells[cells["status"] != "ok"],
        citations=citations,
        figures_used=7 if (cells["precision"].astype(str) != "float32").any() else 6,
    )
