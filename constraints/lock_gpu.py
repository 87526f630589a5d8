"""Regenerate the GPU lock files constraints/gpu-{torch,jax,tf}.txt.

    python constraints/lock_gpu.py [torch|jax|tf ...]     # default: every framework

Which frameworks there are, each one's CUDA extra, lock file and pinned releases: their
entries in bench/backends/registry.py (read by its path, as noxfile.py does).

Each lock is the full pip resolution of this project with one framework's CUDA extra plus the
`test` extra, against plain PyPI, for Linux x86-64 and CPython 3.11: every package pinned, the
CUDA libraries (nvidia-*) included. The framework releases are those of the CPU lock
(constraints/cpu.txt), and so is every other package the two locks share.

How: a throwaway venv (under the temp dir, reused between runs) with an up-to-date pip runs
`pip install --dry-run --report`, isolated from this machine's pip configuration (local indexes,
constraint files). PyPI serves each wheel's METADATA on its own (PEP 658), and
`--use-feature=fast-deps` reads it by HTTP range requests where it does not, so no wheel is
downloaded. The report lists every selected distribution; the lock is written from it and then
verified: every nvidia-* distribution pinned at its resolved version, exactly one CUDA major,
no local version such as `+cpu`.

`--check` resolves and verifies without writing; with `--python` it asks another interpreter
(e.g. CPython 3.12) whether the same resolution works there. Stdlib only.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap

# Standard library from Python 3.11 on; the project's ruff target (3.10) files it apart.
import tomllib
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints"
CPU_LOCK = CONSTRAINTS / "cpu.txt"
INDEX_URL = "https://pypi.org/simple"
# The locks are for the Python the CPU lock was made on.
LOCK_PYTHON = (3, 11)
# Extras every lock carries besides the framework's CUDA extra.
COMMON_EXTRAS = ("test",)
HEAD_TIMEOUT_S = 10
NO_BREAK = "\N{NO-BREAK SPACE}"


@dataclass(frozen=True)
class Framework:
    """One lock: the project's CUDA extra for a framework, and its pinned releases."""

    key: str  # command-line name
    title: str
    extra: str
    lock_name: str  # the lock's file name under constraints/
    # GPU distribution -> the CPU-lock distribution whose release it must match.
    pins: dict[str, str]


def _registry_frameworks() -> dict[str, Framework]:
    """The frameworks of bench/backends/registry.py (stdlib only: loaded by its path)."""
    path = ROOT / "bench" / "backends" / "registry.py"
    spec = importlib.util.spec_from_file_location("graphbench_registry", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return {
        name: Framework(name, f.title, f.cuda_extra, Path(f.cuda_lock).name, dict(f.cuda_releases))
        for name, f in module.FRAMEWORKS.items()
    }


FRAMEWORKS = _registry_frameworks()

# The CUDA libraries named in each lock's header and table, by distribution name without the
# -cuNN suffix (CUDA 12 wheels carry it; most CUDA 13 wheels do not).
COMPONENTS = (
    ("CUDA runtime", "nvidia-cuda-runtime"),
    ("cuBLAS", "nvidia-cublas"),
    ("cuDNN", "nvidia-cudnn"),
    ("NCCL", "nvidia-nccl"),
    ("cuFFT", "nvidia-cufft"),
    ("cuSPARSE", "nvidia-cusparse"),
    ("nvJitLink", "nvidia-nvjitlink"),
)

# Oldest Linux driver branch that runs each CUDA major (CUDA minor-version compatibility),
# from NVIDIA's CUDA Compatibility guide, table "CUDA Toolkit 11.x, 12.x, and 13.x Minimum and
# Maximum Required Driver Versions". Newer branches run older majors too (backward compatible).
DRIVER_FLOOR = {12: "R525 or newer", 13: "R580 or newer"}

# pip settings that only say how to reach the network; every other PIP_* variable (indexes,
# find-links, constraints) would change what is resolved, so it is dropped.
NETWORK_PIP_VARS = {
    "PIP_CERT",
    "PIP_CLIENT_CERT",
    "PIP_PROXY",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_RETRIES",
}

# Distributions tied to one CUDA major that do not say which in their name (the CUDA 13 wheels
# are unsuffixed): their own version's major is the CUDA major.
VERSIONED_BY_CUDA = {"cuda-toolkit", "cuda-bindings", "nvidia-cuda-runtime"}


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name: `Jinja2` -> `jinja2`, `ml_dtypes` -> `ml-dtypes`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution a requirement string names, normalised (`jax[cuda13]>=0.4` -> `jax`)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a distribution name from {requirement!r}")
    return canonical(match.group(1))


# --- what to resolve ---------------------------------------------------------------------------


def read_cpu_lock() -> dict[str, str]:
    """The CPU lock as {normalised name: version}."""
    pins = {}
    for line in CPU_LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonical(name)] = version.strip()
    return pins


