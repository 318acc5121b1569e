import numpy as np
import pytest
import torch
from PIL import Image

from ganinverse.masks import (
    center_mask,
    check_mask,
    grid_mask,
    half_mask,
    mask_from_file,
    missing_fraction,
    parse_mask,
    pattern_mask,
    random_mask,
)

SHAPE = (1, 28, 28)


def is_binary_batch(mask, n, h=28, w=28):
    return mask.shape == (n, 1, h, w) and bool(((mask == 0) | (mask == 1)).all())


def test_center_block_is_centred_with_the_requested_side():
    mask = center_mask(2, SHAPE, fraction=0.5)
    assert is_binary_batch(mask, 2)
    assert torch.allclose(missing_fraction(mask), torch.tensor(0.25))
    assert bool((mask[:, 0, 7:21, 7:21] == 0).all()) and float(mask[:, 0, 6, :].min()) == 1


@pytest.mark.parametrize("missing", [0.1, 0.5, 0.8, 0.95])
def test_random_mask_has_the_exact_fraction_and_differs_per_image(missing):
    mask = random_mask(3, SHAPE, missing=missing, seed=4)
    assert is_binary_batch(mask, 3)
    expected = round(missing * 784) / 784
    assert torch.allclose(missing_fraction(mask), torch.tensor(expected))
    assert not torch.equal(mask[0], mask[1])
    assert torch.equal(mask, random_mask(3, SHAPE, missing=missing, seed=4))
    assert not torch.equal(mask, random_mask(3, SHAPE, missing=missing, seed=5))


@pytest.mark.parametrize(
    ("side", "region"),
    [
        ("left", (slice(None), slice(0, 14))),
        ("right", (slice(None), slice(14, 28))),
        ("top", (slice(0, 14), slice(None))),
        ("bottom", (slice(14, 28), slice(None))),
    ],
)
def test_half_mask_removes_the_named_half(side, region):
    mask = half_mask(2, SHAPE, side=side)
    assert torch.allclose(missing_fraction(mask), torch.tensor(0.5))
    assert bool((mask[:, 0][(slice(None), *region)] == 0).all())


def test_random_half_is_seeded_and_varies():
    masks = half_mask(16, SHAPE, side="random", seed=1)
    assert torch.allclose(missing_fraction(masks), torch.tensor(0.5))
    assert len({tuple(m.flatten().tolist()) for m in masks}) > 1
    assert torch.equal(masks, half_mask(16, SHAPE, side="random", seed=1))


@pytest.mark.parametrize("missing", [0.1, 0.25, 0.5])
def test_pattern_covers_at_least_the_fraction_with_a_small_overshoot(missing):
    mask = pattern_mask(4, SHAPE, missing=missing, seed=2)
    frac = missing_fraction(mask)
    assert is_binary_batch(mask, 4)
    assert bool((frac >= missing).all()) and bool((frac <= missing + 0.07).all()), frac
    assert not torch.equal(mask[0], mask[1])
    assert torch.equal(mask, pattern_mask(4, SHAPE, missing=missing, seed=2))


def test_grid_keeps_every_kth_pixel():
    mask = grid_mask(1, SHAPE, step=4)
    assert float(mask.sum()) == 7 * 7
    assert float(mask[0, 0, 4, 8]) == 1 and float(mask[0, 0, 4, 9]) == 0


def test_mask_file_round_trip(tmp_path):
    arr = np.zeros((28, 28), dtype=np.uint8)
    arr[:, :10] = 255  # white = known
    Image.fromarray(arr).save(tmp_path / "m.png")
    mask = mask_from_file(tmp_path / "m.png", SHAPE, n=2)
    assert is_binary_batch(mask, 2) and float(mask[0].sum()) == 28 * 10
    assert torch.equal(parse_mask(str(tmp_path / "m.png"), 2, SHAPE), mask)
    assert torch.equal(parse_mask(tmp_path / "m.png", 2, SHAPE), mask)  # a Path is a file
    Image.fromarray(arr[:20]).save(tmp_path / "small.png")
    with pytest.raises(
        ValueError, match=r"small.png is 28x20 \(WxH\) .* 28x28; masks are not resized"
    ):
        parse_mask(str(tmp_path / "small.png"), 1, SHAPE)
    with pytest.raises(FileNotFoundError, match="mask file not found"):
        parse_mask(str(tmp_path / "nope.png"), 1, SHAPE)


