"""A user's own model: ``--models PATH.py:FUNCTION`` or ``--models package.module:FUNCTION``.

The function returns a ``bench.ModelSpec`` (bench/model_spec.py). Nothing here imports a
framework, or the user's file, until a worker asks for it:

- the command line parses the source (``parse``), has a child process check it
  (``python -m bench.worker.user_check``) and registers what that child reports (``register``):
  framework, default batch size, parameter tensors, FLOPs. The registry travels to every child
  process in the environment variable ``GRAPHBENCH_USER_MODELS`` and into run.json.
- ``spec(name)`` is the model's stand-in for a zoo model's ``spec.py``: the parent reads
  its batch size, description and the check's counts (the cost prior); a worker its batch
  (which loads the file).
- ``models.user.torch``, ``.jax``, ``.tf`` and ``.keras`` are its stand-ins for a zoo
  model's framework files, plus the float64 eager reference each framework computes and
  its FLOP count (``reference_outputs``).
- ``not_applicable`` says which backends run which models: a user's model its framework's
  own backends, a Keras model the Keras backends (which run nothing else).

A cell names the model ``FILE.py:FUNCTION`` (the file's name without its folder) or
``package.module:FUNCTION``: a name without a path separator, as every cell's model is but a
suite model's (``hf/gpt2``, models.suites: registered here under that name, its one ``/``
written as ``+`` where the name becomes part of a file's name, Cell.file_stem).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import UsageError

ENV = "GRAPHBENCH_USER_MODELS"
_FUNCTION = r"[A-Za-z_]\w*"
PATH_FORM = re.compile(rf"^(?P<path>.+\.py):(?P<function>{_FUNCTION})$")
MODULE_FORM = re.compile(rf"^(?P<module>{_FUNCTION}(\.{_FUNCTION})*):(?P<function>{_FUNCTION})$")
# What a cell's model field holds for a user's model.
NAME_FORM = re.compile(rf"^[\w.-]+:{_FUNCTION}$")
EXPECTED = "expected PATH.py:FUNCTION or package.module:FUNCTION returning a bench.ModelSpec"
PROFILES = ("quick", "full")


def is_source(text: str) -> bool:
    """Whether a --models entry names a user's model rather than a zoo model."""
    return ":" in text


def is_user_name(name: str) -> bool:
    """Whether a cell's model field is a user's model (``my_model.py:make``), or a suite
    model (``hf/gpt2``, models.suites), which is one registered under its prefixed name."""
    from models import suites

    return bool(NAME_FORM.match(name)) or suites.is_suite_name(name)


@dataclass(frozen=True)
class Source:
    """Where a user's model comes from: a file (absolute) or a module, and a function."""

    path: str | None
    module: str | None
    function: str

    @property
    def text(self) -> str:
        return f"{self.path or self.module}:{self.function}"

    @property
    def name(self) -> str:
        """The model's name in cells: no folder, so no path separator."""
        where = Path(self.path).name if self.path else self.module
        return f"{where}:{self.function}"


def parse(text: str) -> Source:
    """A --models entry as a source, its file checked to exist (UsageError otherwise)."""
    text = text.strip()
    by_path = PATH_FORM.match(text)
    if by_path:
        path = Path(by_path["path"]).expanduser()
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise UsageError(f"--models {text}: {path} {what}; {EXPECTED}")
        return Source(str(path.resolve()), None, by_path["function"])
    by_module = MODULE_FORM.match(text)
    if by_module:
        return Source(None, by_module["module"], by_module["function"])
    raise UsageError(f"--models {text!r:.80}: not a model source; {EXPECTED}")


# --- the registry: what the command line's check found, shared with child processes ----


def entries() -> dict[str, dict[str, Any]]:
    """Every registered user's model, by name: source, framework, batch size, description."""
    return json.loads(os.environ.get(ENV) or "{}")


