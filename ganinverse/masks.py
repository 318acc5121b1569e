"""Inpainting masks: float tensors (B, 1, H, W) with M = 1 for known pixels and 0 for missing ones.

Makers (one mask per image; every random choice comes from ``seed``):

- ``center_mask``: a centred block missing, its side ``fraction`` of the image side.
- ``random_mask``: exactly ``round(missing · H · W)`` pixels missing, chosen uniformly.
- ``half_mask``: the left / right / top / bottom half missing (or one of them at random).
- ``pattern_mask``: random disks ("blobs") missing until they cover at least ``missing``.
- ``grid_mask``: only every ``step``-th pixel of every ``step``-th row known.
- ``mask_from_file``: a PNG (white = known), ``check_mask``: any tensor validated and broadcast.

``parse_mask`` turns the CLI's specs ("center", "center:0.5", "random:0.8", "half", "half:left",
"pattern:0.25", "grid:4", "path/to/mask.png") into masks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ._validation import check_choice, check_int, check_positive, check_tensor
from .device import make_generator

SIDES = ("left", "right", "top", "bottom")
KINDS = ("center", "random", "half", "pattern", "grid")


def _size(image_shape: Sequence[int]) -> tuple[int, int]:
    """(H, W) from an image shape (C, H, W) or a size (H, W)."""
    if not isinstance(image_shape, (tuple, list, torch.Size)) or len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be (C, H, W) or (H, W), got {image_shape!r}")
    h, w = (check_int(s, "image_shape", low=1) for s in image_shape[-2:])
    return h, w


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


def random_mask(n: int, image_shape: Sequence[int], missing: float = 0.8, seed: int = 0) -> Tensor:
    """Exactly ``round(missing·H·W)`` pixels per image missing, uniformly at random -> (n, 1, H, W)."""
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    _fraction(missing, "missing")
    k = min(round(missing * h * w), h * w - 1)  # at least one pixel stays known
    gen = make_generator(seed)
    order = torch.rand(n, h * w, generator=gen).argsort(1)
    mask = torch.ones(n, h * w)
    mask.scatter_(1, order[:, :k], 0.0)
    return mask.view(n, 1, h, w)


def half_mask(n: int, image_shape: Sequence[int], side: str = "random", seed: int = 0) -> Tensor:
    """The ``side`` half of each image missing (``"random"``: a seeded side per image).

    For odd sizes the missing half is the smaller one, ``floor(W/2)`` columns or ``floor(H/2)`` rows.
    """
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    check_choice(side, "side", (*SIDES, "random"))
    if side == "random":
        picks = torch.randint(len(SIDES), (n,), generator=make_generator(seed)).tolist()
        sides = [SIDES[i] for i in picks]
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
    seed: int = 0,
    max_radius: float = 0.125,
) -> Tensor:
    """Random blobs missing until they cover at least ``missing`` of each image -> (n, 1, H, W).

    Blobs are disks (pixel centres within radius r of a random point), r uniform in
    [1, max(1, max_radius·min(H, W))]; they overlap and merge into irregular regions. The covered
    fraction overshoots ``missing`` by at most one blob (π r² / HW).
    """
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    _fraction(missing, "missing")
    check_positive(max_radius, "max_radius")
    r_max = max(1.0, max_radius * min(h, w))
    gen = make_generator(seed)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    mask = torch.ones(n, 1, h, w)
    for i in range(n):
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
    mask = torch.zeros(n, 1, h, w)
    mask[..., ::step, ::step] = 1
    return mask


def mask_from_file(path: str | os.PathLike, image_shape: Sequence[int], n: int = 1) -> Tensor:
    """Read a mask image: white (grey value >= 128) = known, black = missing -> (n, 1, H, W).

    Colour files are converted to grey first. The file must have the image's size (H, W); it is
    not resized, so a mask never changes silently.
    """
    check_int(n, "n", low=1)
    h, w = _size(image_shape)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    with Image.open(path) as img:
        grey = np.asarray(img.convert("L"))
    if grey.shape != (h, w):
        raise ValueError(
            f"mask file {path} is {grey.shape[1]}x{grey.shape[0]} (WxH) but the images are "
            f"{w}x{h}; resize the mask to the generator's image size"
        )
    mask = torch.from_numpy((grey >= 128).astype(np.float32))
    return check_mask(mask, n, (h, w), name=f"mask file {path}")


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
        return kind(text)
    except ValueError as err:
        raise ValueError(f"mask spec {spec!r}: {text!r} is not a valid {kind.__name__}") from err


def parse_mask(spec: str, n: int, image_shape: Sequence[int], seed: int = 0) -> Tensor:
    """Masks (n, 1, H, W) from a spec: ``kind[:arg]`` or a path to a mask PNG.

    ``center[:side_fraction=0.5]``, ``random[:missing=0.8]``, ``half[:left|right|top|bottom|random]``,
    ``pattern[:missing=0.25]``, ``grid[:step=4]``; anything else is read as a file (white = known).
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"mask spec must be a non-empty string, got {spec!r}")
    kind, _, arg = spec.partition(":")
    if kind not in KINDS:
        if Path(spec).suffix.lower() in (".png", ".bmp", ".gif", ".tif", ".tiff"):
            return mask_from_file(spec, image_shape, n)
        raise ValueError(
            f"mask spec {spec!r} is neither one of {', '.join(KINDS)} (optionally with ':arg') nor "
            "a .png file"
        )
    if kind == "center":
        return center_mask(n, image_shape, _number(arg, spec, float) if arg else 0.5)
    if kind == "random":
        return random_mask(n, image_shape, _number(arg, spec, float) if arg else 0.8, seed)
    if kind == "half":
        return half_mask(n, image_shape, arg or "random", seed)
    if kind == "pattern":
        return pattern_mask(n, image_shape, _number(arg, spec, float) if arg else 0.25, seed)
    return grid_mask(n, image_shape, _number(arg, spec, int) if arg else 4)


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
