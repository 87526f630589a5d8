"""LSTM-specific checks the generic tests cannot make.

The generic tests run the quick profile only: one layer, one sequence length, random weights
checked against the reference (whose gate order nn.LSTM pins). Here: the canonical gate order
from a closed form, a second layer, the last time step being what the classifier reads at any
sequence length, one Adam step with two layers under every backend, and the torch bias mapping.
"""

import numpy as np
import pytest

from bench.worker.parity import max_rel_err
from models.lstm import reference, spec
from tests.conftest import eager_backends, quick_cpu_backends

ALL = quick_cpu_backends()
EAGER = tuple(eager_backends().values())
# Two layers, embed != hidden (a transposed weight cannot slip through by shape).
TINY = spec.Config(vocab=50, embed=6, hidden=5, layers=2, seq_len=7, classes=3)


def run(backend_class, backend, cfg, params, x, lengths=(None,)):
    """Logits of one backend for x cut to each length (one built model serves every length)."""
    b = backend_class(backend)()
    b.build("lstm", cfg, params, "infer", "cpu")
    outs = []
    for n in lengths:
        xn = x if n is None else x[:, :n]
        out = b.step(b.put((xn, np.zeros(len(x), np.int32))))
        b.sync(out)
        outs.append(b.to_numpy(out))
    return outs


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def top_hidden_states(cfg, params, x):
    """h_t of the top layer at every step (B, T, H), by hand: explicit gate slices."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    seq, hid = p["embedding.weight"][x], cfg.hidden
    for layer in range(1, cfg.layers + 1):
        h = c = np.zeros((x.shape[0], hid))
        outs = []
        for t in range(x.shape[1]):
            z = seq[:, t] @ p[f"lstm{layer}.w_ih"] + h @ p[f"lstm{layer}.w_hh"]
            z = z + p[f"lstm{layer}.bias"]
            i, f = sig(z[:, :hid]), sig(z[:, hid : 2 * hid])
            g, o = np.tanh(z[:, 2 * hid : 3 * hid]), sig(z[:, 3 * hid :])
            c = f * c + i * g
            h = o * np.tanh(c)
            outs.append(h)
        seq = np.stack(outs, axis=1)
    return seq


def gate_params(cfg, gate_bias):
    """Every weight zero, fc the identity (logits = h_T), the bias from per-gate blocks."""
    params = {k: np.zeros_like(v) for k, v in spec.init_params(cfg, 0).items()}
    params["lstm1.bias"] = np.concatenate(gate_bias).astype(np.float32)
    params["fc.weight"] = np.eye(cfg.hidden, dtype=np.float32)
    return params


GATE_CFG = spec.Config(vocab=5, embed=3, hidden=4, layers=1, seq_len=3, classes=4)
# A different value per gate and unit: any other block order gives other numbers.
DISTINCT = (
    [0.3, -1.2, 2.0, 0.1],
    [-0.5, 1.7, 0.4, -2.2],
    [1.1, -0.8, 0.6, 2.5],
    [0.9, -0.3, 1.4, -1.6],
)
SATURATED = {  # only one gate's bias is large: every other gate sits at sigmoid/tanh(0.5)
    "forget_open": ([0.5] * 4, [30.0] * 4, [0.5] * 4, [0.5] * 4),
    "forget_shut": ([0.5] * 4, [-30.0] * 4, [0.5] * 4, [0.5] * 4),
    "input_shut": ([-30.0] * 4, [0.5] * 4, [0.5] * 4, [0.5] * 4),
}


def closed_form(gate_bias, steps):
    """Constant gates (all weights zero): c_t = f c_{t-1} + i g, h_T = o tanh(c_T)."""
    bi, bf, bg, bo = (np.asarray(b, np.float64) for b in gate_bias)
    c = np.zeros(4)
    for _ in range(steps):
        c = sig(bf) * c + sig(bi) * np.tanh(bg)
    return sig(bo) * np.tanh(c)


@pytest.mark.parametrize("backend", ("reference", *EAGER))
@pytest.mark.parametrize("case", ("distinct", *SATURATED))
def test_gate_order_is_input_forget_cell_output(backend_class, backend, case):
    gate_bias = DISTINCT if case == "distinct" else SATURATED[case]
    params = gate_params(GATE_CFG, gate_bias)
    x, _ = spec.make_batch(GATE_CFG, 2, seed=0)
    if backend == "reference":
        out = reference.forward(GATE_CFG, params, x)
    else:
        (out,) = run(backend_class, backend, GATE_CFG, params, x)
    expected = np.broadcast_to(closed_form(gate_bias, GATE_CFG.seq_len), out.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_saturated_gates_give_their_textbook_cell():
    ig = sig(0.5) * np.tanh(0.5)  # input gate times candidate, both unsaturated
    np.testing.assert_allclose(closed_form(SATURATED["forget_open"], 3), sig(0.5) * np.tanh(3 * ig))
    np.testing.assert_allclose(closed_form(SATURATED["forget_shut"], 3), sig(0.5) * np.tanh(ig))
    np.testing.assert_allclose(closed_form(SATURATED["input_shut"], 3), 0.0, atol=1e-12)


def test_reference_matches_hand_written_recurrence():
    params = spec.init_params(TINY, 0)
    x, _ = spec.make_batch(TINY, 3, seed=1)
    h_t = top_hidden_states(TINY, params, x)[:, -1]
    expected = h_t @ params["fc.weight"].astype(np.float64) + params["fc.bias"]
    np.testing.assert_allclose(reference.forward(TINY, params, x), expected, rtol=1e-12)


@pytest.mark.parametrize("backend", ALL)
def test_two_layers_read_the_last_step_at_any_length(backend_class, backend):
    """logits(x[:, :n]) = fc(h_n of the top layer over the full sequence), for several n."""
    params = spec.init_params(TINY, 0)
    x, _ = spec.make_batch(TINY, 3, seed=1)
    hs = top_hidden_states(TINY, params, x)  # (B, T, H)
    lengths = (TINY.seq_len, 1, 4)
    for n, out in zip(lengths, run(backend_class, backend, TINY, params, x, lengths), strict=True):
        expected = hs[:, n - 1] @ params["fc.weight"].astype(np.float64) + params["fc.bias"]
        assert max_rel_err(out, expected) < 1e-5, f"length {n}"


def test_every_token_matters_and_order_matters():
    params = spec.init_params(TINY, 0)
    x, _ = spec.make_batch(TINY, 2, seed=1)
    base = reference.forward(TINY, params, x)
    first = x.copy()
    first[:, 0] = (x[:, 0] + 1) % TINY.vocab
    assert not np.allclose(reference.forward(TINY, params, first), base)  # not last-token only
    assert not np.allclose(reference.forward(TINY, params, x[:, ::-1]), base)  # not a bag
    assert not np.allclose(reference.forward(TINY, params, x[:, :-1]), base)  # reads step T


def one_adam_step(backend_class, backend, params, batch):
    b = backend_class(backend)()
    b.build("lstm", TINY, params, "train", "cpu")
    loss = b.step(b.put(batch))
    b.sync(loss)
    return float(b.to_numpy(loss)), b.export_params()


@pytest.fixture(scope="module")
def torch_two_layer_step():
    from tests.conftest import load_backend

    params = spec.init_params(TINY, 0)
    batch = spec.make_batch(TINY, 8, seed=1)
    return params, batch, one_adam_step(load_backend, "torch-eager", params, batch)


# jax-eager runs jax-jit's code op by op (14 s here, each op compiled on first use): left out.
@pytest.mark.parametrize("backend", [b for b in ALL if b not in ("torch-eager", "jax-eager")])
def test_two_layer_adam_step_agrees_with_torch(backend_class, torch_two_layer_step, backend):
    """The generic train test has one layer: here the second layer's backward (the TensorArray
    of every step's h in TF, the scan's stacked outputs in JAX) runs under each backend."""
    params, batch, (ref_loss, ref_weights) = torch_two_layer_step
    loss, weights = one_adam_step(backend_class, backend, params, batch)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for name, value in weights.items():
        assert np.abs(ref_weights[name] - params[name]).max() == pytest.approx(1e-3, rel=0.01)
        assert np.abs(value - ref_weights[name]).max() < 1e-5, name


@pytest.mark.framework
def test_torch_bias_mapping():
    import torch  # frameworks are imported lazily (harness-only test runs never pay for them)

    from models.lstm import torch as lstm_torch

    params = spec.init_params(TINY, 0)
    model = lstm_torch.build(TINY, params)
    for k in range(TINY.layers):
        bias_ih, bias_hh = (
            getattr(model.lstm, f"bias_ih_l{k}"),
            getattr(model.lstm, f"bias_hh_l{k}"),
        )
        assert bias_ih.requires_grad and not bias_hh.requires_grad  # one trainable bias
        np.testing.assert_array_equal(bias_hh.detach().numpy(), 0.0)
        np.testing.assert_array_equal(bias_ih.detach().numpy(), params[f"lstm{k + 1}.bias"])
    exported = lstm_torch.export(TINY, model)
    assert exported.keys() == params.keys()
    for name, value in params.items():
        np.testing.assert_array_equal(exported[name], value, err_msg=name)

    # A model trained in plain PyTorch has both biases: its canonical bias is their sum.
    rng = np.random.default_rng(0)
    for k in range(TINY.layers):
        bias_hh = getattr(model.lstm, f"bias_hh_l{k}")
        bias_hh.data.copy_(torch.from_numpy(rng.standard_normal(4 * TINY.hidden)))
    exported = lstm_torch.export(TINY, model)
    for k in range(TINY.layers):
        total = getattr(model.lstm, f"bias_ih_l{k}") + getattr(model.lstm, f"bias_hh_l{k}")
        np.testing.assert_array_equal(exported[f"lstm{k + 1}.bias"], total.detach().numpy())
    x, _ = spec.make_batch(TINY, 3, seed=1)
    with torch.no_grad():
        out = model(torch.from_numpy(x)).numpy()
    assert max_rel_err(out, reference.forward(TINY, exported, x)) < 1e-5


def test_flops_and_batch():
    cfg = spec.PROFILES["quick"]
    forward = 2 * 32 * (64 * 4 * 256 * (256 + 256) + 256 * 10)
    assert spec.flops_per_step(cfg, 32, "infer") == forward
    assert spec.flops_per_step(cfg, 32, "train") == 3 * forward
    full = spec.PROFILES["full"]
    per_step = 4 * 1024 * (256 + 1024) + 4 * 1024 * (1024 + 1024)
    assert spec.flops_per_step(full, 1, "infer") == 2 * (256 * per_step + 1024 * 10)
    x, y = spec.make_batch(cfg, 5, seed=3)
    assert x.shape == (5, 64) and x.dtype == np.int32 and x.min() >= 0 and x.max() < cfg.vocab
    assert y.shape == (5,) and y.dtype == np.int32 and y.max() < cfg.classes
