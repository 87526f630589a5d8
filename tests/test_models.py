"""The specs: deterministic, float32, and every model has its five files."""

import importlib

import numpy as np
import pytest

import models

SPEC_API = (
    "Config",
    "PROFILES",
    "BATCH_SIZE",
    "init_params",
    "make_batch",
    "flops_per_step",
    "describe",
)


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_spec_contract(name):
    spec = models.spec(name)
    for attr in SPEC_API:
        assert hasattr(spec, attr), f"models/{name}/spec.py lacks {attr}"
    assert set(spec.PROFILES) == {"quick", "full"} == set(spec.BATCH_SIZE)
    assert callable(models.reference(name).forward)


@pytest.mark.parametrize("name", models.MODEL_NAMES)
@pytest.mark.parametrize("framework", models.FRAMEWORKS)
def test_framework_file_contract(name, framework):
    module = importlib.import_module(f"models.{name}.{framework}")
    assert callable(module.build) and callable(module.export)
    if framework == "jax":
        assert callable(module.apply)


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_params_and_batches_are_deterministic_float32(name):
    spec = models.spec(name)
    cfg = spec.PROFILES["quick"]
    a, b, c = spec.init_params(cfg, 0), spec.init_params(cfg, 0), spec.init_params(cfg, 1)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == np.float32
        np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    (x1, y1), (x2, y2) = spec.make_batch(cfg, 4, 1), spec.make_batch(cfg, 4, 1)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert y1.dtype.kind == "i" and y1.min() >= 0


def test_flops_counts():
    mlp = models.spec("mlp")
    cfg = mlp.PROFILES["quick"]
    forward = 2 * 8 * (784 * 1024 + 1024 * 1024 + 1024 * 10)
    assert mlp.flops_per_step(cfg, 8, "infer") == forward
    assert mlp.flops_per_step(cfg, 8, "train") == 3 * forward
    cnn = models.spec("cnn")
    cfg = cnn.PROFILES["quick"]
    conv = 30 * 30 * 32 * 3 * 9 + 13 * 13 * 64 * 32 * 9
    assert cnn.flops_per_step(cfg, 1, "infer") == 2 * (conv + 2304 * 128 + 128 * 10)
    with pytest.raises(ValueError, match="mode"):
        cnn.flops_per_step(cfg, 1, "serve")


def test_cnn_layout_round_trip():
    cnn = models.spec("cnn")
    cfg = cnn.PROFILES["quick"]
    params = cnn.init_params(cfg, 0)
    back = cnn.channels_first(cfg, cnn.channels_last(cfg, params))
    for key in params:
        np.testing.assert_array_equal(back[key], params[key])
