"""graphbench sessions. `nox -s bench` is the main job; `nox -s tests` runs the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"

CPU_CONSTRAINTS = "constraints/cpu.txt"
GPU_CONSTRAINTS = "constraints/gpu.txt"


def _install(session: nox.Session, extras: str, constraints: str = CPU_CONSTRAINTS) -> None:
    """The one install path: this project with its extras, pinned by a constraints file."""
    session.install("-c", constraints, f".[{extras}]")


def _cuda_unavailable() -> str | None:
    """Why no CUDA device is visible, or None; asked of the driver, before installing anything."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return "CUDA_VISIBLE_DEVICES hides every GPU"
    if shutil.which("nvidia-smi") is None:
        return "nvidia-smi not found (no NVIDIA driver)"
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    if listing.returncode != 0 or "GPU" not in listing.stdout:
        return "nvidia-smi lists no GPU"
    return None


CHROMIUM_NAMES = ("chromium", "chromium-browser")


def _ensure_chromium(session: nox.Session) -> None:
    """The report's browser test needs headless Chromium: install Debian's where missing."""
    if os.environ.get("GRAPHBENCH_CHROMIUM") or any(map(shutil.which, CHROMIUM_NAMES)):
        return
    if shutil.which("apt-get") is None:
        session.error(
            "the report's browser test needs Chromium and there is no apt-get here: install "
            "Chromium and set GRAPHBENCH_CHROMIUM to its path"
        )
    root: list[str] = ["env", "DEBIAN_FRONTEND=noninteractive"]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            session.error("installing Chromium (apt-get install chromium) needs root or sudo")
        root = ["sudo", "-n", *root]
    session.log("Chromium is missing: installing Debian's package for the browser test")
    session.run(*root, "apt-get", "update", "-q", external=True)
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    session.run(*root, *install, external=True)


# The fast tier: harness logic with a fake clock and a stand-in worker, the report on
# committed runs; no framework is installed, so a test in the wrong tier fails here.
FAST_TIER = "not framework and not e2e and not browser and not gpu"


@nox.session(name="tests-fast")
def tests_fast(session: nox.Session) -> None:
    """The fast tier in seconds, without any framework installed (see tests/conftest.py)."""
    _install(session, "report,test")
    session.run("pytest", "-m", FAST_TIER, *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite on CPU, every framework installed; GPU tests are tests-gpu's."""
    _ensure_chromium(session)
    _install(session, "all,test")
    session.run("pytest", "-m", "not gpu", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and mypy on bench/."""
    _install(session, "all,lint")  # mypy reads the frameworks' own type hints
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmark every model on every CPU backend (quick profile) into results/."""
    _install(session, "all")
    session.run(
        "python", "-m", "bench", "run", "--device", "cpu", "--profile", "quick", *session.posargs
    )


@nox.session(name="bench-dynamic", default=False)
def bench_dynamic(session: nox.Session) -> None:
    """The dynamic-shape scenario on CPU (skewed stream, every backend and strategy)."""
    _install(session, "all")
    # The skewed stream is the realistic one and takes about 30 minutes on 2 cores; the
    # uniform stream, whose many long shapes op-by-op JAX compiles one by one, adds about
    # 40 minutes more: `nox -s bench-dynamic -- --streams all`.
    dynamic = ["--scenario", "dynamic", "--device", "cpu", "--profile", "quick"]
    session.run("python", "-m", "bench", "run", *dynamic, "--streams", "skewed", *session.posargs)


@nox.session(name="bench-gpu", default=False)
def bench_gpu(session: nox.Session) -> None:
    """Benchmark on CUDA (full profile); stops at once if no CUDA device is visible."""
    reason = _cuda_unavailable()
    if reason:
        session.error(f"bench-gpu needs a CUDA device: {reason}")
    _install(session, "all-cuda", GPU_CONSTRAINTS)
    session.run(
        "python", "-m", "bench", "run", "--device", "cuda", "--profile", "full", *session.posargs
    )


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Report the newest run of each device under results/ into results/report.html."""
    if not any(Path("results").glob("*/cells.jsonl")):
        session.error("no run under results/: run `nox -s bench` first")
    _install(session, "report")
    session.run(
        "python", "-m", "bench", "report", "--newest-in", "results", "-o", "results/report.html"
    )
