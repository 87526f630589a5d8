"""The fixed-shape scenario's matrix: one batch shape per block.

Its measurement (build, first call, parity, warm-up, samples, throughput; a warm worker
for a backend whose compilation persists) is bench.worker.scenarios.fixed.
"""

from __future__ import annotations

from bench.matrix.cells import Cell
from bench.matrix.scenarios.base import MatrixRequest, Scenario, block_cells


class FixedShapes(Scenario):
    name = "fixed"
    title = "fixed shapes"
    warm_start = True
    compares_eager_float32 = True
    checks_eager_loss = True

    def expand(self, request: MatrixRequest) -> list[Cell]:
        cells = []
        for model in request.models or self.models():
            cells += block_cells(request, model, request.modes or self.modes(model))
        return cells

    def reference_name(self, cell: Cell, seed: int) -> str:
        return f"{cell.model_in_path}-{cell.profile}-b{cell.batch_size}-{cell.mode}-seed{seed}.npz"


SCENARIO = FixedShapes()
