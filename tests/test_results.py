import json
from pathlib import Path

import pytest

from bench.cells import Cell
from bench.results import (
    REQUIRED_CELL_FIELDS,
    SchemaError,
    append_cell,
    load_run,
    new_run_dir,
    read_cells,
)
from bench.runner import new_record
from tests.stored_runs import copy_run, copy_with_schema_version

GOLDEN = Path(__file__).parent / "data" / "run_v1"


def copy_golden(tmp_path: Path) -> Path:
    return copy_run(GOLDEN, tmp_path)


def test_golden_v1_run_loads():
    run = load_run(GOLDEN)
    assert run.run_id == "20260101-000000-cpu"
    assert [c["status"] for c in run.cells] == ["ok", "failed"]
    assert run.cells[0]["latency_ms"]["median"] == 2.0


def test_new_record_carries_every_required_field():
    record = new_record(Cell("mlp", "torch-eager", "infer", "cpu", 8, "quick"), "r")
    assert set(REQUIRED_CELL_FIELDS) <= set(record)
    golden_fields = set(json.loads((GOLDEN / "cells.jsonl").read_text().splitlines()[0]))
    # The golden file is the schema's example: a new field must be added to it on purpose.
    assert set(record) <= golden_fields


def test_unknown_cell_schema_version_is_refused(tmp_path):
    run = copy_golden(tmp_path)
    lines = (run / "cells.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    record["schema_version"] = 99
    (run / "cells.jsonl").write_text(lines[0] + "\n" + json.dumps(record) + "\n")
    with pytest.raises(SchemaError, match=r"cells.jsonl:2: schema_version 99 is not supported"):
        load_run(run)


def test_unknown_run_schema_version_is_refused(tmp_path):
    run = copy_with_schema_version(GOLDEN, tmp_path, 2)
    with pytest.raises(SchemaError, match=r"schema_version 2 is not supported .*reads 1"):
        load_run(run)


def test_missing_field_is_named(tmp_path):
    run = copy_golden(tmp_path)
    lines = (run / "cells.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    del record["samples_ms"]
    (run / "cells.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(SchemaError, match=r"missing field.*samples_ms"):
        load_run(run)


def test_not_a_run(tmp_path):
    with pytest.raises(SchemaError, match="not a graphbench run"):
        load_run(tmp_path)


def test_cut_off_last_line_is_ignored_but_corruption_elsewhere_is_not(tmp_path):
    run = copy_golden(tmp_path)
    text = (run / "cells.jsonl").read_text()
    (run / "cells.jsonl").write_text(text + '{"schema_version": 1, "run_id"')
    assert len(read_cells(run / "cells.jsonl")) == 2
    (run / "cells.jsonl").write_text('{"broken\n' + text)
    with pytest.raises(SchemaError, match=r"cells\.jsonl:1: not valid JSON"):
        read_cells(run / "cells.jsonl")


def test_append_cell_then_read(tmp_path):
    run = copy_golden(tmp_path)
    record = json.loads((GOLDEN / "cells.jsonl").read_text().splitlines()[0])
    append_cell(run, {**record, "batch_size": 1})
    cells = read_cells(run / "cells.jsonl")
    assert [c["batch_size"] for c in cells] == [128, 128, 1]


def test_new_run_dir_never_reuses_a_directory(tmp_path):
    a = new_run_dir(tmp_path, "cpu")
    b = new_run_dir(tmp_path, "cpu")
    assert a != b and a.is_dir() and b.is_dir()
