"""A user's torch model, as the torch backends build a zoo model (models/<name>/torch.py),
plus its float64 eager reference and its FLOP count."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from models.user import UserConfig, UserModelError, one_line

FLOAT64 = "torch float64 eager: a float64 copy of the module, same weights and batch"
FLOAT32 = "torch float32 eager, same weights and batch (a float64 copy failed: {why})"


def seeded_build(cfg: UserConfig, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    module = cfg.spec.build(seed)
    if not isinstance(module, torch.nn.Module):
        raise UserModelError(
            f"{cfg.source}: build({seed}) returned {type(module).__name__}; expected a "
            "torch.nn.Module (framework 'torch')"
        )
    return module


def build(cfg: UserConfig, params: dict[str, np.ndarray]) -> torch.nn.Module:
    return seeded_build(cfg, int(params["seed"]))


def export(cfg: UserConfig, module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().float().cpu().numpy() for k, v in module.state_dict().items()}


def default_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, classes on the last axis."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def training_loss(cfg: UserConfig):
    """The loss a training step minimises: the model's own, or mean cross-entropy."""
    own = cfg.spec.loss or default_loss

    def loss(logits, targets, lengths=None):
        return own(logits, targets)

    return loss


def output(module, x: torch.Tensor, y: torch.Tensor, mode: str, cfg: UserConfig) -> np.ndarray:
    """What parity compares: the logits (infer), or the loss before the first update."""
    module.train(mode == "train")
    with torch.no_grad():
        logits = module(x)
        out = logits if mode == "infer" else training_loss(cfg)(logits, y)
    return out.detach().cpu().numpy()


def reference(cfg: UserConfig, seed: int, batch, mode: str) -> tuple[np.ndarray, str]:
    x, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in batch)
    y = y.long()
    module = seeded_build(cfg, seed)
    try:
        wide = copy.deepcopy(module).double()
        x64 = x.double() if x.is_floating_point() else x
        return output(wide, x64, y, mode, cfg).astype(np.float64), FLOAT64
    except Exception as exc:  # e.g. an op with no float64 kernel
        x32 = x.float() if x.is_floating_point() else x
        return output(module, x32, y, mode, cfg), FLOAT32.format(why=one_line(exc))


COUNTER = "torch.utils.flop_counter.FlopCounterMode"


def count_flops(cfg: UserConfig, seed: int, batch, mode: str) -> tuple[int | None, str]:
    """FLOPs of one step as PyTorch's FlopCounterMode counts them: the forward pass, and for
    a training step its backward too (the optimizer's elementwise update is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    x, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in batch)
    x = x.float() if x.is_floating_point() else x
    module = seeded_build(cfg, seed)
    module.train(mode == "train")
    counter = FlopCounterMode(display=False)
    with counter:
        if mode == "infer":
            with torch.no_grad():
                module(x)
        else:
            training_loss(cfg)(module(x), y.long()).backward()
    what = "forward" if mode == "infer" else "forward and backward"
    return int(counter.get_total_flops()), f"{COUNTER} ({what})"
