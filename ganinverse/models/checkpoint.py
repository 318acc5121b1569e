"""Model checkpoints: ``<stem>.safetensors`` (weights) + ``<stem>.json`` (how to rebuild them).

The JSON names the architecture and its constructor kwargs, so loading builds the module first and
then loads the weights strictly. Nothing is ever unpickled. An optional exponential moving average
(EMA) of the weights is stored in the same file under the prefix ``ema/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..io import atomic_write, atomic_write_json, read_json
from .classifier import ClassifierA, ClassifierB
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPGenerator
from .vae import VAEDecoder, VAEEncoder

FORMAT = "ganinverse-model"
EMA_PREFIX = "ema/"
#: architecture name -> (class, kind); the JSON's "architecture" field indexes this table.
ARCHITECTURES: dict[str, tuple[type[nn.Module], str]] = {
    "DCGANGenerator": (DCGANGenerator, "generator"),
    "MLPGenerator": (MLPGenerator, "generator"),
    "VAEDecoder": (VAEDecoder, "generator"),
    "VAEEncoder": (VAEEncoder, "encoder"),
    "DCGANDiscriminator": (DCGANDiscriminator, "discriminator"),
    "ClassifierA": (ClassifierA, "classifier"),
    "ClassifierB": (ClassifierB, "classifier"),
}


def checkpoint_stem(path: str | os.PathLike, default_name: str = "generator") -> Path:
    """``dir`` -> ``dir/<default_name>``; ``x.safetensors`` / ``x.json`` -> ``x``; else as is."""
    path = Path(path)
    if path.is_dir():
        return path / default_name
    if path.suffix in (".safetensors", ".json"):
        return path.with_suffix("")
    return path


def _contiguous(state: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def save_model(
    module: nn.Module,
    path_stem: str | os.PathLike,
    config: dict | None = None,
    *,
    ema: nn.Module | None = None,
) -> Path:
    """Write ``<stem>.safetensors`` and ``<stem>.json`` atomically; return the stem.

    ``config`` (loss, dataset, steps, seed, cost, quality, ...) is stored next to the fields
    every checkpoint has: architecture, kwargs, kind, latent_dim, image_shape, value_range.
    """
    name = type(module).__name__
    if name not in ARCHITECTURES or not hasattr(module, "config"):
        raise TypeError(f"module must be one of {sorted(ARCHITECTURES)}, got {name}")
    stem = checkpoint_stem(path_stem)
    tensors = _contiguous(module.state_dict())
    if ema is not None:
        if type(ema) is not type(module) or ema.config() != module.config():
            raise ValueError("ema must be a module of the same architecture as module")
        tensors.update({EMA_PREFIX + k: v for k, v in _contiguous(ema.state_dict()).items()})
    meta = dict(config or {})
    meta.update(
        format=FORMAT,
        architecture=name,
        kind=ARCHITECTURES[name][1],
        kwargs=module.config(),
        image_shape=list(module.image_shape),
        has_ema=ema is not None,
    )
    if hasattr(module, "latent_dim"):
        meta["latent_dim"] = module.latent_dim
    meta.setdefault("value_range", [0.0, 1.0] if meta["kind"] == "classifier" else [-1.0, 1.0])
    atomic_write(stem.with_name(stem.name + ".safetensors"), lambda p: save_file(tensors, str(p)))
    atomic_write_json(stem.with_name(stem.name + ".json"), meta)
    return stem


def read_config(path_stem: str | os.PathLike) -> dict:
    """The JSON config of a checkpoint (FileNotFoundError / ValueError when missing / corrupt)."""
    stem = checkpoint_stem(path_stem)
    meta = read_json(stem.with_name(stem.name + ".json"), "checkpoint config")
    if meta.get("format") != FORMAT or meta.get("architecture") not in ARCHITECTURES:
        raise ValueError(
            f"{stem}.json is not a ganinverse model config (format={meta.get('format')!r}, "
            f"architecture={meta.get('architecture')!r}; known: {sorted(ARCHITECTURES)})"
        )
    return meta


def read_tensors(path: str | os.PathLike) -> dict[str, Tensor]:
    """All tensors of a safetensors file; corrupt files raise ValueError naming the path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint weights not found: {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise ValueError(
            f"checkpoint weights {path} are corrupt or not safetensors ({err})"
        ) from err


def load_state_strict(module: nn.Module, state: dict[str, Tensor], where: str) -> None:
    """``module.load_state_dict(state)`` with a readable ValueError on any key/shape mismatch."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}")
        if wrong:
            parts.append(f"shape mismatch {wrong[:5]}")
        raise ValueError(
            f"weights in {where} do not fit {type(module).__name__}({module.config()}): "
            + "; ".join(parts)
        )
    module.load_state_dict(state, strict=True)


def load_model(
    path_stem: str | os.PathLike,
    *,
    ema: bool = False,
    device: str | torch.device = "cpu",
    kind: str | None = None,
) -> nn.Module:
    """Build the architecture named in ``<stem>.json`` and load ``<stem>.safetensors`` strictly.

    ``ema=True`` loads the EMA weights when the checkpoint has them. ``kind`` ("generator",
    "discriminator", "encoder", "classifier") rejects checkpoints of another kind. Returns eval mode.
    """
    stem = checkpoint_stem(path_stem)
    meta = read_config(stem)
    cls, found_kind = ARCHITECTURES[meta["architecture"]]
    if kind is not None and found_kind != kind:
        raise ValueError(f"{stem} holds a {found_kind}, expected a {kind}")
    kwargs = dict(meta.get("kwargs", {}))
    if "image_shape" in kwargs:
        kwargs["image_shape"] = tuple(kwargs["image_shape"])
    if "hidden" in kwargs:
        kwargs["hidden"] = tuple(kwargs["hidden"])
    try:
        module = cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{stem}.json has invalid kwargs for {cls.__name__}: {err}") from err
    tensors = read_tensors(stem.with_name(stem.name + ".safetensors"))
    use_ema = ema and meta.get("has_ema", False)
    if use_ema:
        state = {k[len(EMA_PREFIX) :]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
    else:
        state = {k: v for k, v in tensors.items() if not k.startswith(EMA_PREFIX)}
    load_state_strict(module, state, f"{stem}.safetensors")
    module.checkpoint_config = meta
    return module.to(torch.device(device)).eval()