def register(name: str, entry: dict[str, Any]) -> None:
    """Add a checked model; child processes inherit the registry through the environment."""
    known = entries()
    other = known.get(name)
    if other is not None and other["source"] != entry["source"]:
        raise UsageError(
            f"--models: {other['source']} and {entry['source']} would both be named {name}; "
            "expected models with distinct file or function names"
        )
    known[name] = entry
    os.environ[ENV] = json.dumps(known, sort_keys=True)
    spec.cache_clear()


def entry(name: str) -> dict[str, Any]:
    found = entries().get(name)
    if found is None:
        raise KeyError(
            f"{name}: a user's model that was not checked in this run ({ENV} does not list it)"
        )
    return found


def framework_of(name: str) -> str:
    return str(entry(name)["framework"])


def not_applicable(name: str, framework: str, backend: str) -> str | None:
    """Why a model does not run on a backend: a user's model is written for another
    framework, or a Keras backend meets a model that is not a Keras model (the zoo's models
    are written per framework, not in Keras)."""
    from bench import backends

    keras_backend = backends.get(backend).keras_backend
    if not is_user_name(name):
        if keras_backend is None:
            return None
        return f"{backend} runs Keras models (a user's, framework 'keras'); {name} is not one"
    own = framework_of(name)
    if own == "keras":
        if keras_backend is not None:
            return None
        return f"{name} is a keras model; {backend} runs {framework} models"
    if own == framework and keras_backend is None:
        return None
    runs = "Keras models" if keras_backend else f"{framework} models"
    return f"{name} is a {own} model; {backend} runs {runs}"


# --- loading the user's code (worker side: imports the user's file and its framework) ----


class UserModelError(ValueError):
    """The user's function or what it returned is not usable: the message says why."""


@functools.cache
def load(source_text: str):
    """Call the user's function; its ModelSpec, checked (UserModelError naming the source)."""
    from bench.model_spec import ModelSpec

    source = parse(source_text)
    module = _import(source)
    function = getattr(module, source.function, None)
    if not callable(function):
        raise UserModelError(
            f"{source.text}: {source.path or source.module} has no function "
            f"{source.function}; {EXPECTED}"
        )
    try:
        made = function()
    except Exception as exc:
        raise UserModelError(
            f"{source.text}: {source.function}() raised {one_line(exc)}; {EXPECTED}"
        ) from exc
    if not isinstance(made, ModelSpec):
        raise UserModelError(
            f"{source.text}: {source.function}() returned {type(made).__name__}; {EXPECTED}"
        )
    problems = made.problems()
    if problems:
        raise UserModelError(
            f"{source.text}: {source.function}() returned a ModelSpec with {'; '.join(problems)}"
        )
    return made


def _import(source: Source):
    try:
        if source.module:
            return importlib.import_module(source.module)
        assert source.path is not None
        module_name = "graphbench_user_" + re.sub(r"\W", "_", Path(source.path).stem)
        where = importlib.util.spec_from_file_location(module_name, source.path)
        if where is None or where.loader is None:
            raise ImportError(f"{source.path} is not a Python file")
        module = importlib.util.module_from_spec(where)
        sys.modules[module_name] = module  # dataclasses and pickling look a module up here
        where.loader.exec_module(module)
        return module
    except Exception as exc:
        raise UserModelError(
            f"{source.text}: {source.path or source.module} cannot be imported: "
            f"{one_line(exc)}; {EXPECTED}"
        ) from exc


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def checked_batch(made: Any, source: str, batch_size: int, seed: int) -> tuple[np.ndarray, ...]:
    """``make_batch(batch_size, seed)``, checked to be (inputs, targets) NumPy arrays."""
    try:
        batch = made.make_batch(batch_size, seed)
    except Exception as exc:
        raise UserModelError(
            f"{source}: make_batch({batch_size}, {seed}) raised {one_line(exc)}"
        ) from exc
    ok = (
        isinstance(batch, tuple)
        and len(batch) == 2
        and all(isinstance(a, np.ndarray) for a in batch)
    )
    if not ok:
        raise UserModelError(
            f"{source}: make_batch({batch_size}, {seed}) returned {type(batch).__name__}; "
            "expected a tuple (inputs, targets) of two NumPy arrays"
        )
    x, y = batch
    if y.dtype.kind not in "iu":
        raise UserModelError(
            f"{source}: make_batch's targets are {y.dtype}; expected integer class ids"
        )
    return x, y


