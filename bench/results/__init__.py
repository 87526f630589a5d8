"""The stored form of a run: the typed cell result (cells.jsonl), run.json's typed groups, the
run directory and its schema history. Imported by every process; imports bench.matrix."""
