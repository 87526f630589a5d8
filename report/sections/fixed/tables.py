"""The fixed-shape section's tables: every cell, the noisy ones, memory and precision
against their baselines, the geometric means and the break-even steps.
"""

from __future__ import annotations

import pandas as pd

from bench.metrics import DEFINITIONS, NOISY_IQR_RATIO
from report import fmt, frame
from report.tables import Column, Row, Table, status_text


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
        Column("tolerance", True, "the precision's parity tolerance (bench.precision)"),
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
