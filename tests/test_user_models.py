"""A user's own model (--models PATH.py:FUNCTION, package.module:FUNCTION): parsing, the
check before a run, the registry, and (framework tier) a real run of a model file written
outside the repository, the issue's test case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import ModelSpec
from bench import __main__ as cli
from bench.errors import SchemaError, UsageError
from bench.results.record import cell_from_json
from bench.results.store import load_run
from models import user

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch):
    """Each test starts with no user model registered (the registry lives in os.environ)."""
    monkeypatch.delenv(user.ENV, raising=False)
    user.spec.cache_clear()


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


# --- fast tier: no framework is imported -----------------------------------------------


def test_both_source_forms_parse_and_name_their_cells(tmp_path):
    path = write(tmp_path, "my_model.py", "def make(): pass\n")
    by_path = user.parse(f"{path}:make")
    assert by_path.path == str(path.resolve()) and by_path.function == "make"
    assert by_path.name == "my_model.py:make"
    by_module = user.parse("my_pkg.models:make_net")
    assert (by_module.module, by_module.name) == ("my_pkg.models", "my_pkg.models:make_net")
    assert user.is_user_name(by_path.name) and user.is_user_name(by_module.name)
    assert not user.is_user_name("mlp")


@pytest.mark.parametrize(
    "text, says",
    [
        ("/no/such/dir/model.py:make", "/no/such/dir/model.py does not exist"),
        ("model.py:", "not a model source"),
        ("a b:make", "not a model source"),
        ("pkg.mod:1make", "not a model source"),
    ],
)
def test_a_bad_source_is_refused_naming_it(text, says):
    with pytest.raises(UsageError, match=r"expected PATH\.py:FUNCTION") as caught:
        user.parse(text)
    assert says in str(caught.value)


def test_a_directory_is_not_a_model_file(tmp_path):
    (tmp_path / "d.py").mkdir()
    with pytest.raises(UsageError, match="is a directory"):
        user.parse(f"{tmp_path / 'd.py'}:make")


def test_model_spec_lists_what_it_gets_wrong():
    def fn(*a):
        return None

    assert ModelSpec("torch", fn, fn).problems() == []
    assert ModelSpec("jax", fn, fn, apply=fn).problems() == []
    found = ModelSpec("mxnet", fn, "batch", batch_size=0).problems()  # type: ignore[arg-type]
    assert any("framework 'mxnet'" in p for p in found)
    assert any(p.startswith("make_batch") for p in found)
    assert any(p.startswith("batch_size 0") for p in found)
    assert ModelSpec("jax", fn, fn).problems() == ["apply: a jax model needs apply(params, x)"]


def test_registry_travels_in_the_environment_and_refuses_a_name_twice():
    entry = {"source": "/a/m.py:make", "framework": "torch", "batch_size": 4}
    user.register("m.py:make", {**entry, "describe": "", "example_bytes": 8})
    assert json.loads(os.environ[user.ENV])["m.py:make"]["framework"] == "torch"
    assert user.spec("m.py:make").BATCH_SIZE == {"quick": 4, "full": 4}
    assert user.spec("m.py:make").STREAM_MODES == ()
    assert user.not_applicable("m.py:make", "torch", "torchscript") is None
    assert user.not_applicable("m.py:make", "tf", "tf-xla") == (
        "m.py:make is a torch model; tf-xla runs tf models"
    )
    with pytest.raises(UsageError, match=r"would both be named m\.py:make"):
        user.register("m.py:make", {**entry, "source": "/b/m.py:make"})


def test_a_stored_cell_may_name_a_user_model_but_never_a_path():
    cell = {"model": "my_model.py:make", "backend": "torch-eager", "mode": "infer"}
    cell.update(device="cpu", batch_size=8, profile="quick")
    assert cell_from_json(cell, "here").model == "my_model.py:make"
    with pytest.raises(SchemaError, match="path separator"):
        cell_from_json({**cell, "model": "/tmp/my_model.py:make"}, "here")


def check(source: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.worker.user_check", source],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stderr.strip()


# Bad models whose fault shows before any framework is imported.
BAD = {
    "raises": ("def make():\n    raise ValueError('no config')\n", "make() raised ValueError"),
    "wrong-type": ("def make():\n    return 42\n", "make() returned int; expected"),
    "no-function": ("def other():\n    pass\n", "has no function make"),
    "import-error": ("import no_such_package_xyz\n", "cannot be imported: ModuleNotFoundError"),
    "bad-spec": (
        "from bench import ModelSpec\n"
        "def make():\n    return ModelSpec('mxnet', lambda s: None, lambda b, s: None)\n",
        "framework 'mxnet': expected one of torch, jax, tf",
    ),
    "bad-batch": (
        "from bench import ModelSpec\n"
        "def make():\n    return ModelSpec('torch', lambda s: None, lambda b, s: [1, 2])\n",
        "make_batch(1, 0) returned list; expected a tuple (inputs, targets)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_model_is_one_line_naming_the_file(tmp_path, case):
    body, says = BAD[case]
    path = write(tmp_path, "bad_model.py", body)
    code, err = check(f"{path}:make")
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"{path}:make: ") and says in err


def test_the_command_line_refuses_a_missing_file_in_one_line(tmp_path, capsys):
    argv = ["run", "--models", "mlp,/nowhere/m.py:make", "--out-dir", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--models /nowhere/m.py:make: /nowhere/m.py does not exist" in err


def test_the_command_line_passes_the_check_s_one_line_on(tmp_path, capsys):
    path = write(tmp_path, "bad_model.py", BAD["wrong-type"][0])
    argv = ["run", "--models", f"{path}:make", "--out-dir", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--models {path}:make: make() returned int" in err
    assert not list(tmp_path.glob("*-cpu*")), "no run directory for a refused model"


# --- framework tier: real models, real workers -----------------------------------------

# The issue's test case: an nn.Module written outside the repository whose forward has a
# Python `if` on a config flag.
ISSUE_MODEL = """
    from dataclasses import dataclass

    import numpy as np
    import torch
    from torch import nn

    from bench import ModelSpec


    @dataclass
    class Config:
        gated: bool = True
        width: int = 24


    class Gated(nn.Module):
        def __init__(self, cfg: Config):
            super().__init__()
            self.gated = cfg.gated
            self.up = nn.Linear(12, cfg.width)
            self.gate = nn.Linear(12, cfg.width)
            self.head = nn.Linear(cfg.width, 5)

        def forward(self, x):
            h = self.up(x)
            if self.gated:
                h = h * torch.sigmoid(self.gate(x))
            return self.head(torch.tanh(h))


    def batch(batch_size, seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch_size, 12), dtype=np.float32)
        return x, rng.integers(0, 5, batch_size)


    def make():
        build = lambda seed: Gated(Config())  # noqa: E731
        return ModelSpec("torch", build=build, make_batch=batch, batch_size=4)
