"""Several pre-labelling "processes" as threads of the test process, for `prelabel_scene(ranks=)`.

Their collective calls meet at a barrier (with a timeout, so that a test whose processes fall
out of step fails instead of hanging), like the gloo calls of `TorchRanks` between processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

TIMEOUT_S = 60.0


class _Meeting:
    def __init__(self, world: int) -> None:
        self.barrier = threading.Barrier(world, timeout=TIMEOUT_S)
        self.slots: list[Any] = [None] * world


class ThreadRanks:
    """Rank ``rank`` of ``world`` threads (the `isegsat.app.prelabel_ranks.Ranks` protocol)."""

    def __init__(self, rank: int, world: int, meeting: _Meeting) -> None:
        self.rank, self.world, self._meeting = rank, world, meeting
        self.sums_shapes: list[tuple[int, ...]] = []

    def _exchange(self, value: Any) -> list[Any]:
        meeting = self._meeting
        meeting.slots[self.rank] = value
        meeting.barrier.wait()
        seen = list(meeting.slots)
        meeting.barrier.wait()
        return seen

    def sum_to_leader(self, values: np.ndarray) -> None:
        arrays = self._exchange(values.copy())
        shapes = {array.shape for array in arrays}
        if len(shapes) != 1:
            raise AssertionError(f"the processes' sums differ in shape: {shapes}")
        self.sums_shapes.append(values.shape)
        if self.rank == 0:
            values[:] = np.sum(arrays, axis=0)
        else:
            values[:] = np.nan  # gloo leaves no defined content on the other processes

    def gather(self, value: Any) -> list[Any]:
        return self._exchange(value)

    def share(self, value: Any) -> Any:
        return self._exchange(value)[0]

    def close(self) -> None:
        pass


def run_as_processes(world: int, job: Callable[[ThreadRanks], Any]) -> list[Any]:
    """``job(ranks)`` in ``world`` threads at once; per rank, its result or the exception it
    raised."""
    meeting = _Meeting(world)
    ranks = [ThreadRanks(rank, world, meeting) for rank in range(world)]

    def outcome(rank: ThreadRanks) -> Any:
        try:
            return job(rank)
        except Exception as exc:  # returned for the test to inspect
            return exc

    with ThreadPoolExecutor(world) as pool:
        return list(pool.map(outcome, ranks))
