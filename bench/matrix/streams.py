"""Streams of varying sequence lengths, and bucketing: the dynamic-shape scenario's input.

A stream is a seeded sequence of lengths, one per step: every backend sees the same
stream. NumPy only (the parent and the reference use it too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STRATEGIES = ("exact", "dynamic", "bucket")
STRATEGY_HELP = {
    "exact": "each batch at its own length (a static backend compiles each new shape)",
    "dynamic": "the backend's own dynamic-shape support (torch.compile(dynamic=True), "
    "TorchScript's dynamic fusion, tf.function(reduce_retracing=True))",
    "bucket": "right-padded to the next power of two with a length mask",
}


@dataclass(frozen=True)
class Stream:
    name: str
    description: str
    min_len: int
    max_len: int

    def lengths(self, n_steps: int, seed: int) -> np.ndarray:
        """The length of each step's batch: deterministic for (stream, n_steps, seed)."""
        rng = np.random.default_rng([seed, _stable_hash(self.name)])
        if self.name == "uniform":
            drawn = rng.integers(self.min_len, self.max_len + 1, size=n_steps)
        elif self.name == "skewed":
            # Request lengths in a real service: most short, a long tail.
            drawn = np.rint(np.exp(rng.normal(math.log(48), 0.75, size=n_steps)))
        else:
            raise ValueError(f"unknown stream {self.name!r}")
        return np.clip(drawn, self.min_len, self.max_len).astype(np.int64)


STREAMS: dict[str, Stream] = {
    s.name: s
    for s in (
        Stream("uniform", "lengths uniform on 16..256", 16, 256),
        Stream("skewed", "log-normal lengths (median 48, sigma 0.75) clipped to 16..256", 16, 256),
    )
}

# Steps per stream for each profile.
STREAM_STEPS = {"quick": 64, "full": 256}


def _stable_hash(text: str) -> int:
    """A seed component from a name that, unlike hash(), is the same in every process."""
    return int.from_bytes(text.encode(), "little") % (2**32)


def bucket_edges(min_len: int, max_len: int) -> list[int]:
    """Powers of two from the first >= min_len up to the first >= max_len."""
    edge = 1 << max(0, math.ceil(math.log2(min_len)))
    edges = [edge]
    while edges[-1] < max_len:
        edges.append(edges[-1] * 2)
    return edges


def padded_length(length: int, strategy: str, edges: list[int]) -> int:
    """The length a batch is fed at: its own, or its bucket's."""
    if strategy != "bucket":
        return length
    for edge in edges:
        if length <= edge:
            return edge
    raise ValueError(f"length {length} is beyond the largest bucket {edges[-1]}")


def pad_right(a: np.ndarray, length: int, axis: int = 1, value: int = 0) -> np.ndarray:
    """``a`` right-padded with ``value`` to ``length`` along ``axis``."""
    missing = length - a.shape[axis]
    if missing < 0:
        raise ValueError(f"cannot pad an axis of {a.shape[axis]} down to {length}")
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, missing)
    return np.pad(a, widths, constant_values=value)


def padding_waste(lengths: np.ndarray, padded: np.ndarray) -> float:
    """Fraction of the positions fed that are padding."""
    return float(1.0 - lengths.sum() / padded.sum())
