"""One Adam step from identical params and batch: same loss, same weights, everywhere.

Adam's first step moves each weight by about lr * sign(grad), so a weight whose
gradient is within float32 rounding of zero can move differently in two frameworks.
Hence: nearly every weight must agree to 1e-6, and none may differ by 10% of lr.
A wrong lr, beta, epsilon or epsilon placement (Keras's form) fails this.
"""

import numpy as np
import pytest

import models
from bench.expected import compute, inputs

LR = 1e-3
BATCH = 16
ALL = ("torch-eager", "torchscript", "jax-eager", "jax-jit", "tf-eager", "tf-graph", "tf-xla")


def one_step(backend_class, backend, model):
    cfg, params, batch = inputs(model, "quick", BATCH, seed=0)
    b = backend_class(backend)()
    b.build(model, cfg, params, "train", "cpu")
    loss = b.step(b.put(batch))
    b.sync(loss)
    return float(b.to_numpy(loss)), b.export_params(), params


@pytest.fixture(scope="module")
def torch_step(request):
    from tests.conftest import load_backend

    return {m: one_step(load_backend, "torch-eager", m) for m in models.MODEL_NAMES}


@pytest.mark.parametrize("model", models.MODEL_NAMES)
@pytest.mark.parametrize("backend", ALL[1:])
def test_one_adam_step_agrees_with_torch(backend_class, torch_step, model, backend):
    ref_loss, ref_weights, start = torch_step[model]
    loss, weights, _ = one_step(backend_class, backend, model)

    expected_loss = float(compute(model, "quick", BATCH, "train", seed=0))
    assert ref_loss == pytest.approx(expected_loss, rel=1e-5)
    assert loss == pytest.approx(ref_loss, rel=1e-5)

    assert weights.keys() == ref_weights.keys()
    buffers = models.buffer_names(model, inputs(model, "quick", 1, seed=0)[0])
    for name, value in weights.items():
        if name in buffers:  # running statistics: updated by momentum, not by Adam
            assert not np.array_equal(ref_weights[name], start[name]), f"{name} not updated"
            np.testing.assert_allclose(value, ref_weights[name], rtol=1e-4, atol=1e-6, err_msg=name)
            continue
        moved = np.abs(ref_weights[name] - start[name])
        assert moved.max() == pytest.approx(LR, rel=0.01), f"{name} was not updated by ~lr"
        diff = np.abs(value - ref_weights[name])
        assert diff.max() < 0.1 * LR, f"{name}: max difference {diff.max():.2e}"
        assert np.mean(diff > 1e-6) < 1e-4, f"{name}: {np.mean(diff > 1e-6):.2%} differ"
