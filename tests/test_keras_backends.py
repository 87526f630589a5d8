"""One Keras 3 model on JAX, TensorFlow and PyTorch (the Keras backends of the registry):
each worker's KERAS_BACKEND, what does not apply, whom a Keras cell is compared with, and
(framework tier) examples/keras_model.py run end to end on every Keras backend with parity
against a float64 reference on its own Keras backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import __main__ as cli
from bench import backends
from bench.matrix.cells import Cell
from bench.matrix.profiles import settings_for
from bench.parent.worker_env import worker_env
from bench.results.store import load_run
from models import user

REPO = Path(__file__).resolve().parents[1]
KERAS_MODEL = f"{REPO / 'examples' / 'keras_model.py'}:make"
KERAS = [n for n, i in backends.BACKENDS.items() if i.keras_backend]
# The five, and the run_eagerly variants Keras offers.
FIVE = ("keras-jax", "keras-tf", "keras-tf-xla", "keras-torch", "keras-torch-compile")


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch):
    monkeypatch.delenv(user.ENV, raising=False)
    user.spec.cache_clear()


def test_the_registry_holds_the_five_and_their_eager_variants():
    assert set(FIVE) <= set(KERAS)
    assert {"keras-jax-eager", "keras-tf-eager"} <= set(KERAS)
    wanted = {"jax": "jax", "tf": "tensorflow", "torch": "torch"}
    for name in KERAS:
        info = backends.get(name)
        assert info.keras_backend == wanted[info.framework], name


def test_each_keras_worker_sets_its_keras_backend_and_no_other_worker_does():
    settings = settings_for("quick", threads=1)
    for name, info in backends.BACKENDS.items():
        cell = Cell("mlp", name, "infer", "cpu", 1, "quick")
        env = worker_env(cell, settings, base={})
        assert env.get("KERAS_BACKEND") == info.keras_backend, name


def test_a_keras_cell_is_compared_with_the_eager_keras_backend_of_its_framework():
    assert backends.eager_counterpart("keras-jax") == "keras-jax-eager"
    assert backends.eager_counterpart("keras-tf-xla") == "keras-tf-eager"
    assert backends.eager_counterpart("keras-torch-compile") == "keras-torch"
    assert backends.eager_counterpart("tf-xla") == "tf-eager"  # unchanged for the others


def test_what_runs_where_between_keras_and_the_frameworks():
    entry = {"source": "/a/k.py:make", "framework": "keras", "batch_size": 4}
    user.register("k.py:make", {**entry, "describe": "", "example_bytes": 8})
    user.register("t.py:make", {**entry, "source": "/a/t.py:make", "framework": "torch"})
    assert user.not_applicable("k.py:make", "jax", "keras-jax") is None
    assert user.not_applicable("k.py:make", "jax", "jax-jit") == (
        "k.py:make is a keras model; jax-jit runs jax models"
    )
    assert user.not_applicable("t.py:make", "torch", "keras-torch") == (
        "t.py:make is a torch model; keras-torch runs Keras models"
    )
    assert user.not_applicable("mlp", "torch", "keras-torch").startswith(
        "keras-torch runs Keras models"
    )
    assert user.not_applicable("mlp", "torch", "torch-eager") is None


# --- framework tier: real Keras workers on each backend ---------------------------------


def run_cells(tmp_path: Path, backends_text: str, modes: str) -> tuple[list, Path]:
    out = tmp_path / "runs"
    argv = ["run", "--models", KERAS_MODEL, "--backends", backends_text, "--modes", modes]
    assert cli.main([*argv, "--profile", "quick", "--out-dir", str(out)]) == 0
    (run_dir,) = out.iterdir()
    rows = [r.to_json() for r in load_run(run_dir).results]  # one per cell, as readers see
    return rows, run_dir


def assert_in_tolerance(row: dict, keras_backend: str) -> None:
    assert row["status"] == "ok", row.get("error")
    # One reference for every Keras backend: Keras on TensorFlow, float64 throughout.
    assert row["parity_reference"].startswith("keras float64 eager on tensorflow")
    assert row["parity_max_rel_err"] <= row["parity_tolerance"]
    settings = row["framework_settings"]
    assert settings["keras_backend"] == keras_backend
    assert settings["keras_version"].startswith("3.")


@pytest.mark.framework
@pytest.mark.e2e
def test_one_keras_model_passes_parity_on_each_keras_backend(tmp_path):
    quick = [n for n in KERAS if not backends.get(n).slow_to_build]
    rows, run_dir = run_cells(tmp_path, ",".join([*quick, "torch-eager"]), "infer,train")
    by = {(r["backend"], r["mode"]): r for r in rows}
    for mode in ("infer", "train"):
        assert by["torch-eager", mode]["status"] == "not-applicable"
        for name in quick:
            assert_in_tolerance(by[name, mode], backends.get(name).keras_backend)
    # One reference file per block, whatever the Keras backend, and really float64.
    for mode in ("infer", "train"):
        (ref,) = (run_dir / "expected").glob(f"*-{mode}-seed0*.npz")
        assert ref.name.endswith(f"-{backends.KERAS_REFERENCE}.npz")
        output = np.load(ref)["output"]
        assert output.dtype == np.float64
        assert not np.array_equal(output, output.astype(np.float32).astype(np.float64))
    # Counted once, with the reference (Keras on TensorFlow), for every Keras backend.
    counted = {by[name, "train"]["flops_per_step"] for name in quick}
    assert len(counted) == 1 and counted.pop() > by[quick[0], "infer"]["flops_per_step"] > 0
    assert by["keras-jax", "infer"]["flops_counter"].startswith("tf.compat.v1.profiler")


@pytest.mark.framework
@pytest.mark.e2e
def test_keras_cells_run_graphbench_s_precisions_as_keras_dtype_policies(tmp_path):
    out = tmp_path / "runs"
    argv = ["run", "--models", KERAS_MODEL, "--backends", "keras-jax", "--modes", "infer"]
    argv += ["--precisions", "amp-bf16,bf16", "--out-dir", str(out)]
    assert cli.main(argv) == 0
    (run_dir,) = out.iterdir()
    by = {r.cell.precision: r for r in load_run(run_dir).results}
    for precision, policy in (("amp-bf16", "mixed_bfloat16"), ("bf16", "bfloat16")):
        r = by[precision]
        assert r.status.value == "ok", r.outcome
        assert r.setup.framework_settings["keras_dtype_policy"] == policy
        # Really in bfloat16: far off float32's error, inside the policy's tolerance; and
        # the float32 eager output it is set beside is Keras's own (keras-jax-eager).
        assert 1e-4 < r.parity.parity_max_rel_err <= r.parity.parity_tolerance
        assert r.parity.parity_float32_eager_err < 1e-5
    assert list((run_dir / "expected").glob("*-keras-jax-eager-float32.npz"))


@pytest.mark.framework
@pytest.mark.e2e
@pytest.mark.slow
def test_the_keras_model_under_keras_s_torch_compile(tmp_path):
    rows, _ = run_cells(tmp_path, "keras-torch-compile", "infer,train")
    assert len(rows) == 2
    for row in rows:
        assert_in_tolerance(row, "torch")
        assert row["framework_settings"]["jit_compile"] is True


def test_all_backends_leaves_keras_out_where_only_the_zoo_runs():
    from bench.cli.user_models import all_backends_for

    assert not set(KERAS) & set(all_backends_for("cpu", None))
    assert not set(KERAS) & set(all_backends_for("cpu", ("mlp", "cnn")))
    entry = {"source": "/a/k.py:make", "framework": "keras", "batch_size": 4}
    user.register("k.py:make", {**entry, "describe": "", "example_bytes": 8})
    assert set(KERAS) <= set(all_backends_for("cpu", ("mlp", "k.py:make")))


def test_a_keras_backend_without_keras_is_not_installed(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "keras" else real(name, *a)
    )
    assert backends.backend_not_installed_reason("keras-jax") == (
        "keras not installed (pip install 'graphbench[keras]')"
    )
    assert backends.backend_not_installed_reason("jax-jit") is None
