"""The environment section: what each run recorded about where and how it ran.

Known fields get a readable label; anything else a run.json carries is shown as it is,
so a field added later is never hidden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bench.analysis import metrics
from bench.analysis.compare import short_commit
from bench.results.run_meta import Environment, RunMeta
from bench.results.store import Run


@dataclass(frozen=True)
class RunEnvironment:
    run_id: str
    facts: list[tuple[str, str]]  # (label, value), in reading order
    key_packages: list[tuple[str, str]]
    threads: list[tuple[str, str]]  # (framework, what it was set to)
    variables: list[tuple[str, str]]
    packages: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown above the facts


def _text(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _yes_no(value: object) -> str:
    return "yes" if value is True else "no" if value is False else "–"


def _gpus(env: Environment) -> str:
    gpus = env.gpus
    if not gpus:
        return f"none ({env.gpus_unavailable_reason or 'not recorded'})"
    return "; ".join(
        ", ".join(f"{k} {_text(v)}" if k != "name" else str(v) for k, v in g.items()) for g in gpus
    )


def _framework_settings(run: Run) -> list[tuple[str, str]]:
    """What each framework's worker set (threads, numerics), from its first cell that says."""
    out: dict[str, str] = {}
    for r in run.results:
        framework = r.cell.framework
        if framework not in out and r.setup and r.setup.framework_settings:
            affinity = r.setup.cpu_affinity
            text = ", ".join(f"{k}={_text(v)}" for k, v in r.setup.framework_settings.items())
            out[framework] = text + (f"; pinned to cores {affinity}" if affinity else "")
    return sorted(out.items())


def _where_cells_ran(run: Run) -> list[tuple[str, str]]:
    """The hosts and GPUs the cells of a run used (from the cells themselves)."""
    hosts = sorted({r.setup.host for r in run.results if r.setup and r.setup.host})
    gpus: dict[str, str] = {}
    for r in run.results:
        g = r.gpu
        if g is None or not g.gpu_uuid:
            continue
        power = f"{g.gpu_power_limit_w:g} W" if g.gpu_power_limit_w is not None else "–"
        if g.gpu_max_sm_clock_mhz is not None or g.gpu_sm_clock_mhz is None:
            clocks = (
                f"max SM {_text(g.gpu_max_sm_clock_mhz)} MHz, "
                f"memory {_text(g.gpu_max_memory_clock_mhz)} MHz"
            )
        else:  # an older record: the clocks at worker start
            clocks = f"SM {g.gpu_sm_clock_mhz} MHz, memory {g.gpu_memory_clock_mhz} MHz"
        gpus[g.gpu_uuid] = (
            f"GPU {g.gpu_index} {g.gpu_name} ({g.gpu_uuid}), {clocks}, power limit {power}"
        )
    throttled = sorted({t for r in run.results if r.gpu for t in r.gpu.gpu_throttle_reasons})
    used = sorted({r.process.executor for r in run.results if r.process and r.process.executor})
    out = [
        ("hosts the cells ran on", ", ".join(hosts) or "–"),
        ("executor", ", ".join(used) or "–"),
    ]
    if gpus:
        out.append(("GPUs the cells ran on", "; ".join(gpus.values())))
        out.append(("clock limits seen (NVML)", ", ".join(throttled) or "none"))
        out.extend(_gpu_during_samples(run))
    return out


def _gpu_during_samples(run: Run) -> list[tuple[str, str]]:
    """The GPU's clocks, power and clock limits while the cells took their samples (NVML,
    bench.analysis.metrics.gpu_during_samples), over every cell that has readings."""
    spreads = [metrics.gpu_during_samples(r) for r in run.results]
    out = []
    for label in metrics.GPU_SAMPLED:
        seen = [s[label] for s in spreads if label in s]
        if seen:
            low, high = min(x.min for x in seen), max(x.max for x in seen)
            medians = sorted(x.median for x in seen)
            text = f"cells' medians {medians[0]:g} to {medians[-1]:g}, readings {low:g} to {high:g}"
            out.append((f"{label} during the samples ({len(seen)} cells)", text))
    sampled = [r.gpu for r in run.results if r.gpu and r.gpu.gpu_sm_clock_samples_mhz]
    if sampled:
        during = sorted({t for g in sampled for t in g.gpu_throttle_reasons_samples})
        outside = sorted({t for g in sampled for t in g.gpu_throttle_reasons_outside_samples})
        out.append(("clock limits during the samples", ", ".join(during) or "none"))
        out.append(("clock limits outside the samples only", ", ".join(outside) or "none"))
    return out


