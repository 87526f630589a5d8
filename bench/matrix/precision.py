"""Precision policies: what each precision means, defined once for every framework.

Each framework's backend module implements every policy (bench/backends/*); this module
names them, says what they are (recorded in run.json and printed in docs/precision.md), where
they can run, and gives each its parity tolerance against the float64 reference. Model
files know nothing of a policy: they are written dtype-generically (they compute in the
dtype of what they are given) and keep softmax, normalisation statistics and the loss in
float32 whatever it is, a no-op in float32.

Tolerances (max |y - y_ref| / max |y_ref| of the first output, bench.worker.parity). The unit
roundoff of a format bounds what a correct kernel can do: float32 2^-24 (6e-8), TF32's
10-bit mantissa 2^-11 (4.9e-4), float16 2^-11 (4.9e-4), bfloat16 2^-8 (3.9e-3). A
network's output error is a few roundoffs times a modest factor from its depth and the
sums it reorders; a wrong layout, gate order or a policy that is not applied is off by
order 1 (or, the last, by the float32 error). Each tolerance sits above the worst error
measured on this project's CPU runs for every model (docs/precision.md) and well
below what a real bug gives; PyTorch's own compiler benchmarks use 1e-3 for fp16/AMP
inference and 1e-2 for bf16 and training, on a looser (elementwise) measure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    name: str
    definition: str
    tolerance: float  # parity tolerance, inference and the first training loss alike
    compute: str  # dtype matmuls and convolutions run in: float32, bfloat16, float16
    storage: str  # dtype weights and optimizer state are kept in
    tf32: bool = False  # TF32 tensor cores allowed for float32 matmuls and convolutions
    loss_scaling: bool = False  # dynamic loss scaling in training (float16)
    devices: tuple[str, ...] = ("cpu", "cuda")

    @property
    def autocast(self) -> bool:
        """Float32 weights, low-precision compute: mixed precision."""
        return self.compute != self.storage

    def to_json(self) -> dict:
        return {
            "policy": self.definition,
            "tolerance": self.tolerance,
            "devices": list(self.devices),
        }


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy(
            "float32",
            "float32 weights, activations and math; TF32 disabled in torch (allow_tf32=False, "
            "matmul precision 'highest'), JAX (default_matmul_precision='highest') and "
            "TensorFlow (enable_tensor_float_32_execution(False))",
            tolerance=1e-3,
            compute="float32",
            storage="float32",
        ),
        Policy(
            "tf32",
            "float32 storage and results; matmuls and convolutions may use TF32 tensor cores "
            "(10-bit-mantissa inputs, float32 accumulation): torch allow_tf32=True for matmul "
            "and cuDNN (matmul precision 'high'), JAX default_matmul_precision='tensorfloat32', "
            "TensorFlow enable_tensor_float_32_execution(True). CUDA only",
            tolerance=1e-2,
            compute="float32",
            storage="float32",
            tf32=True,
            devices=("cuda",),
        ),
        Policy(
            "amp-bf16",
            "automatic mixed precision: float32 master weights and optimizer state; each step "
            "computes matmuls and convolutions in bfloat16 (PyTorch: torch.autocast; JAX and "
            "TensorFlow: the backend casts the float32 weights and float inputs to bfloat16 "
            "inside the step, so gradients flow back to the float32 weights, as JAX's "
            "mixed-precision helpers do; Keras's mixed policy does not reach raw TF ops); "
            "softmax, normalisation statistics and the loss in float32",
            tolerance=5e-2,
            compute="bfloat16",
            storage="float32",
        ),
        Policy(
            "bf16",
            "bfloat16 storage: weights, activations, buffers and optimizer state in bfloat16 "
            "(PyTorch's model.to(torch.bfloat16); JAX and TensorFlow hold their weights in "
            "bfloat16); softmax, normalisation statistics and the loss in float32. Training "
            "updates the bfloat16 weights directly (no float32 master copy): it measures "
            "what pure bfloat16 storage costs and saves, not a recipe for convergence",
            tolerance=5e-2,
            compute="bfloat16",
            storage="bfloat16",
        ),
        Policy(
            "amp-fp16",
            "as amp-bf16 with float16, plus dynamic loss scaling in training (PyTorch's "
            "GradScaler; in JAX and TensorFlow the same algorithm in the backend: start at "
            "2^16, skip the step and halve on an overflow, double after 2000 good steps). "
            "CUDA only",
            tolerance=1e-2,
            compute="float16",
            storage="float32",
            loss_scaling=True,
            devices=("cuda",),
        ),
    )
}
PRECISIONS = tuple(POLICIES)
POLICY = {name: p.definition for name, p in POLICIES.items()}
TOLERANCE = {name: p.tolerance for name, p in POLICIES.items()}

# Dynamic loss scaling (amp-fp16 training): the same constants in every framework.
LOSS_SCALE_INIT = 2.0**16
LOSS_SCALE_GROWTH_INTERVAL = 2000
LOSS_SCALE_FACTOR = 2.0


def get(name: str) -> Policy:
    return POLICIES[name]


def not_applicable(name: str, device: str) -> str | None:
    """Why a precision means nothing on a device (recorded, never a failure), or None."""
    policy = POLICIES[name]
    if device not in policy.devices:
        return f"{name} needs {' or '.join(policy.devices)}: it has no {device} implementation"
    return None
