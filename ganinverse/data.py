"""Datasets -> image tensors in [-1, 1]: the one place that knows every data source.

Sources (``name``): where ``root`` must point, the splits, and how images are prepared.

- ``digits``: no root (scikit-learn's bundled 8x8 digits); splits train, test. The 1,797 images
  (values 0..16) are scaled to [0, 1], mapped to [-1, 1] and upsampled bilinearly to
  ``image_size`` (default 28). The split is a fixed permutation with seed 0: its first 1,500
  images are ``train``, the remaining 297 ``test``.
- ``mnist`` / ``fashion-mnist``: ``root/MNIST/raw/`` or ``root/FashionMNIST/raw/`` holding
  ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` (torchvision's layout); train, test.
  With the uncompressed files (or ``download=True``) torchvision reads them; with only the
  official ``.gz`` files they are read directly (gzip + IDX header), so a read-only copy works
  and nothing is written next to the data.
- ``cifar10``: ``root/cifar-10-batches-py/`` (torchvision's layout); train, test.
- ``celeba``: ``root/celeba/img_align_celeba/*.jpg`` plus the list files (torchvision's layout);
  train, valid, test, all. The CSGM crop: centre 108x108 of the 178x218 aligned image (rows
  55:163, columns 35:143), resized bilinearly to 64x64 (or ``image_size``).
- ``celeba64``: ``root/celeba64.npz`` (train) and ``root/celeba64_csgm_test.npz`` (test: the CSGM
  repo's 64 images), each with ``images`` uint8 N x H x W x 3, scaled by ``x / 127.5 - 1``.
- ``folder``: ``root`` is any folder; every png/jpg/jpeg/bmp below it, sorted by path; split all.
  Each file is resized (bilinear, aspect ratio not kept) to ``image_size`` x ``image_size``;
  without ``image_size`` all files must share one size. ``channels`` picks 1 (grey) or 3 (RGB);
  by default the first file decides.

All in-memory sources resize with antialiased bilinear interpolation (as PIL does).
Image files: 8-bit files map ``v -> v / 127.5 - 1``; 16-bit grey files (PIL mode ``I;16``/``I``)
``v -> 2 v / 65535 - 1``; 32-bit float files (mode ``F``) must hold values in [0, 1]. Whatever the
source or file type, images come out float32 in [-1, 1] (checked).

Errors at the boundary: a file that PIL cannot read (not an image, truncated, corrupt) raises a
ValueError naming the file; data that is not where it should be raises FileNotFoundError saying
which files to put where (nothing is downloaded); ``n`` / ``start`` beyond the split raise a
ValueError with the split's size.
Sources with labels: digits, mnist, fashion-mnist, cifar10. The others give ``labels = None`` from
:func:`load_images` and the label ``-1`` from :func:`image_dataset` (so DataLoader can collate it).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms.functional import pil_to_tensor

from ganinverse._validation import check_choice, check_images, check_int
from ganinverse.exceptions import ConversionWarning
from ganinverse.io import atomic_write

from .exceptions import user_stacklevel

SOURCES: dict[str, tuple[str, ...]] = {
    "digits": ("train", "test"),
    "mnist": ("train", "test"),
    "fashion-mnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "celeba": ("train", "valid", "test", "all"),
    "celeba64": ("train", "test"),
    "folder": ("all",),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
#: EXIF orientations (tag 0x0112) that swap width and height: the 90° rotations and transposes
SWAPPING_ORIENTATIONS = (5, 6, 7, 8)
DIGITS_TRAIN = 1500  # digits split: first 1500 of a seed-0 permutation train, last 297 test
CELEBA_CROP = (35, 55, 143, 163)  # PIL box (left, top, right, bottom): CSGM's centre 108x108 crop


def default_split(name: str | None) -> str:
    """The split a command reads when --split is not given: "test" where the source has one
    (the images a method is scored on), else its only split (a folder: "all")."""
    splits = SOURCES.get(name or "", ("test",))
    return "test" if "test" in splits else splits[0]


# ----------------------------------------------------------------------------- conversions
def to_unit(x: Tensor) -> Tensor:
    """Map [-1, 1] -> [0, 1]: ``(x + 1) / 2``."""
    return (x + 1) / 2


def from_unit(x: Tensor) -> Tensor:
    """Map images on [0, 1] to the library's [-1, 1]: ``2 x - 1`` (any shape). Raises a
    TypeError for a non-tensor, a ValueError for values outside [0, 1] (beyond float rounding,
    1e-6): images in [0, 255] would map to [-1, 509]; pass x / 255 first."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor of images on [0, 1], got {type(x).__name__}")
    if x.numel():
        lo, hi = (float(v) for v in torch.aminmax(x.detach()))
        if not (lo >= -1e-6 and hi <= 1 + 1e-6):  # (NaN fails too)
            hint = "; images in [0, 255]? pass x / 255" if hi > 1.5 else ""
            raise ValueError(f"x must lie in [0, 1], got values in [{lo:g}, {hi:g}]{hint}")
    return 2 * x - 1


def _uint8_to_signed(x: Tensor) -> Tensor:
    """uint8 0..255 -> float32 in [-1, 1]: ``x / 127.5 - 1``."""
    return x.float() / 127.5 - 1


def _resize(x: Tensor, image_size: int | None) -> Tensor:
    """Bilinear (antialiased when shrinking) resize of a (B, C, H, W) batch to a square size."""
    if image_size is None or x.shape[-2:] == (image_size, image_size):
        return x
    x = F.interpolate(
        x,
        size=(image_size, image_size),
        mode="bilinear",
        align_corners=False,
        antialias=image_size < max(x.shape[-2:]),
    )
    return x.clamp(-1, 1)


