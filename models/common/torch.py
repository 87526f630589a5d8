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


def stats_dtype(dtype: torch.dtype) -> torch.dtype:
    """Where statistics (softmax, normalisation) are computed: at least float32 (a bfloat16
    row's are too coarse), float64 kept as float64."""
    return torch.promote_types(dtype, torch.float32)


def export(module: torch.nn.Module, transposed: Collection[str]) -> dict[str, np.ndarray]:
    """The module's floating-point state back in canonical names and layouts."""
    out = {}
    for name, tensor in module.state_dict().items():
        if not tensor.is_floating_point():
            continue  # e.g. BatchNorm's num_batches_tracked: bookkeeping, not a parameter
        # 16-bit floats as float32 (bfloat16 has no NumPy dtype); float64 stays float64.
        value = tensor.detach().to(stats_dtype(tensor.dtype)).cpu().numpy()
        out[name] = np.ascontiguousarray(value.T if name in transposed else value)
    return out
