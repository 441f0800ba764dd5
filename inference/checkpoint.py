"""Reading RITM's released checkpoints and reading/writing the project's own.

File layout (both): a ``torch.save`` dict
``{'state_dict': {name: tensor}, 'config': {'class': 'isegm.model.is_hrnet_model.HRNetModel',
'params': {name: {'type': 'builtin' | 'class', 'value': ..., 'specified': bool}}}}``
— RITM's serialisation, so RITM's own loader rebuilds our models — and, in ours only,
``'isegsat': metadata`` (architecture name, training data, date, metrics, ...: plain types).

Files are read with ``torch.load(weights_only=True)``: no code from a checkpoint ever runs.
Unlike RITM (``strict=False``), a state dict whose keys or shapes differ from the architecture in
its config is refused with a ``CheckpointError`` naming them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from isegsat.inference.atomic_file import write_atomically
from isegsat.inference.device import pick_device
from isegsat.inference.model import (
    BATCHNORM_CLASS_NAME,
    RITM_CLASS_NAME,
    RITM_DEFAULTS,
    HRNetModel,
    architecture_name,
)

METADATA_KEY = "isegsat"
_SHOWN = 5  # key names quoted per kind of mismatch


class CheckpointError(ValueError):
    """A file is not a usable HRNetModel checkpoint; the message says why."""


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[HRNetModel, dict[str, Any]]:
    """Model (train mode, on CPU) and metadata from a RITM or isegsat checkpoint.

    Metadata is the checkpoint's ``'isegsat'`` dict ({} for RITM files), with ``'architecture'``
    ("hrnet18", "hrnet18s", "hrnet32" or None) filled in when absent.
    """
    checkpoint = _read(Path(path))
    model = model_from_config(checkpoint["config"], source=path)
    load_state_dict_strict(model, _without_data_parallel_prefix(checkpoint["state_dict"]), path)
    metadata = checkpoint.get(METADATA_KEY) or {}
    if not isinstance(metadata, Mapping):
        raise CheckpointError(f"{path}: '{METADATA_KEY}' metadata is not a dict")
    metadata = dict(metadata)
    metadata.setdefault("architecture", architecture_name(model.config_params))
    return model, metadata


def load_model(
    path: str | os.PathLike[str], device: str | torch.device | None = None
) -> HRNetModel:
    """The checkpoint's model in eval mode on ``pick_device(device)``."""
    target = pick_device(device)  # fail on an unavailable device before reading the file
    model, _ = load_checkpoint(path)
    return model.to(target).eval()


