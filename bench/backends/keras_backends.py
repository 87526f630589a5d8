"""Keras 3 backends: one Keras model, Keras's own step, on JAX, TensorFlow or PyTorch.

Each class runs in a worker whose KERAS_BACKEND the runner set (the registry's
``keras_backend``) before anything imported Keras: Keras reads it once, at import. The
step is Keras's public one, as a Keras user runs a model: ``model.compile(jit_compile=...,
run_eagerly=...)``, then ``train_on_batch`` (a training step with Adam) or
``predict_on_batch``. Both hand back host values, so a step returns once the device is done
with it (the conversion to NumPy is Keras's own sync) and ``sync`` has nothing left to wait
for. Threads and numerics are set as the framework's own eager backend sets them, so a
Keras cell and a native cell of one framework run under the same settings.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, ClassVar

import numpy as np

from bench.backends.base import ADAM, Backend
from bench.matrix.precision import LOSS_SCALE_GROWTH_INTERVAL, LOSS_SCALE_INIT

# graphbench's precisions as Keras dtype policies, set before the model is built so every
# layer takes it: Keras's mixed policies keep float32 variables and compute in the low
# precision (Keras keeps normalisation statistics and softmax in float32 under them);
# ``bfloat16`` stores the variables in bfloat16 too. TF32 is the framework's own switch,
# set by its eager backend's configure (CUDA only, as every tf32 cell).
KERAS_POLICY = {
    "float32": "float32",
    "tf32": "float32",
    "amp-bf16": "mixed_bfloat16",
    "bf16": "bfloat16",
    "amp-fp16": "mixed_float16",
}

# The framework's own eager backend, whose configure/probe facts a Keras backend shares.
NATIVE = {
    "jax": "bench.backends.jax_backends:JaxEager",
    "tensorflow": "bench.backends.tf_backends:TfEager",
    "torch": "bench.backends.torch_backends:TorchEager",
}


def _native(keras_backend: str) -> type[Backend]:
    module, cls = NATIVE[keras_backend].split(":")
    return getattr(importlib.import_module(module), cls)


def _keras(expected: str):
    """Keras, imported under the KERAS_BACKEND this backend needs (RuntimeError if another
    process-wide backend is in effect: Keras cannot switch once imported)."""
    told = os.environ.get("KERAS_BACKEND")
    if told != expected:
        raise RuntimeError(
            f"KERAS_BACKEND is {told!r}; this Keras backend needs {expected!r} set before "
            "Keras is imported (the runner sets it for each worker)"
        )
    import keras

    if keras.backend.backend() != expected:
        raise RuntimeError(f"Keras runs on {keras.backend.backend()}, not {expected}")
    return keras


class KerasBackend(Backend):
    keras_backend: ClassVar[str]
    jit_compile: ClassVar[bool]
    run_eagerly: ClassVar[bool] = False

    @classmethod
    def configure(cls, device: str, threads: int, precision: str) -> dict[str, Any]:
        native = _native(cls.keras_backend).configure(device, threads, precision)
        keras = _keras(cls.keras_backend)
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy(KERAS_POLICY[precision])
        return {
            **native,
            "keras_version": keras.__version__,
            "keras_backend": keras.backend.backend(),
            "keras_dtype_policy": keras.config.dtype_policy().name,
            "jit_compile": cls.jit_compile,
            "run_eagerly": cls.run_eagerly,
        }

    @classmethod
    def framework_version(cls) -> str:
        return _native(cls.keras_backend).framework_version()

    @classmethod
    def unavailable_reason(cls, device: str) -> str | None:
        try:
            _keras(cls.keras_backend)
        except (ImportError, RuntimeError) as exc:
            return f"{cls.name}: {exc}"
        return _native(cls.keras_backend).unavailable_reason(device)

    @classmethod
    def cuda_build(cls) -> str | None:
        return _native(cls.keras_backend).cuda_build()

    @classmethod
    def is_out_of_memory(cls, exc: BaseException) -> bool:
        return _native(cls.keras_backend).is_out_of_memory(exc)

    def build(
        self,
        model: str,
        cfg: Any,
        params: dict[str, np.ndarray],
        mode: str,
        device: str,
        strategy: str = "exact",
        precision: str = "float32",
    ) -> None:
        keras = _keras(self.keras_backend)
        impl = self.implementation(model, "keras")
        self.impl, self.cfg, self.mode = impl, cfg, mode
        self.model = impl.build(cfg, params)  # under the policy configure set
        optimizer = keras.optimizers.Adam(
            learning_rate=ADAM.lr, beta_1=ADAM.beta1, beta_2=ADAM.beta2, epsilon=ADAM.eps
        )
        if KERAS_POLICY[precision] == "mixed_float16":
            # Keras would wrap it itself, from 2^15: graphbench's dynamic loss scaling
            # starts at LOSS_SCALE_INIT in every framework.
            optimizer = keras.optimizers.LossScaleOptimizer(
                optimizer,
                initial_scale=LOSS_SCALE_INIT,
                dynamic_growth_steps=LOSS_SCALE_GROWTH_INTERVAL,
            )
        self.model.compile(
            optimizer=optimizer,
            loss=impl.keras_loss(cfg),
            jit_compile=self.jit_compile,
            run_eagerly=self.run_eagerly,
        )

    def put(self, batch: tuple[np.ndarray, ...]) -> Any:
        keras = _keras(self.keras_backend)
        x, y = batch[0], batch[1]
        return keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)

    def step(self, inputs: Any) -> Any:
        x, y = inputs
        if self.mode == "infer":
            return self.model.predict_on_batch(x)
        return self.model.train_on_batch(x, y)

    def sync(self, out: Any) -> None:
        """Nothing to wait for: Keras's step returned host values (NumPy, a float)."""

    def to_numpy(self, out: Any) -> np.ndarray:
        return np.asarray(out)

    def export_params(self) -> dict[str, np.ndarray]:
        return self.impl.export(self.cfg, self.model)


class KerasJax(KerasBackend):
    name = "keras-jax"
    framework = "jax"
    keras_backend = "jax"
    jit_compile = True


class KerasJaxEager(KerasBackend):
    name = "keras-jax-eager"
    framework = "jax"
    keras_backend = "jax"
    jit_compile = False
    run_eagerly = True


class KerasTf(KerasBackend):
    name = "keras-tf"
    framework = "tf"
    keras_backend = "tensorflow"
    jit_compile = False


class KerasTfEager(KerasBackend):
    name = "keras-tf-eager"
    framework = "tf"
    keras_backend = "tensorflow"
    jit_compile = False
    run_eagerly = True


class KerasTfXla(KerasBackend):
    name = "keras-tf-xla"
    framework = "tf"
    keras_backend = "tensorflow"
    jit_compile = True


class KerasTorch(KerasBackend):
    name = "keras-torch"
    framework = "torch"
    keras_backend = "torch"
    jit_compile = False


class KerasTorchCompile(KerasBackend):
    name = "keras-torch-compile"
    framework = "torch"
    keras_backend = "torch"
    jit_compile = True
