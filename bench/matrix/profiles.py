"""Profiles: model sizes (from each model's spec) plus how long to measure.

``quick`` fits a laptop CPU; ``full`` is the standard sizes, meant for a GPU.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bench.errors import SchemaError

PROFILE_NAMES = ("quick", "full")
# The shortest time a cell may be given: below it no worker can start (an interpreter and a
# framework take longer to load), so every cell would time out.
MIN_TIMEOUT_S = 1.0


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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "settings") -> Settings:
        """Settings as run.json stores them, validated (unknown keys of older runs ignored)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                if f.name == "seed":
                    continue
                raise SchemaError(f"{where}: missing field {f.name!r}")
            value = data[f.name]
            if f.name == "profile":
                if value not in PROFILE_NAMES:
                    raise SchemaError(
                        f"{where}: field 'profile': unknown {value!r:.40}; expected one of: "
                        f"{', '.join(PROFILE_NAMES)}"
                    )
            elif f.type in ("int", int):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise SchemaError(
                        f"{where}: field {f.name!r}: expected a non-negative integer, "
                        f"got {value!r:.40}"
                    )
            elif not (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
                and value >= 0
            ):
                raise SchemaError(
                    f"{where}: field {f.name!r}: expected a non-negative number, got {value!r:.40}"
                )
            values[f.name] = value
        if values["threads"] < 1:
            raise SchemaError(f"{where}: field 'threads': expected at least 1")
        if values["timeout_s"] < MIN_TIMEOUT_S:
            raise SchemaError(
                f"{where}: field 'timeout_s': expected at least {MIN_TIMEOUT_S:g} s, got "
                f"{values['timeout_s']!r:.40}"
            )
        return cls(**values)


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
        timeout_s=2400.0,
    ),
}


def settings_for(profile: str, **overrides: Any) -> Settings:
    base = Settings(profile=profile, threads=available_cores(), **_MEASUREMENT[profile])
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def describe(profile: str) -> str:
    m = _MEASUREMENT[profile]
    return (
        f"warm-up >= {m['warmup_steps']} steps and {m['warmup_min_s']} s; "
        f"samples >= {m['min_samples']} and {m['min_time_s']} s (max {m['max_samples']}); "
        f"timeout {m['timeout_s']:.0f} s per cell"
    )
