"""Child processes: one cell's worker (``python -m bench.worker``), the reference outputs
(bench.worker.expected), the probe, the device peak and selfcheck's timer. The only code
that imports a framework (through bench.backends). Imports bench.matrix and bench.results;
never bench.parent, bench.analysis or bench.cli."""
