"""graphbench sessions. `nox -s bench` is the main job; `nox -s tests` runs the tests.

GPU sessions build one environment per framework (PyTorch, JAX, TensorFlow on CUDA), each
from its own complete lock in constraints/gpu-<framework>.txt, and run the workers of each
framework under its own interpreter (`python -m bench run --python ...`); the parent
process, which never imports a framework, runs in the session's environment.

CPU sessions that install PyTorch take its CPU build (the lock pins torch==X+cpu) from PyTorch's
CPU wheel index, found automatically, or from $GRAPHBENCH_TORCH_INDEX: see `_torch_source`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import nox

nox.options.default_venv_backend = "venv"


def _load_registry() -> ModuleType:
    """bench/backends/registry.py, read by its path: the frameworks (what to install for each)
    and the backends (which framework each belongs to). Standard library only, so it loads
    here, before anything of the project is installed."""
    path = Path(__file__).resolve().parent / "bench" / "backends" / "registry.py"
    spec = importlib.util.spec_from_file_location("graphbench_registry", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


REGISTRY = _load_registry()
CPU_CONSTRAINTS = "constraints/cpu.txt"
GPU_FRAMEWORKS = tuple(REGISTRY.FRAMEWORKS)
# bench-gpu's default matrix: every model but the LSTM, every backend but max-autotune and
# TorchScript: about 2 hours on one H100-class GPU with the full profile's three repetitions,
# by the cost model (docs/gpu.md; tests/test_extension_facts.py keeps the two equal).
GPU_DEFAULT_MATRIX = (
    "--models",
    "mlp,cnn,resnet,transformer",
    "--backends",
    "torch-eager,torch-compile,torch-compile-reduce-overhead,jax-eager,jax-jit,"
    "tf-eager,tf-graph,tf-xla",
)


# PyTorch's CPU build (the lock pins torch==X+cpu) lies only on PyTorch's own wheel index.
# GRAPHBENCH_TORCH_INDEX overrides that index: a mirror's URL, a folder of wheels, or `pypi`.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_INDEX_VAR = "GRAPHBENCH_TORCH_INDEX"
# The extras that bring in torch (`all` holds `torch`; `suites` torchvision, whose CPU build
# lies on the same index); the other CPU installs need no index.
TORCH_EXTRAS = (REGISTRY.FRAMEWORKS["torch"].extra, "all", "suites")
# The probe of the index ends within this, however the network fails (refused, silent, DNS).
PROBE_TIMEOUT_S = 5.0
# pip's look for the pinned wheel elsewhere (find-links, the configured indexes), bounded.
PIP_LOOKUP_TIMEOUT_S = 30.0
PIP_LOOKUP_ARGS = ("--timeout", "5", "--retries", "1")


class TorchSource(NamedTuple):
    """Where a CPU install takes torch from: pip's extra arguments, whether the lock's torch pin
    loses its local label (+cpu: `pypi` takes the index's build as it is), a line for the log."""

    pip_args: tuple[str, ...]
    public_pin: bool
    note: str


class TorchSourceError(Exception):
    """No usable source of the pinned torch; the message is the one line the session shows."""


def _torch_pin(constraints: str) -> str | None:
    """The version the constraints file pins torch at (e.g. 2.13.0+cpu), or None."""
    for line in Path(constraints).read_text().splitlines():
        name, sep, version = line.split("#", 1)[0].partition("==")
        if sep and name.strip().lower() == "torch":
            return version.strip()
    return None


def _why_not(error: BaseException) -> str:
    """A network error in a few words."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):  # socket.timeout too
        return "no answer"
    if isinstance(error, socket.gaierror):
        return "host name not found"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or error}"
    words = " ".join(str(getattr(error, "reason", "") or error).split())
    return words or type(error).__name__


def _probe_index(
    url: str, timeout: float = PROBE_TIMEOUT_S, cafile: str | None = None
) -> str | None:
    """Why the package index at `url` serves no torch/ page within `timeout` seconds, or None
    when it does. One GET in a daemon thread: the deadline holds even where DNS hangs."""
    page = url.rstrip("/") + "/torch/"
    if page.startswith("file:"):
        path = urllib.request.url2pathname(urllib.parse.urlsplit(page).path)
        return None if os.path.isdir(path) else f"no folder {path}"
    outcome: list[str | None] = []

    def ask() -> None:
        try:
            context = ssl.create_default_context(cafile=cafile) if cafile else None
            with urllib.request.urlopen(page, timeout=timeout, context=context) as response:
                response.read(1)
            outcome.append(None)
        except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
            outcome.append(_why_not(error))

    thread = threading.Thread(target=ask, name="torch-index-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else "no answer"


def _pip_finds(python: str, requirement: str, env: Mapping[str, str]) -> bool:
    """Whether pip, as configured (find-links, index, mirrors, constraint files), finds
    `requirement` or has it installed: a dry run, no dependencies, bounded timeouts."""
    command = [python, "-m", "pip", "install", "--dry-run", "--no-deps", "--quiet"]
    command += ["--disable-pip-version-check", *PIP_LOOKUP_ARGS, requirement]
    try:
        done = subprocess.run(
            command, env=dict(env), capture_output=True, timeout=PIP_LOOKUP_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _torch_source(
    env: Mapping[str, str],
    python: str,
    constraints: str = CPU_CONSTRAINTS,
    default_index: str = TORCH_CPU_INDEX,
    timeout: float = PROBE_TIMEOUT_S,
) -> TorchSource:
    """Where the CPU install takes the lock's torch build from (README, Two commands).

    $GRAPHBENCH_TORCH_INDEX unset: PyTorch's CPU index is probed (a GET of its torch/ page,
    `timeout` seconds at most). It answers: pip gets it as an extra index. It does not: pip's
    own configuration is asked (a bounded dry run) whether it finds the pinned wheel elsewhere
    (find-links, a mirror as index); if so, nothing is added, else TorchSourceError.
    Set to a URL (a mirror of the index; file:// for one on disk): probed the same way, and an
    extra index if it answers, else TorchSourceError. Set to a folder: pip's --find-links, if
    the pinned wheel is there. Set to `pypi`: no index added, and torch pinned by its public
    version (2.13.0, not 2.13.0+cpu), whatever build pip's index has (on PyPI, CUDA's).
    """
    pin = _torch_pin(constraints)
    if pin is None or "+" not in pin:  # a public release: on every index
        return TorchSource((), False, f"torch=={pin} from pip's own index")
    public = pin.split("+", 1)[0]
    choice = env.get(TORCH_INDEX_VAR, "").strip()
    usage = f"a URL of a mirror of {TORCH_CPU_INDEX}, a folder of wheels, or pypi"
    if choice.lower() == "pypi":
        note = f"{TORCH_INDEX_VAR}=pypi: torch=={public} from pip's own index, as it is there"
        return TorchSource((), True, note)
    if choice and "://" not in choice:
        folder = os.path.abspath(os.path.expanduser(choice))
        names = (f"torch-{pin}-*.whl", f"torch-{pin.replace('+', '%2B')}-*.whl")
        wheels = [w for n in names for w in Path(folder).glob(n)] if os.path.isdir(folder) else []
        if not wheels:
            raise TorchSourceError(
                f"{TORCH_INDEX_VAR}={choice}: no torch-{pin}-*.whl in {folder}; set it to {usage}"
            )
        return TorchSource(("--find-links", folder), False, f"torch=={pin} from {folder}")
    index = choice or default_index
    started = time.monotonic()
    reason = _probe_index(index, timeout, env.get("PIP_CERT") or None)
    took = f"{time.monotonic() - started:.1f} s"
    if reason is None:
        note = f"torch=={pin} from {index} (its torch/ page answered in {took})"
        return TorchSource(("--extra-index-url", index), False, note)
    if choice:
        raise TorchSourceError(
            f"{TORCH_INDEX_VAR}={choice} serves no torch/ page ({reason}, {took}); "
            f"set it to {usage}"
        )
    if _pip_finds(python, f"torch=={pin}", env):
        return TorchSource(
            (),
            False,
            f"PyTorch's CPU index {index} does not answer ({reason}, {took}); pip finds "
            f"torch=={pin} through its own configuration: installing it from there",
        )
    raise TorchSourceError(
        f"torch=={pin} is only on PyTorch's CPU index {index}, which does not answer ({reason}, "
        f"{took}), and pip finds it nowhere else: set {TORCH_INDEX_VAR} to a mirror's URL or a "
        f"folder of wheels, or {TORCH_INDEX_VAR}=pypi to take torch {public} as your index has it"
    )


def _public_pin_constraints(constraints: str, folder: str) -> str:
    """A copy of the constraints file in `folder` whose torch pin has no local label."""
    lines = []
    for line in Path(constraints).read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and name.strip().lower() == "torch":
            line = f"{name}=={version.split('+', 1)[0]}"
        lines.append(line)
    copy = Path(folder) / f"{Path(constraints).stem}-public-torch.txt"
    copy.write_text("\n".join(lines) + "\n")
    return str(copy)


def _install(session: nox.Session, extras: str, constraints: str = CPU_CONSTRAINTS) -> None:
    """The one install path: this project with its extras, pinned by a constraints file; torch's
    CPU build from where `_torch_source` says, where the extras bring in torch."""
    pip_args: tuple[str, ...] = ()
    if any(extra in TORCH_EXTRAS for extra in extras.split(",")):
        try:
            source = _torch_source(os.environ, str(Path(session.bin, "python")), constraints)
        except TorchSourceError as error:
            session.error(str(error))
        session.log(source.note)
        pip_args = source.pip_args
        if source.public_pin:
            constraints = _public_pin_constraints(constraints, session.create_tmp())
    session.install(*pip_args, "-c", constraints, f".[{extras}]")


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
    _install(session, "report,test,nox")
    session.run("pytest", "-m", FAST_TIER, *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite on CPU, every framework installed; GPU tests are tests-gpu's."""
    _ensure_chromium(session)
    # ray: the Ray executor's tests run real tasks; nox: tests/test_install.py reads this file;
    # onnx (in `all` too, named so a narrower `all` keeps it): the onnxruntime backend's tests.
    _install(session, "all,onnx,ray,test,nox")
    _install_suites(session)
    session.run("pytest", "-m", "not gpu", *session.posargs)