def project_requirements(extras: tuple[str, ...]) -> list[str]:
    """The project's dependencies plus those of `extras`, read from pyproject.toml.

    Listed explicitly rather than resolving the project itself: nothing is built, the project
    never appears in the resolution, and the same list works for another interpreter.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    requirements = list(project["dependencies"])
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in optional[extra]:
            # An extra may name the project's own extras (`graphbench[torch,jax]`): expand them.
            self_ref = re.fullmatch(rf"{re.escape(project['name'])}\[([^\]]+)\]", requirement)
            if self_ref:
                pending.extend(e.strip() for e in self_ref.group(1).split(","))
            else:
                requirements.append(requirement)
    return requirements


def framework_pins(framework: Framework, cpu: dict[str, str]) -> list[str]:
    """`name==version` for the framework's distributions, at the CPU lock's releases.

    The CPU lock may pin a local build (`torch==2.13.0+cpu`); PyPI has only the public
    release, which is the CUDA build.
    """
    return [
        f"{gpu_name}=={cpu[canonical(cpu_name)].split('+', 1)[0]}"
        for gpu_name, cpu_name in framework.pins.items()
    ]


def write_constraints(cpu: dict[str, str], directory: Path) -> Path:
    """The CPU lock as a constraints file, less its local builds (PyPI has none of them)."""
    path = directory / "cpu-constraints.txt"
    lines = [f"{name}=={version}" for name, version in cpu.items() if "+" not in version]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- resolving -----------------------------------------------------------------------------------


def isolated_env() -> dict[str, str]:
    """The environment for pip: plain PyPI, no configuration files, no local indexes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in NETWORK_PIP_VARS}
    # os.devnull as the configuration file makes pip load no configuration file at all.
    env.update(
        PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=INDEX_URL, PIP_DISABLE_PIP_VERSION_CHECK="1"
    )
    return env


def run(command: list[str], env: dict[str, str]) -> None:
    """Run a command, its output captured; on failure, raise with the output's tail."""
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        # pip explains a failed resolution ("The conflict is caused by: ...") at the end.
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{tail}")


def interpreter_version(python: str) -> tuple[str, tuple[int, int]]:
    """An interpreter's implementation name and (major, minor)."""
    probe = "import platform, sys; print(platform.python_implementation(), *sys.version_info[:2])"
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    implementation, major, minor = out.stdout.split()
    return implementation, (int(major), int(minor))


