"""ResNet in PyTorch (NCHW, the canonical layout): torchvision's modules and state_dict names."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.common import torch as common
from models.resnet.spec import BN_EPS, BN_MOMENTUM, Block, Config, Conv, stages

_LINEAR_WEIGHTS = {"fc.weight"}


def conv(c: Conv) -> nn.Conv2d:
    return nn.Conv2d(c.c_in, c.c_out, c.kernel, stride=c.stride, padding=c.padding, bias=False)


def bn(c: Conv) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c.c_out, eps=BN_EPS, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    def __init__(self, block: Block):
        super().__init__()
        c1, c2 = block.convs
        self.conv1, self.bn1 = conv(c1), bn(c1)
        self.conv2, self.bn2 = conv(c2), bn(c2)
        d = block.downsample
        self.downsample = None if d is None else nn.Sequential(conv(d), bn(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, S, S)
        h = F.relu(self.bn1(self.conv1(x)))  # (B, width, S/stride, S/stride)
        h = self.bn2(self.conv2(h))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(h + shortcut)  # (B, C_out, S/stride, S/stride)


class Bottleneck(nn.Module):
    def __init__(self, block: Block):
        super().__init__()
        c1, c2, c3 = block.convs
        self.conv1, self.bn1 = conv(c1), bn(c1)
        self.conv2, self.bn2 = conv(c2), bn(c2)
        self.conv3, self.bn3 = conv(c3), bn(c3)
        d = block.downsample
        self.downsample = None if d is None else nn.Sequential(conv(d), bn(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, S, S)
        h = F.relu(self.bn1(self.conv1(x)))  # (B, width, S, S)
        h = F.relu(self.bn2(self.conv2(h)))  # (B, width, S/stride, S/stride)
        h = self.bn3(self.conv3(h))  # (B, 4 * width, S/stride, S/stride)
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(h + shortcut)


class ResNet(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        block = Bottleneck if cfg.block == "bottleneck" else BasicBlock
        c0, c1 = cfg.in_channels, cfg.widths[0]
        self.conv1 = nn.Conv2d(c0, c1, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(c1, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            nn.Sequential(*(block(b) for b in stage)) for stage in stages(cfg)
        )
        self.fc = nn.Linear(cfg.features, cfg.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, S, S)
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))  # (B, 64, S/4, S/4)
        x = self.layer1(x)  # (B, 64 * e, S/4, S/4)
        x = self.layer2(x)  # (B, 128 * e, S/8, S/8)
        x = self.layer3(x)  # (B, 256 * e, S/16, S/16)
        x = self.layer4(x)  # (B, 512 * e, S/32, S/32)
        x = x.mean(dim=(2, 3))  # (B, 512 * e): global average pool
        return self.fc(x)  # (B, classes)


def build(cfg: Config, params: dict[str, np.ndarray]) -> ResNet:
    # The canonical params carry no num_batches_tracked; strict loading still succeeds because
    # BatchNorm keeps its own counter (0) when a state dict without version metadata lacks it.
    with torch.device("cpu"):
        return common.load(ResNet(cfg), params, _LINEAR_WEIGHTS)


def export(cfg: Config, model: ResNet) -> dict[str, np.ndarray]:
    return common.export(model, _LINEAR_WEIGHTS)  # skips num_batches_tracked (not float)