def _pil_mode(channels: int | None) -> str | None:
    if channels is None:
        return None
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    return "L" if channels == 1 else "RGB"


# What PIL raises on a file that is not an image, or a truncated / corrupt one.
PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
PIL_ERRORS += (Image.DecompressionBombError,)
HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


#: the ``info`` key :func:`open_image` sets on a 16-bit-per-channel colour file (read as 8 bits)
WIDE_COLOUR = "ganinverse.wide_colour"
#: the ``info`` key :func:`open_image` sets on a 16-bit grey + alpha file, which PIL decodes to
#: RGBA (r = g = b, each the value's high byte): its content is grey
WIDE_GREY_ALPHA = "ganinverse.wide_grey_alpha"


def _raw_modes(img: Image.Image) -> list[str]:
    """The raw modes of a not-yet-loaded image's tiles (how the file stores its pixels)."""
    return [str(t[3] if len(t) > 3 else "") for t in (getattr(img, "tile", None) or [])]


def _wide_grey_alpha(img: Image.Image) -> bool:
    """Whether ``img`` is a 16-bit grey + alpha file (PIL: mode RGBA, raw mode LA;16)."""
    return img.mode == "RGBA" and (
        bool(img.info.get(WIDE_GREY_ALPHA)) or any("LA;16" in r for r in _raw_modes(img))
    )


def open_image(path: str | os.PathLike, what: str = "image file") -> Image.Image:
    """Open and fully decode an image file as a viewer shows it; a file PIL cannot read raises
    a ValueError naming it.

    ``what`` names the file's role in the message (e.g. "mask file"). The image is loaded into
    memory, so a truncated file fails here and not later inside PIL. An EXIF orientation tag is
    applied (``PIL.ImageOps.exif_transpose``: a phone photo stored sideways comes out upright);
    a file of several frames (an animated GIF, a multi-page TIFF) is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with Image.open(path) as img:
            frames = getattr(img, "n_frames", 1)
            if frames == 1:
                # PIL decodes a 16-bit-per-channel colour file to 8-bit channels (each value's
                # high byte); the raw mode says so before the load clears it
                wide = img.mode in ("RGB", "RGBA") and any(";16" in r for r in _raw_modes(img))
                grey_alpha = _wide_grey_alpha(img)
                img.load()
                upright = ImageOps.exif_transpose(img)
                upright.info[WIDE_COLOUR] = wide
                upright.info[WIDE_GREY_ALPHA] = grey_alpha
    except PIL_ERRORS as err:
        raise ValueError(
            f"{what} {path} is not an image PIL can read ({type(err).__name__}: {err}); "
            "expected a PNG, JPEG, BMP, TIFF, GIF or WebP file"
        ) from err
    if frames != 1:
        raise ValueError(
            f"{what} {path} holds {frames} frames (an animation or a multi-page file); save "
            "the frame you want as an image of its own"
        )
    return upright


def _header(path: Path, what: str = "image file") -> tuple[tuple[int, int], str, bool]:
    """(size (W, H) as shown, after the EXIF orientation; mode; whether the header allows
    transparent pixels) from a file's header only; unreadable files raise a named ValueError."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            mode = _content_mode(img)  # (before the EXIF read: for a PNG it decodes the pixels)
            if _orientation(img) in SWAPPING_ORIENTATIONS:
                w, h = h, w
            return (w, h), mode, _may_be_transparent(img)
    except PIL_ERRORS as err:
        raise ValueError(
            f"{what} {path} is not an image PIL can read ({type(err).__name__}: {err}); "
            "expected a PNG, JPEG, BMP, TIFF, GIF or WebP file"
        ) from err


def _content_mode(img: Image.Image) -> str:
    """``img.mode``, but "L" for a palette image whose colours are all grey (r = g = b) and
    for a 16-bit grey + alpha file (which PIL decodes to RGBA)."""
    if _wide_grey_alpha(img):
        return "L"
    if img.mode in ("P", "PA"):
        palette = img.getpalette() or []
        if palette and all(palette[i] == palette[i + 1] == palette[i + 2]
                           for i in range(0, len(palette) - 2, 3)):  # fmt: skip
            return "L"
    return img.mode


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation tag (1: as stored)."""
    return int(img.getexif().get(0x0112, 1) or 1)


def _image_size_of(path: Path, what: str = "image file") -> tuple[tuple[int, int], str]:
    """(size (W, H) as shown, mode) from a file's header only (see :func:`_header`)."""
    size, mode, _ = _header(path, what)
    return size, mode


ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def _may_be_transparent(img: Image.Image) -> bool:
    """Whether the mode or header can carry transparency (alpha band or a tRNS colour)."""
    return img.mode in ALPHA_MODES or "transparency" in img.info


def check_opaque(img: Image.Image, where: str, fix: str = "") -> None:
    """Refuse an image with a transparent pixel (alpha < 255): the loaders keep only the colour
    bands, so a transparent pixel would silently become the colour stored under it (often
    black). A fully opaque alpha band (a PNG saved as RGBA) is fine."""
    if not _may_be_transparent(img) or img.mode in (*HIGH_DEPTH_MODES, "F"):
        return
    alpha = np.asarray(img.convert("LA" if img.mode in ("L", "LA", "La") else "RGBA"))[..., -1]
    clear = float((alpha < 255).mean()) if alpha.size else 0.0
    if clear:
        raise ValueError(
            f"{where} has transparent pixels ({clear:.1%} with alpha < 255); the alpha channel "
            "is not read, so they would silently take the colour stored under them (often "
            f"black). {fix or 'Flatten it onto a background first'} (e.g. with PIL: "
            "Image.alpha_composite(Image.new('RGBA', im.size, 'white'), im.convert('RGBA'))"
            ".convert('RGB')) or save it without transparency"
        )


