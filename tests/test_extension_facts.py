"""Each extension fact has one source: a framework is one registry entry, a backend one entry
(the noxfile reads which framework it belongs to from there, not from its name), and a model's
cost prior comes from its own folder. Fast tier: nothing here imports a framework."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import models
from bench import backends
from bench.cli import user_models
from bench.matrix import cost, scenarios
from bench.matrix.cells import DEFAULT_REPEATS, Cell, repeated
from bench.matrix.profiles import settings_for
from bench.matrix.scenarios.base import MatrixRequest
from models import contract
from tests.test_install import noxfile

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "bench" / "backends" / "registry.py"
SETTINGS = settings_for("quick", threads=2)


def _load_by_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- the framework and backend registry --------------------------------------------------------


def test_the_registry_loads_under_a_python_with_the_standard_library_alone():
    """What nox runs under: no site-packages (no numpy, no framework), nothing of graphbench
    importable; the registry still loads by its path and says what bench.backends says."""
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('r', {str(REGISTRY)!r})\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['r'] = m\n"
        "spec.loader.exec_module(m)\n"
        "assert importlib.util.find_spec('numpy') is None, 'site-packages is visible'\n"
        "print(json.dumps({b.name: b.framework for b in m.BACKENDS.values()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    builtin = {
        n: i.framework for n, i in backends.BACKENDS.items() if i.target.startswith("bench.")
    }
    assert json.loads(done.stdout) == builtin


def _declared(module_file: Path) -> dict[str, dict[str, str]]:
    """Each class of a backend module: its ``name`` and ``framework`` class attributes, its
    own or inherited from a class of the same module (read without importing the module)."""
    classes = {
        node.name: node for node in ast.parse(module_file.read_text()).body
        if isinstance(node, ast.ClassDef)
    }  # fmt: skip

    def attribute(cls: str, key: str) -> str | None:
        node = classes.get(cls)
        if node is None:
            return None
        for item in node.body:
            if isinstance(item, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == key for t in item.targets
            ):
                return ast.literal_eval(item.value)
        bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
        return next((v for v in (attribute(b, key) for b in bases) if v is not None), None)

    return {
        c: {"name": attribute(c, "name"), "framework": attribute(c, "framework")} for c in classes
    }


def test_each_backend_class_declares_the_name_and_framework_of_its_entry():
    """The entry (what the noxfile and the parent read) and the class (what a worker runs)
    cannot drift apart: read from the source, without importing a framework."""
    built_in = [i for i in backends.BACKENDS.values() if i.target.startswith("bench.backends.")]
    assert {i.framework for i in built_in} == set(backends.FRAMEWORKS)
    for info in built_in:
        module, cls = info.target.split(":")
        declared = _declared(ROOT / (module.replace(".", "/") + ".py"))[cls]
        assert declared == {"name": info.name, "framework": info.framework}, info.name


def test_each_framework_entry_holds_what_is_installed_and_probed_for_it():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    # `all` (what nox's CPU sessions install) holds every framework's CPU extra.
    (everything,) = extras["all"]
    held = everything.removeprefix("graphbench[").removesuffix("]").split(",")
    for name, info in backends.FRAMEWORKS.items():
        assert info.extra in extras and info.cuda_extra in extras, name
        assert info.extra in held, f"the `all` extra lacks {info.extra}"
        assert (ROOT / info.cuda_lock).is_file(), info.cuda_lock
        lock = (ROOT / info.cuda_lock).read_text()
        assert f"graphbench[{info.cuda_extra}," in lock, f"{info.cuda_lock} is not {name}'s lock"
        # The probe asks the framework's eager baseline: one of its own, eager, backends.
        baseline = backends.get(info.baseline)
        assert baseline.framework == name and not baseline.static
        assert backends.eager_baseline(name) == info.baseline


def test_the_gpu_lock_tool_reads_the_same_entries():
    lock_gpu = _load_by_path("graphbench_lock_gpu", ROOT / "constraints" / "lock_gpu.py")
    assert list(lock_gpu.FRAMEWORKS) == list(backends.FRAMEWORKS)
    for name, framework in lock_gpu.FRAMEWORKS.items():
        info = backends.framework(name)
        assert framework.extra == info.cuda_extra and framework.pins == info.cuda_releases
        assert f"constraints/{framework.lock_name}" == info.cuda_lock


def test_the_model_contract_and_zoo_have_one_file_per_registered_framework():
    assert tuple(backends.FRAMEWORKS) == models.FRAMEWORKS
    assert set(contract.FRAMEWORK_NAMES) == set(backends.FRAMEWORKS)


# --- the noxfile's GPU environments --------------------------------------------------------------


@pytest.fixture
def xyz_fast(monkeypatch):
    """A JAX backend whose name says nothing of JAX, as one more entry of the registry the
    noxfile reads (its own copy, loaded by path)."""
    entry = noxfile.REGISTRY.BackendInfo("xyz-fast", "jax", "xyz:Fast", "a test's JAX backend")
    monkeypatch.setitem(noxfile.REGISTRY.BACKENDS, "xyz-fast", entry)
    return entry


def test_the_noxfile_takes_each_backends_framework_from_its_entry(xyz_fast):
    assert noxfile._gpu_frameworks(["--backends", "xyz-fast"]) == ["jax"]
    assert noxfile._gpu_frameworks(["--backends=tf-xla,xyz-fast,torchscript"]) == [
        "torch",
        "jax",
        "tf",
    ]
    assert noxfile._gpu_frameworks(["--backends", "torchscript"]) == ["torch"]
    assert noxfile._gpu_frameworks(["--backends", "nonesuch"]) == []  # bench run says why
    assert noxfile._gpu_frameworks([]) == list(backends.FRAMEWORKS)  # the default matrix


class _Session:
    """What a nox session is asked to do, recorded; nothing runs."""

    def __init__(self, posargs: list[str]):
        self.posargs = posargs
        self.runs: list[tuple[str, ...]] = []
        self.installs: list[tuple[str, ...]] = []

    def run(self, *args: str, **kwargs) -> None:
        self.runs.append(args)

    def install(self, *args: str, **kwargs) -> None:
        self.installs.append(args)

    def log(self, *args) -> None:
        pass

    def error(self, message: str):
        raise AssertionError(message)


def test_bench_gpu_builds_the_jax_cuda_environment_for_a_backend_named_otherwise(
    xyz_fast, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the GPU environments' folder (.nox/gpu-*) lies here
    monkeypatch.setattr(noxfile, "_cuda_unavailable", lambda: None)
    session = _Session(["--backends", "xyz-fast"])
    noxfile.bench_gpu(session)
    jax = backends.framework("jax")
    pip_installs = [r for r in session.runs if r[1:4] == ("-m", "pip", "install")]
    assert len(pip_installs) == 1
    (install,) = pip_installs
    assert install[0] == str(Path(".nox", "gpu-jax", "bin", "python"))
    assert ("-c", jax.cuda_lock) == install[install.index("-c") :][:2]
    assert f".[{jax.cuda_extra},test]" in install
    bench_run = session.runs[-1]
    python = bench_run[bench_run.index("--python") + 1]
    assert python == f"jax={tmp_path / '.nox' / 'gpu-jax' / 'bin' / 'python'}"


# --- a model's cost prior ------------------------------------------------------------------------

TOY_SPEC = '''"""A toy model's spec: only what the cost prior reads."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Config:
    width: int = 64
    layers: int = 2


