"""Building blocks shared by the models, one file per framework (plus NumPy)."""