#: a 16/32-bit grey file whose values all lie below this (at most 12 of its 16 bits used: the
#: 0/1, 8-, 10- and 12-bit data of cameras and scanners saved wide) comes out near black on the
#: 16-bit scale, which is read as it is but warned
NARROW_16BIT = 4096


def _float_grey(img: Image.Image, where: str) -> Image.Image:
    """A 16/32-bit integer or float grey image -> PIL mode ``F`` with values in [0, 1]."""
    arr = np.asarray(img.convert("F"), dtype=np.float32)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if img.mode == "F":
        if not np.isfinite(arr).all() or lo < 0 or hi > 1:
            raise ValueError(
                f"{where}: a float (mode F) image must hold values in [0, 1], got [{lo:.3g}, {hi:.3g}]"
            )
        scale = 1.0
    else:
        if lo < 0 or hi > 65535:
            raise ValueError(
                f"{where}: a {img.mode} image must hold 16-bit values 0..65535, got {lo:g}..{hi:g}"
            )
        scale = 65535.0
        if 0 < hi < NARROW_16BIT:  # 0/1, 8-, 10- or 12-bit data saved wide: near black
            bits = max(1, math.ceil(math.log2(hi + 1)))
            warnings.warn(
                f"{where}: a {img.mode} (16/32-bit) image whose values all lie in 0..{hi:g}, read "
                f"on the 16-bit scale v / 65535: it comes out near black (at most "
                f"{hi / 65535:.2%} of white); if it holds {bits}-bit values (0..{2**bits - 1}), "
                f"scale them to 0..65535 or save it as an 8-bit image",
                ConversionWarning,
                stacklevel=user_stacklevel(),
            )
    return Image.fromarray(arr / scale, mode="F")


def _prepare_pil(
    img: Image.Image, image_size: int | None, mode: str, where: str = "image"
) -> Tensor:
    """PIL image -> (C, H, W) float32 in [-1, 1], converted to ``mode`` and resized.

    8-bit images: ``v / 127.5 - 1``. 16-bit grey (``I;16``, ``I``): ``2 v / 65535 - 1`` (PIL's
    own conversion to 8 bits would clip everything above 255 to white). Float (``F``): [0, 1].
    Transparent pixels are refused (see :func:`check_opaque`).
    """
    check_opaque(img, where)
    if img.mode in (*HIGH_DEPTH_MODES, "F"):
        grey = _float_grey(img, where)
        if image_size is not None and grey.size != (image_size, image_size):
            grey = grey.resize((image_size, image_size), Image.BILINEAR)
        x = torch.from_numpy(np.array(grey, dtype=np.float32))[None].clamp(0, 1) * 2 - 1
        return x.expand(3 if mode == "RGB" else 1, -1, -1).contiguous()
    try:
        img = img.convert(mode)
    except ValueError as err:  # (e.g. LAB, YCbCr TIFFs PIL cannot convert)
        raise ValueError(
            f"{where}: its {img.mode} pixels cannot be converted to {mode} ({err}); save it as "
            "an 8-bit RGB or grey PNG or JPEG"
        ) from err
    _warn_narrow_8bit(img, where)
    if image_size is not None and img.size != (image_size, image_size):
        img = img.resize((image_size, image_size), Image.BILINEAR)
    return _uint8_to_signed(pil_to_tensor(img))


def _warn_narrow_8bit(img: Image.Image, where: str) -> None:
    """ConversionWarning for an 8-bit image that comes out near black for want of its values'
    range: a 16-bit colour file whose values use at most 12 of their bits (PIL keeps the high
    byte: at most 15 of 255), and a binary image stored as 0/1 (the mask loader refuses such a
    mask; an image is read as it is, black and near-black)."""
    hi = int(np.asarray(img).max()) if img.width and img.height else 0
    if img.info.get(WIDE_COLOUR) and hi < NARROW_16BIT >> 8:  # (0: 8-bit data, all black)
        kind = "grey + alpha" if img.info.get(WIDE_GREY_ALPHA) else "colour"
        why = (
            f"a 16-bit {kind} file whose values all lie below {(hi + 1) << 8} (at most 12 of "
            "its 16 bits), read as 8 bits (each value's high byte, at most "
            f"{hi} of 255): it comes out near black; scale its values to 0..65535 or save it "
            "as an 8-bit image"
        )
    elif hi == 1 and not img.info.get(WIDE_COLOUR):
        why = (
            "an 8-bit image holding only the values 0 and 1, read as black and near-black; if "
            "it is a binary image, save it with 0 and 255"
        )
    else:
        return
    warnings.warn(f"{where}: {why}", ConversionWarning, stacklevel=user_stacklevel())


def _as_signed_float32(x: Tensor, where: str) -> Tensor:
    """The loaders' output contract: float32 in [-1, 1]; anything else is a bug or a bad file."""
    if x.dtype == torch.uint8:
        x = _uint8_to_signed(x)
    elif x.dtype != torch.float32:
        x = x.float()
    if x.numel():
        lo, hi = float(x.min()), float(x.max())
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < -1 - 1e-4 or hi > 1 + 1e-4:
            raise ValueError(
                f"{where}: images must come out in [-1, 1], got values in [{lo:.3g}, {hi:.3g}]"
            )
    return x.clamp(-1, 1)


def _default_mode(img_mode: str) -> str:
    return "L" if img_mode in ("1", "L", "LA", "F", *HIGH_DEPTH_MODES) else "RGB"