def save_checkpoint(
    model: HRNetModel, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model`` to ``path`` atomically (temporary file in the same folder, then rename).

    ``metadata`` (plain types only: dict/list/tuple/str/int/float/bool/None) is stored under
    ``'isegsat'`` together with ``architecture`` and ``saved_at`` (UTC ISO time) unless given.
    Refuses a model fused for inference (its state dict no longer matches the architecture).
    """
    if not isinstance(model, HRNetModel):
        raise TypeError(f"expected an HRNetModel, got {type(model).__name__}")
    if getattr(model, "is_fused", False):
        raise ValueError("cannot save a model fused for inference; save the original model")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist")
    info = {
        "architecture": architecture_name(model.config_params),
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **(metadata or {}),
    }
    _check_plain(info, METADATA_KEY)
    checkpoint = {
        "state_dict": {name: t.detach().cpu() for name, t in model.state_dict().items()},
        "config": ritm_config(model),
        METADATA_KEY: info,
    }
    _write_atomically(checkpoint, path)
    return path


def ritm_config(model: HRNetModel) -> dict[str, Any]:
    """``model``'s constructor parameters in RITM's ``serialize`` layout."""
    params = {}
    for name, value in model.config_params.items():
        kind = "builtin"
        if name == "norm_layer":
            kind, value = "class", BATCHNORM_CLASS_NAME
        elif name == "norm_mean_std":
            value = tuple([float(v) for v in values] for values in value)
        params[name] = {"type": kind, "value": value, "specified": name in model.specified_params}
    return {"class": RITM_CLASS_NAME, "params": params}


def model_from_config(config: Any, source: Any = "checkpoint") -> HRNetModel:
    """A freshly initialised ``HRNetModel`` from a RITM ``config`` dict.

    Parameters RITM marked as not specified are passed too (with their recorded value);
    parameter names HRNetModel does not know are ignored, as they cannot change the layout
    without the state-dict check noticing.
    """
    if not isinstance(config, Mapping) or not isinstance(config.get("params"), Mapping):
        raise CheckpointError(f"{source}: 'config' is not a RITM model config")
    class_name = str(config.get("class", ""))
    if class_name.rsplit(".", 1)[-1] != "HRNetModel":
        raise CheckpointError(
            f"{source}: architecture {class_name!r} is not supported (only {RITM_CLASS_NAME})"
        )
    kwargs = {}
    for name, entry in config["params"].items():
        if name not in RITM_DEFAULTS:
            continue
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise CheckpointError(f"{source}: config parameter {name!r} has no 'value'")
        kwargs[name] = entry["value"]
    specified = {name for name, e in config["params"].items() if _is_specified(e)}
    try:
        model = HRNetModel(**kwargs)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: cannot build HRNetModel from config: {error}") from error
    model.specified_params = frozenset(specified & set(RITM_DEFAULTS))
    return model


def load_state_dict_strict(model: HRNetModel, state_dict: Any, source: Any = "checkpoint") -> None:
    """Copy ``state_dict`` into ``model`` after checking names and shapes match exactly."""
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"{source}: 'state_dict' is not a dict")
    expected = model.state_dict()
    not_tensors = sorted(k for k, v in state_dict.items() if not isinstance(v, torch.Tensor))
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    misshaped = sorted(
        f"{k} {tuple(state_dict[k].shape)} != {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if k not in not_tensors and state_dict[k].shape != expected[k].shape
    )
    problems = [
        _describe(kind, names)
        for kind, names in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("mis-shaped (checkpoint != model)", misshaped),
            ("not tensors", not_tensors),
        )
        if names
    ]
    if problems:
        arch = architecture_name(model.config_params) or "custom"
        raise CheckpointError(
            f"{source}: state dict does not match the {arch} HRNetModel of its config: "
            + "; ".join(problems)
        )
    model.load_state_dict(state_dict, strict=True)


def _without_data_parallel_prefix(state_dict: Any) -> Any:
    """Drop the ``module.`` prefix ``nn.DataParallel`` puts on every key, if all keys have it."""
    prefix = "module."
    if (
        isinstance(state_dict, Mapping)
        and state_dict
        and all(isinstance(k, str) and k.startswith(prefix) for k in state_dict)
    ):
        return {k[len(prefix) :]: v for k, v in state_dict.items()}
    return state_dict


def _describe(kind: str, names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")
    return f"{len(names)} {kind} key(s): {shown}"


def _is_specified(entry: Any) -> bool:
    return isinstance(entry, Mapping) and bool(entry.get("specified", False))


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign or damaged files
        raise CheckpointError(
            f"{path}: not a readable torch checkpoint ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})"
        ) from error
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not a checkpoint dict (found {type(checkpoint).__name__})")
    if "state_dict" not in checkpoint:
        bare = checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values())
        hint = " (it looks like a bare state dict without a RITM config)" if bare else ""
        raise CheckpointError(f"{path}: not a checkpoint: no 'state_dict' entry{hint}")
    if "config" not in checkpoint:
        raise CheckpointError(f"{path}: no 'config' entry saying which architecture to build")
    return checkpoint


def _check_plain(value: Any, where: str) -> None:
    """Raise ``TypeError`` unless ``value`` is made of types ``weights_only`` loading accepts."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} must be str or int")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(f"{where}: {type(value).__name__} is not a plain type (str/number/list/dict)")


def _write_atomically(obj: Any, path: Path) -> None:
    """``torch.save`` ``obj`` to ``path`` through a temporary sibling (see ``write_atomically``);
    an ``OSError`` (disk full, read-only folder) is re-raised with its errno and ``path`` named."""
    try:
        write_atomically(path, lambda handle: torch.save(obj, handle))
    except OSError as error:
        reason = error.strerror or str(error)
        raise OSError(error.errno, f"cannot write checkpoint {path}: {reason}") from error