def lock_venv(python: str, env: dict[str, str]) -> Path:
    """A venv for `python` with an up-to-date pip, under the temp dir; reused if it is there."""
    implementation, (major, minor) = interpreter_version(python)
    venv = Path(tempfile.gettempdir()) / f"graphbench-lock-{implementation.lower()}{major}.{minor}"
    venv_python = venv / "bin" / "python"
    if not venv_python.exists():
        run([python, "-m", "venv", "--clear", str(venv)], env)
    # Old pips lack --report or resolve differently: always take the newest.
    run([str(venv_python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], env)
    return venv_python


def resolve(
    venv_python: Path, requirements: list[str], constraints: Path, env: dict[str, str]
) -> dict:
    """pip's installation report for `requirements`, from a dry run that downloads no wheel."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            str(venv_python),
            "-m",
            "pip",
            "install",
            "--dry-run",
            # Resolve everything, as for a fresh venv: what the lock venv already holds (pip,
            # and setuptools on 3.11) would otherwise be left out of the report.
            "--ignore-installed",
            "--use-feature=fast-deps",
            "--report",
            str(report),
            "--constraint",
            str(constraints),
            *requirements,
        ]
        run(command, env)
        return json.loads(report.read_text())


# --- checking ------------------------------------------------------------------------------------


def cuda_majors(packages: dict[str, dict]) -> dict[str, int | None]:
    """The CUDA major of each CUDA distribution in a resolution (None: cannot tell).

    CUDA distributions: nvidia-* (but nvidia-ml-py, the driver's NVML bindings, is versioned by
    driver, not CUDA) and any whose name says it is tied to a CUDA major. The major comes from
    a `-cuNN`/`-cudaNN-` in the name, from the version of a distribution versioned with the
    toolkit, or else from the distributions that require it (`nvidia-cufft` 12.x is CUDA 13's
    cuFFT because cuda-toolkit 13 and jax-cuda13-plugin require it).
    """
    majors: dict[str, int | None] = {}
    for name, metadata in packages.items():
        suffix = re.search(r"(?:^|-)cu(?:da)?(\d+)(?:-|$)", name)
        if suffix:
            majors[name] = int(suffix.group(1))
        elif name in VERSIONED_BY_CUDA:
            majors[name] = int(metadata["version"].split(".")[0])
        elif name.startswith("nvidia-") and name != "nvidia-ml-py":
            majors[name] = None
    # Inherit from the requirers until nothing changes (requirements chain:
    # jax-cuda13-plugin -> nvidia-cuda-nvcc -> nvidia-nvvm).
    changed = True
    while changed:
        changed = False
        for name, metadata in packages.items():
            if majors.get(name) is None:
                continue
            for requirement in metadata.get("requires_dist", []):
                required = requirement_name(requirement)
                if required in majors and majors[required] is None:
                    majors[required] = majors[name]
                    changed = True
    return majors


def single_cuda_major(packages: dict[str, dict]) -> int:
    """The resolution's one CUDA major; raise if there are several, none, or unknowns."""
    majors = cuda_majors(packages)
    unknown = sorted(name for name, major in majors.items() if major is None)
    if unknown:
        raise RuntimeError(f"cannot tell which CUDA major these are for: {', '.join(unknown)}")
    found = sorted(set(majors.values()))
    if len(found) != 1:
        by_major = {m: sorted(n for n, nm in majors.items() if nm == m) for m in found}
        raise RuntimeError(f"expected one CUDA major, found {by_major or 'none'}")
    return found[0]


def verify_lock(path: Path, packages: dict[str, dict], cpu: dict[str, str]) -> None:
    """Read the written lock back and check it against the resolution and the CPU lock.

    Every nvidia-* distribution pinned at its resolved version; no local version (a `+cpu`
    build would be a CPU-only framework); packages shared with the CPU lock at its versions.
    """
    written = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            written[canonical(name)] = version
    problems = [
        f"{name} {meta['version']} is not pinned exactly"
        for name, meta in packages.items()
        if name.startswith("nvidia-") and written.get(name) != meta["version"]
    ]
    problems += [f"local version {name}=={v}" for name, v in written.items() if "+" in v]
    problems += [
        f"{name}=={version}, the CPU lock has {cpu[name]}"
        for name, version in written.items()
        if name in cpu and cpu[name].split("+", 1)[0] != version
    ]
    if problems:
        raise RuntimeError(f"{path.name}: " + "; ".join(problems))


def wheel_sizes(urls: list[str]) -> list[int | None]:
    """Each file's size from an HTTP HEAD request's Content-Length; None where HEAD fails."""

    def head(url: str) -> int | None:
        if not url.startswith("https://"):
            return None
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=HEAD_TIMEOUT_S) as response:
                return int(response.headers["Content-Length"])
        except (OSError, KeyError, TypeError, ValueError):
            return None

    # Network-bound, not CPU-bound: a few requests at once.
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(head, urls))


# --- writing -------------------------------------------------------------------------------------


