"""run.json, typed: one dataclass per group, each built in one place, read by every command
through ``RunMeta.from_json`` (bench.results.store.read_meta).

Reading validates every field anything reads (its type, its range, names known to the
registries), each refusal one line naming the file, the field and what was expected. What
defines a measurement (the settings, each matrix entry, the shard) must hold exactly the
fields this graphbench knows: an unknown one would be measured differently by ``resume``.
Elsewhere an unknown field (from a newer graphbench) is not read, and is written back as
it was. Old runs are brought to today's form in ``upgrade``, the
one place that knows the schema's history. run.json is stored flat, every group's fields
side by side (as cells.jsonl is), so a reader with only ``json`` sees plain keys.

Who builds each group (tests/test_run_meta.py checks the code against this list):

- identity (run_id, started_utc, command, cwd, scenario, merged_utc):
  bench.cli.run.run_meta; bench.parent.merge.merge for a merged run.
- plan (settings, matrix, repeats, trace, diagnose, remeasure_slow, user_models, pythons, shard,
  precision_policy, training_step, scenario_settings): bench.cli.run.run_meta, which also builds the
  ShardSlice; bench.parent.merge.merge (the whole matrix).
- machine (environment, worker_environment): bench.cli.run.run_meta, the Environment
  from bench.parent.environment.collect; bench.parent.merge.merge.
- probes (interpreters, harness_floor_us, device_peak, gpu_check_budget_s):
  bench.cli.run.probes_meta.
- progress (estimated_s, finished_utc, interrupted, interrupted_by, resumed_utc,
  sentinel_median_ms): its own start, finish, resume and measured_sentinel, called by
  bench.cli.run; bench.parent.merge.merge.
- shards (a merged run's provenance, one ShardRun each): bench.parent.merge.provenance.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any

from bench.errors import SchemaError
from bench.matrix.cells import IDENTITY_FIELDS, Cell
from bench.matrix.profiles import Settings
from bench.results.probe import Probe
from bench.results.record import (
    REQUIRED_IDENTITY,
    SCHEMA_VERSION,
    cell_from_json,
    check_value,
    check_version,
)

# Settings older runs recorded that no longer exist (dropped on read, never refused).
RETIRED_SETTINGS = ("parity_tolerance",)


@dataclass
class Identity:
    """Which run this is and how it was started."""

    run_id: str
    started_utc: str
    command: str
    cwd: str | None = None
    scenario: str = "fixed"
    merged_utc: str | None = None  # a run made by ``merge`` of shards


@dataclass
class ShardSlice:
    """``run --shard I/N``: which slice of a matrix this run holds (bench.matrix.shard)."""

    index: int
    count: int
    positions: list[int]  # each cell's position in the whole matrix
    matrix_cells: int


@dataclass
class Plan:
    """What the run was asked to measure, and how."""

    settings: Settings
    matrix: list[Cell] = field(default_factory=list)
    repeats: int | None = None
    trace: bool = False
    diagnose: bool = False  # run --diagnose: kept so that resume diagnoses too
    remeasure_slow: int = 0  # --remeasure-slow: rounds of re-measuring slow-window cells
    # A user's models of the run (--models PATH.py:FUNCTION): where each came from and what
    # its check found (bench.cli.user_models), so resume, summary and report know them.
    user_models: dict[str, dict[str, Any]] = field(default_factory=dict)
    pythons: dict[str, str] = field(default_factory=dict)  # framework -> interpreter
    shard: ShardSlice | None = None
    precision_policy: dict[str, Any] = field(default_factory=dict)  # precision -> policy
    training_step: dict[str, Any] | None = None
    scenario_settings: dict[str, Any] | None = None


@dataclass
class Environment:
    """The machine the runner ran on (bench.parent.environment.collect)."""

    host: str | None = None
    python: str | None = None
    python_executable: str | None = None
    platform: str | None = None
    cpu_model: str | None = None
    cpu_count: int | None = None
    cpu_schedulable: int | None = None
    ram_bytes: int | None = None
    gpus: list[dict[str, Any]] | None = None
    gpus_unavailable_reason: str | None = None
    git: dict[str, Any] | None = None  # commit, dirty, ...
    threads: int | None = None
    key_packages: dict[str, str] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    environment_variables: dict[str, str] = field(default_factory=dict)

    @property
    def commit(self) -> str | None:
        value = (self.git or {}).get("commit")
        return value if isinstance(value, str) and value else None

    @property
    def dirty(self) -> bool:
        return bool((self.git or {}).get("dirty"))


@dataclass
class Machine:
    environment: Environment = field(default_factory=Environment)
    # framework -> the variables the runner set for its workers (bench.parent.worker_env)
    worker_environment: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Probes:
    """What each framework's probe and the device-peak measurement found before any cell."""

    interpreters: dict[str, Probe] = field(default_factory=dict)
    harness_floor_us: dict[str, dict[str, float]] = field(default_factory=dict)
    device_peak: dict[str, Any] | None = None  # bench.results.device_peak
    gpu_check_budget_s: float | None = None  # a run made by ``gpu-check``


