"""Tests for ganinverse.data: every source on tiny generated files; no /work/shared, no network."""

from __future__ import annotations

import gzip
import struct
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ganinverse import data


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _fake_mnist(root, folder="MNIST", n_train=7, n_test=5, gz=True, seed=0):
    """Write tiny IDX files in torchvision's layout; return the uint8 images/labels written."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    written = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = raw / f"{prefix}-{kind}-ubyte"
            if gz:
                with gzip.open(name.with_name(name.name + ".gz"), "wb") as f:
                    f.write(_idx_bytes(arr))
            else:
                name.write_bytes(_idx_bytes(arr))
        written[prefix] = (images, labels)
    return written


# ----------------------------------------------------------------------------- conversions
def test_unit_conversions_are_inverse():
    x = torch.linspace(-1, 1, 11)
    assert torch.allclose(data.to_unit(x), torch.linspace(0, 1, 11))
    assert torch.allclose(data.from_unit(data.to_unit(x)), x, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3])
def test_save_then_load_image_file_roundtrips(tmp_path, channels):
    levels = torch.randint(0, 256, (1, channels, 6, 5), generator=torch.Generator().manual_seed(0))
    x = levels.float() / 127.5 - 1
    path = data.save_image_file(x, tmp_path / "sub" / "img.png")
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    back = data.load_image_file(path)
    assert back.shape == (1, channels, 6, 5) and back.dtype == torch.float32
    assert torch.allclose(back, x, atol=1e-6)
    assert data.load_image_file(path, channels=3).shape == (1, 3, 6, 5)
    assert data.load_image_file(path, image_size=4).shape == (1, channels, 4, 4)


def test_save_image_file_rejects_batches_and_load_missing_file(tmp_path):
    with pytest.raises(ValueError, match="one image"):
        data.save_image_file(torch.zeros(2, 1, 4, 4), tmp_path / "a.png")
    with pytest.raises(FileNotFoundError, match="nope.png"):
        data.load_image_file(tmp_path / "nope.png")
    with pytest.raises(ValueError, match="channels"):
        data.load_image_file(
            data.save_image_file(torch.zeros(1, 4, 4), tmp_path / "b.png"), channels=2
        )


# ----------------------------------------------------------------------------- digits
def test_digits_splits_are_fixed_disjoint_and_scaled():
    from sklearn.datasets import load_digits

    xtr, ytr = data.load_images("digits", split="train", image_size=8)
    xte, yte = data.load_images("digits", split="test", image_size=8)
    assert xtr.shape == (1500, 1, 8, 8) and xte.shape == (297, 1, 8, 8)
    assert ytr.dtype == torch.int64 and yte.shape == (297,)
    ref = load_digits()
    order = np.random.default_rng(0).permutation(1797)
    expect = torch.from_numpy(ref.images[order[:1500]]).float()[:, None] / 8 - 1
    assert torch.allclose(xtr, expect)
    assert torch.equal(yte, torch.from_numpy(ref.target[order[1500:]]))
    # every original image lands in exactly one split
    both = torch.cat([xtr, xte]).flatten(1)
    assert (
        torch.unique(both, dim=0).shape[0]
        == torch.unique(torch.from_numpy(ref.images).flatten(1), dim=0).shape[0]
    )


def test_digits_default_size_slice_and_range():
    x, y = data.load_images("digits", split="test", n=4, start=10)
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    full, labels = data.load_images("digits", split="test")
    assert torch.equal(x, full[10:14]) and torch.equal(y, labels[10:14])


# ----------------------------------------------------------------------------- errors
def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="'digits'.*'mnist'.*'folder'"):
        data.load_images("imagenet")
    with pytest.raises(ValueError, match="split.*'train', 'test'"):
        data.load_images("digits", split="valid")
    with pytest.raises(ValueError, match="n out of range"):
        data.load_images("digits", split="test", n=10, start=290)
    with pytest.raises(ValueError, match="start"):
        data.load_images("digits", split="test", start=297)
    with pytest.raises(ValueError, match="n must be >= 1"):
        data.load_images("digits", n=0)
    with pytest.raises(ValueError, match="root .* is required"):
        data.load_images("mnist")
    for name, expected in [
        ("mnist", "MNIST/raw"),
        ("fashion-mnist", "FashionMNIST/raw"),
        ("cifar10", "cifar-10-batches-py"),
        ("celeba", "img_align_celeba"),
        ("celeba64", "celeba64.npz"),
        ("folder", str(tmp_path / "x")),
    ]:
        root = tmp_path / "x" if name == "folder" else tmp_path
        with pytest.raises(FileNotFoundError, match=expected):
            data.load_images(name, root)


# ----------------------------------------------------------------------------- MNIST layout
@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_reads_gz_only_layout(tmp_path, name, folder):
    written = _fake_mnist(tmp_path, folder)
    x, y = data.load_images(name, tmp_path, split="test", n=3, start=1)
    images, labels = written["t10k"]
    assert x.shape == (3, 1, 28, 28) and y.dtype == torch.int64
    assert torch.allclose(x, torch.from_numpy(images[1:4]).float()[:, None] / 127.5 - 1)
    assert torch.equal(y, torch.from_numpy(labels[1:4]).long())
    assert len(data.image_dataset(name, tmp_path)) == 7
    assert not (tmp_path / folder / "raw" / "t10k-images-idx3-ubyte").exists()  # nothing written


def test_mnist_uncompressed_goes_through_torchvision_and_matches_gz(tmp_path):
    _fake_mnist(tmp_path / "gz", gz=True, seed=3)
    _fake_mnist(tmp_path / "raw", gz=False, seed=3)
    a = data.load_images("mnist", tmp_path / "gz", image_size=14)
    b = data.load_images("mnist", tmp_path / "raw", image_size=14)
    assert a[0].shape == (7, 1, 14, 14)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_mnist_corrupt_idx_raises(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for kind in ("images-idx3", "labels-idx1"):
        with gzip.open(raw / f"train-{kind}-ubyte.gz", "wb") as f:
            f.write(b"\x00\x00\x08\x01" + struct.pack(">I", 50) + b"\x01\x02")
    with pytest.raises(ValueError, match="truncated"):
        data.load_images("mnist", tmp_path)


# ----------------------------------------------------------------------------- celeba
def _fake_npz(root, n, name):
    images = np.random.default_rng(n).integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
    np.savez(root / name, images=images, names=np.array([f"{i:06d}.jpg" for i in range(n)]))
    return images


def test_celeba64_npz_train_and_test(tmp_path):
    train = _fake_npz(tmp_path, 6, "celeba64.npz")
    test = _fake_npz(tmp_path, 3, "celeba64_csgm_test.npz")
    x, y = data.load_images("celeba64", tmp_path)
    assert y is None and x.shape == (6, 3, 8, 8)
    assert torch.allclose(x, torch.from_numpy(train).permute(0, 3, 1, 2).float() / 127.5 - 1)
    xt, _ = data.load_images("celeba64", tmp_path, split="test", image_size=4)
    assert xt.shape == (3, 3, 4, 4)
    pil = np.stack([np.asarray(Image.fromarray(im).resize((4, 4), Image.BILINEAR)) for im in test])
    ref = torch.from_numpy(pil).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert (xt - ref).abs().max() <= 1.01 / 127.5  # antialiased bilinear, as PIL, within 1 level
    assert data.image_dataset("celeba64", tmp_path)[2][1] == -1


def test_celeba64_bad_npz_raises(tmp_path):
    np.savez(tmp_path / "celeba64.npz", pictures=np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="no 'images'"):
        data.load_images("celeba64", tmp_path)


def test_celeba_crop_takes_csgm_centre():
    arr = np.random.default_rng(0).integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
    crop = data.celeba_crop(Image.fromarray(arr), image_size=108)
    expect = torch.from_numpy(arr[55:163, 35:143]).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(crop, expect)
    assert data.celeba_crop(Image.fromarray(arr)).shape == (3, 64, 64)
    with pytest.raises(ValueError, match="178x218"):
        data.celeba_crop(Image.fromarray(arr[:100]))


# ----------------------------------------------------------------------------- folder
def test_folder_sorted_channels_and_sizes(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "b").mkdir()
    grey = [rng.integers(0, 256, size=(6, 6), dtype=np.uint8) for _ in range(3)]
    Image.fromarray(grey[0]).save(tmp_path / "b" / "z.png")
    Image.fromarray(grey[1]).save(tmp_path / "a.png")
    Image.fromarray(grey[2]).save(tmp_path / "c.bmp")
    (tmp_path / "notes.txt").write_text("not an image")
    x, y = data.load_images("folder", tmp_path)
    assert y is None and x.shape == (3, 1, 6, 6)
    order = [grey[1], grey[0], grey[2]]  # a.png, b/z.png, c.bmp
    assert torch.allclose(x[:, 0], torch.from_numpy(np.stack(order)).float() / 127.5 - 1)
    rgb, _ = data.load_images("folder", tmp_path, channels=3, image_size=4, n=2, start=1)
    assert rgb.shape == (2, 3, 4, 4)
    Image.fromarray(rng.integers(0, 256, size=(5, 7), dtype=np.uint8)).save(tmp_path / "d.jpg")
    with pytest.raises(ValueError, match="differ in size.*image_size"):
        data.load_images("folder", tmp_path)
    assert data.load_images("folder", tmp_path, image_size=5)[0].shape == (4, 1, 5, 5)
    with pytest.raises(ValueError, match="split for 'folder'"):
        data.load_images("folder", tmp_path, split="train")
    with pytest.raises(ValueError, match="channels only applies"):
        data.load_images("digits", channels=1)


def test_empty_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .png.*holds nothing"):
        data.load_images("folder", tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "dir.png").mkdir()  # a folder named like an image is not an image
    with pytest.raises(FileNotFoundError, match=r"no .png.*1 other file\(s\) \(.txt\)"):
        data.load_images("folder", tmp_path)


# ----------------------------------------------------------------------------- Dataset
def test_image_dataset_works_with_dataloader(tmp_path):
    ds = data.image_dataset("digits", split="test", image_size=16)
    x, y = next(iter(DataLoader(ds, batch_size=8, shuffle=False)))
    ref_x, ref_y = data.load_images("digits", split="test", n=8, image_size=16)
    assert x.shape == (8, 1, 16, 16) and torch.equal(x, ref_x) and torch.equal(y, ref_y)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((4, 4), 255, np.uint8)).save(tmp_path / "b.png")
    x, y = next(iter(DataLoader(data.image_dataset("folder", tmp_path), batch_size=2)))
    assert torch.equal(y, torch.tensor([-1, -1]))
    assert torch.equal(x.flatten(1).mean(1), torch.tensor([-1.0, 1.0]))
    with pytest.raises(IndexError):
        data.image_dataset("folder", tmp_path)[2]


# ----------------------------------------------------------------------------- errors at the boundary
def _write_bad(path, kind):
    """A file named like an image that is not one: text, empty, or a truncated PNG."""
    if kind == "text":
        path.write_text("this is not an image")
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(path)
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    return path


def _folder_with(tmp_path, bad):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    return tmp_path


# Every entry point that reads an image file the user names (API and the CLI's --image, --mask,
# --dataset folder) must name the file and say what was expected, never show a PIL traceback.
FILE_ENTRY_POINTS = {
    "load_image_file": lambda p: data.load_image_file(p),
    "load_images(folder)": lambda p: data.load_images("folder", p.parent),
    "load_images(folder, n=1, start=1)": lambda p: data.load_images(
        "folder", p.parent, n=1, start=1
    ),
    "image_dataset(folder)": lambda p: data.image_dataset("folder", p.parent),
    "image_dataset(folder)[i]": lambda p: data.image_dataset("folder", p.parent, image_size=8)[1],
    "parse_mask": lambda p: __import__("ganinverse.masks").masks.parse_mask(str(p), 1, (1, 28, 28)),
    "mask_from_file": lambda p: __import__("ganinverse.masks").masks.mask_from_file(p, (1, 28, 28)),
}


@pytest.mark.parametrize("entry", FILE_ENTRY_POINTS)
@pytest.mark.parametrize("kind", ["text", "empty", "truncated"])
def test_files_that_are_not_images_are_named(tmp_path, entry, kind):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    bad = _write_bad(tmp_path / "b.png", kind)
    if kind == "truncated" and entry == "image_dataset(folder)":
        pytest.skip("the header of a truncated PNG is intact; its pixels fail when read ([i])")
    with pytest.raises(ValueError) as err:
        FILE_ENTRY_POINTS[entry](bad)
    msg = str(err.value)
    assert str(bad) in msg and "is not an image PIL can read" in msg and "expected a PNG" in msg


def test_a_folder_passed_as_an_image_file(tmp_path):
    with pytest.raises(ValueError, match="is a folder.*load_images\\('folder'"):
        data.load_image_file(tmp_path)
    with pytest.raises(TypeError, match="path must be a str or path"):
        data.load_image_file(3)


@pytest.mark.parametrize(
    "name,files",
    [
        ("mnist", ["MNIST/raw", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
        ("fashion-mnist", ["FashionMNIST/raw", "train-labels-idx1-ubyte.gz"]),
        ("cifar10", ["cifar-10-batches-py", "data_batch_1", "test_batch", "batches.meta"]),
        ("celeba", ["celeba/img_align_celeba", "list_eval_partition.txt"]),
        ("celeba64", ["celeba64.npz", "celeba64_csgm_test.npz", "'images' uint8"]),
        ("folder", ["image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .gif, .webp)"]),
    ],
)
def test_data_not_found_says_where_to_put_the_files_and_never_to_download(tmp_path, name, files):
    root = tmp_path / "data"
    for where in (root, tmp_path):  # a root that does not exist, and one without the data
        with pytest.raises(FileNotFoundError) as err:
            data.load_images(name, where)
        msg = str(err.value)
        assert "download" not in msg.replace("Nothing is downloaded", "")
        assert all(f in msg for f in files) and str(where) in msg
    assert "does not exist" in str(
        pytest.raises(FileNotFoundError, data.load_images, name, root).value
    )
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded"):
        data.dataset_size(name, root)


def test_torchvision_integrity_failure_becomes_our_message(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"junk")
    with pytest.raises(FileNotFoundError, match="MD5 checksum.*data_batch_1") as err:
        data.load_images("cifar10", tmp_path)
    assert "download=True" not in str(err.value)


@pytest.mark.parametrize(
    "name", ["mnist", "fashion-mnist", "cifar10", "celeba", "celeba64", "folder"]
)
@pytest.mark.parametrize("entry", [data.load_images, data.image_dataset, data.dataset_size])
def test_missing_root_names_data_root_and_the_flag(name, entry):
    with pytest.raises(
        ValueError, match=rf"root \(the data folder; CLI --data-root\) is required for '{name}'"
    ):
        entry(name)
    with pytest.raises(TypeError, match="root must be a str or path"):
        entry(name, 3)


@pytest.mark.parametrize("entry", [data.load_images, data.image_dataset, data.dataset_size])
@pytest.mark.parametrize("name", ["imagenet", "MNIST", "", None, 3])
def test_unknown_dataset_names_list_the_known_ones(entry, name):
    # (a name that is no str is a TypeError, with the same list: helper-73; an empty one says
    # so: helper-74)
    with pytest.raises(
        ValueError if isinstance(name, str) else TypeError,
        match=r"^dataset (must be (a str, )?one of|is empty \(''\): pass one of) 'digits', "
        r"'mnist'.*'folder'",
    ):
        entry(name)


def _tiny_folder(root, n=5, bad_last=True):
    for i in range(n):
        Image.fromarray(np.full((6, 6), 40 * i, np.uint8)).save(root / f"{i}.png")
    if bad_last:
        (root / "z.png").write_text("not an image, and never read when n/start are wrong")
    return root


@pytest.mark.parametrize(
    "source",
    ["digits", "folder", "mnist", "celeba64"],
)
def test_n_and_start_beyond_the_split_name_the_size_and_the_fix(tmp_path, source):
    if source == "digits":
        args, total = ("digits", None, "test"), 297
    elif source == "folder":
        args, total = ("folder", _tiny_folder(tmp_path), None), 6
    elif source == "mnist":
        _fake_mnist(tmp_path)
        args, total = ("mnist", tmp_path, "test"), 5
    else:
        _fake_npz(tmp_path, 4, "celeba64.npz")
        args, total = ("celeba64", tmp_path, "train"), 4
    assert data.dataset_size(*args) == total
    with pytest.raises(
        ValueError, match=rf"start={total} is beyond the {total} images .*0\.\.{total - 1}.*--start"
    ):
        data.load_images(*args, start=total)
    with pytest.raises(
        ValueError,
        match=rf"n=3 images from start={total - 2} need {total + 1}.*holds {total}; pass n <= 2 .*--n",
    ):
        data.load_images(*args, n=3, start=total - 2)
    with pytest.raises(TypeError, match="n must be an int"):
        data.load_images(*args, n=2.0)
    with pytest.raises(TypeError, match="start must be an int"):
        data.load_images(*args, start="1")
    with pytest.raises(ValueError, match="start must be >= 0"):
        data.load_images(*args, start=-1)


def test_folder_reads_only_the_selected_files(tmp_path):
    _tiny_folder(tmp_path)  # z.png (last) is unreadable
    x, _ = data.load_images("folder", tmp_path, n=2, start=3)
    assert torch.allclose(x[:, 0, 0, 0], torch.tensor([120.0, 160.0]) / 127.5 - 1)
    with pytest.raises(ValueError, match="z.png is not an image"):
        data.load_images("folder", tmp_path, start=4)


def test_corrupt_archives_are_named(tmp_path):
    (tmp_path / "celeba64.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="celeba64.npz is not a readable .npz"):
        data.load_images("celeba64", tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for kind in ("images-idx3", "labels-idx1"):
        (raw / f"train-{kind}-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a readable gzip file"):
        data.load_images("mnist", tmp_path)


def test_mnist_files_swapped_are_named(tmp_path):
    _fake_mnist(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    a, b = raw / "t10k-images-idx3-ubyte.gz", raw / "t10k-labels-idx1-ubyte.gz"
    tmp = raw / "swap"
    a.rename(tmp), b.rename(a), tmp.rename(b)
    with pytest.raises(ValueError, match="files swapped"):
        data.load_images("mnist", tmp_path, split="test")


# ----------------------------------------------------------------------------- dtypes
def _check_float32_signed(x):
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1


@pytest.mark.parametrize("kind", ["uint8", "uint16", "float32", "rgba", "palette", "1bit"])
def test_image_files_of_every_depth_load_as_float32_in_range(tmp_path, kind):
    ramp = np.linspace(0, 1, 36, dtype=np.float64).reshape(6, 6)
    if kind == "uint8":
        img, expect = Image.fromarray((ramp * 255).round().astype(np.uint8)), None
    elif kind == "uint16":
        arr = (ramp * 65535).round().astype(np.uint16)
        img, expect = Image.fromarray(arr), arr / 65535 * 2 - 1
    elif kind == "float32":
        img, expect = Image.fromarray(ramp.astype(np.float32)), ramp * 2 - 1
    elif kind == "rgba":
        img, expect = Image.fromarray(np.full((6, 6, 4), 255, np.uint8)), np.ones((6, 6))
    elif kind == "palette":
        img, expect = Image.fromarray((ramp * 255).astype(np.uint8)).convert("P"), None
    else:
        img, expect = Image.fromarray(ramp > 0.5), np.where(ramp > 0.5, 1.0, -1.0)
    path = tmp_path / ("x.tif" if kind == "float32" else "x.png")
    img.save(path)
    for x in (data.load_image_file(path), data.load_image_file(path, channels=3, image_size=4)):
        _check_float32_signed(x)
    x = data.load_image_file(path)
    if expect is not None:
        assert torch.allclose(x[0, 0].double(), torch.from_numpy(expect), atol=1e-5)
    if kind == "uint16":  # PIL's own 8-bit conversion clips everything above 255 to white
        assert float(x.mean()) < 0.1


def test_float_image_outside_unit_range_is_refused(tmp_path):
    Image.fromarray(np.full((4, 4), 7.0, np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(ValueError, match=r"f.tif.*must hold values in \[0, 1\], got \[7, 7\]"):
        data.load_image_file(tmp_path / "f.tif")


@pytest.mark.parametrize("source", ["digits", "mnist", "celeba64", "folder"])
def test_every_loader_returns_float32_in_range(tmp_path, source):
    if source == "mnist":
        _fake_mnist(tmp_path)
        args = ("mnist", tmp_path)
    elif source == "celeba64":
        _fake_npz(tmp_path, 3, "celeba64.npz")
        args = ("celeba64", tmp_path)
    elif source == "folder":
        args = ("folder", _tiny_folder(tmp_path, bad_last=False))
    else:
        args = ("digits",)
    for size in (None, 5):
        _check_float32_signed(data.load_images(*args, n=2, image_size=size)[0])
        _check_float32_signed(data.image_dataset(*args, image_size=size)[0][0])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.uint8])
def test_in_memory_images_of_any_dtype_come_out_float32(dtype):
    raw = (
        torch.tensor([[[[0.0, 255.0]]]])
        if dtype == torch.uint8
        else torch.tensor([[[[-1.0, 1.0]]]])
    )
    ds = data._TensorImages(raw.to(dtype), None, None, "test")
    x, _ = ds.batch(0, 1)
    assert x.dtype == torch.float32 and torch.equal(x, torch.tensor([[[[-1.0, 1.0]]]]))
    bad = data._TensorImages(
        torch.tensor([[[[0.0, 3.0]]]], dtype=torch.float64), None, None, "test"
    )
    with pytest.raises(ValueError, match=r"test: images must come out in \[-1, 1\]"):
        bad.batch(0, 1)


def test_npz_that_is_an_npy_is_named(tmp_path):
    with open(tmp_path / "celeba64.npz", "wb") as f:
        np.save(f, np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="celeba64.npz is not a readable .npz.*not an archive"):
        data.load_images("celeba64", tmp_path)


@pytest.mark.parametrize("kw", [{"root": "/tmp/somewhere"}, {"download": True}])
def test_digits_with_a_folder_or_download_is_refused(kw):
    """scikit-learn's embedded digits read no folder: a --data-root given for them was ignored
    in silence (user trial)."""
    from ganinverse.data import load_images

    with pytest.raises(ValueError, match="does not apply to 'digits'.*drop it"):
        load_images("digits", n=1, **kw)


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.full((1, 1, 2, 2), 255.0), r"got values in \[255, 255\]; images in \[0, 255\]"),
        (torch.tensor([0.5, float("nan")]), r"x must lie in \[0, 1\]"),
        (torch.tensor([-0.5, 0.5]), r"x must lie in \[0, 1\], got values in \[-0.5, 0.5\]$"),
        (torch.full((2,), 200, dtype=torch.uint8), r"images in \[0, 255\]"),
    ],
)
def test_from_unit_refuses_images_off_the_unit_interval(x, match):
    """Helper-42: from_unit of a [0, 255] image returned values up to 509 in silence."""
    with pytest.raises(ValueError, match=match):
        data.from_unit(x)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        data.from_unit([0.5])


def test_from_unit_keeps_the_gradient_and_warns_nothing():
    """Its range check read a tensor that requires grad as a float (torch's UserWarning on
    every call inside an attack's loop)."""
    x = torch.rand(2, 1, 4, 4, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.from_unit(x).sum().backward()
    assert torch.all(x.grad == 2)


# ----------------------------------------------------------------------------- fingerprint
def _png_folder(root, n=3, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(root / f"{i}.png")
    return root


def test_fingerprint_of_a_folder_follows_its_files_not_its_place(tmp_path):
    import shutil

    root = _png_folder(tmp_path / "a")
    first = data.fingerprint(data.image_dataset("folder", root))
    assert data.fingerprint(data.image_dataset("folder", root)) == first  # deterministic
    moved = shutil.copytree(root, tmp_path / "elsewhere" / "b")
    assert data.fingerprint(data.image_dataset("folder", moved)) == first
    # the same images prepared otherwise are other data
    assert data.fingerprint(data.image_dataset("folder", root, image_size=16)) != first
    # one pixel of one file replaced, a file renamed, a file deleted, a file added: all differ
    arr = np.asarray(Image.open(root / "1.png")).copy()
    arr[0, 0] ^= 1
    Image.fromarray(arr).save(root / "1.png")
    seen = {first, data.fingerprint(data.image_dataset("folder", root))}
    (root / "2.png").rename(root / "9.png")
    seen.add(data.fingerprint(data.image_dataset("folder", root)))
    (root / "9.png").unlink()
    seen.add(data.fingerprint(data.image_dataset("folder", root)))
    shutil.copy(moved / "0.png", root / "3.png")
    seen.add(data.fingerprint(data.image_dataset("folder", root)))
    assert len(seen) == 5


def test_fingerprint_of_tensors_subsets_and_other_datasets():
    x = torch.rand(4, 1, 8, 8)
    assert data.fingerprint(x) == data.fingerprint(x.clone())
    y = x.clone()
    y[3, 0, 7, 7] += 1e-6
    assert data.fingerprint(y) != data.fingerprint(x)
    assert data.fingerprint(x.double()) != data.fingerprint(x)  # dtype is part of the values
    ds = data.image_dataset("digits")
    sub = torch.utils.data.Subset(ds, range(10))
    assert data.fingerprint(sub) != data.fingerprint(torch.utils.data.Subset(ds, range(1, 11)))
    assert data.fingerprint(sub) != data.fingerprint(ds)
    plain = torch.utils.data.TensorDataset(x)  # any other Dataset: its items are hashed
    assert data.fingerprint(plain) == data.fingerprint(torch.utils.data.TensorDataset(x.clone()))
    assert data.fingerprint(plain) != data.fingerprint(torch.utils.data.TensorDataset(y))
    with pytest.raises(TypeError, match="data must be a"):
        data.fingerprint([1, 2])


def test_transparent_pixels_are_refused_and_opaque_alpha_is_read(tmp_path):
    """helper-49: an RGBA file whose stroke lived in the alpha band loaded as all black (the
    alpha was dropped) and reconstructed with status ok."""
    rgb = np.random.default_rng(0).integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    opaque = np.concatenate([rgb, np.full((6, 6, 1), 255, np.uint8)], axis=2)
    Image.fromarray(opaque, "RGBA").save(tmp_path / "opaque.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    same = data.load_image_file(tmp_path / "opaque.png")
    assert torch.equal(same, data.load_image_file(tmp_path / "rgb.png"))
    clear = opaque.copy()
    clear[0, 0, 3] = 0
    Image.fromarray(clear, "RGBA").save(tmp_path / "rgba.png")
    la = Image.fromarray(np.stack([rgb[..., 0], clear[..., 3]], axis=2), "LA")
    la.save(tmp_path / "la.png")
    pal = Image.fromarray(rgb).convert("P")
    pal.info["transparency"] = pal.getpixel((0, 0))
    pal.save(tmp_path / "trns.png", transparency=pal.getpixel((0, 0)))
    for name in ("rgba.png", "la.png", "trns.png"):
        with pytest.raises(ValueError, match=rf"{name} has transparent pixels.*Flatten it"):
            data.load_image_file(tmp_path / name)
    # a folder is checked when it is opened, before any image is used
    (tmp_path / "rgb.png").unlink()
    (tmp_path / "la.png").unlink()
    (tmp_path / "trns.png").unlink()
    with pytest.raises(ValueError, match=r"rgba.png has transparent pixels \(2.8%"):
        data.image_dataset("folder", tmp_path, channels=3)
    (tmp_path / "rgba.png").unlink()
    assert len(data.image_dataset("folder", tmp_path, channels=3)) == 1


def test_exif_orientation_is_applied_and_multi_frame_files_are_refused(tmp_path):
    """helper-50: a photo stored sideways with EXIF orientation 6 (shown upright by viewers)
    was reconstructed sideways with status ok; an animated GIF silently gave its first frame."""
    upright = np.random.default_rng(0).integers(0, 256, size=(4, 6), dtype=np.uint8)  # H x W
    Image.fromarray(upright).save(tmp_path / "upright.png")
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # 6 x 4 on disk
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    stored.save(tmp_path / "sideways.png", exif=exif)
    shown = data.load_image_file(tmp_path / "sideways.png")
    assert shown.shape == (1, 1, 4, 6)
    assert torch.equal(shown, data.load_image_file(tmp_path / "upright.png"))
    assert data._image_size_of(tmp_path / "sideways.png")[0] == (6, 4)  # (W, H) as shown
    frames = [Image.fromarray(np.full((4, 4), v, np.uint8)) for v in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(ValueError, match="anim.gif holds 2 frames"):
        data.load_image_file(tmp_path / "anim.gif")


def test_folders_read_every_suffix_refuse_mixed_modes_and_warn_lossy_conversions(tmp_path):
    """helper-50: .tif/.gif/.webp files were skipped in silence, a grey first file made every
    later colour file grey, channels=1 and image_size converted without a word."""
    from ganinverse.exceptions import ConversionWarning

    rng = np.random.default_rng(0)
    for suffix in ("png", "tif", "gif"):
        Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).save(tmp_path / f"g.{suffix}")
    assert data.load_images("folder", tmp_path)[0].shape == (3, 1, 6, 6)
    (tmp_path / "webp").mkdir()  # (WebP stores colour only)
    Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(tmp_path / "webp/c.webp")
    assert data.load_images("folder", tmp_path / "webp")[0].shape == (1, 3, 6, 6)
    (tmp_path / "webp/c.webp").unlink()
    (tmp_path / "webp").rmdir()
    Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(tmp_path / "z.png")
    with pytest.raises(ValueError, match=r"mix grey and colour files \(g.gif: grey, z.png"):
        data.load_images("folder", tmp_path)
    with pytest.warns(ConversionWarning, match="1 of 4 images .*colour files converted to grey"):
        assert data.load_images("folder", tmp_path, channels=1)[0].shape == (4, 1, 6, 6)
    (tmp_path / "z.png").unlink()
    Image.fromarray(rng.integers(0, 256, (6, 9), dtype=np.uint8)).save(tmp_path / "wide.png")
    with pytest.warns(ConversionWarning, match="non-square files stretched to 6x6 .*wide.png"):
        data.load_images("folder", tmp_path, image_size=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)  # nothing lossy: no warning
        (tmp_path / "wide.png").unlink()
        data.load_images("folder", tmp_path, channels=3)


def test_unconvertible_and_too_wide_files_are_named(tmp_path):
    from ganinverse.exceptions import ConversionWarning

    Image.new("LAB", (4, 4)).save(tmp_path / "lab.tif")
    with pytest.raises(ValueError, match=r"lab.tif: its LAB pixels cannot be converted to L"):
        data.load_image_file(tmp_path / "lab.tif", channels=1)
    eight_bit = Image.fromarray(np.arange(16, dtype=np.int32).reshape(4, 4) * 17)
    eight_bit.save(tmp_path / "wide.tif")
    with pytest.warns(ConversionWarning, match=r"values all lie in 0..255.*near black"):
        data.load_image_file(tmp_path / "wide.tif")


@pytest.mark.parametrize(
    "top, bits",
    [(1, 1), (255, 8), (1023, 10), (4095, 12), (40000, None), (0, None)],
    ids=["0/1", "8-bit", "10-bit", "12-bit", "16-bit", "all black"],
)
def test_a_16_bit_file_using_few_of_its_bits_warns(tmp_path, top, bits):
    """helper-55: a 16-bit PNG holding 12-bit (0..4095) or 0/1 values came out near / all
    black with no word (only 8-bit values warned)."""
    from ganinverse.exceptions import ConversionWarning

    arr = (np.linspace(0, 1, 16).reshape(4, 4) * top).round().astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "wide.png")
    if bits is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConversionWarning)
            x = data.load_image_file(tmp_path / "wide.png")
    else:
        match = rf"values all lie in 0..{top}.*near black.*{bits}-bit values \(0..{2**bits - 1}\)"
        with pytest.warns(ConversionWarning, match=match):
            x = data.load_image_file(tmp_path / "wide.png")
    assert float(x.max()) == pytest.approx(2 * top / 65535 - 1, abs=1e-5)  # read as it is


def test_a_single_files_lossy_conversions_warn_as_a_folders_do(tmp_path):
    """helper-55: through the API (and so -W error), a colour file made grey and a non-square
    file stretched were converted without a warning; lossless ones still are."""
    from ganinverse.exceptions import ConversionWarning

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).save(tmp_path / "g.png")
    with pytest.warns(ConversionWarning, match=r"c.png: a colour file converted to grey$"):
        data.load_image_file(tmp_path / "c.png", channels=1)
    with pytest.warns(ConversionWarning, match=r"non-square \(9x6 px\) stretched to 4x4"):
        data.load_image_file(tmp_path / "c.png", image_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)  # grey to RGB, a square resized
        assert data.load_image_file(tmp_path / "g.png", 3, channels=3).shape == (1, 3, 3, 3)
        data.load_image_file(tmp_path / "c.png")  # kept as it is


def _png_rgb16(path, arr):
    """A 16-bit-per-channel RGB PNG written by hand (PIL cannot write one)."""
    import struct
    import zlib

    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, body):
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("top, warns", [(255, True), (4095, True), (65535, False)])
def test_a_16_bit_colour_file_using_few_of_its_bits_warns(tmp_path, top, warns):
    """helper-56: PIL reads a 16-bit colour PNG as 8 bits (the high byte): 8- or 12-bit values
    saved wide came out all or nearly black with no word."""
    from ganinverse.exceptions import ConversionWarning

    arr = (np.random.default_rng(0).random((6, 6, 3)) * top).astype(np.uint16)
    _png_rgb16(tmp_path / "c16.png", arr)
    if warns:
        with pytest.warns(ConversionWarning, match=r"16-bit colour file .*near black"):
            x = data.load_image_file(tmp_path / "c16.png")
        assert float(x.max()) < -0.85
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConversionWarning)
            x = data.load_image_file(tmp_path / "c16.png")
        assert float(x.max()) > 0.9  # (the high bytes: full range)


