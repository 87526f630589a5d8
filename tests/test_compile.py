"""The static backends really trace/compile, once, and stay correct. Compiles are slow
on 2 cores, so the torch.compile cases use the smallest model and batch."""

import pytest

from bench.expected import compute, inputs
from bench.stats import max_rel_err
from tests.test_train_step import one_step


def build(backend_class, backend, model, mode, batch_size=4):
    cfg, params, batch = inputs(model, "quick", batch_size, seed=0)
    b = backend_class(backend)()
    b.build(model, cfg, params, mode, "cpu")
    return b, b.put(batch)


@pytest.mark.parametrize("backend", ["jax-jit", "tf-graph", "tf-xla"])
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_one_trace_serves_every_step(backend_class, backend, mode):
    b, data = build(backend_class, backend, "cnn", mode)
    assert b.compilations() == 0
    for _ in range(3):
        b.sync(b.step(data))
    assert b.compilations() == 1


@pytest.mark.parametrize("backend", ["torch-eager", "jax-eager", "tf-eager", "torchscript"])
def test_eager_backends_report_no_compilations(backend_class, backend):
    b, data = build(backend_class, backend, "mlp", "infer")
    b.sync(b.step(data))
    assert b.compilations() is None


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch-compile", "torch-compile-max-autotune"])
def test_torch_compile_infer_compiles_and_matches_reference(backend_class, backend):
    b, data = build(backend_class, backend, "mlp", "infer")
    out = b.step(data)
    b.sync(out)
    assert b.compilations() >= 1
    assert max_rel_err(b.to_numpy(out), compute("mlp", "quick", 4, "infer", seed=0)) < 1e-5
    before = b.compilations()
    b.sync(b.step(data))
    assert b.compilations() == before  # no recompilation for the same shapes


@pytest.mark.slow
def test_torch_compile_train_step_agrees_with_eager(backend_class):
    loss, weights, _ = one_step(backend_class, "torch-compile", "mlp")
    eager_loss, eager_weights, _ = one_step(backend_class, "torch-eager", "mlp")
    assert loss == pytest.approx(eager_loss, rel=1e-5)
    for name, value in weights.items():
        assert abs(value - eager_weights[name]).max() < 1e-4, name