# What the suites' tests need (tests/test_suites.py): transformers (about 14 MB, 45 MB with what it
# brings), keras-hub without its dependencies (its tensorflow-text requires the full tensorflow
# beside tensorflow-cpu; keras-hub imports only absl-py, regex and tokenizers). Not torchvision
# or timm: torchvision's build for the CPU torch is only on PyTorch's CPU index, which a machine
# that finds torch elsewhere (a folder of wheels) may not reach; PyPI's is built against CUDA
# torch and does not import beside the CPU one. Their tests skip, saying so, where it is missing.
SUITES_PACKAGES = ("transformers", "absl-py", "regex", "tokenizers")
SUITES_NO_DEPS = ("keras-hub",)


def _install_suites(session: nox.Session, constraints: str = CPU_CONSTRAINTS) -> None:
    session.install("-c", constraints, *SUITES_PACKAGES)
    session.install("--no-deps", "-c", constraints, *SUITES_NO_DEPS)


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
    # Each backend's framework as its registry entry says; a name it lacks is left to
    # `bench run`, which names the valid ones.
    entries = [REGISTRY.BACKENDS.get(b.strip()) for b in chosen.split(",")]
    needed = {entry.framework for entry in entries if entry}
    return [f for f in GPU_FRAMEWORKS if f in needed]


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
    info = REGISTRY.FRAMEWORKS[framework]
    pip = [str(python), "-m", "pip", "install", "-q"]
    extras = f".[{info.cuda_extra},test]"
    session.run(*pip, "-c", info.cuda_lock, extras, env=_gpu_pip_env(), external=True)
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
    """The GPU tests (tests/test_gpu.py, tests/test_gpu_state.py) inside each framework's
    CUDA environment."""
    _require_gpu(session, "tests-gpu")
    for framework in GPU_FRAMEWORKS:
        python = _gpu_env(session, framework)
        session.log(f"GPU tests of {framework} in {python}")
        session.run(python, "-m", "pytest", "-m", "gpu", "tests/test_gpu.py",
                    "tests/test_gpu_state.py", *session.posargs, external=True)  # fmt: skip


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
