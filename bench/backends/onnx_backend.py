"""ONNX Runtime: the torch model exported with torch's ONNX exporter, run by ONNX Runtime.

The exporter is the pinned torch's own (``torch.onnx.export(dynamo=True)``: torch.export,
then translated to ONNX by onnxscript), batch dimension dynamic where the model allows.
The serving process needs only onnxruntime and NumPy to run the artefact; it imports
torch here because graphbench's cell belongs to the torch framework (its threads, its
version in the record). ONNX Runtime's CPU provider on CPU, its CUDA provider on a GPU.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from bench.backends.torch_aot import TorchArtifact

MODEL_FILE = "model.onnx"


class OnnxRuntime(TorchArtifact):
    name = "onnxruntime"
    framework = "torch"
    threads = 1

    @classmethod
    def configure(cls, device: str, threads: int, precision: str) -> dict[str, Any]:
        settings = super().configure(device, threads, precision)
        cls.threads = threads  # ONNX Runtime's own pool: the same count as every framework's
        return {
            **settings,
            "onnxruntime": ort.__version__,
            "intra_op_num_threads": threads,
            "inter_op_num_threads": 1,
        }

    @classmethod
    def framework_version(cls) -> str:
        return f"torch {torch.__version__}, onnxruntime {ort.__version__}"

    @classmethod
    def unavailable_reason(cls, device: str) -> str | None:
        if device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            return f"this onnxruntime build ({ort.__version__}) has no CUDA provider"
        return None

    def export_artifact(self, inputs, directory: Path) -> None:
        x, _y, *lengths = inputs
        args = (x, *lengths)
        dynamic = tuple({0: torch.export.Dim.AUTO} for _ in args)
        # The exporter reports its progress on stdout: kept out of the worker's log tail.
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                program = torch.onnx.export(self.module, args, dynamo=True, dynamic_shapes=dynamic)
            except Exception as exc:
                # The ONNX exporter wraps torch.export's error in its own banner: the cell's
                # reason is the error it wraps, in torch.export's own words.
                cause = exc.__cause__
                if cause is None:
                    raise
                first = (str(cause).strip().splitlines() or [""])[0]
                raise RuntimeError(
                    f"torch.onnx.export: torch.export failed: {type(cause).__name__}: {first}"
                ) from exc
        assert program is not None  # None only where export is told to write a file itself
        program.save(str(directory / MODEL_FILE))

    def load_artifact(self, directory: Path) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if self.device.type == "cuda":
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(
            str(directory / MODEL_FILE), options, providers=providers
        )
        self.input_names = [i.name for i in self.session.get_inputs()]

    def put(self, batch):
        # Host tensors: ONNX Runtime reads host arrays (and copies them to a GPU itself);
        # the step hands it their memory as NumPy views, no copy.
        return tuple(t.cpu() for t in super().put(batch))

    def step(self, inputs):
        self.ensure_loaded(inputs)
        x, _y, *lengths = inputs
        feeds = {n: t.numpy() for n, t in zip(self.input_names, (x, *lengths), strict=True)}
        return self.session.run(None, feeds)[0]  # synchronous: the output is on the host

    def sync(self, out) -> None:
        return None  # InferenceSession.run returns when the outputs are ready

    def to_numpy(self, out) -> np.ndarray:
        return np.asarray(out, dtype=np.float32)

    def peak_device_bytes(self) -> int | None:
        return None
