"""The suites (models/suites, issue 20 part 4): real-world models built from config, nothing
downloaded. Fast tier: names, the one-line refusals, `bench list`, records and the cost prior
(no framework imported). Framework tier: one small parity check per suite model (quick
profile, inference, torch-eager or keras-jax) and a run with the network blocked."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench import __main__ as cli
from bench.errors import SchemaError, UsageError
from bench.matrix import cost
from bench.results.record import cell_from_json
from bench.results.store import load_run
from models import suites, user

REPO = Path(__file__).resolve().parents[1]
TORCH_MODELS = [n for n in suites.names() if not n.startswith("keras-hub/")]
KERAS_MODELS = [n for n in suites.names() if n.startswith("keras-hub/")]


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch):
    """Each test starts with no user or suite model registered (the registry is os.environ)."""
    monkeypatch.delenv(user.ENV, raising=False)
    user.spec.cache_clear()
    cost.derived_factor.cache_clear()


def needs(name: str):
    """Skip, saying what is missing, where the suite's packages are not installed (nox -s tests
    installs hf's and keras-hub's; torchvision's CPU build only comes from PyTorch's index)."""
    missing = suites.SUITES[name.split("/")[0]].missing()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed ({suites.EXTRA})")


# --- fast tier: no framework is imported -----------------------------------------------


@pytest.mark.parametrize("profile", suites.PROFILES)
def test_every_suite_name_resolves_to_a_factory_of_its_profile(monkeypatch, profile):
    monkeypatch.setattr(suites.Suite, "missing", lambda self: [])
    issue = {
        "torchvision/resnet50",
        "torchvision/vit_b_16",
        "torchvision/mobilenet_v3_large",
        "timm/convnext_tiny",
        "hf/bert-base",
        "hf/gpt2",
        "hf/t5-small",
        "hf/llama",
        "keras-hub/gpt2",
        "keras-hub/bert-base",
    }
    assert issue <= set(suites.names())
    for name in suites.names():
        module, function = suites.source(name, profile).split(":")
        assert function.endswith(f"_{profile}")
        path = REPO / Path(*module.split(".")).with_suffix(".py")
        defined = {
            f.name for f in ast.parse(path.read_text()).body if isinstance(f, ast.FunctionDef)
        }
        assert function in defined, f"{name}: {path} defines no {function}"


def test_an_unknown_model_of_a_suite_is_one_line_naming_its_models(tmp_path, capsys):
    assert cli.main(["run", "--models", "hf/bart", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--models hf/bart: unknown model of suite hf; expected one of hf/bert-base" in err


def test_without_the_extra_a_suite_model_is_one_line_naming_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(suites.Suite, "missing", lambda self: [self.packages[0]])
    argv = ["run", "--models", "mlp,hf/gpt2", "--out-dir", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--models hf/gpt2: transformers not installed" in err
    assert "pip install 'graphbench[suites]'" in err
    assert not list(tmp_path.iterdir()), "no run directory for a refused model"


def test_bench_list_shows_each_suite_and_whether_it_is_installed(monkeypatch, capsys):
    monkeypatch.setattr(
        suites.Suite, "missing", lambda self: [] if self.prefix == "hf" else list(self.packages)
    )
    assert cli.main(["list"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "graphbench[suites]" in out
    rows = dict((r[0], r[2]) for r in suites.rows())
    assert rows["hf"] == "yes"
    assert rows["keras-hub"] == "no: keras_hub missing (graphbench[suites])"
    for name in ("hf/gpt2", "torchvision/resnet50", "keras-hub/bert-base", "timm/convnext_tiny"):
        assert name in out


def test_a_suite_model_names_a_cell_and_keeps_its_slash_out_of_file_names():
    data = {
        "scenario": "fixed",
        "model": "hf/gpt2",
        "profile": "quick",
        "backend": "torch-eager",
        "mode": "infer",
        "device": "cpu",
        "batch_size": 2,
    }
    cell = cell_from_json(data, "cells.jsonl:1")
    assert cell.model == "hf/gpt2"
    assert "/" not in cell.file_stem(3) and "hf+gpt2" in cell.file_stem(3)
    from bench.matrix import scenarios

    assert scenarios.get("fixed").reference_name(cell, 0).startswith("hf+gpt2-quick")
    for bad in ("hf/../x", "nosuite/gpt2", "hf/gpt2/x"):
        with pytest.raises(SchemaError):
            cell_from_json({**data, "model": bad}, "cells.jsonl:1")


def test_the_cost_prior_of_a_suite_model_comes_from_its_counted_flops_and_tensors():
    """Not a constant: the check's FLOPs and parameter tensors (models.user's registry)."""
    for name, flops, tensors in (("hf/gpt2", 6.8e9, 30), ("hf/llama", 2.4e9, 21)):
        user.register(
            name,
            {
                "source": f"models.suites.hf:{name[3:]}_quick",
                "framework": "torch",
                "batch_size": 2,
                "example_bytes": 512,
                "describe": "",
                "flops_infer": flops,
                "parameter_tensors": tensors,
            },
        )
    gpt2, llama = cost.derived_factor("hf/gpt2", "quick"), cost.derived_factor("hf/llama", "quick")
    assert gpt2 == pytest.approx((6.8e9 / 1e9) ** 0.1 * (30 / 10) ** 0.25)
    assert llama == pytest.approx((2.4e9 / 1e9) ** 0.1 * (21 / 10) ** 0.25)


def test_a_name_with_a_suite_s_prefix_is_never_taken_for_a_zoo_name():
    with pytest.raises(UsageError, match="unknown model of suite keras-hub"):
        suites.source("keras-hub/llama", "quick")


# --- framework tier: real models --------------------------------------------------------


def register(name: str, profile: str = "quick") -> user.UserSpec:
    """The suite model registered as the command line's check would (models.user)."""
    source = suites.source(name, profile)
    made = user.load(source)
    x, y = made.make_batch(1, 0)
    user.register(
        name,
        {
            "source": source,
            "framework": made.framework,
            "batch_size": made.batch_size,
            "example_bytes": int(x.nbytes + y.nbytes),
            "describe": "",
        },
    )
    return user.spec(name)


