"""The CUDA paths, for real. Skipped without a CUDA device (CI has none)."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench import backends, environment
from bench.store import load_run

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        environment.cuda_unavailable_reason() is not None,
        reason=f"no CUDA device: {environment.cuda_unavailable_reason()}",
    ),
]


def test_every_installed_backend_runs_on_cuda(tmp_path):
    names = [
        b
        for b in backends.for_device("cuda")
        if backends.not_installed_reason(backends.get(b).framework) is None
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--device",
            "cuda",
            "--models",
            "mlp,cnn",
            "--backends",
            ",".join(names),
            "--out-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=3000,
    )
    assert done.returncode == 0, done.stderr
    run = load_run(Path(done.stdout.strip().splitlines()[-1]))
    assert len(run.results) == len(names) * 2 * 2
    for r in run.results:
        assert r.ok, (r.cell.backend, r.error, r.process.output_tail)
        assert r.memory.peak_device_bytes > 0 and r.memory.device_memory_counter
    assert run.meta["environment"]["gpus"]
