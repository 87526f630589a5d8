"""What is measured: a Cell, frozen, and how its identity is compared.

A cell is one model, backend, mode, device, batch size, profile and precision in one
scenario (plus, for a stream of varying shapes, the stream and the strategy), measured
in ``repetition`` r of the run. Scenarios (bench.matrix.scenarios) expand the command line's
choices into cells; the runner measures each in a fresh worker process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from bench import backends

MODES = ("infer", "train")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Cell:
    model: str
    backend: str
    mode: str
    device: str
    batch_size: int
    profile: str
    precision: str = "float32"
    scenario: str = "fixed"  # or "stream": a stream of varying sequence lengths
    strategy: str | None = None  # stream only: exact, dynamic or bucket (bench.matrix.streams)
    stream: str | None = None  # stream only: the name of the length distribution
    repetition: int = 1  # 1..K with --repeats K: the same cell measured again, later

    @property
    def framework(self) -> str:
        return backends.get(self.backend).framework

    def key(self) -> tuple:
        """Identity within and across runs (resume, comparison): every field."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def workload(self) -> tuple:
        """The identity without the repetition: what repeated measurements pool into."""
        return self.key()[:-1]

    def block(self) -> tuple:
        """Cells compared with each other (a static backend against its eager one): the
        identity without backend, strategy and repetition."""
        return (
            self.scenario,
            self.model,
            self.profile,
            self.mode,
            self.device,
            self.batch_size,
            self.precision,
            self.stream,
        )

    def label(self) -> str:
        """``mlp jax-jit train cpu b128`` (+ precision, stream and strategy, repetition)."""
        text = f"{self.model} {self.backend} {self.mode} {self.device} b{self.batch_size}"
        if self.precision != "float32":
            text += f" {self.precision}"
        if self.stream is not None:
            text += f" {self.stream} {self.strategy}"
        return text + (f" r{self.repetition}" if self.repetition != 1 else "")

    @property
    def model_in_path(self) -> str:
        """The model's name as part of a file's name: a suite model's one ``/``
        (``hf/gpt2``, models.suites) written as ``+``; every other name has none."""
        return self.model.replace("/", "+")

    def file_stem(self, index: int) -> str:
        """A name for this cell's log files: only names checked against the registries."""
        parts = (
            f"{index:03d}",
            self.model_in_path,
            self.backend,
            self.mode,
            f"b{self.batch_size}",
            None if self.precision == "float32" else self.precision,
            self.stream,
            self.strategy,
            None if self.repetition == 1 else f"r{self.repetition}",
        )
        return "-".join(str(p) for p in parts if p is not None)

    def to_dict(self) -> dict:
        """The identity as stored: every field, plus the framework for readers of the file."""
        return {**asdict(self), "framework": self.framework}

    @classmethod
    def from_dict(cls, data: dict) -> Cell:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


IDENTITY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Cell))


# The repetitions a profile runs by default (--repeats): the quick CPU run once, the full
# profile three times (its cells are long and its numbers are the ones cited).
DEFAULT_REPEATS = {"quick": 1, "full": 3}
# How many times a cell measured in a slow window (bench.analysis.metrics.is_slow_window) is
# measured again at the end of the run (--remeasure-slow).
DEFAULT_REMEASURE_SLOW = {"quick": 1, "full": 1}
MAX_REMEASURE_SLOW = 5


def repeated(cells: list[Cell], repeats: int) -> list[Cell]:
    """The matrix measured ``repeats`` times, in rotated order: repetition r starts
    (r - 1) * n / repeats cells further on (A B C, then B C A, ... for three cells and three
    repetitions), so slow drift of the machine (heat, a neighbour) falls on every backend
    alike instead of on whichever ran last. Each repetition runs in fresh processes."""
    n, out = len(cells), []
    for r in range(1, repeats + 1):
        offset = (r - 1) * n // repeats
        out += [replace(c, repetition=r) for c in cells[offset:] + cells[:offset]]
    return out
