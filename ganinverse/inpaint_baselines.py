"""Inpainting baselines without a generative prior. All take y (B, C, H, W) in [-1, 1] and a mask
(B|1, 1, H, W) with 1 = known, read only y's known pixels, and return (B, C, H, W) with the known
pixels unchanged.

- ``tv_inpaint``: min_x TV(x) subject to x = y on the known pixels; isotropic TV per channel,
  TV(x) = Σ_p ||∇x_p||₂ with forward differences (zero across the last row / column), solved with
  the primal-dual algorithm of Chambolle & Pock (2011), batched in torch.
- ``biharmonic_inpaint``: ``skimage.restoration.inpaint_biharmonic`` (Δ²x = 0 on the missing pixels).
- ``nearest_neighbor_inpaint``: the training image closest on the known pixels (masked L2 distance
  Σ_i M_i (y_i - t_i)²) supplies the missing pixels.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from skimage.restoration import inpaint_biharmonic
from torch import Tensor

from ._validation import (
    check_count,
    check_images,
    check_int,
    check_measurement_scale,
    check_not_empty,
    check_number,
    check_tensor,
)
from .exceptions import ConvergenceWarning, user_stacklevel
from .masks import check_mask


def _prepare(y: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    y = check_not_empty(check_tensor(y, "y", ndim=4, finite=False), "y")
    mask = check_mask(mask, len(y), y.shape[-2:]).to(y.device)
    y = torch.where(mask.bool(), y.float(), 0.0)  # missing pixels never read (NaN allowed there)
    y = check_tensor(y, "y (known pixels)")  # noisy pixels may leave [-1, 1]; [0, 255] may not
    check_measurement_scale(
        y, torch.tensor(1.0), 0.0, "y (known pixels)", fix="noise this large is not supported"
    )
    return y, mask.float()  # float32, like every result of the library


def _grad(x: Tensor) -> Tensor:
    """Forward differences (B, C, H, W) -> (B, C, 2, H, W); zero across the last row / column."""
    dy = torch.zeros_like(x)
    dx = torch.zeros_like(x)
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return torch.stack((dy, dx), dim=2)


def _div(p: Tensor) -> Tensor:
    """The negative adjoint of ``_grad``: <grad x, p> = -<x, div p>."""
    py, px = p[:, :, 0], p[:, :, 1]
    d = torch.zeros_like(py)
    d[..., :-1, :] += py[..., :-1, :]
    d[..., 1:, :] -= py[..., :-1, :]
    d[..., :, :-1] += px[..., :, :-1]
    d[..., :, 1:] -= px[..., :, :-1]
    return d


def tv_inpaint(
    y: Tensor, mask: Tensor, iters: int = 500, *, tol: float = 1e-4, return_converged: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """min_x Σ_p ||∇x_p||₂ s.t. x = y on known pixels (Chambolle–Pock, τ = σ = 0.99/√8).

    Iterates p ← proj_{||·||₂≤1}(p + σ∇x̄), x⁺ ← P(x + τ div p), x̄ ← 2x⁺ - x, where P resets the
    known pixels; x starts from the mean of each image's known pixels. y (B, C, H, W), mask
    (B|1, 1, H, W) -> (B, C, H, W).

    Stopping rule, per image: no pixel moved more than ``tol`` (on y's scale) in the last
    iteration, max |x_k - x_{k-1}| <= tol; an image that stops is left as it is while the others
    go on. ``iters`` is the maximum number of iterations. Raises ValueError/TypeError on a bad
    mask or y, iters < 1, tol not a finite number > 0. Warns
    :class:`~ganinverse.exceptions.ConvergenceWarning` when an image reaches ``iters`` with
    the rule unmet; ``return_converged=True`` returns (x, converged), converged (B,) bool False
    for those images.
    """
    check_count(iters, "iters", "steps")
    tol = check_number(
        tol, "tol", low=0.0, low_open=True, hint="the largest pixel change per iteration, e.g. 1e-4"
    )
    y, mask = _prepare(y, mask)
    known = mask.bool().expand_as(y)
    mean = (y.sum((2, 3), keepdim=True) / mask.sum((2, 3), keepdim=True)).expand_as(y)
    x = torch.where(known, y, mean)
    x_bar = x.clone()
    p = torch.zeros(*x.shape[:2], 2, *x.shape[2:], dtype=x.dtype, device=x.device)
    step = 0.99 / math.sqrt(8)  # ||∇||² ≤ 8, so τσ||∇||² < 1
    active = torch.ones(len(x), dtype=torch.bool, device=x.device)
    change = torch.full((len(x),), math.inf, device=x.device)
    for _ in range(iters):
        run = active.view(-1, 1, 1, 1)
        p_new = p + step * _grad(x_bar)
        p = torch.where(run[..., None], p_new / p_new.norm(dim=2, keepdim=True).clamp_min(1.0), p)
        x_new = torch.where(run & ~known, x + step * _div(p), x)
        change = torch.where(active, (x_new - x).abs().flatten(1).amax(1), change)
        x_bar = torch.where(run, 2 * x_new - x, x_bar)
        x = x_new
        active &= change > tol
        if not bool(active.any()):
            break
    if bool(active.any()):
        warnings.warn(
            f"tv_inpaint: {int(active.sum())} of {len(x)} images still changed by up to "
            f"{float(change[active].max()):.2e} per iteration after iters={iters} (tol={tol:g}); "
            "raise iters (CLI --tv-iters) or loosen tol (a larger value)",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return (x, ~active.cpu()) if return_converged else x


def biharmonic_inpaint(y: Tensor, mask: Tensor) -> Tensor:
    """skimage's biharmonic inpainting of each image (channels jointly) -> (B, C, H, W)."""
    y, mask = _prepare(y, mask)
    arr = y.detach().cpu().double().permute(0, 2, 3, 1).numpy()
    missing = mask[:, 0].cpu().numpy() == 0
    out = np.stack(
        [inpaint_biharmonic(arr[i], missing[i], channel_axis=-1) for i in range(len(arr))]
    )
    x = torch.from_numpy(out).permute(0, 3, 1, 2).to(y)
    return torch.where(mask.bool(), y, x)


def nearest_neighbors(y: Tensor, mask: Tensor, train: Tensor, chunk: int = 8192) -> Tensor:
    """Index of the training image minimising Σ_i M_i (y_i - t_i)² for each image -> (B,) long.

    ||M⊙(y - t)||² = Σ M y² - 2 <M y, t> + <M, t²>, computed as matrix products over chunks of
    ``chunk`` training images (ties go to the smaller index).
    """
    y, mask = _prepare(y, mask)
    check_images(train, "train", tuple(y.shape[1:]))
    check_int(chunk, "chunk", low=1)
    m = mask.expand_as(y).flatten(1)
    my = (m * y.flatten(1)).to(train.device)
    m = m.to(train.device)
    best = torch.full((len(y),), math.inf, device=train.device)
    index = torch.zeros(len(y), dtype=torch.long, device=train.device)
    for start in range(0, len(train), chunk):
        t = train[start : start + chunk].flatten(1)
        dist = m @ t.pow(2).T - 2 * my @ t.T  # Σ M y² is the same for every t: left out
        value, arg = dist.min(1)
        better = value < best
        best[better] = value[better]
        index[better] = arg[better] + start
    return index.to(y.device)


def nearest_neighbor_inpaint(y: Tensor, mask: Tensor, train: Tensor, chunk: int = 8192) -> Tensor:
    """Known pixels of y, missing ones from the nearest training image (``nearest_neighbors``)."""
    index = nearest_neighbors(y, mask, train, chunk)
    y, mask = _prepare(y, mask)
    return torch.where(mask.bool(), y, train[index.to(train.device)].to(y))


__all__ = ["biharmonic_inpaint", "nearest_neighbor_inpaint", "nearest_neighbors", "tv_inpaint"]
