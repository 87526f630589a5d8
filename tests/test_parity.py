"""Every backend's forward pass against the float64 NumPy reference, for every model.

Backends and models come from the registries: a new one is tested here with no edit.
Backends that compile for tens of seconds (torch.compile) are marked slow.
"""

import numpy as np
import pytest

import models
from bench import backends
from bench.worker.parity import max_rel_err
from bench.worker.scenarios.fixed import inputs, reference_output
from tests.conftest import backend_params

pytestmark = pytest.mark.framework

TOLERANCE = 1e-5


def cases() -> list:
    """Every backend on every model; an ahead-of-time backend on the MLP only (exporting
    takes tens of seconds per model here; `nox -s bench` exports each one)."""
    out = []
    for param in backend_params("cpu"):
        backend = param.values[0]
        aot = backends.get(backend).artifact is not None
        for model in ("mlp",) if aot else models.MODEL_NAMES:
            out.append(pytest.param(model, backend, marks=param.marks, id=f"{backend}-{model}"))
    return out


@pytest.mark.parametrize("model, backend", cases())
def test_forward_matches_reference(backend_class, model, backend):
    cfg, params, batch = inputs(model, "quick", 4, seed=0)
    b = backend_class(backend)()
    b.build(model, cfg, params, "infer", "cpu")
    out = b.step(b.put(batch))
    b.sync(out)
    expected = reference_output(model, cfg, params, batch, "infer")
    assert max_rel_err(b.to_numpy(out), expected) < TOLERANCE


@pytest.mark.parametrize("model", models.MODEL_NAMES)
@pytest.mark.parametrize("framework", models.FRAMEWORKS)
def test_params_load_and_export_unchanged(backend_class, model, framework):
    cfg, params, _ = inputs(model, "quick", 1, seed=0)
    b = backend_class(backends.eager_baseline(framework))()
    b.build(model, cfg, params, "infer", "cpu")
    exported = b.export_params()
    assert exported.keys() == params.keys()
    for key, value in params.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
