"""The processes that pre-label one scene together: one alone, or several started by torchrun.

``isegsat-prelabel`` run under ``torchrun --nproc-per-node N`` (several GPUs, or CPU processes)
splits the scene's windows across the N processes: window ``i`` (row-major) is run by process
``i % N``. After each row of windows the processes' blended sums are added up on process 0
(``torch.distributed`` over gloo, which carries CPU arrays whatever device the model is on), which
alone thresholds, writes and keeps the resumable state, so the mask is the one a single process
writes, and a run started with N processes resumes with any other number.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Ranks(Protocol):
    """This process's place among the ``world`` processes of one run (``rank`` in [0, world);
    rank 0 leads). Every method is collective: each process calls it in the same order."""

    rank: int
    world: int

    def sum_to_leader(self, values: np.ndarray) -> None:
        """Add up the same-shaped float32 ``values`` of every process into the leader's array,
        in place; the other processes' arrays hold no defined content afterwards."""

    def gather(self, value: Any) -> list[Any]:
        """Every process's picklable ``value``, in rank order, on every process."""

    def share(self, value: Any) -> Any:
        """The leader's picklable ``value``, on every process."""

    def close(self) -> None:
        """Leave the run (the last call)."""


@dataclass(frozen=True)
class Alone:
    """A run of one process (the app, and the command without torchrun)."""

    rank: int = 0
    world: int = 1

    def sum_to_leader(self, values: np.ndarray) -> None:
        pass

    def gather(self, value: Any) -> list[Any]:
        return [value]

    def share(self, value: Any) -> Any:
        return value

    def close(self) -> None:
        pass


ALONE = Alone()


class TorchRanks:
    """The processes of a ``torch.distributed`` process group (gloo), as torchrun starts them."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self._dist = dist
        self.rank: int = dist.get_rank()
        self.world: int = dist.get_world_size()

    def sum_to_leader(self, values: np.ndarray) -> None:
        import torch

        self._dist.reduce(torch.from_numpy(values), dst=0, op=self._dist.ReduceOp.SUM)

    def gather(self, value: Any) -> list[Any]:
        gathered: list[Any] = [None] * self.world
        self._dist.all_gather_object(gathered, value)
        return gathered

    def share(self, value: Any) -> Any:
        box = [value]
        self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        self._dist.destroy_process_group()


class AnotherProcessFailed(Exception):
    """A step failed in another process of the run; the message quotes that process's error."""


def together(
    ranks: Ranks, action: Callable[[], Any], errors: tuple[type[BaseException], ...]
) -> Any:
    """``action()``'s result, once every process has run its own ``action`` of the same step.

    When ``action`` raises one of ``errors`` in some process, that process raises it and every
    other one ``AnotherProcessFailed`` quoting it, so that none waits for the others at a later
    step. Alone, it is ``action()``."""
    try:
        result, error = action(), None
    except errors as exc:
        result, error = None, exc
    messages = ranks.gather(None if error is None else f"process {ranks.rank}: {error}")
    if error is not None:
        raise error
    failed = [message for message in messages if message]
    if failed:
        raise AnotherProcessFailed(f"another process of this run failed ({failed[0]})")
    return result


def launched_by_torchrun() -> bool:
    """Whether this process is one of several that torchrun started (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join_torchrun() -> TorchRanks:
    """Join the process group torchrun set up through the environment (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``) over gloo."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return TorchRanks()


def local_device(device: str | None, ranks: Ranks) -> str | None:
    """The device this process's model runs on: with several processes on CUDA, the GPU of the
    process's ``LOCAL_RANK`` (torchrun sets it), so each process has its own."""
    import torch

    alone = ranks.world == 1
    wants_cuda = device == "cuda" or (device is None and torch.cuda.is_available())
    if alone or not wants_cuda:
        return device
    return f"cuda:{int(os.environ.get('LOCAL_RANK', ranks.rank))}"


__all__ = [
    "ALONE",
    "AnotherProcessFailed",
    "Alone",
    "Ranks",
    "TorchRanks",
    "join_torchrun",
    "launched_by_torchrun",
    "local_device",
    "together",
]
