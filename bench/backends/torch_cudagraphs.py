"""Whether torch.compile really replayed CUDA graphs: observed, not inferred from the mode.

Inductor keeps no count of replays (its counters hold ``cudagraph_skips``, the graphs it
gave up on), so the evidence is gathered here: every ``torch.cuda.CUDAGraph.replay`` call in
the worker is counted (a Python method: the count costs one call and one addition per
replayed graph, well under a microsecond against a step's tens), each step says whether it
replayed any, and after the steps Inductor's own CUDA-graph tree says how many graphs it
recorded and how often it recorded again (bench.backends.torch_backends.TorchCompile).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# What the verdict rests on, in a record's few words.
EVIDENCE = "CUDAGraph.replay calls per step; Inductor's cudagraph tree and cudagraph_skips"


class ReplayCounter:
    """Counts the replays of a CUDA-graph class in this process."""

    def __init__(self) -> None:
        self.replays = 0

    def wrap(self, replay: Callable[..., Any]) -> Callable[..., Any]:
        counter = self

        def counted_replay(graph: Any, *args: Any, **kwargs: Any) -> Any:
            counter.replays += 1
            return replay(graph, *args, **kwargs)

        counted_replay.counted_by = counter  # type: ignore[attr-defined]
        return counted_replay


class StepReplays:
    """One backend's steps and the replays they made (the process's counter is shared by
    every backend built in it: a test may build several)."""

    def __init__(self, counter: ReplayCounter) -> None:
        self.counter = counter
        self.start = counter.replays
        self.steps = 0
        self.steps_replayed = 0
        self.last_step_replayed: bool | None = None

    @property
    def replays(self) -> int:
        return self.counter.replays - self.start

    def step(self, run: Callable[[], Any]) -> Any:
        """Run one step, noting whether it replayed a graph."""
        before = self.counter.replays
        out = run()
        self.steps += 1
        self.last_step_replayed = self.counter.replays > before
        self.steps_replayed += self.last_step_replayed
        return out


def install(graph_cls: type) -> StepReplays:
    """Count ``graph_cls.replay`` in this process (wrapped once, however often asked), and a
    tally of the steps of one backend from now on."""
    replay = graph_cls.replay  # type: ignore[attr-defined]
    counter = getattr(replay, "counted_by", None)
    if not isinstance(counter, ReplayCounter):
        counter = ReplayCounter()
        graph_cls.replay = counter.wrap(replay)  # type: ignore[attr-defined]
    return StepReplays(counter)


def tree_facts(manager: Any) -> dict[str, int | None]:
    """What Inductor's CUDA-graph tree manager holds: graphs recorded (the nodes of its
    trees) and new recordings made because no recorded graph fitted (``debug_fail_counter``).
    None where there is no manager (no CUDA graph was ever recorded) or it changed shape."""
    if manager is None:
        return {"graphs_recorded": 0, "rerecordings": None}
    try:
        nodes = [n for roots in manager.roots.values() for n in roots]
        count = 0
        while nodes:
            node = nodes.pop()
            count += 1
            nodes.extend(c for children in node.children.values() for c in children)
        return {"graphs_recorded": count, "rerecordings": int(manager.debug_fail_counter)}
    except (AttributeError, TypeError):  # a torch whose tree manager is laid out otherwise
        return {"graphs_recorded": None, "rerecordings": None}


def evidence(
    counter: StepReplays | None,
    inductor: Mapping[str, int],
    skip_reasons: list[str],
    tree: Mapping[str, int | None],
) -> dict[str, Any]:
    """Backend.cuda_graphs() of a CUDA-graph mode on CUDA: ``used`` when graphs were
    replayed and the last step (steady state) replayed one; the counts it rests on; and
    Inductor's reasons where it skipped."""
    skips = int(inductor.get("cudagraph_skips", 0))
    reasons = sorted(set(skip_reasons))
    if skips and not reasons:
        reasons = ["not recorded: run with TORCH_LOGS=cudagraphs to see it in the log"]
    replays = counter.replays if counter else 0
    steady = bool(counter and counter.last_step_replayed)
    return {
        "requested": True,
        "used": replays > 0 and steady,
        "replays": replays,
        "steps": counter.steps if counter else 0,
        "steps_replayed": counter.steps_replayed if counter else 0,
        "last_step_replayed": steady,
        **tree,
        "skips": skips,
        "why": reasons,
        "evidence": EVIDENCE,
    }