#: a file enlarged by more than this factor in a side to the target size warns: the image
#: measured is then mostly the interpolation's (e.g. a 1x1 file made 28x28)
ENLARGE_MAX = 4


def _enlarged(size: tuple[int, int], image_size: int) -> bool:
    """Whether a (W, H) file is enlarged by more than :data:`ENLARGE_MAX` in a side."""
    return min(size) * ENLARGE_MAX < image_size


def load_image_file(
    path: str | os.PathLike, image_size: int | None = None, channels: int | None = None
) -> Tensor:
    """Read one image file -> (1, C, H, W) float32 in [-1, 1].

    ``channels``: 1 (grey) or 3 (RGB); None keeps grey files grey and makes everything else RGB.
    ``image_size`` resizes bilinearly to a square ``image_size`` x ``image_size``.
    Raises FileNotFoundError for a missing file, ValueError for a folder, a file PIL cannot
    read or one with transparent pixels (alpha < 255: the colour bands alone are read).
    Warns :class:`~ganinverse.exceptions.ConversionWarning` for a conversion that loses or
    distorts content: a colour file made grey, a non-square file stretched to a square, a file
    enlarged more than ``ENLARGE_MAX`` (4) times in a side, a 16-bit file whose values use at
    most 12 of its bits (read near black).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"image file {path} is a folder; pass one image file, or load a folder with "
            "load_images('folder', root)"
        )
    if image_size is not None:
        check_int(image_size, "image_size", low=1)
    mode = _pil_mode(channels)
    img = open_image(path)
    own = _default_mode(_content_mode(img))
    mode = mode or own
    where = f"image file {path}"
    lossy = []
    if mode == "L" and own == "RGB":
        lossy.append("a colour file converted to grey")
    w, h = img.size
    if image_size is not None and w != h:
        lossy.append(f"non-square ({w}x{h} px) stretched to {image_size}x{image_size}")
    if image_size is not None and _enlarged(img.size, image_size):
        lossy.append(
            f"enlarged from {w}x{h} px to {image_size}x{image_size} (more than {ENLARGE_MAX}x "
            "in a side): the image measured is mostly bilinear interpolation; pass a file near "
            "the generator's size"
        )
    if lossy:  # (as a folder's files are: the conversions that lose or distort content)
        warnings.warn(
            f"{where}: {'; '.join(lossy)}", ConversionWarning, stacklevel=user_stacklevel()
        )
    x = _prepare_pil(img, image_size, mode, where)
    return _as_signed_float32(x[None], where)


def save_image_file(x: Tensor, path: str | os.PathLike) -> Path:
    """Write one image in [-1, 1], shape (C, H, W) or (1, C, H, W), C in {1, 3}, as a uint8 PNG.

    Values are clamped to [-1, 1] and rounded: ``round(255 (x + 1) / 2)``. The write is atomic.
    """
    if isinstance(x, Tensor) and x.ndim == 3:
        x = x[None]
    x = check_images(x, "x")
    if x.shape[0] != 1 or x.shape[1] not in (1, 3):
        raise ValueError(f"x must hold one image with 1 or 3 channels, got shape {tuple(x.shape)}")
    arr = (to_unit(x[0].detach().float().cpu().clamp(-1, 1)) * 255).round().to(torch.uint8)
    arr = arr.permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    return atomic_write(path, lambda p: img.save(p, format="PNG"))


# ----------------------------------------------------------------------------- identity
def _hash_tensor(h, t: Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f"{t.dtype} {tuple(t.shape)}".encode())
    h.update(t.numpy().tobytes())


def _hash_files(h, root: Path, paths: list[Path]) -> None:
    """Each file's path relative to ``root`` and its bytes (a moved folder keeps its identity)."""
    for p in paths:
        data = p.read_bytes()
        h.update(f"{p.relative_to(root).as_posix()} {len(data)}\n".encode())
        h.update(data)


def _hash_items(h, ds: Dataset) -> None:
    h.update(f"{type(ds).__name__} {len(ds)}".encode())
    for i in range(len(ds)):
        item = ds[i]
        _hash_tensor(h, item[0] if isinstance(item, (tuple, list)) else item)


def fingerprint(data: Tensor | Dataset) -> str:
    """The identity of a set of images: SHA-256 (16 hex digits) of what a run reads from it.

    A tensor: its dtype, shape and values. Datasets of :func:`image_dataset`: in-memory sources
    hash their stored values; folders and CelebA hash every file's relative path and bytes (so
    moving the folder keeps the identity, replacing, adding, renaming or deleting an image
    changes it), plus the preparation (``image_size``, colour mode). A ``Subset`` hashes its
    dataset and indices. Any other Dataset is read once, item by item, and its images hashed.
    ``pretrain`` records it in each checkpoint and refuses ``--resume`` on other images.
    """
    h = hashlib.sha256()
    _fingerprint(h, data)
    return h.hexdigest()[:16]


def _fingerprint(h, data) -> None:
    if isinstance(data, Tensor):
        _hash_tensor(h, data)
    elif isinstance(data, torch.utils.data.Subset):
        _fingerprint(h, data.dataset)
        h.update(np.asarray(list(data.indices), dtype=np.int64).tobytes())
    elif hasattr(data, "fingerprint") and isinstance(data, (_TensorImages, _LazyImages)):
        data.fingerprint(h)
    elif isinstance(data, Dataset):
        _hash_items(h, data)
    else:
        raise TypeError(
            f"data must be a (N, C, H, W) tensor or a Dataset, got {type(data).__name__}"
        )


