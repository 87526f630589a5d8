"""``--models`` with a user's own models (``PATH.py:FUNCTION``, ``package.module:FUNCTION``)
among the zoo's names: each source is checked in a child process (bench.worker.user_check) before
any work, and registered for the run's child processes (models.user)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import models
from bench import backends
from bench.cli import args as check
from bench.errors import UsageError
from bench.matrix.cells import Cell
from bench.parent.worker_env import importable
from models import suites, user

CHECK_TIMEOUT_S = 600.0


def model_names(text: str, zoo: tuple[str, ...], profile: str = "quick") -> tuple[str, ...]:
    """The models of ``--models a,b`` in order: zoo names checked as before, each user's
    source checked and registered under its cell name (``my_model.py:make``), each suite
    model (``hf/gpt2``, models.suites) as the user's model its profile's factory is,
    registered under its prefixed name."""
    parts = [p.strip() for p in text.split(",")]
    if not any(user.is_source(p) or suites.looks_like_suite_name(p) for p in parts):
        return check.names("--models", text, zoo)
    if any(not p for p in parts):
        check.names("--models", text, zoo)  # the zoo's message for an empty name
    names = []
    for part in parts:
        if suites.looks_like_suite_name(part):
            source = user.parse(suites.source(part, profile))
            user.register(part, checked(source))
            names.append(part)
        elif user.is_source(part):
            source = user.parse(part)
            user.register(source.name, checked(source))
            names.append(source.name)
        else:
            names += check.names("--models", part, models.MODEL_NAMES)
    return tuple(dict.fromkeys(names))


def checked(source: user.Source) -> dict:
    """The registry entry bench.worker.user_check reports, or a UsageError with its one line."""
    env = {**os.environ, "PYTHONPATH": importable(os.environ.get("PYTHONPATH"))}
    argv = [sys.executable, "-m", "bench.worker.user_check", source.text]
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise UsageError(
            f"--models {source.text}: checking it took over {CHECK_TIMEOUT_S:.0f} s; expected "
            "a model that builds and runs one batch eagerly in that time"
        ) from None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode == 2 and lines:
        raise UsageError(f"--models {lines[-1].strip()}")
    out = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not out:
        last = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise UsageError(f"--models {source.text}: the check of the model failed: {last}")
    return json.loads(out[-1])


def all_backends_for(device: str, model_names: tuple[str, ...] | None) -> tuple[str, ...]:
    """What ``--backends all`` (or none given) means: every backend for the device, less the
    Keras backends where only the zoo's models run (they would record each zoo cell as
    not-applicable; with a user's model every backend shows what applies to it)."""
    names = backends.for_device(device)
    if model_names and any(models.is_user_model(m) for m in model_names):
        return names
    return tuple(n for n in names if backends.get(n).keras_backend is None)


def entries_for(cells: list[Cell]) -> dict[str, dict]:
    """run.json's ``user_models``: each user's model of the run, where it came from and what
    its check found (framework, batch size, parameter count)."""
    used = {c.model for c in cells}
    return {name: entry for name, entry in user.entries().items() if name in used}


def batch_fits(model: str, profile: str, batch_size: int, memory_bytes: int | None) -> None:
    """bench.cli.args.batch_fits for a user's model: one example's bytes as its check
    measured them (the parent never imports the user's file or its framework)."""
    per_example = models.spec(model).example_bytes()
    need = per_example * batch_size
    if memory_bytes and need > memory_bytes:
        raise UsageError(
            f"--batch-sizes: {batch_size} is too large for {model}: its inputs alone need "
            f"{need / 2**30:.1f} GiB, the device has {memory_bytes / 2**30:.1f} GiB; expected "
            f"at most {memory_bytes // per_example:,}"
        )


def register_stored(entries: dict[str, dict]) -> None:
    """A resumed run's user models, as run.json's ``user_models`` recorded them (not checked
    again: the run measures what it was started with)."""
    for name, entry in entries.items():
        user.register(name, entry)
