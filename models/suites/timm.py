"""timm's models, ``timm.create_model(name, pretrained=False)``: random weights from the seed
(``torch.manual_seed``), nothing downloaded.

``timm/convnext_tiny`` keeps its published architecture (drop path 0); the quick profile
(2 CPU cores) feeds 64x64 images, batch 2; the full profile 224x224, batch 64. 1000 classes.
"""

from __future__ import annotations

import timm as timm_lib

from bench.model_spec import ModelSpec
from models.suites import batches
from models.suites.torch_wrap import seeded
from models.suites.torchvision import CLASSES, SIZES


def convnext_tiny(profile: str) -> ModelSpec:
    size = SIZES[profile]

    def make():
        return timm_lib.create_model(
            "convnext_tiny", pretrained=False, num_classes=CLASSES, drop_path_rate=0.0
        )

    return ModelSpec(
        "torch",
        build=lambda seed: seeded(seed, make),
        make_batch=batches.images(size.image, CLASSES),
        batch_size=size.batch,
    )


def convnext_tiny_quick() -> ModelSpec:
    return convnext_tiny("quick")


def convnext_tiny_full() -> ModelSpec:
    return convnext_tiny("full")
