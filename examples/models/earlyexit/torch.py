"""EarlyExit in PyTorch: the branch is a Python ``if`` on a tensor (torch.compile breaks
its graph there: data-dependent control flow)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.common import torch as common
from models.earlyexit.spec import Config, shapes


class EarlyExit(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        for name, (fan_in, fan_out) in shapes(cfg).items():
            self.add_module(name, nn.Linear(fan_in, fan_out))
        self.threshold = cfg.threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x))
        early = self.exit(h)
        confidence = torch.softmax(early.float(), dim=-1).amax(dim=-1).mean()
        if confidence > self.threshold:
            return early
        return early + self.head(torch.relu(self.fc2(h)))


def _weights(cfg: Config) -> set[str]:
    return {f"{name}.weight" for name in shapes(cfg)}


def build(cfg: Config, params: dict[str, np.ndarray]) -> EarlyExit:
    with torch.device("cpu"):
        return common.load(EarlyExit(cfg), params, _weights(cfg))


def export(cfg: Config, model: EarlyExit) -> dict[str, np.ndarray]:
    return common.export(model, _weights(cfg))
