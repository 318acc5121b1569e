"""Training state <-> safetensors + JSON, without pickle.

Module weights are stored under ``<prefix>/<name>``. An optimizer's ``state_dict()`` is flattened:
its tensors go to ``<prefix>/<param index>/<key>``, its non-tensor entries and ``param_groups``
go to the JSON. Restoring reverses this exactly, so a resumed run continues bit for bit.

The two files are written as one unit (``ganinverse.models.checkpoint.write_pair``): a kill -9 at
any moment, also between the two files, leaves either this state or the previous one loadable;
:func:`load_state` then loads the previous one (with an ``InterruptedWriteWarning``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from ganinverse.models.checkpoint import load_state_strict, pair_exists, read_pair, write_pair

FORMAT = "ganinverse-pretrain-state"


def flatten_optimizer(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, Tensor], dict]:
    """(tensors, json) that together hold ``opt.state_dict()``."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}/{idx}/{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}/{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def restore_optimizer(
    opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict, prefix: str
) -> None:
    """Inverse of :func:`flatten_optimizer`."""
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "/"):
            idx, name = key[len(prefix) + 1 :].split("/", 1)
            state.setdefault(int(idx), {})[name] = value
    for key, value in meta["scalars"].items():
        idx, name = key.split("/", 1)
        state.setdefault(int(idx), {})[name] = value
    groups = [
        {**g, "betas": tuple(g["betas"])} if "betas" in g else dict(g) for g in meta["param_groups"]
    ]
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_state(
    stem: str | os.PathLike,
    step: int,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    meta: dict,
) -> None:
    """Write ``<stem>.safetensors`` + ``<stem>.json`` as one unit; both record ``step``.

    A kill -9 at any moment loses at most this save: the previous state stays loadable.
    """
    stem = Path(stem)
    tensors: dict[str, Tensor] = {"meta/step": torch.tensor(step, dtype=torch.int64)}
    info = dict(meta, format=FORMAT, step=step, optimizers={})
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}/{key}"] = value.detach().cpu().contiguous()
    for name, opt in optimizers.items():
        opt_tensors, opt_meta = flatten_optimizer(opt, name)
        tensors.update(opt_tensors)
        info["optimizers"][name] = opt_meta
    write_pair(stem, tensors, info)


def has_state(stem: str | os.PathLike) -> bool:
    """True when a training state (complete or half written) exists at ``stem``."""
    return pair_exists(stem)


def _check_info(info: dict, stem: Path) -> dict:
    if info.get("format") != FORMAT:
        raise ValueError(
            f"{stem}.json is not a training checkpoint (format {info.get('format')!r})"
        )
    return info


def read_state_info(stem: str | os.PathLike) -> dict:
    """The JSON of the training state that :func:`load_state` would load (step, config, ...)."""
    info, _, used = read_pair(stem, "training checkpoint", tensors=False)
    return _check_info(info, used)


def load_state(
    stem: str | os.PathLike,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
) -> dict:
    """Load weights and optimizer states saved by :func:`save_state`; return the JSON.

    When the state at ``stem`` is half written (a kill during :func:`save_state`), the previous
    complete one is loaded instead, with an ``InterruptedWriteWarning``; ``info["step"]`` says which.
    """
    info, tensors, stem = read_pair(stem, "training checkpoint")
    _check_info(info, stem)
    # the token already ties the two files; the step check also covers untokened, older states
    if "meta/step" not in tensors or int(tensors["meta/step"]) != info["step"]:
        raise ValueError(
            f"{stem}.safetensors and {stem}.json disagree on the step (interrupted write?)"
        )
    for name, module in modules.items():
        prefix = name + "/"
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        load_state_strict(module, state, f"{stem}.safetensors [{name}]")
    for name, opt in optimizers.items():
        restore_optimizer(opt, tensors, info["optimizers"][name], name)
    return info
