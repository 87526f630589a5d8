"""PyTorch ahead of time: the ``torch.export`` program, and its AOTInductor package.

Both export the inference step of the module torch-eager runs (the same weights, the same
storage dtype), with the batch dimension declared dynamic (``Dim.AUTO``: kept dynamic
unless the model's code fixes it). torch-export saves the ExportedProgram and runs the
loaded program as a module, op by op through ATen; torch-aoti compiles it with Inductor
into a package (a shared library and the weights) that a serving process loads and calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

import models
from bench.backends.base import ArtifactBackend
from bench.backends.torch_backends import DTYPES, TorchBackend
from bench.matrix.precision import get as precision_policy

PROGRAM_FILE = "program.pt2"
PACKAGE_FILE = "model.pt2"


class TorchArtifact(TorchBackend, ArtifactBackend):
    """The shared part: export the eager module's forward pass; load and run the artefact."""

    _run: Any  # the loaded artefact, called as the module was

    def build(
        self, model, cfg, params, mode, device, strategy="exact", precision="float32"
    ) -> None:
        if not self.loading:
            super().build(model, cfg, params, mode, device, strategy, precision)
            return
        # A serving process: what ``put`` needs to know, then the artefact alone.
        impl = self.implementation(model, "torch")
        self.device, self.mode, self.strategy, self.cfg, self.impl = (
            torch.device(device),
            mode,
            strategy,
            cfg,
            impl,
        )
        self.prepare_input = models.prepare_input(impl)
        self.policy = precision_policy(precision)
        self.storage = DTYPES[self.policy.storage]
        assert self.artifact_dir is not None
        self.load_artifact(self.artifact_dir)
        self.mark_loaded()

    def exported_program(self, inputs: Any) -> torch.export.ExportedProgram:
        x, _y, *lengths = inputs
        args = (x, *lengths)
        # The batch dimension of every input may vary; export keeps it symbolic where the
        # model allows (AUTO never fails for a dimension the code specialises).
        dynamic = tuple({0: torch.export.Dim.AUTO} for _ in args)
        return torch.export.export(self.module, args, dynamic_shapes=dynamic)

    def step(self, inputs):
        self.ensure_loaded(inputs)
        x, _y, *lengths = inputs
        with torch.inference_mode():
            return self._run(x, *lengths)

    def export_params(self):
        raise NotImplementedError(f"{self.name} runs an artefact: its weights are inside it")


class TorchExport(TorchArtifact):
    name = "torch-export"
    framework = "torch"

    def export_artifact(self, inputs, directory: Path) -> None:
        torch.export.save(self.exported_program(inputs), str(directory / PROGRAM_FILE))

    def load_artifact(self, directory: Path) -> None:
        program = torch.export.load(str(directory / PROGRAM_FILE))
        self._run = program.module()


class TorchAoti(TorchArtifact):
    name = "torch-aoti"
    framework = "torch"

    def export_artifact(self, inputs, directory: Path) -> None:
        # Inductor compiles for the device of the example inputs (C++ on CPU, Triton on CUDA).
        torch._inductor.aoti_compile_and_package(
            self.exported_program(inputs), package_path=str(directory / PACKAGE_FILE)
        )

    def load_artifact(self, directory: Path) -> None:
        self._run = torch._inductor.aoti_load_package(str(directory / PACKAGE_FILE))
