"""Poisson blending (Pérez, Gangnet, Blake 2003): paste a completion into the known pixels seamlessly.

Per image and channel, with Ω the missing pixels, g the guide (e.g. G(ẑ)) and y the known image:

    x = argmin_x Σ_{p∈Ω} Σ_{q∈N(p)} ((x_p - x_q) - (g_p - g_q))²   subject to x_q = y_q for q ∉ Ω,

N(p) the 4-neighbours of p inside the image. Its optimality condition is the discrete Poisson
equation, for every p ∈ Ω:

    |N(p)| x_p - Σ_{q∈N(p)∩Ω} x_q = Σ_{q∈N(p)} (g_p - g_q) + Σ_{q∈N(p)\\Ω} y_q,

a sparse, symmetric, positive definite system (every region of Ω touches a known pixel), solved
exactly with ``scipy.sparse.linalg.spsolve``. Pixels outside the image are not neighbours (a
zero-flux border). Known pixels are copied from y unchanged; the guide is only used through its
gradients inside Ω, and the true image behind Ω is never read.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import spsolve
from torch import Tensor

from ._validation import check_images
from .masks import check_mask

#: (dy, dx) of the 4-neighbourhood.
_OFFSETS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _shift(a: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    """out[..., i, j] = a[..., i + dy, j + dx], ``fill`` where that falls outside the image."""
    out = np.full_like(a, fill)
    h, w = a.shape[-2:]
    ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h + min(-dy, 0))
    xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[..., yd, xd] = a[..., ys, xs]
    return out


def _blend_one(guide: np.ndarray, target: np.ndarray, known: np.ndarray) -> np.ndarray:
    """guide, target (C, H, W) float64; known (H, W) bool -> blended (C, H, W)."""
    out = target.copy()
    unknown = ~known
    k = int(unknown.sum())
    if k == 0:
        return out
    index = np.full(known.shape, -1, dtype=np.int64)
    index[unknown] = np.arange(k)
    rows, cols = [], []
    degree = np.zeros(known.shape)
    rhs = np.zeros((guide.shape[0], *known.shape))
    inside = np.ones(known.shape, dtype=bool)
    for dy, dx in _OFFSETS:
        has = _shift(inside, dy, dx, False)  # the neighbour q = p + (dy, dx) exists
        degree += has
        q_index = _shift(index, dy, dx, -1)
        q_known = _shift(known, dy, dx, False)
        # guide gradient g_p - g_q and Dirichlet values y_q of known neighbours
        rhs += np.where(has, guide - _shift(guide, dy, dx, 0.0), 0.0)
        rhs += np.where(q_known, _shift(target, dy, dx, 0.0), 0.0)
        couple = unknown & (q_index >= 0)
        rows.append(index[couple])
        cols.append(q_index[couple])
    rows_all = np.concatenate([np.arange(k), *rows])
    cols_all = np.concatenate([np.arange(k), *cols])
    vals = np.concatenate([degree[unknown], -np.ones(sum(len(r) for r in rows))])
    lap = sp.csc_matrix((vals, (rows_all, cols_all)), shape=(k, k))
    solution = spsolve(lap, rhs[:, unknown].T)  # (k,) or (k, C)
    out[:, unknown] = np.asarray(solution).reshape(k, -1).T
    return out


def poisson_blend(guide: Tensor, target: Tensor, mask: Tensor, clamp: bool = True) -> Tensor:
    """Poisson-blend ``guide`` into the known pixels of ``target`` -> (B, C, H, W).

    guide, target: (B, C, H, W); mask: (B|1, 1, H, W) or (H, W), 1 = known. Only the known pixels of
    ``target`` are read and they are returned unchanged. ``clamp`` clips the filled pixels to
    [-1, 1]. Computed in float64 on the CPU; returned in guide's dtype and device.
    """
    check_images(guide, "guide")
    check_images(target, "target", tuple(guide.shape[1:]))
    if len(target) != len(guide):
        raise ValueError(f"target has {len(target)} images but guide has {len(guide)}")
    mask = check_mask(mask, len(guide), guide.shape[-2:])
    g = guide.detach().cpu().double().numpy()
    y = target.detach().cpu().double().numpy()
    known = mask[:, 0].cpu().numpy() > 0
    blended = np.stack([_blend_one(g[i], y[i], known[i]) for i in range(len(g))])
    out = torch.from_numpy(blended).to(guide.dtype)
    if clamp:
        out = out.clamp(-1, 1)
    # exact copy of the known pixels (no float64 round trip)
    keep = mask.to(torch.bool).expand_as(out)
    out[keep] = target.detach().cpu().to(out.dtype)[keep]
    return out.to(guide.device)


__all__ = ["poisson_blend"]
