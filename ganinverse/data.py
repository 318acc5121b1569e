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
Sources with labels: digits, mnist, fashion-mnist, cifar10. The others give ``labels = None`` from
:func:`load_images` and the label ``-1`` from :func:`image_dataset` (so DataLoader can collate it).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms.functional import pil_to_tensor

from ganinverse._validation import check_images, check_int
from ganinverse.io import atomic_write

SOURCES: dict[str, tuple[str, ...]] = {
    "digits": ("train", "test"),
    "mnist": ("train", "test"),
    "fashion-mnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "celeba": ("train", "valid", "test", "all"),
    "celeba64": ("train", "test"),
    "folder": ("all",),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
DIGITS_TRAIN = 1500  # digits split: first 1500 of a seed-0 permutation train, last 297 test
CELEBA_CROP = (35, 55, 143, 163)  # PIL box (left, top, right, bottom): CSGM's centre 108x108 crop


# ----------------------------------------------------------------------------- conversions
def to_unit(x: Tensor) -> Tensor:
    """Map [-1, 1] -> [0, 1]: ``(x + 1) / 2``."""
    return (x + 1) / 2


def from_unit(x: Tensor) -> Tensor:
    """Map [0, 1] -> [-1, 1]: ``2 x - 1``."""
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


def _prepare_pil(img: Image.Image, image_size: int | None, mode: str) -> Tensor:
    """PIL image -> (C, H, W) float32 in [-1, 1], converted to ``mode`` and resized."""
    img = img.convert(mode)
    if image_size is not None and img.size != (image_size, image_size):
        img = img.resize((image_size, image_size), Image.BILINEAR)
    return _uint8_to_signed(pil_to_tensor(img))


def _default_mode(img: Image.Image) -> str:
    return "L" if img.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"


def load_image_file(
    path: str | os.PathLike, image_size: int | None = None, channels: int | None = None
) -> Tensor:
    """Read one image file -> (1, C, H, W) float32 in [-1, 1].

    ``channels``: 1 (grey) or 3 (RGB); None keeps grey files grey and makes everything else RGB.
    ``image_size`` resizes bilinearly to a square ``image_size`` x ``image_size``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    if image_size is not None:
        check_int(image_size, "image_size", low=1)
    mode = _pil_mode(channels)
    with Image.open(path) as img:
        return _prepare_pil(img, image_size, mode or _default_mode(img))[None]


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


# ----------------------------------------------------------------------------- datasets
class _TensorImages(Dataset):
    """Images held in memory (uint8 0..255 or float in [-1, 1]), converted per batch on access."""

    def __init__(self, images: Tensor, labels: Tensor | None, image_size: int | None):
        self.images, self.labels, self.image_size = images, labels, image_size

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, start: int, stop: int) -> tuple[Tensor, Tensor | None]:
        x = self.images[start:stop]
        x = _uint8_to_signed(x) if x.dtype == torch.uint8 else x.float()
        labels = None if self.labels is None else self.labels[start:stop].long()
        return _resize(x, self.image_size).contiguous(), labels

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        x, y = self.batch(i, i + 1)
        return x[0], -1 if y is None else int(y[0])


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
    def __init__(self, paths: list[Path], image_size: int | None, mode: str):
        self.paths, self.image_size, self.mode = paths, image_size, mode

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, i: int) -> Tensor:
        with Image.open(self.paths[i]) as img:
            return _prepare_pil(img, self.image_size, self.mode)


class _CelebAImages(_LazyImages):
    def __init__(self, ds: Dataset, image_size: int):
        self.ds, self.image_size = ds, image_size

    def __len__(self) -> int:
        return len(self.ds)

    def image(self, i: int) -> Tensor:
        return celeba_crop(self.ds[i][0], self.image_size)


def _missing(name: str, looked: Path, layout: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"data for {name!r} not found: looked for {looked}. Expected layout: {layout}. "
        "Point --data-root (root=) at a copy"
        + (", or pass --download (download=True) to fetch it." if name != "celeba64" else ".")
    )


def _digits(split: str, image_size: int | None) -> _TensorImages:
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.images))
    idx = order[:DIGITS_TRAIN] if split == "train" else order[DIGITS_TRAIN:]
    x = from_unit(torch.from_numpy(digits.images[idx]).float()[:, None] / 16.0)
    labels = torch.from_numpy(digits.target[idx]).long()
    return _TensorImages(x, labels, 28 if image_size is None else image_size)


def _read_idx(path: Path) -> Tensor:
    """Read a (gzipped) uint8 IDX file: bytes 0 0 8 ndim, ndim big-endian uint32 sizes, data."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not a uint8 IDX file (bad magic number)")
    ndim = data[3]
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
        ds = cls(str(root), train=split == "train", download=download)
        images, labels = ds.data, ds.targets
    elif all(f.with_name(f.name + ".gz").is_file() for f in files):
        images, labels = (_read_idx(f.with_name(f.name + ".gz")) for f in files)
    else:
        raise _missing(
            name,
            raw,
            f"{raw}/{prefix}-images-idx3-ubyte[.gz] and "
            f"{prefix}-labels-idx1-ubyte[.gz] (torchvision's layout)",
        )
    if len(images) != len(labels):
        raise ValueError(f"{name} {split}: {len(images)} images but {len(labels)} labels")
    return _TensorImages(images[:, None], labels.long(), image_size)