def test_an_8_bit_image_of_zeros_and_ones_warns(tmp_path):
    """helper-56: a binary image saved as 0/1 came out black and near-black with no word (the
    mask loader refuses such a mask)."""
    from ganinverse.exceptions import ConversionWarning

    bits = (np.random.default_rng(0).random((6, 6)) > 0.5).astype(np.uint8)
    Image.fromarray(bits).save(tmp_path / "b.png")
    with pytest.warns(ConversionWarning, match="only the values 0 and 1"):
        data.load_image_file(tmp_path / "b.png")
    (tmp_path / "d").mkdir()
    Image.fromarray(bits).save(tmp_path / "d" / "b.png")
    with pytest.warns(ConversionWarning, match="only the values 0 and 1"):
        data.load_images("folder", tmp_path / "d")
    Image.fromarray(bits * 255).save(tmp_path / "w.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)
        data.load_image_file(tmp_path / "w.png")


def _png_grey_alpha16(path, grey, alpha):
    """A 16-bit grey + alpha PNG written by hand (PIL decodes it to RGBA)."""
    import struct
    import zlib

    h, w = grey.shape
    pixels = np.stack([grey, alpha], -1).astype(">u2")
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, body):
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", w, h, 16, 4, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def test_a_16_bit_grey_alpha_file_is_grey(tmp_path):
    """helper-56 (left in session 24): PIL decodes a 16-bit grey + alpha PNG to RGBA, which the
    loaders took for a colour file: channels=1 warned "a colour file converted to grey", a
    folder of them was read as RGB, and narrow values were called "a 16-bit colour file"."""
    from ganinverse.exceptions import ConversionWarning

    rng = np.random.default_rng(0)
    grey = (rng.random((6, 6)) * 65535).astype(np.uint16)
    _png_grey_alpha16(tmp_path / "g.png", grey, np.full((6, 6), 65535, np.uint16))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)
        x = data.load_image_file(tmp_path / "g.png")  # kept grey, as a grey file is
        assert x.shape == (1, 1, 6, 6)
        assert data.load_image_file(tmp_path / "g.png", channels=1).shape == (1, 1, 6, 6)
    expected = torch.from_numpy((grey >> 8).astype(np.float32)) / 127.5 - 1  # the high bytes
    assert torch.allclose(x[0, 0], expected, atol=1e-6)
    (tmp_path / "d").mkdir()
    _png_grey_alpha16(tmp_path / "d" / "a.png", grey, np.full((6, 6), 65535, np.uint16))
    assert data.load_images("folder", tmp_path / "d")[0].shape == (1, 1, 6, 6)
    _png_grey_alpha16(tmp_path / "n.png", grey >> 8, np.full((6, 6), 65535, np.uint16))
    with pytest.warns(ConversionWarning, match=r"16-bit grey \+ alpha file .*near black"):
        data.load_image_file(tmp_path / "n.png")
    alpha = np.full((6, 6), 65535, np.uint16)
    alpha[0, 0] = 0
    _png_grey_alpha16(tmp_path / "t.png", grey, alpha)
    with pytest.raises(ValueError, match="transparent pixels"):
        data.load_image_file(tmp_path / "t.png")