@dataclass
class RunProgress:
    """How far the run got: set at the start and the end of each run or resume."""

    estimated_s: float | None = None  # what the ETA said when the run (or resume) started
    finished_utc: str | None = None
    interrupted: bool | None = None
    interrupted_by: str | None = None  # SIGINT, SIGTERM, disk full, ...
    resumed_utc: list[str] = field(default_factory=list)
    # The median of the cells' sentinel times, ms (bench.worker.sentinel): what a cell's own
    # is set against to find slow windows (bench.analysis.metrics.is_slow_window).
    sentinel_median_ms: float | None = None

    def start(self, estimated_s: float) -> None:
        """A run or a resume starts its cells: what the ETA said then."""
        self.estimated_s = estimated_s

    def finish(self, when: str, interrupted_by: str | None) -> None:
        """The run stopped: all cells done (``interrupted_by`` None), or a signal, a full disk."""
        self.finished_utc = when
        self.interrupted = interrupted_by is not None
        self.interrupted_by = interrupted_by

    def resume(self, when: str) -> None:
        self.resumed_utc.append(when)

    def measured_sentinel(self, median_ms: float | None) -> None:
        """The cells' first measurements are done: their median sentinel time."""
        self.sentinel_median_ms = median_ms


@dataclass
class ShardRun:
    """One shard of a merged run: where and when it ran (bench.parent.merge.provenance)."""

    index: int
    run_id: str
    source: str | None = None
    runner_host: str | None = None
    hosts: list[str] = field(default_factory=list)
    gpus: list[str] = field(default_factory=list)
    started_utc: str | None = None
    finished_utc: str | None = None
    interrupted: bool | None = None
    command: str | None = None
    interpreters: dict[str, Any] | None = None
    device_peak: dict[str, Any] | None = None
    positions: list[int] = field(default_factory=list)
    environment: dict[str, Any] | None = None


# Objects that define what was measured: an unknown field in them is refused.
EXACT = (ShardSlice,)

GROUP_TYPES = (Identity, Plan, Machine, Probes, RunProgress)


@dataclass
class RunMeta:
    """run.json: a group per writer; ``shards`` only in a merged run."""

    identity: Identity
    plan: Plan
    machine: Machine = field(default_factory=Machine)
    probes: Probes = field(default_factory=Probes)
    progress: RunProgress = field(default_factory=RunProgress)
    shards: list[ShardRun] = field(default_factory=list)
    # What the file held, fields this graphbench does not know included: written back
    # under the typed fields, so nothing a newer graphbench recorded is lost by a resume.
    stored: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def run_id(self) -> str:
        return self.identity.run_id

    @property
    def environment(self) -> Environment:
        return self.machine.environment

    @property
    def settings(self) -> Settings:
        return self.plan.settings

    # --- the stored form ------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for group in (self.identity, self.plan, self.machine, self.probes, self.progress):
            for f in fields(group):
                out[f.name] = stored(getattr(group, f.name))
        if self.shards:
            out["shards"] = stored(self.shards)
        return _overlay(self.stored, out)

    @classmethod
    def from_json(cls, data: object, where: str) -> RunMeta:
        """run.json validated, in today's form; SchemaError naming the field if not."""
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: expected a JSON object")
        data = upgrade(data, where)
        missing = [n for n in ("run_id", "started_utc", "command", "settings") if n not in data]
        if missing:
            raise SchemaError(f"{where}: missing field(s) {', '.join(missing)}")
        meta = cls(
            identity=_group(Identity, data, where),
            plan=_group(Plan, data, where),
            machine=_group(Machine, data, where),
            probes=_group(Probes, data, where),
            progress=_group(RunProgress, data, where),
            shards=_read(data.get("shards") or [], list[ShardRun], "shards", where),
            stored=data,
        )
        _check_consistent(meta, where)
        return meta


