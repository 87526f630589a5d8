"""A user's own PyTorch model: ``python -m bench run --models examples/torch_model.py:make``."""

import numpy as np
import torch
from torch import nn

from bench import ModelSpec


class Classifier(nn.Module):
    def __init__(self, residual: bool):
        super().__init__()
        self.residual = residual  # a config flag the forward pass branches on
        self.inp, self.hidden, self.out = nn.Linear(32, 64), nn.Linear(64, 64), nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        if self.residual:  # a Python `if`: compiled and scripted with the flag's value
            h = h + torch.relu(self.hidden(h))
        return self.out(h)


def batch(batch_size: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, 32), dtype=np.float32)
    return x, rng.integers(0, 10, batch_size)


def make() -> ModelSpec:
    return ModelSpec(framework="torch", build=lambda seed: Classifier(residual=True),
                     make_batch=batch, batch_size=16)  # fmt: skip
