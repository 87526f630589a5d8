"""``--shard I/N``: a deterministic slice of a matrix, for CI matrices and job arrays.

Shards are made of whole blocks (a model, mode, batch size, precision and device with
every backend that runs it), so a compiled backend and the eager baseline it is compared
with always run on the same machine: a speedup or a break-even never divides numbers
from two GPUs. Blocks are dealt largest first to the shard with the least expected cost
so far (bench.matrix.cost; ties to the lowest shard), which balances shards without any
measurement, so every machine of an array computes the same split. A shard's cells keep
their matrix order, and each remembers its position in the whole matrix (run.json
``shard.positions``), which is what ``merge`` reassembles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.errors import UsageError
from bench.matrix import cost
from bench.matrix.cells import Cell
from bench.matrix.profiles import Settings

MAX_SHARDS = 10_000


@dataclass(frozen=True)
class Shard:
    index: int  # 1..count
    count: int

    @classmethod
    def parse(cls, text: str, option: str = "--shard") -> Shard:
        match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
        if not match:
            raise UsageError(
                f"{option}: expected I/N, e.g. 2/4 (shard I of N, 1 <= I <= N), got {text!r:.40}"
            )
        index, count = int(match[1]), int(match[2])
        if not 1 <= count <= MAX_SHARDS or not 1 <= index <= count:
            raise UsageError(f"{option}: expected 1 <= I <= N <= {MAX_SHARDS}, got {index}/{count}")
        return cls(index, count)

    def label(self) -> str:
        return f"{self.index}/{self.count}"


def assign(cells: list[Cell], count: int, settings: Settings) -> list[int]:
    """The shard (0-based) of each cell: whole blocks, largest first, to the lightest shard."""
    blocks: dict[tuple, list[int]] = {}
    for position, cell in enumerate(cells):
        blocks.setdefault(cell.block(), []).append(position)
    costs = {key: sum(cost.prior_s(cells[p], settings) for p in ps) for key, ps in blocks.items()}
    order = sorted(blocks, key=lambda key: (-costs[key], blocks[key][0]))
    loads = [0.0] * count
    shard_of = [0] * len(cells)
    for key in order:
        lightest = min(range(count), key=lambda s: (loads[s], s))
        loads[lightest] += costs[key]
        for position in blocks[key]:
            shard_of[position] = lightest
    return shard_of


def select(cells: list[Cell], shard: Shard, settings: Settings) -> tuple[list[Cell], list[int]]:
    """The shard's cells in matrix order, and their positions in the whole matrix."""
    shard_of = assign(cells, shard.count, settings)
    positions = [p for p, s in enumerate(shard_of) if s == shard.index - 1]
    return [cells[p] for p in positions], positions
