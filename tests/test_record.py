"""The typed result: every field validated on read, one writer per group, derived numbers in
bench.analysis.metrics only."""

import ast
import inspect
import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from bench.analysis import metrics
from bench.errors import SchemaError
from bench.matrix.cells import IDENTITY_FIELDS
from bench.results import record
from bench.results.record import GROUPS, CellResult

BENCH = Path(record.__file__).parents[1]
GOLDEN = Path(__file__).parent / "data" / "run_v2" / "cells.jsonl"
RECORD_FIELDS = {f.name for g in GROUPS for f in fields(g)} | set(IDENTITY_FIELDS)


def golden(line: int = 0) -> dict:
    return json.loads(GOLDEN.read_text().splitlines()[line])


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("model", "resnet9000", "field 'model': unknown 'resnet9000'; expected one of: cnn"),
        ("model", "../../etc", "holds a path separator"),
        ("backend", 7, "field 'backend': expected a non-empty name, got 7"),
        ("batch_size", 0, "field 'batch_size': expected a positive integer, got 0"),
        ("batch_size", "8", "expected a positive integer, got '8'"),
        ("status", "great", "field 'status': expected one of ok, mismatch"),
        ("samples_ms", "fast", "field 'samples_ms': expected a list, got 'fast'"),
        ("samples_ms", [1.0, "x"], "field 'samples_ms': expected a number, got 'x'"),
        ("samples_ms", [1.0, True], "field 'samples_ms': expected a number, got True"),
        ("build_s", -1.0, "field 'build_s': expected a number >= 0, got -1.0"),
        ("pipeline_steps", 2.5, "field 'pipeline_steps': expected an integer, got 2.5"),
        ("framework_settings", [1], "field 'framework_settings': expected an object"),
        ("framework", "jax", "is not the framework of backend 'torch-eager' (torch)"),
        ("run_id", "a/b", "field 'run_id': 'a/b' holds a path separator"),
        ("error", 12, "field 'error': expected a string, got 12"),
    ],
)
def test_a_bad_field_is_named_in_one_line(field, value, expected):
    data = {**golden(), field: value}
    with pytest.raises(SchemaError) as info:
        CellResult.from_json(data, "cells.jsonl:1")
    message = str(info.value)
    assert message.startswith("cells.jsonl:1: ") and expected in message and "\n" not in message


@pytest.mark.parametrize("data", [[1, 2], 3, None, "text"])
def test_a_line_that_is_not_an_object_is_refused(data):
    with pytest.raises(SchemaError, match=r"cells\.jsonl:4: expected a JSON object"):
        CellResult.from_json(data, "cells.jsonl:4")


def test_a_non_finite_number_is_refused_even_from_python():
    with pytest.raises(SchemaError, match="expected a finite number"):
        CellResult.from_json({**golden(), "pipeline_s": float("nan")}, "x")


def _writers(name: str) -> set[str]:
    """The innermost functions of bench/ that call ``name(...)``, as ``file:function``."""
    found = set()

    def visit(node: ast.AST, where: str, function: str | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == name:
            found.add(f"{where}:{function}")
        for child in ast.iter_child_nodes(node):
            visit(child, where, function)

    for path in BENCH.rglob("*.py"):
        visit(ast.parse(path.read_text()), str(path.relative_to(BENCH.parent)), None)
    return found


MEASURED = [g for g in GROUPS if g.__name__ != "Outcome"]


@pytest.mark.parametrize("group", MEASURED, ids=lambda g: g.__name__)
def test_every_measured_group_has_exactly_one_writer(group):
    writers = _writers(group.__name__)
    assert len(writers) == 1, f"{group.__name__} is written by {sorted(writers)}"
    function = next(iter(writers)).split(":")[1]
    assert function in record.__doc__, f"bench/record.py's table does not name {function}"


def test_every_metric_names_real_fields():
    functions = [
        f
        for _, f in inspect.getmembers(metrics, inspect.isfunction)
        if f.__module__ == metrics.__name__
    ]
    documented = [f for f in functions if "Reads:" in (f.__doc__ or "")]
    assert len(documented) >= 15
    for f in documented:
        line = re.search(r"Reads: (.+?)(\n\n|\Z)", f.__doc__, re.S).group(1)
        names = re.findall(r"[a-z_]+", re.sub(r"\(.*?\)", "", line, flags=re.S))
        unknown = [n for n in names if n not in RECORD_FIELDS]
        assert not unknown, f"bench.analysis.metrics.{f.__name__} reads unknown fields {unknown}"


def test_every_definition_names_its_function():
    for key, d in metrics.DEFINITIONS.items():
        name = d.function.removeprefix("bench.analysis.metrics.")
        assert callable(getattr(metrics, name)), key
        assert "Reads:" in getattr(metrics, name).__doc__ or name in ("geomean",), key