KNOWN_FIELDS = {"schema_version", "shards"} | {
    f.name for group in GROUP_TYPES for f in fields(group)
}


def upgrade(data: dict, where: str) -> dict:
    """A stored run.json in today's terms; the schema's whole history is here."""
    version = data.get("schema_version")
    check_version(version, where)
    out = dict(data)
    matrix = out.get("matrix")
    if version == 1 and isinstance(matrix, list):
        # Schema 1 called the stream scenario "dynamic" ...
        out["matrix"] = [
            {**e, "scenario": "stream"}
            if isinstance(e, dict) and e.get("scenario") == "dynamic"
            else e
            for e in matrix
        ]
    if "dynamic_shapes" in out:  # ... and its settings "dynamic_shapes"
        shapes = out.pop("dynamic_shapes")
        if not out.get("scenario_settings"):
            out["scenario_settings"] = shapes
    if out.get("scenario") == "dynamic":
        out["scenario"] = "stream"
    settings = out.get("settings")
    if isinstance(settings, dict):
        out["settings"] = {k: v for k, v in settings.items() if k not in RETIRED_SETTINGS}
    return out


# --- reading --------------------------------------------------------------------------


def _group(cls: type, data: dict, where: str) -> Any:
    """The group ``cls`` from the flat run.json: each of its fields checked as typed."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        if data[f.name] is None and f.default_factory is not MISSING:
            continue  # null for a list or an object: none
        values[f.name] = _read(data[f.name], hints[f.name], f.name, where)
    try:
        return cls(**values)
    except TypeError as exc:  # unreachable for the groups' required fields, checked above
        raise SchemaError(f"{where}: {exc}") from None


def _read(value: Any, hint: Any, name: str, where: str) -> Any:
    """``value`` as ``hint`` says: graphbench's own types here, plain JSON types by the
    cell record's checks (bench.results.record.check_value)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _read(value, inner, name, where)
    if hint is Settings:
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: field 'settings': expected an object")
        return _settings(value, f"{where}: settings")
    if hint is Cell:
        return _matrix_entry(value, f"{where}: {name}")
    if origin is list and _ours(args[0]):
        if not isinstance(value, list):
            raise SchemaError(f"{where}: field {name!r}: expected a list")
        return [_read(v, args[0], f"{name}[{i}]", where) for i, v in enumerate(value)]
    if origin is dict and _ours(args[1]):
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: field {name!r}: expected an object")
        return {str(k): _read(v, args[1], f"{name}.{k:.40}", where) for k, v in value.items()}
    if isinstance(hint, type) and is_dataclass(hint):
        return _object(value, hint, name, where)
    return check_value(value, hint, {"min": 0} if hint in (int, float) else {}, name, where)


def _ours(hint: Any) -> bool:
    return hint in (Settings, Cell) or (isinstance(hint, type) and is_dataclass(hint))


