"""graphbench sessions. `nox -s bench` is the main job; `nox -s tests` runs the tests.

GPU sessions build one environment per framework (PyTorch, JAX, TensorFlow on CUDA), each
from its own complete lock in constraints/gpu-<framework>.txt, and run the workers of each
framework under its own interpreter (`python -m bench run --python ...`); the parent
process, which never imports a framework, runs in the session's environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"

CPU_CONSTRAINTS = "constraints/cpu.txt"
GPU_FRAMEWORKS = ("torch", "jax", "tf")
# Which framework a backend belongs to, by its name's prefix (the registry, bench/backends,
# says the same; the noxfile must not import the project before installing it).
BACKEND_PREFIX = {"torch": "torch", "torchscript": "torch", "jax": "jax", "tf": "tf"}
# bench-gpu's default matrix: every model but the LSTM, every backend but max-autotune and
# TorchScript, so that it finishes within about an hour on one H100-class GPU (README, GPU).
GPU_DEFAULT_MATRIX = (
    "--models",
    "mlp,cnn,resnet,transformer",
    "--backends",
    "torch-eager,torch-compile,torch-compile-reduce-overhead,jax-eager,jax-jit,"
    "tf-eager,tf-graph,tf-xla",
)


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
    _install(session, "all,ray,test")  # ray: the Ray executor's tests run real tasks
    session.run("pytest", "-m", "not gpu", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and mypy on bench/."""
    _install(session, "all,ray,lint")  # mypy reads the frameworks' and Ray's type hints
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


def _gpu_frameworks(posargs: list[str]) -> list[str]:
    """The frameworks a GPU run needs: those of its --backends (default matrix: all three)."""
    chosen = GPU_DEFAULT_MATRIX[3]
    for i, arg in enumerate(posargs):
        if arg == "--backends" and i + 1 < len(posargs):
            chosen = posargs[i + 1]
        elif arg.startswith("--backends="):
            chosen = arg.split("=", 1)[1]
    if chosen.strip() == "all":
        return list(GPU_FRAMEWORKS)
    names = {b.strip().split("-")[0] for b in chosen.split(",") if b.strip()}
    return [f for f in GPU_FRAMEWORKS if f in {BACKEND_PREFIX.get(n, n) for n in names}]


def _gpu_pip_env() -> dict[str, str | None]:
    """pip reads one index only (PyPI, or $GRAPHBENCH_GPU_INDEX_URL for a mirror) and no
    configuration file: PyTorch's CPU index or a local wheel can never slip a +cpu build in."""
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("PIP_")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL=os.environ.get("GRAPHBENCH_GPU_INDEX_URL", "https://pypi.org/simple"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def _gpu_env(session: nox.Session, framework: str) -> str:
    """The framework's CUDA environment (.nox/gpu-<framework>), installed from its lock;
    its interpreter's path."""
    venv = Path(".nox") / f"gpu-{framework}"
    python = venv / "bin" / "python"
    if not python.exists():
        session.run("python", "-m", "venv", str(venv), external=True)
    lock = f"constraints/gpu-{framework}.txt"
    pip = [str(python), "-m", "pip", "install", "-q"]
    session.run(*pip, "-c", lock, f".[{framework}-cuda,test]", env=_gpu_pip_env(), external=True)
    # The lock pins CUDA builds; say so loudly if anything else got in.
    session.run(
        str(python),
        "-c",
        "import importlib.metadata as m, sys; "
        "bad = [f'{d.metadata[\"Name\"]}=={d.version}' for d in m.distributions() "
        "if '+cpu' in d.version]; "
        "sys.exit(f'a CPU-only build was installed: {bad}') if bad else None",
        external=True,
    )
    return str(python.absolute())


def _require_gpu(session: nox.Session, name: str) -> None:
    reason = _cuda_unavailable()
    if reason:
        session.error(f"{name} needs a CUDA device: {reason}")


@nox.session(name="bench-gpu", default=False)
def bench_gpu(session: nox.Session) -> None:
    """Benchmark on CUDA (full profile), each framework in its own CUDA environment; stops at
    once if no CUDA device is visible."""
    _require_gpu(session, "bench-gpu")
    # The parent: no framework; Ray where the cells go to a Ray cluster (--executor ray).
    _install(session, "report,ray" if "ray" in session.posargs else "report")
    frameworks = _gpu_frameworks(session.posargs)
    pythons = ",".join(f"{f}={_gpu_env(session, f)}" for f in frameworks)
    session.run(
        "python",
        "-m",
        "bench",
        "run",
        "--device",
        "cuda",
        "--profile",
        "full",
        *GPU_DEFAULT_MATRIX,
        "--python",
        pythons,
        *session.posargs,  # later options win: --models all --backends all, say
    )


@nox.session(name="tests-gpu", default=False)
def tests_gpu(session: nox.Session) -> None:
    """The GPU tests (tests/test_gpu.py) inside each framework's CUDA environment."""
    _require_gpu(session, "tests-gpu")
    for framework in GPU_FRAMEWORKS:
        python = _gpu_env(session, framework)
        session.log(f"GPU tests of {framework} in {python}")
        session.run(python, "-m", "pytest", "-m", "gpu", "tests/test_gpu.py", *session.posargs,
                    external=True)  # fmt: skip


@nox.session(name="lock-gpu", default=False)
def lock_gpu(session: nox.Session) -> None:
    """Regenerate the three GPU locks from PyPI (a dry run: no wheel is downloaded)."""
    session.run("python", "constraints/lock_gpu.py", *session.posargs)


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Report the newest run of each device under results/ into results/report.html."""
    if not any(Path("results").glob("*/cells.jsonl")):
        session.error("no run under results/: run `nox -s bench` first")
    _install(session, "report")
    session.run(
        "python", "-m", "bench", "report", "--newest-in", "results", "-o", "results/report.html"
    )
