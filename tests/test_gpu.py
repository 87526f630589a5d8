"""The CUDA paths, for real: every backend of every framework installed here, on the GPU.

`nox -s tests-gpu` runs this module inside each framework's CUDA environment (one
framework per environment, so each run covers the backends of the framework installed
there); `python -m bench gpu-check` runs the subset marked ``gpu_check``. `nox -s tests`
never runs it.
Without a CUDA device every test here is skipped: CI has none, and that is the one
place a skip is right.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models
from bench import backends
from bench.parent import environment
from bench.results.store import load_run
from bench.worker.parity import max_rel_err
from bench.worker.scenarios.fixed import inputs, reference_output

NO_GPU = environment.cuda_unavailable_reason()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(NO_GPU is not None, reason=f"no CUDA device: {NO_GPU}"),
]
INSTALLED = [
    name
    for name in backends.for_device("cuda")
    if backends.not_installed_reason(backends.get(name).framework) is None
    and backends.get(name).keras_backend is None  # Keras's run Keras models, not the zoo
]
BATCH = 4
LR = 1e-3
# gpu-check's curated subset (``-m gpu_check``, bench/cli/gpucheck/gpu_tests.py), the tests
# that fit its budget and prove what no CPU run can: the MLP, inference, training and every
# precision, on each framework's eager and compiled paths and CUDA graphs (reduce-overhead);
# not max-autotune, whose kernel benchmarking alone would take the budget.
GPU_CHECK_BACKENDS = ("torch-eager", "torch-compile", "torch-compile-reduce-overhead", "jax-jit")
GPU_CHECK_MODEL = "mlp"


def gpu_check_marks(backend: str, model: str) -> list:
    """``gpu_check`` where the case is in gpu-check's subset."""
    chosen = backend in GPU_CHECK_BACKENDS and model == GPU_CHECK_MODEL
    return [pytest.mark.gpu_check] if chosen else []


def cases() -> list:
    """Every installed CUDA backend with every model; a backend that compiles for long runs
    the MLP in the quick tier and the other models under ``slow``."""
    out = []
    for backend in INSTALLED:
        slow = backends.get(backend).slow_to_build
        for model in models.MODEL_NAMES:
            marks = [pytest.mark.slow] if slow and model != "mlp" else []
            marks += gpu_check_marks(backend, model)
            out.append(pytest.param(backend, model, marks=marks, id=f"{backend}-{model}"))
    return out


def cuda_backend(name: str, precision: str = "float32"):
    """A backend configured for CUDA at ``precision`` (TF32 flags and the like are set anew
    each time; what TensorFlow fixes at its start, its threads and memory growth, stays)."""
    cls = backends.load(name)
    cls.configure("cuda", 2, precision)
    return cls()


@pytest.mark.parametrize("backend, model", cases())
def test_forward_matches_the_reference_on_cuda(backend, model):
    cfg, params, batch = inputs(model, "quick", BATCH, seed=0)
    b = cuda_backend(backend)
    b.build(model, cfg, params, "infer", "cuda")
    out = b.step(b.put(batch))
    b.sync(out)
    # TF32 is off: float32 on the GPU differs from float64 by reordered sums and cuDNN's
    # algorithms only.
    assert max_rel_err(b.to_numpy(out), reference_output(model, cfg, params, batch, "infer")) < 1e-4
    assert b.peak_device_bytes() > 0


@pytest.mark.parametrize("backend, model", cases())
def test_one_adam_step_on_cuda(backend, model):
    """The loss of the weights before the update is the reference's; every trainable weight
    moves by about the learning rate (Adam's first step)."""
    cfg, params, batch = inputs(model, "quick", 16, seed=0)
    b = cuda_backend(backend)
    b.build(model, cfg, params, "train", "cuda")
    loss = b.step(b.put(batch))
    b.sync(loss)
    expected = float(reference_output(model, cfg, params, batch, "train"))
    assert float(b.to_numpy(loss)) == pytest.approx(expected, rel=1e-4)
    weights = b.export_params()
    buffers = models.buffer_names(model, cfg)
    for name, start in params.items():
        if name not in buffers:
            moved = np.abs(weights[name] - start).max()
            assert moved == pytest.approx(LR, rel=0.05), name


