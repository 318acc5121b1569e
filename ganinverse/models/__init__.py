"""Networks (DCGAN / MLP / VAE generators, discriminators, classifiers), checkpoints, weights."""

from __future__ import annotations

import os

import torch
from torch import nn

from ..device import resolve_device
from ..exceptions import user_stacklevel
from .checkpoint import fingerprint, load_model, read_config, save_model
from .classifier import (
    ClassifierA,
    ClassifierB,
    accuracy,
    build_classifier,
    correct_predictions,
    train_classifier,
)
from .cost import generator_cost
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPGenerator
from .registry import check_loaded, list_classifiers, list_generators, resolve
from .vae import VAEDecoder, VAEEncoder

#: The images each kind of network works on (``value_range`` of its checkpoint): classifiers
#: take [0, 1] images (the attacks' scale), everything else the library's [-1, 1].
VALUE_RANGES = {"classifier": [0.0, 1.0]}


def _load(name_or_path: str | os.PathLike, kind: str, device: str | torch.device, ema: bool):
    dev = resolve_device(device)  # a device this machine lacks fails here, before any reading
    stem = resolve(name_or_path, kind)
    module = load_model(stem, ema=ema, kind=kind).float()
    declared = (getattr(module, "checkpoint_config", None) or {}).get("value_range")
    expected = VALUE_RANGES.get(kind, [-1.0, 1.0])
    if declared is not None and [float(v) for v in declared] != expected:
        raise ValueError(
            f"{kind} {stem} declares value_range {list(declared)}, but the library's {kind}s "
            f"work on images in {expected}: rescale its images to {expected} and train or save "
            "it again (the library does not convert)"
        )
    for p in module.parameters():
        p.requires_grad_(False)
    return check_loaded(module.to(dev).eval(), dev, f"{kind} {stem}")


def model_fingerprint(name_or_path: str | os.PathLike, kind: str = "generator") -> str:
    """The identity of a checkpoint's weights (``checkpoint.fingerprint``: SHA-256 of the
    weights file, 16 hex digits) for a bundled name or a path, as ``load_generator`` /
    ``load_discriminator`` / ``load_classifier`` (``kind``) resolve it."""
    return fingerprint(resolve(name_or_path, kind))


def load_generator(
    name_or_path: str | os.PathLike, device: str | torch.device = "auto", ema: bool = True
) -> nn.Module:
    """A pretrained generator in eval mode with frozen float32 weights on ``device``.

    ``name_or_path``: a bundled name (see ``list_generators()``), a checkpoint directory, or a
    ``<stem>`` / ``<stem>.safetensors`` / ``<stem>.json`` path. ``ema`` picks the EMA weights
    when the checkpoint has them. ``G.checkpoint_config`` holds the JSON (quality, cost, ...).
    """
    G = _load(name_or_path, "generator", device, ema)
    _warn_untrained(G, name_or_path, "generator")  # (pretrain's training_status)
    return G


def recorded_training_status(model: nn.Module | None) -> str | None:
    """The ``training_status`` its checkpoint's JSON records (``"ok"`` or why its training
    learned nothing, as ganinverse-pretrain / train-classifier write it); None when not
    recorded or no model. Commands copy it into their summaries beside their numbers."""
    return (getattr(model, "checkpoint_config", None) or {}).get("training_status")


def _warn_untrained(model: nn.Module, name: str | os.PathLike, kind: str) -> None:
    """A ConvergenceWarning when the checkpoint's JSON says its training learned nothing
    (``training_status`` other than "ok", as ganinverse-pretrain records it)."""
    import warnings

    from ..exceptions import ConvergenceWarning

    status = recorded_training_status(model)
    if status not in (None, "ok"):
        warnings.warn(
            f"the {kind} {str(name)!r} was recorded as having learned nothing by its training "
            f"({status}); results with it measure no trained model: retrain it",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )


def load_discriminator(
    name_or_path: str | os.PathLike, device: str | torch.device = "auto"
) -> nn.Module:
    """A pretrained discriminator / critic (logits (B,)) in eval mode with frozen weights."""
    return _load(name_or_path, "discriminator", device, False)


def load_classifier(
    name_or_path: str | os.PathLike, device: str | torch.device = "auto"
) -> nn.Module:
    """A pretrained classifier (inputs in [0, 1], logits (B, classes)) in eval mode, frozen."""
    return _load(name_or_path, "classifier", device, False)  # (evaluate_defense judges it)


__all__ = [
    "ClassifierA",
    "ClassifierB",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPGenerator",
    "VAEDecoder",
    "VAEEncoder",
    "accuracy",
    "build_classifier",
    "correct_predictions",
    "check_loaded",
    "generator_cost",
    "list_classifiers",
    "list_generators",
    "load_classifier",
    "load_discriminator",
    "load_generator",
    "model_fingerprint",
    "recorded_training_status",
    "load_model",
    "read_config",
    "save_model",
    "train_classifier",
]
