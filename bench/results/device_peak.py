"""run.json's ``device_peak``: how it was measured (bench.worker.peak, combined by
bench.parent.peaks), and how it reads in words (the summary, the report)."""

from __future__ import annotations

from typing import Any

STATISTIC = (
    "best: the shortest time per operation of the timed repetitions (a peak is a maximum; "
    "a disturbance only slows a repetition down)"
)


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _object(value: Any) -> dict:
    """``value`` where it is a JSON object, else an empty one (a stored run is read as is)."""
    return value if isinstance(value, dict) else {}


def _who(peak: dict[str, Any], framework: str) -> str:
    """``torch 2.13.0+cpu``, ``jax 0.10.2, jaxlib 0.10.2, ...``: who measured."""
    entry = _object(_object(peak.get("frameworks")).get(framework))
    version = str(entry.get("framework_version", ""))
    return version if version.startswith(framework) else f"{framework} {version}"


def describe(peak: dict[str, Any] | None, precision: str | None = None) -> str:
    """How a peak was measured, in words: ``cpu: bf16: 985 GFLOP/s (torch 2.13.0 matmul
    1024×1024 bfloat16, best of 10)`` (of one precision, or every one with the copy)."""
    if not isinstance(peak, dict):
        return "no peak measured"
    if peak.get("problem"):
        return f"no peak: {peak['problem']}"
    flops = _object(peak.get("flops_per_s"))
    parts = []
    for p in [precision] if precision else list(flops):
        bound = _object(_object(peak.get("bound_by")).get(p))
        framework, mode = str(bound.get("framework", "")), str(bound.get("matmul", ""))
        measured = _object(_object(_object(peak.get("frameworks")).get(framework)).get("matmul"))
        m = measured.get(mode)
        if not isinstance(m, dict) or p not in flops:
            parts.append(f"{p}: not measured")
            continue
        tf32 = ", TF32" if m.get("tf32") else ""
        parts.append(
            f"{p}: {_si(flops[p], 'FLOP/s')} ({_who(peak, framework)} matmul "
            f"{m.get('n')}×{m.get('n')} {m.get('dtype')}{tf32}, best of {m.get('repetitions')})"
        )
    memory = peak.get("memory")
    if precision is None and isinstance(memory, dict) and memory.get("bytes_per_s"):
        who = _who(peak, str(memory.get("framework", "")))
        parts.append(
            f"memory: {_si(memory['bytes_per_s'], 'B/s')} ({who} "
            f"copy of {memory.get('bytes', 0) / 2**20:,.0f} MiB, read + write, best of "
            f"{memory.get('repetitions')})"
        )
    frameworks = _object(peak.get("frameworks")).values()
    gpus = {str(m["gpu"]) for m in frameworks if isinstance(m, dict) and m.get("gpu")}
    where = f" on {', '.join(sorted(gpus))}" if gpus else ""
    return f"{peak.get('device', '?')}{where}: " + "; ".join(parts)
