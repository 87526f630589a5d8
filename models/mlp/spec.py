"""MLP: a stack of fully connected layers with ReLU between them.

Canonical params: ``fc{i}.weight`` (in, out) and ``fc{i}.bias`` (out,), i = 1..L.
Inputs: float32 (B, in_features); targets: int32 class ids (B,).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from models.common.spec import step_flops, uniform


@dataclass(frozen=True)
class Config:
    in_features: int = 784
    hidden: tuple[int, ...] = (1024, 1024)
    classes: int = 10

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.in_features, *self.hidden, self.classes)


PROFILES = {
    "quick": Config(),
    # Wide enough that one layer is a real GEMM on a data-centre GPU.
    "full": Config(hidden=(8192, 8192)),
}
BATCH_SIZE = {"quick": 128, "full": 2048}
# What building its step costs, as a multiple of bench/cost.py's BUILD_S, per profile: part of
# the expected cost that orders and shards a run, never a result.
COST_FACTOR = {"quick": 0.5, "full": 1.0}


def describe(cfg: Config) -> str:
    return " -> ".join(str(w) for w in cfg.widths) + ", ReLU"


def init_params(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(pairwise(cfg.widths), start=1):
        params[f"fc{i}.weight"] = uniform(rng, (fan_in, fan_out), fan_in)
        params[f"fc{i}.bias"] = uniform(rng, (fan_out,), fan_in)
    return params


def make_batch(cfg: Config, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, cfg.in_features)).astype(np.float32)
    y = rng.integers(0, cfg.classes, size=batch_size).astype(np.int32)
    return x, y


def flops_per_step(cfg: Config, batch_size: int, mode: str) -> int:
    forward = sum(2 * batch_size * a * b for a, b in pairwise(cfg.widths))
    return step_flops(forward, mode)


# No non-trainable state, no sequence axis (the stream scenario does not apply).
def buffers(cfg: Config) -> list[str]:
    return []


STREAM_MODES: tuple[str, ...] = ()
