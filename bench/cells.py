"""What is measured: a Cell (frozen) and the expansion of CLI choices into a matrix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

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
    scenario: str = "fixed"

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
        )

    def label(self) -> str:
        return f"{self.model} {self.backend} {self.mode} {self.device} b{self.batch_size}"

    def to_dict(self) -> dict:
        return {**asdict(self), "framework": self.framework}

    @classmethod
    def from_dict(cls, data: dict) -> Cell:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def block_key(record: dict) -> tuple:
    """Cells that are compared with each other (a record's identity but its backend)."""
    return (
        record["scenario"],
        record["model"],
        record["profile"],
        record["mode"],
        record["device"],
        record["batch_size"],
        record["precision"],
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
