"""GPT in PyTorch (nanoGPT's shape; state_dict keys are the canonical names)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.common import torch as common
from models.transformer.spec import Config, linear_weights


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)  # columns [q | k | v]
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        nh, hd = self.n_heads, C // self.n_heads
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q = q.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd)
        k = k.view(B, T, nh, hd).transpose(1, 2)
        v = v.view(B, T, nh, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)  # (B, nh, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()  # key j <= query i
        att = att.masked_fill(~causal, float("-inf"))
        att = F.softmax(att, dim=-1, dtype=common.stats_dtype(att.dtype)).to(att.dtype)
        y = att @ v  # (B, nh, T, hd)
        y = y.transpose(1, 2).reshape(B, T, C)  # heads merged in order
        return self.proj(y)  # (B, T, C)


class MLP(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.proj = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C)
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, eps=1e-5)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, eps=1e-5)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C)
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.block_size, cfg.d_model)
        # Blocks are direct children h0, h1, ... so that their state_dict keys are the
        # canonical "h{i}.*" (an nn.ModuleList would give "h.{i}.*").
        for i in range(cfg.n_layers):
            self.add_module(f"h{i}", Block(cfg))
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=1e-5)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, V) for token ids (B, T). ``lengths`` of right-padded rows is not
        needed: attention is causal, so padding after a row's end changes no earlier logit."""
        T = idx.shape[1]
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for block in self.children():  # registration order: h0, h1, ...
            if isinstance(block, Block):  # TorchScript unrolls this loop statically
                x = block(x)
        x = self.ln_f(x)
        return F.linear(x, self.wte.weight)  # (B, T, V): the tied head, x @ wte.T


def build(cfg: Config, params: dict[str, np.ndarray]) -> GPT:
    with torch.device("cpu"):
        return common.load(GPT(cfg), params, linear_weights(cfg))


def export(cfg: Config, model: GPT) -> dict[str, np.ndarray]:
    return common.export(model, linear_weights(cfg))
