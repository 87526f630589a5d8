"""Numbers derived on read, in the parent: metrics (one pure function per derived number),
statistics, comparisons, exports and the terminal summary. Imports bench.results and
bench.matrix; never a framework, never the parent's or the worker's machinery."""
