"""Shared fixtures. Frameworks are imported lazily, so harness tests never pay for them."""

from __future__ import annotations

import pytest

from bench import backends

_configured: set[str] = set()


def load_backend(name: str):
    """A backend class, configured once per framework per test process (TF allows only once)."""
    info = backends.get(name)
    reason = backends.not_installed_reason(info.framework)
    if reason:
        pytest.fail(f"{name}: {reason}; the test suite needs every framework (nox -s tests)")
    cls = backends.load(name)
    if info.framework not in _configured:
        cls.configure("cpu", 2, "float32")
        _configured.add(info.framework)
    return cls


@pytest.fixture
def backend_class():
    return load_backend
