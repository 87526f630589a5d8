"""Profiles: model sizes (from each model's spec) plus how long to measure.

``quick`` fits a laptop CPU; ``full`` is the standard sizes, meant for a GPU.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

PROFILE_NAMES = ("quick", "full")

# Parity: max |y - y_ref| / max |y_ref| of the first output (logits in infer, the loss
# in train) against the float64 NumPy reference. Layout or gate-order bugs give errors
# of order 1; float32 kernels, reordered sums and compiler fusion stay below 1e-5 on
# the CPU; 1e-3 leaves room for GPU convolution algorithms without hiding a real bug.
PARITY_TOLERANCE = {"float32": 1e-3}

PRECISION_POLICY = {
    "float32": "float32 weights, activations and math; TF32 disabled in torch, JAX "
    "(default_matmul_precision='highest') and TensorFlow",
}


@dataclass(frozen=True)
class Settings:
    """How one cell is measured. Recorded in run.json; identical for every cell of a run."""

    profile: str
    warmup_steps: int  # at least this many warm-up steps after the first call...
    warmup_min_s: float  # ...and at least this long
    min_samples: int  # timed steps (each followed by the backend's sync): at least this many...
    min_time_s: float  # ...and at least this long...
    max_samples: int  # ...but never more than this many
    timeout_s: float  # per cell, from process start to result
    threads: int
    seed: int = 0  # params; the batch uses seed + 1
    parity_tolerance: float = PARITY_TOLERANCE["float32"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        return cls(**data)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_MEASUREMENT: dict[str, dict[str, Any]] = {
    "quick": dict(
        warmup_steps=5,
        warmup_min_s=0.5,
        min_samples=10,
        min_time_s=1.0,
        max_samples=500,
        timeout_s=600.0,
    ),
    "full": dict(
        warmup_steps=10,
        warmup_min_s=2.0,
        min_samples=30,
        min_time_s=5.0,
        max_samples=5000,
        timeout_s=1800.0,
    ),
}


def settings_for(profile: str, **overrides) -> Settings:
    if profile not in PROFILE_NAMES:
        raise ValueError(
            f"unknown profile {profile!r}; expected one of: {', '.join(PROFILE_NAMES)}"
        )
    base = Settings(profile=profile, threads=available_cores(), **_MEASUREMENT[profile])
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def describe(profile: str) -> str:
    m = _MEASUREMENT[profile]
    return (
        f"warm-up >= {m['warmup_steps']} steps and {m['warmup_min_s']} s; "
        f"samples >= {m['min_samples']} and {m['min_time_s']} s (max {m['max_samples']}); "
        f"timeout {m['timeout_s']:.0f} s per cell"
    )
