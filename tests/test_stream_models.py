"""The stream scenario on the real models and frameworks.

Padding with a length mask must give the reference's outputs on the unpadded batch, in
every backend; compilation counts come from the frameworks' own counters.
"""

import dataclasses

import numpy as np
import pytest

from bench.matrix import scenarios
from bench.matrix.cells import Cell
from bench.matrix.streams import pad_right
from bench.worker.parity import max_rel_err
from bench.worker.scenarios import stream as stream_measure
from bench.worker.scenarios.fixed import reference_output
from bench.worker.scenarios.stream import fed_batches, stream_inputs
from tests.conftest import backend_params

STREAM = scenarios.get("stream")
SEQUENCE_MODELS = STREAM.models()


def padded_batch(model, length, padded, batch_size=2):
    cfg, params, batches, _ = stream_inputs(model, "quick", batch_size, "skewed", seed=0)
    x, y = batches[0][0][:, :length], batches[0][1]
    y = y[:, :length] if y.ndim == 2 else y
    fed = (
        pad_right(x, padded),
        pad_right(y, padded) if y.ndim == 2 else y,
        np.full(batch_size, length, dtype=np.int32),
    )
    return cfg, params, (x, y), fed


@pytest.mark.parametrize("model", SEQUENCE_MODELS)
@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_padding_leaves_the_unpadded_outputs_unchanged(backend_class, model, backend):
    cfg, params, batch, fed = padded_batch(model, length=13, padded=32)
    b = backend_class(backend)()
    b.build(model, cfg, params, "infer", "cpu")
    out = b.to_numpy(b.step(b.put(fed)))
    want = reference_output(model, cfg, params, batch, "infer")
    got = out[:, :13] if out.ndim == 3 else out
    assert max_rel_err(got, want) < 1e-5


@pytest.mark.parametrize("backend", ["torch-eager", "jax-jit", "tf-xla"])
def test_masked_loss_of_a_padded_batch_is_the_unpadded_loss(backend_class, backend):
    cfg, params, batch, fed = padded_batch("transformer", length=13, padded=32)
    b = backend_class(backend)()
    b.build("transformer", cfg, params, "train", "cpu")
    loss = float(b.to_numpy(b.step(b.put(fed))))
    assert loss == pytest.approx(
        float(reference_output("transformer", cfg, params, batch, "train")), rel=1e-5
    )


def jitted_infer(backend_class, model="transformer"):
    cfg, params, _, _ = stream_inputs(model, "quick", 2, "uniform", seed=0)
    b = backend_class("jax-jit")()
    b.build(model, cfg, params, "infer", "cpu")
    return b


def test_jax_jit_traces_once_per_distinct_shape(backend_class):
    b = jitted_infer(backend_class)
    for length in (16, 24, 40, 24, 16):
        _, _, _, fed = padded_batch("transformer", length=length, padded=length)
        b.sync(b.step(b.put(fed)))
    assert b.compilations() == 3


def test_bucketing_into_one_bucket_traces_once(backend_class):
    b = jitted_infer(backend_class)
    for length in (16, 24, 40, 24, 16):
        _, _, _, fed = padded_batch("transformer", length=length, padded=64)
        b.sync(b.step(b.put(fed)))
    assert b.compilations() == 1


def test_tf_reduce_retracing_stops_retracing_per_shape(backend_class):
    counts = {}
    for strategy in ("exact", "dynamic"):
        cfg, params, _, _ = stream_inputs("lstm", "quick", 2, "uniform", seed=0)
        b = backend_class("tf-graph")()
        b.build("lstm", cfg, params, "infer", "cpu", strategy=strategy)
        for length in (16, 24, 40, 56):
            _, _, _, fed = padded_batch("lstm", length=length, padded=length)
            b.sync(b.step(b.put(fed)))
        counts[strategy] = b.compilations()
    assert counts == {"exact": 4, "dynamic": 2}  # the first shape, then one generic trace


def test_fed_batches_are_what_the_strategy_says():
    exact = Cell(
        "transformer",
        "jax-jit",
        "infer",
        "cpu",
        2,
        "quick",
        scenario="stream",
        strategy="exact",
        stream="uniform",
    )
    bucket = dataclasses.replace(exact, strategy="bucket")
    _, _, fed_exact, lengths, fed_lengths = fed_batches(exact, seed=0)
    _, _, fed_bucket, _, bucket_lengths = fed_batches(bucket, seed=0)
    assert list(fed_lengths) == list(lengths)
    assert set(bucket_lengths) <= {16, 32, 64, 128, 256}
    for (x, y, n), (xb, yb, nb), length in zip(fed_exact, fed_bucket, lengths, strict=True):
        assert x.shape[1] == length and xb.shape[1] >= length
        np.testing.assert_array_equal(xb[:, :length], x)
        np.testing.assert_array_equal(yb[:, :length], y)
        assert (n == length).all() and (nb == length).all()


def test_expected_stream_outputs_are_for_the_checked_steps():
    cell = Cell("lstm", "jax-jit", "infer", "cpu", 2, "quick", scenario="stream",
                strategy="exact", stream="skewed")  # fmt: skip
    out = stream_measure.MEASURE.reference(cell, seed=0)
    assert sorted(int(k[4:]) for k in out) == [0, 9, 18, 27, 36, 45, 54, 63]
    assert out["step0"].shape == (2, 10)
