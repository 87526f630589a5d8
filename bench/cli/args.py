"""Command-line values, checked before any work: each refusal names the option and what
it accepts, in one line (a UsageError)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from bench.errors import UsageError
from bench.matrix.profiles import MIN_TIMEOUT_S
from bench.results.store import CELLS_FILE, LOCK_FILE, RUN_FILE, TORN_FILE

MAX_BATCH_SIZE = 1 << 20
MAX_TIMEOUT_S = 7 * 24 * 3600.0
MAX_NAME_BYTES = 255
# Longer than any number an option takes (2**32 has 10 digits, 1e-300 six characters):
# longer text is refused before Python converts it, whose int() raises its own error on a
# literal of more than 4,300 digits.
MAX_NUMBER_CHARS = 32


def parse_number(text: str, integer: bool) -> float | None:
    """``text`` as a finite number (a whole one where ``integer``), or None: the one parser
    every numeric option goes through. Refuses overlong text, non-ASCII digits (int()
    reads '٣' as 3), NaN and infinities."""
    text = text.strip()
    if not text or len(text) > MAX_NUMBER_CHARS or not text.isascii():
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _shown(text: str) -> str:
    """The refused text, cut to a length that fits one line."""
    return repr(text) if len(text) <= 40 else f"{text[:37]!r}... ({len(text)} characters)"


def bounded_int(low: int, high: int):
    """An argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        value = parse_number(text, integer=True)
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected an integer from {low} to {high}, got {_shown(text)}"
            )
        return int(value)

    return parse


def seconds(text: str) -> float:
    """A number of seconds from MIN_TIMEOUT_S (below it no worker can even start: an
    interpreter and a framework take longer to load) to a week."""
    value = parse_number(text, integer=False)
    if value is None or not MIN_TIMEOUT_S <= value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds from {MIN_TIMEOUT_S:g} to {MAX_TIMEOUT_S:.0f}, "
            f"got {_shown(text)}"
        )
    return value


def fraction(text: str) -> float:
    """A threshold: ``0.05`` or ``5%``, in [0, 1)."""
    percent = text.strip().endswith("%")
    value = parse_number(text.strip().removesuffix("%"), integer=False)
    if value is not None and percent:
        value /= 100
    if value is None or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            "expected a fraction from 0 to below 1 like 0.05, or a percentage like 5%, "
            f"got {_shown(text)}"
        )
    return value


def names(option: str, text: str | None, valid: tuple[str, ...], default: str = "all"):
    """``a,b`` or ``all`` -> the names, in the order given, refusing unknown or empty ones."""
    text = default if text is None else text
    if text.strip() == "all":
        return valid
    picked = tuple(part.strip() for part in text.split(","))
    if not text.strip() or any(not p for p in picked):
        raise UsageError(
            f"{option}: empty name in {text!r}; expected 'all' or a comma-separated list of: "
            f"{', '.join(valid)}"
        )
    unknown = [n for n in picked if n not in valid]
    if unknown:
        raise UsageError(
            f"{option}: unknown {', '.join(map(repr, unknown))}; expected 'all' or a "
            f"comma-separated list of: {', '.join(valid)}"
        )
    return tuple(dict.fromkeys(picked))


def batch_fits(model: str, profile: str, batch_size: int, memory_bytes: int | None) -> None:
    """Refuse a batch whose inputs alone could not fit the device's memory: one example's
    inputs (from the model's spec) times the batch size, against the memory there is."""
    import models

    spec = models.spec(model)
    x, y = spec.make_batch(spec.PROFILES[profile], 1, 0)
    need = (x.nbytes + y.nbytes) * batch_size
    if memory_bytes and need > memory_bytes:
        raise UsageError(
            f"--batch-sizes: {batch_size} is too large for {model}: its inputs alone need "
            f"{need / 2**30:.1f} GiB, the device has {memory_bytes / 2**30:.1f} GiB; expected "
            f"at most {memory_bytes // (x.nbytes + y.nbytes):,}"
        )


