"""Choice of the torch device models run on."""

from __future__ import annotations

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``device`` if given (``'cpu'``, ``'cuda'``, ``'cuda:1'``, a
    ``torch.device``), else CUDA when available, else CPU.

    Raises ``ValueError`` for an unknown device string and ``RuntimeError`` when CUDA is asked
    for but not available.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"not a torch device: {device!r}") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available here")
    if chosen.type == "cuda" and chosen.index is not None:
        count = torch.cuda.device_count()
        if chosen.index >= count:
            raise RuntimeError(f"device {device!r} requested but only {count} CUDA device(s)")
    return chosen
