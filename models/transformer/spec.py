"""Transformer: a GPT-2-style decoder-only language model.

Token embedding + learned position embedding, then ``n_layers`` pre-LayerNorm blocks
(``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``), a final LayerNorm and the LM head.
Attention is causal multi-head self-attention written out (no fused kernels):
``softmax(mask(q @ k^T / sqrt(head_dim))) @ v``, heads merged, output projection. The MLP
is d -> 4d -> GELU -> d.

Conventions, the same in every framework and in the reference:

- The LM head is tied to the token embedding (GPT-2's choice): ``logits = x @ wte.T``.
  There is no separate head weight among the params, and no export may invent one.
- GELU is the tanh approximation, ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
- LayerNorm: biased variance, eps 1e-5, learned gain and bias.
- Causal mask: scores at key positions j > i are set to -inf before the softmax (the
  diagonal is never masked, so no row is all -inf); the mask is built from the input's
  T, so any T <= ``block_size`` works (the position embedding is sliced to T).
- No dropout: ``train`` changes nothing.
- Right-padded batches (the dynamic-shape scenario's buckets): every framework accepts a
  ``lengths`` argument and ignores it, because attention is causal: tokens after a row's
  end cannot change its earlier logits. The training loss masks the padded targets.
- The key bias (``qkv.bias[d:2d]``) adds q_i . b_k to every score of query i, a per-row
  constant the softmax removes: its true gradient is exactly 0, and what a framework
  computes is float32 rounding noise (tests/test_train_step.py allows for that).

Canonical params (d = d_model, V = vocab_size, P = block_size; linear weights (in, out),
``y = x @ W + b``), i = 0..n_layers-1:

=========================  ==========  ==================================================
``wte.weight``             (V, d)      token embedding, and the tied LM head
``wpe.weight``             (P, d)      position embedding; row t for position t
``h{i}.ln1.weight/bias``   (d,)        LayerNorm before attention
``h{i}.attn.qkv.weight``   (d, 3d)     fused projection, columns [q | k | v]; within each,
                                       head h is columns h*hd..(h+1)*hd-1 (hd = d/heads)
``h{i}.attn.qkv.bias``     (3d,)
``h{i}.attn.proj.weight``  (d, d)      output projection; rows in merged-head order
``h{i}.attn.proj.bias``    (d,)
``h{i}.ln2.weight/bias``   (d,)        LayerNorm before the MLP
``h{i}.mlp.fc.weight``     (d, 4d)
``h{i}.mlp.fc.bias``       (4d,)
``h{i}.mlp.proj.weight``   (4d, d)
``h{i}.mlp.proj.bias``     (d,)
``ln_f.weight/bias``       (d,)        final LayerNorm
=========================  ==========  ==================================================

Layouts: JAX and TF run the canonical layout as it is. PyTorch's ``state_dict`` keys are
these names; its ``nn.Linear`` weights are stored (out, in) (transposed on load/export)
and its embeddings (``nn.Embedding``, (V, d) and (P, d)) as they are; the head reuses
``wte.weight`` itself, so the state_dict holds it once.

Initialisation: embeddings N(0, 0.02) as GPT-2's (with the tied head, the logits start
near 0 and the loss near ln V); linear weights and biases PyTorch's default
U(-1/sqrt(fan_in), 1/sqrt(fan_in)); LayerNorm gain 1 and bias 0.

Inputs: int32 token ids (B, T); targets: int32 next tokens (B, T), from one seeded random
sequence of length T + 1. The loss is the mean cross-entropy over all B*T positions.

FLOPs (each multiply-add counts 2), per sequence of length T: per layer qkv 2*T*d*3d,
scores 2*T*T*d, attention-weighted values 2*T*T*d, output projection 2*T*d*d, MLP
2*T*d*4d*2, i.e. 24*T*d^2 + 4*T^2*d; plus the LM head 2*T*d*V. The full T x T attention is
counted (it is computed, masked or not); embedding lookups, LayerNorm, softmax and GELU
are not. Training counts 3x the forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.common.spec import step_flops, uniform


@dataclass(frozen=True)
class Config:
    vocab_size: int = 1024
    block_size: int = 128  # the longest sequence the position embedding covers
    seq_len: int = 64  # the length of the benchmark's sequences (<= block_size)
    n_layers: int = 2
    n_heads: int = 4
    d_model: int = 128

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of {self.n_heads} heads")
        if not 0 < self.seq_len <= self.block_size:
            raise ValueError(f"seq_len {self.seq_len} must be in 1..block_size {self.block_size}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


PROFILES = {
    # Position table twice the sequence length, like GPT-2's 1024 for 512-token batches:
    # every run slices the position embedding.
    "quick": Config(),
    # GPT-2 small (124M params).
    "full": Config(
        vocab_size=50257, block_size=1024, seq_len=512, n_layers=12, n_heads=12, d_model=768
    ),
}
BATCH_SIZE = {"quick": 8, "full": 8}
# What building its step costs, as a multiple of bench/cost.py's BUILD_S, per profile: part of
# the expected cost that orders and shards a run, never a result.
COST_FACTOR = {"quick": 1.5, "full": 4.0}


def describe(cfg: Config) -> str:
    return (
        f"GPT, {cfg.n_layers} layers, d {cfg.d_model}, {cfg.n_heads} heads, "
        f"vocab {cfg.vocab_size}, seq {cfg.seq_len} (block {cfg.block_size}), tied head"
    )


def param_shapes(cfg: Config) -> dict[str, tuple[int, ...]]:
    """Every canonical param's shape, in init order (no arrays are made)."""
    d, V = cfg.d_model, cfg.vocab_size
    shapes: dict[str, tuple[int, ...]] = {
        "wte.weight": (V, d),
        "wpe.weight": (cfg.block_size, d),
    }
    for i in range(cfg.n_layers):
        shapes.update(
            {
                f"h{i}.ln1.weight": (d,),
                f"h{i}.ln1.bias": (d,),
                f"h{i}.attn.qkv.weight": (d, 3 * d),
                f"h{i}.attn.qkv.bias": (3 * d,),
                f"h{i}.attn.proj.weight": (d, d),
                f"h{i}.attn.proj.bias": (d,),
                f"h{i}.ln2.weight": (d,),
                f"h{i}.ln2.bias": (d,),
                f"h{i}.mlp.fc.weight": (d, 4 * d),
                f"h{i}.mlp.fc.bias": (4 * d,),
                f"h{i}.mlp.proj.weight": (4 * d, d),
                f"h{i}.mlp.proj.bias": (d,),
            }
        )
    shapes["ln_f.weight"] = (d,)
    shapes["ln_f.bias"] = (d,)
    return shapes