def interpreters(text: str, frameworks: tuple[str, ...]) -> dict[str, str]:
    """``torch=/envs/t/bin/python,jax=...`` -> {framework: interpreter}, each an executable."""
    out: dict[str, str] = {}
    for part in text.split(","):
        framework, sep, path = part.strip().partition("=")
        if not sep or not path.strip():
            raise UsageError(
                f"--python: {part.strip()!r} is not FRAMEWORK=PATH; expected e.g. "
                "torch=/envs/torch-cuda/bin/python,jax=/envs/jax-cuda/bin/python"
            )
        if framework not in frameworks:
            raise UsageError(
                f"--python: unknown framework {framework!r}; expected one of: "
                f"{', '.join(frameworks)}"
            )
        if framework in out:
            raise UsageError(f"--python: {framework} is given twice")
        python = Path(path.strip()).expanduser()
        if not (python.is_file() and os.access(python, os.X_OK)):
            raise UsageError(f"--python {framework}={python}: not an executable file")
        out[framework] = str(python.absolute())
    return out


def batch_sizes(text: str) -> tuple[int, ...]:
    """``1,8,64``: positive integers up to MAX_BATCH_SIZE, duplicates dropped."""
    sizes = []
    for part in text.split(","):
        part = part.strip()
        value = parse_number(part, integer=True) if part.isdigit() else None
        if value is None or not 1 <= value <= MAX_BATCH_SIZE:
            raise UsageError(
                f"--batch-sizes: {_shown(part)} is not an integer from 1 to {MAX_BATCH_SIZE}; "
                "expected e.g. '1,8,64'"
            )
        sizes.append(int(value))
    return tuple(dict.fromkeys(sizes))


def gpu_list(text: str, available: list[str]) -> list[str]:
    """``--gpus 0,1,3`` or ``all``: GPU indices (NVML's order), each one present here."""
    if not available:
        raise UsageError("--gpus: no NVIDIA GPU is visible here (NVML lists none)")
    if text.strip() == "all":
        return list(available)
    picked = [part.strip() for part in text.split(",")]
    valid = f"expected 'all' or a comma-separated list of GPU indices from: {', '.join(available)}"
    if any(p not in available for p in picked):
        bad = ", ".join(repr(p) for p in picked if p not in available)
        raise UsageError(f"--gpus: {bad} is not a GPU here; {valid}")
    if len(set(picked)) != len(picked):
        raise UsageError(f"--gpus: a GPU is given twice in {text!r}; {valid}")
    return picked


def new_dir(option: str, path: Path) -> None:
    """A directory to create (e.g. a merged run): not there yet, its parent writable."""
    _name_fits(path, option)
    if path.exists():
        raise UsageError(f"{option} {path}: already exists; expected a new directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: directory {parent} is not writable")


def _name_fits(path: Path, option: str) -> None:
    for part in path.parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            raise UsageError(
                f"{option} {str(path)[:80]}...: a name longer than {MAX_NAME_BYTES} bytes"
            )


RUN_DATA = {RUN_FILE, CELLS_FILE, LOCK_FILE, TORN_FILE}
RUN_DATA_DIRS = {"expected", "logs"}


def output_file(option: str, path: Path) -> None:
    """Refuse an output file before any work: a directory, a missing or read-only parent, or
    a run directory's own data (run.json, cells.jsonl, its logs and reference outputs)."""
    _name_fits(path, option)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory; expected a file name")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{option} {path}: directory {parent} is not writable")
    inside_run = (parent / RUN_FILE).is_file() and path.name in RUN_DATA
    inside_data = parent.name in RUN_DATA_DIRS and (parent.parent / RUN_FILE).is_file()
    if inside_run or inside_data:
        raise UsageError(f"{option} {path}: that is a run's own data; choose another file name")


def output_dir(option: str, path: Path) -> None:
    """A directory for new runs: existing and writable, or creatable."""
    _name_fits(path, option)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: exists and is not a directory")
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"{option} {path}: directory {parent} does not exist")
        try:
            path.mkdir()
        except OSError as exc:
            raise UsageError(
                f"{option} {path}: cannot be created ({exc.strerror or exc})"
            ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: is not writable")
