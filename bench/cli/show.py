"""``list``, ``env`` and ``summary``: what can run here, what a run records, a stored run."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

import models
from bench import backends
from bench.analysis import metrics, summary
from bench.matrix import scenarios
from bench.matrix.precision import POLICY, PRECISIONS
from bench.matrix.profiles import PROFILE_NAMES, available_cores, settings_for
from bench.matrix.profiles import describe as describe_profile
from bench.matrix.streams import STRATEGY_HELP, STREAM_STEPS, STREAMS
from bench.parent import environment
from bench.results.run_meta import stored
from bench.results.store import load_run
from bench.terminal import plain
from models import suites


def backend_rows() -> list[tuple[str, ...]]:
    """docs/backends-and-models.md's backend table: one row per registered backend."""
    return [
        (f"`{i.name}`", i.framework, i.summary, ", ".join(i.devices))
        for i in backends.BACKENDS.values()
    ]


def model_rows() -> list[tuple[str, ...]]:
    """The model table (docs/backends-and-models.md): configuration and batch per profile."""
    rows = []
    for name in models.MODEL_NAMES:
        spec = models.spec(name)
        cells = [f"{spec.describe(spec.PROFILES[p])} ({spec.BATCH_SIZE[p]})" for p in PROFILE_NAMES]
        rows.append((f"`{name}`", *cells))
    return rows


def flop_rows() -> list[tuple[str, ...]]:
    """GFLOP per inference step at each profile's default batch (train is 3x)."""
    rows = []
    for profile in PROFILE_NAMES:
        values = []
        for name in models.MODEL_NAMES:
            spec = models.spec(name)
            cfg = spec.PROFILES[profile]
            values.append(
                f"{spec.flops_per_step(cfg, spec.BATCH_SIZE[profile], 'infer') / 1e9:.4g}"
            )
        rows.append((f"{profile}, default batch", *values))
    return rows


def markdown_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def markdown_tables() -> list[str]:
    """The generated tables, exactly as docs/backends-and-models.md holds them."""
    return [
        markdown_table(("backend", "framework", "what runs", "devices"), backend_rows()),
        markdown_table(("model", *(f"{p} (batch)" for p in PROFILE_NAMES)), model_rows()),
        markdown_table(
            ("GFLOP per step (infer; train is 3×)", *(f"`{m}`" for m in models.MODEL_NAMES)),
            flop_rows(),
        ),
    ]


def _table(title: str, headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Table:
    t = Table(title=title, title_justify="left")
    for h in headers:
        t.add_column(h, overflow="fold")
    for row in rows:
        t.add_row(*(Text(plain(c)) for c in row))
    return t


def cmd_list(a: argparse.Namespace, out: Console) -> int:
    if a.markdown:
        print("\n\n".join(markdown_tables()))
        return 0
    out.print(
        _table(
            "models",
            ("model", *(f"{p} (batch)" for p in PROFILE_NAMES)),
            [(r[0].strip("`"), *r[1:]) for r in model_rows()],
        )
    )
    out.print(
        _table(
            escape(f"suites (--models PREFIX/NAME; pip install '{suites.EXTRA}')"),
            ("suite", "models", "installed here", "what it is"),
            suites.rows(),
        )
    )
    cuda_reason = environment.cuda_unavailable_reason()
    rows: list[tuple[str, ...]] = []
    for info in backends.BACKENDS.values():
        reason = backends.not_installed_reason(info.framework)
        if reason is None and "cpu" not in info.devices and cuda_reason:
            reason = f"needs CUDA: {cuda_reason}"
        rows.append(
            (info.name, info.framework, ",".join(info.devices), reason or "yes", info.summary)
        )
    out.print(
        _table(
            "backends", ("backend", "framework", "devices", "available here", "what it is"), rows
        )
    )
    gpus, _ = environment.gpus()
    out.print(
        _table(
            "devices",
            ("device", "available here"),
            [
                ("cpu", f"yes ({environment.cpu_model()}, {available_cores()} cores)"),
                ("cuda", ", ".join(g["name"] for g in gpus) if gpus else f"no: {cuda_reason}"),
            ],
        )
    )
    out.print(
        _table(
            "profiles",
            ("profile", "measurement"),
            [(p, describe_profile(p)) for p in PROFILE_NAMES],
        )
    )
    out.print(
        _table(
            "precisions (--precisions)",
            ("precision", "policy"),
            [(p, POLICY[p]) for p in PRECISIONS],
        )
    )
    stream = scenarios.get("stream")
    options = [("models", ", ".join(stream.models()), "models with a sequence axis")]
    for name, s in STREAMS.items():
        steps = ", ".join(f"{n} steps ({p})" for p, n in STREAM_STEPS.items())
        options.append(("--streams", name, f"{s.description}; {steps}"))
    options += [("--strategies", name, text) for name, text in STRATEGY_HELP.items()]
    headers = ("option", "name", "what it is")
    out.print(_table("stream scenario (--scenario stream)", headers, options))
    return 0


def cmd_env() -> int:
    env = {
        "environment": stored(environment.collect()),
        "precision_policy": POLICY,
        "settings": {p: settings_for(p).to_dict() for p in PROFILE_NAMES},
    }
    print(json.dumps(env, indent=2))
    return 0


def cmd_summary(a: argparse.Namespace, out: Console, err: Console) -> int:
    run = load_run(a.run_dir)
    if not run.results:  # an empty table would read as "nothing went wrong"
        cells = len(run.meta.plan.matrix)
        err.print(
            Text(
                plain(
                    f"graphbench: {a.run_dir} has no results yet (0 of its {cells} cell(s) "
                    f"measured); measure them with: python -m bench resume {a.run_dir}"
                )
            )
        )
        return 0
    peak, sentinel = run.meta.probes.device_peak, metrics.run_sentinel_ms(run)
    if a.markdown:
        print(summary.markdown(run.results, device_peak=peak, sentinel_ms=sentinel))
    else:
        out.print(
            summary.table(
                run.results, title=f"run {run.run_id}", device_peak=peak, sentinel_ms=sentinel
            )
        )
    return 0
