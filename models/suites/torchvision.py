"""torchvision's classifiers, ``weights=None``: random weights from the seed
(``torch.manual_seed``), nothing downloaded.

Every model keeps its published architecture; the quick profile (2 CPU cores) feeds 64x64
images, batch 2, and runs ViT-B/16 with 4 of its 12 encoder layers (on 64x64 it sees 16
patches); the full profile feeds 224x224 images at the published depth. 1000 classes.
ViT's classifier head, which torchvision zeroes, is drawn (normal, std 0.02).
MobileNetV3's classifier dropout is 0, so that a training step's loss is one function of
the weights, the same in the float64 reference as on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision import models as tv

from bench.model_spec import ModelSpec
from models.suites import batches
from models.suites.torch_wrap import seeded

CLASSES = 1000


@dataclass(frozen=True)
class Size:
    image: int
    batch: int


SIZES = {"quick": Size(64, 2), "full": Size(224, 64)}
VIT_LAYERS = {"quick": 4, "full": 12}


def _spec(profile: str, make) -> ModelSpec:
    size = SIZES[profile]
    return ModelSpec(
        "torch",
        build=lambda seed: seeded(seed, make),
        make_batch=batches.images(size.image, CLASSES),
        batch_size=size.batch,
    )


def resnet50(profile: str) -> ModelSpec:
    return _spec(profile, lambda: tv.resnet50(weights=None))


def vit_b_16(profile: str) -> ModelSpec:
    image, layers = SIZES[profile].image, VIT_LAYERS[profile]

    def make():
        model = tv.VisionTransformer(
            image_size=image,
            patch_size=16,
            num_layers=layers,
            num_heads=12,
            hidden_dim=768,
            mlp_dim=3072,
            num_classes=CLASSES,
        )
        # torchvision zeroes the classifier head (for fine-tuning from pretrained weights):
        # its logits would be all zeros, which any backend matches. Drawn instead, as BERT's.
        torch.nn.init.normal_(model.heads.head.weight, std=0.02)
        return model

    return _spec(profile, make)


def mobilenet_v3_large(profile: str) -> ModelSpec:
    return _spec(profile, lambda: tv.mobilenet_v3_large(weights=None, dropout=0.0))


def resnet50_quick() -> ModelSpec:
    return resnet50("quick")


def resnet50_full() -> ModelSpec:
    return resnet50("full")


def vit_b_16_quick() -> ModelSpec:
    return vit_b_16("quick")


def vit_b_16_full() -> ModelSpec:
    return vit_b_16("full")


def mobilenet_v3_large_quick() -> ModelSpec:
    return mobilenet_v3_large("quick")


def mobilenet_v3_large_full() -> ModelSpec:
    return mobilenet_v3_large("full")
