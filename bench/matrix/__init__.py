"""What to run: cells, profiles, precision policies, shape streams, shards, cost priors, the
worker's job and each scenario's matrix. Pure data, imported by every process; imports only
bench.errors, the registries (bench.backends, models) and itself."""
