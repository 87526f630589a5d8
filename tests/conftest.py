"""Shared fixtures and the test tiers.

Tiers (markers, pyproject.toml): the unmarked tests are the fast harness tier (no
framework imported; ``nox -s tests-fast``); ``framework`` tests run models in PyTorch,
JAX or TensorFlow; ``e2e`` tests run the command line end to end (real workers, a
disk filling up, a network deadline); ``browser`` loads the report in Chromium; ``slow``
marks what compiles a real model; ``gpu`` needs CUDA and runs only under ``nox -s
tests-gpu``. Frameworks are imported lazily, so the fast tier never pays for them.

Backends and models are parametrised from the registries (``cpu_backends``,
``models.MODEL_NAMES``): a backend or model added there is run by every test that uses
them, with no test edited.
"""

from __future__ import annotations

import pytest

from bench import backends

_configured: set[str] = set()


def load_backend(name: str, device: str = "cpu"):
    """A backend class, configured once per framework per test process (TF allows only once)."""
    info = backends.get(name)
    reason = backends.not_installed_reason(info.framework)
    if reason:
        pytest.fail(f"{name}: {reason}; the test suite needs every framework (nox -s tests)")
    cls = backends.load(name)
    if info.framework not in _configured:
        cls.configure(device, 2, "float32")
        _configured.add(info.framework)
    return cls


@pytest.fixture
def backend_class():
    return load_backend


def runs_the_zoo(info: backends.BackendInfo) -> bool:
    """Whether a backend runs the zoo's models: every backend but Keras's, which run Keras
    models only (the zoo's are written per framework; tests/test_keras_backends.py)."""
    return info.keras_backend is None


def backend_params(device: str = "cpu") -> list:
    """Every registered backend for ``device`` that runs the zoo's models, those slow to
    build marked ``slow``."""
    return [
        pytest.param(name, marks=[pytest.mark.slow] if info.slow_to_build else [], id=name)
        for name, info in backends.BACKENDS.items()
        if device in info.devices and runs_the_zoo(info)
    ]


def quick_cpu_backends() -> tuple[str, ...]:
    """Every CPU backend that runs the zoo and builds in seconds (not torch.compile), but
    for the ahead-of-time ones: the model-specific tests feed other lengths and train, and an
    artefact is an inference graph of the shapes it declared (tests/test_aot.py)."""
    return tuple(
        n
        for n, i in backends.BACKENDS.items()
        if "cpu" in i.devices and not i.slow_to_build and runs_the_zoo(i) and i.artifact is None
    )


def eager_backends() -> dict[str, str]:
    """Each framework's eager backend."""
    return {f: backends.eager_baseline(f) for f in backends.FRAMEWORKS}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that builds a backend is a framework test, however it is written.
    for item in items:
        if "backend_class" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.framework)
