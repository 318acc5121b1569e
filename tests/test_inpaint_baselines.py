import pytest
import torch

from ganinverse.inpaint_baselines import (
    biharmonic_inpaint,
    nearest_neighbor_inpaint,
    nearest_neighbors,
    tv_inpaint,
)
from ganinverse.masks import center_mask, random_mask


def step_edge(n=2, size=16):
    x = -torch.ones(n, 1, size, size)
    x[:, :, size // 2 :] = 1
    return x


def band_mask(n=2, size=16):
    mask = torch.ones(n, 1, size, size)
    mask[..., 5:11] = 0  # a band of columns across the edge
    return mask


def tv(x):
    dy = torch.zeros_like(x)
    dx = torch.zeros_like(x)
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return (dy.pow(2) + dx.pow(2)).sqrt().sum((1, 2, 3))


def test_tv_continues_a_straight_edge_through_the_hole():
    x, mask = step_edge(), band_mask()
    y = torch.where(mask.bool(), x, torch.nan)
    out = tv_inpaint(y, mask, iters=1000)
    assert float((out - x).abs().mean()) < 1e-3
    assert torch.equal(out[mask.bool().expand_as(x)], x[mask.bool().expand_as(x)])


def test_tv_does_not_increase_tv_over_a_smooth_truth():
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.interpolate(
        torch.rand(2, 3, 4, 4, generator=gen) * 2 - 1, size=(12, 12), mode="bilinear"
    )
    mask = random_mask(2, (12, 12), missing=0.5, seed=1)
    out = tv_inpaint(x, mask, iters=800)
    assert out.shape == x.shape
    assert bool((tv(out) <= tv(x) + 1e-3).all())


def test_biharmonic_reproduces_a_linear_ramp():
    ramp = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(2, 3, 16, 16).contiguous()
    mask = center_mask(2, (16, 16), fraction=0.5)
    out = biharmonic_inpaint(ramp, mask)
    assert out.shape == ramp.shape
    assert float((out - ramp).abs().max()) < 1e-3


def test_nearest_neighbour_uses_only_known_pixels():
    gen = torch.Generator().manual_seed(0)
    train = torch.rand(50, 1, 8, 8, generator=gen) * 2 - 1
    x = train[[7, 31]].clone()
    mask = center_mask(2, (8, 8), fraction=0.5)
    y = torch.where(mask.bool(), x, 5.0)  # garbage in the hole must not matter
    y[:, :, 2:6, 2:6] = torch.nan
    assert nearest_neighbors(y, mask, train, chunk=7).tolist() == [7, 31]
    assert torch.equal(nearest_neighbor_inpaint(y, mask, train, chunk=7), x)


def test_nearest_neighbour_matches_brute_force():
    gen = torch.Generator().manual_seed(1)
    train = torch.rand(40, 3, 6, 6, generator=gen) * 2 - 1
    y = torch.rand(5, 3, 6, 6, generator=gen) * 2 - 1
    mask = random_mask(5, (6, 6), missing=0.6, seed=2)
    dist = ((y[:, None] - train[None]) ** 2 * mask[:, None]).sum((2, 3, 4))
    assert torch.equal(nearest_neighbors(y, mask, train, chunk=16), dist.argmin(1))


def test_baselines_validate_inputs():
    y = step_edge()
    with pytest.raises(ValueError, match="mask must be"):
        tv_inpaint(y, torch.ones(2, 1, 4, 4))
    with pytest.raises(ValueError, match="no known pixel"):
        biharmonic_inpaint(y, torch.zeros(16, 16))
    with pytest.raises(ValueError, match="train must have shape"):
        nearest_neighbors(y, band_mask(), torch.zeros(3, 1, 8, 8))
    with pytest.raises(ValueError, match=r"y \(known pixels\) contains NaN"):
        tv_inpaint(torch.full_like(y, torch.nan), band_mask())


# --- no silent fallbacks: TV stops on its rule or warns --------------------------------------


def test_tv_warns_when_it_stops_on_iters():
    from ganinverse.exceptions import ConvergenceWarning

    x, mask = step_edge(), band_mask()
    with pytest.warns(ConvergenceWarning, match=r"2 of 2 images.*iters=3.*raise iters"):
        tv_inpaint(x, mask, iters=3)


def test_tv_stops_early_per_image_once_no_pixel_moves_more_than_tol():
    import warnings

    from ganinverse.exceptions import ConvergenceWarning

    x, mask = step_edge(), band_mask()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        loose = tv_inpaint(x, mask, iters=5000, tol=1e-3)
        tight = tv_inpaint(x, mask, iters=5000, tol=1e-6)
    # the tight run went on (different answer) and is closer to the straight edge
    assert not torch.equal(loose, tight)
    assert float((tight - x).abs().mean()) <= float((loose - x).abs().mean())
    # an image's answer does not depend on the other images of its batch
    one = tv_inpaint(x[:1], mask[:1], iters=5000, tol=1e-3)
    assert torch.allclose(one, loose[:1], atol=1e-6)


# --- kind 3: every number finite and in its domain, every tensor finite -------------------------

BAD = [float("nan"), float("inf"), -float("inf")]


def _calls():
    train = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y, mask = step_edge(), band_mask()
    base = {"y": y, "mask": mask}
    return {
        "tv_inpaint": lambda **k: tv_inpaint(**{**base, "iters": 5, **k}),
        "biharmonic_inpaint": lambda **k: biharmonic_inpaint(**{**base, **k}),
        "nearest_neighbors": lambda **k: nearest_neighbors(**{**base, "train": train, **k}),
        "nearest_neighbor_inpaint": lambda **k: nearest_neighbor_inpaint(
            **{**base, "train": train, **k}
        ),
    }


@pytest.mark.parametrize("value", [*BAD, 0.0, -1e-4])
def test_tv_tol_must_be_finite_and_positive(value):
    with pytest.raises(ValueError, match="tol must be"):
        _calls()["tv_inpaint"](tol=value)


@pytest.mark.parametrize(
    ("function", "arg"),
    [
        ("tv_inpaint", "iters"),
        ("nearest_neighbors", "chunk"),
        ("nearest_neighbor_inpaint", "chunk"),
    ],
)
def test_int_arguments_at_least_one(function, arg):
    with pytest.raises(ValueError, match=f"{arg} must be >= 1"):
        _calls()[function](**{arg: 0})
    with pytest.raises(TypeError, match=f"{arg} must be an int"):
        _calls()[function](**{arg: 2.5})


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(
    "function",
    ["tv_inpaint", "biharmonic_inpaint", "nearest_neighbors", "nearest_neighbor_inpaint"],
)
def test_known_pixels_of_y_must_be_finite(function, bad):
    y = step_edge()
    y[0, 0, 0, 0] = bad  # a known pixel of band_mask
    with pytest.raises(ValueError, match=r"y \(known pixels\) contains NaN or Inf"):
        _calls()[function](y=y)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("function", ["nearest_neighbors", "nearest_neighbor_inpaint"])
def test_training_images_must_be_finite(function, bad):
    train = torch.zeros(6, 1, 16, 16)
    train[3, 0, 8, 8] = bad
    with pytest.raises(ValueError, match="train contains NaN or Inf"):
        _calls()[function](train=train)


def test_every_public_function_is_covered():
    import ganinverse.inpaint_baselines as mod

    assert set(mod.__all__) == set(_calls())


# -- the same baselines as registered methods (reconstruct, sweep) ----------------------------


@pytest.mark.parametrize("method", ["biharmonic", "tv"])
def test_the_registered_baselines_are_the_functions(method):
    from ganinverse.methods import reconstruct
    from ganinverse.operators import Inpainting

    x = torch.rand(2, 3, 12, 12) * 2 - 1
    mask = random_mask(2, (12, 12), 0.5, seed=1)
    op = Inpainting(mask, (3, 12, 12))
    y = op.measure(x)
    got = reconstruct(method, None, op, y)
    want = biharmonic_inpaint(y, mask) if method == "biharmonic" else tv_inpaint(y, mask, 1000)
    assert torch.allclose(got, want)
    assert torch.equal(got * mask, y * mask)  # the known pixels are y's


def test_the_registered_baselines_refuse_other_operators_and_channel_masks():
    from ganinverse.methods import reconstruct
    from ganinverse.operators import GaussianCS, Inpainting

    y = torch.zeros(1, 10)
    with pytest.raises(
        ValueError,
        match=r"applies to Inpainting operators \('inpainting'\) only, got GaussianCS",
    ):
        reconstruct("biharmonic", None, GaussianCS((1, 4, 4), 10), y)
    mask = torch.ones(1, 3, 6, 6)
    mask[0, 0, 2, 2] = 0  # missing in one channel only
    op = Inpainting(mask, (3, 6, 6))
    with pytest.raises(ValueError, match="same in every channel"):
        reconstruct("tv", None, op, op.measure(torch.zeros(1, 3, 6, 6)))


def test_a_sweep_runs_the_baselines_beside_a_generator_method(tmp_path):
    from ganinverse.cli import main

    out = tmp_path / "sweep"
    main(["sweep", "--dataset", "digits", "--operator", "inpainting",
          "--mask", "center", "--methods", "biharmonic,tv", "--n-images", "2", "--batch-size",
          "2", "--noise-std", "0", "--device", "cpu", "--no-progress",
          "--out", str(out)])  # fmt: skip
    rows = (out / "rows.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 and "biharmonic" in rows[1] + rows[2] + rows[3]


@pytest.mark.parametrize("method", ["tv", "biharmonic"])
def test_an_empty_batch_is_refused_naming_y(method):
    import ganinverse as gi

    mask = torch.ones(1, 8, 8)
    mask[:, 2:5, 2:5] = 0
    op = gi.Inpainting(mask, (1, 8, 8))
    with pytest.raises(ValueError, match="y must hold at least one image, got an empty batch"):
        gi.reconstruct(method, None, op, torch.zeros(0, 1, 8, 8))


@pytest.mark.parametrize("fill", [tv_inpaint, biharmonic_inpaint], ids=lambda f: f.__name__)
def test_the_fills_keep_the_image_contract(fill):
    """y in [0, 255] went through (x̂ up to ±200) and float64 came back float64 (user trial):
    known pixels outside [-1, 1] are refused with the fix, other floats give float32."""
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    mask = center_mask(2, (1, 8, 8), fraction=0.5)
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        fill(x * 200, mask)
    assert fill(x.double(), mask).dtype == torch.float32
