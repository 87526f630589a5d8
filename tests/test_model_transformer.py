"""Transformer-specific checks that the generic parity and train-step tests cannot make.

The generic tests compare float32 logits at one length with one init; these check the
conventions themselves: causality, the tied head, any T <= block_size, the exact math in
float64 (LayerNorm eps, tanh GELU, head order, with every param random), the reference's
attention against a loop over heads and positions, and the counts.
"""

import math

import numpy as np
import pytest

import models
from bench.worker.parity import max_rel_err
from models.transformer import reference, spec
from models.transformer.spec import Config
from tests.conftest import eager_backends, quick_cpu_backends

QUICK = spec.PROFILES["quick"]
SMALL = Config(vocab_size=61, block_size=16, seq_len=12, n_layers=2, n_heads=4, d_model=16)
EAGER = eager_backends()
ALL_BACKENDS = quick_cpu_backends()


def tokens(cfg: Config, batch: int, length: int, seed: int, low: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(low, cfg.vocab_size, size=(batch, length)).astype(np.int32)


def random_params(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    """Init params with the LayerNorm gains and biases randomised too (init has 1 and 0)."""
    rng = np.random.default_rng(seed + 1000)
    params = spec.init_params(cfg, seed)
    for name, value in params.items():
        if name.split(".")[-2] in ("ln1", "ln2", "ln_f"):
            center = 1.0 if name.endswith(".weight") else 0.0
            params[name] = (center + 0.5 * rng.standard_normal(value.shape)).astype(np.float32)
    return params


def forward_fn(backend_class, backend: str, cfg: Config, params: dict[str, np.ndarray]):
    """A backend's float32 infer step (jit, graph, XLA...) as a function of token ids."""
    b = backend_class(backend)()
    b.build("transformer", cfg, params, "infer", "cpu")

    def forward(x: np.ndarray) -> np.ndarray:
        out = b.step(b.put((x, np.zeros_like(x))))
        b.sync(out)
        return b.to_numpy(out)

    return forward


def run(backend_class, framework: str, cfg: Config, params, x, dtype=np.float32) -> np.ndarray:
    """A framework's model called directly (no backend wrapper), in float32 or float64;
    ``framework="reference"`` is the float64 NumPy definition."""
    if framework == "reference":
        return reference.forward(cfg, params, x)
    backend_class(EAGER[framework])  # configures the framework before it runs anything
    impl = models.implementation("transformer", framework)
    cast = {name: value.astype(dtype) for name, value in params.items()}
    if framework == "torch":
        import torch

        model = impl.build(cfg, params).to(torch.float64 if dtype == np.float64 else torch.float32)
        with torch.no_grad():
            logits = model(torch.from_numpy(x)).numpy()
    elif framework == "jax":
        import jax

        with jax.enable_x64(dtype == np.float64):
            params_j = {name: jax.numpy.asarray(value) for name, value in cast.items()}
            apply = jax.jit(impl.apply, static_argnums=(0, 4))  # op by op is slower here
            logits = np.asarray(apply(cfg, params_j, {}, x, False)[0])
    else:
        import tensorflow as tf

        logits = impl.build(cfg, cast)(tf.constant(x), training=False).numpy()
    assert logits.dtype == dtype
    return logits


# --- the spec ---------------------------------------------------------------------------


def test_gpt2_small_param_count_from_shapes():
    cfg = spec.PROFILES["full"]
    shapes = spec.param_shapes(cfg)  # what init_params draws, without drawing 124M floats
    count = sum(math.prod(shape) for shape in shapes.values())
    assert count == 124_439_808
    d, V, P, L = cfg.d_model, cfg.vocab_size, cfg.block_size, cfg.n_layers
    untied = V * d + P * d + L * (12 * d * d + 13 * d) + 2 * d + V * d  # + a separate head
    assert count == untied - V * d
    assert not any("head" in name for name in shapes)
    quick = spec.init_params(QUICK, 0)
    assert {k: v.shape for k, v in quick.items()} == spec.param_shapes(QUICK)


def test_batch_targets_are_the_next_tokens():
    x, y = spec.make_batch(QUICK, 4, seed=3)
    assert x.shape == y.shape == (4, QUICK.seq_len)
    assert x.dtype == y.dtype == np.int32
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    assert min(x.min(), y.min()) >= 0 and max(x.max(), y.max()) < QUICK.vocab_size


def test_flops_follow_the_documented_formula():
    T, d, V, L, B = 64, 128, 1024, 2, 8
    layer = (
        2 * T * d * 3 * d + 2 * T * T * d + 2 * T * T * d + 2 * T * d * d + 2 * T * d * 4 * d * 2
    )
    forward = B * (L * layer + 2 * T * d * V)
    assert forward == 570_425_344
    assert spec.flops_per_step(QUICK, B, "infer") == forward
    assert spec.flops_per_step(QUICK, B, "train") == 3 * forward


# --- the reference ----------------------------------------------------------------------


def test_reference_attention_matches_loops_over_heads_and_positions():
    cfg = SMALL
    rng = np.random.default_rng(0)
    d, nh, hd, T = cfg.d_model, cfg.n_heads, cfg.head_dim, 7
    p = {
        "a.qkv.weight": rng.standard_normal((d, 3 * d)),
        "a.qkv.bias": rng.standard_normal(3 * d),
        "a.proj.weight": rng.standard_normal((d, d)),
        "a.proj.bias": rng.standard_normal(d),
    }
    x = rng.standard_normal((2, T, d))
    qkv = x @ p["a.qkv.weight"] + p["a.qkv.bias"]
    merged = np.zeros((2, T, d))
    for b in range(2):
        for h in range(nh):
            cols = slice(h * hd, (h + 1) * hd)  # head h: columns h*hd.. of q, k and v
            q, k, v = (qkv[b, :, part * d :][:, cols] for part in range(3))
            for i in range(T):
                scores = [q[i] @ k[j] / math.sqrt(hd) for j in range(i + 1)]  # j <= i only
                w = np.exp(np.array(scores) - max(scores))
                merged[b, i, cols] = (w / w.sum()) @ v[: i + 1]
    expected = merged @ p["a.proj.weight"] + p["a.proj.bias"]
    got = reference.causal_self_attention(cfg, p, "a.", x)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_reference_key_bias_cannot_change_the_output():
    """Softmax is shift-invariant per query: the key bias's true gradient is exactly zero."""
    cfg, params = SMALL, random_params(SMALL, 0)
    x = tokens(cfg, 2, cfg.seq_len, seed=1)
    base = reference.forward(cfg, params, x)
    d = cfg.d_model
    for part, changes in ((0, True), (1, False), (2, True)):  # q, k, v
        bumped = {k: v.copy() for k, v in params.items()}
        bumped["h0.attn.qkv.bias"][part * d : (part + 1) * d] += 1.0
        err = max_rel_err(reference.forward(cfg, bumped, x), base)
        assert (err > 1e-3) if changes else (err < 1e-12), (part, err)


# --- every framework --------------------------------------------------------------------


@pytest.mark.parametrize("framework", models.FRAMEWORKS)
def test_float64_forward_equals_reference_with_every_param_random(backend_class, framework):
    """Float64 leaves little rounding to hide behind: a wrong LayerNorm eps (~1e-6 here),
    erf GELU (~1e-4), head order or LayerNorm gain/bias swap fails, where float32 parity
    at 1e-5 could miss the smaller ones. 1e-9, not ~1e-15: tf.nn.gelu casts its 0.044715
    through float32 (a ~1e-10 error in float64, nothing in float32)."""
    cfg, params = SMALL, random_params(SMALL, 0)
    x = tokens(cfg, 3, cfg.seq_len, seed=1)
    got = run(backend_class, framework, cfg, params, x, dtype=np.float64)
    assert max_rel_err(got, reference.forward(cfg, params, x)) < 1e-9


@pytest.mark.parametrize("framework", ["reference", *models.FRAMEWORKS])
def test_causal_no_position_sees_a_later_token(backend_class, framework):
    params, t = spec.init_params(QUICK, 0), 20
    x = tokens(QUICK, 2, QUICK.seq_len, seed=1)
    changed = x.copy()
    changed[:, t] = (changed[:, t] + 1) % QUICK.vocab_size
    before = run(backend_class, framework, QUICK, params, x)
    after = run(backend_class, framework, QUICK, params, changed)
    diff = np.abs(after - before).max(axis=(0, 2))  # (T,): largest change per position
    scale = np.abs(before).max()
    assert diff[:t].max() <= 1e-6 * scale, "an earlier position saw token t"
    assert diff[t:].min() > 1e-3 * scale, "a later position did not see token t"


@pytest.mark.parametrize("framework", ["reference", *models.FRAMEWORKS])
def test_head_is_tied_to_the_token_embedding(backend_class, framework):
    """Changing wte's row of a token absent from the input moves that token's logit at
    every position and nothing else: the head reads wte, and there is no other head."""
    params, absent = spec.init_params(QUICK, 0), 0
    x = tokens(QUICK, 2, QUICK.seq_len, seed=1, low=1)
    bumped = {k: v.copy() for k, v in params.items()}
    bumped["wte.weight"][absent] += np.random.default_rng(2).standard_normal(QUICK.d_model)
    before = run(backend_class, framework, QUICK, params, x)
    after = run(backend_class, framework, QUICK, bumped, x)
    diff, scale = np.abs(after - before), np.abs(before).max()  # (B, T, V)
    assert np.delete(diff, absent, axis=-1).max() <= 1e-6 * scale
    assert diff[..., absent].min() > 1e-5 * scale  # at every position, far above rounding


@pytest.mark.parametrize("backend", EAGER.values())
def test_export_has_no_separate_head(backend_class, backend):
    params = spec.init_params(QUICK, 0)
    b = backend_class(backend)()
    b.build("transformer", QUICK, params, "infer", "cpu")
    assert b.export_params().keys() == params.keys()


@pytest.mark.framework
def test_torch_holds_the_tied_weight_once():
    import torch

    params = spec.init_params(QUICK, 0)
    model = models.implementation("transformer", "torch").build(QUICK, params)
    assert list(model.state_dict()) == list(params)
    assert sum(p.numel() for p in model.parameters()) == sum(v.size for v in params.values())
    x = torch.from_numpy(tokens(QUICK, 1, 5, seed=1, low=1))
    model(x)[..., 0].sum().backward()  # token 0 is not in x: its row is reached only as head
    assert model.wte.weight.grad[0].abs().sum() > 0


@pytest.mark.parametrize("backend", [b for b in ALL_BACKENDS if b != "jax-eager"])
def test_any_length_up_to_block_size_gives_the_prefix(backend_class, backend):
    """T = block_size (twice the benchmark's seq_len) matches the reference, and shorter
    inputs (each traced anew by the graph backends) give its prefix. jax-eager runs the
    same apply as jax-jit, op by op (slow), and is left out."""
    params = spec.init_params(QUICK, 0)
    x = tokens(QUICK, 2, QUICK.block_size, seed=1)
    forward = forward_fn(backend_class, backend, QUICK, params)
    full = forward(x)
    assert max_rel_err(full, reference.forward(QUICK, params, x)) < 1e-5
    for length in (17, 1):
        assert max_rel_err(forward(x[:, :length]), full[:, :length]) < 1e-5, length


@pytest.mark.parametrize("framework", models.FRAMEWORKS)
def test_key_bias_gradient_is_only_rounding_noise(backend_class, framework):
    """Its true gradient is 0 (see test_reference_key_bias_cannot_change_the_output); what
    every framework computes is float32 rounding noise, far below the other biases'. (This
    is why tests/test_train_step.py compares Adam's steps only where gradients are solid.)"""
    cfg, params = SMALL, random_params(SMALL, 0)
    x = tokens(cfg, 2, cfg.seq_len, seed=1)
    w = np.random.default_rng(3).standard_normal((2, cfg.seq_len, cfg.vocab_size))
    backend_class(EAGER[framework])
    impl = models.implementation("transformer", framework)
    names = [f"h{i}.attn.qkv.bias" for i in range(cfg.n_layers)]
    if framework == "torch":
        import torch

        model = impl.build(cfg, params)
        (model(torch.from_numpy(x)) * torch.from_numpy(w).float()).sum().backward()
        grads = {n: model.get_parameter(n).grad.numpy() for n in names}
    elif framework == "jax":
        import jax

        def loss(p):
            return (impl.apply(cfg, p, {}, x, True)[0] * w).sum()

        grads = jax.jit(jax.grad(loss))(impl.build(cfg, params)[0])
    else:
        import tensorflow as tf

        model = impl.build(cfg, params)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(tf.constant(x), training=True) * w.astype(np.float32))
        grads = dict(zip(names, tape.gradient(loss, [model.p[n] for n in names]), strict=True))
    d = cfg.d_model
    for name in names:
        g = np.asarray(grads[name])
        query_and_value = np.delete(g, np.s_[d : 2 * d])
        assert np.all(query_and_value != 0), name  # query and value biases learn
        assert np.abs(g[d : 2 * d]).max() < 1e-5 * np.abs(query_and_value).max(), name
