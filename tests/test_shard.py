"""``--shard I/N`` and ``merge``: deterministic slices of whole blocks, balanced by
expected cost, that merge back into the whole matrix exactly once."""

from __future__ import annotations

import json

import pytest

from bench import __main__ as cli
from bench import backends
from bench.errors import UsageError
from bench.matrix import cost, scenarios
from bench.matrix.profiles import settings_for
from bench.matrix.scenarios.base import MatrixRequest
from bench.matrix.shard import Shard, assign, select
from bench.results.store import load_run
from tests.fakes import with_stand_in_worker

SETTINGS = settings_for("quick", threads=2)


def matrix(precisions=("float32",)):
    request = MatrixRequest(
        models=None,
        backends=backends.for_device("cpu"),
        modes=None,
        device="cpu",
        profile="quick",
        batch_sizes=(1, 32),
        precisions=precisions,
        options={},
    )
    return scenarios.get("fixed").expand(request)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 7, 64])
def test_shards_hold_every_cell_exactly_once_in_matrix_order(count):
    cells = matrix()
    positions = []
    for i in range(1, count + 1):
        part, where = select(cells, Shard(i, count), SETTINGS)
        assert part == [cells[p] for p in where] and where == sorted(where)
        positions += where
    assert sorted(positions) == list(range(len(cells)))


def test_a_block_is_never_split_and_the_split_is_deterministic():
    cells = matrix(("float32", "bf16"))
    shard_of = assign(cells, 4, SETTINGS)
    assert shard_of == assign(list(cells), 4, SETTINGS)  # same input, same split
    by_block: dict[tuple, set[int]] = {}
    for c, s in zip(cells, shard_of, strict=True):
        by_block.setdefault(c.block(), set()).add(s)
    assert all(len(s) == 1 for s in by_block.values())  # a backend beside its eager one


def test_shards_are_balanced_by_expected_cost():
    cells = matrix()
    for count in (2, 3, 4):
        shard_of = assign(cells, count, SETTINGS)
        loads = [0.0] * count
        blocks: dict[tuple, float] = {}
        for c, s in zip(cells, shard_of, strict=True):
            loads[s] += cost.prior_s(c, SETTINGS)
            blocks[c.block()] = blocks.get(c.block(), 0.0) + cost.prior_s(c, SETTINGS)
        # Largest-first to the lightest shard: no shard exceeds another by more than a block.
        assert max(loads) - min(loads) <= max(blocks.values()) + 1e-9


def test_compiling_backends_cost_more_than_eager_ones():
    eager, compiled = (
        cost.prior_s(c, SETTINGS)
        for c in matrix()
        if c.model == "resnet" and c.batch_size == 32 and c.mode == "train"
        and c.backend in ("torch-eager", "torch-compile")
    )  # fmt: skip
    assert compiled > 5 * eager


@pytest.mark.parametrize("text", ["", "1", "0/3", "4/3", "1/0", "a/b", "1/3/4", "-1/3", "1/99999"])
def test_bad_shards_are_one_line(text):
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


# --- through the command line, with the stand-in worker ----------------------------------

RUN = ["run", "--models", "mlp,cnn", "--modes", "infer", "--batch-sizes", "1,2",
       "--backends", "torch-eager,torch-compile,jax-jit"]  # fmt: skip


def new_run(tmp_path, name: str, *extra: str) -> object:
    out = tmp_path / name
    assert cli.main([*RUN, "--out-dir", str(out), *extra]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_three_shards_merged_are_the_unsharded_run(tmp_path, monkeypatch, capsys):
    with_stand_in_worker(monkeypatch)
    whole = load_run(new_run(tmp_path, "whole"))
    shards = [new_run(tmp_path, f"s{i}", "--shard", f"{i}/3") for i in (3, 1, 2)]
    assert cli.main(["merge", *map(str, shards), "-o", str(tmp_path / "merged")]) == 0
    merged = load_run(tmp_path / "merged")

    assert merged.meta.plan.matrix == whole.meta.plan.matrix  # the whole matrix, its order
    keys = [r.cell.key() for r in merged.results]
    assert sorted(keys) == sorted(r.cell.key() for r in whole.results) and len(set(keys)) == len(
        keys
    )
    assert {r.run_id for r in merged.results} == {"merged"}
    assert [s.index for s in merged.meta.shards] == [1, 2, 3]
    assert all(s.runner_host and s.started_utc for s in merged.meta.shards)
    logs = [r.process.log for r in merged.results]
    assert len(set(logs)) == len(logs) and all((merged.path / log).is_file() for log in logs)
    # An ordinary run: summary reads it, resume finds nothing left to do.
    assert cli.main(["summary", str(merged.path)]) == 0
    assert cli.main(["resume", str(merged.path)]) == 0
    assert len(load_run(merged.path).results) == len(keys)


def refused(argv, capsys) -> str:
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_merge_refuses_what_is_not_one_matrix_measured_one_way(tmp_path, monkeypatch, capsys):
    with_stand_in_worker(monkeypatch)
    s1, s2 = (new_run(tmp_path, f"a{i}", "--shard", f"{i}/2") for i in (1, 2))
    other = new_run(tmp_path, "b2", "--shard", "2/2", "--timeout", "77")
    plain = new_run(tmp_path, "plain")
    three = new_run(tmp_path, "c2", "--shard", "2/3")
    out = str(tmp_path / "out")
    assert "settings differs" in refused(["merge", str(s1), str(other), "-o", out], capsys)
    assert "shard count differs" in refused(["merge", str(s1), str(three), "-o", out], capsys)
    assert "missing" in refused(["merge", str(s1), "-o", out], capsys)
    assert "given twice" in refused(["merge", str(s1), str(s1), str(s2), "-o", out], capsys)
    assert "not a shard" in refused(["merge", str(s1), str(plain), "-o", out], capsys)
    assert "already exists" in refused(["merge", str(s1), str(s2), "-o", str(s1)], capsys)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "0")  # the workers' malloc policy
    own_malloc = new_run(tmp_path, "d2", "--shard", "2/2")
    assert "worker environment differs" in refused(
        ["merge", str(s1), str(own_malloc), "-o", out], capsys
    )
    assert not (tmp_path / "out").exists()
    assert cli.main(["merge", str(s2), str(s1), "-o", out]) == 0
    merged = load_run(tmp_path / "out").meta.machine.worker_environment
    assert merged and merged == {
        **load_run(s1).meta.machine.worker_environment,
        **load_run(s2).meta.machine.worker_environment,
    }


def test_a_shard_that_gets_no_cell_is_an_empty_run(tmp_path, monkeypatch, capsys):
    with_stand_in_worker(monkeypatch)
    # mlp infer b1 has one block: of two shards, one is empty.
    argv = ["run", "--models", "mlp", "--modes", "infer", "--batch-sizes", "1", "--backends",
            "torch-eager,torch-compile"]  # fmt: skip
    dirs = []
    for i in (1, 2):
        assert cli.main([*argv, "--shard", f"{i}/2", "--out-dir", str(tmp_path / str(i))]) == 0
        (d,) = (tmp_path / str(i)).iterdir()
        dirs.append(d)
    sizes = sorted(len(json.loads((d / "run.json").read_text())["matrix"]) for d in dirs)
    assert sizes == [0, 2]
    assert cli.main(["merge", *map(str, dirs), "-o", str(tmp_path / "m")]) == 0
    assert len(load_run(tmp_path / "m").results) == 2
