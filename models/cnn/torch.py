"""CNN in PyTorch (NCHW, the canonical layout)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.cnn.spec import Config
from models.common import torch as common

_LINEAR_WEIGHTS = {"fc1.weight", "fc2.weight"}


class CNN(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        c1, c2 = cfg.channels
        self.conv1 = nn.Conv2d(cfg.in_channels, c1, kernel_size=3)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3)
        self.fc1 = nn.Linear(cfg.flat_features, cfg.hidden)
        self.fc2 = nn.Linear(cfg.hidden, cfg.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, S, S)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, c1, s1/2, s1/2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, c2, s, s)
        x = torch.flatten(x, 1)  # (B, c2*s*s)
        x = F.relu(self.fc1(x))  # (B, hidden)
        return self.fc2(x)  # (B, classes)


def build(cfg: Config, params: dict[str, np.ndarray]) -> CNN:
    with torch.device("cpu"):
        return common.load(CNN(cfg), params, _LINEAR_WEIGHTS)


def export(cfg: Config, model: CNN) -> dict[str, np.ndarray]:
    return common.export(model, _LINEAR_WEIGHTS)
