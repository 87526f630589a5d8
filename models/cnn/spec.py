"""CNN: the classic CIFAR ConvNet.

conv3x3(C -> c1) + ReLU + maxpool2, conv3x3(c1 -> c2) + ReLU + maxpool2, linear(c2*s*s -> hidden)
+ ReLU, linear(hidden -> classes). Convolutions are unpadded ("valid"), stride 1.

Canonical layout (PyTorch's): inputs NCHW float32; ``conv{i}.weight`` OIHW; ``fc{i}.weight``
(in, out) with ``fc1``'s inputs in (C, H, W) flatten order. TF and JAX run channels-last:
``channels_last``/``channels_first`` convert the params (the batch is transposed once, untimed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.common.spec import image_batch, step_flops, uniform


@dataclass(frozen=True)
class Config:
    in_channels: int = 3
    image_size: int = 32
    channels: tuple[int, int] = (32, 64)
    hidden: int = 128
    classes: int = 10

    @property
    def conv_sizes(self) -> tuple[int, int]:
        """Spatial size after each conv (before its pool)."""
        s1 = self.image_size - 2
        s2 = s1 // 2 - 2
        return s1, s2

    @property
    def final_size(self) -> int:
        return self.conv_sizes[1] // 2

    @property
    def flat_features(self) -> int:
        return self.channels[1] * self.final_size**2


PROFILES = {
    "quick": Config(),
    # Four times the channels and eight times the hidden units: enough work per
    # kernel for a data-centre GPU to be busy at batch 512.
    "full": Config(channels=(128, 256), hidden=1024),
}
BATCH_SIZE = {"quick": 32, "full": 512}
# What building its step costs, as a multiple of bench/cost.py's BUILD_S, per profile: part of
# the expected cost that orders and shards a run, never a result.
COST_FACTOR = {"quick": 1.0, "full": 2.0}


def describe(cfg: Config) -> str:
    c1, c2 = cfg.channels
    return (
        f"{cfg.in_channels}x{cfg.image_size}x{cfg.image_size} -> conv3x3 {c1} -> pool -> "
        f"conv3x3 {c2} -> pool -> fc {cfg.flat_features}->{cfg.hidden}->{cfg.classes}"
    )


def init_params(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c0, (c1, c2) = cfg.in_channels, cfg.channels
    return {
        "conv1.weight": uniform(rng, (c1, c0, 3, 3), c0 * 9),
        "conv1.bias": uniform(rng, (c1,), c0 * 9),
        "conv2.weight": uniform(rng, (c2, c1, 3, 3), c1 * 9),
        "conv2.bias": uniform(rng, (c2,), c1 * 9),
        "fc1.weight": uniform(rng, (cfg.flat_features, cfg.hidden), cfg.flat_features),
        "fc1.bias": uniform(rng, (cfg.hidden,), cfg.flat_features),
        "fc2.weight": uniform(rng, (cfg.hidden, cfg.classes), cfg.hidden),
        "fc2.bias": uniform(rng, (cfg.classes,), cfg.hidden),
    }


def make_batch(cfg: Config, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return image_batch(batch_size, cfg.in_channels, cfg.image_size, cfg.classes, seed)


def flops_per_step(cfg: Config, batch_size: int, mode: str) -> int:
    c0, (c1, c2) = cfg.in_channels, cfg.channels
    s1, s2 = cfg.conv_sizes
    forward = (
        2
        * batch_size
        * (
            s1 * s1 * c1 * c0 * 9
            + s2 * s2 * c2 * c1 * 9
            + cfg.flat_features * cfg.hidden
            + cfg.hidden * cfg.classes
        )
    )
    return step_flops(forward, mode)


def _fc1_rows_chw_to_hwc(cfg: Config, w: np.ndarray) -> np.ndarray:
    c, s = cfg.channels[1], cfg.final_size
    return w.reshape(c, s, s, -1).transpose(1, 2, 0, 3).reshape(c * s * s, -1)


def _fc1_rows_hwc_to_chw(cfg: Config, w: np.ndarray) -> np.ndarray:
    c, s = cfg.channels[1], cfg.final_size
    return w.reshape(s, s, c, -1).transpose(2, 0, 1, 3).reshape(c * s * s, -1)


def channels_last(cfg: Config, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical params -> NHWC layout: conv weights HWIO, fc1 rows in (H, W, C) order."""
    out = dict(params)
    for name in ("conv1.weight", "conv2.weight"):
        out[name] = np.ascontiguousarray(params[name].transpose(2, 3, 1, 0))
    out["fc1.weight"] = np.ascontiguousarray(_fc1_rows_chw_to_hwc(cfg, params["fc1.weight"]))
    return out


def channels_first(cfg: Config, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of ``channels_last``."""
    out = dict(params)
    for name in ("conv1.weight", "conv2.weight"):
        out[name] = np.ascontiguousarray(params[name].transpose(3, 2, 0, 1))
    out["fc1.weight"] = np.ascontiguousarray(_fc1_rows_hwc_to_chw(cfg, params["fc1.weight"]))
    return out


# No non-trainable state, no sequence axis (the stream scenario does not apply).
def buffers(cfg: Config) -> list[str]:
    return []


STREAM_MODES: tuple[str, ...] = ()
