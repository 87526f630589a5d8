"""EarlyExit: an MLP that stops after its first layer when that layer's head is confident.

The model that breaks a static graph on purpose (docs/graph-capture.md): its forward pass
branches on data, the mean over the batch of the exit head's top softmax probability. The
exit returns the exit head's logits; otherwise a second layer runs and its head's logits
are added to the exit head's (every weight then takes part in the deep path, so a training
step updates them all). Eager code branches in Python; torch.compile breaks the graph at
the ``if``; jax.jit needs ``lax.cond``; tf.function converts the ``if`` with AutoGraph.

Canonical params: ``fc1`` (in, hidden), ``exit`` (hidden, classes), ``fc2`` (hidden,
hidden), ``head`` (hidden, classes), each ``.weight`` (in, out) and ``.bias`` (out,).
Inputs: float32 (B, in_features); targets: int32 class ids (B,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.common.spec import step_flops, uniform


@dataclass(frozen=True)
class Config:
    in_features: int = 784
    hidden: int = 256
    classes: int = 10
    # Exit when the batch's mean top probability exceeds this. Freshly initialised weights
    # are far from confident (about 1/classes), so a seeded batch takes the deep path in
    # every framework: parity compares the same branch.
    threshold: float = 0.9


PROFILES = {"quick": Config(), "full": Config(hidden=4096)}
BATCH_SIZE = {"quick": 128, "full": 2048}
# What building its step costs, as a multiple of bench/matrix/cost.py's BUILD_S: as mlp's.
COST_FACTOR = {"quick": 0.5, "full": 1.0}
LAYERS = {"fc1": ("in_features", "hidden"), "exit": ("hidden", "classes")}
LAYERS |= {"fc2": ("hidden", "hidden"), "head": ("hidden", "classes")}


def shapes(cfg: Config) -> dict[str, tuple[int, int]]:
    return {name: (getattr(cfg, a), getattr(cfg, b)) for name, (a, b) in LAYERS.items()}


def describe(cfg: Config) -> str:
    return (
        f"{cfg.in_features} -> {cfg.hidden} -> exit head if confident (> {cfg.threshold}), "
        f"else -> {cfg.hidden} -> head + exit head"
    )


def init_params(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for name, (fan_in, fan_out) in shapes(cfg).items():
        params[f"{name}.weight"] = uniform(rng, (fan_in, fan_out), fan_in)
        params[f"{name}.bias"] = uniform(rng, (fan_out,), fan_in)
    return params


def make_batch(cfg: Config, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, cfg.in_features)).astype(np.float32)
    y = rng.integers(0, cfg.classes, size=batch_size).astype(np.int32)
    return x, y


def flops_per_step(cfg: Config, batch_size: int, mode: str) -> int:
    """The deep path, which a freshly initialised model takes."""
    forward = sum(2 * batch_size * a * b for a, b in shapes(cfg).values())
    return step_flops(forward, mode)


def buffers(cfg: Config) -> list[str]:
    return []


STREAM_MODES: tuple[str, ...] = ()
