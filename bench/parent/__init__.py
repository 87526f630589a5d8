"""The parent process of a run: the runner (the only writer of a run directory), the
executors that place each cell's worker processes, probes, the device peak, the ETA and
merging shards. Starts workers as processes, never imports bench.worker or a framework."""
