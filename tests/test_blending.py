import pytest
import torch

from ganinverse.blending import (
    BIHARMONIC_WEIGHT,
    Blend,
    biharmonic_blend,
    blend_option,
    blend_spec,
    poisson_blend,
)
from ganinverse.inpaint_baselines import biharmonic_inpaint
from ganinverse.masks import center_mask, random_mask


def smooth_images(n, c=1, h=12, w=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(n, c, 4, 4, generator=gen) * 1.6 - 0.8
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=True)


def jacobi_harmonic(y, known, tol=1e-13):
    """Independent solve: x_p = mean of its in-image 4-neighbours on missing pixels, to convergence."""
    x = torch.where(known, y, torch.zeros_like(y)).double()
    y = y.double()
    ones = torch.nn.functional.pad(torch.ones_like(x), (1, 1, 1, 1))
    count = ones[..., :-2, 1:-1] + ones[..., 2:, 1:-1] + ones[..., 1:-1, :-2] + ones[..., 1:-1, 2:]
    change = 1.0
    while change > tol:
        pad = torch.nn.functional.pad(x, (1, 1, 1, 1))
        total = pad[..., :-2, 1:-1] + pad[..., 2:, 1:-1] + pad[..., 1:-1, :-2] + pad[..., 1:-1, 2:]
        new = torch.where(known, y, total / count)
        change, x = float((new - x).abs().max()), new
    return x


def test_known_pixels_are_returned_exactly():
    y = smooth_images(3, c=3, seed=1)
    guide = torch.rand(3, 3, 12, 12) * 2 - 1
    mask = random_mask(3, (12, 12), missing=0.6, seed=2)
    out = poisson_blend(guide, y, mask)
    known = mask.bool().expand_as(y)
    assert torch.equal(out[known], y[known])
    assert out.shape == y.shape and out.dtype == y.dtype


def test_flat_guide_gives_the_harmonic_interpolation():
    y = smooth_images(2, seed=3)
    mask = center_mask(2, (12, 12), fraction=0.5)
    mask[1, 0, 0, :] = 0  # a hole touching the border too
    out = poisson_blend(torch.full_like(y, 0.3), y, mask, clamp=False).double()
    ref = jacobi_harmonic(y, mask.bool())
    assert torch.allclose(out, ref, atol=1e-6)
    # and the discrete Laplacian vanishes on the missing pixels of the interior
    lap = (
        out[..., :-2, 1:-1]
        + out[..., 2:, 1:-1]
        + out[..., 1:-1, :-2]
        + out[..., 1:-1, 2:]
        - 4 * out[..., 1:-1, 1:-1]
    )
    hole = ~mask.bool()[..., 1:-1, 1:-1]
    assert float(lap[hole].abs().max()) < 1e-6  # float32 output


def test_guide_gradients_are_reproduced_up_to_an_offset():
    x = smooth_images(2, c=3, seed=4)
    mask = center_mask(2, (12, 12), fraction=0.5)
    y = x.clone()
    y[~mask.bool().expand_as(y)] = float("nan")  # the hidden truth is never read
    out = poisson_blend(x - 0.15, y.nan_to_num(5.0), mask)
    assert torch.allclose(out, x, atol=1e-5)


def test_blend_does_not_need_the_truth_and_validates_inputs():
    x = smooth_images(1)
    with pytest.raises(ValueError, match="mask must be"):
        poisson_blend(x, x, torch.ones(1, 1, 5, 5))
    with pytest.raises(ValueError, match="target must have shape"):
        poisson_blend(x, torch.zeros(1, 3, 12, 12), torch.ones(12, 12))
    with pytest.raises(ValueError, match="no known pixel"):
        poisson_blend(x, x, torch.zeros(12, 12))
    assert torch.equal(poisson_blend(x, x, torch.ones(12, 12)), x)


def _plane(n, c=3, h=12, w=12):
    """a + b·i + c·j per image and channel: harmonic and biharmonic interpolants reproduce it."""
    gen = torch.Generator().manual_seed(7)
    a, b, d = (torch.rand(3, n, c, 1, 1, generator=gen) * 0.04 - 0.02).unbind(0)
    i = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    j = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    return a + b * i + d * j


@pytest.mark.parametrize("interpolant", ["poisson", "biharmonic"])
@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.2])
def test_blends_are_alpha_guide_plus_an_interpolated_residual(interpolant, alpha):
    """x = αg + I(y − αg): with y − αg a plane on the known pixels (which both interpolants
    reproduce exactly), the missing pixels are αg + that plane, whatever g is."""
    g = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(3)) * 1.2 - 0.6
    truth = alpha * g + _plane(2)
    mask = center_mask(2, (12, 12), fraction=0.5)
    y = torch.where(mask.bool(), truth, torch.full_like(truth, float("nan"))).nan_to_num(9.0)
    out = Blend(interpolant, alpha)(g, y, mask)
    assert torch.allclose(out, truth, atol=1e-4), float((out - truth).abs().max())


def test_biharmonic_blend_of_a_zero_guide_is_biharmonic_inpainting_and_keeps_known_pixels():
    y = smooth_images(3, c=3, seed=5)
    mask = random_mask(3, (12, 12), missing=0.7, seed=1)
    out = biharmonic_blend(torch.zeros_like(y), y, mask, weight=0.3)
    assert torch.allclose(out, biharmonic_inpaint(y, mask), atol=1e-6)
    guide = torch.rand(3, 3, 12, 12) * 2 - 1
    out = biharmonic_blend(guide, y, mask)
    known = mask.bool().expand_as(y)
    assert torch.equal(out[known], y[known]) and out.dtype == y.dtype
    assert float(out.abs().max()) <= 1.0  # clamped to the image range


