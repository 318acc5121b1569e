"""Model checkpoints: ``<stem>.safetensors`` (weights) + ``<stem>.json`` (how to rebuild them).

The JSON names the architecture and its constructor kwargs, so loading builds the module first and
then loads the weights strictly. Nothing is ever unpickled. An optional exponential moving average
(EMA) of the weights is stored in the same file under the prefix ``ema/``.

Crash safety (:func:`write_pair` / :func:`read_pair`, used for every weights + JSON pair, model
checkpoints here and training states in ``pretrain.state``): each write stamps both files with one
fresh token (the safetensors header's metadata and the JSON's ``"pair_token"``), and the previous
complete pair is kept as ``<stem>.prev.safetensors`` / ``<stem>.prev.json`` until the new pair is
complete. Readers accept a pair only when the tokens agree (a pair with no token at all, as written
before tokens existed, is accepted as before) and otherwise fall back to the ``.prev`` pair with an
:class:`InterruptedWriteWarning`. Hence a kill -9 at any moment loses at most the pair being
written: afterwards either the new pair or the previous one loads, never a mixture of the two.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import uuid
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from ..device import resolve_device
from ..exceptions import InterruptedWriteWarning, user_stacklevel
from ..io import atomic_write, read_json
from .classifier import ClassifierA, ClassifierB
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPGenerator
from .vae import VAEDecoder, VAEEncoder

FORMAT = "ganinverse-model"
EMA_PREFIX = "ema/"
#: key of the token shared by the two files of a pair (safetensors metadata and JSON field)
PAIR_TOKEN = "pair_token"
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


# ----------------------------------------------------------------------------- atomic pairs
class _TornPair(ValueError):
    """The two files of a pair carry different tokens (a save was interrupted between them)."""


def pair_paths(stem: str | os.PathLike) -> tuple[Path, Path]:
    """``(<stem>.safetensors, <stem>.json)``."""
    stem = Path(stem)
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def prev_stem(stem: str | os.PathLike) -> Path:
    """Where the previous complete pair of ``stem`` is kept while a new one is written."""
    stem = Path(stem)
    return stem.with_name(stem.name + ".prev")


def pair_exists(stem: str | os.PathLike) -> bool:
    """True when ``stem`` or its kept previous pair has a JSON file (complete or not)."""
    return any(pair_paths(s)[1].is_file() for s in (Path(stem), prev_stem(stem)))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsynced
        _fsync(path)


def _write_weights(path: Path, tensors: dict[str, Tensor], token: str) -> None:
    save_file(tensors, str(path), metadata={PAIR_TOKEN: token})
    _fsync(path)


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    _fsync(path)


def _keep_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` a hard link to (or, where links fail, a copy of) ``src``, in one rename."""
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
            _fsync(tmp)
        os.replace(tmp, dst)
    finally:
        # rename() does nothing when tmp and dst are already links to one file: drop tmp then
        tmp.unlink(missing_ok=True)


def _remove_stale_temps(stem: Path) -> None:
    """Temp files of this pair left by a killed writer (``atomic_write`` and ``_keep_copy``)."""
    for name in (stem.name, prev_stem(stem).name):
        for ext in (".safetensors", ".json"):
            for tmp in stem.parent.glob(f".{glob.escape(name + ext)}.*.tmp"):
                tmp.unlink(missing_ok=True)


def write_pair(stem: str | os.PathLike, tensors: dict[str, Tensor], meta: dict) -> Path:
    """Write ``<stem>.safetensors`` and ``<stem>.json`` as one unit; return the stem.

    Steps, each an atomic rename: (1) if the current pair is complete, keep it as
    ``<stem>.prev.*`` (hard links); (2) write the weights, (3) then the JSON, both stamped with
    one new token; (4) drop ``<stem>.prev.*``. A kill -9 at any moment leaves either the new
    pair or the previous one loadable by :func:`read_pair` (at most this save is lost). Files
    are fsynced before they are renamed into place. One writer per stem at a time.
    """
    stem = Path(stem)
    weights, config = pair_paths(stem)
    prev_weights, prev_config = pair_paths(prev_stem(stem))
    stem.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(stem)
    if _complete(stem):
        _keep_copy(weights, prev_weights)
        _keep_copy(config, prev_config)
    # else: the pair in place is half written (or absent); .prev, if any, is the last complete one
    token = uuid.uuid4().hex
    meta = {**meta, PAIR_TOKEN: token}
    atomic_write(weights, lambda p: _write_weights(p, tensors, token))
    atomic_write(config, lambda p: _write_json(p, meta))
    _fsync_dir(stem.parent)
    prev_config.unlink(missing_ok=True)
    prev_weights.unlink(missing_ok=True)
    return stem


