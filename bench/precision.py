"""Precision policies: what each precision means, defined once for every framework.

Each framework's backend module implements these (bench/backends/*); this module only
names them, says what they are (recorded in run.json), and gives each its parity
tolerance against the float64 reference.
"""

from __future__ import annotations

PRECISIONS = ("float32",)

POLICY = {
    "float32": "float32 weights, activations and math; TF32 disabled in torch, JAX "
    "(default_matmul_precision='highest') and TensorFlow",
}

# Parity: max |y - y_ref| / max |y_ref| of the first output (logits in infer, the loss
# in train) against the float64 NumPy reference. Layout or gate-order bugs give errors
# of order 1; float32 kernels, reordered sums and compiler fusion stay below 1e-5 on
# the CPU; 1e-3 leaves room for GPU convolution algorithms without hiding a real bug.
TOLERANCE = {"float32": 1e-3}
