"""Each framework's probe, asked once per run before any cell, in the framework's own
interpreter (``python -m bench.worker.probe``): the parent's side."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench import backends
from bench.errors import UsageError
from bench.parent.worker_env import importable
from bench.results.probe import Probe

__all__ = ["Probe", "check", "run_probe"]

PROBE_TIMEOUT_S = 300.0


def run_probe(framework: str, python: str, device: str) -> Probe:
    """The probe of ``framework`` in interpreter ``python`` (a process of its own)."""
    env = {**os.environ, "PYTHONPATH": importable(os.environ.get("PYTHONPATH"))}
    env.update(backends.framework(framework).worker_env)
    try:
        done = subprocess.run(
            [python, "-m", "bench.worker.probe", framework, device],
            capture_output=True,
            text=True,
            env=env,
            timeout=PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(framework, python, problem=f"{python} could not be probed ({exc})")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Probe(framework, python, problem=f"probing {framework} in {python} failed: {tail}")
    return Probe(**json.loads(lines[-1]))


def check(frameworks: list[str], pythons: dict[str, str], device: str) -> dict[str, Probe]:
    """Probe every framework of a run; on CUDA, stop (UsageError) at the first that cannot
    run there, naming it, its CUDA build and the driver it needs."""
    probes = {f: run_probe(f, pythons.get(f, sys.executable), device) for f in frameworks}
    if device == "cuda":
        for f, p in probes.items():
            if p.problem:
                raise UsageError(
                    f"--device cuda: {p.problem}. Leave {f} out (--backends without its "
                    f"backends) or point --python {f}=PATH at an interpreter whose {f} sees the "
                    "GPU"
                )
    return probes
