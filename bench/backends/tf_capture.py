"""Graph capture of tf.function (and XLA), from TensorFlow's own facilities.

The function's tracing count (``experimental_get_tracing_count``), its concrete functions'
input signatures (a retrace's cause is the argument whose signature differs from the
closest earlier trace's), TensorFlow's retracing and AutoGraph warnings (logged), and the
first call split into tracing the concrete function and its first execution (where XLA
compiles, for jit_compile=True).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from bench.backends.base import Diagnosis

_AUTOGRAPH = "AutoGraph could not transform"


def _specs(concrete: Any) -> list[tuple[str, str]]:
    """(argument, "shape dtype") of a concrete function's tensor inputs, in order."""
    out = []
    args, kwargs = concrete.structured_input_signature
    flat = [*args, *kwargs.values()]
    for i, spec in enumerate(tf.nest.flatten(flat)):
        if isinstance(spec, tf.TensorSpec):
            name = spec.name or f"argument {i}"
            out.append((name, f"{tuple(spec.shape.as_list())} {spec.dtype.name}"))
    return out


def retrace_cause(new: list[tuple[str, str]], earlier: list[list[tuple[str, str]]]) -> str:
    """The arguments whose signature differs from the closest earlier trace's."""
    if not earlier:
        return "first trace"

    def differences(old: list[tuple[str, str]]) -> list[str]:
        if len(old) != len(new):
            return [f"{len(new)} tensor arguments, before {len(old)}"]
        return [f"{n}: {s}, before {o}" for (n, s), (_, o) in zip(new, old, strict=True) if s != o]

    closest = min((differences(old) for old in earlier), key=len)
    return "retraced: " + ("; ".join(closest) or "a non-tensor argument changed")


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class FunctionDiagnosis(Diagnosis):
    tool = "tf.function experimental_get_tracing_count, concrete function signatures"

    def __init__(self, function: Any, args_of: Callable[[Any], tuple], device: str):
        self.function = function
        self.args_of = args_of  # the step's inputs -> the function's arguments
        self.device = device

    def __enter__(self) -> FunctionDiagnosis:
        self.handler = _Warnings()
        self.logger = tf.get_logger()
        self.logger.addHandler(self.handler)
        self.seen: list[list[tuple[str, str]]] = []
        self.traced_s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)

    def first_call(self, run: Callable[[], None], inputs: Any) -> dict[str, float]:
        """Trace the concrete function the step will call, then the step: it finds the trace
        and executes it (XLA compiles it here, for jit_compile=True)."""
        start = time.perf_counter()
        with tf.device(self.device):
            self.function.get_concrete_function(*self.args_of(inputs))
        traced = time.perf_counter() - start
        start = time.perf_counter()
        run()
        executed = time.perf_counter() - start
        return {"tracing (concrete function)": traced, "first execution": executed}

    def _concrete(self) -> list[list[tuple[str, str]]]:
        return [_specs(c) for c in self.function._list_all_concrete_functions()]

    def new_compilations(self) -> list[str]:
        reasons = []
        for specs in self._concrete():
            if specs not in self.seen:
                reasons.append(retrace_cause(specs, self.seen))
                self.seen.append(specs)
        return reasons

    def report(self) -> dict[str, Any]:
        self.new_compilations()
        traces = int(self.function.experimental_get_tracing_count())
        causes = Counter(
            retrace_cause(specs, self.seen[:i]) for i, specs in enumerate(self.seen) if i
        )
        return {
            "graphs": traces,
            # tf.function converts the whole step (AutoGraph) or fails: no partial graph.
            "graph_breaks": 0,
            "recompilations": max(0, traces - 1),
            "recompile_reasons": [{"reason": r, "count": n} for r, n in sorted(causes.items())],
            "fallbacks": sorted(
                {m.splitlines()[0] for m in self.handler.messages if _AUTOGRAPH in m}
            ),
        }
