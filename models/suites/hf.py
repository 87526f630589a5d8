"""Hugging Face transformers built from a config written here, random weights from the seed
(``torch.manual_seed``); no tokenizer, no ``from_pretrained``, nothing downloaded.

Each model is its architecture's base width; the quick profile (2 CPU cores) keeps that
width but runs 2 layers (T5: 2 + 2) on 32 tokens, batch 2; the full profile (a GPU) has the
published depth. Dropout is 0, so that a training step's loss is one function of the
weights, the same in the float64 reference as on every backend.

- ``hf/bert-base``: ``BertForSequenceClassification``, 2 classes (BERT-base: 768 wide, 12
  heads, 12 layers full).
- ``hf/gpt2``: ``GPT2LMHeadModel`` (GPT-2 small: 768 wide, 12 heads, 12 layers full).
- ``hf/t5-small``: ``T5ForConditionalGeneration`` (512 wide, 8 heads, 6 + 6 layers full);
  its one input is both the encoder's and the decoder's token ids.
- ``hf/llama``: ``LlamaForCausalLM`` from ``LlamaConfig``: 768 wide, 12 heads (4 key-value
  heads), MLP 2048, vocabulary 32,000 with tied embeddings, 12 layers full: about 110M
  parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import transformers

from bench.model_spec import ModelSpec
from models.suites import batches
from models.suites.torch_wrap import Logits, seeded


@dataclass(frozen=True)
class Size:
    layers: int
    length: int  # tokens per sequence
    batch: int


SIZES = {
    "bert-base": {"quick": Size(2, 32, 2), "full": Size(12, 128, 32)},
    "gpt2": {"quick": Size(2, 32, 2), "full": Size(12, 512, 8)},
    "t5-small": {"quick": Size(2, 32, 2), "full": Size(6, 128, 16)},
    "llama": {"quick": Size(2, 32, 2), "full": Size(12, 512, 8)},
}


def _logits(model, x):
    return model(input_ids=x).logits


def _seq2seq_logits(model, x):
    return model(input_ids=x, decoder_input_ids=x).logits


def _spec(
    size: Size, model_class, config, vocab: int, classes: int | None = None, logits=_logits
) -> ModelSpec:
    """The suite's ModelSpec for one HuggingFace model class and its config: the module built
    from the config with weights drawn from the seed, its logits as the output, a seeded
    batch of token ids (and, for a classifier of ``classes``, one class per sequence)."""

    def build(seed: int):
        return seeded(seed, lambda: Logits(model_class(config), logits))

    return ModelSpec(
        "torch",
        build=build,
        make_batch=batches.tokens(size.length, vocab, classes),
        batch_size=size.batch,
    )


def bert_base(profile: str) -> ModelSpec:
    size = SIZES["bert-base"][profile]
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=size.layers,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=2,
    )
    return _spec(size, transformers.BertForSequenceClassification, config, 30522, 2)


def gpt2(profile: str) -> ModelSpec:
    size = SIZES["gpt2"][profile]
    config = transformers.GPT2Config(
        vocab_size=50257,
        n_positions=1024,
        n_embd=768,
        n_layer=size.layers,
        n_head=12,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        use_cache=False,
    )
    return _spec(size, transformers.GPT2LMHeadModel, config, 50257)


def t5_small(profile: str) -> ModelSpec:
    size = SIZES["t5-small"][profile]
    config = transformers.T5Config(
        vocab_size=32128,
        d_model=512,
        d_kv=64,
        d_ff=2048,
        num_layers=size.layers,
        num_decoder_layers=size.layers,
        num_heads=8,
        dropout_rate=0.0,
        use_cache=False,
    )
    return _spec(
        size, transformers.T5ForConditionalGeneration, config, 32128, logits=_seq2seq_logits
    )


def llama(profile: str) -> ModelSpec:
    size = SIZES["llama"][profile]
    config = transformers.LlamaConfig(
        vocab_size=32000,
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=size.layers,
        num_attention_heads=12,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        attention_dropout=0.0,
        use_cache=False,
    )
    return _spec(size, transformers.LlamaForCausalLM, config, 32000)


# The factories the suite's names resolve to (models.suites.source): one per profile.
def bert_base_quick() -> ModelSpec:
    return bert_base("quick")


def bert_base_full() -> ModelSpec:
    return bert_base("full")


def gpt2_quick() -> ModelSpec:
    return gpt2("quick")


def gpt2_full() -> ModelSpec:
    return gpt2("full")


def t5_small_quick() -> ModelSpec:
    return t5_small("quick")


def t5_small_full() -> ModelSpec:
    return t5_small("full")


def llama_quick() -> ModelSpec:
    return llama("quick")


def llama_full() -> ModelSpec:
    return llama("full")
