"""Stored runs as pandas frames, for notebooks and for ``python -m bench export --format csv``.

    >>> from report.data import load_cells
    >>> cells = load_cells("results/20261123-013231-cpu")
    >>> cells[cells.status == "ok"].groupby("backend", observed=True).median_ms.median()

``load_cells`` is the very frame the report's fixed-shape section draws from
(``report.sections.fixed.cells_frame``) and ``load_streams`` the stream section's
(``report.sections.stream.stream_frame``): one row per cell (a cell measured in several
repetitions is one row over all of them), every derived number computed by bench.analysis.metrics.
``CELL_COLUMNS`` says what each column of ``load_cells`` holds. ``csv_frame`` turns the
frame into one a CSV can hold (lists ``;``-joined, break-even split into steps and text);
``read_cells_csv`` reads such a file back with its lists.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench import backends
from bench.analysis.metrics import BreakEven
from bench.results.record import SLOW_WINDOW_SHARE
from bench.results.store import Run, load_run
from report.sections.fixed import cells_frame
from report.sections.stream import stream_frame

# A list in a CSV cell: its items joined by this (no CSV quoting needed, not a decimal mark).
LIST_SEPARATOR = ";"

CELL_COLUMNS: dict[str, str] = {
    # who and where (report.frame.base_row)
    "run_id": "the run the cell belongs to (its directory name under results/)",
    "commit": "the graphbench commit the run was made at (short; '(dirty)' if uncommitted)",
    "model": "the model (models/<name>)",
    "backend": "the execution style, e.g. torch-compile (python -m bench list)",
    "mode": "infer (a forward pass) or train (forward, backward and one Adam step)",
    "device": "cpu or cuda",
    "batch_size": "examples per step",
    "profile": "quick or full: model sizes and how long to measure (bench.matrix.profiles)",
    "precision": "the precision policy, e.g. float32 or amp-bf16 (README: Precision)",
    "scenario": "fixed (this frame holds fixed-shape cells only)",
    "strategy": "stream cells only: empty here",
    "stream": "stream cells only: empty here",
    "repetition": "the cell's repetition number (1; a pooled cell is numbered 1)",
    "framework": "the backend's framework, one of " + ", ".join(backends.FRAMEWORKS),
    "static": "true for a compiled, traced or XLA backend; false for an eager one",
    "eager_backend": "the same framework's eager backend: what speedups and break-even use",
    "status": "ok, mismatch, failed, timeout, oom, skipped or not-applicable",
    "not_applicable": "status is not-applicable (the combination means nothing)",
    "error": "why the cell is not ok (one line); empty for an ok cell",
    "output_tail": "the last lines of a failed worker's output",
    "source": "where the cell ran, as the report heads it: the device (plus the run id "
    "where one device has several runs)",
    # how far to trust it
    "noisy": "bench.analysis.metrics.is_noisy: IQR over 10% of the median, or repetitions "
    "disagreeing",
    "contended": "bench.analysis.metrics.is_contended: other processes used the worker's cores",
    "eager_contended": "the eager cell this one is compared with was contended",
    "torch_eager_contended": "the torch-eager cell of the block was contended",
    "contention": "share of the pinned cores' time other processes used while sampling (0-1)",
    "slow_window": "bench.analysis.metrics.is_slow_window: the cell's sentinel ran more than "
    f"{SLOW_WINDOW_SHARE:.0%} slower than the run's median (the machine was slow)",
    "eager_slow_window": "the eager cell this one is compared with was in a slow window",
    "torch_eager_slow_window": "the torch-eager cell of the block was in a slow window",
    "slow_window_ratio": "the cell's sentinel time / the run's median sentinel time "
    "(bench.analysis.metrics.slow_window_ratio)",
    "repetitions": "how many repetitions the row pools (bench.analysis.metrics.ok_repetitions)",
    "repetition_spread": "(max - min) / median of the repetitions' medians "
    "(bench.analysis.metrics.repetition_spread); empty for a cell run once",
    "near_floor": "bench.analysis.metrics.near_floor: the median is within 5x the harness floor",
    # the device's measured peak (run.json device_peak; bench.worker.peak)
    "peak_flops_per_s": "the device's measured peak FLOP/s for the cell's precision "
    "(bench.analysis.metrics.peak_flops_per_s)",
    "fraction_of_peak": "achieved FLOP/s / the measured peak "
    "(bench.analysis.metrics.fraction_of_peak)",
    "impossible": "bench.analysis.metrics.impossible: above 100% of the measured peak (a timing or "
    "FLOP-count error)",
    "peak_how": "how the peak was measured (framework, matrix size, statistic)",
    "peak_contention": "share of the cores other processes used while the peak was measured",
    # profiler traces (run --trace; bench.analysis.traces)
    "run_path": "the run's directory, as it was loaded (trace files are relative to it)",
    "trace_tool": "the profiler of the trace worker (empty: the cell was not traced)",
    "trace_files": "the trace's files, relative to the run directory",
    "top_ops": "the operations with the most self time per traced step: name, "
    "self_ms_per_step, share",
    "trace_error": "why a traced cell has no trace",
    "floor_us": "the harness floor: an empty synced step, microseconds (bench.worker.probe)",
    # steady state (bench.analysis.metrics.latency over the timed samples)
    "median_ms": "median timed step, milliseconds (bench.analysis.metrics.median_ms)",
    "p90_ms": "90th percentile of the timed steps, ms",
    "p99_ms": "99th percentile of the timed steps, ms",
    "iqr_ms": "interquartile range of the timed steps, ms",
    "iqr_ratio": "iqr_ms / median_ms",
    "n": "how many timed steps",
    "samples_ms": "every timed step, ms, in order (CSV: joined by ';')",
    "throughput_per_s": "examples per second, pipelined (bench.analysis.metrics.throughput_per_s)",
    # starting up
    "build_s": "building the model and its optimizer, seconds",
    "first_call_s": "the first step in a new process (tracing, compiling), seconds",
    "first_call_warm_s": "the same in a second process that finds the compile cache",
    "time_to_steady_s": "build + first call + warm-up until settled "
    "(bench.analysis.metrics.time_to_steady_state)",
    # memory
    "memory_bytes": "peak memory, bytes: host VmHWM on CPU, the allocator's peak on CUDA "
    "(bench.analysis.metrics.peak_memory)",
    "memory_counter": "what memory_bytes was read from",
    "memory_kind": "host or device",
    "memory_vs_eager": "eager's peak memory / this one's (bench.analysis.metrics.memory_vs_eager)",
    "gpu_memory_bytes": "the driver's peak of the worker's GPU memory (NVML), bytes",
    "gpu_name": "the GPU the cell ran on",
    # correctness
    "parity_max_rel_err": "largest relative error against the float64 reference",
    "parity_tolerance": "the error the precision allows",
    "parity_float32_eager_err": "the same error of the framework's float32 eager output",
    # work done
    "flops_per_step": "the model's analytic FLOPs per step",
    "flops_per_s": "flops_per_step / median step (bench.analysis.metrics.achieved_flops_per_s)",
    "compilations": "compilations the framework reported during the timed steps",
    # against other cells
    "vs_float32": "the same backend's float32 median / this median "
    "(bench.analysis.metrics.speedup_vs_float32)",
    "memory_saved": "1 - this peak memory / float32's "
    "(bench.analysis.metrics.memory_saved_vs_float32)",
    "vs_eager": "eager median / this median (bench.analysis.metrics.speedup_vs_eager)",
    "vs_torch_eager": "torch-eager median / this median "
    "(bench.analysis.metrics.speedup_vs_torch_eager)",
    "break_even": "bench.analysis.metrics.BreakEven, cold start (CSV: break_even_steps and "
    "break_even_note)",
    "break_even_warm": "the same with the warm start (CSV: break_even_warm_steps and "
    "break_even_warm_note)",
}


def load_runs(*run_dirs: str | Path) -> list[Run]:
    """The runs, each validated as it is read (bench.results.store.load_run)."""
    return [load_run(d) for d in run_dirs]


def load_cells(*run_dirs: str | Path) -> pd.DataFrame:
    """One row per fixed-shape cell of the runs: the report's own frame
    (report.sections.fixed.cells_frame); ``CELL_COLUMNS`` says what each column holds.
    Empty where the runs hold no fixed-shape cell."""
    return cells_frame(load_runs(*run_dirs))


def load_streams(*run_dirs: str | Path) -> pd.DataFrame:
    """One row per stream cell of the runs: the report's stream frame
    (report.sections.stream.stream_frame: report.frame.base_row's columns, then the
    stream's totals, compile time, steady step, padding and overtaking, each from
    bench.analysis.metrics; ``step_ms`` is every step of the first pass). Empty where there is
    none."""
    return stream_frame(load_runs(*run_dirs))


# --- CSV ------------------------------------------------------------------------------


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple))


def join_list(values: Sequence[Any]) -> str:
    """``0.70132;0.69861``: each number written to round-trip exactly (repr). A list of
    anything else (trace file names, top operations) is written as JSON."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return LIST_SEPARATOR.join(repr(float(v)) for v in values)
    return json.dumps(list(values), sort_keys=True)


