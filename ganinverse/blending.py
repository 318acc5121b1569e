"""Blending a completion into the known pixels: Poisson blending (Pérez, Gangnet, Blake 2003) and
its biharmonic counterpart, both with a weight on the guide.

Both have the form x = αg + I(y − αg) on the missing pixels Ω (x = y elsewhere): the guide g
(e.g. G(ẑ)), shrunk by α ∈ (0, 1], plus the interpolation I, from the known pixels, of what the
shrunk guide misses there. With I the harmonic interpolation (Δu = 0 on Ω) and α = 1 this is
Poisson blending; with I the biharmonic one (Δ²u = 0 on Ω, scikit-image's
``inpaint_biharmonic``) it is ``biharmonic_blend``. α = 0 would be the interpolation alone; α < 1
trusts the guide's detail less (an average of the guide's and the interpolant's estimates),
which helps where the known pixels are scattered (random or grid masks) and both are about
equally good (``blend_spec`` reads the option that picks one).

Poisson blending in detail:

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

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import spsolve
from skimage.restoration import inpaint_biharmonic
from torch import Tensor

from ._validation import (
    NumberTextError,
    check_images,
    check_number,
    check_tensor,
    closest,
    read_number,
)
from .masks import check_mask

#: The interpolants of a blend (``blend_spec``).
INTERPOLANTS = ("poisson", "biharmonic")
#: α of ``biharmonic`` without a weight: the best of 0.25, 0.5, 0.75, 0.9 for iagan on 8
#: training faces (64x64, random:0.8 and grid:4 masks; RESULTS.md, issue 16).
BIHARMONIC_WEIGHT = 0.5

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


def _check_weight(weight: object, name: str = "weight") -> float:
    """α as a float in (0, 1] (``check_number``: 0-d tensors and numpy scalars accepted)."""
    return check_number(
        weight,
        name,
        low=0.0,
        low_open=True,
        high=1.0,
        hint="α is the share of the guide kept, in (0, 1]; 1: the whole guide",
    )


def _inputs(guide: Tensor, target: Tensor, mask: Tensor) -> tuple[np.ndarray, ...]:
    check_images(guide, "guide")
    check_tensor(target, "target", ndim=4, shape=(None, *guide.shape[1:]), finite=False)
    if len(target) != len(guide):
        raise ValueError(f"target has {len(target)} images but guide has {len(guide)}")
    mask = check_mask(mask, len(guide), guide.shape[-2:])
    known = mask.to(target.device).bool().expand_as(target)
    check_images(torch.where(known, target, 0.0), "target (known pixels)")  # (never read elsewhere)
    g = guide.detach().cpu().double().numpy()
    y = torch.where(known, target, 0.0).detach().cpu().double().numpy()
    return g, y, mask


def _finish(
    blended: np.ndarray, guide: Tensor, target: Tensor, mask: Tensor, clamp: bool
) -> Tensor:
    out = torch.from_numpy(blended).to(guide.dtype)
    if clamp:
        out = out.clamp(-1, 1)
    # exact copy of the known pixels (no float64 round trip)
    keep = mask.to(torch.bool).expand_as(out)
    out[keep] = target.detach().cpu().to(out.dtype)[keep]
    return out.to(guide.device)


def poisson_blend(
    guide: Tensor, target: Tensor, mask: Tensor, clamp: bool = True, *, weight: float = 1.0
) -> Tensor:
    """Poisson-blend ``guide`` into the known pixels of ``target`` -> (B, C, H, W).

    guide, target: (B, C, H, W); mask: (B|1, 1, H, W) or (H, W), 1 = known. Only the known pixels of
    ``target`` are read and they are returned unchanged. ``weight`` α ∈ (0, 1] scales the guide
    (its gradients are matched as α∇g; 1: Pérez et al.'s blend). ``clamp`` clips the filled
    pixels to [-1, 1]. Computed in float64 on the CPU; returned in guide's dtype and device.
    Raises ValueError/TypeError for shapes that disagree, a bad mask or a weight outside (0, 1].
    """
    weight = _check_weight(weight)
    g, y, mask = _inputs(guide, target, mask)
    known = mask[:, 0].cpu().numpy() > 0
    blended = np.stack([_blend_one(weight * g[i], y[i], known[i]) for i in range(len(g))])
    return _finish(blended, guide, target, mask, clamp)


def biharmonic_blend(
    guide: Tensor,
    target: Tensor,
    mask: Tensor,
    weight: float = BIHARMONIC_WEIGHT,
    clamp: bool = True,
) -> Tensor:
    """x = αg + B(y − αg) on the missing pixels, x = y on the known ones -> (B, C, H, W).

    B is scikit-image's biharmonic inpainting (Δ²u = 0 on the missing pixels, per channel; it
    clips u to the range of its known values), so x minimises Σ_Ω (Δ(x − αg))² with x = y on the
    known pixels: the guide's detail, shrunk by α = ``weight`` ∈ (0, 1], on top of a smooth
    interpolation of the known pixels. guide, target (B, C, H, W) on [-1, 1]; mask (B|1, 1, H,
    W) or (H, W), 1 = known; only target's known pixels are read. ``clamp`` clips to [-1, 1].
    Float64 on the CPU; returned in guide's dtype and device. Raises ValueError/TypeError for
    shapes that disagree, a bad mask or a weight outside (0, 1].
    """
    weight = _check_weight(weight)
    g, y, mask = _inputs(guide, target, mask)
    missing = mask[:, 0].cpu().numpy() == 0
    out = y.copy()
    for i in range(len(g)):
        if missing[i].any():
            residual = np.moveaxis(y[i] - weight * g[i], 0, -1)
            filled = np.moveaxis(inpaint_biharmonic(residual, missing[i], channel_axis=-1), -1, 0)
            out[i][:, missing[i]] = (weight * g[i] + filled)[:, missing[i]]
    return _finish(out, guide, target, mask, clamp)


@dataclass(frozen=True)
class Blend:
    """How a completion is blended into the known pixels: ``interpolant`` (``INTERPOLANTS``) and
    α = ``weight`` (see the module docstring). Made by ``blend_spec``; called as
    ``blend(guide, target, mask)``."""

    interpolant: str
    weight: float

    @property
    def option(self) -> bool | str:
        """The option's canonical value: True for Poisson blending with α = 1 (as recorded
        before the weight existed), else ``"<interpolant>:<α>"``."""
        if self.interpolant == "poisson" and self.weight == 1.0:
            return True
        return f"{self.interpolant}:{self.weight!r}"  # (exact: 0.1234567 stays itself)

    def __call__(self, guide: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        if self.interpolant == "poisson":
            return poisson_blend(guide, target, mask, weight=self.weight)
        return biharmonic_blend(guide, target, mask, weight=self.weight)


def blend_spec(value: object, name: str = "blend") -> Blend | None:
    """Read a blend option: False / None -> no blend; True or ``"poisson"`` -> Poisson
    blending (α = 1); ``"biharmonic"`` -> ``biharmonic_blend`` with α = ``BIHARMONIC_WEIGHT``;
    ``"poisson:α"`` / ``"biharmonic:α"`` with α ∈ (0, 1]. Raises TypeError for another type,
    ValueError naming ``name`` for another text or α."""
    if isinstance(value, np.bool_):
        value = bool(value)
    if value is None or value is False:
        return None
    if value is True:
        return Blend("poisson", 1.0)
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be True, False or a text such as 'poisson' or 'biharmonic:0.5', got "
            f"{type(value).__name__}"
        )
    interpolant, _, weight = value.strip().lower().partition(":")  # (as the CLI reads it)
    interpolant, weight = interpolant.strip(), weight.strip()
    if interpolant in INTERPOLANTS and _ and not weight:
        raise ValueError(_no_alpha(f"{name} {value!r}", interpolant, "'"))
    if interpolant not in INTERPOLANTS or (_ and not weight):
        raise ValueError(
            f"{name} must be True, False, 'poisson[:α]' or 'biharmonic[:α]' with α in (0, 1] "
            f"(e.g. 'biharmonic:0.5'), got {value!r}"
            + (closest(interpolant, INTERPOLANTS) if interpolant not in INTERPOLANTS else "")
        )
    default = 1.0 if interpolant == "poisson" else BIHARMONIC_WEIGHT
    try:
        alpha = read_number(weight) if weight else default
    except NumberTextError as error:  # (its own reason: '_', non-ASCII digits, below float32)
        raise ValueError(f"{name} {value!r}: {error}") from None
    except ValueError:
        raise ValueError(
            f"{name} {value!r}: its α must be one decimal number in (0, 1] (e.g. "
            f"'{interpolant}:0.5'), got {weight!r}"
        ) from None
    try:
        return Blend(interpolant, _check_weight(alpha, "its α"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} {value!r}: {error}") from None


def _no_alpha(said: str, interpolant: str, quote: str) -> str:
    """The message of a blend text with nothing after its ':' (``said`` quotes it; ``quote``
    around the examples: "'" in the API's words, none in the command line's)."""
    q = quote
    return (
        f"{said} has nothing after its ':': write {q}{interpolant}:α{q} with α in (0, 1] (e.g. "
        f"{q}{interpolant}:0.5{q}), or {q}{interpolant}{q} alone for its default"
    )


def blend_value(value: object, name: str = "blend") -> bool | str:
    """A blend option's one spelling (``blend_spec``'s, checked): False for no blend (None
    too), True for Poisson blending with α = 1, else ``"<interpolant>:<α>"`` (``"biharmonic"``
    is ``"biharmonic:0.5"``): what a sweep stores, so two spellings of one blend are one
    setting. Raises as ``blend_spec``."""
    how = blend_spec(value, name)
    return False if how is None else how.option


def blend_option(text: str) -> bool | str:
    """A blend option typed on the command line -> its canonical value (``Blend.option``):
    true/yes/on/1 -> True, false/no/off/0/none -> False, else a ``blend_spec`` text
    (``biharmonic`` -> ``"biharmonic:0.5"``). Raises ValueError for anything else."""
    if not isinstance(text, str):  # (the API's blend= takes True / False: blend_spec)
        raise TypeError(
            f"blend_option reads the command line's text, got {type(text).__name__} {text!r}; "
            "pass a text such as 'biharmonic:0.5' (blend_spec takes True / False / None)"
        )
    word = text.strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0", "none"):
        return False
    interpolant, colon, weight = (part.strip() for part in word.partition(":"))
    if interpolant in INTERPOLANTS and colon and not weight:
        raise ValueError(_no_alpha(repr(text), interpolant, ""))
    if interpolant not in INTERPOLANTS:
        raise ValueError(
            f"expected true, false, poisson[:α] or biharmonic[:α] with α in (0, 1] (e.g. "
            f"biharmonic:0.5), got {text!r}" + closest(interpolant, INTERPOLANTS)
        )
    return blend_spec(text.strip(), "blend").option  # (its errors quote the text as typed)


__all__ = [
    "BIHARMONIC_WEIGHT",
    "INTERPOLANTS",
    "Blend",
    "biharmonic_blend",
    "blend_option",
    "blend_spec",
    "poisson_blend",
]
