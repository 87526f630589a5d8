"""MLP in PyTorch."""

from __future__ import annotations

from collections import OrderedDict
from itertools import pairwise

import numpy as np
import torch
from torch import nn

from models.common import torch as common
from models.mlp.spec import Config


class MLP(nn.Sequential):
    def __init__(self, cfg: Config):
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        n_layers = len(cfg.widths) - 1
        for i, (fan_in, fan_out) in enumerate(pairwise(cfg.widths), start=1):
            layers[f"fc{i}"] = nn.Linear(fan_in, fan_out)  # (B, in) -> (B, out)
            if i < n_layers:
                layers[f"relu{i}"] = nn.ReLU()
        super().__init__(layers)


def _linear_weights(cfg: Config) -> set[str]:
    return {f"fc{i}.weight" for i in range(1, len(cfg.widths))}


def build(cfg: Config, params: dict[str, np.ndarray]) -> MLP:
    with torch.device("cpu"):
        return common.load(MLP(cfg), params, _linear_weights(cfg))


def export(cfg: Config, model: MLP) -> dict[str, np.ndarray]:
    return common.export(model, _linear_weights(cfg))