def split_list(text: object) -> list[float]:
    """join_list's text back to numbers; an empty cell is an empty list."""
    if not isinstance(text, str) or not text:
        return []
    return [float(v) for v in text.split(LIST_SEPARATOR)]


def _break_even_columns(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A column of BreakEven objects as two: ``<column>_steps`` (BreakEven.value(): steps,
    inf for never, empty where unknown) and ``<column>_note`` (what a reader is told)."""
    values = list(frame[column])
    at = frame.columns.get_loc(column)
    steps = [b.value() if isinstance(b, BreakEven) else math.nan for b in values]
    notes = [b.text() if isinstance(b, BreakEven) else "" for b in values]
    out = frame.drop(columns=column)
    out.insert(at, f"{column}_note", notes)
    out.insert(at, f"{column}_steps", steps)
    return out


def csv_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` as a CSV holds it: every list-valued column ``;``-joined (join_list), every
    column of BreakEven objects split into ``_steps`` and ``_note``; the rest as it is."""
    out = cells.copy()
    for column in list(out.columns):
        values = list(out[column])
        if any(isinstance(v, BreakEven) for v in values):
            out = _break_even_columns(out, column)
        elif any(_is_list(v) for v in values):
            out[column] = [join_list(v) if _is_list(v) else "" for v in values]
    return out


def cells_csv(cells: pd.DataFrame) -> str:
    """The CSV text of ``cells`` (csv_frame), one row per cell, with a header row."""
    return csv_frame(cells).to_csv(index=False)


def read_cells_csv(path: str | Path, list_columns: Sequence[str] = ("samples_ms",)) -> pd.DataFrame:
    """A CSV written by ``export --format csv``, its list columns read back as lists of floats."""
    frame = pd.read_csv(path)
    for column in list_columns:
        if column in frame.columns:
            frame[column] = [split_list(v) for v in frame[column]]
    return frame
