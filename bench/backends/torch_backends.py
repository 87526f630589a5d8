"""PyTorch backends: eager, torch.compile (three modes) and TorchScript.

All share one infer step and one train step (cross-entropy + backward + Adam); they
differ only in how that step is wrapped.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import models
from bench.backends import torch_cudagraphs
from bench.backends.base import ADAM, Backend, DeviceMemory
from bench.matrix.precision import LOSS_SCALE_FACTOR, LOSS_SCALE_GROWTH_INTERVAL, LOSS_SCALE_INIT
from bench.matrix.precision import get as precision_policy

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cross_entropy(
    logits: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean cross-entropy over every position; with ``lengths``, over the unpadded ones."""
    flat_logits, flat_y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
    if lengths is None or y.dim() < 2:
        return F.cross_entropy(flat_logits, flat_y)
    per_position = F.cross_entropy(flat_logits, flat_y, reduction="none")
    positions = torch.arange(y.shape[1], device=y.device)
    valid = (positions[None, :] < lengths[:, None]).reshape(-1).to(per_position.dtype)
    return (per_position * valid).sum() / valid.sum()


class TorchBackend(Backend):
    framework = "torch"
    device_memory_counter = "torch.cuda.max_memory_allocated"
    peak_reset = "torch.cuda.reset_peak_memory_stats"
    in_use_counter = "torch.cuda.memory_allocated"
    reserved_memory_counter = "torch.cuda.max_memory_reserved"

    @classmethod
    def configure(cls, device: str, threads: int, precision: str) -> dict[str, Any]:
        torch.set_num_threads(threads)
        # Raises once inter-op work has started in this process (only in tests).
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(threads)
        # float32 means float32: no TF32 tensor-core math in matmuls or convolutions, but
        # where the tf32 policy asks for it (bench.matrix.precision).
        tf32 = precision_policy(precision).tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
        # The tuning policy every framework follows: pick each convolution's algorithm by
        # timing the candidates on first use (XLA and TensorFlow do this by default).
        torch.backends.cudnn.benchmark = device == "cuda"
        return {
            "TORCHINDUCTOR_CACHE_DIR": os.environ.get("TORCHINDUCTOR_CACHE_DIR"),
            "torch.get_num_threads": torch.get_num_threads(),
            "torch.get_num_interop_threads": torch.get_num_interop_threads(),
            "torch.backends.cuda.matmul.allow_tf32": tf32,
            "torch.backends.cudnn.allow_tf32": tf32,
            "precision": precision,
            "torch.backends.cudnn.benchmark": torch.backends.cudnn.benchmark,
        }

    @classmethod
    def framework_version(cls) -> str:
        return torch.__version__

    referee = "torch.utils.benchmark.Timer.blocked_autorange"

    @classmethod
    def standard_timer(cls, step, inputs, min_time_s: float) -> list[float]:
        # PyTorch's own timer: blocks of calls sized so the timer's cost vanishes, each
        # block's mean per call (Measurement.times). Timer runs on one thread unless told:
        # it is given the threads configure set, as a user who set them would see.
        from torch.utils import benchmark

        timer = benchmark.Timer(
            stmt="step(inputs)",
            globals={"step": step, "inputs": inputs},
            num_threads=torch.get_num_threads(),
        )
        return list(timer.blocked_autorange(min_run_time=min_time_s).times)

    @classmethod
    def unavailable_reason(cls, device: str) -> str | None:
        if device == "cuda" and not torch.cuda.is_available():
            return f"this torch build ({torch.__version__}) sees no CUDA device"
        return None

    @classmethod
    def cuda_build(cls) -> str | None:
        return torch.version.cuda

    @classmethod
    def is_out_of_memory(cls, exc: BaseException) -> bool:
        return isinstance(exc, (MemoryError, torch.OutOfMemoryError))

    @classmethod
    def peak_matmul(cls, device, n, dtype, tf32):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
        dev = torch.device(device)
        a, b = (torch.randn(n, n, device=dev).to(DTYPES[dtype]) for _ in range(2))
        c = torch.empty(n, n, device=dev, dtype=DTYPES[dtype])

        def run(calls: int) -> None:
            for _ in range(calls):
                torch.matmul(a, b, out=c)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)

        return run, f"torch.matmul(a, b, out=c), allow_tf32={tf32}"

    @classmethod
    def peak_copy(cls, device, nbytes):
        dev = torch.device(device)
        src = torch.ones(nbytes // 4, device=dev)
        dst = torch.empty_like(src)

        def run(calls: int) -> None:
            for _ in range(calls):
                dst.copy_(src)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)

        return run, "torch Tensor.copy_ (float32)"

    def build(
        self, model, cfg, params, mode, device, strategy="exact", precision="float32"
    ) -> None:
        impl = self.implementation(model, "torch")
        self.device = torch.device(device)
        self.mode = mode
        self.strategy = strategy
        self.cfg = cfg
        self.impl = impl
        self.prepare_input = models.prepare_input(impl)
        self.policy = precision_policy(precision)
        # bf16: the model cast, weights and buffers (PyTorch's model.to(torch.bfloat16)).
        self.storage = DTYPES[self.policy.storage]
        self.module = impl.build(cfg, params).to(self.device, self.storage)
        # The mode first: a scripted module keeps the training flag it was scripted with.
        self.module.train(mode == "train")
        net = self.wrap_module(self.module)
        if mode == "infer":

            def infer_step(x: torch.Tensor, lengths=None) -> torch.Tensor:
                with self.autocast():
                    return net(x) if lengths is None else net(x, lengths)

            self._step = self.wrap(infer_step, mode)
            return
        optimizer = torch.optim.Adam(
            self.module.parameters(),
            lr=ADAM.lr,
            betas=(ADAM.beta1, ADAM.beta2),
            eps=ADAM.eps,
            weight_decay=ADAM.weight_decay,
        )
        # float16 gradients underflow: scale the loss up, unscale before the step, skip a step
        # that overflowed (PyTorch's GradScaler; bench.matrix.precision's constants).
        scaler = (
            torch.amp.GradScaler(
                self.device.type,
                init_scale=LOSS_SCALE_INIT,
                growth_factor=LOSS_SCALE_FACTOR,
                backoff_factor=1 / LOSS_SCALE_FACTOR,
                growth_interval=LOSS_SCALE_GROWTH_INTERVAL,
            )
            if self.policy.loss_scaling
            else None
        )

        # A user's model may bring its own loss (models.user.torch); the zoo's is cross_entropy.
        loss_of = getattr(impl, "training_loss", None)
        loss_fn = cross_entropy if loss_of is None else loss_of(cfg)

        def train_step(x: torch.Tensor, y: torch.Tensor, lengths=None) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                logits = net(x) if lengths is None else net(x, lengths)
            loss = loss_fn(logits.float(), y, lengths)  # the loss in float32, always
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            return loss.detach()

        self._step = self.wrap(train_step, mode)

    def autocast(self):
        """Mixed precision: matmuls and convolutions in the policy's dtype, weights float32."""
        if not self.policy.autocast:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.policy.compute])

    def wrap_module(self, module: torch.nn.Module):
        """Hook for backends that transform the module itself (TorchScript)."""
        return module

    def wrap(self, fn, mode: str):
        """Hook for backends that wrap the whole step (torch.compile)."""
        return fn

    def put(self, batch):
        x, y, *lengths = batch
        x = torch.from_numpy(np.ascontiguousarray(self.prepare_input(x))).to(self.device)
        if x.is_floating_point():
            x = x.to(self.storage)  # images in the weights' dtype; token ids stay integers
        y = torch.from_numpy(y.astype(np.int64)).to(self.device)
        if lengths:
            return x, y, torch.from_numpy(lengths[0].astype(np.int64)).to(self.device)
        return x, y

    def step(self, inputs):
        x, y, *lengths = inputs
        if self.mode == "infer":
            with torch.inference_mode():
                return self._step(x, *lengths)
        return self._step(x, y, *lengths)

    def sync(self, out) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def to_numpy(self, out) -> np.ndarray:
        return out.detach().float().cpu().numpy()

    def export_params(self) -> dict[str, np.ndarray]:
        return self.impl.export(self.cfg, self.module)

    def device_memory(self) -> DeviceMemory | None:
        if self.device.type != "cuda":
            return None
        return DeviceMemory(
            peak_bytes=int(torch.cuda.max_memory_allocated(self.device)),
            in_use_bytes=int(torch.cuda.memory_allocated(self.device)),
            peak_reserved_bytes=int(torch.cuda.max_memory_reserved(self.device)),
        )

    def reset_device_peak(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def trace(self, run_steps, out_dir: Path) -> list[str]:
        """torch.profiler (CPU, and CUDA kernels on a GPU): a Chrome-trace JSON."""
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if self.device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            run_steps()
        prof.export_chrome_trace(str(out_dir / "trace.json"))
        return ["trace.json"]


class TorchEager(TorchBackend):
    name = "torch-eager"


# The torch.compile modes in which Inductor records and replays CUDA graphs (on CUDA).
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


class TorchCompile(TorchBackend):
    name = "torch-compile"
    compile_mode: str | None = None  # inductor's default
    replays: torch_cudagraphs.StepReplays | None = None  # where CUDA graphs are used

    @property
    def uses_cuda_graphs(self) -> bool:
        return self.compile_mode in CUDA_GRAPH_MODES and self.device.type == "cuda"

    def wrap(self, fn, mode: str):
        # The whole step is handed to dynamo: in train mode it breaks the graph at
        # backward(), compiles forward+backward through AOTAutograd and the optimizer
        # step as its own graph.
        dynamic = True if self.strategy == "dynamic" else None  # None: dynamo's default
        if self.uses_cuda_graphs:  # count the replays: cuda_graphs() reports what happened
            self.replays = torch_cudagraphs.install(torch.cuda.CUDAGraph)
        return torch.compile(fn, mode=self.compile_mode, dynamic=dynamic)

    def step(self, inputs):
        if not self.uses_cuda_graphs:
            return super().step(inputs)
        # CUDA-graph trees reuse output memory between replays; mark each step's start so a
        # training loop's previous outputs are not treated as still alive (PyTorch's
        # torch.compiler.cudagraph_mark_step_begin, for every mode that records graphs).
        torch.compiler.cudagraph_mark_step_begin()
        counter = self.replays
        if counter is None:
            return super().step(inputs)
        return counter.step(lambda: super(TorchCompile, self).step(inputs))

    def diagnose(self):
        from bench.backends.torch_capture import DynamoDiagnosis

        # Where CUDA graphs are asked for and can be (cuda_graphs): whether Inductor skipped.
        asked = self.compile_mode in ("reduce-overhead", "max-autotune")
        return DynamoDiagnosis(cuda_graphs=asked and self.device.type == "cuda")

    def compilations(self) -> int | None:
        # Dynamo's count of distinct graphs compiled in this process (graph breaks and
        # recompiles each add one).
        return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])

    def cuda_graphs(self) -> dict[str, Any] | None:
        """reduce-overhead, and max-autotune on CUDA, replay CUDA graphs unless Inductor
        finds a reason not to (a CPU tensor, a mutated input...): whether it did, from the
        replays counted and Inductor's own tree and counters (bench.backends.torch_cudagraphs)."""
        if self.compile_mode not in CUDA_GRAPH_MODES:
            return None
        if self.device.type != "cuda":
            return {"requested": False, "used": False, "why": "CUDA graphs are CUDA only"}
        from torch._inductor import cudagraph_trees

        reasons = [
            str(m.cudagraph_skip_reason)
            for m in torch._dynamo.utils.get_compilation_metrics()
            if getattr(m, "cudagraph_skip_reason", None)
        ]
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        manager = cudagraph_trees.get_manager(index, create_if_none_exists=False)
        return torch_cudagraphs.evidence(
            self.replays,
            torch._dynamo.utils.counters["inductor"],
            reasons,
            torch_cudagraphs.tree_facts(manager),
        )


class TorchCompileMaxAutotune(TorchCompile):
    name = "torch-compile-max-autotune"
    compile_mode = "max-autotune"


class TorchCompileReduceOverhead(TorchCompile):
    name = "torch-compile-reduce-overhead"
    compile_mode = "reduce-overhead"

    @classmethod
    def unavailable_reason(cls, device: str) -> str | None:
        if device != "cuda":
            return "mode='reduce-overhead' replays CUDA graphs: CUDA only"
        return super().unavailable_reason(device)


class TorchScript(TorchBackend):
    name = "torchscript"

    def wrap_module(self, module: torch.nn.Module):
        # The profiling executor specialises and optimises the graph over the first
        # calls; the worker's warm-up runs them before any sample is taken. Its default
        # fusion strategy specialises on two shapes, then goes shape-generic.
        if self.strategy == "dynamic":
            torch.jit.set_fusion_strategy([("DYNAMIC", 20)])
        self.scripted = torch.jit.script(module)
        return self.scripted

    def diagnose(self):
        from bench.backends.torch_capture import TorchScriptDiagnosis

        return TorchScriptDiagnosis(self.scripted)
