"""The eleventh backend's class: one small subclass, as CONTRIBUTING.md says (imports torch)."""

from bench.backends.torch_backends import TorchEager


class TorchEagerTwin(TorchEager):
    name = "torch-eager-twin"
