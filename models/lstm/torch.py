"""LSTM classifier in PyTorch: nn.Embedding, nn.LSTM (fused kernel), nn.Linear.

nn.LSTM names its weights ``weight_ih_l{k}`` (4H, in) etc. and has two biases per layer; the
canonical params are mapped explicitly (see spec.py): ``bias_hh`` is held at zero and frozen.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.common import torch as common
from models.lstm.spec import Config


class LSTMClassifier(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.embedding = nn.Embedding(cfg.vocab, cfg.embed)
        self.lstm = nn.LSTM(cfg.embed, cfg.hidden, num_layers=cfg.layers, batch_first=True)
        self.fc = nn.Linear(cfg.hidden, cfg.classes)
        for k in range(cfg.layers):
            # One trainable bias per gate, as in the canonical model (see spec.py).
            getattr(self.lstm, f"bias_hh_l{k}").requires_grad_(False)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embedding(x)  # (B, T, E) from token ids (B, T)
        out, (h_n, _) = self.lstm(x)  # out (B, T, H): the top layer's h_t; h_n (L, B, H)
        if lengths is None:
            return self.fc(h_n[-1])  # (B, classes) from the top layer's h_T
        # Right-padded rows: the top layer's h at each row's own last step.
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.shape[2])  # (B, 1, H)
        return self.fc(out.gather(1, last).squeeze(1))  # (B, classes)


def _torch_names(cfg: Config) -> dict[str, str]:
    """Canonical name -> state_dict key (bias_hh has no canonical counterpart)."""
    names = {"embedding.weight": "embedding.weight", "fc.weight": "fc.weight", "fc.bias": "fc.bias"}
    for layer in range(1, cfg.layers + 1):
        k = layer - 1
        names[f"lstm{layer}.w_ih"] = f"lstm.weight_ih_l{k}"
        names[f"lstm{layer}.w_hh"] = f"lstm.weight_hh_l{k}"
        names[f"lstm{layer}.bias"] = f"lstm.bias_ih_l{k}"
    return names


def _transposed(cfg: Config) -> set[str]:
    """State_dict keys stored (out, in) in PyTorch and (in, out) canonically."""
    names = _torch_names(cfg)
    weights = ["fc.weight"] + [
        f"lstm{i}.{w}" for i in range(1, cfg.layers + 1) for w in ("w_ih", "w_hh")
    ]
    return {names[w] for w in weights}


def build(cfg: Config, params: dict[str, np.ndarray]) -> LSTMClassifier:
    state = {key: params[name] for name, key in _torch_names(cfg).items()}
    for k in range(cfg.layers):
        state[f"lstm.bias_hh_l{k}"] = np.zeros(4 * cfg.hidden, np.float32)
    with torch.device("cpu"):
        return common.load(LSTMClassifier(cfg), state, _transposed(cfg))


def export(cfg: Config, model: LSTMClassifier) -> dict[str, np.ndarray]:
    state = common.export(model, _transposed(cfg))
    out = {name: state[key] for name, key in _torch_names(cfg).items()}
    for layer in range(1, cfg.layers + 1):
        out[f"lstm{layer}.bias"] = out[f"lstm{layer}.bias"] + state[f"lstm.bias_hh_l{layer - 1}"]
    return out
