"""ResNet with BatchNorm, torchvision's: BasicBlock (ResNet-18/34), Bottleneck (ResNet-50/101/152).

stem: conv7x7/2 (pad 3) + BN + ReLU + maxpool3x3/2 (pad 1, padded with -inf); four stages of
blocks with widths 64, 128, 256, 512 (stride 1 for the first stage, 2 for the others, on the first
block); global average pool; fc to classes. Convolutions have no bias and pad symmetrically
(k // 2), as PyTorch does: never "SAME", which pads stride-2 convolutions asymmetrically.

- BasicBlock: conv3x3/s + BN + ReLU, conv3x3 + BN, + shortcut, ReLU (expansion 1).
- Bottleneck (v1.5): conv1x1 + BN + ReLU, conv3x3/s + BN + ReLU, conv1x1 (x4) + BN, + shortcut,
  ReLU (expansion 4; the stride sits on the 3x3, as in torchvision).
- Shortcut: identity, or conv1x1/s + BN (``downsample.0``, ``downsample.1``) where the block
  changes the spatial size or the channel count.

BatchNorm is PyTorch's in every framework: eps 1e-5; train mode normalises with the batch mean and
the biased batch variance over (B, H, W) and updates ``running_mean = 0.9 * running_mean + 0.1 *
mean`` and ``running_var = 0.9 * running_var + 0.1 * unbiased_var``; infer mode uses the running
statistics. The running statistics are non-trainable state (``buffers``).

Canonical params (torchvision's state_dict names, without ``num_batches_tracked``), PyTorch's
layout:

- ``conv1.weight`` (64, C, 7, 7) OIHW; ``bn1.{weight,bias,running_mean,running_var}`` (64,);
- ``layer{s}.{i}.conv{j}.weight`` OIHW and ``layer{s}.{i}.bn{j}.*`` (out,), j = 1..2 (basic)
  or 1..3 (bottleneck); ``layer{s}.{i}.downsample.0.weight`` (out, in, 1, 1) OIHW and
  ``layer{s}.{i}.downsample.1.*`` (out,) where the block has a projection shortcut;
- ``fc.weight`` (512 * expansion, classes), i.e. (in, out); ``fc.bias`` (classes,).

Inputs: float32 NCHW (B, C, S, S); targets: int32 class ids (B,). PyTorch runs NCHW with OIHW
kernels; JAX and TF run NHWC with HWIO kernels: ``channels_last``/``channels_first`` convert the
params (every 4-D tensor; the fc follows a global pool, so no flatten order is involved) and
``models.common.spec.nhwc`` the batch (once, untimed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.common.spec import image_batch, step_flops, uniform

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
BN_STATS = ("running_mean", "running_var")


@dataclass(frozen=True)
class Config:
    block: str = "basic"  # "basic" (ResNet-18/34) or "bottleneck" (ResNet-50/101/152)
    layers: tuple[int, int, int, int] = (2, 2, 2, 2)  # blocks per stage
    image_size: int = 64
    classes: int = 10
    in_channels: int = 3
    widths: tuple[int, int, int, int] = (64, 128, 256, 512)  # stage widths (torchvision's)

    @property
    def expansion(self) -> int:
        return 4 if self.block == "bottleneck" else 1

    @property
    def depth(self) -> int:
        """Weighted layers: 18 for ResNet-18, 50 for ResNet-50."""
        return sum(self.layers) * (3 if self.block == "bottleneck" else 2) + 2

    @property
    def stem_size(self) -> int:
        """Spatial size after the stem conv (stride 2, pad 3)."""
        return conv_out(self.image_size, 7, 2, 3)

    @property
    def pool_size(self) -> int:
        """Spatial size after the stem's max pool (3x3, stride 2, pad 1): layer1's input."""
        return conv_out(self.stem_size, 3, 2, 1)

    @property
    def features(self) -> int:
        """Channels after layer4: fc's input."""
        return self.widths[-1] * self.expansion


@dataclass(frozen=True)
class Conv:
    """One convolution and the BatchNorm after it (canonical name prefixes)."""

    name: str  # e.g. "layer2.0.conv1"
    bn: str  # e.g. "layer2.0.bn1"
    c_in: int
    c_out: int
    kernel: int
    stride: int
    size_out: int  # spatial size of its output

    @property
    def padding(self) -> int:
        return self.kernel // 2


@dataclass(frozen=True)
class Block:
    """One residual block: its canonical prefix, its convolutions, its shortcut."""

    name: str  # e.g. "layer2.0"
    convs: tuple[Conv, ...]  # the main path, in order
    downsample: Conv | None  # projection shortcut, or None for the identity


