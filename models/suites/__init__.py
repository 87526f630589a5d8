"""Real-world models built from config, nothing downloaded: the suites (issue 20, part 4).

A suite model is named with its suite's prefix (``hf/gpt2``, ``torchvision/resnet50``,
``keras-hub/gpt2``) and is a user's model as far as graphbench is concerned
(models.user): a ``bench.ModelSpec`` factory, one per profile, in the suite's module here
(``models.suites.hf:gpt2_quick``), checked in a child process before the run and
registered under its prefixed name. Its weights come from the run's seed, its
configuration is written in the suite's module, and no file is ever fetched from a hub.

This module imports no framework and no suite package: ``python -m bench list`` and the
command line read it in the parent process.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

from bench.errors import UsageError

EXTRA = "graphbench[suites]"
PROFILES = ("quick", "full")


@dataclass(frozen=True)
class Suite:
    """One suite: the packages its models need (importable names), its module, its models."""

    prefix: str
    packages: tuple[str, ...]
    module: str
    models: tuple[str, ...]
    summary: str

    def missing(self) -> list[str]:
        """The suite's packages this interpreter lacks (found without importing them)."""
        return [p for p in self.packages if importlib.util.find_spec(p) is None]


SUITES: dict[str, Suite] = {
    s.prefix: s
    for s in (
        Suite(
            "torchvision",
            ("torchvision",),
            "models.suites.torchvision",
            ("resnet50", "vit_b_16", "mobilenet_v3_large"),
            "torchvision's classifiers, weights=None",
        ),
        Suite(
            "timm",
            ("timm", "torchvision"),
            "models.suites.timm",
            ("convnext_tiny",),
            "timm.create_model(pretrained=False)",
        ),
        Suite(
            "hf",
            ("transformers",),
            "models.suites.hf",
            ("bert-base", "gpt2", "t5-small", "llama"),
            "Hugging Face transformers from a config written in code",
        ),
        Suite(
            "keras-hub",
            ("keras_hub",),
            "models.suites.keras_hub",
            ("gpt2", "bert-base"),
            "KerasHub backbones from explicit arguments (all three Keras backends)",
        ),
    )
}

NAME_FORM = re.compile(rf"^(?P<suite>{'|'.join(map(re.escape, SUITES))})/(?P<model>[\w.-]+)$")


def is_suite_name(name: str) -> bool:
    """Whether a --models entry or a cell's model is a suite model (``hf/gpt2``)."""
    found = NAME_FORM.match(name)
    return found is not None and found["model"] in SUITES[found["suite"]].models


def looks_like_suite_name(text: str) -> bool:
    """A --models entry with a suite's prefix, known or not (so an unknown one is refused
    naming that suite's models, not the zoo's)."""
    return bool(NAME_FORM.match(text.strip()))


def names() -> tuple[str, ...]:
    return tuple(f"{s.prefix}/{m}" for s in SUITES.values() for m in s.models)


def function_name(model: str, profile: str) -> str:
    """A model's factory for a profile in its suite's module (``bert-base``, ``quick``:
    ``bert_base_quick``)."""
    return f"{re.sub(r'[^0-9A-Za-z_]', '_', model)}_{profile}"


def source(name: str, profile: str) -> str:
    """The ``package.module:FUNCTION`` source of a suite model's profile, checked: an unknown
    name, or a suite whose packages are missing, is a UsageError of one line."""
    found = NAME_FORM.match(name.strip())
    if not found:
        raise UsageError(
            f"--models {name!r:.80}: expected a suite model, one of {', '.join(names())}"
        )
    suite = SUITES[found["suite"]]
    if found["model"] not in suite.models:
        raise UsageError(
            f"--models {name}: unknown model of suite {suite.prefix}; expected one of "
            f"{', '.join(f'{suite.prefix}/{m}' for m in suite.models)}"
        )
    missing = suite.missing()
    if missing:
        raise UsageError(
            f"--models {name}: {', '.join(missing)} not installed; expected the suites extra: "
            f"pip install '{EXTRA}'"
        )
    if profile not in PROFILES:
        raise UsageError(f"--profile {profile}: expected one of {', '.join(PROFILES)}")
    return f"{suite.module}:{function_name(found['model'], profile)}"


def rows() -> list[tuple[str, str, str, str]]:
    """``bench list``'s suites table: suite, models, whether installed here, what it is."""
    out = []
    for s in SUITES.values():
        missing = s.missing()
        here = "yes" if not missing else f"no: {', '.join(missing)} missing ({EXTRA})"
        models = ", ".join(f"{s.prefix}/{m}" for m in s.models)
        out.append((s.prefix, models, here, s.summary))
    return out
