"""Graph capture of jax.jit, from JAX's own facilities.

``jax_explain_cache_misses`` (the reason of each tracing-cache miss, logged), the jitted
function's cache size (one entry per compiled signature), and ``jax.monitoring``'s events:
the durations of tracing, lowering to MLIR and XLA compilation (the same events
``jax_log_compiles`` reports) and the persistent compilation cache's hits and misses.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

import jax
from jax import monitoring

from bench.backends.base import Diagnosis

PHASE_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "XLA compile",
}
CACHE_EVENTS = {
    "/jax/compilation_cache/cache_hits": "persistent_cache_hits",
    "/jax/compilation_cache/cache_misses": "persistent_cache_misses",
}
_MISS = "TRACING CACHE MISS"
_FIRST = "never seen function"
_ID = re.compile(r" id=\d+")


def miss_reason(message: str) -> str:
    """A cache-miss explanation in one line, without its 'at file:line' header, nor the
    function object's id (a different number in every process: two runs would differ)."""
    lines = [line.strip() for line in message.splitlines()[1:] if line.strip()]
    return _ID.sub("", " ".join(lines) or message.strip())


class _Misses(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(_MISS):
            self.messages.append(message)


class JitDiagnosis(Diagnosis):
    tool = "jax_explain_cache_misses, jax.monitoring compile events, jit cache size"

    def __init__(self, jitted: Any, function_name: str):
        self.jitted = jitted
        self.function_name = function_name

    def __enter__(self) -> JitDiagnosis:
        self.durations: list[tuple[str, float]] = []
        self.events: Counter[str] = Counter()
        monitoring.register_event_duration_secs_listener(self._duration)
        monitoring.register_event_listener(self._event)
        jax.config.update("jax_explain_cache_misses", True)
        self.handler = _Misses()
        self.logger = logging.getLogger("jax")
        self.logger.addHandler(self.handler)
        self.read = 0
        return self

    def __exit__(self, *exc: object) -> None:
        jax.config.update("jax_explain_cache_misses", False)
        self.logger.removeHandler(self.handler)
        monitoring.unregister_event_duration_listener(self._duration)
        monitoring.unregister_event_listener(self._event)

    def _duration(self, event: str, duration_secs: float, **kwargs: str | int) -> None:
        if event in PHASE_EVENTS:
            self.durations.append((PHASE_EVENTS[event], float(duration_secs)))

    def _event(self, event: str, **kwargs: Any) -> None:
        if event in CACHE_EVENTS:
            self.events[CACHE_EVENTS[event]] += 1

    def phases(self) -> dict[str, float]:
        """Every function JAX traced, lowered and compiled so far (the step, and the small
        jitted conversions that moving its inputs may need)."""
        out = dict.fromkeys(PHASE_EVENTS.values(), 0.0)
        for phase, seconds in self.durations:
            out[phase] += seconds
        return out

    def _step_misses(self) -> list[str]:
        """The cache misses of the step's own function (not JAX's internal jits)."""
        name = self.function_name
        return [
            m
            for m in self.handler.messages
            if f"for {name} defined" in m or f"{_FIRST}:\n    {name} " in m or f" {name} id=" in m
        ]

    def new_compilations(self) -> list[str]:
        misses = self._step_misses()
        new = misses[self.read :]
        self.read = len(misses)
        return [miss_reason(m) for m in new]

    def report(self) -> dict[str, Any]:
        misses = [miss_reason(m) for m in self._step_misses()]
        again = Counter(m for m in misses if not m.startswith(_FIRST))
        compiled = int(self.jitted._cache_size())
        return {
            "graphs": compiled,
            # jax.jit traces the whole function or fails: there is no partial graph.
            "graph_breaks": 0,
            "recompilations": max(0, compiled - 1),
            "recompile_reasons": [{"reason": r, "count": n} for r, n in sorted(again.items())],
            "fallbacks": [],  # nothing of a jitted step runs outside its computation
            "cache_counters": dict(sorted(self.events.items())),
        }