def test_the_weight_moves_the_result_from_the_interpolant_towards_the_guide():
    """The true image as the guide: α = 1 returns it; smaller α lands between it and the
    biharmonic interpolation of the known pixels."""
    x = smooth_images(2, c=3, seed=6) + 0.1 * torch.rand(2, 3, 12, 12)
    mask = random_mask(2, (12, 12), missing=0.8, seed=3)
    err = [float((biharmonic_blend(x, x, mask, weight=a) - x).abs().max()) for a in (1, 0.6, 0.2)]
    assert err[0] < 1e-6 < err[1] < err[2]


def test_blend_spec_reads_every_spelling_and_refuses_the_rest():
    assert blend_spec(False) is None and blend_spec(None) is None
    assert blend_spec(True) == Blend("poisson", 1.0) == blend_spec("poisson")
    assert blend_spec("biharmonic") == Blend("biharmonic", BIHARMONIC_WEIGHT)
    assert blend_spec("biharmonic:0.8") == Blend("biharmonic", 0.8)
    assert blend_spec("poisson:1").option is True  # recorded sweeps hold True
    assert blend_option("Biharmonic") == "biharmonic:0.5" and blend_option("OFF") is False
    assert blend_option("None") is False  # (as blend=None in the API; helper-68)
    assert blend_option("poisson:0.25") == "poisson:0.25"
    assert blend_option("biharmonic:0.1234567") == "biharmonic:0.1234567"  # (exact, helper-63)
    assert blend_option("poisson:0.99999999") == "poisson:0.99999999"
    import numpy as np

    assert blend_spec(np.bool_(True)) == Blend("poisson", 1.0)
    with pytest.raises(TypeError, match="blend must be True, False or a text"):
        blend_spec(1)
    for bad, match in [
        ("bilinear", "expected true, false, poisson.* or biharmonic"),
        # an empty α is told so (helper-70: it got the generic message)
        ("biharmonic:", r"^'biharmonic:' has nothing after its ':': write biharmonic:α"),
        ("poisson :", r"^'poisson :' has nothing after its ':'"),
        ("biharmonic:0", r"its α must be > 0, got 0; α is the share of the guide kept, in"),
        ("biharmonic:1.5", r"its α must be <= 1, got 1.5; α is the share"),
        ("biharmonic:nan", r"its α must be a finite number, got nan"),
        ("poisson:0_5", "'_' is not part of a number"),
    ]:
        with pytest.raises(ValueError, match=match):
            blend_option(bad)
    x = smooth_images(1)
    with pytest.raises(ValueError, match=r"weight must be > 0, got 0; α is the share"):
        poisson_blend(x, x, torch.ones(12, 12), weight=0.0)
    with pytest.raises(TypeError, match="weight must be a real number, got str"):
        biharmonic_blend(x, x, torch.ones(12, 12), weight="0.5")


@pytest.mark.parametrize("interpolant", ["poisson", "biharmonic"])
def test_the_missing_pixels_of_the_target_are_never_read(interpolant):
    """A NaN behind the mask was refused though never read (helper-63): the result is the
    same whatever the missing pixels hold."""
    y = smooth_images(2, c=3, seed=8)
    mask = random_mask(2, (12, 12), missing=0.6, seed=4)
    guide = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(1)) * 2 - 1
    hidden = torch.where(mask.bool().expand_as(y), y, torch.full_like(y, float("nan")))
    blend = Blend(interpolant, 0.6)
    assert torch.equal(blend(guide, hidden, mask), blend(guide, y, mask))
    with pytest.raises(ValueError, match="target \\(known pixels\\)"):
        blend(guide, torch.where(mask.bool().expand_as(y), float("nan"), y), mask)


def test_blend_spec_reads_the_clis_spellings_and_says_what_alpha_must_be():
    """helper-64: the API refused 'POISSON' and ' poisson ' that the CLI takes, and
    'poisson:0.5:1' said "could not convert string to float"."""
    assert blend_spec("POISSON") == blend_spec(" poisson ") == blend_spec("poisson")
    assert blend_spec("Biharmonic: 0.25") == blend_spec("biharmonic:0.25")
    for bad in ("poisson:0.5:1", "poisson:0x1", "biharmonic:abc"):
        with pytest.raises(ValueError, match=r"its α must be one decimal number in \(0, 1\]"):
            blend_spec(bad)


def test_blend_option_takes_text_only():
    """blend_option(True) raised AttributeError (helper-70): the API's booleans go to blend_spec."""
    with pytest.raises(TypeError, match="blend_option reads the command line's text, got bool"):
        blend_option(True)
    with pytest.raises(ValueError, match="blend 'biharmonic:' has nothing after its ':'"):
        blend_spec("biharmonic:")


@pytest.mark.parametrize("text", ["poison", "biharmonc:0.5"])
def test_a_misspelt_interpolant_names_the_one_meant(text):
    """As every other name in the package (``_validation.closest``)."""
    meant = "poisson" if text.startswith("poi") else "biharmonic"
    with pytest.raises(ValueError, match=f"did you mean '{meant}'"):
        blend_spec(text)
    with pytest.raises(ValueError, match=f"did you mean '{meant}'"):
        blend_option(text)