@pytest.mark.framework
@pytest.mark.parametrize("name", TORCH_MODELS)
def test_each_torch_suite_model_passes_parity_on_torch_eager(name):
    """The quick profile's inference on torch-eager against the float64 eager reference, the
    same functions the reference process and the worker run."""
    needs(name)
    from bench import backends
    from bench.worker.parity import max_rel_err

    spec = register(name)
    cfg, seed = spec.PROFILES["quick"], 0
    batch_size = spec.BATCH_SIZE["quick"]
    expected = user.reference_outputs(name, batch_size, "infer", seed)
    assert str(expected["reference"]).startswith("torch float64 eager")
    assert str(expected["flops_counter"]).startswith("torch.utils.flop_counter.FlopCounterMode")
    assert int(expected["flops_per_step"]) > 0
    cls = backends.load("torch-eager")
    cls.configure("cpu", 1, "float32")
    backend = cls()
    backend.build(name, cfg, spec.init_params(cfg, seed), "infer", "cpu")
    batch = spec.make_batch(cfg, batch_size, seed + 1)
    out = backend.to_numpy(backend.step(backend.put(batch)))
    assert np.all(np.isfinite(out))
    assert np.ptp(expected["output"]) > 0, "constant logits: a parity check that cannot fail"
    assert max_rel_err(out, expected["output"]) < 1e-4


KERAS_SIDE = """
import json, sys
import numpy as np
from tests.test_suites import register
from models import user
name, side, path = sys.argv[1:4]
spec = register(name)
cfg, size = spec.PROFILES["quick"], spec.BATCH_SIZE["quick"]
if side == "reference":
    out = user.reference_outputs(name, size, "infer", 0)
    np.savez(path, **out)
else:
    from bench import backends
    cls = backends.load("keras-jax")
    cls.configure("cpu", 1, "float32")
    b = cls()
    b.build(name, cfg, spec.init_params(cfg, 0), "infer", "cpu")
    np.save(path, b.to_numpy(b.step(b.put(spec.make_batch(cfg, size, 1)))))
"""


