"""Every framework's forward pass against the float64 NumPy reference.

Every backend except torch.compile (compiled in test_compile.py, which is slow) runs
here: eager, TorchScript, jax.jit, tf.function and XLA.
"""

import numpy as np
import pytest

import models
from bench.expected import compute, inputs
from bench.stats import max_rel_err

TOLERANCE = 1e-5
BACKENDS = ("torch-eager", "torchscript", "jax-eager", "jax-jit", "tf-eager", "tf-graph", "tf-xla")


@pytest.mark.parametrize("model", models.MODEL_NAMES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_matches_reference(backend_class, model, backend):
    cfg, params, batch = inputs(model, "quick", 4, seed=0)
    b = backend_class(backend)()
    b.build(model, cfg, params, "infer", "cpu")
    out = b.step(b.put(batch))
    b.sync(out)
    expected = compute(model, "quick", 4, "infer", seed=0)
    assert max_rel_err(b.to_numpy(out), expected) < TOLERANCE


@pytest.mark.parametrize("model", models.MODEL_NAMES)
@pytest.mark.parametrize("backend", ("torch-eager", "jax-eager", "tf-eager"))
def test_params_load_and_export_unchanged(backend_class, model, backend):
    cfg, params, _ = inputs(model, "quick", 1, seed=0)
    b = backend_class(backend)()
    b.build(model, cfg, params, "infer", "cpu")
    exported = b.export_params()
    assert exported.keys() == params.keys()
    for key, value in params.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