def _object(value: Any, cls: type, name: str, where: str) -> Any:
    """A nested object (a shard, a probe, the environment): its fields typed, nothing else."""
    if not isinstance(value, dict):
        raise SchemaError(f"{where}: field {name!r}: expected an object")
    names = {f.name for f in fields(cls)}
    unknown = sorted(k for k in value if k not in names)
    if unknown and cls in EXACT:
        raise SchemaError(
            f"{where}: field {name!r}: unknown field(s) {', '.join(repr(u[:40]) for u in unknown)}"
        )
    required = [
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [n for n in required if n not in value]
    if missing:
        raise SchemaError(f"{where}: field {name!r}: missing field(s) {', '.join(missing)}")
    return _group(cls, {k: v for k, v in value.items() if k in names}, f"{where}: {name}")


def _settings(value: dict, where: str) -> Settings:
    known = {f.name for f in fields(Settings)}
    unknown = sorted(k for k in value if k not in known)
    if unknown:
        raise SchemaError(
            f"{where}: unknown field(s) {', '.join(repr(u[:40]) for u in unknown)}; expected "
            f"{', '.join(sorted(known))}"
        )
    return Settings.from_dict(value, where)


def _matrix_entry(value: Any, where: str) -> Cell:
    if not isinstance(value, dict):
        raise SchemaError(f"{where}: expected an object (one cell)")
    missing = [n for n in REQUIRED_IDENTITY if n not in value]
    if missing:
        raise SchemaError(
            f"{where}: missing field(s) {', '.join(missing)}; a cell names "
            f"{', '.join(REQUIRED_IDENTITY)}"
        )
    unknown = sorted(k for k in value if k not in (*IDENTITY_FIELDS, "framework"))
    if unknown:
        raise SchemaError(f"{where}: unknown field(s) {', '.join(repr(u[:40]) for u in unknown)}")
    cell = cell_from_json(value, where)
    if value.get("framework") not in (None, cell.framework):
        raise SchemaError(
            f"{where}: field 'framework': {value['framework']!r:.40} is not the framework of "
            f"backend {cell.backend!r} ({cell.framework})"
        )
    return cell


def _check_consistent(meta: RunMeta, where: str) -> None:
    """What no field's type can say: names that become paths, a shard that fits its matrix,
    the device peak's own structure."""
    from bench.matrix import scenarios

    run_id = meta.identity.run_id
    if "/" in run_id or "\\" in run_id or run_id in ("", ".", "..") or "\x00" in run_id:
        raise SchemaError(f"{where}: field 'run_id': {run_id!r:.60} is not a name")
    if meta.identity.scenario not in scenarios.names():
        raise SchemaError(
            f"{where}: field 'scenario': unknown {meta.identity.scenario!r:.40}; expected one "
            f"of: {', '.join(scenarios.names())}"
        )
    shard = meta.plan.shard
    if shard is not None:
        cells = len(meta.plan.matrix)
        if not (
            1 <= shard.index <= shard.count
            and len(shard.positions) == cells
            and all(p < shard.matrix_cells for p in shard.positions)
            and len(set(shard.positions)) == cells
        ):
            raise SchemaError(
                f"{where}: field 'shard': expected {{index, count, positions, matrix_cells}} "
                "of a --shard run, one distinct position in the whole matrix per cell of this "
                "run's matrix"
            )
    if meta.probes.device_peak is not None:
        check_device_peak(meta.probes.device_peak, where)
    for interval in (meta.progress.estimated_s, meta.probes.gpu_check_budget_s):
        if interval is not None and not math.isfinite(interval):
            raise SchemaError(f"{where}: expected finite numbers of seconds")


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def check_device_peak(peak: dict, where: str) -> None:
    """run.json's ``device_peak`` (bench.worker.peak): what the device did at the start of the
    run."""
    from bench.matrix.precision import PRECISIONS

    def bad(field: str, what: str) -> SchemaError:
        return SchemaError(f"{where}: field 'device_peak.{field}': expected {what}")

    for name in ("device", "statistic", "problem"):
        if peak.get(name) is not None and not isinstance(peak[name], str):
            raise bad(name, "a string")
    for name in ("flops_per_s", "bound_by", "frameworks"):
        if peak.get(name) is not None and not isinstance(peak[name], dict):
            raise bad(name, "an object")
    for precision, value in (peak.get("flops_per_s") or {}).items():
        if precision not in PRECISIONS:
            raise bad(f"flops_per_s.{precision:.40}", f"precision names ({', '.join(PRECISIONS)})")
        if not _positive(value):
            raise bad(f"flops_per_s.{precision}", "a positive number of FLOP/s")
    for framework, entry in (peak.get("frameworks") or {}).items():
        if not isinstance(entry, dict):
            raise bad(f"frameworks.{framework:.40}", "an object (one framework's measurement)")
    memory = peak.get("memory")
    if memory is not None:
        if not isinstance(memory, dict):
            raise bad("memory", "an object")
        for name, unit in (("bytes_per_s", "bytes/s"), ("bytes", "bytes")):
            if name in memory and not _positive(memory[name]):
                raise bad(f"memory.{name}", f"a positive number of {unit}")


# --- writing --------------------------------------------------------------------------


def _overlay(kept: Any, typed: Any) -> Any:
    """``typed`` over what the file held: objects merged key by key (so a key only the file
    has stays), anything else ``typed``."""
    if not (isinstance(kept, dict) and isinstance(typed, dict)):
        return typed
    return {**kept, **{k: _overlay(kept.get(k), v) for k, v in typed.items()}}


def stored(value: Any) -> Any:
    """A field as JSON: graphbench's own objects by their stored form."""
    if isinstance(value, Settings):
        return value.to_dict()
    if isinstance(value, Cell):
        return value.to_dict()
    if isinstance(value, Probe):
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: stored(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [stored(v) for v in value]
    if isinstance(value, dict):
        return {k: stored(v) for k, v in value.items()}
    return value