@pytest.mark.parametrize(
    ("spec", "missing"),
    [
        ("center", 0.25),
        ("center:0.5", 0.25),
        ("random:0.8", round(0.8 * 784) / 784),
        ("random", round(0.8 * 784) / 784),
        ("half", 0.5),
        ("half:left", 0.5),
        ("grid:4", 1 - 49 / 784),
        ("grid:1", 0.0),
        # helper-69: blanks around the spec and its ':' (the CLI and the sweep dropped them)
        (" center ", 0.25),
        ("half : left", 0.5),
    ],
)
def test_parse_mask_specs(spec, missing):
    mask = parse_mask(spec, 3, SHAPE, seed=0)
    assert is_binary_batch(mask, 3)
    assert torch.allclose(missing_fraction(mask), torch.tensor(float(missing)), atol=1e-6)


def test_parse_pattern_spec():
    frac = missing_fraction(parse_mask("pattern:0.25", 2, SHAPE))
    assert bool((frac >= 0.25).all())


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("blob", "not one of the allowed forms"),
        ("Center", "not one of the allowed forms"),
        ("random:lots", r"not a float\. Allowed"),
        ("random:1.5", "missing must be a fraction in \\(0, 1\\), got 1.5"),
        ("random:1", "missing must be a fraction"),
        ("random:nan", "missing must be a finite number, got nan"),
        ("random:inf", "missing must be a finite number"),
        ("random:-0.2", "missing must be > 0"),
        ("random:0", "missing must be > 0"),
        ("random:1e-9", "rounds to no missing pixel"),
        ("pattern:nan", "missing must be a finite number"),
        ("pattern:1.5", "missing must be a fraction"),
        ("center:0", "fraction must be > 0"),
        ("center:nan", "fraction must be a finite number"),
        ("center:1", "fraction must be a fraction"),
        ("center:-1", "fraction must be > 0"),
        ("center:0.5:1", "not a float"),
        ("grid:0", "step must be >= 1"),
        ("grid:-3", "step must be >= 1"),
        ("grid:2.5", r"'2\.5' is not an int\. Allowed forms"),
        ("grid:nan", "not an int"),
        ("half:diagonal", "side must be one of"),
        # helper-68: an empty argument was read as the default (a number left out, in silence)
        ("half:", "has a ':' and no argument after it: write 'half' for the default"),
        ("center: ", "has a ':' and no argument"),
        ("center : ", "has a ':' and no argument"),
        ("grid:", "has a ':' and no argument"),
        # a name in another case: exact names, the one meant named
        ("Center", r"allowed forms: .*; did you mean 'center'\? \(names are exact"),
        ("half:Left", r"side must be one of .*; did you mean 'left'\?"),
        ("randm:0.5", r"did you mean 'random'\?"),
    ],
)
def test_bad_specs_name_the_spec_and_the_allowed_forms(spec, match):
    with pytest.raises(ValueError, match=match) as err:
        parse_mask(spec, 1, SHAPE)
    assert f"mask spec {spec!r}" in str(err.value)
    assert "Allowed forms: center[:side fraction" in str(err.value) or "allowed forms" in str(
        err.value
    )


@pytest.mark.parametrize("spec", ["", None, 3, 0.5, ["center"]])
def test_spec_of_the_wrong_type_or_empty(spec):
    err = TypeError if spec is not None and not isinstance(spec, str) else (TypeError, ValueError)
    with pytest.raises(err, match="mask spec must be"):
        parse_mask(spec, 1, SHAPE)


