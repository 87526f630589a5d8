"""Command-line choices -> cells: name lists, batch sizes, each scenario's expansion."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.cli import args
from bench.errors import UsageError
from bench.matrix import scenarios
from bench.matrix.cells import Cell
from bench.matrix.scenarios.base import MatrixRequest
from bench.matrix.streams import bucket_edges, padded_length

FIXED = scenarios.get("fixed")
STREAM = scenarios.get("stream")


def request(models, backends, modes=None, batch_sizes=None, **options):
    return MatrixRequest(
        models=models,
        backends=backends,
        modes=modes,
        device="cpu",
        profile="quick",
        batch_sizes=batch_sizes,
        options=options,
    )


def test_names_all_and_list():
    assert args.names("--modes", "all", ("infer", "train")) == ("infer", "train")
    assert args.names("--modes", "train, infer,train", ("infer", "train")) == ("train", "infer")


def test_names_unknown_lists_valid_choices():
    with pytest.raises(UsageError) as info:
        args.names("--models", "mlp,gpt9", ("mlp", "cnn"))
    message = str(info.value)
    assert "'gpt9'" in message and "mlp, cnn" in message and "\n" not in message


@pytest.mark.parametrize("text", ["", " , ", "mlp,", ",mlp"])
def test_names_refuses_empty_names(text):
    with pytest.raises(UsageError, match="empty name"):
        args.names("--models", text, ("mlp",))


@pytest.mark.parametrize("text", ["0", "-1", "1,x", "1.5", "", "1048577"])
def test_batch_sizes_refuses_what_is_not_a_sane_positive_integer(text):
    with pytest.raises(UsageError, match="is not an integer from 1 to 1048576"):
        args.batch_sizes(text)


def test_batch_sizes():
    assert args.batch_sizes("1, 8,64,8") == (1, 8, 64)


@given(st.lists(st.integers(1, args.MAX_BATCH_SIZE), min_size=1, max_size=8))
def test_batch_sizes_round_trip(sizes):
    assert args.batch_sizes(",".join(map(str, sizes))) == tuple(dict.fromkeys(sizes))


@given(st.text(max_size=12))
def test_batch_sizes_never_accepts_anything_else(text):
    try:
        sizes = args.batch_sizes(text)
    except UsageError:
        return
    assert sizes and all(1 <= s <= args.MAX_BATCH_SIZE for s in sizes)
    assert ",".join(map(str, sizes)) == ",".join(dict.fromkeys(p.strip() for p in text.split(",")))


def test_fixed_runs_eager_baselines_first_and_uses_default_batch():
    cells = FIXED.expand(
        request(("mlp",), ("jax-jit", "torch-compile", "torch-eager", "jax-eager"), ("infer",))
    )
    assert [c.backend for c in cells] == ["torch-eager", "jax-eager", "torch-compile", "jax-jit"]
    assert {c.batch_size for c in cells} == {128}


def test_fixed_sweeps_batch_sizes_and_modes():
    cells = FIXED.expand(request(("mlp", "cnn"), ("torch-eager",), ("infer", "train"), (1, 8)))
    assert len(cells) == 2 * 2 * 2
    assert {(c.model, c.mode, c.batch_size) for c in cells} == {
        (m, mode, b) for m in ("mlp", "cnn") for mode in ("infer", "train") for b in (1, 8)
    }


def test_backend_on_the_wrong_device_is_refused():
    with pytest.raises(UsageError, match="cannot run on cpu"):
        FIXED.expand(request(("mlp",), ("torch-compile-reduce-overhead",), ("infer",)))


def test_cell_round_trip_and_framework():
    cell = Cell("cnn", "tf-xla", "train", "cpu", 32, "quick")
    data = cell.to_dict()
    assert data["framework"] == "tf"
    assert Cell.from_dict(data) == cell


def test_stream_keeps_not_applicable_pairs_and_each_models_modes():
    options = {"strategies": ("exact", "dynamic"), "streams": ("uniform",)}
    cells = STREAM.expand(request(("lstm", "transformer"), ("jax-jit", "jax-eager"), **options))
    assert {(c.model, c.mode) for c in cells} == {
        ("lstm", "infer"),
        ("transformer", "infer"),
        ("transformer", "train"),
    }
    lstm = [(c.backend, c.strategy) for c in cells if c.model == "lstm"]
    # Eager first; every strategy listed, even those the runner will record as not applicable.
    assert lstm == [
        ("jax-eager", "exact"),
        ("jax-eager", "dynamic"),
        ("jax-jit", "exact"),
        ("jax-jit", "dynamic"),
    ]
    assert all(c.scenario == "stream" and c.stream == "uniform" for c in cells)
    assert len({c.key() for c in cells}) == len(cells)
    na = [c for c in cells if STREAM.not_applicable(c)]
    assert {(c.backend, c.strategy) for c in na} == {
        ("jax-eager", "dynamic"),
        ("jax-jit", "dynamic"),
    }


def test_stream_refuses_models_without_a_sequence_axis():
    with pytest.raises(UsageError, match="cnn has no sequence axis"):
        STREAM.expand(request(("cnn",), ("jax-jit",)))


def test_the_old_scenario_name_is_an_alias():
    assert scenarios.get("dynamic") is STREAM
    with pytest.raises(UsageError, match="expected one of: fixed, stream, dynamic"):
        scenarios.get("static")


@given(st.integers(1, 512), st.integers(1, 512))
def test_bucket_edges_cover_the_range_with_powers_of_two(low, span):
    high = low + span
    edges = bucket_edges(low, high)
    assert all(e & (e - 1) == 0 for e in edges)  # powers of two
    assert (edges[0] >= low and edges[0] // 2 < low) or edges[0] == 1
    assert edges[-1] >= high and (len(edges) == 1 or edges[-2] < high)


@given(st.integers(1, 512), st.data())
def test_a_padded_length_is_the_smallest_bucket_that_holds_it(high, data):
    edges = bucket_edges(1, high)
    n = data.draw(st.integers(1, high))
    padded = padded_length(n, "bucket", edges)
    assert padded in edges and padded >= n
    assert all(e < n for e in edges if e < padded)
    assert padded_length(n, "exact", edges) == n