# ----------------------------------------------------------------------------- datasets
class _TensorImages(Dataset):
    """Images held in memory (uint8 0..255 or float in [-1, 1]), converted per batch on access."""

    def __init__(self, images: Tensor, labels: Tensor | None, image_size: int | None, where: str):
        self.images, self.labels, self.image_size, self.where = images, labels, image_size, where

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, start: int, stop: int) -> tuple[Tensor, Tensor | None]:
        x = _as_signed_float32(self.images[start:stop], self.where)
        labels = None if self.labels is None else self.labels[start:stop].long()
        return _resize(x, self.image_size).contiguous(), labels

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        x, y = self.batch(i, i + 1)
        return x[0], -1 if y is None else int(y[0])

    def fingerprint(self, h) -> None:
        _hash_tensor(h, self.images)
        h.update(repr(self.image_size).encode())


class _LazyImages(Dataset):
    """Images read one file at a time (image folders, CelebA JPEGs); subclasses define ``image``."""

    labels = None

    def image(self, i: int) -> Tensor:
        raise NotImplementedError

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} images")
        return self.image(i), -1

    def batch(self, start: int, stop: int) -> tuple[Tensor, None]:
        return torch.stack([self.image(i) for i in range(start, stop)]), None


class _FolderImages(_LazyImages):
    def __init__(
        self,
        root: Path,
        paths: list[Path],
        image_size: int | None,
        mode: str,
        channels_given: bool = True,
    ):
        self.root, self.paths, self.image_size, self.mode = root, paths, image_size, mode
        self.channels_given = channels_given

    def __len__(self) -> int:
        return len(self.paths)

    def verify(self, start: int = 0, stop: int | None = None) -> None:
        """Read the headers of files ``start .. stop-1``: each must be an image PIL can read and,
        without ``image_size``, all must share one size (else the batch could not be stacked);
        without ``channels``, all must be grey or all colour. Files that can hold transparency
        are decoded and refused when they do; lossy conversions (colour files made grey by
        ``channels=1``, non-square files stretched by ``image_size``) warn
        :class:`~ganinverse.exceptions.ConversionWarning` with their count."""
        paths = self.paths[start:stop]
        size0 = kind0 = None
        greyed, stretched, enlarged = [], [], []
        for p in paths:
            size, mode, transparent = _header(p)
            if transparent:  # only files that can carry transparency are decoded here
                check_opaque(open_image(p), f"image file {p}")
            kind = _default_mode(mode)
            if kind0 is None:
                kind0, first_kind = kind, p
            elif kind != kind0 and not self.channels_given:
                names = {"L": "grey", "RGB": "colour"}
                raise ValueError(
                    f"images under {self.root} mix grey and colour files ({first_kind.name}: "
                    f"{names[kind0]}, {p.name}: {names[kind]}); the first would decide for all "
                    "and the others be converted in silence: convert the files to one mode, "
                    "or pass channels=1 or 3 in the Python API (the commands that load a "
                    "generator pass its channels; ganinverse-pretrain and the commands without "
                    "a generator have no channel flag)"
                )
            if kind == "RGB" and self.mode == "L":
                greyed.append(p.name)
            if self.image_size is not None and size[0] != size[1]:
                stretched.append(p.name)
            if self.image_size is not None and _enlarged(size, self.image_size):
                enlarged.append(p.name)
            if self.image_size is None:
                if size0 is None:
                    size0, first = size, p
                elif size != size0:
                    raise ValueError(
                        f"images under {self.root} differ in size ({first.name}: {size0}, "
                        f"{p.name}: {size}, as (W, H)); pass image_size to resize every file "
                        "to one size (ganinverse-pretrain --image-size; the commands that load a "
                        "generator pass its size) or resize the files"
                    )
        for files, what in (
            (greyed, "colour files converted to grey"),
            (stretched, f"non-square files stretched to {self.image_size}x{self.image_size}"),
            (
                enlarged,
                f"files enlarged more than {ENLARGE_MAX}x in a side to "
                f"{self.image_size}x{self.image_size} (mostly bilinear interpolation)",
            ),
        ):
            if files:
                warnings.warn(
                    f"{len(files)} of {len(paths)} images under {self.root}: {what} "
                    f"({', '.join(files[:3])}{', ...' if len(files) > 3 else ''})",
                    ConversionWarning,
                    stacklevel=user_stacklevel(),
                )

    def image(self, i: int) -> Tensor:
        path = self.paths[i]
        x = _prepare_pil(open_image(path), self.image_size, self.mode, f"image file {path}")
        return _as_signed_float32(x, f"image file {path}")

    def fingerprint(self, h) -> None:
        _hash_files(h, self.root, self.paths)
        h.update(f"{self.image_size!r} {self.mode}".encode())


class _CelebAImages(_LazyImages):
    def __init__(self, ds: Dataset, image_size: int, folder: Path):
        self.ds, self.image_size, self.folder = ds, image_size, folder

    def __len__(self) -> int:
        return len(self.ds)

    def image(self, i: int) -> Tensor:
        try:
            img = self.ds[i][0]
        except PIL_ERRORS as err:
            name = self.ds.filename[i] if hasattr(self.ds, "filename") else f"#{i}"
            raise ValueError(
                f"CelebA image {self.folder / str(name)} is not an image PIL can read "
                f"({type(err).__name__}: {err}); expected an aligned 178x218 JPEG"
            ) from err
        return _as_signed_float32(celeba_crop(img, self.image_size), "celeba")

    def fingerprint(self, h) -> None:
        names = getattr(self.ds, "filename", None)
        if names is None:  # (torchvision without .filename: hash the images as decoded)
            _hash_items(h, self)
            return
        _hash_files(h, self.folder, [self.folder / str(n) for n in names])
        h.update(repr(self.image_size).encode())


