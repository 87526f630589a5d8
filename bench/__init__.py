"""graphbench: what does each execution style cost, for this model on this device?"""

from bench.model_spec import ModelSpec

__version__ = "0.1.0"
__all__ = ["ModelSpec", "__version__"]
