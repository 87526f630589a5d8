"""What each framework's interpreter can do here, asked once per run before any cell.

``python -m bench.worker.probe FRAMEWORK DEVICE`` runs in the framework's own interpreter (the
parent's, or the one ``--python`` names) and prints one JSON object: whether the
framework is installed, its version and CUDA build, whether it sees the device, the
NVIDIA driver that build needs and the one this machine has, and the **harness floor**:
what an empty synced step costs (the host timer plus the backend's own sync, the
smallest time any cell's step can show). The parent (bench.parent.probes) stops a CUDA run
with one line when a framework in its matrix cannot see the GPU, rather than record half
a run as failures.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from bench import backends
from bench.results.probe import Probe

# The oldest driver branch each CUDA major runs on (NVIDIA's CUDA Compatibility guide,
# "Minor Version Compatibility", table 1: CUDA 12.x >= 525, CUDA 13.x >= 580).
DRIVER_FLOOR = {11: "450", 12: "525", 13: "580"}
FLOOR_STEPS = 200  # empty synced steps timed for the floor


def driver_version() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return str(pynvml.nvmlSystemGetDriverVersion())
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return None


def driver_needed(cuda_build: str | None) -> str | None:
    if not cuda_build:
        return None
    major = int(cuda_build.split(".")[0])
    floor = DRIVER_FLOOR.get(major)
    return f"R{floor} or newer (CUDA {major})" if floor else None


def harness_floor(backend_cls: type, device: str) -> dict[str, float]:
    """An empty synced step, timed as every cell's steps are: the backend's own sync on an
    output already on the device. Microseconds: median and p90 of FLOOR_STEPS."""
    from bench.worker.timing import default_clock, timed_step
    from models.mlp.spec import Config, init_params, make_batch

    cfg = Config(in_features=4, hidden=(4,), classes=2)
    b = backend_cls()
    b.build("mlp", cfg, init_params(cfg, 0), "infer", device)
    data = b.put(make_batch(cfg, 1, 1))
    out = b.step(data)
    b.sync(out)  # the model ran once: what is timed below is the sync of a finished output
    times = [timed_step(lambda _: out, b.sync, data, default_clock)[1] for _ in range(FLOOR_STEPS)]
    us = np.asarray(times) * 1e6
    return {"median": float(np.median(us)), "p90": float(np.percentile(us, 90))}


def probe_here(framework: str, device: str) -> Probe:
    """The probe, in this interpreter (imports the framework)."""
    import platform

    p = Probe(framework, sys.executable, python=platform.python_version())
    missing = backends.missing_packages(framework)
    if missing:
        p.problem = f"{', '.join(missing)} not installed in {sys.executable}"
        return p
    p.installed = True
    cls = backends.load(backends.eager_baseline(framework))
    cls.configure(device, 1, "float32")
    p.version = cls.framework_version()
    p.cuda_build = cls.cuda_build()
    p.driver = driver_version()
    p.driver_needed = driver_needed(p.cuda_build)
    reason = cls.unavailable_reason(device)
    p.sees_device = reason is None
    if device == "cuda" and not p.cuda_build:
        p.problem = f"{framework} {p.version} in {sys.executable} is a CPU build (no CUDA)"
    elif reason:
        have = f"this machine has driver {p.driver}" if p.driver else "no NVIDIA driver is visible"
        p.problem = (
            f"{framework} {p.version} (CUDA {p.cuda_build}) in {sys.executable} sees no GPU: "
            f"{reason}; it needs an NVIDIA driver {p.driver_needed or 'for its CUDA build'}, "
            f"{have}"
        )
    else:
        p.floor_us = harness_floor(cls, device)
    return p


def main(argv: list[str]) -> int:
    framework, device = argv
    print(json.dumps(probe_here(framework, device).to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
