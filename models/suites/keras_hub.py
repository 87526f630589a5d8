"""KerasHub backbones built from explicit arguments (no preset, nothing downloaded), so each
runs on all three Keras backends (``keras-jax``, ``keras-tf``, ``keras-torch``, ...). The
weights are graphbench's own draw from the seed (models.user.keras: Keras's initialisers
draw different numbers per backend).

The quick profile (2 CPU cores) keeps the base width (768, 12 heads, MLP 3072) but runs 2
layers on 32 tokens, batch 2; the full profile has 12 layers. Dropout is 0.

- ``keras-hub/gpt2``: ``GPT2Backbone`` and its tied token embedding read backwards: the
  next-token logits, as ``GPT2CausalLM`` computes them.
- ``keras-hub/bert-base``: ``BertBackbone`` and a dense layer on its pooled output:
  a 2-class sequence classifier.

The one input is the token ids; the padding mask (all ones) and BERT's segment ids (all
zeros) are computed inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import keras_hub

from bench.model_spec import ModelSpec
from models.suites import batches


@dataclass(frozen=True)
class Size:
    layers: int
    length: int
    batch: int


SIZES = {
    "gpt2": {"quick": Size(2, 32, 2), "full": Size(12, 512, 8)},
    "bert-base": {"quick": Size(2, 32, 2), "full": Size(12, 128, 32)},
}
GPT2_VOCAB, BERT_VOCAB = 50257, 30522


def gpt2(profile: str) -> ModelSpec:
    size = SIZES["gpt2"][profile]

    def build(seed: int) -> keras.Model:
        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=GPT2_VOCAB,
            num_layers=size.layers,
            num_heads=12,
            hidden_dim=768,
            intermediate_dim=3072,
            dropout=0.0,
            max_sequence_length=1024,
        )
        ids = keras.Input((size.length,), dtype="int32", name="token_ids")
        hidden = backbone({"token_ids": ids, "padding_mask": keras.ops.ones_like(ids)})
        logits = backbone.token_embedding(hidden, reverse=True)
        return keras.Model(ids, logits, name="gpt2_lm")

    return ModelSpec(
        "keras",
        build=build,
        make_batch=batches.tokens(size.length, GPT2_VOCAB),
        batch_size=size.batch,
    )


def bert_base(profile: str) -> ModelSpec:
    size = SIZES["bert-base"][profile]

    def build(seed: int) -> keras.Model:
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=BERT_VOCAB,
            num_layers=size.layers,
            num_heads=12,
            hidden_dim=768,
            intermediate_dim=3072,
            dropout=0.0,
            max_sequence_length=512,
        )
        ids = keras.Input((size.length,), dtype="int32", name="token_ids")
        out = backbone(
            {
                "token_ids": ids,
                "segment_ids": keras.ops.zeros_like(ids),
                "padding_mask": keras.ops.ones_like(ids),
            }
        )
        logits = keras.layers.Dense(2, name="classifier")(out["pooled_output"])
        return keras.Model(ids, logits, name="bert_classifier")

    return ModelSpec(
        "keras",
        build=build,
        make_batch=batches.tokens(size.length, BERT_VOCAB, classes=2),
        batch_size=size.batch,
    )


def gpt2_quick() -> ModelSpec:
    return gpt2("quick")


def gpt2_full() -> ModelSpec:
    return gpt2("full")


def bert_base_quick() -> ModelSpec:
    return bert_base("quick")


def bert_base_full() -> ModelSpec:
    return bert_base("full")
