"""Precision as a dimension: every CPU-capable policy in every framework, against the float64
reference with its own tolerance; the same amp-bf16 training step in every framework; a
precision that a device cannot run is not applicable, never a failure."""

import numpy as np
import pytest

import models
from bench import backends
from bench.matrix import precision
from bench.matrix.cells import Cell
from bench.matrix.precision import POLICIES
from bench.worker.parity import max_rel_err
from bench.worker.scenarios.fixed import inputs, reference_output
from tests.conftest import backend_params

CPU_PRECISIONS = [p for p, policy in POLICIES.items() if "cpu" in policy.devices]
REDUCED = [p for p in CPU_PRECISIONS if p != "float32"]


def onednn_cannot(backend: str, model: str, precision_name: str) -> str | None:
    """Why this CPU cannot run the case at all, or None. PyTorch's autocast runs the LSTM
    through oneDNN's bfloat16 RNN primitive, which exists only where the CPU has native
    bfloat16 (AVX512-BF16 or AMX): elsewhere oneDNN refuses to create it, and a run records
    the cell ``failed`` with that message (docs/precision.md)."""
    if model != "lstm" or precision_name != "amp-bf16":
        return None
    if backends.get(backend).framework != "torch":
        return None
    import torch

    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return None
    return "this CPU has no native bfloat16: oneDNN has no bfloat16 LSTM primitive for it"


def cases() -> list:
    out = []
    for param in backend_params("cpu"):
        backend = param.values[0]
        info = backends.get(backend)
        slow = info.slow_to_build or info.artifact is not None
        for model in ("mlp",) if slow else models.MODEL_NAMES:
            for p in (p for p in REDUCED if not info.not_applicable("infer", p)):
                out.append(
                    pytest.param(backend, model, p, marks=param.marks, id=f"{backend}-{model}-{p}")
                )
    return out


@pytest.mark.framework
@pytest.mark.parametrize("backend, model, precision_name", cases())
def test_each_reduced_precision_really_runs_and_stays_within_its_tolerance(
    backend_class, backend, model, precision_name
):
    """Within the precision's tolerance, and far above float32's error (below 1e-5 for every
    backend here): proof that the low-precision math ran."""
    cannot = onednn_cannot(backend, model, precision_name)
    cfg, params, batch = inputs(model, "quick", 4, seed=0)
    b = backend_class(backend)()
    if cannot:  # the refusal a run records as the cell's reason, and nothing else
        with pytest.raises(RuntimeError, match="could not create a primitive descriptor"):
            b.build(model, cfg, params, "infer", "cpu", precision=precision_name)
            b.sync(b.step(b.put(batch)))
        pytest.skip(cannot)
    b.build(model, cfg, params, "infer", "cpu", precision=precision_name)
    out = b.step(b.put(batch))
    b.sync(out)
    err = max_rel_err(b.to_numpy(out), reference_output(model, cfg, params, batch, "infer"))
    assert 1e-4 < err < POLICIES[precision_name].tolerance, err


def amp_step(backend_class, backend: str, model: str):
    cfg, params, batch = inputs(model, "quick", 16, seed=0)
    b = backend_class(backend)()
    b.build(model, cfg, params, "train", "cpu", precision="amp-bf16")
    loss = b.step(b.put(batch))
    b.sync(loss)
    return float(b.to_numpy(loss)), b.export_params(), params, cfg


@pytest.mark.framework
@pytest.mark.parametrize("model", models.MODEL_NAMES)
def test_one_amp_bf16_training_step_agrees_across_frameworks(backend_class, model):
    """The same loss in PyTorch, JAX and TensorFlow within the bf16 tolerance, and the float32
    master weights are what Adam updated: float32 values (not bfloat16-representable ones)
    moved by about the learning rate."""
    import ml_dtypes  # NumPy's bfloat16, from the frameworks' own dependencies

    tolerance = POLICIES["amp-bf16"].tolerance
    cfg, params, batch = inputs(model, "quick", 16, seed=0)
    expected = float(reference_output(model, cfg, params, batch, "train"))
    losses = {}
    for framework in models.FRAMEWORKS:
        if framework == "torch" and onednn_cannot("torch-eager", model, "amp-bf16"):
            continue  # the other frameworks still agree with the reference
        loss, weights, start, cfg = amp_step(
            backend_class, backends.eager_baseline(framework), model
        )
        losses[framework] = loss
        assert abs(loss - expected) / abs(expected) < tolerance, (framework, loss, expected)
        buffers = models.buffer_names(model, cfg)
        for name, value in weights.items():
            if name in buffers:
                continue
            assert value.dtype == np.float32, (framework, name)
            assert np.abs(value - start[name]).max() == pytest.approx(1e-3, rel=0.05), name
            rounded = value.astype(ml_dtypes.bfloat16).astype(np.float32)
            assert np.any(rounded != value), f"{framework} {name}: bfloat16 weights, not float32"
    spread = (max(losses.values()) - min(losses.values())) / abs(expected)
    assert spread < tolerance, losses


@pytest.mark.parametrize(
    "name, device, expected",
    [
        ("tf32", "cpu", "tf32 needs cuda: it has no cpu implementation"),
        ("amp-fp16", "cpu", "amp-fp16 needs cuda"),
        ("amp-bf16", "cpu", None),
        ("tf32", "cuda", None),
    ],
)
def test_a_precision_a_device_cannot_run_is_not_applicable(name, device, expected):
    reason = precision.not_applicable(name, device)
    assert reason == expected or (expected and expected in reason)


def test_every_policy_is_defined_once_with_a_tolerance_that_grows_with_the_roundoff():
    assert precision.PRECISIONS == ("float32", "tf32", "amp-bf16", "bf16", "amp-fp16")
    t = precision.TOLERANCE
    assert t["float32"] < t["tf32"] <= t["amp-bf16"] and t["amp-fp16"] <= t["bf16"]
    for policy in POLICIES.values():
        assert policy.definition and policy.compute in ("float32", "bfloat16", "float16")


def test_the_runner_records_cpu_only_precisions_as_not_applicable(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    from bench.matrix.profiles import settings_for
    from bench.parent.runner import Runner
    from bench.results.record import Status

    monkeypatch.setattr(backends, "not_installed_reason", lambda framework: None)
    monkeypatch.setenv("FAKE_WORKER", "crash")  # would fail if a worker were started
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    fake = [sys.executable, str(Path(__file__).with_name("fake_worker.py"))]
    runner = Runner(run_dir, "r", settings_for("quick", threads=1), worker=fake)
    cells = [
        Cell("mlp", "torch-eager", "infer", "cpu", 2, "quick", p) for p in ("tf32", "amp-fp16")
    ]
    results = runner.run(cells)
    assert [r.status for r in results] == [Status.NOT_APPLICABLE] * 2
    assert "needs cuda" in results[0].error
