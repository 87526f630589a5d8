"""JAX ahead of time: ``jax.export`` of the jitted inference step, serialized StableHLO.

The artefact is the exported function (its StableHLO, with the batch dimension symbolic
where the model's code allows) and the weights it is called with, beside it as NumPy
arrays: jax.export serializes code, not values. The serving process deserializes it and
calls it; XLA compiles the StableHLO for the device on that first call (the artefact is
portable StableHLO, not machine code), so ``first_call_s`` holds that compilation.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import export

import models
from bench.backends.base import ArtifactBackend
from bench.backends.jax_backends import JaxBackend
from bench.matrix.precision import get as precision_policy

EXPORTED_FILE = "exported.bin"
PARAMS_FILE = "params.npz"


class JaxExport(JaxBackend, ArtifactBackend):
    name = "jax-export"
    framework = "jax"

    def build(
        self, model, cfg, params, mode, device, strategy="exact", precision="float32"
    ) -> None:
        if not self.loading:
            super().build(model, cfg, params, mode, device, strategy, precision)
            return
        impl = self.implementation(model, "jax")
        self.impl, self.cfg, self.mode = impl, cfg, mode
        self.device = jax.devices("cpu" if device == "cpu" else "gpu")[0]
        self.prepare_input = models.prepare_input(impl)
        self.policy = precision_policy(precision)
        assert self.artifact_dir is not None
        self.load_artifact(self.artifact_dir)
        self.mark_loaded()

    def export_artifact(self, inputs, directory: Path) -> None:
        x, _y, *lengths = inputs
        args = (self.params, self.state, x, *lengths)
        step = jax.jit(self._infer)
        try:
            # Every input's first dimension is one symbolic batch size.
            (batch,) = export.symbolic_shape("batch")
            specs = (
                *args[:2],
                *(jax.ShapeDtypeStruct((batch, *a.shape[1:]), a.dtype) for a in args[2:]),
            )
            exported = export.export(step)(*specs)
        except Exception:  # a shape the model's code fixes: exported for this batch only
            exported = export.export(step)(*args)
        (directory / EXPORTED_FILE).write_bytes(exported.serialize())
        leaves = [np.asarray(a) for a in jax.tree.leaves((self.params, self.state))]
        # NumPy's format knows no bfloat16: every array stored as its bytes' integers, its
        # dtype's name beside it.
        np.savez(
            directory / PARAMS_FILE,
            *(a.view(f"u{a.dtype.itemsize}") for a in leaves),
            dtypes=np.array([a.dtype.name for a in leaves]),
        )

    def load_artifact(self, directory: Path) -> None:
        exported = export.deserialize(bytearray((directory / EXPORTED_FILE).read_bytes()))
        with np.load(directory / PARAMS_FILE) as stored:
            dtypes = [str(d) for d in stored["dtypes"]]
            leaves = [stored[f"arr_{i}"].view(jnp.dtype(d)) for i, d in enumerate(dtypes)]
        # The call's own argument tree: (params, state, x, ...) and no keywords.
        (args_tree, _kwargs) = jax.tree_util.treedef_children(exported.in_tree)
        params_tree, state_tree = jax.tree_util.treedef_children(args_tree)[:2]
        n = params_tree.num_leaves  # type: ignore[attr-defined]  # the stubs lack it
        put = lambda tree, xs: jax.device_put(jax.tree.unflatten(tree, xs), self.device)  # noqa: E731
        self.params, self.state = put(params_tree, leaves[:n]), put(state_tree, leaves[n:])
        self._call = jax.jit(exported.call)

    def step(self, inputs):
        self.ensure_loaded(inputs)
        x, _y, *lengths = inputs
        return self._call(self.params, self.state, x, *lengths)