@pytest.mark.parametrize("spec", ["center", "random", "half", "pattern", "grid:2"])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 2.0}, TypeError, "n must be an int"),
        ({"n": 0}, ValueError, "n must be >= 1"),
        ({"n": "2"}, TypeError, "n must be an int"),
        ({"seed": "a"}, TypeError, "seed must be an int"),
        ({"seed": 1.0}, TypeError, "seed must be an int"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"ids": [0]}, ValueError, "ids must hold one identity per image: n=2, got 1"),
        ({"ids": "ab"}, TypeError, "ids must be a sequence"),
        ({"ids": [0, -1]}, TypeError, "ids must be ints >= 0 or strs"),
        ({"ids": [0, 1.5]}, TypeError, "ids must be ints >= 0 or strs"),
    ],
)
def test_wrong_n_seed_ids_are_named_for_every_kind(spec, kwargs, error, match):
    args = {"n": 2, "image_shape": SHAPE, "seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        parse_mask(spec, **args)


def test_seed_accepts_numpy_ints_and_none():
    assert torch.equal(
        parse_mask("random", 2, SHAPE, seed=np.int64(3)), parse_mask("random", 2, SHAPE, seed=3)
    )
    assert is_binary_batch(parse_mask("random", 2, SHAPE, seed=None), 2)


@pytest.mark.parametrize(
    "make",
    [
        lambda n, seed, ids: random_mask(n, SHAPE, 0.6, seed=seed, ids=ids),
        lambda n, seed, ids: half_mask(n, SHAPE, "random", seed=seed, ids=ids),
        lambda n, seed, ids: pattern_mask(n, SHAPE, 0.2, seed=seed, ids=ids),
        lambda n, seed, ids: parse_mask("random:0.3", n, SHAPE, seed=seed, ids=ids),
    ],
)
def test_random_masks_are_a_function_of_seed_and_image_identity(make):
    from ganinverse.seeds import rng

    batch = make(6, 4, [10, 11, 12, 13, 14, 15])
    for i, key in enumerate([10, 11, 12, 13, 14, 15]):
        assert torch.equal(make(1, 4, [key])[0], batch[i])  # image alone == image in a batch
    assert torch.equal(make(6, 4, None), make(6, 4, list(range(6))))  # default ids = range(n)
    assert torch.equal(make(2, 4, None), make(6, 4, None)[:2])
    assert torch.equal(make(2, 4, ["a", "b"]), make(2, 4, ["a", "b"]))
    first = [make(1, 4, [k])[0] for k in range(8)]
    assert len({tuple(m.flatten().tolist()) for m in first}) > 1  # masks differ between images
    assert not torch.equal(make(6, 4, None), make(6, 5, None))  # and between seeds
    assert isinstance(rng(4, "mask", 10), torch.Generator)


def test_random_mask_is_drawn_from_the_seed_function():
    from ganinverse.seeds import rng

    order = torch.rand(784, generator=rng(7, "mask", 3)).argsort()
    expect = torch.ones(784)
    expect[order[: round(0.5 * 784)]] = 0
    assert torch.equal(random_mask(1, SHAPE, 0.5, seed=7, ids=[3]).flatten(), expect)


def test_check_mask_broadcasts_and_validates():
    shared = torch.ones(28, 28, dtype=torch.bool)
    shared[:5] = False
    out = check_mask(shared, 3, SHAPE)
    assert out.shape == (3, 1, 28, 28) and out.dtype == torch.float32
    with pytest.raises(ValueError, match=r"mask must be .*got \(1, 1, 27, 28\)"):
        check_mask(torch.ones(1, 1, 27, 28), 1, SHAPE)
    with pytest.raises(ValueError, match="B = 1 or 3"):
        check_mask(torch.ones(2, 1, 28, 28), 3, SHAPE)
    with pytest.raises(ValueError, match="mask must be binary"):
        check_mask(torch.full((28, 28), 0.5), 1, SHAPE)
    with pytest.raises(ValueError, match="no known pixel"):
        check_mask(torch.zeros(28, 28), 1, SHAPE)
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        check_mask(np.ones((28, 28)), 1, SHAPE)


def test_mask_file_threshold_and_non_binary_files(tmp_path):
    arr = np.zeros((28, 28), dtype=np.uint8)
    arr[:, :10] = 255
    arr[:, 10] = 128  # an anti-aliased edge: >= 128 is known
    arr[:, 11] = 127  # < 128 is missing
    Image.fromarray(arr).save(tmp_path / "edge.png")
    mask = parse_mask(str(tmp_path / "edge.png"), 1, SHAPE)
    assert float(mask[0, 0].sum()) == 28 * 11 and float(mask[0, 0, 0, 11]) == 0
    rgb = np.stack([arr] * 3, -1)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert torch.equal(parse_mask(str(tmp_path / "rgb.png"), 1, SHAPE), mask)
    photo = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    with pytest.raises(
        ValueError, match=r"photo.png is not a binary mask: \d+% .*thresholded at 128"
    ):
        parse_mask(str(tmp_path / "photo.png"), 1, SHAPE)
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(ValueError, match="black.png has no known pixel"):
        parse_mask(str(tmp_path / "black.png"), 1, SHAPE)
    with pytest.raises(TypeError, match="mask path must be a str or path"):
        mask_from_file(3, SHAPE)


@pytest.mark.parametrize("dtype, white", [(np.uint16, 65535), (np.float32, 1.0)])
def test_a_16_bit_or_float_mask_file_is_scaled_not_clipped(tmp_path, dtype, white):
    """A 16-bit PNG's near-black (1000 / 65535) was clipped to 8-bit white and counted as known
    (user trial): 16-bit and float grey files are scaled to 0..255 before the threshold."""
    from PIL import Image

    from ganinverse.masks import mask_from_file

    a = np.zeros((28, 28), dtype)
    a[:, :10] = white
    a[:, 10:20] = 1000 if dtype == np.uint16 else 0.015
    path = tmp_path / ("m16.png" if dtype == np.uint16 else "mf.tiff")
    Image.fromarray(a).save(path)
    row = mask_from_file(path, (1, 28, 28))[0, 0, 0]
    assert row[:10].eq(1).all() and row[10:].eq(0).all()


def test_a_grid_step_beyond_the_image_is_refused():
    """User trial: grid:1000 on 28x28 ran as grid:28 (one known pixel), listed as another mask."""
    from ganinverse.masks import grid_mask, parse_mask

    assert grid_mask(1, (1, 28, 28), 28).sum() == 1
    with pytest.raises(ValueError, match="grid step must be at most the image's side 28"):
        parse_mask("grid:1000", 1, (1, 28, 28))


def test_a_mask_with_transparent_pixels_is_refused(tmp_path):
    """A mask drawn in an editor with the hole erased to transparency: ambiguous, refused."""
    arr = np.full((8, 8, 4), 255, np.uint8)
    arr[2:5, 2:5, 3] = 0
    Image.fromarray(arr, "RGBA").save(tmp_path / "m.png")
    with pytest.raises(ValueError, match="mask file .*m.png has transparent pixels.*opaque white"):
        mask_from_file(tmp_path / "m.png", (1, 8, 8))


@pytest.mark.parametrize("mode, dtype", [("L", np.uint8), ("I;16", np.uint16)])
def test_a_mask_of_zeros_and_ones_names_the_white_value(tmp_path, mode, dtype):
    """helper-50: a 0/1 mask file was refused as having "no known pixel", with no hint."""
    arr = np.zeros((8, 8), dtype)
    arr[:, 4:] = 1
    Image.fromarray(arr).save(tmp_path / "m.png")
    white = "65535" if mode != "L" else "255"
    match = rf"only the values 0 and 1.*white \(known, {white}\).*multiply it by {white} "
    with pytest.raises(ValueError, match=match):
        mask_from_file(tmp_path / "m.png", (1, 8, 8))


def test_a_16_bit_mask_holding_8_bit_values_names_the_cause(tmp_path):
    """helper-53: a 16-bit 0/255 mask failed with "has no known pixel", the cause only in a
    warning above it."""
    arr = np.zeros((8, 8), np.uint16)
    arr[:, 4:] = 255
    Image.fromarray(arr).save(tmp_path / "m.png")
    import warnings

    with warnings.catch_warnings():  # helper-56: the image loader's warning is not repeated
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="multiply it by 257"):
            mask_from_file(tmp_path / "m.png", (1, 8, 8))


