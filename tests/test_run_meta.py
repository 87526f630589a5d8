"""run.json typed: every stored run reads and writes back unchanged, each group has the
writers its table names, and the schema's history is in one place."""

from __future__ import annotations

import ast
import json
from dataclasses import fields
from pathlib import Path

import pytest

from bench.errors import SchemaError
from bench.results import run_meta
from bench.results.run_meta import GROUP_TYPES, KNOWN_FIELDS, RunMeta, ShardRun, ShardSlice
from bench.results.store import load_run

DATA = Path(__file__).parent / "data"
STORED = sorted(p.parent.name for p in DATA.glob("*/run.json"))
BENCH = Path(run_meta.__file__).parents[1]
GROUP_ATTRIBUTES = {"identity", "plan", "machine", "probes", "progress", "shards"}


@pytest.mark.parametrize("name", STORED)
def test_every_stored_run_reads_and_writes_back_the_same(name):
    meta = load_run(DATA / name).meta
    again = RunMeta.from_json(json.loads(json.dumps(meta.to_json())), "again")
    assert again == meta
    stored = json.loads((DATA / name / "run.json").read_text())
    written = meta.to_json()
    assert set(written) >= KNOWN_FIELDS - {"shards"}  # every field, always
    for key in set(stored) - {"dynamic_shapes", "matrix", "settings", "schema_version"}:
        assert _keeps(written[key], stored[key]), key  # nothing read is changed by writing


def _keeps(written, stored) -> bool:
    """``written`` holds everything ``stored`` did; what it adds is empty (null, [], {})."""
    if isinstance(stored, dict) and isinstance(written, dict):
        added = set(written) - set(stored)
        return all(written[k] in (None, [], {}) for k in added) and all(
            k in written and _keeps(written[k], v) for k, v in stored.items()
        )
    return written == stored


def test_schema_1_is_brought_to_today_in_one_place():
    data = json.loads((DATA / "run_v1" / "run.json").read_text())
    data["matrix"][0]["scenario"] = "dynamic"
    data["dynamic_shapes"] = {"streams": {"skewed": {"n_steps": 4}}}
    meta = RunMeta.from_json(data, "v1")
    assert meta.plan.matrix[0].scenario == "stream"
    assert meta.plan.scenario_settings == {"streams": {"skewed": {"n_steps": 4}}}
    assert "parity_tolerance" in data["settings"]  # retired: dropped, not refused
    assert meta.to_json()["schema_version"] == 2


SHARD = {"index": 1, "count": 1, "positions": [0, 1, 2, 3], "matrix_cells": 4}


def test_a_field_from_a_newer_graphbench_is_not_read_and_survives_writing():
    data = json.loads((DATA / "run_v2" / "run.json").read_text())
    data["energy_j"] = {"total": 3}
    data["environment"]["rack"] = "b7"
    written = RunMeta.from_json(data, "run.json").to_json()
    assert written["energy_j"] == {"total": 3} and written["environment"]["rack"] == "b7"


def _calls(tree: ast.AST, where: str) -> list[tuple[str, str, ast.Call]]:
    """(file:function, called name, node) for every call in a module."""
    found: list[tuple[str, str, ast.Call]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name:
                found.append((f"{where}:{function}", name, node))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return found


def _bench_modules():
    for path in sorted(BENCH.rglob("*.py")):
        if path.name != "run_meta.py":
            where = str(path.relative_to(BENCH.parent))
            yield where, ast.parse(path.read_text())


def writers(cls: type) -> set[str]:
    """Where bench/ builds a group: its constructor, or ``replace`` of a run's group."""
    attribute = {
        "Identity": "identity",
        "Plan": "plan",
        "Machine": "machine",
        "Probes": "probes",
        "RunProgress": "progress",
    }.get(cls.__name__)
    found = set()
    for where, tree in _bench_modules():
        for function, name, node in _calls(tree, where):
            first = node.args[0] if node.args else None
            replaced = (
                name == "replace" and isinstance(first, ast.Attribute) and first.attr == attribute
            )
            if name == cls.__name__ or replaced:
                found.add(function.replace("/", ".").replace(".py:", "."))
    return found


@pytest.mark.parametrize(
    "cls", [*GROUP_TYPES, run_meta.Environment, ShardRun, ShardSlice], ids=lambda c: c.__name__
)
def test_each_group_is_built_where_its_table_says(cls):
    found = writers(cls)
    assert found, f"nothing in bench/ builds {cls.__name__}"
    assert len(found) <= 2, f"{cls.__name__} is built in {sorted(found)}"
    table = " ".join(run_meta.__doc__.split())
    for writer in found:
        assert writer in table, f"run_meta's table does not name {writer}"


def test_no_field_of_a_run_is_assigned_outside_its_group():
    """RunProgress moves only through its own methods; the other groups are built whole."""
    for where, tree in _bench_modules():
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for target in targets:
                chain = target
                while isinstance(chain, ast.Attribute):
                    chain = chain.value
                    if isinstance(chain, ast.Attribute) and chain.attr in GROUP_ATTRIBUTES:
                        pytest.fail(f"{where}:{node.lineno} assigns a field of run.json's group")


def test_the_tables_name_every_field():
    docs = (Path(__file__).parents[1] / "docs" / "results-format.md").read_text()
    for cls in GROUP_TYPES:
        for f in fields(cls):
            assert f.name in run_meta.__doc__, f"run_meta's table misses {f.name}"
            assert f"`{f.name}`" in docs, f"docs/results-format.md misses {f.name}"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["matrix"][0].pop("backend"), "matrix[0]: missing field(s) backend"),
        (lambda m: m["matrix"][0].update(colour="red"), "matrix[0]: unknown field(s) 'colour'"),
        (lambda m: m["matrix"][0].update(framework="jax"), "is not the framework of backend"),
        (lambda m: m["settings"].update(frobs=1), "settings: unknown field(s) 'frobs'"),
        (lambda m: m["settings"].update(threads="2"), "field 'threads': expected a non-negativ"),
        (lambda m: m.update(shard={**SHARD, "colour": 1}), "unknown field(s) 'colour'"),
        (lambda m: m.update(repeats=-1), "field 'repeats': expected a number >= 0"),
        (lambda m: m.update(trace="yes"), "field 'trace': expected true or false"),
        (lambda m: m.update(environment={"host": 7}), "field 'host': expected a string"),
        (lambda m: m.update(interpreters={"torch": {"python": "3"}}), "missing field(s) framew"),
        (lambda m: m.update(scenario="static"), "field 'scenario': unknown 'static'"),
        (lambda m: m.update(resumed_utc="today"), "field 'resumed_utc': expected a list"),
    ],
)
def test_a_damaged_run_json_is_refused_naming_the_field(change, message):
    data = json.loads((DATA / "run_v2" / "run.json").read_text())
    change(data)
    with pytest.raises(SchemaError) as caught:
        RunMeta.from_json(data, "run.json")
    assert message in str(caught.value) and "\n" not in str(caught.value)