def _read_weights(path: Path, with_tensors: bool) -> tuple[str | None, dict[str, Tensor] | None]:
    """(the pair token in the header or None, the tensors if asked); ValueError when corrupt."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            token = (f.metadata() or {}).get(PAIR_TOKEN)
            tensors = {k: f.get_tensor(k) for k in f.keys()} if with_tensors else None
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise ValueError(
            f"checkpoint weights {path} are corrupt or not safetensors ({err})"
        ) from err
    return token, tensors


def _read_one(stem: Path, what: str, with_tensors: bool) -> tuple[dict, dict[str, Tensor] | None]:
    weights, config = pair_paths(stem)
    meta = read_json(config, what)
    token, tensors = _read_weights(weights, with_tensors)
    if meta.get(PAIR_TOKEN) != token:
        raise _TornPair(
            f"{weights} and {config} are not one pair (tokens {token!r} and "
            f"{meta.get(PAIR_TOKEN)!r}): a save was interrupted between the two files"
        )
    return meta, tensors


def _complete(stem: Path) -> bool:
    try:
        _read_one(stem, "checkpoint", False)
    except (FileNotFoundError, ValueError):
        return False
    return True


def read_pair(
    stem: str | os.PathLike, what: str = "checkpoint", *, tensors: bool = True
) -> tuple[dict, dict[str, Tensor] | None, Path]:
    """``(json, tensors or None, stem read)`` of the complete pair at ``stem``.

    Falls back to ``<stem>.prev.*`` (with an :class:`InterruptedWriteWarning`) when the pair at
    ``stem`` is half written, missing or corrupt; a pair with no token in either file (written
    before tokens existed, e.g. bundled weights) is accepted as it is. Raises the error of the
    pair at ``stem`` (FileNotFoundError / ValueError naming the file) when neither loads.
    """
    stem = Path(stem)
    try:
        meta, found = _read_one(stem, what, tensors)
        return meta, found, stem
    except (FileNotFoundError, ValueError) as err:
        error = err
    prev = prev_stem(stem)
    try:
        meta, found = _read_one(prev, what, tensors)
    except (FileNotFoundError, ValueError):
        # a writer may have completed the pair (and dropped .prev) while we read: look once more
        try:
            meta, found = _read_one(stem, what, tensors)
            return meta, found, stem
        except (FileNotFoundError, ValueError):
            if isinstance(error, _TornPair):
                raise ValueError(
                    f"{error}, and no complete previous pair {prev.name}.* was kept: "
                    "rerun what wrote it, or restore the files from a backup"
                ) from None
            raise error from None
    warnings.warn(
        f"{stem}.safetensors / .json are not one complete pair ({error}); loaded the previous "
        f"complete pair {prev}.safetensors / .json instead",
        InterruptedWriteWarning,
        stacklevel=user_stacklevel(),
    )
    return meta, found, prev


_FINGERPRINTS: dict[tuple, str] = {}
#: The checkpoint JSON's fields that decide the module that loads (``fingerprint`` covers them).
BUILD_FIELDS = ("architecture", "kwargs", "has_ema", "value_range")


def fingerprint(stem: str | os.PathLike) -> str:
    """The identity of the weights that load from ``stem``: the SHA-256 (first 16 hex digits)
    of the tensors (names, dtypes, shapes, bytes; not the pair's token) in the weights file of
    the pair ``read_pair`` accepts (the kept ``.prev`` pair where the current one is torn) and
    of the JSON fields that decide which module loads (``BUILD_FIELDS``: the architecture, its
    kwargs, whether the EMA weights are taken, the value range).
    Records that resume (a sweep's ``sweep.json``, a defense evaluation's cells) store it, so
    a checkpoint retrained or replaced at the same path is refused instead of mixing rows of
    two models, while the same weights saved again keep it. Raises as ``read_pair`` does."""
    meta, _, read = read_pair(stem, tensors=False)
    weights = pair_paths(read)[0]
    st = weights.stat()
    built = {k: meta.get(k) for k in BUILD_FIELDS}  # what decides the module that loads
    key = (str(weights.resolve()), st.st_mtime_ns, st.st_size, json.dumps(built, sort_keys=True))
    if key not in _FINGERPRINTS:
        digest = hashlib.sha256(json.dumps(built, sort_keys=True).encode())
        with weights.open("rb") as f:  # safetensors: 8-byte length, JSON header, the bytes
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
            header.pop("__metadata__", None)  # (the pair token: a save, not the weights)
            digest.update(json.dumps(header, sort_keys=True).encode())
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _FINGERPRINTS[key] = digest.hexdigest()[:16]
    return _FINGERPRINTS[key]


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
    """Write ``<stem>.safetensors`` and ``<stem>.json`` as one unit (:func:`write_pair`); return
    the stem. A kill -9 at any moment leaves this pair or the previous one loadable.

    ``config`` (loss, dataset, steps, seed, cost, quality, ...) is stored next to the fields
    every checkpoint has: architecture, kwargs, kind, latent_dim, image_shape, value_range;
    a classifier's ``training_status`` (set by ``train_classifier``) is recorded unless
    ``config`` gives one.
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
    status = getattr(module, "training_status", None)  # (train_classifier's verdict)
    if isinstance(status, str):
        meta.setdefault("training_status", status)
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
    meta.pop(PAIR_TOKEN, None)
    return write_pair(stem, tensors, meta)


def _check_model_config(meta: dict, stem: Path) -> dict:
    """Refuse a JSON that is no model config of this format, or that contradicts itself: no
    constructor ``kwargs`` (defaults would be built and the weights blamed), or a ``kind`` other
    than its architecture's."""
    if meta.get("format") != FORMAT or meta.get("architecture") not in ARCHITECTURES:
        raise ValueError(
            f"{stem}.json is not a ganinverse model config (format={meta.get('format')!r}, "
            f"architecture={meta.get('architecture')!r}; known: {sorted(ARCHITECTURES)})"
        )
    if not isinstance(meta.get("kwargs"), dict):
        raise ValueError(
            f"{stem}.json has no kwargs (the {meta['architecture']} constructor's arguments, "
            f"got {meta.get('kwargs')!r}): the config is damaged or hand-edited; restore it "
            "from a copy or save the model again (save_model)"
        )
    found = ARCHITECTURES[meta["architecture"]][1]
    if meta.get("kind", found) != found:
        raise ValueError(
            f"{stem}.json says kind {meta['kind']!r}, but its architecture "
            f"{meta['architecture']!r} is a {found}: the config is damaged or hand-edited; "
            "restore it from a copy or save the model again (save_model)"
        )
    return meta


def _check_card_agrees(meta: dict, module: nn.Module, stem: Path) -> None:
    """Refuse a config whose top-level ``image_shape`` / ``latent_dim`` (what readers of the
    card see) differ from the module its kwargs and weights built."""
    for field in ("image_shape", "latent_dim"):
        if field not in meta or not hasattr(module, field):
            continue
        built = getattr(module, field)
        said = list(meta[field]) if field == "image_shape" else meta[field]
        if said != (list(built) if field == "image_shape" else built):
            raise ValueError(
                f"{stem}.json says {field} = {meta[field]!r}, but its kwargs and weights build "
                f"{field} = {built!r}: the config contradicts itself (damaged or hand-edited); "
                "restore it from a copy or save the model again (save_model)"
            )


def read_config(path_stem: str | os.PathLike) -> dict:
    """The JSON config of a checkpoint's complete pair (see :func:`read_pair`; reads only the
    weights' header). FileNotFoundError / ValueError when missing / corrupt."""
    stem = checkpoint_stem(path_stem)
    meta, _, used = read_pair(stem, "checkpoint config", tensors=False)
    return _check_model_config(meta, used)


def copy_pair(src_stem: str | os.PathLike, dst_stem: str | os.PathLike) -> Path:
    """Copy the complete pair at ``src_stem`` (see :func:`read_pair`) to ``dst_stem`` as one unit
    (:func:`write_pair`, with a new token); return the destination stem."""
    meta, tensors, _ = read_pair(src_stem, "checkpoint config")
    meta.pop(PAIR_TOKEN, None)
    return write_pair(dst_stem, tensors, meta)


def update_config(path_stem: str | os.PathLike, fields: dict) -> dict:
    """Merge ``fields`` into the JSON of a checkpoint's complete pair (one atomic write that keeps
    the pair's token, so the weights still match); return the new JSON. Use this, not a plain
    JSON rewrite, to add results (cost, quality, notes) to a checkpoint."""
    if PAIR_TOKEN in fields:
        raise ValueError(f"fields must not set {PAIR_TOKEN!r}: it ties the JSON to its weights")
    stem = checkpoint_stem(path_stem)
    meta, _, used = read_pair(stem, "checkpoint config", tensors=False)
    meta = {**meta, **fields}
    atomic_write(pair_paths(used)[1], lambda p: _write_json(p, meta))
    return meta


def read_tensors(path: str | os.PathLike) -> dict[str, Tensor]:
    """All tensors of a safetensors file; corrupt files raise ValueError naming the path."""
    return _read_weights(Path(path), True)[1]


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
    """Build the architecture named in ``<stem>.json`` and load ``<stem>.safetensors`` strictly
    (the complete pair: see :func:`read_pair`).

    ``ema=True`` loads the EMA weights when the checkpoint has them. ``kind`` ("generator",
    "discriminator", "encoder", "classifier") rejects checkpoints of another kind. Returns eval mode.
    """
    stem = checkpoint_stem(path_stem)
    meta, tensors, stem = read_pair(stem, "checkpoint config")
    _check_model_config(meta, stem)
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
    use_ema = ema and meta.get("has_ema", False)
    if use_ema:
        state = {k[len(EMA_PREFIX) :]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
    else:
        state = {k: v for k, v in tensors.items() if not k.startswith(EMA_PREFIX)}
    load_state_strict(module, state, f"{stem}.safetensors")
    _check_card_agrees(meta, module, stem)
    module.checkpoint_config = meta
    return module.to(resolve_device(device)).eval()
