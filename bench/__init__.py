"""graphbench: what does each execution style cost, for this model on this device?"""

__version__ = "0.1.0"
