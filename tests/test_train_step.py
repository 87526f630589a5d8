"""One Adam step from identical params and batch: same loss, same weights, everywhere.

Adam's first step moves each weight by lr * g / (|g| + eps), about lr * sign(g). Where the
gradient is solid (well above its rounding error and above eps), a float32 rounding
difference in g changes that step by far less than 1e-6: the weights must agree to 1e-6.
Where the true gradient is zero or within rounding of it (e.g. attention's key bias, which
the softmax cancels exactly), the sign is rounding noise and two frameworks may move the
weight in opposite directions: those entries are only held to Adam's bound |step| <= lr.
Which gradients are solid is read from PyTorch's backward pass in float64, against its
float32 rounding error. A wrong lr, beta, epsilon or epsilon placement (Keras's form)
fails this.
"""

import numpy as np
import pytest

import models
from bench import backends
from bench.worker.scenarios.fixed import inputs, reference_output
from tests.conftest import backend_params

pytestmark = pytest.mark.framework

# A gradient entry is solid where it exceeds its tensor's float32 rounding error this many
# times, and Adam's epsilon (1e-8) so many times that the step no longer depends on |g|.
SOLID_MARGIN = 10
SOLID_FLOOR = 1e-6

LR = 1e-3
BATCH = 16
REFERENCE = "torch-eager"
# Every CPU backend that trains but the one the others are held to; compiling ones run on
# the MLP only (each model is compiled in training by `nox -s bench`).
OTHERS = [
    p
    for p in backend_params("cpu")
    if p.values[0] != REFERENCE and not backends.get(p.values[0]).train_not_applicable
]


def cases() -> list:
    out = []
    for param in OTHERS:
        backend = param.values[0]
        slow = backends.get(backend).slow_to_build
        for model in ("mlp",) if slow else models.MODEL_NAMES:
            out.append(pytest.param(model, backend, marks=param.marks, id=f"{backend}-{model}"))
    return out


def one_step(backend_class, backend, model):
    cfg, params, batch = inputs(model, "quick", BATCH, seed=0)
    b = backend_class(backend)()
    b.build(model, cfg, params, "train", "cpu")
    loss = b.step(b.put(batch))
    b.sync(loss)
    return float(b.to_numpy(loss)), b.export_params(), params


def torch_gradients(model, dtype):
    """d loss / d param in canonical names and layouts, from PyTorch's backward pass."""
    import torch
    import torch.nn.functional as F

    cfg, params, (x, y) = inputs(model, "quick", BATCH, seed=0)
    impl = models.implementation(model, "torch")
    module = impl.build(cfg, params).to(dtype).train()
    x = torch.from_numpy(models.prepare_input(impl)(x))
    logits = module(x.to(dtype) if x.is_floating_point() else x)
    flat_y = torch.from_numpy(y).long().reshape(-1)
    F.cross_entropy(logits.reshape(-1, logits.shape[-1]), flat_y).backward()
    with torch.no_grad():  # the module's weights become its gradients: export maps them
        for p in module.parameters():
            p.copy_(p.grad if p.grad is not None else torch.zeros_like(p))
    return {k: v.astype(np.float64) for k, v in impl.export(cfg, module.to(torch.float32)).items()}


def solid_gradients(model) -> dict[str, np.ndarray]:
    """Where the gradient's sign is not float32 rounding noise, per canonical param.

    The float32 gradient's error is measured against float64 (per tensor, its largest);
    an entry is solid where the true gradient exceeds ten times that error (so its sign is
    certain) and 1e-6 (a hundred epsilons, so lr * g / (|g| + eps) is lr * sign(g) to 1%
    of a rounding error).
    """
    import torch

    exact = torch_gradients(model, torch.float64)
    rounded = torch_gradients(model, torch.float32)
    return {
        name: np.abs(g) > max(SOLID_MARGIN * np.abs(rounded[name] - g).max(), SOLID_FLOOR)
        for name, g in exact.items()
    }


@pytest.fixture(scope="module")
def torch_step(request):
    from tests.conftest import load_backend

    load_backend(REFERENCE)
    return {
        m: (*one_step(load_backend, REFERENCE, m), solid_gradients(m)) for m in models.MODEL_NAMES
    }


@pytest.mark.parametrize("model, backend", cases())
def test_one_adam_step_agrees_with_torch(backend_class, torch_step, model, backend):
    ref_loss, ref_weights, start, solid_entries = torch_step[model]
    loss, weights, _ = one_step(backend_class, backend, model)

    cfg, params, batch = inputs(model, "quick", BATCH, seed=0)
    expected_loss = float(reference_output(model, cfg, params, batch, "train"))
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
        solid = solid_entries[name]
        assert solid.any(), f"{name}: no gradient above rounding: the check would be vacuous"
        worst = diff[solid].max(initial=0.0)
        assert worst < 1e-6, f"{name}: {worst:.2e} apart where the gradient is solid"
        assert np.all(diff <= 2 * LR * (1 + 1e-3)), f"{name}: a step larger than Adam's bound"
