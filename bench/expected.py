"""The expected first output of a cell, from the float64 NumPy reference.

Logits for ``infer``; the mean cross-entropy loss for ``train`` (the first training
step returns the loss of the weights before its update). Computed once per
(model, profile, batch size, mode, seed) in a process of its own, so the reference's
float64 memory never counts against a measured worker, and cached in the run
directory for every backend of that block.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import models
from models.common.reference import cross_entropy

EXPECTED_DIR = "expected"


def file_name(model: str, profile: str, batch_size: int, mode: str, seed: int) -> str:
    return f"{model}-{profile}-b{batch_size}-{mode}-seed{seed}.npy"


def inputs(model: str, profile: str, batch_size: int, seed: int):
    """(cfg, params, batch): what every backend and the reference start from."""
    spec = models.spec(model)
    cfg = spec.PROFILES[profile]
    params = spec.init_params(cfg, seed)
    batch = spec.make_batch(cfg, batch_size, seed + 1)
    return cfg, params, batch


def compute(model: str, profile: str, batch_size: int, mode: str, seed: int) -> np.ndarray:
    cfg, params, (x, y) = inputs(model, profile, batch_size, seed)
    logits = models.reference(model).forward(cfg, params, x, train=(mode == "train"))
    if mode == "infer":
        return logits
    return np.asarray(cross_entropy(logits, y), dtype=np.float64)


def main(argv: list[str]) -> int:
    """``python -m bench.expected JOB.json OUT.npy``.

    JOB holds model, profile, batch_size, mode and seed.
    """
    job = json.loads(Path(argv[0]).read_text())
    out = Path(argv[1])
    value = compute(job["model"], job["profile"], job["batch_size"], job["mode"], job["seed"])
    tmp = out.with_suffix(".tmp.npy")
    np.save(tmp, value)
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
