"""The stream scenario's matrix: the sequence models, per stream and strategy.

(``--scenario stream``; ``dynamic`` is accepted as its old name.) Each backend is fed a
seeded stream of batches whose length changes from step to step, with one of three
strategies (bench.matrix.streams). Its measurement (two passes over the stream) is
bench.worker.scenarios.stream.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import models
from bench import backends
from bench.errors import UsageError
from bench.matrix.cells import Cell
from bench.matrix.scenarios.base import MatrixRequest, Scenario, block_cells
from bench.matrix.streams import STRATEGIES, STRATEGY_HELP, STREAM_STEPS, STREAMS


class ShapeStream(Scenario):
    name = "stream"
    aliases = ("dynamic",)
    title = "a stream of varying sequence lengths"
    options: ClassVar[dict[str, tuple[tuple[str, ...], str]]] = {
        "strategies": (STRATEGIES, "how each backend is fed the stream (default: all)"),
        "streams": (tuple(STREAMS), "the length distributions (default: all)"),
    }

    def models(self) -> tuple[str, ...]:
        return tuple(m for m in models.MODEL_NAMES if models.is_sequence_model(m))

    def modes(self, model: str) -> tuple[str, ...]:
        return models.stream_modes(model)

    def expand(self, request: MatrixRequest) -> list[Cell]:
        """Backend x strategy pairs that do not apply (an eager backend's or jax.jit's
        ``dynamic``) stay in the matrix: the runner records them as not applicable."""
        names = request.models or self.models()
        wrong = [m for m in names if not models.is_sequence_model(m)]
        if wrong:
            raise UsageError(
                f"--scenario stream: {', '.join(wrong)} has no sequence axis; models for "
                f"the stream scenario: {', '.join(self.models())}"
            )
        strategies = request.options.get("strategies") or STRATEGIES
        streams = request.options.get("streams") or tuple(STREAMS)
        cells = []
        for model in names:
            for mode in request.modes or self.modes(model):
                for stream in streams:
                    for cell in block_cells(request, model, (mode,)):
                        cells += [
                            replace(cell, scenario=self.name, strategy=s, stream=stream)
                            for s in strategies
                        ]
        return cells

    def not_applicable(self, cell: Cell) -> str | None:
        if backends.get(cell.backend).artifact:
            return (
                f"{cell.backend} builds an artefact per cell: the stream scenario has no "
                "artefact phase (its lengths would each need one, or a dynamic sequence dimension)"
            )
        if cell.strategy == "dynamic":
            return backends.get(cell.backend).dynamic_not_applicable()
        return None

    def describe_run(self, profile: str) -> dict[str, Any]:
        return {
            "streams": {
                name: {"description": s.description, "n_steps": STREAM_STEPS[profile]}
                for name, s in STREAMS.items()
            },
            "strategies": dict(STRATEGY_HELP),
            "buckets": "powers of two from the stream's shortest to its longest length",
        }

    def reference_name(self, cell: Cell, seed: int) -> str:
        key = f"{cell.model_in_path}-{cell.profile}-b{cell.batch_size}-{cell.mode}"
        return f"{key}-{cell.stream}-seed{seed}.npz"


SCENARIO = ShapeStream()
