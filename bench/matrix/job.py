"""The order the parent gives one worker (job.json), and the names both sides share.

The parent writes a Job; ``python -m bench.worker JOB.json RESULT.json`` reads it. Nothing
here imports a framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.matrix.cells import Cell
from bench.matrix.profiles import Settings

# The CPUs this worker may use (comma-separated), where an executor gives each worker
# its own (GPU cells sharing a machine: bench.parent.executors.placement).
CPUS_ENV = "GRAPHBENCH_CPUS"


@dataclass(frozen=True)
class Job:
    """What the parent asks one worker to do (job.json)."""

    run_id: str
    cell: Cell
    settings: Settings
    expected_path: str
    # "cold", "warm", or after the measured ones "trace" (bench.analysis.traces) or
    # "diagnose" (bench.worker.capture). An ahead-of-time backend's cell starts with
    # "artifact" (build the artefact into artifact_dir) and "load" (the cold start: a fresh
    # process loads it and runs one checked step) before its "cold" worker.
    phase: str
    # A reduced precision: the framework's float32 eager output of the block, to compare.
    eager32_path: str | None = None
    trace_dir: str | None = None  # phase "trace" or "diagnose": where its files go
    # A training cell: its framework's eager loss after the warm-up's counted steps (same
    # device and precision), from the runner's reference process; None: not known.
    eager_warmup_loss: float | None = None
    artifact_dir: str | None = None  # an ahead-of-time backend: the cell's artefact

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "cell": self.cell.to_dict(),
            "settings": self.settings.to_dict(),
            "expected_path": self.expected_path,
            "phase": self.phase,
            "eager32_path": self.eager32_path,
            "trace_dir": self.trace_dir,
            "eager_warmup_loss": self.eager_warmup_loss,
            "artifact_dir": self.artifact_dir,
        }

    @classmethod
    def from_json(cls, data: dict) -> Job:
        return cls(
            data["run_id"],
            Cell.from_dict(data["cell"]),
            Settings.from_dict(data["settings"]),
            data["expected_path"],
            data["phase"],
            data.get("eager32_path"),
            data.get("trace_dir"),
            data.get("eager_warmup_loss"),
            data.get("artifact_dir"),
        )


# --trace: the steps a profiling worker records, where their files go in the run
# directory (one folder per traced cell), and the largest trace file brought back.
TRACE_STEPS = 5
TRACE_DIR = "traces"
MAX_TRACE_BYTES = 64 * 2**20  # larger files are not brought back (a note says so)

# An ahead-of-time backend's workers before the timed one: the artefact's build, then the
# cold start that loads it (bench.parent.cell_task).
ARTIFACT_PHASE = "artifact"
LOAD_PHASE = "load"

# --diagnose: what a diagnosing worker writes into its trace_dir (bench.worker.capture),
# read back by the parent (bench.parent.cell_task).
CAPTURE_FILE = "capture.json"

# Where a run directory keeps the blocks' reference outputs (bench.worker.expected).
EXPECTED_DIR = "expected"