# Where each source's files must be (``<root>`` is root= / --data-root). Nothing is downloaded.
LAYOUTS: dict[str, str] = {
    "mnist": "the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or the same files uncompressed) "
    "in <root>/MNIST/raw/",
    "fashion-mnist": "the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or the same files uncompressed) "
    "in <root>/FashionMNIST/raw/",
    "cifar10": "data_batch_1 ... data_batch_5, test_batch and batches.meta (CIFAR-10's python "
    "version, extracted from cifar-10-python.tar.gz) in <root>/cifar-10-batches-py/",
    "celeba": "the aligned JPEGs in <root>/celeba/img_align_celeba/ and the list files "
    "list_eval_partition.txt, identity_CelebA.txt, list_attr_celeba.txt, list_bbox_celeba.txt "
    "and list_landmarks_align_celeba.txt in <root>/celeba/",
    "celeba64": "<root>/celeba64.npz (split 'train') and <root>/celeba64_csgm_test.npz (split "
    "'test'), each with an 'images' uint8 array N x H x W x 3",
    "folder": "image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .gif, .webp) anywhere under <root>",
}


def _missing(name: str, looked: Path, root: Path, why: str = "") -> FileNotFoundError:
    where = LAYOUTS[name].replace("<root>", str(root))
    gone = "" if root.is_dir() else f" (the folder {root} does not exist)"
    return FileNotFoundError(
        f"data for {name!r} not found: looked for {looked}{why}{gone}. Put {where} "
        f"(<root> is root= / --data-root, here {root}). Nothing is downloaded."
    )


def _digits(split: str, image_size: int | None) -> _TensorImages:
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.images))
    idx = order[:DIGITS_TRAIN] if split == "train" else order[DIGITS_TRAIN:]
    x = from_unit(torch.from_numpy(digits.images[idx]).float()[:, None] / 16.0)
    labels = torch.from_numpy(digits.target[idx]).long()
    return _TensorImages(x, labels, 28 if image_size is None else image_size, f"digits {split}")


def _read_idx(path: Path) -> Tensor:
    """Read a (gzipped) uint8 IDX file: bytes 0 0 8 ndim, ndim big-endian uint32 sizes, data."""
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(
            f"{path} is not a readable gzip file ({err}); expected an IDX file"
        ) from err
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not a uint8 IDX file (bad magic number)")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated: its header is incomplete")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: header says {dims}, found {arr.size} values")
    return torch.from_numpy(arr.reshape(dims).copy())


def _mnist_like(name: str, root: Path, split: str, image_size: int | None, download: bool):
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    raw = root / cls.__name__ / "raw"
    prefix = "train" if split == "train" else "t10k"
    files = [raw / f"{prefix}-images-idx3-ubyte", raw / f"{prefix}-labels-idx1-ubyte"]
    if download or all(f.is_file() for f in files):
        try:
            ds = cls(str(root), train=split == "train", download=download)
        except (RuntimeError, ValueError, OSError) as err:
            raise ValueError(f"{name} files in {raw} could not be read ({err})") from err
        images, labels = ds.data, ds.targets
    elif all(f.with_name(f.name + ".gz").is_file() for f in files):
        images, labels = (_read_idx(f.with_name(f.name + ".gz")) for f in files)
    else:
        absent = [f.name + ".gz" for f in files if not f.with_name(f.name + ".gz").is_file()]
        raise _missing(name, raw, root, f" (split {split!r} needs {' and '.join(absent)})")
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(
            f"{name} {split} in {raw}: the images file must hold N x H x W and the labels file N "
            f"values, got {tuple(images.shape)} and {tuple(labels.shape)} (files swapped?)"
        )
    if len(images) != len(labels):
        raise ValueError(f"{name} {split}: {len(images)} images but {len(labels)} labels")
    return _TensorImages(images[:, None], labels.long(), image_size, f"{name} {split}")


def _torchvision(name: str, folder: Path, root: Path, make):
    """Build a torchvision dataset; its 'not found or corrupted' becomes our FileNotFoundError."""
    try:
        return make()
    except RuntimeError as err:
        if "not found or corrupted" not in str(err):
            raise
        raise _missing(
            name, folder, root, " (a file is missing or its MD5 checksum does not match)"
        ) from err


def _cifar10(root: Path, split: str, image_size: int | None, download: bool) -> _TensorImages:
    from torchvision import datasets

    folder = root / "cifar-10-batches-py"
    if not download and not folder.is_dir():
        raise _missing("cifar10", folder, root)
    ds = _torchvision(
        "cifar10",
        folder,
        root,
        lambda: datasets.CIFAR10(str(root), train=split == "train", download=download),
    )
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2)
    return _TensorImages(images, torch.tensor(ds.targets), image_size, f"cifar10 {split}")


def celeba_crop(img: Image.Image, image_size: int = 64) -> Tensor:
    """CSGM preprocessing of a 178x218 aligned CelebA image -> (3, S, S) in [-1, 1].

    Centre 108x108 crop (rows 55:163, columns 35:143), then bilinear resize to ``image_size``.
    """
    if img.size != (178, 218):
        raise ValueError(f"expected an aligned CelebA image of 178x218 (WxH), got {img.size}")
    return _prepare_pil(img.crop(CELEBA_CROP), image_size, "RGB")