"""


def run_cells(tmp_path: Path, source: str, backends: str, modes: str = "infer,train") -> list:
    out = tmp_path / "runs"
    argv = ["run", "--models", source, "--backends", backends, "--modes", modes]
    assert cli.main([*argv, "--profile", "quick", "--out-dir", str(out)]) == 0
    (run_dir,) = out.iterdir()
    # One row per cell, as every reader sees it (a cell measured again after a slow window
    # keeps both records in the file: store.read_results uses the newer).
    return [r.to_json() for r in load_run(run_dir).results]


@pytest.mark.framework
@pytest.mark.e2e
def test_a_torch_model_from_outside_the_repo_runs_on_torch_and_only_torch(tmp_path, capsys):
    path = write(tmp_path, "my_model.py", ISSUE_MODEL)
    rows = run_cells(tmp_path, f"{path}:make", "torch-eager,torchscript,tf-eager")
    by = {(r["backend"], r["mode"]): r for r in rows}
    for mode in ("infer", "train"):
        assert by["tf-eager", mode]["status"] == "not-applicable"
        assert "is a torch model" in by["tf-eager", mode]["error"]
        for backend in ("torch-eager", "torchscript"):
            r = by[backend, mode]
            assert r["status"] == "ok", r.get("error")
            assert r["model"] == "my_model.py:make"
            assert r["parity_reference"].startswith("torch float64 eager")
            assert r["parity_max_rel_err"] < 1e-5
            assert r["flops_counter"].startswith("torch.utils.flop_counter.FlopCounterMode")
            assert r["flops_per_step"] > 0
    run_dir = next((tmp_path / "runs").iterdir())
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["user_models"]["my_model.py:make"]["source"] == f"{path}:make"
    report = tmp_path / "report.html"
    assert cli.main(["report", str(run_dir), "-o", str(report)]) == 0
    assert "my_model.py:make" in report.read_text()
    capsys.readouterr()
    assert cli.main(["compare", str(run_dir), str(run_dir)]) == 0
    assert "my_model.py:make" in capsys.readouterr().out


@pytest.mark.framework
@pytest.mark.e2e
@pytest.mark.slow
def test_the_issue_model_compiles_under_torch_compile(tmp_path):
    path = write(tmp_path, "my_model.py", ISSUE_MODEL)
    (row,) = run_cells(tmp_path, f"{path}:make", "torch-compile", modes="infer")
    assert row["status"] == "ok", row.get("error")
    assert row["parity_reference"].startswith("torch float64 eager")


@pytest.mark.framework
def test_a_model_whose_output_is_not_finite_is_refused(tmp_path):
    body = ISSUE_MODEL.replace("return self.head(torch.tanh(h))", "return self.head(h) / 0.0")
    path = write(tmp_path, "nan_model.py", body)
    code, err = check(f"{path}:make")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"{path}:make: the model's output on make_batch(4, 1) is not finite")


@pytest.mark.framework
def test_a_build_that_is_not_a_module_is_refused(tmp_path):
    body = ISSUE_MODEL.replace("build = lambda seed: Gated(Config())", "build = lambda seed: 3")
    path = write(tmp_path, "int_model.py", body)
    code, err = check(f"{path}:make")
    assert code == 2 and "build(0) returned int; expected a torch.nn.Module" in err


@pytest.mark.framework
@pytest.mark.e2e
@pytest.mark.parametrize(
    "example, backends, reference",
    [
        ("torch_model.py", "torch-eager,torchscript", "torch float64 eager"),
        ("jax_model.py", "jax-eager,jax-jit", "jax float64 eager"),
        ("tf_model.py", "tf-eager,tf-xla", "tf float64 eager"),
    ],
)
def test_the_examples_pass_parity_on_their_backends(tmp_path, example, backends, reference):
    rows = run_cells(tmp_path, f"{EXAMPLES / example}:make", backends)
    assert len(rows) == 4
    for r in rows:
        assert r["status"] == "ok", r.get("error")
        assert r["parity_reference"].startswith(reference)


@pytest.mark.parametrize("framework", ["torch", "jax", "tf", "keras"])
def test_docs_show_each_example_as_it_is_in_examples(framework):
    """docs/your-model.md's examples are the runnable files, word for word (after their
    docstring), so the page never drifts from what runs."""
    import ast

    source = (EXAMPLES / f"{framework}_model.py").read_text()
    after_docstring = ast.parse(source).body[0].end_lineno
    body = "\n".join(source.splitlines()[after_docstring:]).strip("\n")
    page = (REPO / "docs" / "your-model.md").read_text()
    assert f"```python\n{body}\n```" in page
    assert f'ModelSpec(framework="{framework}"' in source.replace("'", '"')
