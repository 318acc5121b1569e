"""Starting a training run from a saved generator and its discriminator (or a VAE's encoder):
fine-tuning, ``TrainConfig.init`` / ``--init``.

A run with ``init`` builds its networks as any run does, then loads the generator's raw weights
into G, its EMA weights (the raw ones where it has none) into the EMA, and the companion
networks saved next to it (``discriminator.*``; a VAE's ``encoder.*``) into D (E). The
optimisers start fresh and the step count starts at 0 (``--steps`` counts this run's steps);
the checkpoint and generator.json record where the weights came from (:func:`init_record`).
Every network must be built with the sizes the saved one has: a ValueError names the settings
to pass otherwise. A GAN is never fine-tuned against a fresh discriminator (it would undo the
generator while D learns what G already fooled): a saved generator without one is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor, nn

from ganinverse.models.checkpoint import fingerprint, load_model, pair_exists, read_config
from ganinverse.models.registry import resolve

#: The setting and flag that set each constructor argument of the networks (the keys of their
#: ``config()``), as the saved value would be passed: ``ngf=32 (--ngf 32)``.
SETTINGS = {
    "latent_dim": lambda v: f"latent_dim={v} (--latent-dim {v})",
    "ngf": lambda v: f"ngf={v} (--ngf {v})",
    "ndf": lambda v: f"ndf={v} (--ndf {v})",
    "norm": lambda v: f"d_norm={v!r} (--d-norm {v})",
    "hidden": lambda v: f"hidden={list(v)} (--hidden {' '.join(map(str, v))})",
    "image_shape": lambda v: f"images of shape {tuple(v)} (--dataset, --image-size {v[-1]})",
}


def check_init(init: object) -> None:
    """TypeError / ValueError for an ``init`` that is no name or path (None: no init)."""
    if init is None:
        return
    if not isinstance(init, (str, os.PathLike)):
        raise TypeError(
            f"init must be a generator's bundled name (e.g. 'celeba64-lsgan') or a pretrain "
            f"out folder, or None; got {type(init).__name__} {init!r}"
        )
    if not os.fspath(init).strip():
        raise ValueError(
            f"init is empty ({os.fspath(init)!r}): pass a bundled generator's name or a "
            "pretrain out folder, or leave it out to train from scratch"
        )


def init_stems(init: str | os.PathLike, companions: tuple[str, ...]) -> dict[str, Path]:
    """The checkpoint stems ``init`` names: ``{"generator": ..., <companion>: ...}``, each
    checked to exist (FileNotFoundError naming the missing file and the fix). Reads no weights:
    called before the training images are read."""
    stem = resolve(init, "generator")
    stems = {"generator": stem}
    for name in companions:
        other = stem.parent / name
        if not pair_exists(other):
            raise FileNotFoundError(
                f"init {os.fspath(init)!r} has no {name} next to its generator ({other}.json "
                f"and .safetensors): fine-tuning starts from a generator and its {name}, as "
                f"ganinverse-pretrain saves them; a fresh {name} would undo the generator. "
                f"Pass a folder that holds both, or train from scratch (no --init)"
            )
        stems[name] = other
    return stems


def _mismatch(init: str, name: str, saved: nn.Module, own: nn.Module) -> str | None:
    """Why ``saved`` cannot start ``own`` (None when it can)."""
    if type(saved) is not type(own):
        return (
            f"init {init!r}: its {name} is a {type(saved).__name__}, this run builds a "
            f"{type(own).__name__}: pass the arch and loss (--arch, --loss) it was trained with"
        )
    a, b = saved.config(), own.config()
    keys = [k for k in a if a.get(k) != b.get(k)]
    if not keys:
        return None
    was = ", ".join(f"{k}={a[k]}" for k in keys)
    now = ", ".join(f"{k}={b.get(k)}" for k in keys)
    settings = ", ".join(SETTINGS[k](a[k]) if k in SETTINGS else f"{k}={a[k]!r}" for k in keys)
    return (
        f"init {init!r}: its {name} was built with {was}, this run builds {now}: pass {settings} "
        "to match the saved network (fine-tuning keeps its sizes)"
    )


def load_init(
    init: str | os.PathLike, modules: dict[str, nn.Module], ema: nn.Module
) -> dict[str, object]:
    """Load ``init`` into the run's networks; return its :func:`init_record`.

    ``modules``: ``{"generator": G, <companion>: module}`` as built by the run (the companions'
    names are those their checkpoints are saved under: "discriminator", "encoder"). Every saved
    network is read and checked first; a mismatch (architecture, sizes) is a ValueError naming
    the settings and nothing is loaded into any network."""
    stems = init_stems(init, tuple(k for k in modules if k != "generator"))
    text = os.fspath(init)
    states: dict[str, dict[str, Tensor]] = {}
    for name, own in modules.items():
        saved = load_model(stems[name], kind=name)
        why = _mismatch(text, name, saved, own)
        if why is not None:
            raise ValueError(why)
        states[name] = saved.state_dict()
    states["ema"] = load_model(stems["generator"], ema=True, kind="generator").state_dict()
    for name, own in modules.items():
        own.load_state_dict(states[name])
    ema.load_state_dict(states["ema"])
    return init_record(text, stems["generator"])


def init_record(init: str, stem: Path) -> dict[str, object]:
    """What a run records of its start (checkpoint and generator.json, ``init``): the name or
    path given, the SHA-256 fingerprint of the generator's weights file and the steps it was
    trained for."""
    return {"from": init, "fingerprint": fingerprint(stem), "steps": read_config(stem).get("steps")}