PROFILES = {
    "quick": Config(),  # ResNet-18 on 3x64x64, 10 classes
    "full": Config(block="bottleneck", layers=(3, 4, 6, 3), image_size=224, classes=1000),
}
BATCH_SIZE = {"quick": 16, "full": 64}
# What building its step costs, as a multiple of bench/cost.py's BUILD_S, per profile: part of
# the expected cost that orders and shards a run, never a result.
COST_FACTOR = {"quick": 2.0, "full": 5.0}


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def stages(cfg: Config) -> list[list[Block]]:
    """The residual blocks of layer1..layer4, with their shapes."""
    out = []
    c_in, size = cfg.widths[0], cfg.pool_size
    for s, (n_blocks, width) in enumerate(zip(cfg.layers, cfg.widths, strict=True), start=1):
        c_out = width * cfg.expansion
        stage = []
        for i in range(n_blocks):
            name = f"layer{s}.{i}"
            stride = 2 if (s > 1 and i == 0) else 1
            size_out = conv_out(size, 3, stride, 1)
            if cfg.block == "bottleneck":  # v1.5: the stride is on the 3x3
                main = (
                    Conv(f"{name}.conv1", f"{name}.bn1", c_in, width, 1, 1, size),
                    Conv(f"{name}.conv2", f"{name}.bn2", width, width, 3, stride, size_out),
                    Conv(f"{name}.conv3", f"{name}.bn3", width, c_out, 1, 1, size_out),
                )
            else:
                main = (
                    Conv(f"{name}.conv1", f"{name}.bn1", c_in, width, 3, stride, size_out),
                    Conv(f"{name}.conv2", f"{name}.bn2", width, width, 3, 1, size_out),
                )
            shortcut = None
            if stride != 1 or c_in != c_out:
                shortcut = Conv(
                    f"{name}.downsample.0", f"{name}.downsample.1", c_in, c_out, 1, stride, size_out
                )
            stage.append(Block(name, main, shortcut))
            c_in, size = c_out, size_out
        out.append(stage)
    return out


def convs(cfg: Config) -> list[Conv]:
    """Every convolution in torchvision's state_dict order (stem first, shortcut last)."""
    stem = Conv("conv1", "bn1", cfg.in_channels, cfg.widths[0], 7, 2, cfg.stem_size)
    out = [stem]
    for block in (b for stage in stages(cfg) for b in stage):
        out.extend(block.convs)
        if block.downsample is not None:
            out.append(block.downsample)
    return out


def buffers(cfg: Config) -> list[str]:
    """The running statistics: non-trainable state, updated in train mode by momentum."""
    return [f"{conv.bn}.{stat}" for conv in convs(cfg) for stat in BN_STATS]


def describe(cfg: Config) -> str:
    layers = "-".join(str(n) for n in cfg.layers)
    return (
        f"ResNet-{cfg.depth} ({cfg.block} {layers}, BatchNorm), "
        f"{cfg.in_channels}x{cfg.image_size}x{cfg.image_size} -> {cfg.classes} classes"
    )


def init_params(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    """Convolutions as torchvision's ResNet (He normal, fan_out, for ReLU); the fc layer as
    PyTorch's default; BatchNorm affine and statistics away from 1 and 0.

    He init keeps the activations' scale through the depth, so the logits depend on the
    image (with PyTorch's default conv init they shrink layer by layer until the BN
    shifts dominate and every image gives nearly the same logits: a weak parity check).
    """
    rng = np.random.default_rng(seed)
    params = {}
    for conv in convs(cfg):
        fan_out = conv.c_out * conv.kernel**2
        shape = (conv.c_out, conv.c_in, conv.kernel, conv.kernel)
        weight = rng.normal(0.0, np.sqrt(2.0 / fan_out), size=shape)
        params[f"{conv.name}.weight"] = weight.astype(np.float32)  # OIHW
        c = conv.c_out
        params[f"{conv.bn}.weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        params[f"{conv.bn}.bias"] = rng.uniform(-0.1, 0.1, c).astype(np.float32)
        params[f"{conv.bn}.running_mean"] = rng.normal(0.0, 0.1, c).astype(np.float32)
        params[f"{conv.bn}.running_var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
    params["fc.weight"] = uniform(rng, (cfg.features, cfg.classes), cfg.features)  # (in, out)
    params["fc.bias"] = uniform(rng, (cfg.classes,), cfg.features)
    return params


def make_batch(cfg: Config, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return image_batch(batch_size, cfg.in_channels, cfg.image_size, cfg.classes, seed)


def flops_per_step(cfg: Config, batch_size: int, mode: str) -> int:
    """2 * multiply-adds of every convolution (shortcuts included) and of the fc layer."""
    macs = sum(c.size_out**2 * c.c_out * c.c_in * c.kernel**2 for c in convs(cfg))
    macs += cfg.features * cfg.classes
    return step_flops(2 * batch_size * macs, mode)


def channels_last(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical params -> NHWC layout: conv weights OIHW -> HWIO; everything else unchanged."""
    return {
        name: np.ascontiguousarray(v.transpose(2, 3, 1, 0)) if v.ndim == 4 else v
        for name, v in params.items()
    }


def channels_first(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of ``channels_last``: HWIO -> OIHW."""
    return {
        name: np.ascontiguousarray(v.transpose(3, 2, 0, 1)) if v.ndim == 4 else v
        for name, v in params.items()
    }


# No sequence axis: the stream scenario does not apply.
STREAM_MODES: tuple[str, ...] = ()
