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
    Image.fromarray(arr[:20]).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="resize the mask"):
        mask_from_file(tmp_path / "small.png", SHAPE)
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
        ("blob", "neither one of"),
        ("random:lots", "not a valid float"),
        ("random:1.5", "missing must be a fraction"),
        ("grid:0", "step must be >= 1"),
        ("half:diagonal", "side must be one of"),
        ("", "non-empty"),
    ],
)
def test_bad_specs_raise_named_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_mask(spec, 1, SHAPE)


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
