"""A pytest plugin that registers an eleventh backend, as a contributor would add one.

``pytest -p tests.eleventh_backend``: the backend is a subclass of PyTorch eager under a
new name (tests/eleventh_backend_impl.py), registered before collection, so every test
parametrised from the registry picks it up. tests/test_registry.py proves they do.
"""

from bench import backends
from bench.backends import BackendInfo

NAME = "torch-eager-twin"

backends.register(
    BackendInfo(
        NAME,
        "torch",
        "tests.eleventh_backend_impl:TorchEagerTwin",
        "PyTorch eager under another name (a test's eleventh backend)",
        static=False,
    )
)