EAGER_INSTALLED = [name for name in INSTALLED if not backends.get(name).static]


@pytest.mark.parametrize("backend", EAGER_INSTALLED)
def test_device_memory_readings_and_the_peak_reset_on_cuda(backend):
    """Each framework's allocator readings (Backend.device_memory): in use and peak after
    training steps; after reset_device_peak the peak starts again from what is in use
    (JAX cannot reset: its peak stays the lifetime's, and its class says so)."""
    cfg, params, batch = inputs("mlp", "quick", BATCH, seed=0)
    b = cuda_backend(backend)
    b.build("mlp", cfg, params, "train", "cuda")
    data = b.put(batch)
    for _ in range(3):
        b.sync(b.step(data))
    before = b.device_memory()
    assert before is not None and before.peak_bytes >= before.in_use_bytes > 0
    assert type(b).device_memory_counter and type(b).in_use_counter
    b.reset_device_peak()
    after = b.device_memory()
    if type(b).peak_reset is not None:
        assert after.peak_bytes <= before.peak_bytes
        assert after.peak_bytes == pytest.approx(after.in_use_bytes, rel=0.05)
    else:
        assert after.peak_bytes == before.peak_bytes
    b.sync(b.step(data))
    assert b.device_memory().peak_bytes >= after.in_use_bytes
    if type(b).reserved_memory_counter is not None and before.peak_reserved_bytes is not None:
        assert before.peak_reserved_bytes >= before.peak_bytes


@pytest.mark.slow
def test_a_cuda_run_records_the_gpu_and_both_memory_counters(tmp_path):
    names = [b for b in INSTALLED if not backends.get(b).static]  # each framework's eager
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--device",
            "cuda",
            "--models",
            "mlp",
            "--modes",
            "infer",
            "--backends",
            ",".join(names),
            "--out-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr
    run = load_run(Path(done.stdout.strip().splitlines()[-1]))
    assert len(run.results) == len(names)
    for r in run.results:
        assert r.ok, (r.cell.backend, r.error, r.process.output_tail)
        assert r.memory.peak_device_bytes > 0 and r.memory.device_memory_counter
        assert r.memory.startup_peak_device_bytes > 0 and r.memory.steady_peak_device_bytes > 0
        assert r.memory.steady_device_memory_counter
        assert r.parity.parity_phases == ["first call", "after warm-up", "after pipeline"]
        assert r.memory.peak_gpu_process_bytes > 0 and "NVML" in r.memory.gpu_process_memory_counter
        assert r.gpu.gpu_uuid and r.gpu.gpu_name and r.gpu.gpu_memory_bytes > 0
    assert run.meta.environment.gpus
    assert all(
        f in run.meta.probes.harness_floor_us for f in {r.cell.framework for r in run.results}
    )


def precision_cases() -> list:
    """Every installed CUDA backend at every precision on the MLP (quick tier), and on the
    other models under ``slow``: tf32 and amp-fp16 run only here (CUDA only)."""
    from bench.matrix.precision import PRECISIONS

    out = []
    for backend in INSTALLED:
        for model in models.MODEL_NAMES:
            for p in PRECISIONS:
                marks = [] if model == "mlp" else [pytest.mark.slow]
                marks += gpu_check_marks(backend, model)
                out.append(
                    pytest.param(backend, model, p, marks=marks, id=f"{backend}-{model}-{p}")
                )
    return out


@pytest.mark.parametrize("backend, model, precision_name", precision_cases())
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_each_precision_on_cuda(backend, model, precision_name, mode):
    from bench.matrix.precision import POLICIES

    cfg, params, batch = inputs(model, "quick", BATCH if mode == "infer" else 16, seed=0)
    b = cuda_backend(backend, precision_name)
    b.build(model, cfg, params, mode, "cuda", precision=precision_name)
    out = b.step(b.put(batch))
    b.sync(out)
    expected = reference_output(model, cfg, params, batch, mode)
    err = max_rel_err(b.to_numpy(out), expected)
    assert err < POLICIES[precision_name].tolerance, err
