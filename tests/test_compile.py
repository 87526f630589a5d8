"""The static backends really trace/compile, once, and the eager ones report no graph.

Backends come from the registry; those that compile for tens of seconds on 2 cores
(torch.compile) use the smallest model and are marked slow.
"""

import pytest

from bench import backends
from bench.worker.parity import max_rel_err
from bench.worker.scenarios.fixed import inputs, reference_output
from tests.conftest import runs_the_zoo

pytestmark = pytest.mark.framework

# The backends that run the zoo's models (Keras's run Keras models only), but for the
# ahead-of-time ones: they compile nothing in the process that runs the steps (their
# artefact is built in a worker of its own: tests/test_aot.py).
ZOO = {n: i for n, i in backends.BACKENDS.items() if runs_the_zoo(i) and i.artifact is None}
EAGER = [n for n, i in ZOO.items() if "cpu" in i.devices and not i.static]
# Backends whose compilation count is a graph count (TorchScript keeps none).
COUNTING = [
    n
    for n, i in ZOO.items()
    if "cpu" in i.devices and i.static and not i.slow_to_build and n != "torchscript"
]
SLOW = [n for n, i in ZOO.items() if "cpu" in i.devices and i.slow_to_build]


def build(backend_class, backend, model, mode, batch_size=4):
    cfg, params, batch = inputs(model, "quick", batch_size, seed=0)
    b = backend_class(backend)()
    b.build(model, cfg, params, mode, "cpu")
    return b, b.put(batch)


@pytest.mark.parametrize("backend", COUNTING)
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_one_trace_serves_every_step(backend_class, backend, mode):
    b, data = build(backend_class, backend, "cnn", mode)
    assert b.compilations() == 0
    for _ in range(3):
        b.sync(b.step(data))
    assert b.compilations() == 1


@pytest.mark.parametrize("backend", [*EAGER, "torchscript"])
def test_eager_backends_report_no_compilations(backend_class, backend):
    b, data = build(backend_class, backend, "mlp", "infer")
    b.sync(b.step(data))
    assert b.compilations() is None


@pytest.mark.slow
@pytest.mark.parametrize("backend", SLOW)
def test_torch_compile_compiles_once_and_matches_the_reference(backend_class, backend):
    b, data = build(backend_class, backend, "mlp", "infer")
    out = b.step(data)
    b.sync(out)
    assert b.compilations() >= 1
    cfg, params, batch = inputs("mlp", "quick", 4, seed=0)
    assert max_rel_err(b.to_numpy(out), reference_output("mlp", cfg, params, batch, "infer")) < 1e-5
    before = b.compilations()
    b.sync(b.step(data))
    assert b.compilations() == before  # no recompilation for the same shapes
