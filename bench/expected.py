"""The reference outputs of a block, from the float64 NumPy reference, in a process of its own.

``python -m bench.expected JOB.json OUT.npz``: JOB holds a cell and the seed; the cell's
scenario says which outputs its cells are checked against (bench.scenarios). Computed
once per block in its own process, so the reference's float64 memory never counts
against a measured worker, and cached in the run directory for every cell of the block.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from bench import scenarios
from bench.cells import Cell

EXPECTED_DIR = "expected"


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    cell = Cell.from_dict(job["cell"])
    out = Path(argv[1])
    outputs = scenarios.get(cell.scenario).reference(cell, job["seed"])
    tmp = out.with_name(f".{out.stem}.tmp.npz")
    np.savez(tmp, **outputs)  # type: ignore[arg-type]  # numpy's stub misreads **kwargs
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
