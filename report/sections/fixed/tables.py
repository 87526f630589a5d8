"""The fixed-shape section's tables: every cell, the noisy ones, memory and precision
against their baselines, the geometric means and the break-even steps.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from bench.analysis.metrics import NOISY_IQR_RATIO
from report import fmt, frame
from report.sections.fixed.frames import AGGREGATES as A
from report.sections.fixed.frames import MEASURES as M
from report.tables import Column, Row, Table, shown, status_text


def _classes(r: pd.Series) -> str:
    if r["status"] != "ok":
        return "bad"
    return "noisy" if r["noisy"] or r["contended"] else ""


# The status column: ok, or ok with the flags that qualify it (status_text), or not ok.
STATUS = shown(
    "status",
    M["noisy"],
    M["contended"],
    M["near_floor"],
    note="ok, with what qualifies it, or why it is not",
    numeric=False,
)
IQR_NOTE = "interquartile range of the timed steps, and its share of the median"

SUMMARY_COLUMNS = (
    Column("backend"),
    shown("median ms", M["median_ms"]),
    shown("p90 ms", M["p90_ms"]),
    shown("p99 ms", M["p99_ms"]),
    shown("IQR ms (of median)", M["iqr_ms"], M["iqr_ratio"], note=IQR_NOTE),
    shown("examples/s", M["throughput_per_s"]),
    shown("% of peak", M["fraction_of_peak"], M["impossible"]),
    Column("first call s", True, "first step including tracing/compilation, cold caches"),
    shown("start s", M["time_to_steady_s"]),
    Column(
        "warm first call s",
        True,
        "the first call of a new process that finds the compile cache the first one left "
        "(only backends that keep one)",
    ),
    shown("peak MiB", M["memory_bytes"]),
    Column("parity err", True, "max |y - y_ref| / max |y_ref| against float64 NumPy"),
    shown("vs eager", M["vs_eager"]),
    shown("vs torch-eager", M["vs_torch_eager"]),
    STATUS,
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
        replace(c, help=f"{c.help}. Peaks: {where}") if c.label == "% of peak" else c
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
        shown("median ms", M["median_ms"]),
        shown("IQR ms", M["iqr_ms"]),
        shown("IQR / median", M["iqr_ratio"]),
        shown("p99 ms", M["p99_ms"]),
        shown("samples", M["n"]),
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
        shown("peak MiB", M["memory_bytes"]),
        shown("eager / this", M["memory_vs_eager"]),
        Column(
            "NVML peak MiB",
            True,
            "the worker's GPU memory as the driver saw it (sampled), the same counter for every "
            "framework; it includes the CUDA context",
        ),
        shown("counter", M["memory_counter"], numeric=False, wrap="wrap"),
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
        STATUS,
        shown("median ms", M["median_ms"]),
        shown("vs float32", M["vs_float32"]),
        shown("memory saved", M["memory_saved"]),
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
        shown("geomean vs own eager", A["vs_eager"], M["vs_eager"]),
        Column("covered", True, "workloads with a speedup / workloads run"),
        shown("geomean vs torch-eager", A["vs_torch_eager"], M["vs_torch_eager"]),
        Column("covered", True),
        shown("pass rate", A["pass_count"]),
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
        shown("start s (static / eager)", M["time_to_steady_s"]),
        shown("median ms (static / eager)", M["median_ms"]),
        shown("break-even steps (cold)", M["break_even"]),
        shown(
            "break-even steps (warm)",
            M["break_even_warm"],
            note="with the static backend's warm start (a new process finding its compile "
            "cache); – where nothing persists between processes",
        ),
    )
    return Table("break-even-table", columns, tuple(rows), "No static/eager pair of ok cells.")
