"""LSTM: a text classifier. Embedding, L stacked LSTM layers, a linear layer on the last step.

token ids (B, T) -> embedding (B, T, E) -> LSTM layer 1 .. L (hidden H) -> h_T of layer L (B, H)
-> linear (H -> classes). Initial h and c are zeros; no peepholes, no projection, no dropout.
T is not part of the model: every framework takes it from the input's shape.

Canonical params (framework-neutral; weights (in, out) so that ``y = x @ W + b``):

- ``embedding.weight`` (vocab, E): row v is token v's vector.
- ``lstm{l}.w_ih`` (in_l, 4H), ``lstm{l}.w_hh`` (H, 4H), ``lstm{l}.bias`` (4H,), l = 1..L,
  with in_1 = E and in_l = H above. The 4H columns are four gate blocks of H in the order
  (input i, forget f, cell candidate g, output o). One bias per layer. One step is::

      z = x_t @ w_ih + h @ w_hh + bias                  # (B, 4H)
      i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
      c = f * c + i * g;  h = o * tanh(c)

- ``fc.weight`` (H, classes), ``fc.bias`` (classes,).

How each framework runs it:

- PyTorch: ``nn.Embedding``, ``nn.LSTM(batch_first=True)`` (the fused CPU / cuDNN kernel),
  ``nn.Linear``. Same gate order; weights transposed to (4H, in) in ``weight_ih_l{l-1}`` /
  ``weight_hh_l{l-1}``. nn.LSTM has two biases: the canonical bias goes into ``bias_ih_l{l-1}``
  and ``bias_hh_l{l-1}`` is held at zero and frozen (``requires_grad=False``), so that Adam
  updates one bias per gate as in JAX and TF (two trainable copies would each move by ~lr, the
  effective bias by ~2 lr). Export returns ``bias_ih + bias_hh``.
- JAX: the canonical layout as is; one ``jax.lax.scan`` over time per layer.
- TensorFlow: the canonical layout as is; one ``tf.while_loop`` over a ``tf.TensorArray`` per
  layer, in a tf.Module over raw ops (no Keras layers).

JAX and TF compute every step's input projection ``x @ w_ih + bias`` for all T at once before
the loop (as cuDNN does) and run time-major (T, B, .) inside it.
Inputs: int32 token ids (B, T); targets: int32 class ids (B,).

Right-padded sequences (the dynamic-shape scenario's buckets): every framework takes an
optional ``lengths`` (B,) and classifies from the top layer's h at step ``lengths[b] - 1``
instead of the last step. The recurrence is causal, so the padding after it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.common.spec import step_flops, uniform


@dataclass(frozen=True)
class Config:
    vocab: int = 10000
    embed: int = 256
    hidden: int = 256
    layers: int = 1
    seq_len: int = 64  # of the synthetic batch; the model itself takes any length
    classes: int = 10

    def layer_inputs(self) -> tuple[int, ...]:
        """Input width of each LSTM layer."""
        return (self.embed,) + (self.hidden,) * (self.layers - 1)


PROFILES = {
    "quick": Config(),
    # Hidden 1024 makes the recurrent (B, H) @ (H, 4H) a real GEMM; 256 steps of it in sequence.
    "full": Config(hidden=1024, layers=2, seq_len=256),
}
BATCH_SIZE = {"quick": 32, "full": 64}
# What building its step costs, as a multiple of bench/cost.py's BUILD_S, per profile: part of
# the expected cost that orders and shards a run, never a result.
COST_FACTOR = {"quick": 1.5, "full": 3.0}


def describe(cfg: Config) -> str:
    return (
        f"tokens {cfg.seq_len} (vocab {cfg.vocab}) -> embed {cfg.embed} -> "
        f"LSTM {cfg.hidden} x{cfg.layers} -> last step -> fc {cfg.classes}"
    )


def init_params(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    """PyTorch's defaults: embedding N(0, 1); LSTM and linear U(+-1/sqrt(fan_in)).

    nn.LSTM draws every weight and both biases from U(+-1/sqrt(H)); the one canonical bias
    is drawn from the same range.
    """
    rng = np.random.default_rng(seed)
    h4 = 4 * cfg.hidden
    params = {"embedding.weight": rng.standard_normal((cfg.vocab, cfg.embed)).astype(np.float32)}
    for layer, fan_in in enumerate(cfg.layer_inputs(), start=1):
        params[f"lstm{layer}.w_ih"] = uniform(rng, (fan_in, h4), cfg.hidden)
        params[f"lstm{layer}.w_hh"] = uniform(rng, (cfg.hidden, h4), cfg.hidden)
        params[f"lstm{layer}.bias"] = uniform(rng, (h4,), cfg.hidden)
    params["fc.weight"] = uniform(rng, (cfg.hidden, cfg.classes), cfg.hidden)
    params["fc.bias"] = uniform(rng, (cfg.classes,), cfg.hidden)
    return params


# The dynamic-shape scenario feeds this model inference batches of varying length.
STREAM_MODES = ("infer",)


def stream_config(cfg: Config, max_len: int) -> Config:
    """A config for sequences of any length up to ``max_len``: the LSTM has no length limit."""
    return cfg


def make_batch(
    cfg: Config, batch_size: int, seed: int, length: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (B, T) with T = ``length`` or the config's ``seq_len``; class ids (B,)."""
    rng = np.random.default_rng(seed)
    steps = cfg.seq_len if length is None else length
    x = rng.integers(0, cfg.vocab, size=(batch_size, steps)).astype(np.int32)
    y = rng.integers(0, cfg.classes, size=batch_size).astype(np.int32)
    return x, y


def flops_per_step(cfg: Config, batch_size: int, mode: str) -> int:
    """Per layer and step 2*B*(in + H)*4H (both gate matmuls); the head 2*B*H*classes.

    The embedding lookup is a gather, not a matmul: not counted.
    """
    per_step = sum(4 * cfg.hidden * (fan_in + cfg.hidden) for fan_in in cfg.layer_inputs())
    forward = 2 * batch_size * (cfg.seq_len * per_step + cfg.hidden * cfg.classes)
    return step_flops(forward, mode)


# No non-trainable state.
def buffers(cfg: Config) -> list[str]:
    return []