PROFILES = {"quick": Config(), "full": Config(width=1024, layers=8)}
BATCH_SIZE = {"quick": 16, "full": 64}


def init_params(cfg, seed):
    rng = np.random.default_rng(seed)
    shape = (cfg.width, cfg.width)
    weights = [rng.standard_normal(shape).astype(np.float32) for _ in range(cfg.layers)]
    return {f"fc{i}.weight": w for i, w in enumerate(weights)}


def flops_per_step(cfg, batch_size, mode):
    return 2 * batch_size * cfg.width**2 * cfg.layers * (3 if mode == "train" else 1)
'''


@pytest.fixture
def toy_model(tmp_path, monkeypatch):
    """Make a model folder ``<name>/spec.py`` (the toy spec plus ``extra``) importable as
    ``models.<name>``, as a folder under models/ is; nothing of graphbench is edited."""
    made: list[str] = []

    def make(name: str, extra: str = "") -> str:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        (folder / "spec.py").write_text(TOY_SPEC + extra)
        made.append(name)
        return name

    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])
    cost.derived_factor.cache_clear()
    yield make
    cost.derived_factor.cache_clear()
    for name in made:
        for module in (f"models.{name}.spec", f"models.{name}"):
            sys.modules.pop(module, None)


def _eager_prior(model: str, profile: str = "quick") -> float:
    cell = Cell(model, "torch-eager", "infer", "cpu", 8, profile)
    return cost.prior_s(cell, settings_for(profile, threads=2))


def test_a_model_without_a_cost_factor_gets_one_from_its_flops_and_parameter_tensors(toy_model):
    toy = toy_model("toy")
    flops, tensors = 2 * 16 * 64**2 * 2, 2  # the toy's quick profile: its batch of 16
    expected = (flops / 1e9) ** 0.1 * (tensors / 10) ** 0.25
    assert cost.model_factor(toy, "quick") == pytest.approx(expected)
    # The full profile's toy is larger on both counts: it costs more, not a constant.
    assert cost.model_factor(toy, "full") > 2 * cost.model_factor(toy, "quick")
    assert _eager_prior(toy, "full") > _eager_prior(toy, "quick")
    compile_cell = Cell(toy, "torch-compile", "train", "cpu", 8, "quick")
    assert cost.prior_s(compile_cell, SETTINGS) > _eager_prior(toy)


def test_a_model_that_declares_its_cost_factor_gets_that_one(toy_model):
    small = toy_model("toy_small", '\nCOST_FACTOR = {"quick": 3.0, "full": 9.0}\n')
    large = toy_model("toy_large", '\nCOST_FACTOR = {"quick": 6.0, "full": 9.0}\n')
    assert cost.model_factor(small, "quick") == 3.0 and cost.model_factor(small, "full") == 9.0
    # An eager cell's prior: start + BUILD_S["eager"] x factor + measuring.
    difference = _eager_prior(large) - _eager_prior(small)
    assert difference == pytest.approx(cost.BUILD_S["eager"] * 3.0)


TOY_REFERENCE = """import numpy as np


def forward(cfg, params, x, train):
    for i in range(cfg.layers):
        x = np.maximum(x @ params[f"fc{i}.weight"].astype(np.float64), 0.0)
    return x
"""


def test_the_contract_rejects_a_cost_factor_that_misses_a_profile(toy_model, tmp_path):
    toy = toy_model("toy_half", '\nCOST_FACTOR = {"quick": 1.0}\n')
    (tmp_path / toy / "reference.py").write_text(TOY_REFERENCE)
    assert any("COST_FACTOR needs a positive number" in p for p in contract.problems(toy))
    for name in models.MODEL_NAMES:
        assert not any("COST_FACTOR" in p for p in contract.problems(name))


def test_the_zoo_models_keep_their_cost_factors():
    """The five zoo models' factors, as bench/cost.py had them before they moved to the specs
    (the ETA and shard tests' priors rest on them)."""
    before = {
        "quick": {"mlp": 0.5, "cnn": 1.0, "resnet": 2.0, "lstm": 1.5, "transformer": 1.5},
        "full": {"mlp": 1.0, "cnn": 2.0, "resnet": 5.0, "lstm": 3.0, "transformer": 4.0},
    }
    for profile, factors in before.items():
        for model, factor in factors.items():
            assert cost.model_factor(model, profile) == factor, (model, profile)


def test_the_derived_factor_is_near_each_zoo_models_own():
    """What a sixth model without a COST_FACTOR gets is of the zoo's order (quick profile: the
    full one builds every full-size weight)."""
    for model in models.MODEL_NAMES:
        ratio = cost.derived_factor(model, "quick") / cost.model_factor(model, "quick")
        assert 1 / 1.7 < ratio < 1.7, (model, ratio)


def test_cost_names_no_model_and_no_framework():
    source = (ROOT / "bench" / "matrix" / "cost.py").read_text()
    for name in (*models.MODEL_NAMES, *backends.FRAMEWORKS):
        assert f'"{name}"' not in source, name


# --- how long bench-gpu takes, as the docs say ----------------------------------------------------


def _bench_gpu_hours(extra: dict[str, str]) -> str:
    """The cost model's length of ``nox -s bench-gpu`` (its default matrix, ``extra``
    overriding options as its posargs do), with the full profile's repetitions."""
    options = dict(
        zip(noxfile.GPU_DEFAULT_MATRIX[::2], noxfile.GPU_DEFAULT_MATRIX[1::2], strict=True)
    )
    options.update(extra)
    scenario = scenarios.get("fixed")
    models = options["--models"]
    model_names = scenario.models() if models == "all" else tuple(models.split(","))
    names = options["--backends"]
    backend_names = (
        user_models.all_backends_for("cuda", None) if names == "all" else tuple(names.split(","))
    )
    cells = scenario.expand(MatrixRequest(model_names, backend_names, None, "cuda", "full"))
    repeats = int(options.get("--repeats", DEFAULT_REPEATS["full"]))
    return cost.hours_text(cost.plan_s(repeated(cells, repeats), settings_for("full")))


def test_the_gpu_docs_state_bench_gpus_length_with_its_repetitions():
    docs = " ".join((ROOT / "docs" / "gpu.md").read_text().split())  # lines joined
    default = _bench_gpu_hours({})
    assert f"full profile, {default} (estimate)" in docs
    assert f"interleaved), {default} on one H100-class GPU" in docs
    everything = _bench_gpu_hours({"--models": "all", "--backends": "all"})
    assert f"ahead-of-time backends added) {everything}" in docs
    assert _bench_gpu_hours({"--repeats": "1"}) != default  # the repetitions count
