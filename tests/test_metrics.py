"""Tests for ganinverse.metrics against hand-computed values and skimage."""

from __future__ import annotations

import math

import pytest
import torch
from skimage.metrics import structural_similarity

from ganinverse.metrics import measurement_error, mse, psnr, ssim


def test_mse_and_psnr_hand_values():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.zeros(2, 1, 2, 2)
    x_hat[0] = 1.0  # off by 1 on [-1, 1] -> 0.5 on [0, 1] -> squared 0.25
    x_hat[1, 0, 0, 0] = -2.0  # one pixel off by 1 on [0, 1] of four
    assert torch.allclose(mse(x_hat, x), torch.tensor([0.25, 0.25]))
    assert torch.allclose(psnr(x_hat, x), torch.full((2,), 10 * math.log10(4)))
    assert torch.isinf(psnr(x, x)).all()
    assert mse(x_hat, x).shape == (2,) and mse(x_hat, x).dtype == torch.float32


@pytest.mark.parametrize(
    "shape,win", [((1, 28, 28), 7), ((3, 8, 8), 7), ((1, 5, 6), 5), ((1, 4, 9), 3)]
)
def test_ssim_matches_skimage(shape, win):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, *shape, generator=g) * 2 - 1
    x_hat = (x + 0.3 * torch.randn(3, *shape, generator=g)).clamp(-1, 1)
    got = ssim(x_hat, x)
    for i in range(3):
        a = ((x_hat[i] + 1) / 2).permute(1, 2, 0).double().numpy()
        b = ((x[i] + 1) / 2).permute(1, 2, 0).double().numpy()
        if shape[0] == 1:
            ref = structural_similarity(a[..., 0], b[..., 0], data_range=1.0, win_size=win)
        else:
            ref = structural_similarity(a, b, data_range=1.0, win_size=win, channel_axis=-1)
        assert got[i].item() == pytest.approx(ref, abs=1e-6)
    assert got.shape == (3,) and got.dtype == torch.float32
    assert torch.allclose(ssim(x, x), torch.ones(3))


def test_measurement_error():
    y = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    got = measurement_error(y + torch.tensor([[1.0, -1.0, 0, 0]]), y)
    assert got.dtype == torch.float64 and torch.allclose(got, torch.tensor([0.5], dtype=got.dtype))
    # measurements under heavy noise: their squares overflow float32, not float64 (user trial:
    # a sweep wrote meas_error = inf, then refused its own rows)
    big = torch.full((1, 4), 1e30)
    assert measurement_error(big, -big).item() == pytest.approx(4e60)
    with pytest.raises(ValueError, match="at least one image"):
        measurement_error(torch.zeros(0, 10), torch.zeros(0, 10))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="same shape"):
        mse(torch.zeros(2, 1, 4, 4), torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="x_hat must have 4 dimensions"):
        psnr(torch.zeros(4, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="at least 3x3"):
        ssim(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="same shape"):
        measurement_error(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="NaN"):
        mse(torch.full((1, 1, 2, 2), float("nan")), torch.zeros(1, 1, 2, 2))


@pytest.mark.parametrize("metric", [mse, psnr, ssim], ids=lambda f: f.__name__)
@pytest.mark.parametrize("scale, fix", [(255.0, "127.5"), (1.7, "from_unit")])
def test_a_reference_on_the_wrong_scale_is_refused_with_the_fix(metric, scale, fix):
    x = torch.rand(2, 1, 8, 8) * scale
    with pytest.raises(ValueError, match=rf"x must hold images on the library's \[-1, 1\].*{fix}"):
        metric(x, x)


@pytest.mark.parametrize("metric", [mse, psnr, ssim], ids=lambda f: f.__name__)
def test_a_reconstruction_may_overshoot_but_must_be_finite(metric):
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    assert torch.isfinite(metric(x * 1.2, x)).all()
    with pytest.raises(ValueError, match="x_hat contains NaN"):
        metric(torch.full_like(x, float("nan")), x)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_images_are_scored_in_float32(dtype):
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    x_hat = (x * 0.9).to(dtype)
    for metric in (mse, psnr):
        got = metric(x_hat, x.to(dtype))
        assert got.dtype == torch.float32
        assert torch.allclose(got, metric(x_hat.float(), x.to(dtype).float()))


def test_an_x_hat_on_another_scale_warns():
    """x_hat in [0, 255] beside x in [-1, 1] (user trial: -35 dB in silence) warns with the fix;
    a reconstruction that overshoots a few pixels (a poor Lasso) does not."""
    import warnings

    x = torch.rand(2, 1, 8, 8) * 2 - 1
    with pytest.warns(UserWarning, match=r"far outside the \[-1, 1\] scale .* x_hat / 127.5 - 1"):
        psnr((x + 1) * 127.5, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wild = x.clone()
        wild[:, :, :2] = 10.0  # 2 of 8 rows far off
        psnr(wild, x)
