"""The model contract (models.contract): every model folder has its five files and meets
the contract; specs are deterministic float32. A new folder is checked with no test edited."""

import numpy as np
import pytest

import models
from models import contract


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_every_model_meets_the_contract(name):
    assert contract.problems(name) == []


def test_the_registry_is_the_folders_with_a_spec(tmp_path, monkeypatch):
    assert models.MODEL_NAMES == ("cnn", "lstm", "mlp", "resnet", "transformer")
    assert "common" not in models.MODEL_NAMES


def test_a_model_missing_pieces_is_told_what(monkeypatch):
    import types

    spec = types.SimpleNamespace(Config=object, PROFILES={"quick": 1}, STREAM_MODES=("serve",))
    monkeypatch.setattr(models, "spec", lambda name: spec)
    found = contract.problems("mlp")
    assert any("lacks BATCH_SIZE" in p for p in found)


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
    assert set(spec.buffers(cfg)) <= set(a)


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
