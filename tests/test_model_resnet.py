"""ResNet-specific checks the generic parity/train-step tests cannot make.

The generic tests run only the quick profile (BasicBlock, even image size, batch 4, infer mode
for parity). Here: tiny configs of both block types at odd image sizes (where "SAME" padding
would pad asymmetrically) through every framework in both modes; BatchNorm's running-statistics
update against the formula; train-mode gradients against float64; ResNet-50's size and FLOPs
against torchvision's published numbers, from shapes only.
"""

import numpy as np
import pytest

import models
from models.common.reference import conv2d
from models.resnet import reference, spec
from models.resnet.spec import Config

TINY = {
    # 37 -> stem 19 -> pool 10 -> 10, 5, 3, 2: odd sizes at every stride-2 layer. layer1.0 has
    # the identity shortcut; layer3.0 (16 -> 16 channels) a projection from the stride alone.
    "basic": Config(layers=(1, 1, 1, 1), image_size=37, widths=(8, 16, 16, 32), classes=5),
    # 33 -> stem 17 -> pool 9 -> 9, 5, 3, 2; layer1.0 projects for the channels only (4 -> 16),
    # layer1.1 has the identity shortcut.
    "bottleneck": Config(
        block="bottleneck", layers=(2, 1, 1, 1), image_size=33, widths=(4, 8, 8, 16), classes=5
    ),
}
BATCH = 4
FRAMEWORKS = models.FRAMEWORKS


def rel_err(actual, expected) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def setup(block: str, seed: int = 0):
    cfg = TINY[block]
    params = spec.init_params(cfg, seed)
    x, y = spec.make_batch(cfg, BATCH, seed + 1)
    return cfg, params, x, y


def run(framework: str, cfg: Config, params, x: np.ndarray, train: bool):
    """One forward pass: (float32 logits, the params and buffers afterwards, canonical)."""
    if framework == "torch":
        import torch

        from models.resnet import torch as impl

        model = impl.build(cfg, params).train(train)
        with torch.no_grad():
            logits = model(torch.from_numpy(x)).numpy()
        return logits, impl.export(cfg, model)
    if framework == "jax":
        import jax

        from models.resnet import jax as impl

        p, state = impl.build(cfg, params)
        apply = jax.jit(impl.apply, static_argnums=(0, 4))  # op by op is slow to dispatch
        logits, new_state = apply(cfg, p, state, impl.prepare_input(x), train)
        return np.asarray(logits), impl.export(cfg, p, new_state)
    from models.resnet import tf as impl

    model = impl.build(cfg, params)
    logits = model(impl.prepare_input(x), training=train).numpy()
    return logits, impl.export(cfg, model)


@pytest.mark.framework
@pytest.mark.parametrize("block", TINY)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_mode_matches_reference_and_modes_differ(framework, block):
    cfg, params, x, _ = setup(block)
    outs = {}
    for train in (False, True):
        logits, _ = run(framework, cfg, params, x, train)
        expected = reference.forward(cfg, params, x, train=train)
        assert rel_err(logits, expected) < 1e-5, f"train={train}"
        # Infer-mode logits carry a large input-independent part (the BN shifts); the part
        # that varies between images must match too, relative to its own size.
        centred, centred_ref = logits - logits.mean(0), expected - expected.mean(0)
        assert rel_err(centred, centred_ref) < 1e-4, f"train={train}"
        outs[train] = logits
    assert rel_err(outs[True], outs[False]) > 0.1  # batch vs running statistics


