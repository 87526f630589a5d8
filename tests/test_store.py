"""Run directories on disk: reading both schema versions, strict writing, torn tails, the lock."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bench.errors import SchemaError, UsageError
from bench.results.record import CellResult, Process, Status
from bench.results.store import (
    RunLock,
    append_result,
    load_run,
    new_run_dir,
    read_results,
    repair_torn_tail,
    write_json_atomic,
)
from tests.stored_runs import copy_run, copy_with_schema_version

DATA = Path(__file__).parent / "data"
GOLDEN_V1 = DATA / "run_v1"
GOLDEN_V2 = DATA / "run_v2"


def test_golden_v1_run_loads_in_schema_2_terms():
    run = load_run(GOLDEN_V1)
    assert run.run_id == "20260101-000000-cpu"
    assert [r.status for r in run.results] == [Status.OK, Status.FAILED]
    ok = run.results[0]
    assert ok.steady.samples_ms == [2.0, 2.0, 4.0]
    assert ok.setup.framework_settings == {"torch.get_num_threads": 2}  # was threads_set
    assert run.notes == []


def test_golden_v2_run_round_trips_unchanged():
    run = load_run(GOLDEN_V2)
    lines = (GOLDEN_V2 / "cells.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [r.to_json() for r in run.results]
    assert [r.cell.scenario for r in run.results] == ["fixed", "fixed", "stream", "stream"]
    assert run.results[3].status is Status.NOT_APPLICABLE


def test_v1_stream_cells_become_the_stream_scenario():
    run = load_run(DATA / "report_dynamic")
    assert {r.cell.scenario for r in run.results} == {"stream"}
    na = [r for r in run.results if r.status is Status.NOT_APPLICABLE]
    assert na and not any(r.error.startswith("not applicable") for r in na)


def test_unknown_cell_schema_version_is_refused(tmp_path):
    run = copy_run(GOLDEN_V2, tmp_path)
    lines = (run / "cells.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    record["schema_version"] = 99
    (run / "cells.jsonl").write_text(lines[0] + "\n" + json.dumps(record) + "\n")
    with pytest.raises(SchemaError, match=r"cells.jsonl:2: schema_version 99 is not supported"):
        load_run(run)


def test_unknown_run_schema_version_is_refused(tmp_path):
    run = copy_with_schema_version(GOLDEN_V2, tmp_path, 3)
    with pytest.raises(SchemaError, match=r"schema_version 3 is not supported .*reads 1, 2"):
        load_run(run)


def test_missing_field_is_named(tmp_path):
    run = copy_run(GOLDEN_V2, tmp_path)
    record = json.loads((run / "cells.jsonl").read_text().splitlines()[0])
    del record["model"]
    (run / "cells.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(SchemaError, match=r"cells.jsonl:1: missing field\(s\) model"):
        load_run(run)


def test_not_a_run(tmp_path):
    with pytest.raises(SchemaError, match="not a graphbench run"):
        load_run(tmp_path)


def test_a_torn_last_line_is_left_out_with_a_note_but_corruption_elsewhere_is_not(tmp_path):
    run = copy_run(GOLDEN_V2, tmp_path)
    text = (run / "cells.jsonl").read_text()
    (run / "cells.jsonl").write_text(text + '{"schema_version": 2, "run_id"')
    results, notes = read_results(run / "cells.jsonl")
    assert len(results) == 4 and "cut off mid-write" in notes[0]
    (run / "cells.jsonl").write_text('{"broken\n' + text)
    with pytest.raises(SchemaError, match=r"cells\.jsonl:1: not valid JSON"):
        read_results(run / "cells.jsonl")


def test_a_torn_tail_is_moved_aside_before_the_next_append(tmp_path):
    run = copy_run(GOLDEN_V2, tmp_path)
    cells = run / "cells.jsonl"
    whole = cells.read_text()
    cells.write_text(whole + '{"schema_version": 2, "run_i')
    note = repair_torn_tail(cells)
    assert note and "moved to" in note and "28 bytes" in note
    assert cells.read_text() == whole
    assert (run / "cells.jsonl.torn").read_text() == '{"schema_version": 2, "run_i\n'
    first = load_run(GOLDEN_V2).results[0]
    another = replace(first, cell=replace(first.cell, batch_size=7))
    append_result(run, another)
    assert [r.cell for r in load_run(run).results][-1] == another.cell
    assert repair_torn_tail(cells) is None  # whole again: nothing to do


def test_append_then_read(tmp_path):
    run = copy_run(GOLDEN_V2, tmp_path)
    first = load_run(GOLDEN_V2).results[0]
    append_result(run, replace(first, cell=replace(first.cell, batch_size=7)))
    assert len(load_run(run).results) == 5


def test_a_cell_recorded_twice_reads_as_its_newest_record_with_a_note(tmp_path):
    run = copy_run(GOLDEN_V2, tmp_path)
    first = load_run(GOLDEN_V2).results[0]
    lost = replace(first, process=Process(executor="ray", lost=True))
    append_result(run, lost)  # a lost task, then its rerun by resume
    append_result(run, first)
    stored = load_run(run)
    # The rerun's record is used, in the place of the cell's first record (not moved last).
    assert len(stored.results) == 4 and stored.results[0] == first
    assert [r.cell for r in stored.results] == [r.cell for r in load_run(GOLDEN_V2).results]
    assert any("measured again after its executor lost it" in n for n in stored.notes)
    append_result(run, first)  # a plain duplicate (a hand-joined file): newest, and a note
    stored = load_run(run)
    assert len(stored.results) == 4 and any("recorded twice" in n for n in stored.notes)


def test_written_json_is_strict(tmp_path):
    with pytest.raises(ValueError, match="Out of range float values"):
        write_json_atomic(tmp_path / "x.json", {"t": float("inf")})
    assert not list(tmp_path.iterdir())  # no temporary file left behind


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_a_file_are_refused(tmp_path, constant):
    run = copy_run(GOLDEN_V2, tmp_path)
    text = (
        (run / "cells.jsonl")
        .read_text()
        .replace('"pipeline_s": 0.006', f'"pipeline_s": {constant}')
    )
    (run / "cells.jsonl").write_text(text)
    with pytest.raises(SchemaError, match=r"cells\.jsonl:1: not valid JSON"):
        load_run(run)


def test_new_run_dir_never_reuses_a_directory(tmp_path):
    a = new_run_dir(tmp_path, "cpu")
    b = new_run_dir(tmp_path, "cpu")
    assert a != b and a.is_dir() and b.is_dir()


def test_one_writer_at_a_time(tmp_path):
    with (
        RunLock(tmp_path),
        pytest.raises(UsageError, match=r"is being written by pid \d+ on "),
        RunLock(tmp_path),
    ):
        pass
    with RunLock(tmp_path):  # released: free again
        pass


def test_results_are_frozen_dataclasses():
    result = load_run(GOLDEN_V2).results[0]
    assert isinstance(result, CellResult)
    with pytest.raises(AttributeError):
        result.run_id = "other"  # type: ignore[misc]
