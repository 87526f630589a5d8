"""A user's JAX model (params from ``build(seed)``, the forward pass ``apply(params, x)``), as
the JAX backends build a zoo model (models/<name>/jax.py), plus its float64 eager reference
(x64) and its FLOP count (XLA's cost analysis)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.user import UserConfig, UserModelError, one_line

FLOAT64 = "jax float64 eager (jax_enable_x64, jit disabled), same weights and batch"
FLOAT32 = "jax float32 eager, same weights and batch (float64 failed: {why})"


def seeded_params(cfg: UserConfig, seed: int):
    params = cfg.spec.build(seed)
    leaves = jax.tree.leaves(params)
    if not leaves or not all(isinstance(a, (jax.Array, np.ndarray)) for a in leaves):
        raise UserModelError(
            f"{cfg.source}: build({seed}) returned {type(params).__name__}; expected the "
            "parameters as a pytree of arrays (framework 'jax')"
        )
    return params


def build(cfg: UserConfig, params: dict[str, np.ndarray]) -> tuple[object, dict]:
    return seeded_params(cfg, int(params["seed"])), {}


def apply(cfg: UserConfig, params, state: dict, x, train: bool):
    return cfg.spec.apply(params, x), state


def export(cfg: UserConfig, params, state: dict) -> dict[str, np.ndarray]:
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return {jax.tree_util.keystr(path): np.asarray(a, dtype=np.float32) for path, a in flat}


def default_loss(logits, targets):
    """Mean cross-entropy, classes on the last axis."""
    flat = logits.reshape(-1, logits.shape[-1])
    return optax.softmax_cross_entropy_with_integer_labels(flat, targets.reshape(-1)).mean()


def training_loss(cfg: UserConfig):
    own = cfg.spec.loss or default_loss

    def loss(logits, targets, lengths=None):
        return own(logits, targets)

    return loss


def _cast(tree, dtype):
    return jax.tree.map(
        lambda a: jnp.asarray(a, dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
    )


def output(cfg: UserConfig, params, x, y, mode: str) -> np.ndarray:
    with jax.disable_jit():
        logits = cfg.spec.apply(params, x)
        out = logits if mode == "infer" else training_loss(cfg)(logits, y)
    return np.asarray(out)


def reference(cfg: UserConfig, seed: int, batch, mode: str) -> tuple[np.ndarray, str]:
    x, y = batch
    params = seeded_params(cfg, seed)
    try:
        jax.config.update("jax_enable_x64", True)
        wide = _cast(params, jnp.float64)
        x64 = x.astype(np.float64) if x.dtype.kind == "f" else x
        out = output(cfg, wide, jnp.asarray(x64), jnp.asarray(y), mode)
        if out.dtype != np.float64:
            raise TypeError(f"the output is {out.dtype}, not float64")
        return out, FLOAT64
    except Exception as exc:
        jax.config.update("jax_enable_x64", False)
        params = seeded_params(cfg, seed)
        out = output(cfg, params, jnp.asarray(x), jnp.asarray(y), mode)
        return out.astype(np.float32), FLOAT32.format(why=one_line(exc))


COUNTER = "XLA cost_analysis of jax.jit(step).lower(...).compile()"


def count_flops(cfg: UserConfig, seed: int, batch, mode: str) -> tuple[int | None, str]:
    """FLOPs of one step as XLA counts them in the compiled step (for training: the loss
    and its gradient)."""
    jax.config.update("jax_enable_x64", False)
    x, y = (jnp.asarray(a) for a in batch)
    params = seeded_params(cfg, seed)
    loss = training_loss(cfg)

    def step(p, x, y):
        if mode == "infer":
            return cfg.spec.apply(p, x)
        return jax.value_and_grad(lambda q: loss(cfg.spec.apply(q, x), y))(p)

    return flops_of(jax.jit(step).lower(params, x, y).compile()), COUNTER


def flops_of(compiled) -> int | None:
    """The FLOPs XLA's cost analysis counts in a compiled computation (None: not counted)."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list):  # older jax: one dict per computation
        analysis = analysis[0] if analysis else {}
    flops = (analysis or {}).get("flops")
    return None if flops is None else int(flops)