# --- the stand-in for a zoo model's spec.py --------------------------------------------


@dataclass(frozen=True)
class UserConfig:
    """A user's model's "config": where it comes from (the spec is loaded on demand)."""

    name: str
    source: str

    @property
    def spec(self):
        return load(self.source)


class UserSpec:
    """What the matrix and the fixed scenario read of a model's spec, for a user's model."""

    STREAM_MODES: tuple[str, ...] = ()

    def __init__(self, name: str):
        self.name = name
        self.entry = entry(name)
        cfg = UserConfig(name, self.entry["source"])
        self.PROFILES = {p: cfg for p in PROFILES}
        self.BATCH_SIZE = {p: int(self.entry["batch_size"]) for p in PROFILES}

    def describe(self, cfg: UserConfig) -> str:
        return str(self.entry["describe"])

    def buffers(self, cfg: UserConfig) -> tuple[str, ...]:
        return ()

    def example_bytes(self) -> int:
        """Bytes of one example's inputs and targets (the check measured them)."""
        return int(self.entry["example_bytes"])

    def init_params(self, cfg: UserConfig, seed: int) -> dict[str, np.ndarray]:
        """The weights are the model's own, from ``build(seed)``: only the seed travels."""
        return {"seed": np.asarray(seed)}

    def make_batch(self, cfg: UserConfig, batch_size: int, seed: int) -> tuple[np.ndarray, ...]:
        return checked_batch(cfg.spec, cfg.source, batch_size, seed)

    def flops_per_step(self, cfg: UserConfig, batch_size: int, mode: str) -> float | None:
        """The check's count of an inference step at the default batch, scaled to
        ``batch_size`` (a training step: three times); None where none was counted. For the
        cost prior only: a cell records the count its reference process made."""
        counted = self.entry.get("flops_infer")
        if counted is None:
            return None
        per_example = float(counted) / int(self.entry["batch_size"])
        return per_example * batch_size * (3 if mode == "train" else 1)

    def parameter_tensors(self, cfg: UserConfig) -> int:
        """Weight and buffer tensors, as the check counted them (init_params holds the seed)."""
        return int(self.entry.get("parameter_tensors") or 1)


@functools.cache
def spec(name: str) -> UserSpec:
    return UserSpec(name)


def implementation(name: str):
    """The framework stand-in module of a user's model (imports its framework)."""
    return importlib.import_module(f"models.user.{framework_of(name)}")


def reference_outputs(name: str, batch_size: int, mode: str, seed: int) -> dict[str, np.ndarray]:
    """The parity reference of a user's model (run in the reference process): the output of
    the same model, eager, in float64 (or float32 where float64 fails: ``reference`` says
    which), and the FLOPs of one step with the counter that counted them."""
    s = spec(name)
    cfg = s.PROFILES["quick"]
    impl = implementation(name)
    batch = s.make_batch(cfg, batch_size, seed + 1)
    output, reference = impl.reference(cfg, seed, batch, mode)
    flops, counter = flops_of(cfg, impl, seed, batch, mode)
    out = {"output": np.asarray(output), "reference": np.asarray(reference)}
    if flops is not None:
        out.update(flops_per_step=np.asarray(int(flops)), flops_counter=np.asarray(counter))
    return out


def flops_of(cfg: UserConfig, impl, seed: int, batch, mode: str) -> tuple[int | None, str]:
    """One step's FLOPs and who counted them: the model's own ``flops``, else its
    framework's counter (models.user.<framework>.count_flops)."""
    own = cfg.spec.flops
    if own is not None:
        infer = float(own(len(batch[0])))
        return int(infer * (3 if mode == "train" else 1)), "the model's flops(); training 3x"
    return impl.count_flops(cfg, seed, batch, mode)