def linear_weights(cfg: Config) -> set[str]:
    """The (in, out) linear weights: PyTorch stores these transposed."""
    names = ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")
    return {f"h{i}.{name}.weight" for i in range(cfg.n_layers) for name in names}


def init_params(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = param_shapes(cfg)
    params = {}
    for name, shape in shapes.items():
        module = name.rsplit(".", 1)[0]  # e.g. "h0.attn.qkv"
        if module in ("wte", "wpe"):
            params[name] = (0.02 * rng.standard_normal(shape)).astype(np.float32)  # GPT-2's
        elif module.endswith(("ln1", "ln2", "ln_f")):
            fill = 1.0 if name.endswith(".weight") else 0.0
            params[name] = np.full(shape, fill, dtype=np.float32)
        else:  # a linear layer's weight (in, out) or bias
            fan_in = shapes[f"{module}.weight"][0]
            params[name] = uniform(rng, shape, fan_in)
    return params


# The dynamic-shape scenario feeds this model inference and training batches of varying length.
STREAM_MODES = ("infer", "train")


def stream_config(cfg: Config, max_len: int) -> Config:
    """A config whose position embedding covers sequences up to ``max_len``."""
    return replace(cfg, block_size=max(cfg.block_size, max_len))


def make_batch(
    cfg: Config, batch_size: int, seed: int, length: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (B, T) and their next tokens (B, T): one random sequence of T + 1, split.

    T is ``length`` or the config's ``seq_len``.
    """
    rng = np.random.default_rng(seed)
    steps = cfg.seq_len if length is None else length
    if not 0 < steps <= cfg.block_size:
        raise ValueError(f"length {steps} must be in 1..block_size {cfg.block_size}")
    tokens = rng.integers(0, cfg.vocab_size, size=(batch_size, steps + 1))
    tokens = tokens.astype(np.int32)
    return tokens[:, :-1].copy(), tokens[:, 1:].copy()


def forward_flops(cfg: Config, batch_size: int, seq_len: int) -> int:
    """One forward pass over (batch_size, seq_len) tokens; see the module docstring."""
    T, d = seq_len, cfg.d_model
    per_layer = (
        2 * T * d * 3 * d  # qkv
        + 2 * T * T * d  # q @ k^T
        + 2 * T * T * d  # att @ v
        + 2 * T * d * d  # output projection
        + 2 * T * d * 4 * d * 2  # MLP, two matmuls
    )
    head = 2 * T * d * cfg.vocab_size
    return batch_size * (cfg.n_layers * per_layer + head)


def flops_per_step(cfg: Config, batch_size: int, mode: str) -> int:
    return step_flops(forward_flops(cfg, batch_size, cfg.seq_len), mode)


# No non-trainable state.
def buffers(cfg: Config) -> list[str]:
    return []