def keras_side(name: str, side: str, path: Path, keras_backend: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": keras_backend}
    argv = [sys.executable, "-c", KERAS_SIDE, name, side, str(path)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.framework
@pytest.mark.parametrize("name", KERAS_MODELS)
def test_each_keras_hub_model_passes_parity_on_keras_jax(tmp_path, name):
    """keras-jax (jit) against the float64 reference on Keras's TensorFlow backend, each in
    its own process as in a run (Keras reads KERAS_BACKEND once)."""
    needs(name)
    from bench.worker.parity import max_rel_err

    keras_side(name, "reference", tmp_path / "ref.npz", "tensorflow")
    keras_side(name, "backend", tmp_path / "out.npy", "jax")
    expected = np.load(tmp_path / "ref.npz")
    assert str(expected["reference"]).startswith("keras float64 eager on tensorflow")
    assert int(expected["flops_per_step"]) > 0
    out = np.load(tmp_path / "out.npy")
    assert np.ptp(expected["output"]) > 0, "constant logits: a parity check that cannot fail"
    assert max_rel_err(out, expected["output"]) < 1e-4


# A socket guard for every process of the run (the workers import it as sitecustomize): any
# connection that leaves this machine is refused, and noted in a file the test reads.
GUARD = """
import os, socket
_connect = socket.socket.connect


def _guarded(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            with open(os.environ["GRAPHBENCH_TEST_NET_LOG"], "a") as log:
                log.write(f"{os.getpid()} {address}\\n")
            raise OSError(f"network blocked by the test: {address}")
    return _connect(self, address)


socket.socket.connect = _guarded
"""


@pytest.mark.framework
@pytest.mark.e2e
@pytest.mark.slow
def test_suite_models_run_offline_and_leave_every_cache_empty(tmp_path, monkeypatch):
    names = [
        n
        for n in ("hf/gpt2", "torchvision/resnet50", "keras-hub/gpt2")
        if not suites.SUITES[n.split("/")[0]].missing()
    ]
    if not names:
        pytest.skip(f"no suite installed ({suites.EXTRA})")
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(textwrap.dedent(GUARD))
    caches = {v: tmp_path / v.lower() for v in ("HF_HOME", "TORCH_HOME", "KERAS_HOME")}
    for var, folder in caches.items():
        folder.mkdir()
        monkeypatch.setenv(var, str(folder))
    net_log = tmp_path / "net.log"
    monkeypatch.setenv("GRAPHBENCH_TEST_NET_LOG", str(net_log))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(guard), str(REPO)]))
    original, namespace = socket.socket.connect, {}
    exec(compile(textwrap.dedent(GUARD), "guard", "exec"), namespace)  # this process too
    socket.socket.connect = original
    monkeypatch.setattr(socket.socket, "connect", namespace["_guarded"])
    with pytest.raises(OSError, match="network blocked"):
        socket.create_connection(("198.51.100.1", 443), timeout=1)
    net_log.unlink()
    out = tmp_path / "runs"
    argv = [
        "run",
        "--models",
        ",".join(names),
        "--backends",
        "torch-eager,keras-jax",
        "--modes",
        "infer,train",
        "--profile",
        "quick",
        "--out-dir",
        str(out),
    ]
    assert cli.main(argv) == 0
    rows = [r.to_json() for r in load_run(next(out.iterdir())).results]
    applicable = [r for r in rows if r["status"] != "not-applicable"]
    assert len(applicable) == 2 * len(names)
    for r in applicable:
        assert r["status"] == "ok", (r["model"], r["backend"], r.get("error"))
        assert r["flops_per_step"] > 0 and r["flops_counter"]
    assert not net_log.exists(), net_log.read_text()
    for var, folder in caches.items():
        found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
        # Keras writes its settings file on its first import (no download): nothing else.
        allowed = ["keras.json"] if var == "KERAS_HOME" else []
        assert set(found) <= set(allowed), f"{var}: {found[:5]}"
    meta = json.loads((next(out.iterdir()) / "run.json").read_text())
    assert set(meta["user_models"]) == set(names)
