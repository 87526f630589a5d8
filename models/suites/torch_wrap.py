"""What the torch suites share: a module that returns a library model's logits as one
tensor (graphbench's torch backends call ``module(x)`` and compare a tensor)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class Logits(nn.Module):
    """``model``'s logits for ``x``: ``pick(model, x)`` (e.g. ``model(input_ids=x).logits``
    for a Hugging Face model, whose forward returns a ModelOutput)."""

    def __init__(self, model: nn.Module, pick: Callable[[nn.Module, torch.Tensor], torch.Tensor]):
        super().__init__()
        self.model = model
        self.pick = pick

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pick(self.model, x)


def seeded(seed: int, make: Callable[[], nn.Module]) -> nn.Module:
    """``make()`` with torch's generator seeded: the same initial weights for the same seed."""
    torch.manual_seed(seed)
    return make()
