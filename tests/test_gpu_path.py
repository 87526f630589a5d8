"""The GPU path as far as it can be proven without a GPU: the probes that stop a run whose
framework cannot see the GPU, per-framework interpreters, gpu-check's refusal, the locks."""

import json
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench.errors import UsageError
from bench.parent import environment
from bench.parent import probes as probe
from bench.worker import probe as probe_worker

ROOT = Path(__file__).parents[1]


def one_error_line(capsys, *argv: str) -> str:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured
    assert lines[-1].startswith("graphbench: error: ") and "Traceback" not in captured.err
    return lines[-1]


def test_a_framework_that_cannot_see_the_gpu_stops_the_run(capsys, monkeypatch, tmp_path):
    """A stand-in probe plays a CUDA 13 build on an old driver: one line, exit 2, nothing run."""
    monkeypatch.setattr(environment, "cuda_unavailable_reason", lambda: None)

    def fake_probe(framework, python, device):
        if framework == "jax":
            return probe.Probe(framework, python, installed=True, sees_device=True, floor_us={})
        return probe.Probe(
            framework,
            python,
            installed=True,
            version="2.13.0",
            cuda_build="13.0",
            driver="550.54",
            driver_needed=probe_worker.driver_needed("13.0"),
            problem="torch 2.13.0 (CUDA 13.0) sees no GPU; it needs an NVIDIA driver R580 or "
            "newer (CUDA 13), this machine has driver 550.54",
        )

    monkeypatch.setattr(probe, "run_probe", fake_probe)
    line = one_error_line(
        capsys, "run", "--device", "cuda", "--backends", "torch-eager,jax-jit",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    assert "torch 2.13.0 (CUDA 13.0) sees no GPU" in line and "R580 or newer" in line
    assert "Leave torch out" in line
    assert list(tmp_path.iterdir()) == []  # stopped before the run directory was made


@pytest.mark.framework  # probes the installed PyTorch
def test_a_cpu_build_is_refused_for_cuda():
    p = probe_worker.probe_here("torch", "cuda")
    assert p.installed and p.cuda_build is None and "is a CPU build" in p.problem
    with pytest.raises(UsageError, match=r"torch .* is a CPU build"):
        probe.check(["torch"], {}, "cuda")


def test_the_driver_each_cuda_major_needs():
    assert probe_worker.driver_needed("13.0") == "R580 or newer (CUDA 13)"
    assert probe_worker.driver_needed("12.9") == "R525 or newer (CUDA 12)"
    assert probe_worker.driver_needed(None) is None


@pytest.mark.framework  # probes the installed PyTorch
def test_the_probe_measures_the_harness_floor_on_cpu():
    p = probe_worker.probe_here("torch", "cpu")
    assert p.problem is None and 0 < p.floor_us["median"] <= p.floor_us["p90"] < 1e4


@pytest.mark.parametrize(
    "value, expected",
    [
        ("torch", "is not FRAMEWORK=PATH"),
        ("torch=", "is not FRAMEWORK=PATH"),
        ("mxnet=/usr/bin/python3", "unknown framework 'mxnet'; expected one of: torch, jax, tf"),
        ("torch=/nonexistent/python", "not an executable file"),
        (f"torch={sys.executable},torch={sys.executable}", "torch is given twice"),
    ],
)
def test_bad_interpreters_are_one_line(capsys, value, expected):
    assert expected in one_error_line(capsys, "run", "--python", value)


def test_gpu_check_without_a_gpu_is_one_line(capsys, tmp_path):
    line = one_error_line(capsys, "gpu-check", "--out-dir", str(tmp_path / "x"))
    assert "gpu-check needs a CUDA device: none is visible" in line
    assert not (tmp_path / "x").exists()


@pytest.mark.e2e
def test_cells_run_under_the_interpreter_given_for_their_framework(tmp_path):
    """--python torch=PATH: torch's workers run under PATH (another interpreter with the same
    packages, here a venv that sees this one's site-packages), and every cell and run.json
    say so."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(own) / "parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--models", "mlp", "--modes", "infer",
         "--backends", "torch-eager,jax-eager", "--python", f"torch={python}",
         "--out-dir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    cells = [json.loads(line) for line in (run_dir / "cells.jsonl").read_text().splitlines()]
    by_backend = {c["backend"]: c for c in cells}
    assert by_backend["torch-eager"]["interpreter"] == str(python.absolute())
    assert by_backend["jax-eager"]["interpreter"] == sys.executable
    assert by_backend["torch-eager"]["packages"]["torch"]
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["pythons"] == {"torch": str(python.absolute())}
    assert meta["interpreters"]["torch"]["interpreter"] == str(python.absolute())
    assert set(meta["harness_floor_us"]) == {"torch", "jax"}


LOCKS = sorted((ROOT / "constraints").glob("gpu-*.txt"))


def test_there_is_a_lock_per_framework():
    assert [p.name for p in LOCKS] == ["gpu-jax.txt", "gpu-tf.txt", "gpu-torch.txt"]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_gpu_lock_pins_everything_on_one_cuda_stack(lock):
    pins = {}
    for line in lock.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and " " not in version, f"{lock.name}: {line!r} is not pinned"
            pins[name.lower()] = version
    assert not [v for v in pins.values() if "+" in v], "a local (+cpu) build in a GPU lock"
    nvidia = [n for n in pins if n.startswith("nvidia-") and n != "nvidia-ml-py"]
    assert len(nvidia) >= 5, "the CUDA libraries must be pinned too"
    suffixes = {m.group(1) for n in nvidia if (m := re.search(r"-cu(\d+)$", n))}
    runtime = pins.get("nvidia-cuda-runtime") or pins.get("nvidia-cuda-runtime-cu12")
    majors = suffixes | {runtime.split(".")[0]}
    assert len(majors) == 1, f"{lock.name} mixes CUDA stacks: {sorted(majors)}"
    framework = lock.stem.removeprefix("gpu-")
    expected = {"torch": "13", "jax": "13", "tf": "12"}[framework]
    assert majors == {expected}


def test_gpu_check_runs_the_tests_the_matrix_and_the_report(capsys, monkeypatch, tmp_path):
    """gpu-check's orchestration with a stand-in GPU: healthy probes and a worker that returns
    a plausible CUDA result at once. Its files, its summary and its time budget."""
    from bench import backends
    from bench.parent.cell_task import TaskResult, WorkerRun
    from bench.parent.executors import local
    from bench.parent.runner import Runner

    monkeypatch.setattr(environment, "cuda_unavailable_reason", lambda: None)
    floor = {"median": 8.0, "p90": 9.0}
    monkeypatch.setattr(
        probe,
        "run_probe",
        lambda f, py, d: probe.Probe(f, py, installed=True, sees_device=True, floor_us=floor),
    )

    def fake_task(task):
        cell = task.job.cell
        record = {"schema_version": 2, "run_id": task.job.run_id, **cell.to_dict(),
                  "status": "ok", "build_s": 0.1, "flops_per_step": 10**9,
                  "parity_max_rel_err": 2e-6, "parity_tolerance": 1e-3, "first_call_s": 0.5,
                  "warmup_ms": [3.0, 1.0], "samples_ms": [1.0, 1.1, 0.9], "pipeline_steps": 3,
                  "pipeline_s": 0.003, "peak_device_bytes": 2**30,
                  "device_memory_counter": "torch.cuda.max_memory_allocated",
                  "peak_gpu_process_bytes": 2**31, "gpu_process_memory_counter": "NVML",
                  "gpu_name": "Stand-in GPU", "gpu_uuid": "GPU-0"}  # fmt: skip
        return TaskResult(WorkerRun(record, 0, False, 0.1, "fake"), None, 0.1, "now", "host")

    monkeypatch.setattr(local, "run_task", fake_task)
    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)
    # The stand-in reads no reference: skip computing GPT-2's in float64 on 2 cores.
    monkeypatch.setattr(Runner, "ensure_expected", lambda self, cell: tmp_path / "unused.npz")
    monkeypatch.setattr(Runner, "ensure_eager_loss", lambda self, cell: None)  # nor eager's
    out = tmp_path / "check"
    assert cli.main(["gpu-check", "--out-dir", str(out), "--budget", "120"]) == 0
    run_dir = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"gpu-tests.log", "report.html", "summary.md", run_dir.name} <= {
        p.name for p in out.iterdir()
    }
    cells = (run_dir / "cells.jsonl").read_text().splitlines()
    assert len(cells) == 3 * 5 * 2  # mlp, cnn, transformer; five backends; infer and train
    summary = (out / "summary.md").read_text()
    assert "30 of 30 cells ran in the budget" in summary and "Stand-in GPU" not in summary
    assert "| mlp torch-eager infer cuda b2048 | ok | 2.00e-06 | 1,024 | 2,048 |" in summary
    assert "GPU tests: " in summary
    assert "Stand-in GPU" in (out / "report.html").read_text()
