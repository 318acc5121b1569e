"""Bundled weights: ``ganinverse/weights/<name>/{generator,discriminator,classifier}.*``."""

from __future__ import annotations

import os
from pathlib import Path

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


def resolve(name_or_path: str | os.PathLike, kind: str) -> Path:
    """A bundled name -> its checkpoint stem; an existing path -> itself; else FileNotFoundError."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path must be a str or path, got {type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    if os.sep not in text and "/" not in text and text in _names(kind):
        return WEIGHTS_DIR / text / kind
    path = Path(text)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    if path.is_dir():
        stem = path / kind
    if stem.with_name(stem.name + ".json").is_file():
        return stem
    raise FileNotFoundError(
        f"no {kind} named {text!r}: not a bundled name ({', '.join(_names(kind)) or 'none'}) "
        f"and no checkpoint {stem}.json / .safetensors"
    )