@pytest.mark.framework
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_running_stats_update_is_pytorchs(framework):
    cfg, params, x, _ = setup("basic")
    _, after = run(framework, cfg, params, x, train=True)

    # The first BN layer, from its own batch statistics: biased variance normalises, the
    # unbiased one enters the running average with momentum 0.1.
    h = conv2d(x.astype(np.float64), params["conv1.weight"].astype(np.float64), None, 2, 3)
    n = h.size // h.shape[1]
    mean, unbiased = h.mean(axis=(0, 2, 3)), h.var(axis=(0, 2, 3)) * n / (n - 1)
    np.testing.assert_allclose(
        after["bn1.running_mean"],
        0.9 * params["bn1.running_mean"] + 0.1 * mean,
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        after["bn1.running_var"], 0.9 * params["bn1.running_var"] + 0.1 * unbiased, rtol=1e-5
    )
    # Every layer, against the reference; trainable params untouched by a forward pass.
    expected = reference.updated_buffers(cfg, params, x)
    assert expected.keys() == set(spec.buffers(cfg))
    for name, value in after.items():
        if name in expected:
            assert not np.allclose(value, params[name]), name
            np.testing.assert_allclose(value, expected[name], rtol=1e-4, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(value, params[name], err_msg=name)


@pytest.mark.framework
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_infer_mode_leaves_running_stats_alone(framework):
    cfg, params, x, _ = setup("bottleneck")
    _, after = run(framework, cfg, params, x, train=False)
    assert after.keys() == params.keys()
    for name, value in params.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


def torch_grads(cfg: Config, params, x, y, dtype) -> dict[str, np.ndarray]:
    import torch
    import torch.nn.functional as F

    from models.resnet import torch as impl

    model = impl.build(cfg, params).to(dtype).train()
    loss = F.cross_entropy(model(torch.from_numpy(x).to(dtype)), torch.from_numpy(y).long())
    loss.backward()
    grads = {name: p.grad.double().numpy() for name, p in model.named_parameters()}
    grads["fc.weight"] = grads["fc.weight"].T  # canonical (in, out)
    return grads


def framework_grads(framework: str, cfg: Config, params, x, y) -> dict[str, np.ndarray]:
    if framework == "torch":
        import torch

        return torch_grads(cfg, params, x, y, torch.float32)
    if framework == "jax":
        import jax

        from models.resnet import jax as impl

        p, state = impl.build(cfg, params)

        def loss_fn(p):
            logits, _ = impl.apply(cfg, p, state, impl.prepare_input(x), True)
            return -jax.nn.log_softmax(logits)[np.arange(len(y)), y].mean()

        grads = jax.jit(jax.grad(loss_fn))(p)
    else:
        import tensorflow as tf

        from models.resnet import tf as impl

        model = impl.build(cfg, params)
        with tf.GradientTape() as tape:
            logits = model(impl.prepare_input(x), training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )
        variables = {n: v for n, v in model.p.items() if v.trainable}
        grads = dict(zip(variables, tape.gradient(loss, list(variables.values())), strict=True))
    return spec.channels_first({n: np.asarray(g, dtype=np.float64) for n, g in grads.items()})


@pytest.mark.framework
@pytest.mark.parametrize("block", TINY)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_train_gradients_match_float64(framework, block):
    """Backprop through batch statistics, per tensor, against PyTorch in float64."""
    import torch

    cfg, params, x, y = setup(block)
    expected = torch_grads(cfg, params, x, y, torch.float64)
    grads = framework_grads(framework, cfg, params, x, y)
    assert grads.keys() == expected.keys() == params.keys() - set(spec.buffers(cfg))
    for name, g in expected.items():
        assert rel_err(grads[name], g) < 1e-4, name


def trainable_count(cfg: Config) -> int:
    buffers = set(spec.buffers(cfg))
    return sum(v.size for k, v in spec.init_params(cfg, 0).items() if k not in buffers)


def test_parameter_counts_are_torchvisions():
    assert trainable_count(spec.PROFILES["full"]) == 25_557_032  # resnet50
    assert trainable_count(Config(image_size=224, classes=1000)) == 11_689_512  # resnet18
    assert trainable_count(spec.PROFILES["quick"]) == 11_689_512 - 513 * 990


def test_names_and_shortcuts_follow_torchvision():
    quick, full = spec.PROFILES["quick"], spec.PROFILES["full"]
    names = spec.init_params(quick, 0).keys()
    assert {n for n in names if "downsample.0" in n} == {
        f"layer{s}.0.downsample.0.weight" for s in (2, 3, 4)
    }
    assert len(spec.buffers(quick)) == 2 * 20  # 20 BNs (stem, 16 in blocks, 3 shortcuts) x 2
    params = spec.init_params(full, 0)
    assert params["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)  # channels only
    assert "layer1.1.downsample.0.weight" not in params
    # v1.5: the stride is on the 3x3, the 1x1s keep stride 1.
    layer2 = spec.stages(full)[1][0]
    assert [(c.kernel, c.stride) for c in layer2.convs] == [(1, 1), (3, 2), (1, 1)]
    assert params["layer4.2.conv3.weight"].shape == (2048, 512, 1, 1)
    assert params["fc.weight"].shape == (2048, 1000)  # (in, out)


def test_flops_match_torchvisions_published_macs():
    # torchvision's model cards: ResNet-50 4.09 GMACs, ResNet-18 1.81 GMACs per 224x224 image
    # ("GFLOPS" there counts a multiply-add once; we count it twice).
    r50 = spec.flops_per_step(spec.PROFILES["full"], 1, "infer") / 2
    r18 = spec.flops_per_step(Config(image_size=224, classes=1000), 1, "infer") / 2
    assert r50 == pytest.approx(4.089e9, rel=1e-3)
    assert r18 == pytest.approx(1.814e9, rel=1e-3)
    quick = spec.PROFILES["quick"]
    assert spec.flops_per_step(quick, 16, "train") == 3 * spec.flops_per_step(quick, 16, "infer")


@pytest.mark.framework
def test_stride2_layers_output_shapes():
    import torch

    from models.resnet import torch as impl

    cfg = spec.PROFILES["quick"]
    model = impl.build(cfg, spec.init_params(cfg, 0)).eval()
    shapes = {}

    def record(name):
        def hook(_module, _inputs, out):
            shapes[name] = tuple(out.shape)

        return hook

    for name in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"):
        getattr(model, name).register_forward_hook(record(name))
    with torch.no_grad():
        model(torch.from_numpy(spec.make_batch(cfg, 2, 0)[0]))
    assert shapes == {
        "conv1": (2, 64, 32, 32),
        "maxpool": (2, 64, 16, 16),
        "layer1": (2, 64, 16, 16),
        "layer2": (2, 128, 8, 8),
        "layer3": (2, 256, 4, 4),
        "layer4": (2, 512, 2, 2),
    }
    # The spec's size arithmetic (used by FLOPs) agrees, odd sizes included.
    assert [s[-1].convs[-1].size_out for s in spec.stages(cfg)] == [16, 8, 4, 2]
    assert [s[-1].convs[-1].size_out for s in spec.stages(TINY["basic"])] == [10, 5, 3, 2]


def test_max_pool_pads_with_minus_infinity():
    x = -np.arange(2 * 3 * 5 * 5, dtype=np.float64).reshape(2, 3, 5, 5) - 1.0  # all negative
    out = reference.max_pool2d(x)  # (2, 3, 3, 3); zero padding would give zeros at the edges
    # Values fall in reading order, so each window's maximum is its first in-image element.
    first = [0, 1, 3]  # rows/columns -1..1, 1..3, 3..5 start in the image at 0, 1, 3
    np.testing.assert_array_equal(out, x[:, :, first][:, :, :, first])


@pytest.mark.framework
def test_torchscript_scripts_bottleneck():
    import torch

    from models.resnet import torch as impl

    cfg, params, x, _ = setup("bottleneck")
    model = impl.build(cfg, params).eval()
    scripted = torch.jit.script(model)
    with torch.no_grad():
        np.testing.assert_allclose(
            scripted(torch.from_numpy(x)).numpy(), model(torch.from_numpy(x)).numpy(), rtol=1e-6
        )


def test_layout_round_trip_and_init_is_not_trivial():
    cfg = TINY["bottleneck"]
    params = spec.init_params(cfg, 0)
    back = spec.channels_first(spec.channels_last(params))
    for name, value in params.items():
        np.testing.assert_array_equal(back[name], value, err_msg=name)
    assert spec.channels_last(params)["conv1.weight"].shape == (7, 7, 3, 4)  # HWIO
    for name in spec.buffers(cfg):
        bn = name.rsplit(".", 1)[0]
        assert not np.allclose(params[f"{bn}.weight"], 1.0)
        assert not np.allclose(params[f"{bn}.bias"], 0.0)
        assert not np.allclose(params[f"{bn}.running_mean"], 0.0)
        assert not np.allclose(params[f"{bn}.running_var"], 1.0)
