"""Inpainting masks: float tensors (B, 1, H, W) with M = 1 for known pixels and 0 for missing ones.

Makers (one mask per image). Random makers draw mask i from ``seeds.rng(seed, "mask", ids[i])``:
it depends only on the seed and the image's identity ``ids[i]`` (default ``ids = range(n)``, the
position in the batch; pass dataset indices to make a mask independent of the batch it is in).

- ``center_mask``: a centred block missing, its side ``fraction`` of the image side.
- ``random_mask``: exactly ``round(missing · H · W)`` pixels missing, chosen uniformly.
- ``half_mask``: the left / right / top / bottom half missing (or one of them at random).
- ``pattern_mask``: random disks ("blobs") missing until they cover at least ``missing``.
- ``grid_mask``: only every ``step``-th pixel of every ``step``-th row known.
- ``mask_from_file``: a PNG (white = known; grey values thresholded at 128), ``check_mask``: any
  tensor validated and broadcast.

``parse_mask`` turns the CLI's specs ("center", "center:0.5", "random:0.8", "half", "half:left",
"pattern:0.25", "grid:4", "path/to/mask.png") into masks.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ._validation import (
    NumberTextError,
    check_choice,
    check_int,
    check_positive,
    check_tensor,
    closest,
    read_number,
)
from .exceptions import ConversionWarning, user_stacklevel
from .seeds import Key, rng

SIDES = ("left", "right", "top", "bottom")
KINDS = ("center", "random", "half", "pattern", "grid")
FORMS = (
    "center[:side fraction in (0, 1), default 0.5], random[:missing fraction in (0, 1), default "
    "0.8], half[:left|right|top|bottom|random], pattern[:missing fraction in (0, 1), default 0.25], "
    "grid[:step, an int >= 1, default 4], or the path of a mask image (.png, .bmp, .gif, .tif)"
)
FILE_SUFFIXES = (".png", ".bmp", ".gif", ".tif", ".tiff")
THRESHOLD = 128  # mask files: grey value >= 128 is known (white), below is missing (black)
MAX_GREY = 0.1  # refuse a mask file with more than 10% of its pixels in GREY (not a mask)
GREY = (64, 191)


def _size(image_shape: Sequence[int]) -> tuple[int, int]:
    """(H, W) from an image shape (C, H, W) or a size (H, W)."""
    if not isinstance(image_shape, (tuple, list, torch.Size)) or len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be (C, H, W) or (H, W), got {image_shape!r}")
    h, w = (check_int(s, "image_shape", low=1) for s in image_shape[-2:])
    return h, w


def _seed(seed: object) -> int | None:
    """A mask seed: None (fresh randomness) or an int >= 0."""
    if seed is None:
        return None
    if isinstance(seed, np.integer):
        seed = int(seed)
    return check_int(seed, "seed", low=0)


def _ids(ids: Sequence[Key] | None, n: int) -> list[Key]:
    """Image identities for per-image masks: ``range(n)`` by default, else n ints >= 0 / strs."""
    if ids is None:
        return list(range(n))
    if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, np.ndarray, torch.Tensor)):
        raise TypeError(f"ids must be a sequence of n image identities, got {type(ids).__name__}")
    ids = [i.item() if isinstance(i, (np.generic, torch.Tensor)) else i for i in ids]
    if len(ids) != n:
        raise ValueError(f"ids must hold one identity per image: n={n}, got {len(ids)}")
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, (int, str)) or (isinstance(i, int) and i < 0):
            raise TypeError(f"ids must be ints >= 0 or strs, got {i!r}")
    return ids


def _fraction(value: float, name: str) -> float:
    check_positive(value, name)
    if value >= 1:
        raise ValueError(f"{name} must be a fraction in (0, 1), got {value}")
    return float(value)


def center_mask(n: int, image_shape: Sequence[int], fraction: float = 0.5) -> Tensor:
    """A centred block of ``round(fraction·H) x round(fraction·W)`` pixels missing -> (n, 1, H, W)."""
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    _fraction(fraction, "fraction")
    bh, bw = max(1, round(fraction * h)), max(1, round(fraction * w))
    top, left = (h - bh) // 2, (w - bw) // 2
    mask = torch.ones(n, 1, h, w)
    mask[..., top : top + bh, left : left + bw] = 0
    return mask


def random_mask(
    n: int,
    image_shape: Sequence[int],
    missing: float = 0.8,
    seed: int | None = 0,
    ids: Sequence[Key] | None = None,
) -> Tensor:
    """Exactly ``round(missing·H·W)`` pixels per image missing, uniformly at random -> (n, 1, H, W).

    Mask i is drawn from ``rng(seed, "mask", ids[i])`` (default ``ids = range(n)``).
    """
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    _fraction(missing, "missing")
    seed, ids = _seed(seed), _ids(ids, n)
    k = min(round(missing * h * w), h * w - 1)  # at least one pixel stays known
    if k == 0:
        raise ValueError(
            f"missing={missing} of {h}x{w} pixels rounds to no missing pixel; "
            f"use missing >= {0.5 / (h * w):.2g}"
        )
    mask = torch.ones(n, h * w)
    for i, key in enumerate(ids):
        order = torch.rand(h * w, generator=rng(seed, "mask", key)).argsort()
        mask[i, order[:k]] = 0.0
    return mask.view(n, 1, h, w)


def half_mask(
    n: int,
    image_shape: Sequence[int],
    side: str = "random",
    seed: int | None = 0,
    ids: Sequence[Key] | None = None,
) -> Tensor:
    """The ``side`` half of each image missing (``"random"``: a seeded side per image, image i's
    from ``rng(seed, "mask", ids[i])``, default ``ids = range(n)``).

    For odd sizes the missing half is the smaller one, ``floor(W/2)`` columns or ``floor(H/2)`` rows.
    """
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    check_choice(side, "side", (*SIDES, "random"))
    seed, ids = _seed(seed), _ids(ids, n)
    if side == "random":
        gens = (rng(seed, "mask", key) for key in ids)
        sides = [SIDES[int(torch.randint(len(SIDES), (1,), generator=g))] for g in gens]
    else:
        sides = [side] * n
    mask = torch.ones(n, 1, h, w)
    for i, s in enumerate(sides):
        if s == "left":
            mask[i, :, :, : w // 2] = 0
        elif s == "right":
            mask[i, :, :, w - w // 2 :] = 0
        elif s == "top":
            mask[i, :, : h // 2] = 0
        else:
            mask[i, :, h - h // 2 :] = 0
    if not bool(mask.flatten(1).any(1).all()):
        raise ValueError(f"image_shape {(h, w)} is too small for a half mask")
    return mask


def pattern_mask(
    n: int,
    image_shape: Sequence[int],
    missing: float = 0.25,
    seed: int | None = 0,
    max_radius: float = 0.125,
    ids: Sequence[Key] | None = None,
) -> Tensor:
    """Random blobs missing until they cover at least ``missing`` of each image -> (n, 1, H, W).

    Image i's blobs are drawn from ``rng(seed, "mask", ids[i])`` (default ``ids = range(n)``).

    Blobs are disks (pixel centres within radius r of a random point), r uniform in
    [1, max(1, max_radius·min(H, W))]; they overlap and merge into irregular regions. The covered
    fraction overshoots ``missing`` by at most one blob (π r² / HW).
    """
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    _fraction(missing, "missing")
    check_positive(max_radius, "max_radius")
    seed, ids = _seed(seed), _ids(ids, n)
    r_max = max(1.0, max_radius * min(h, w))
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    mask = torch.ones(n, 1, h, w)
    for i, key in enumerate(ids):
        gen = rng(seed, "mask", key)
        hole = torch.zeros(h, w, dtype=torch.bool)
        while float(hole.float().mean()) < missing:
            cy, cx, u = torch.rand(3, generator=gen).tolist()
            r = 1.0 + u * (r_max - 1.0)
            hole |= (yy - cy * (h - 1)).pow(2) + (xx - cx * (w - 1)).pow(2) <= r * r
        mask[i, 0][hole] = 0
    if not bool(mask.flatten(1).any(1).all()):
        raise ValueError(f"missing={missing} left no known pixel; use a smaller fraction")
    return mask


def grid_mask(n: int, image_shape: Sequence[int], step: int = 4) -> Tensor:
    """Known only where row % step == 0 and column % step == 0 -> (n, 1, H, W).

    The known fraction is ceil(H/step)·ceil(W/step) / (H·W), about 1/step².
    """
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    check_int(step, "step", low=1)
    if step > max(h, w):
        raise ValueError(
            f"grid step must be at most the image's side {max(h, w)} (a larger step keeps the "
            f"same single pixel), got {step}"
        )
    mask = torch.zeros(n, 1, h, w)
    mask[..., ::step, ::step] = 1
    return mask


def mask_from_file(path: str | os.PathLike, image_shape: Sequence[int], n: int = 1) -> Tensor:
    """Read a mask image: white (grey value >= 128) = known, black = missing -> (n, 1, H, W).

    Colour files are converted to grey first (16-bit and float grey files scaled to 0..255:
    ``v / 65535``, float files in [0, 1]); grey values are thresholded at 128 (so a PNG saved
    with anti-aliased edges works). A file with more than 10% of its pixels mid-grey (64..191) is
    refused: it is most likely an image, not a mask. The file must have the image's size (H, W);
    it is never resized, so a mask's boundary never moves silently. A file PIL cannot read, or
    one with transparent pixels (their meaning is ambiguous), raises a ValueError naming it.
    """
    from .data import HIGH_DEPTH_MODES, _float_grey, check_opaque, open_image

    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"mask path must be a str or path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    img = open_image(path, "mask file")
    check_opaque(
        img, f"mask file {path}", "A mask is opaque white (known) / black (missing): fill it"
    )
    if img.mode in (*HIGH_DEPTH_MODES, "F"):  # 16-bit / float: scaled to 0..255, not clipped
        with warnings.catch_warnings():  # (an image's narrow-data warning: masks judge below)
            warnings.simplefilter("ignore", ConversionWarning)
            unit = np.asarray(_float_grey(img, f"mask file {path}"), dtype=np.float32)
        grey = np.rint(unit * 255).astype(np.uint8)
    else:
        grey = np.asarray(img.convert("L"))
    if grey.shape != (h, w):
        raise ValueError(
            f"mask file {path} is {grey.shape[1]}x{grey.shape[0]} (WxH) but the images are "
            f"{w}x{h}; masks are not resized: resize the mask to {w}x{h}, the generator's size"
        )
    mid = float(((grey >= GREY[0]) & (grey <= GREY[1])).mean())
    if mid > MAX_GREY:
        raise ValueError(
            f"mask file {path} is not a binary mask: {mid:.0%} of its pixels are grey "
            f"({GREY[0]}..{GREY[1]}); a mask is white (known) / black (missing), thresholded "
            f"at {THRESHOLD}, with at most {MAX_GREY:.0%} grey pixels (anti-aliased edges)"
        )
    wide = img.mode in HIGH_DEPTH_MODES
    raw = np.asarray(img.convert("I")) if wide else grey
    if raw.max() == 1 and img.mode not in ("1", "F"):  # 0/1 values: white written as 1
        raise ValueError(
            f"mask file {path} holds only the values 0 and 1, read as black and near-black; a "
            f"mask is white (known, {'65535' if wide else '255'}) / "
            f"black (missing): multiply it by {'65535' if wide else '255'} (or save a 1-bit "
            "mode '1' image)"
        )
    if wide and 1 < raw.max() <= 255:  # 8-bit values on a 16-bit scale: all read as black
        raise ValueError(
            f"mask file {path} is a {img.mode} (16/32-bit) image whose values all lie in "
            f"0..{int(raw.max())}, so its white reads near black; a 16-bit mask's white is "
            "65535: multiply it by 257 or save it as an 8-bit image"
        )
    _warn_coloured_pixels(img, grey, f"mask file {path}")
    if not _coloured(img).any():  # (coloured pixels: said above, grey or not)
        _warn_grey_pixels(grey, f"mask file {path}")
    mask = torch.from_numpy((grey >= THRESHOLD).astype(np.float32))
    return check_mask(mask, n, (h, w), name=f"mask file {path}")


#: a mask pixel whose colour channels differ by more than this (of 255) is coloured, not grey
COLOURED = 32


def _coloured(img) -> np.ndarray:
    """(H, W) bool: the pixels whose colour channels differ by more than :data:`COLOURED`."""
    if img.mode not in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        return np.zeros((img.height, img.width), bool)
    rgb = np.asarray(img.convert("RGB")).astype(np.int16)
    return (rgb.max(-1) - rgb.min(-1)) > COLOURED


def _warn_thresholded(pixels: np.ndarray, grey: np.ndarray, where: str, what: str) -> None:
    """ConversionWarning for the ``pixels`` (H, W bool) of a mask file that only the threshold
    at :data:`THRESHOLD` made known or missing: how many, and which way each went. ``what``
    names them and says why the file leaves their meaning open."""
    k = int(pixels.sum())
    if not k:
        return
    known = int((grey[pixels] >= THRESHOLD).sum())
    warnings.warn(
        f"{where} has {k} {what} ({k / pixels.size:.1%}), thresholded at {THRESHOLD}: {known} "
        f"read as known, {k - known} as missing; save the mask as pure black (missing) / white "
        "(known) to say which",
        ConversionWarning,
        stacklevel=user_stacklevel(),
    )


def _warn_grey_pixels(grey: np.ndarray, where: str) -> None:
    """Mid-grey pixels (:data:`GREY`, at most :data:`MAX_GREY` of them, else the file is
    refused; e.g. anti-aliased edges): the file does not say which side they are on."""
    mid = (grey >= GREY[0]) & (grey <= GREY[1])
    what = f"grey pixels (values {GREY[0]}..{GREY[1]}, e.g. anti-aliased edges)"
    _warn_thresholded(mid, grey, where, what)


def _warn_coloured_pixels(img, grey: np.ndarray, where: str) -> None:
    """Coloured pixels: made grey (ITU-R 601 luma, L = 0.299 R + 0.587 G + 0.114 B) and
    thresholded, a colour's meaning is its brightness alone (pure red reads missing, pure green
    known), which is rarely what marks in colour mean."""
    what = (
        "coloured pixels, read as grey (L = 0.299 R + 0.587 G + 0.114 B: by brightness alone, "
        "pure red missing, pure green known)"
    )
    _warn_thresholded(_coloured(img), grey, where, what)


def check_mask(mask: object, n: int, image_shape: Sequence[int], name: str = "mask") -> Tensor:
    """Validate a mask and return it as float (n, 1, H, W) with values 0 / 1.

    Accepts (H, W), (1, H, W), (1, 1, H, W) (shared by all n images) or (n, 1, H, W); bool,
    integer or float dtype. Raises if the size differs, values are not 0/1, or an image has no
    known pixel.
    """
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    mask = check_tensor(mask, name, ndim=(2, 3, 4), floating=False)
    mask = mask.float()
    while mask.ndim < 4:
        mask = mask[None]
    if mask.shape[1:] != (1, h, w) or mask.shape[0] not in (1, n):
        raise ValueError(
            f"{name} must be (H, W), (1, H, W) or (B, 1, H, W) with H, W = {h}, {w} and B = 1 or "
            f"{n}; got {tuple(mask.shape)}"
        )
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{name} must be binary: 1 = known pixel, 0 = missing")
    if not bool(mask.flatten(1).any(1).all()):
        raise ValueError(
            f"{name} has no known pixel for at least one image; nothing to inpaint from"
        )
    return mask.expand(n, 1, h, w).contiguous()


def _number(text: str, spec: str, kind: type) -> float:
    try:
        return read_number(text, kind)
    except ValueError as err:  # (the reader's own reason where it has one: '_', a space, ...)
        why = f" ({err})" if isinstance(err, NumberTextError) else ""
        raise ValueError(
            f"mask spec {spec!r}: {text!r} is not {'an' if kind is int else 'a'} "
            f"{kind.__name__}{why}. Allowed forms: {FORMS}"
        ) from err


def parse_mask(
    spec: str | os.PathLike,
    n: int,
    image_shape: Sequence[int],
    seed: int | None = 0,
    ids: Sequence[Key] | None = None,
) -> Tensor:
    """Masks (n, 1, H, W) from a spec (CLI ``--mask``): ``kind[:arg]`` or a path to a mask image.

    ``center[:side_fraction=0.5]``, ``random[:missing=0.8]``, ``half[:left|right|top|bottom|random]``,
    ``pattern[:missing=0.25]``, ``grid[:step=4]``; anything with an image suffix is read as a file
    (white = known, threshold 128; see :func:`mask_from_file`). Fractions must be finite and in
    (0, 1). Random kinds draw mask i from ``rng(seed, "mask", ids[i])`` (default ``range(n)``).
    A bad spec raises a ValueError naming it and the allowed forms.
    """
    if isinstance(spec, os.PathLike):
        return mask_from_file(spec, image_shape, n)
    if not isinstance(spec, str):
        raise TypeError(f"mask spec must be a str or path ({FORMS}), got {type(spec).__name__}")
    if not spec:
        raise ValueError(f"mask spec must be a non-empty string: {FORMS}")
    # arguments that are not part of the spec are checked first, so errors blame the right one
    check_int(n, "n", low=1)
    _size(image_shape)
    seed, ids = _seed(seed), _ids(ids, n)
    # blanks around the spec and its ':' are no part of it (as the CLI and the sweep read it:
    # operators._mask_spec); inside a name they are ('cen ter')
    kind, colon, arg = (part.strip() for part in spec.strip().partition(":"))
    if kind not in KINDS:
        if Path(spec).suffix.lower() in FILE_SUFFIXES:
            return mask_from_file(spec, image_shape, n)
        raise ValueError(
            f"mask spec {spec!r} is not one of the allowed forms: {FORMS}" + closest(kind, KINDS)
        )
    if colon and not arg.strip():
        raise ValueError(
            f"mask spec {spec!r} has a ':' and no argument after it: write {kind!r} for the "
            f"default, or {kind}:<argument>. Allowed forms: {FORMS}"
        )
    try:
        if kind == "center":
            return center_mask(n, image_shape, _number(arg, spec, float) if arg else 0.5)
        if kind == "random":
            missing = _number(arg, spec, float) if arg else 0.8
            return random_mask(n, image_shape, missing, seed, ids)
        if kind == "half":
            return half_mask(n, image_shape, arg or "random", seed, ids)
        if kind == "pattern":
            missing = _number(arg, spec, float) if arg else 0.25
            return pattern_mask(n, image_shape, missing, seed, ids=ids)
        return grid_mask(n, image_shape, _number(arg, spec, int) if arg else 4)
    except (ValueError, TypeError) as err:
        if str(err).startswith("mask spec"):
            raise
        raise ValueError(f"mask spec {spec!r}: {err}. Allowed forms: {FORMS}") from err


def missing_fraction(mask: Tensor) -> Tensor:
    """Fraction of missing pixels per image, (B,)."""
    return 1 - mask.flatten(1).float().mean(1)


__all__ = [
    "center_mask",
    "check_mask",
    "grid_mask",
    "half_mask",
    "mask_from_file",
    "missing_fraction",
    "parse_mask",
    "pattern_mask",
    "random_mask",
]
