"""Graph capture of torch.compile and TorchScript, from PyTorch's own facilities.

torch.compile: Dynamo's counters (``unique_graphs``, ``graph_break``; Inductor's fallbacks
and ``cudagraph_skips``), its graph-break and recompilation logs
(``TORCH_LOGS=graph_breaks,recompiles``: each break with the user source line it happened
at, each recompilation with the guard that failed) and its compilation metrics (compile
time by phase, Inductor FX-graph and AOTAutograd cache hits and misses, the reason a
graph was not recorded as a CUDA graph).
TorchScript: the node kinds of the profiling executor's last optimised graph.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

import torch
from torch._dynamo.utils import (
    clear_compilation_metrics,
    counters,
    get_compilation_metrics,
    set_compilation_metrics_limit,
)

from bench.backends.base import Diagnosis

_BREAK_AT = re.compile(r"in user code at (?P<where>\S+:\d+)")
_PREAMBLE = "Encountered graph break when attempting to trace"
_RECOMPILING = re.compile(r"Recompiling function (?P<function>\S+) in (?P<where>\S+)")
US = 1e-6
METRICS_LIMIT = 100_000


def first_reason_line(text: str) -> str:
    """The reason's first line (Dynamo's message opens with it: 'Data-dependent branching')."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_PREAMBLE)]
    return lines[0] if lines else text.strip()


def graph_break_of(message: str) -> tuple[str, str] | None:
    """(reason, file:line) of one graph_breaks log record, None for another record."""
    found = _BREAK_AT.search(message)
    if not found or "Graph Break Reason:" not in message:
        return None
    reason = message.split("Graph Break Reason:", 1)[1]
    reason = reason.split("User code traceback:", 1)[0]
    return first_reason_line(reason), found["where"]


def recompile_of(message: str) -> str | None:
    """'step (file:line): 0/0: tensor 'x' size mismatch at index 0. expected 5, actual 6'."""
    found = _RECOMPILING.search(message)
    if not found:
        return None
    guards = [
        line.strip().removeprefix("- ")
        for line in message.splitlines()
        if line.strip().startswith("- ")
    ]
    return f"{found['function']} ({found['where']}): " + "; ".join(guards)


