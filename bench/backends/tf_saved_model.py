"""TensorFlow ahead of time: a SavedModel of the inference step, its serving signature.

The artefact is a SavedModel directory: the traced graph of the step (``tf.function`` with
an input signature whose batch dimension is None) as the ``serving_default`` signature,
and the model's variables. The serving process loads it with ``tf.saved_model.load`` and
calls the signature, as TF Serving does; nothing of the model's Python code runs there.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

import models
from bench.backends.base import ArtifactBackend
from bench.backends.tf_backends import TfBackend
from bench.matrix.precision import get as precision_policy

SIGNATURE = "serving_default"


class TfSavedModel(TfBackend, ArtifactBackend):
    name = "tf-saved-model"
    framework = "tf"

    def build(
        self, model, cfg, params, mode, device, strategy="exact", precision="float32"
    ) -> None:
        if not self.loading:
            super().build(model, cfg, params, mode, device, strategy, precision)
            return
        impl = self.implementation(model, "tf")
        self.impl, self.cfg, self.mode, self.strategy = impl, cfg, mode, strategy
        self.device_name = "/CPU:0" if device == "cpu" else "/GPU:0"
        self.prepare_input = models.prepare_input(impl)
        self.policy = precision_policy(precision)
        assert self.artifact_dir is not None
        self.load_artifact(self.artifact_dir)
        self.mark_loaded()

    def export_artifact(self, inputs, directory: Path) -> None:
        x, _y, *lengths = inputs
        specs = [
            tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=f"input_{i}")
            for i, t in enumerate((x, *lengths))
        ]
        step = self._step
        serve = tf.function(lambda *args: {"output": step(*args)}, input_signature=specs)
        holder = tf.Module()
        holder.model = self.model  # its variables are saved with the graph
        holder.serve = serve
        with tf.device(self.device_name):
            tf.saved_model.save(holder, str(directory), signatures={SIGNATURE: serve})

    def load_artifact(self, directory: Path) -> None:
        with tf.device(self.device_name):
            self.loaded = tf.saved_model.load(str(directory))
        self._signature = self.loaded.signatures[SIGNATURE]

    def step(self, inputs):
        self.ensure_loaded(inputs)
        x, _y, *lengths = inputs
        feeds = {f"input_{i}": t for i, t in enumerate((x, *lengths))}
        with tf.device(self.device_name):
            return self._signature(**feeds)["output"]
