"""gpu-check's first phase: the curated GPU tests (``-m gpu_check`` of tests/test_gpu.py).

The subset is marked in tests/test_gpu.py itself (the one place it is written): the MLP
with training and every precision on torch-eager, torch-compile, reduce-overhead and
jax-jit, no max-autotune. pytest runs in this interpreter with ``-rA`` and JUnit XML, so
every test is named with its outcome; when the budget ends, pytest is interrupted as
Ctrl-C would (it still writes its summary and its XML), then killed if it lingers.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from bench import backends

REPO = Path(__file__).resolve().parents[3]
TEST_FILE = REPO / "tests" / "test_gpu.py"
MARKER = "gpu_check"
LOG = "gpu-tests.log"
JUNIT = "gpu-tests.xml"
GRACE_S = 15.0  # for an interrupted pytest to write its summary and XML


@dataclass
class TestsOutcome:
    """What the GPU tests came to: pytest's last line (or why they did not run) and the
    tests that failed or errored, by name."""

    line: str
    failed: list[str] = field(default_factory=list)
    ran: bool = False


def argv(junit: Path) -> list[str]:
    """The pytest command of the curated subset."""
    return [
        sys.executable, "-m", "pytest", "-v", "-rA", "-p", "no:cacheprovider",
        "-m", MARKER, f"--junitxml={junit}", str(TEST_FILE),
    ]  # fmt: skip


def run(out_dir: Path, budget_s: float, skip: bool) -> TestsOutcome:
    """Run the subset within ``budget_s``; its log (and XML) go to ``out_dir``."""
    log = out_dir / LOG
    if skip:
        log.write_text("not run: --skip-tests\n")
        return TestsOutcome("not run (--skip-tests)")
    if not TEST_FILE.is_file():
        log.write_text("tests/test_gpu.py is not here (an installed copy, not a checkout)\n")
        return TestsOutcome("not run: tests/test_gpu.py is not in this copy")
    if importlib.util.find_spec("pytest") is None:
        log.write_text(f"not run: pytest is not installed in {sys.executable}\n")
        return TestsOutcome(f"not run: pytest is not installed in {sys.executable}")
    junit = out_dir / JUNIT
    path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    # Every framework's worker settings (JAX's on-demand GPU memory above all): the tests
    # run torch and JAX in one process, where JAX would otherwise take 75% of the GPU.
    for framework in backends.FRAMEWORKS.values():
        env.update(framework.worker_env)
    stopped = False
    with log.open("w") as handle:
        proc = subprocess.Popen(
            argv(junit), cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env=env
        )
        try:
            proc.wait(timeout=max(1.0, budget_s))
        except subprocess.TimeoutExpired:
            stopped = True
            proc.send_signal(signal.SIGINT)  # pytest's summary and XML, as on Ctrl-C
            try:
                proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log.read_text(errors="replace")
    if stopped:
        with log.open("a") as handle:
            handle.write(
                f"\ngpu-check: stopped at the {budget_s:.0f} s its budget gave the tests\n"
            )
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1].strip("= ") if lines else f"pytest exited {proc.returncode}"
    if stopped:
        last = f"stopped after {budget_s:.0f} s: {last}"
    return TestsOutcome(last, failed_tests(junit), ran=True)


def failed_tests(junit: Path) -> list[str]:
    """The tests the JUnit XML records as failed or errored, ``name: message``."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return []
    failed = []
    for case in root.iter("testcase"):
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            message = (bad.get("message") or "").strip().splitlines()
            failed.append(f"{case.get('name')}: {message[0][:200] if message else bad.tag}")
    return failed
