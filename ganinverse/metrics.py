"""Per-image reconstruction metrics. Inputs are (B, C, H, W) in [-1, 1]; errors on the [0, 1] scale.

The reference ``x`` must lie in [-1, 1] (a ValueError with the fix otherwise: images in [0, 255]
gave PSNRs of -35 dB); the reconstruction ``x_hat`` may be any finite values, and one with
a mean |value| beyond 5 in an image (no reconstruction on the [-1, 1] scale: one in [0, 255])
warns.

The per-pixel MSE is ``mean(((x_hat - x) / 2)^2)``, i.e. measured after mapping both images to
[0, 1]. CSGM's code reported it on [-1, 1], which is 4x larger. Values are not clipped: a
reconstruction outside [-1, 1] is charged for it.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from skimage.metrics import structural_similarity
from torch import Tensor

from ganinverse._validation import check_image_range, check_images, check_tensor

from .exceptions import user_stacklevel

#: a mean |x_hat| of an image beyond this is no reconstruction on the [-1, 1] scale (one on
#: [0, 255] averages tens to ~100; a poor Lasso overshoots a few pixels, not the mean)
SCALE_WARN = 5.0


def _check_pair(x_hat: Tensor, x: Tensor) -> None:
    check_images(x_hat, "x_hat")
    check_image_range(check_images(x, "x"), "x")
    if x_hat.shape != x.shape:
        raise ValueError(
            f"x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}"
        )
    level = x_hat.detach().abs().flatten(1).mean(1) if x_hat.numel() else x_hat.new_zeros(1)
    if float(level.max()) > SCALE_WARN:
        warnings.warn(
            f"x_hat has a mean |value| of {float(level.max()):.4g} in an image, far outside the "
            "[-1, 1] scale of x: was it on [0, 255]? score x_hat / 127.5 - 1 (the metric is "
            "computed as given, and charges the excess)",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def mse(x_hat: Tensor, x: Tensor) -> Tensor:
    """Per-image per-pixel MSE on the [0, 1] scale: mean over (C, H, W) of ((x_hat - x) / 2)^2 -> (B,)."""
    _check_pair(x_hat, x)  # float16 / bfloat16 are scored in float32 (float64 stays float64)
    dtype = torch.promote_types(torch.promote_types(x_hat.dtype, x.dtype), torch.float32)
    return ((x_hat.to(dtype) - x.to(dtype)) / 2).pow(2).flatten(1).mean(1)


def psnr(x_hat: Tensor, x: Tensor) -> Tensor:
    """Per-image PSNR in dB on the [0, 1] scale (data range 1): 10 log10(1 / mse) -> (B,)."""
    return -10 * torch.log10(mse(x_hat, x))


def _ssim_window(h: int, w: int) -> int:
    """skimage's default window (7), shrunk to the largest odd size that fits small images."""
    size = min(7, h, w)
    size -= 1 - size % 2
    if size < 3:
        raise ValueError(f"SSIM needs images of at least 3x3 pixels, got {h}x{w}")
    return size


def ssim(x_hat: Tensor, x: Tensor) -> Tensor:
    """Per-image SSIM (skimage, uniform 7x7 window or smaller; data range 1 on [0, 1]) -> (B,).

    Colour images use ``channel_axis`` (mean SSIM over channels). The window shrinks to the largest
    odd size <= min(H, W) for images smaller than 7x7.
    """
    _check_pair(x_hat, x)
    win = _ssim_window(*x.shape[-2:])
    a = ((x_hat.detach().double().cpu() + 1) / 2).permute(0, 2, 3, 1).numpy()
    b = ((x.detach().double().cpu() + 1) / 2).permute(0, 2, 3, 1).numpy()
    color = x.shape[1] > 1
    values = [
        structural_similarity(
            a[i] if color else a[i, ..., 0],
            b[i] if color else b[i, ..., 0],
            data_range=1.0,
            win_size=win,
            channel_axis=-1 if color else None,
        )
        for i in range(len(a))
    ]
    return torch.tensor(np.asarray(values), dtype=torch.float32)


def measurement_error(ax_hat: Tensor, y: Tensor) -> Tensor:
    """Per-image measurement error ||y - A x_hat||^2 / m; ``ax_hat`` = A x_hat and y are (B, m)
    -> (B,) float64 (the squares of large measurements, e.g. under heavy noise, stay finite).
    An empty batch (B = 0) or m = 0 is a ValueError."""
    check_tensor(ax_hat, "ax_hat", ndim=2)
    check_tensor(y, "y", ndim=2)
    if ax_hat.shape != y.shape:
        raise ValueError(
            f"ax_hat and y must have the same shape (B, m), got {tuple(ax_hat.shape)} and "
            f"{tuple(y.shape)}"
        )
    if y.numel() == 0:
        raise ValueError(
            f"ax_hat and y must hold at least one image and one measurement, got shape "
            f"{tuple(y.shape)}"
        )
    return (y.double() - ax_hat.double()).pow(2).mean(1)


__all__ = ["measurement_error", "mse", "psnr", "ssim"]
