import pytest

from bench.cells import Cell, expand, expand_dynamic, parse_batch_sizes, parse_names


def test_parse_names_all_and_list():
    assert parse_names("--modes", "all", ("infer", "train")) == ("infer", "train")
    assert parse_names("--modes", "train, infer,train", ("infer", "train")) == ("train", "infer")


def test_parse_names_unknown_lists_valid_choices():
    with pytest.raises(ValueError) as info:
        parse_names("--models", "mlp,gpt9", ("mlp", "cnn"))
    message = str(info.value)
    assert "'gpt9'" in message and "mlp, cnn" in message and "\n" not in message


def test_parse_names_empty():
    with pytest.raises(ValueError, match="empty"):
        parse_names("--models", " , ", ("mlp",))


@pytest.mark.parametrize("text", ["0", "-1", "1,x", "1.5", ""])
def test_parse_batch_sizes_refuses_non_positive_integers(text):
    with pytest.raises(ValueError, match="positive integer"):
        parse_batch_sizes(text)


def test_parse_batch_sizes():
    assert parse_batch_sizes("1, 8,64,8") == (1, 8, 64)


def test_expand_runs_eager_baselines_first_and_uses_default_batch():
    cells = expand(
        ("mlp",),
        ("jax-jit", "torch-compile", "torch-eager", "jax-eager"),
        ("infer",),
        "cpu",
        "quick",
    )
    assert [c.backend for c in cells] == ["torch-eager", "jax-eager", "torch-compile", "jax-jit"]
    assert {c.batch_size for c in cells} == {128}


def test_expand_sweeps_batch_sizes_and_modes():
    cells = expand(("mlp", "cnn"), ("torch-eager",), ("infer", "train"), "cpu", "quick", (1, 8))
    assert len(cells) == 2 * 2 * 2
    assert {(c.model, c.mode, c.batch_size) for c in cells} == {
        (m, mode, b) for m in ("mlp", "cnn") for mode in ("infer", "train") for b in (1, 8)
    }


def test_expand_refuses_backend_on_wrong_device():
    with pytest.raises(ValueError, match="cannot run on cpu"):
        expand(("mlp",), ("torch-compile-reduce-overhead",), ("infer",), "cpu", "quick")


def test_cell_round_trip_and_framework():
    cell = Cell("cnn", "tf-xla", "train", "cpu", 32, "quick")
    data = cell.to_dict()
    assert data["framework"] == "tf"
    assert Cell.from_dict(data) == cell


def test_expand_dynamic_keeps_not_applicable_pairs_and_each_models_modes():
    cells = expand_dynamic(
        ("lstm", "transformer"),
        ("jax-jit", "jax-eager"),
        None,
        "cpu",
        "quick",
        ("exact", "dynamic"),
        ("uniform",),
    )
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
    assert all(c.scenario == "dynamic" and c.stream == "uniform" for c in cells)
    assert len({c.key() for c in cells}) == len(cells)


def test_expand_dynamic_refuses_models_without_a_sequence_axis():
    with pytest.raises(ValueError, match="cnn has no sequence axis"):
        expand_dynamic(("cnn",), ("jax-jit",), None, "cpu", "quick", ("exact",), ("uniform",))