def _cifar10(root: Path, split: str, image_size: int | None, download: bool) -> _TensorImages:
    from torchvision import datasets

    folder = root / "cifar-10-batches-py"
    if not download and not folder.is_dir():
        raise _missing("cifar10", folder, "root/cifar-10-batches-py/data_batch_1..5, test_batch")
    ds = datasets.CIFAR10(str(root), train=split == "train", download=download)
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2)
    return _TensorImages(images, torch.tensor(ds.targets), image_size)


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
        raise _missing(
            "celeba",
            folder,
            "root/celeba/img_align_celeba/*.jpg plus "
            "list_eval_partition.txt and the other list files (torchvision's layout)",
        )
    ds = datasets.CelebA(str(root), split=split, target_type=[], download=download)
    return _CelebAImages(ds, 64 if image_size is None else image_size)


def _celeba64(root: Path, split: str, image_size: int | None) -> _TensorImages:
    path = root / ("celeba64.npz" if split == "train" else "celeba64_csgm_test.npz")
    if not path.is_file():
        raise _missing(
            "celeba64",
            path,
            "root/celeba64.npz (train) and "
            "root/celeba64_csgm_test.npz (test), each with an 'images' uint8 "
            "array N x H x W x 3",
        )
    with np.load(path) as npz:
        if "images" not in npz:
            raise ValueError(f"{path} has no 'images' array (found {sorted(npz.files)})")
        arr = npz["images"]
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(
            f"{path}: 'images' must be uint8 N x H x W x 3, got {arr.dtype} {arr.shape}"
        )
    return _TensorImages(torch.from_numpy(arr).permute(0, 3, 1, 2), None, image_size)


def _folder(root: Path, image_size: int | None, channels: int | None) -> _LazyImages:
    if not root.is_dir():
        raise _missing("folder", root, "a folder of .png/.jpg/.jpeg/.bmp files (any depth)")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no {'/'.join(IMAGE_SUFFIXES)} images found under {root}")
    with Image.open(paths[0]) as first:
        mode, size0 = _pil_mode(channels) or _default_mode(first), first.size
    if image_size is None:
        for p in paths:
            with Image.open(p) as img:
                if img.size != size0:
                    raise ValueError(
                        f"images under {root} differ in size ({paths[0].name}: "
                        f"{size0}, {p.name}: {img.size}); pass image_size"
                    )
    return _FolderImages(paths, image_size, mode)


def _open(
    name: str,
    root: str | os.PathLike | None,
    split: str | None,
    image_size: int | None,
    download: bool,
    channels: int | None,
):
    if name not in SOURCES:
        raise ValueError(
            f"dataset name must be one of {', '.join(map(repr, SOURCES))}; got {name!r}"
        )
    split = SOURCES[name][0] if split is None else split
    if split not in SOURCES[name]:
        raise ValueError(
            f"split for {name!r} must be one of "
            f"{', '.join(map(repr, SOURCES[name]))}; got {split!r}"
        )
    if image_size is not None:
        check_int(image_size, "image_size", low=1)
    if channels is not None and name != "folder":
        raise ValueError(f"channels only applies to name='folder', not {name!r}")
    if name == "digits":
        return _digits(split, image_size)
    if root is None:
        raise ValueError(f"root is required for {name!r}: pass the data folder (--data-root)")
    root = Path(root)
    if name in ("mnist", "fashion-mnist"):
        return _mnist_like(name, root, split, image_size, download)
    if name == "cifar10":
        return _cifar10(root, split, image_size, download)
    if name == "celeba":
        return _celeba(root, split, image_size, download)
    if name == "celeba64":
        return _celeba64(root, split, image_size)
    return _folder(root, image_size, channels)


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
    in memory as uint8 and converted per item; folders and CelebA are read lazily, file by file.
    ``download=True`` lets torchvision fetch (or, offline, md5-check and extract) its datasets.
    """
    return _open(name, root, split, image_size, download, channels)


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
) -> tuple[Tensor, Tensor | None]:
    """Images ``start .. start+n-1`` of a split -> (x, labels).

    x: (n, C, H, W) float32 in [-1, 1]; labels: (n,) int64, or None for unlabelled sources.
    ``n=None`` takes everything from ``start`` on. See the module docstring for sources and layouts.
    """
    ds = _open(name, root, split, image_size, download, channels)
    total = len(ds)
    check_int(start, "start", low=0, high=max(total - 1, 0))
    if n is None:
        n = total - start
    check_int(n, "n", low=1)
    if start + n > total:
        raise ValueError(
            f"n out of range: start={start} + n={n} exceeds the {total} images of "
            f"{name!r} split {split or SOURCES[name][0]!r}"
        )
    return ds.batch(start, start + n)


__all__ = [
    "SOURCES",
    "celeba_crop",
    "from_unit",
    "image_dataset",
    "load_image_file",
    "load_images",
    "save_image_file",
    "to_unit",
]