def _celeba(root: Path, split: str, image_size: int | None, download: bool) -> _LazyImages:
    from torchvision import datasets

    folder = root / "celeba" / "img_align_celeba"
    if not download and not folder.is_dir():
        raise _missing("celeba", folder, root)
    ds = _torchvision(
        "celeba",
        root / "celeba",
        root,
        lambda: datasets.CelebA(str(root), split=split, target_type=[], download=download),
    )
    return _CelebAImages(ds, 64 if image_size is None else image_size, folder)


def _celeba64(root: Path, split: str, image_size: int | None) -> _TensorImages:
    path = root / ("celeba64.npz" if split == "train" else "celeba64_csgm_test.npz")
    if not path.is_file():
        raise _missing("celeba64", path, root)
    bad = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)
    try:
        npz = np.load(path)  # allow_pickle=False: never unpickles
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError(f"it holds a single {type(npz).__name__}, not an archive")
        with npz:
            names = sorted(npz.files)
            arr = npz["images"] if "images" in names else None
    except bad as err:
        raise ValueError(
            f"{path} is not a readable .npz file ({type(err).__name__}: {err}); expected "
            "np.savez output with an 'images' uint8 array N x H x W x 3"
        ) from err
    if arr is None:
        raise ValueError(f"{path} has no 'images' array (found {names})")
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(
            f"{path}: 'images' must be uint8 N x H x W x 3, got {arr.dtype} {arr.shape}"
        )
    return _TensorImages(
        torch.from_numpy(arr).permute(0, 3, 1, 2), None, image_size, f"celeba64 {split}"
    )


def folder_files(root: str | os.PathLike) -> list[str]:
    """The image files ``load_images("folder", root)`` reads, in its order, as paths relative
    to ``root`` (POSIX separators): what each output of a folder run came from."""
    ds = _folder(Path(root), None, None)
    return [p.relative_to(ds.root).as_posix() for p in ds.paths]


def _folder(root: Path, image_size: int | None, channels: int | None) -> _FolderImages:
    if not root.is_dir():
        raise _missing("folder", root, root)
    found = [p for p in root.rglob("*") if p.is_file()]
    paths = sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        others = sorted({p.suffix.lower() or p.name for p in found})[:5]
        what = f"only {len(found)} other file(s) ({', '.join(others)})" if found else "nothing"
        raise FileNotFoundError(
            f"no {'/'.join(IMAGE_SUFFIXES)} images found under {root}: it holds {what}. Put "
            f"{LAYOUTS['folder'].replace('<root>', str(root))} (--data-root, or --image for a "
            "folder of inputs)"
        )
    mode = _pil_mode(channels)
    if mode is None:
        mode = _default_mode(_image_size_of(paths[0])[1])
    return _FolderImages(root, paths, image_size, mode, channels_given=channels is not None)


def _check_root(name: str, root: object) -> Path:
    if root is None:
        raise ValueError(
            f"root (the data folder; CLI --data-root) is required for {name!r}: "
            f"pass the folder that holds {LAYOUTS[name]}"
        )
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a str or path, got {type(root).__name__}")
    if str(root).strip() == "":
        raise ValueError(
            f"root (the data folder; CLI --data-root) is empty: pass the folder that holds "
            f"{LAYOUTS[name]}"
        )
    if Path(root).is_file():
        raise ValueError(
            f"root (the data folder; CLI --data-root) {str(root)!r} is a file, expected a "
            f"folder: pass the folder that holds {LAYOUTS[name]}"
        )
    return Path(root)


def _open(
    name: str,
    root: str | os.PathLike | None,
    split: str | None,
    image_size: int | None,
    download: bool,
    channels: int | None,
    verify: bool = True,
):
    check_choice(name, "dataset", SOURCES)
    split = SOURCES[name][0] if split is None else split
    check_choice(split, f"split for {name!r}", SOURCES[name])
    if image_size is not None:
        check_int(image_size, "image_size", low=1)
    if channels is not None and name != "folder":
        raise ValueError(f"channels only applies to name='folder', not {name!r}")
    if name == "digits":
        if root is not None or download:
            flag = "root (CLI --data-root)" if root is not None else "download"
            raise ValueError(
                f"{flag} does not apply to 'digits': scikit-learn's embedded digits read no "
                "folder; drop it"
            )
        return _digits(split, image_size)
    root = _check_root(name, root)
    if name in ("mnist", "fashion-mnist"):
        return _mnist_like(name, root, split, image_size, download)
    if name == "cifar10":
        return _cifar10(root, split, image_size, download)
    if name == "celeba":
        return _celeba(root, split, image_size, download)
    if name == "celeba64":
        return _celeba64(root, split, image_size)
    ds = _folder(root, image_size, channels)
    if verify:
        ds.verify()
    return ds


def image_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    split: str | None = None,
    image_size: int | None = None,
    *,
    download: bool = False,
    channels: int | None = None,
) -> Dataset:
    """A Dataset of ``(image, label)``: image (C, H, W) float32 in [-1, 1], label int (-1 if none).

    ``split=None`` is the source's first split ('train'; 'all' for a folder). Small sources are held
    in memory as uint8 and converted per item; folders and CelebA are read lazily, file by file
    (every folder file's header is checked here, so a non-image fails now, naming the file).
    ``download=True`` lets torchvision fetch (or, offline, md5-check and extract) its datasets.
    """
    return _open(name, root, split, image_size, download, channels)


def dataset_size(
    name: str,
    root: str | os.PathLike | None = None,
    split: str | None = None,
    *,
    channels: int | None = None,
) -> int:
    """Number of images in a split (cheap for folders: files are counted, not read).

    Commands call it to check ``n`` / ``start`` before they load a generator or write anything.
    """
    return len(_open(name, root, split, None, False, channels, verify=False))


