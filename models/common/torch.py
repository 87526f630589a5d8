"""PyTorch helpers: moving canonical params in and out of a module.

Canonical names are chosen to equal the module's ``state_dict`` keys; the only
difference is layout: canonical linear weights are (in, out), PyTorch's (out, in).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import torch


def load(module: torch.nn.Module, params: dict[str, np.ndarray], transposed: Collection[str]):
    """Copy canonical params into ``module`` (every key must match, nothing left over)."""
    state = {
        name: torch.from_numpy(np.ascontiguousarray(value.T if name in transposed else value))
        for name, value in params.items()
    }
    module.load_state_dict(state, strict=True)
    return module


def export(module: torch.nn.Module, transposed: Collection[str]) -> dict[str, np.ndarray]:
    """The module's floating-point state back in canonical names and layouts."""
    out = {}
    for name, tensor in module.state_dict().items():
        if not tensor.is_floating_point():
            continue  # e.g. BatchNorm's num_batches_tracked: bookkeeping, not a parameter
        value = tensor.detach().float().cpu().numpy()  # bfloat16 has no NumPy dtype
        out[name] = np.ascontiguousarray(value.T if name in transposed else value)
    return out