def components(packages: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(label, distribution, version) of each library in COMPONENTS that the resolution holds."""
    found = []
    for label, base in COMPONENTS:
        for name, metadata in sorted(packages.items()):
            if re.fullmatch(rf"{re.escape(base)}(-cu\d+)?", name):
                found.append((label, metadata["name"], metadata["version"]))
    return found


def cuda_summary(packages: dict[str, dict]) -> str:
    """`CUDA runtime 13.0.96, cuBLAS 13.1.1.3, ...` for the header.

    No-break spaces inside each item, so that wrapping never parts a library from its version
    (textwrap breaks only at ASCII whitespace); header() turns them back into spaces.
    """
    items = (f"{label} {version}" for label, _, version in components(packages))
    return ", ".join(item.replace(" ", NO_BREAK) for item in items)


def header(framework: Framework, pins: list[str], major: int, report: dict) -> list[str]:
    """The lock's comment header: purpose, CUDA stack, target, date, how to regenerate."""
    env = report["environment"]
    python = f"CPython {env['python_full_version']}"
    platform_ = f"{env['platform_system']} {env['platform_machine']}"
    extras = ",".join((framework.extra, *COMMON_EXTRAS))
    lines = [
        f"GPU lock: graphbench[{extras}], {framework.title} on CUDA {major}, every package pinned"
        " (the CUDA libraries, nvidia-*, included). One framework per environment.",
        f"Framework releases as in constraints/cpu.txt: {', '.join(pins)}.",
        f"CUDA {major} stack: {cuda_summary(selected(report))}.",
    ]
    if major in DRIVER_FLOOR:
        lines.append(f"Needs an NVIDIA driver for CUDA {major}: {DRIVER_FLOOR[major]}.")
    lines += [
        f"Resolved for {python} on {platform_} from {INDEX_URL} on {datetime.date.today()}.",
        f"Install: pip install -c constraints/{framework.lock_name} '.[{extras}]'",
        f"Regenerate: python constraints/lock_gpu.py {framework.key}",
    ]
    # Long lines wrap, indented, within the 100 columns of the code.
    return [
        f"# {part.replace(NO_BREAK, ' ')}"
        for line in lines
        for part in textwrap.wrap(line, width=98, subsequent_indent="  ", break_on_hyphens=False)
    ]


def selected(report: dict) -> dict[str, dict]:
    """{normalised name: metadata} of every distribution the resolution selected."""
    return {canonical(item["metadata"]["name"]): item["metadata"] for item in report["install"]}


def write_lock(path: Path, head: list[str], packages: dict[str, dict]) -> None:
    """The header, then one `name==version` per line, sorted case-insensitively."""
    pins = sorted((meta["name"], meta["version"]) for meta in packages.values())
    pins.sort(key=lambda pin: pin[0].lower())
    path.write_text("\n".join([*head, *(f"{name}=={version}" for name, version in pins)]) + "\n")


def print_table(title: str, major: int, report: dict) -> None:
    """Package count, CUDA major, the CUDA libraries' versions, total download size."""
    packages = selected(report)
    urls = [item["download_info"]["url"] for item in report["install"]]
    sizes = [size for size in wheel_sizes(urls) if size is not None]
    rows = [("packages", str(len(packages))), ("CUDA major", str(major))]
    rows += [(label, f"{version}  ({name})") for label, name, version in components(packages)]
    rows.append(("wheels", f"{sum(sizes) / 1e6:,.0f} MB ({len(sizes)} of {len(urls)} sized)"))
    print(f"\n{title}")
    for label, value in rows:
        print(f"  {label:<14}{value}")


# --- main ----------------------------------------------------------------------------------------


def lock(framework: Framework, venv_python: Path, constraints: Path, out_dir: Path) -> None:
    """Resolve one framework's lock, write it into `out_dir`, verify it, show it."""
    cpu = read_cpu_lock()
    pins = framework_pins(framework, cpu)
    requirements = project_requirements((framework.extra, *COMMON_EXTRAS)) + pins
    report = resolve(venv_python, requirements, constraints, isolated_env())
    packages = selected(report)
    major = single_cuda_major(packages)
    path = out_dir / framework.lock_name
    write_lock(path, header(framework, pins, major, report), packages)
    verify_lock(path, packages, cpu)
    python = report["environment"]["python_full_version"]
    checking = "" if out_dir == CONSTRAINTS else " (check only)"
    print_table(f"{path.name}{checking}, CPython {python}", major, report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("frameworks", nargs="*", metavar="FRAMEWORK", help=", ".join(FRAMEWORKS))
    parser.add_argument("--python", default=sys.executable, help="interpreter to resolve for")
    parser.add_argument("--check", action="store_true", help="resolve and verify, write nothing")
    args = parser.parse_args(argv)
    keys = args.frameworks or list(FRAMEWORKS)
    unknown = [key for key in keys if key not in FRAMEWORKS]
    if unknown:
        parser.error(f"unknown framework {', '.join(unknown)}: choose from {', '.join(FRAMEWORKS)}")

    # Environment markers (platform_system == "Linux") are evaluated on this machine.
    if (sys.platform, platform.machine()) != ("linux", "x86_64"):
        parser.error("the locks are for Linux x86-64: run this there")
    implementation, version = interpreter_version(args.python)
    if not args.check and (implementation, version) != ("CPython", LOCK_PYTHON):
        parser.error(f"the locks are for CPython {LOCK_PYTHON[0]}.{LOCK_PYTHON[1]}: use --check")

    venv_python = lock_venv(args.python, isolated_env())
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        constraints = write_constraints(read_cpu_lock(), Path(tmp))
        # Checking only: the locks go to the scratch dir, so that the same verification runs.
        out_dir = Path(tmp) if args.check else CONSTRAINTS
        for key in keys:
            try:
                lock(FRAMEWORKS[key], venv_python, constraints, out_dir)
            except RuntimeError as error:
                failures.append(key)
                print(f"\n{FRAMEWORKS[key].lock_name}: FAILED\n{error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
