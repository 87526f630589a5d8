"""Seeded synthetic batches for the suites' models (NumPy only): images with class targets,
token ids with next-token targets. Nothing is read from a data set."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Batch = tuple[np.ndarray, np.ndarray]


def images(size: int, classes: int) -> Callable[[int, int], Batch]:
    """``make_batch`` of an image classifier: NCHW float32 images, one class per image."""

    def make_batch(batch_size: int, seed: int) -> Batch:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch_size, 3, size, size), dtype=np.float32)
        return x, rng.integers(0, classes, batch_size)

    return make_batch


def tokens(length: int, vocab: int, classes: int | None = None) -> Callable[[int, int], Batch]:
    """``make_batch`` of a language model: int32 token ids (batch, length) and a target per
    token (the logits' last axis is the vocabulary), or, with ``classes``, one class per
    sequence (a sequence classifier)."""

    def make_batch(batch_size: int, seed: int) -> Batch:
        rng = np.random.default_rng(seed)
        ids = rng.integers(0, vocab, (batch_size, length)).astype(np.int32)
        if classes is not None:
            return ids, rng.integers(0, classes, batch_size)
        return ids, rng.integers(0, vocab, (batch_size, length))

    return make_batch