def test_a_file_enlarged_many_times_warns(tmp_path):
    """helper-57: a 1x1 file made 28x28 ran with a note only: the image measured is then the
    interpolation's. More than ENLARGE_MAX (4) times in a side warns, in a folder too."""
    from ganinverse.exceptions import ConversionWarning

    Image.fromarray(np.full((1, 1), 200, np.uint8)).save(tmp_path / "one.png")
    with pytest.warns(ConversionWarning, match=r"enlarged from 1x1 px to 28x28"):
        data.load_image_file(tmp_path / "one.png", image_size=28)
    Image.fromarray(np.full((7, 7), 200, np.uint8)).save(tmp_path / "seven.png")
    with warnings.catch_warnings():  # 4x: as a 7x7 file for a 28x28 generator
        warnings.simplefilter("error", ConversionWarning)
        data.load_image_file(tmp_path / "seven.png", image_size=28)
    (tmp_path / "d").mkdir()
    for i in range(2):
        Image.fromarray(np.full((3, 3), 200, np.uint8)).save(tmp_path / "d" / f"{i}.png")
    with pytest.warns(ConversionWarning, match=r"2 of 2 images .* enlarged more than 4x"):
        data.load_images("folder", tmp_path / "d", image_size=28)


def test_validation_images_name_the_flags_that_chose_them():
    """sweep's and tune's validation images: one loader, one wording (they were two copies)."""
    from ganinverse.data import load_validation_images

    x = load_validation_images("digits", None, 3, 10)
    assert x.shape == (3, 1, 28, 28) and float(x.min()) >= -1 and float(x.max()) <= 1
    with pytest.raises(ValueError, match=r"^n_val = 5000 validation images from the train split"):
        load_validation_images("digits", None, 5000)
    with pytest.raises(
        ValueError, match=r"^the validation images \(--n-val 10 from --val-start 1495\)"
    ):
        load_validation_images("digits", None, 10, 1495)
    with pytest.raises(ValueError, match=r"^split for 'folder' must be one of 'all'"):
        load_validation_images("folder", ".", 2)  # (the dataset's own error, as it is)
