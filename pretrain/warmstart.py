"""Starting a training run from a saved generator and its discriminator (or a VAE's encoder):
fine-tuning, ``TrainConfig.init`` / ``--init``.

A run with ``init`` builds its networks as any run does, then loads the generator's raw weights
into G, its EMA weights (the raw ones where it has none) into the EMA, and the companion
network saved next to it (``discriminator.*``; a VAE's ``encoder.*``) into D (E). The
optimisers start fresh and the step count starts at 0 (``--steps`` counts this run's steps);
the checkpoint and generator.json record where the weights came from (:func:`init_record`).

Checked before the training images are read (:func:`preflight`): the files exist and come from
one save of one run, and every network is built with the sizes the saved one has (a ValueError
names the settings to pass); the image shape is checked once the images are read. A GAN is
never fine-tuned against a fresh discriminator (it would undo the generator while D learns
what G already fooled): a saved generator without one is refused.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

from torch import Tensor, nn

from ganinverse.models.checkpoint import (
    ARCHITECTURES,
    fingerprint,
    load_model,
    pair_exists,
    read_config,
)
from ganinverse.models.registry import list_generators, resolve

#: The setting and flag that set each constructor argument of the networks (the keys of their
#: ``config()``), as the saved value would be passed: ``ngf=32 (--ngf 32)``.
SETTINGS = {
    "latent_dim": lambda v: f"latent_dim={v} (--latent-dim {v})",
    "ngf": lambda v: f"ngf={v} (--ngf {v})",
    "ndf": lambda v: f"ndf={v} (--ndf {v})",
    "norm": lambda v: f"d_norm={v!r} (--d-norm {v})",
    "hidden": lambda v: f"hidden={list(v)} (--hidden {' '.join(map(str, v))})",
    "image_shape": lambda v: (
        f"images of shape {tuple(v)} ({v[0]}-channel images from --dataset, --image-size {v[-1]})"
    ),
}

#: The fields a generator's JSON and its companion's share when one save wrote both (``train``:
#: every setting of the run, so two runs that differ in one, e.g. the lr, are told apart).
SAME_SAVE = ("steps", "seed", "loss", "dataset", "train")

#: How to say the fix of a setting a loss refuses: ``refusal(key, saved value)`` -> a sentence,
#: or None where the run's loss takes the saved value.
Refusal = Callable[[str, object], "str | None"]


def _fix() -> str:
    return "pass a bundled generator's name or a ganinverse-pretrain --out folder"


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
            f"init is empty ({os.fspath(init)!r}): {_fix()}, or leave it out to train from scratch"
        )


def init_text(init: str | os.PathLike) -> str:
    """``init`` as a run records it: a bundled name as it is, an existing path made absolute (a
    resume from another folder finds the same files; the record says where they were), anything
    else as typed (refused later, by that name)."""
    text = os.fspath(init)
    if "/" not in text and os.sep not in text and text in list_generators():
        return text
    stem = text[: -len(".json")] if text.endswith(".json") else text
    stem = stem[: -len(".safetensors")] if stem.endswith(".safetensors") else stem
    if any(os.path.lexists(p) for p in (text, f"{stem}.json", f"{stem}.safetensors")):
        if Path(stem).name == "generator" and not Path(stem).is_dir():  # (its files: the run)
            return os.path.abspath(Path(stem).parent)
        return os.path.abspath(text)
    return text  # (no such file: the refusal names it as typed, with the near bundled names)


def init_stems(
    init: str, companions: tuple[str, ...], *, loss: str | None = None
) -> dict[str, Path]:
    """The checkpoint stems ``init`` names: ``{"generator": ..., <companion>: ...}``, each
    checked to exist and to come from the same save (FileNotFoundError / ValueError led by
    "init" and naming the fix). ``loss``: the run's, named where the saved companion is of
    another kind (a VAE's encoder for a GAN run). Reads no weights."""
    try:
        stem = resolve(init, "generator")
        card = read_config(stem)
    except (FileNotFoundError, ValueError) as err:
        raise type(err)(f"init {init!r}: {err}; {_fix()}") from err
    kind = ARCHITECTURES[card["architecture"]][1]  # (read_config checked the name)
    if kind != "generator":
        raise ValueError(
            f"init {init!r}: {stem} holds a {kind}, not a generator; {_fix()} (or its "
            "generator.json)"
        )
    stems = {"generator": stem}
    for name in companions:
        other = stem.parent / name
        if not pair_exists(other):
            saved_loss = card.get("loss")
            kind = (
                f" (it was trained with loss={saved_loss!r}: fine-tune it with --loss "
                f"{saved_loss}, not {loss})"
                if saved_loss is not None and loss is not None and saved_loss != loss
                else ""
            )
            raise FileNotFoundError(
                f"init {init!r} has no {name} next to its generator ({other}.json and "
                f".safetensors){kind}: fine-tuning starts from a generator and its {name}, as "
                f"ganinverse-pretrain saves them; a fresh {name} would undo the generator. "
                f"Pass a folder that holds both, or train from scratch (no --init)"
            )
        try:
            other_card = read_config(other)
        except (FileNotFoundError, ValueError) as err:
            raise type(err)(f"init {init!r}: {err}; {_fix()}") from err
        apart = [k for k in SAME_SAVE if k in card and k in other_card and card[k] != other_card[k]]
        if apart:
            said = ", ".join(_apart(k, card[k], other_card[k]) for k in apart)
            raise ValueError(
                f"init {init!r}: its generator and {name} come from different saves ({said}): "
                f"fine-tuning needs the {name} trained with that generator; pass the folder "
                "of one ganinverse-pretrain run"
            )
        stems[name] = other
    return stems


def _apart(key: str, a: object, b: object) -> str:
    """A field two JSONs disagree on, shortly: ``steps 4 vs 6``; of ``train`` the settings."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = [k for k in {**a, **b} if a.get(k) != b.get(k)]
        return ", ".join(f"{key}.{k} {a.get(k)!r} vs {b.get(k)!r}" for k in keys)
    return f"{key} {a!r} vs {b!r}"


def _mismatch(
    name: str, saved: tuple[str, Mapping], own: nn.Module, refusal: Refusal | None = None
) -> str | None:
    """Why the saved ``name`` network, ``(architecture, constructor kwargs)`` as its JSON
    records them, cannot start ``own`` (None when it can), as a clause for "init X: ...";
    ``refusal`` names a saved size the run's loss would refuse, so the fix is no dead end."""
    architecture, a = saved
    if architecture != type(own).__name__:
        return (
            f"its {name} is a {architecture}, this run builds a {type(own).__name__}: pass the "
            "arch and loss (--arch, --loss) it was trained with"
        )
    b = own.config()
    keys = [k for k in a if a.get(k) != b.get(k)]
    if not keys:
        return None
    for k in keys:
        why = refusal(k, a[k]) if refusal is not None else None
        if why is not None:
            return f"its {name} was built with {k}={a[k]!r}, {why}"
    was = ", ".join(f"{k}={a[k]}" for k in keys)
    now = ", ".join(f"{k}={b.get(k)}" for k in keys)
    settings = ", ".join(SETTINGS[k](a[k]) if k in SETTINGS else f"{k}={a[k]!r}" for k in keys)
    return (
        f"its {name} was built with {was}, this run builds {now}: pass {settings} to match the "
        "saved network (fine-tuning keeps its sizes)"
    )


def _refuse_mismatches(init: str, whys: list[str | None]) -> None:
    """One ValueError "init X: why; why" for every network that cannot start (at once: one
    rerun fixes them all); nothing when none."""
    whys = [w for w in whys if w is not None]
    if whys:
        raise ValueError(f"init {init!r}: " + "; ".join(whys))


def preflight(
    init: str,
    build: Callable[[tuple[int, ...]], Mapping[str, nn.Module]],
    companions: tuple[str, ...],
    *,
    loss: str,
    refusal: Refusal | None = None,
) -> None:
    """Every check of ``init`` that needs no training image, before they are read: the files
    (:func:`init_stems`) and the sizes of the run's networks, ``build(image shape)`` ({"generator":
    G, <companion>: module}) at the saved image shape. A UserWarning where the saved generator
    was trained with another loss."""
    stems = init_stems(init, companions, loss=loss)
    card = read_config(stems["generator"])
    modules = build(tuple(card["image_shape"]))
    cards = {name: card if name == "generator" else read_config(stems[name]) for name in modules}
    _refuse_mismatches(  # (from the JSONs: no weights are read before the images)
        init,
        [
            _mismatch(name, (cards[name]["architecture"], cards[name]["kwargs"]), own, refusal)
            for name, own in modules.items()
        ],
    )
    saved_loss = card.get("loss")
    if saved_loss is not None and saved_loss != loss:
        warnings.warn(
            f"init {init!r} was trained with loss={saved_loss!r}; this run fine-tunes it with "
            f"loss={loss!r}: its {', '.join(companions)} learned the other objective's scale, "
            f"and the first steps relearn it. Pass --loss {saved_loss} to continue its own "
            "objective",
            UserWarning,
            stacklevel=3,
        )


def load_init(init: str, modules: dict[str, nn.Module], ema: nn.Module) -> dict[str, object]:
    """Load ``init`` into the run's networks; return its :func:`init_record`.

    ``modules``: ``{"generator": G, <companion>: module}`` as built by the run (the companions'
    names are those their checkpoints are saved under: "discriminator", "encoder"). Every saved
    network is read and checked first; a mismatch (architecture, sizes, image shape) is a
    ValueError naming the settings and nothing is loaded into any network."""
    stems = init_stems(init, tuple(k for k in modules if k != "generator"))
    saved = {name: load_model(stems[name], kind=name) for name in modules}
    _refuse_mismatches(
        init,
        [_mismatch(n, (type(m).__name__, m.config()), modules[n]) for n, m in saved.items()],
    )
    states: dict[str, dict[str, Tensor]] = {n: m.state_dict() for n, m in saved.items()}
    states["ema"] = load_model(stems["generator"], ema=True, kind="generator").state_dict()
    for name, own in modules.items():
        own.load_state_dict(states[name])
    ema.load_state_dict(states["ema"])
    return init_record(init, stems["generator"])


def init_record(init: str, stem: Path) -> dict[str, object]:
    """What a run records of its start (checkpoint and generator.json, ``init``): the name or
    absolute path, the SHA-256 fingerprint of the generator's weights file and the steps it was
    trained for."""
    return {"from": init, "fingerprint": fingerprint(stem), "steps": read_config(stem).get("steps")}
