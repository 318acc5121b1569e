"""Bundled weights: ``ganinverse/weights/<name>/{generator,discriminator,classifier}.*``."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .._validation import closest
from ..exceptions import user_stacklevel

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def _names(kind: str) -> list[str]:
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.parent.name for p in WEIGHTS_DIR.glob(f"*/{kind}.json"))


def list_generators() -> list[str]:
    """Names of the bundled generators, e.g. ``["digits", "mnist-dcgan", ...]``."""
    return _names("generator")


def list_classifiers() -> list[str]:
    """Names of the bundled classifiers (one per dataset, used for sample quality)."""
    return _names("classifier")


#: (kind, name, folder) already warned by ``resolve`` (a command resolves a name several times).
_WARNED_SHADOWED: set[tuple[str, str, str]] = set()


def resolve(name_or_path: str | os.PathLike, kind: str) -> Path:
    """A bundled name -> its checkpoint stem; an existing path -> itself; else FileNotFoundError."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path must be a str or path, got {type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    if os.sep not in text and "/" not in text and text in _names(kind):
        here = [p for p in (text, f"{text}.json", f"{text}.safetensors") if os.path.lexists(p)]
        if here and (kind, text, os.getcwd()) not in _WARNED_SHADOWED:  # (once a run)
            _WARNED_SHADOWED.add((kind, text, os.getcwd()))  # (./digits is not the one loaded)
            warnings.warn(
                f"{kind} {text!r}: the bundled {kind} is loaded, but a path "
                f"{os.path.join('.', here[0])} also exists here; to load that one instead, "
                f"pass ./{text}",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        return WEIGHTS_DIR / text / kind
    path = Path(text)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    if path.is_dir():
        stem = path / kind
    card, weights = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".safetensors")
    if card.is_file():
        return stem
    if weights.is_file():  # (half a checkpoint: say which half is missing)
        raise FileNotFoundError(
            f"{kind} {text!r}: {weights} exists but its card {card} does not (a checkpoint is "
            "the pair weights + JSON card); copy the .json next to it"
        )
    raise FileNotFoundError(
        f"no {kind} named {text!r}: not a bundled name ({', '.join(_names(kind)) or 'none'}) "
        f"and no checkpoint {stem}.json / .safetensors" + closest(text, _names(kind))
    )


def check_loaded(module: nn.Module, device: torch.device, what: str) -> nn.Module:
    """Raise unless every floating parameter / buffer of ``module`` is float32 on ``device``.

    The package computes in float32 (images, latents, networks); a float64 or float16 network
    would fail deep inside a layer on the first float32 input, or run on the wrong device.
    """
    for name, t in (*module.named_parameters(), *module.named_buffers()):
        if not t.is_floating_point():
            continue  # e.g. BatchNorm's num_batches_tracked counter
        if t.dtype != torch.float32:
            raise TypeError(
                f"{what}: {name} is {t.dtype}, expected float32 (the checkpoint's weights are "
                "converted on load; a network built elsewhere needs .float())"
            )
        same = t.device.type == device.type and (
            device.index is None or t.device.index == device.index
        )
        if not same:
            raise ValueError(f"{what}: {name} is on {t.device}, expected {device}")
    return module