def _check_selection(
    n: int,
    start: int,
    total: int,
    name: str,
    split: str,
    n_flag: str = "--n / --n-images",
    start_flag: str = "--start / --index",
) -> None:
    """``start .. start+n-1`` must lie inside a split of ``total`` images; say the fix if not."""
    what = f"{name!r} split {split!r}"
    if total == 0:
        raise ValueError(f"{what} holds no images")
    if start >= total:
        raise ValueError(
            f"start={start} is beyond the {total} images of {what} (valid: 0..{total - 1}); "
            f"pass a smaller start (CLI {start_flag})"
        )
    if start + n > total:
        raise ValueError(
            f"n out of range: n={n} images from start={start} need {start + n}, but {what} holds "
            f"{total}; pass n <= {total - start} (CLI {n_flag})"
        )


def trained_on(model) -> str | None:
    """The dataset a model's card records it was trained on (``checkpoint_config["dataset"]``),
    or None when not recorded."""
    return (getattr(model, "checkpoint_config", None) or {}).get("dataset")


def other_dataset(card: str | None, dataset: str | None) -> bool:
    """Whether a card's training dataset and the images' ``dataset`` are two different known
    datasets (either unknown or unrecorded: not judged)."""
    return card in SOURCES and dataset in SOURCES and card != dataset


def warn_trained_on(G, name: str, dataset: str | None) -> str | None:
    """Warn :class:`~ganinverse.exceptions.DatasetMismatchWarning` when the generator ``G``'s
    card records another known dataset than ``dataset`` (None: images from a file, not judged);
    returns the card's dataset (None when not recorded or no G), for the run's summary."""
    from .exceptions import DatasetMismatchWarning

    card = trained_on(G)
    if other_dataset(card, dataset):
        warnings.warn(
            f"the generator {name} was trained on {card}, the images come from {dataset}: its "
            f"prior is {card}'s, so the results measure images outside its training data; "
            f"pass a generator trained on {dataset} unless that is the experiment",
            DatasetMismatchWarning,
            stacklevel=user_stacklevel(),
        )
    return card


def check_trained_on(model, flag: str, name: str, dataset: str, kind: str) -> None:
    """Refuse a generator or classifier whose card records (``checkpoint_config["dataset"]``)
    that it was trained on another known dataset than ``--dataset``: a classifier's accuracy
    there, and a projection onto another dataset's range, mean nothing. A model without that
    record (e.g. a user's own checkpoint) is judged by its image shape alone."""
    card = trained_on(model)
    if other_dataset(card, dataset):
        make = "ganinverse train-classifier" if kind == "classifier" else "ganinverse-pretrain"
        raise ValueError(
            f"{flag} {name} was trained on {card}, but --dataset is {dataset}: "
            + (
                "its accuracy there means nothing"
                if kind == "classifier"
                else f"{dataset} images would be mapped onto the range of a {card} generator"
            )
            + f"; pass --dataset {card} or a {kind} trained on {dataset} ({make})"
        )


def load_images(
    name: str,
    root: str | os.PathLike | None = None,
    split: str | None = None,
    n: int | None = None,
    start: int = 0,
    image_size: int | None = None,
    *,
    download: bool = False,
    channels: int | None = None,
    n_flag: str = "--n / --n-images",
    start_flag: str = "--start / --index",
) -> tuple[Tensor, Tensor | None]:
    """Images ``start .. start+n-1`` of a split -> (x, labels).

    x: (n, C, H, W) float32 in [-1, 1]; labels: (n,) int64, or None for unlabelled sources.
    ``n=None`` takes everything from ``start`` on. ``n`` / ``start`` beyond the split raise a
    ValueError with its size (for folders before any file is read; only the selected files are);
    ``n_flag`` / ``start_flag``: the command-line flags that set n and start, named in that
    message.
    See the module docstring for sources and layouts.
    """
    check_int(start, "start", low=0)
    if n is not None:
        check_int(n, "n", low=1)
    ds = _open(name, root, split, image_size, download, channels, verify=False)
    split = SOURCES[name][0] if split is None else split
    total = len(ds)
    if n is None:
        n = max(total - start, 1)
    _check_selection(n, start, total, name, split, n_flag, start_flag)
    if isinstance(ds, _FolderImages):
        ds.verify(start, start + n)
    x, labels = ds.batch(start, start + n)
    return _as_signed_float32(x, f"{name!r} split {split!r}"), labels


def load_validation_images(
    name: str, root: str | os.PathLike | None, n_val: int, val_start: int = 0
) -> Tensor:
    """The ``n_val`` train-split images from ``val_start`` that a weight search scores its
    candidates on (``sweep``'s and ``tune``'s), (n_val, C, H, W) in [-1, 1]. Errors of the
    dataset itself (no such dataset, files missing, no train split) come as they are; too few
    images as a ValueError naming ``--n-val`` and ``--val-start`` with the split's size."""
    load_images(name, root, "train", n=1)
    try:
        images, _ = load_images(
            name, root, "train", n=n_val, start=val_start, n_flag="--n-val",
            start_flag="--val-start",
        )  # fmt: skip
    except ValueError as err:
        what = (
            f"the validation images (--n-val {n_val} from --val-start {val_start})"
            if val_start
            else f"n_val = {n_val} validation images"
        )
        raise ValueError(f"{what} from the train split: {err}") from err
    return images


__all__ = [
    "SOURCES",
    "celeba_crop",
    "dataset_size",
    "fingerprint",
    "from_unit",
    "image_dataset",
    "load_image_file",
    "load_images",
    "load_validation_images",
    "open_image",
    "save_image_file",
    "to_unit",
]
