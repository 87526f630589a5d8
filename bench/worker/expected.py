"""The reference outputs of a block, from the float64 NumPy reference, in a process of its own.

(And, for a reduced precision, the same outputs from the cell's framework in float32
eager: the error a reader sets the precision's error beside.)

``python -m bench.worker.expected JOB.json OUT.npz``: JOB holds a cell and the seed; the cell's
scenario says which outputs its cells are checked against (bench.worker.scenarios). Computed
once per block in its own process, so the reference's float64 memory never counts
against a measured worker, and cached in the run directory for every cell of the block.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from bench.matrix.cells import Cell
from bench.worker import scenarios


def main(argv: list[str]) -> int:
    """``python -m bench.worker.expected JOB OUT``; with ``"eager32": true`` in JOB, the outputs of
    the cell's framework, eager, in float32 (run under the framework's interpreter); with
    ``"eager_loss_steps": K``, the loss of the cell's (eager) backend after the first call
    and K more training steps, on its device at its precision."""
    job = json.loads(Path(argv[0]).read_text())
    cell = Cell.from_dict(job["cell"])
    out = Path(argv[1])
    scenario = scenarios.get(cell.scenario)
    if job.get("eager_loss_steps") is not None:
        outputs = scenario.eager_loss(cell, job["seed"], job["eager_loss_steps"], job["threads"])
    elif job.get("eager32"):
        outputs = scenario.eager_float32(cell, job["seed"]) or {}
    else:
        outputs = scenario.reference(cell, job["seed"])
    tmp = out.with_name(f".{out.stem}.tmp.npz")
    np.savez(tmp, **outputs)  # type: ignore[arg-type]  # numpy's stub misreads **kwargs
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
