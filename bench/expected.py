"""The expected first output of a cell, from the float64 NumPy reference.

Logits for ``infer``; the mean cross-entropy loss for ``train`` (the first training
step returns the loss of the weights before its update). Computed once per
(model, profile, batch size, mode, seed) in a process of its own, so the reference's
float64 memory never counts against a measured worker, and cached in the run
directory for every backend of that block. A dynamic-shape cell gets the outputs of
the steps of its stream that it checks, on the unpadded batches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import models
from bench.dynamic import parity_steps
from bench.streams import STREAM_STEPS, STREAMS
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
    cfg, params, batch = inputs(model, profile, batch_size, seed)
    return reference_output(model, cfg, params, batch, mode)


def reference_output(model: str, cfg, params, batch, mode: str) -> np.ndarray:
    x, y = batch
    logits = models.reference(model).forward(cfg, params, x, train=(mode == "train"))
    if mode == "infer":
        return logits
    return np.asarray(cross_entropy(logits, y), dtype=np.float64)


def stream_file_name(
    model: str, profile: str, batch_size: int, mode: str, stream: str, seed: int
) -> str:
    return f"{model}-{profile}-b{batch_size}-{mode}-{stream}-seed{seed}.npz"


def stream_inputs(model: str, profile: str, batch_size: int, stream: str, seed: int):
    """(cfg, params, unpadded batches, lengths) of a dynamic-shape stream.

    The config is the profile's, widened to serve the stream's longest sequence; step i's
    batch has its own seed, so no two steps see the same data.
    """
    spec = models.spec(model)
    lengths_of = STREAMS[stream]
    cfg = spec.stream_config(spec.PROFILES[profile], lengths_of.max_len)
    params = spec.init_params(cfg, seed)
    lengths = lengths_of.lengths(STREAM_STEPS[profile], seed)
    batches = [
        spec.make_batch(cfg, batch_size, seed + 1 + i, length=int(n)) for i, n in enumerate(lengths)
    ]
    return cfg, params, batches, lengths


def compute_stream(
    model: str, profile: str, batch_size: int, mode: str, stream: str, seed: int
) -> dict[str, np.ndarray]:
    """Reference outputs of the steps a dynamic cell checks, keyed ``step<i>``."""
    cfg, params, batches, lengths = stream_inputs(model, profile, batch_size, stream, seed)
    return {
        f"step{i}": reference_output(model, cfg, params, batches[i], mode)
        for i in parity_steps(len(lengths), mode)
    }


def main(argv: list[str]) -> int:
    """``python -m bench.expected JOB.json OUT``.

    JOB holds model, profile, batch_size, mode, seed and, for a dynamic cell, stream
    (then OUT is an .npz of the checked steps' outputs; else an .npy).
    """
    job = json.loads(Path(argv[0]).read_text())
    out = Path(argv[1])
    key = (job["model"], job["profile"], job["batch_size"], job["mode"])
    if job.get("stream"):
        tmp = out.with_suffix(".tmp.npz")
        outputs = compute_stream(*key, job["stream"], job["seed"])
        np.savez(tmp, **outputs)  # type: ignore[arg-type]  # numpy's stub misreads **kwargs
    else:
        tmp = out.with_suffix(".tmp.npy")
        np.save(tmp, compute(*key, job["seed"]))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