def test_a_mask_file_with_coloured_marks_warns_how_they_were_read(tmp_path):
    """helper-56 (left in session 24): a white mask with red and green marks was made grey in
    silence; by brightness alone, red read as missing and green as known."""
    import warnings

    from ganinverse.exceptions import ConversionWarning

    arr = np.full((8, 8, 3), 255, np.uint8)
    arr[0, :2] = (255, 0, 0)  # red: luma 76, missing
    arr[1, :2] = (0, 255, 0)  # green: luma 150, known
    Image.fromarray(arr).save(tmp_path / "m.png")
    with pytest.warns(
        ConversionWarning, match=r"4 coloured pixels.*: 2 read as known, 2 as missing"
    ):
        mask = mask_from_file(tmp_path / "m.png", (1, 8, 8))
    assert mask[0, 0, 0, :2].sum() == 0 and mask[0, 0, 1, :2].sum() == 2
    grey = np.where(arr.min(-1) < 255, 0, 255).astype(np.uint8)  # the same mask, black / white
    Image.fromarray(np.repeat(grey[..., None], 3, -1)).save(tmp_path / "rgb.png")
    with warnings.catch_warnings():  # a black / white mask saved as RGB is not coloured
        warnings.simplefilter("error")
        mask_from_file(tmp_path / "rgb.png", (1, 8, 8))


def test_a_mask_file_with_grey_pixels_warns_how_the_threshold_read_them(tmp_path):
    """helper-57: one pixel of 128 in a black / white mask was made known in silence (the
    file does not say which it meant; anti-aliased edges move a boundary by a pixel)."""
    import warnings

    from ganinverse.exceptions import ConversionWarning

    arr = np.full((8, 8), 255, np.uint8)
    arr[4:, 4:] = 0
    arr[0, 0], arr[0, 1] = 128, 100
    Image.fromarray(arr).save(tmp_path / "m.png")
    with pytest.warns(ConversionWarning, match=r"2 grey pixels .*: 1 read as known, 1 as missing"):
        mask = mask_from_file(tmp_path / "m.png", (1, 8, 8))
    assert mask[0, 0, 0, 0] == 1 and mask[0, 0, 0, 1] == 0
    arr[0, :2] = 255
    Image.fromarray(arr).save(tmp_path / "bw.png")
    with warnings.catch_warnings():  # pure black / white: nothing to say
        warnings.simplefilter("error")
        mask_from_file(tmp_path / "bw.png", (1, 8, 8))
