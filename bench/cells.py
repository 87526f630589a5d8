"""What is measured: a Cell (frozen) and the expansion of CLI choices into a matrix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import models
from bench import backends
from bench.profiles import PROFILE_NAMES

MODES = ("infer", "train")
DEVICES = ("cpu", "cuda")
PRECISIONS = ("float32",)


@dataclass(frozen=True)
class Cell:
    model: str
    backend: str
    mode: str
    device: str
    batch_size: int
    profile: str
    precision: str = "float32"
    scenario: str = "fixed"  # or "dynamic": a stream of varying sequence lengths
    strategy: str | None = None  # dynamic only: exact, dynamic or bucket (bench.streams)
    stream: str | None = None  # dynamic only: the name of the length distribution

    @property
    def framework(self) -> str:
        return backends.get(self.backend).framework

    def key(self) -> tuple:
        """Identity of a cell within and across runs (for resume and comparison)."""
        return (
            self.scenario,
            self.model,
            self.profile,
            self.backend,
            self.mode,
            self.device,
            self.batch_size,
            self.precision,
            self.strategy,
            self.stream,
        )

    def label(self) -> str:
        text = f"{self.model} {self.backend} {self.mode} {self.device} b{self.batch_size}"
        return text if self.scenario == "fixed" else f"{text} {self.stream} {self.strategy}"

    def to_dict(self) -> dict:
        return {**asdict(self), "framework": self.framework}

    @classmethod
    def from_dict(cls, data: dict) -> Cell:
        # Fields added after the first schema default to what the older files meant.
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def block_key(record: dict) -> tuple:
    """Cells that are compared with each other: a record's identity but its backend and
    strategy."""
    return (
        record["scenario"],
        record["model"],
        record["profile"],
        record["mode"],
        record["device"],
        record["batch_size"],
        record["precision"],
        record.get("stream"),
    )


def parse_names(option: str, text: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    """``a,b`` or ``all`` -> names, refusing unknown ones with the valid choices."""
    if text.strip() == "all":
        return valid
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise ValueError(
            f"{option} is empty; expected a comma-separated list of: {', '.join(valid)}"
        )
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(
            f"{option}: unknown {', '.join(map(repr, unknown))}; expected 'all' or a "
            f"comma-separated list of: {', '.join(valid)}"
        )
    return tuple(dict.fromkeys(names))


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(
                f"--batch-sizes: {part!r} is not a positive integer; expected e.g. '1,8,64'"
            )
        sizes.append(int(part))
    return tuple(dict.fromkeys(sizes))


def backends_for_device(device: str) -> tuple[str, ...]:
    return tuple(name for name, info in backends.BACKENDS.items() if device in info.devices)


def expand(
    model_names: tuple[str, ...],
    backend_names: tuple[str, ...],
    modes: tuple[str, ...],
    device: str,
    profile: str,
    batch_sizes: tuple[int, ...] | None = None,
    precision: str = "float32",
) -> list[Cell]:
    """The matrix, grouped so each model/mode/batch block runs its eager baselines first."""
    if device not in DEVICES:
        raise ValueError(f"--device: unknown {device!r}; expected one of: {', '.join(DEVICES)}")
    if profile not in PROFILE_NAMES:
        raise ValueError(
            f"--profile: unknown {profile!r}; expected one of: {', '.join(PROFILE_NAMES)}"
        )
    wrong_device = [b for b in backend_names if device not in backends.get(b).devices]
    if wrong_device:
        raise ValueError(
            f"--backends: {', '.join(wrong_device)} cannot run on {device}; backends for "
            f"{device}: {', '.join(backends_for_device(device))}"
        )
    ordered = sorted(
        backend_names, key=lambda b: (backends.get(b).static, list(backends.BACKENDS).index(b))
    )
    cells = []
    for model in model_names:
        sizes = batch_sizes or (models.spec(model).BATCH_SIZE[profile],)
        for mode in modes:
            for batch_size in sizes:
                for backend in ordered:
                    cells.append(Cell(model, backend, mode, device, batch_size, profile, precision))
    return cells


def dynamic_models() -> tuple[str, ...]:
    """Models with a sequence axis: the ones a stream of varying lengths applies to."""
    return tuple(m for m in models.MODEL_NAMES if models.is_sequence_model(m))


def expand_dynamic(
    model_names: tuple[str, ...],
    backend_names: tuple[str, ...],
    modes: tuple[str, ...] | None,
    device: str,
    profile: str,
    strategies: tuple[str, ...],
    streams: tuple[str, ...],
    batch_sizes: tuple[int, ...] | None = None,
    precision: str = "float32",
) -> list[Cell]:
    """The dynamic-shape matrix. ``modes`` None means each model's own (``STREAM_MODES``).

    Backend x strategy pairs that do not apply (an eager backend's or jax.jit's
    ``dynamic``) stay in the matrix: the runner records them as not applicable.
    """
    wrong_model = [m for m in model_names if not models.is_sequence_model(m)]
    if wrong_model:
        raise ValueError(
            f"--scenario dynamic: {', '.join(wrong_model)} has no sequence axis; models for "
            f"the dynamic scenario: {', '.join(dynamic_models())}"
        )
    fixed = expand(model_names, backend_names, MODES, device, profile, batch_sizes, precision)
    cells = []
    for model in model_names:
        model_modes = modes or models.spec(model).STREAM_MODES
        for mode in model_modes:
            for stream in streams:
                for cell in fixed:
                    if cell.model != model or cell.mode != mode:
                        continue
                    for strategy in strategies:
                        cells.append(
                            replace(cell, scenario="dynamic", strategy=strategy, stream=stream)
                        )
    return cells