class _Records(logging.Handler):
    """Keeps the messages of Dynamo's graph_breaks and recompiles log artefacts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.endswith(("__graph_breaks", "__recompiles")):
            self.messages.append(record.getMessage())


def _us(metric: Any, name: str) -> float:
    return float(getattr(metric, name, None) or 0) * US


def compile_phases(metrics: list[Any]) -> dict[str, float]:
    """Compile seconds by phase from Dynamo's compilation metrics. Each figure nests in the
    one before it (Dynamo's frame compile holds AOTAutograd's, which holds Inductor's, which
    holds its code generation, which waits for the kernels' C++/Triton compilation), so each
    phase is its figure less the next; a backward graph is compiled at the first backward()."""
    phases = dict.fromkeys(
        (
            "Dynamo tracing",
            "AOTAutograd",
            "Inductor lowering",
            "Inductor code generation",
            "kernel compilation (C++/Triton)",
        ),
        0.0,
    )
    for m in metrics:
        frame = _us(m, "dynamo_cumulative_compile_time_us")
        aot = _us(m, "aot_autograd_cumulative_compile_time_us") or _us(
            m, "backward_cumulative_compile_time_us"
        )
        inductor = _us(m, "inductor_cumulative_compile_time_us")
        codegen = _us(m, "inductor_code_gen_cumulative_compile_time_us")
        kernels = _us(m, "triton_compile_time_us")
        phases["Dynamo tracing"] += max(0.0, frame - aot)
        phases["AOTAutograd"] += max(0.0, aot - inductor)
        phases["Inductor lowering"] += max(0.0, inductor - codegen)
        phases["Inductor code generation"] += max(0.0, codegen - kernels)
        phases["kernel compilation (C++/Triton)"] += kernels
    return phases


def cache_counters(metrics: list[Any]) -> dict[str, int]:
    """Inductor FX-graph and AOTAutograd cache hits and misses, local and remote."""
    out: Counter[str] = Counter()
    for m in metrics:
        for cache in ("inductor_fx", "aotautograd"):
            for where in ("local", "remote"):
                for kind in ("hit", "miss"):
                    name = f"{cache}_{where}_cache_{kind}_count"
                    out[name] += int(getattr(m, name, None) or 0)
    return dict(out)


class DynamoDiagnosis(Diagnosis):
    tool = (
        "torch._dynamo counters, TORCH_LOGS=graph_breaks,recompiles, "
        "torch._dynamo.utils.get_compilation_metrics()"
    )

    def __init__(self, cuda_graphs: bool = False):
        self.cuda_graphs = cuda_graphs  # report CUDA-graph skips (a CUDA-graph mode on CUDA)

    def __enter__(self) -> DynamoDiagnosis:
        # Only what happens from here (a test process may have compiled before), and every
        # frame of a long stream (Dynamo keeps the last 64 by default).
        counters.clear()
        clear_compilation_metrics()
        set_compilation_metrics_limit(METRICS_LIMIT)
        self.handler = _Records()
        self.logger = logging.getLogger("torch._dynamo")
        self.logger.addHandler(self.handler)
        torch._logging.set_logs(graph_breaks=True, recompiles=True)
        self.read = 0  # messages already returned by new_compilations
        self.frames_seen = 0  # compilation metrics already returned
        return self

    def __exit__(self, *exc: object) -> None:
        torch._logging.set_logs()
        self.logger.removeHandler(self.handler)

    def phases(self) -> dict[str, float]:
        return compile_phases(list(get_compilation_metrics()))

    def new_compilations(self) -> list[str]:
        """One reason per frame Dynamo compiled since the last call: the guard that failed
        for a recompilation, 'first compilation of <function>' otherwise."""
        metrics = [m for m in get_compilation_metrics() if getattr(m, "co_name", None)]
        new = metrics[self.frames_seen :]
        self.frames_seen = len(metrics)
        reasons = []
        for m in new:
            why = getattr(m, "recompile_reason", None)
            reasons.append(str(why) if why else f"first compilation of {m.co_name}")
        return reasons

    def report(self) -> dict[str, Any]:
        breaks: Counter[tuple[str, str]] = Counter()
        recompiles: Counter[str] = Counter()
        for message in self.handler.messages:
            found = graph_break_of(message)
            if found is not None:
                breaks[found] += 0  # the count is Dynamo's own (below), not the log's
            reason = recompile_of(message)
            if reason is not None:
                recompiles[reason] += 1
        # Dynamo logs a break again when it restarts the frame's analysis: its counter
        # ``graph_break`` counts each break once per compiled frame, by reason.
        by_reason: Counter[str] = Counter()
        for text, n in counters["graph_break"].items():
            by_reason[first_reason_line(text)] += int(n)
        reasons = []
        for (reason, where), _ in breaks.items():
            reasons.append({"reason": reason, "where": where, "count": by_reason.get(reason, 0)})
        for reason, n in by_reason.items():  # a break the log did not place: reason only
            if not any(r["reason"] == reason for r in reasons):
                reasons.append({"reason": reason, "where": "", "count": n})
        metrics = list(get_compilation_metrics())
        skips: dict[str, Any] = {}
        if self.cuda_graphs:  # Inductor's count, and the reason it gives per compiled graph
            skips["cuda_graph_skips"] = int(counters["inductor"]["cudagraph_skips"])
            skips["cuda_graph_skip_reasons"] = sorted(
                {
                    str(m.cudagraph_skip_reason)
                    for m in metrics
                    if getattr(m, "cudagraph_skip_reason", None)
                }
            )
        return {
            **skips,
            "graphs": int(counters["stats"]["unique_graphs"]),
            "graph_breaks": int(sum(by_reason.values())),
            "break_reasons": sorted(reasons, key=lambda r: (-r["count"], r["where"])),
            "recompilations": int(sum(recompiles.values())),
            "recompile_reasons": [{"reason": r, "count": n} for r, n in sorted(recompiles.items())],
            "fallbacks": sorted(
                f"{name} x{n}" for name, n in counters["inductor"].items() if "fallback" in name
            ),
            "cache_counters": cache_counters(metrics),
        }


class TorchScriptDiagnosis(Diagnosis):
    tool = "torch.jit.last_executed_optimized_graph()"

    def __init__(self, scripted: Any):
        self.scripted = scripted

    def report(self) -> dict[str, Any]:
        """The scripted module is one graph; the profiling executor's optimised graph says
        which parts it fused, and which it keeps for a fallback (shapes it did not see)."""
        graph = torch.jit.last_executed_optimized_graph()
        kinds = Counter(node.kind() for node in graph.nodes())
        notable = ("FallbackGraph", "FusionGroup", "TensorExprGroup", "DifferentiableGraph")
        groups = sorted(f"{k} x{n}" for k, n in kinds.items() if k.split("::")[-1] in notable)
        return {
            "graphs": 1,
            "graph_breaks": 0,
            "fallbacks": groups,
        }