def mixed_gpu_warnings(run: Run, most: int = 5) -> list[str]:
    """A warning where cells of one comparison (a block: a static backend and its eager
    baseline) ran on different GPU models: their speedups divide numbers of two GPUs."""
    models: dict[tuple, set[str]] = {}
    labels: dict[tuple, str] = {}
    for r in run.results:
        if r.gpu is not None and r.gpu.gpu_name:
            models.setdefault(r.cell.block(), set()).add(r.gpu.gpu_name)
            c = r.cell
            labels[c.block()] = f"{c.model} {c.mode} b{c.batch_size} {c.precision}"
    mixed = [(labels[k], sorted(v)) for k, v in models.items() if len(v) > 1]
    if not mixed:
        return []
    listed = "; ".join(f"{label}: {', '.join(names)}" for label, names in mixed[:most])
    more = f" (and {len(mixed) - most} more)" if len(mixed) > most else ""
    return [
        f"Cells compared with each other ran on different GPU models in {len(mixed)} "
        f"block(s): {listed}{more}. Their speedups and break-even steps divide times from "
        "two kinds of GPU; re-run those blocks on one model (shards keep a block together)."
    ]


def _shards(meta: RunMeta) -> list[tuple[str, str]]:
    """A merged run's shards: where and when each ran (bench.parent.merge)."""
    out = []
    for s in meta.shards:
        hosts = ", ".join(s.hosts) or "–"
        gpus = ", ".join(s.gpus)
        out.append(
            (
                f"shard {s.index}/{len(meta.shards)}",
                f"run {s.run_id} from {s.runner_host or '–'}; cells on {hosts}"
                + (f"; GPUs {gpus}" if gpus else "")
                + f"; {s.started_utc} to {s.finished_utc}",
            )
        )
    return out


def _interpreters(meta: RunMeta) -> list[tuple[str, str]]:
    """Each framework's interpreter, version and CUDA build, and the harness floor (probes)."""
    out = []
    for framework, p in sorted(meta.probes.interpreters.items()):
        floor = p.floor_us.get("median")
        text = f"{p.interpreter} (Python {p.python}): {p.version}"
        text += f", CUDA {p.cuda_build}" if p.cuda_build else ", no CUDA"
        if floor is not None:
            text += f"; harness floor {floor:.3g} µs (an empty synced step)"
        out.append((f"{framework}", text))
    return out


def describe(run: Run) -> RunEnvironment:
    meta = run.meta
    env = meta.environment
    settings = meta.settings.to_dict()
    ram = env.ram_bytes
    started, finished = meta.identity.started_utc, meta.progress.finished_utc
    facts = [
        ("run", run.run_id),
        ("runner host", _text(env.host)),
        ("started / finished (UTC)", f"{started} / {finished}"),
        ("interrupted", _yes_no(meta.progress.interrupted)),
        ("command", _text(meta.identity.command)),
        ("working directory", _text(meta.identity.cwd)),
        ("git commit", short_commit(env.git)),
        ("full commit", _text(env.commit)),
        ("CPU", f"{env.cpu_model}, {env.cpu_count} cores ({env.cpu_schedulable} schedulable)"),
        ("RAM", f"{ram / 2**30:.1f} GiB" if ram is not None else "–"),
        ("GPUs", _gpus(env)),
        ("platform", _text(env.platform)),
        ("Python", f"{env.python} ({env.python_executable or '–'})"),
        ("threads", _text(settings["threads"])),
        ("settings", ", ".join(f"{k}={_text(v)}" for k, v in settings.items())),
    ]
    facts += _where_cells_ran(run)
    facts += _shards(meta)
    facts += [(f"interpreter ({f})", text) for f, text in _interpreters(meta)]
    for precision, policy in meta.plan.precision_policy.items():
        facts.append((f"precision policy ({precision})", _text(policy)))
    if meta.plan.training_step:
        facts.append(("training step", _text(meta.plan.training_step)))
    return RunEnvironment(
        run_id=run.run_id,
        facts=facts,
        key_packages=sorted(env.key_packages.items()),
        threads=_framework_settings(run),
        variables=sorted(env.environment_variables.items()),
        packages=sorted(env.packages.items()),
        warnings=mixed_gpu_warnings(run),
    )
