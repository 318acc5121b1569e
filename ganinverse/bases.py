"""Orthonormal sparsifying bases Psi (per channel) as differentiable torch transforms.

For an image channel x (H x W, flattened row-major to n = H W values) the coefficients are
``c = Psi x`` (analysis) and ``x = Psi^T c`` (synthesis), with Psi an orthonormal n x n matrix.
Coefficients keep the image layout: (B, C, H, W) in, (B, C, H, W) out. Used by the Lasso baselines
(min_c 1/2 ||y - A Psi^T c||^2 + lam ||c||_1) and by sparse deviations x = G(z) + Psi^T nu.

* ``PixelBasis``: Psi = I.
* ``DCTBasis``: 2-D orthonormal DCT-II, ``C = D_H X D_W^T`` with
  ``D = scipy.fft.dct(I, norm="ortho")``; equals ``scipy.fft.dctn(x, norm="ortho")``.
* ``WaveletBasis``: PyWavelets ``wavedec2(mode="periodization")`` laid out by ``coeffs_to_array``.
  Psi is built once by transforming the n identity images, so n = H W <= 4096 (64 x 64).
  Periodization halves each side per level, so H and W must be divisible by 2^level; the default
  level is the largest such level (capped at pywt's ``dwt_max_level`` for the filter, at least 1):
  28x28 -> 2, 32x32 -> 5 for haar, 64x64 -> 6 for haar, 3 for db4.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pywt
import scipy.fft
import torch
from torch import Tensor, nn

from ganinverse._validation import check_int, check_tensor

MAX_WAVELET_PIXELS = 4096


def _spatial_shape(shape: Sequence[int]) -> tuple[int, int]:
    """Accept (H, W) or (C, H, W); return (H, W)."""
    shape = tuple(shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (H, W) or (C, H, W), got {shape}")
    for s in shape:
        check_int(s, "shape entries", low=1)
    return shape[-2], shape[-1]


class Basis(nn.Module):
    """An orthonormal per-channel basis on H x W images; subclasses define the transforms."""

    name = "basis"

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = _spatial_shape(shape)

    @property
    def n(self) -> int:
        """Pixels per channel, n = H W."""
        return self.shape[0] * self.shape[1]

    def _check(self, x: Tensor, name: str) -> Tensor:
        check_tensor(x, name, ndim=4, finite=False)
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(
                f"{name} must have spatial shape {self.shape} for this {self.name} basis, "
                f"got {tuple(x.shape)}"
            )
        return x

    def analysis(self, x: Tensor) -> Tensor:
        """c = Psi x per channel: (B, C, H, W) image -> (B, C, H, W) coefficients."""
        return self._analysis(self._check(x, "x"))

    def synthesis(self, c: Tensor) -> Tensor:
        """x = Psi^T c per channel: (B, C, H, W) coefficients -> (B, C, H, W) image."""
        return self._synthesis(self._check(c, "c"))

    def forward(self, x: Tensor) -> Tensor:
        return self.analysis(x)

    def matrix(self) -> Tensor:
        """The (n, n) orthonormal Psi acting on one row-major flattened channel: c = Psi x."""
        eye = torch.eye(self.n, dtype=torch.float64).reshape(self.n, 1, *self.shape)
        return self._analysis(eye).reshape(self.n, self.n).T.float().contiguous()

    def _analysis(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _synthesis(self, c: Tensor) -> Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class PixelBasis(Basis):
    """Psi = I: sparsity in the pixel domain."""

    name = "pixel"

    def _analysis(self, x: Tensor) -> Tensor:
        return x

    def _synthesis(self, c: Tensor) -> Tensor:
        return c


class DCTBasis(Basis):
    """Orthonormal 2-D DCT-II: C = D_H X D_W^T, X = D_H^T C D_W (separable, per channel)."""

    name = "dct"

    def __init__(self, shape: Sequence[int]):
        super().__init__(shape)
        h, w = self.shape
        self.register_buffer("d_h", self._dct_matrix(h), persistent=False)
        self.register_buffer("d_w", self._dct_matrix(w), persistent=False)

    @staticmethod
    def _dct_matrix(size: int) -> Tensor:
        """D with D x = scipy.fft.dct(x, norm="ortho") (orthonormal)."""
        return torch.from_numpy(scipy.fft.dct(np.eye(size), norm="ortho", axis=0)).float()

    def _analysis(self, x: Tensor) -> Tensor:
        d_h, d_w = self.d_h.to(x), self.d_w.to(x)
        return d_h @ x @ d_w.T

    def _synthesis(self, c: Tensor) -> Tensor:
        d_h, d_w = self.d_h.to(c), self.d_w.to(c)
        return d_h.T @ c @ d_w


def _max_periodization_level(h: int, w: int) -> int:
    """Largest L with H and W divisible by 2^L."""
    level = 0
    while h % 2 ** (level + 1) == 0 and w % 2 ** (level + 1) == 0:
        level += 1
    return level


def default_wavelet_level(shape: Sequence[int], wavelet: str = "haar") -> int:
    """Largest level L with H, W divisible by 2^L, capped at pywt.dwt_max_level (at least 1)."""
    h, w = _spatial_shape(shape)
    level = _max_periodization_level(h, w)
    if level == 0:
        raise ValueError(
            f"a periodized wavelet transform needs even H and W, got {h}x{w}; use 'dct' or 'pixel'"
        )
    cap = pywt.dwt_max_level(min(h, w), pywt.Wavelet(wavelet).dec_len)
    return max(1, min(level, cap))


class WaveletBasis(Basis):
    """Orthonormal periodized 2-D wavelet transform (PyWavelets), as one n x n matrix Psi.

    Coefficient layout is ``pywt.coeffs_to_array(pywt.wavedec2(x, wavelet, "periodization",
    level))``: the approximation in the top-left corner, details around it.
    """

    name = "wavelet"

    def __init__(self, shape: Sequence[int], wavelet: str = "haar", level: int | None = None):
        super().__init__(shape)
        h, w = self.shape
        if wavelet not in pywt.wavelist(kind="discrete"):
            raise ValueError(
                f"wavelet must be a discrete PyWavelets name such as 'haar', 'db4', 'sym8'; "
                f"got {wavelet!r}"
            )
        if not pywt.Wavelet(wavelet).orthogonal:
            raise ValueError(f"wavelet {wavelet!r} is not orthogonal; use haar, dbN, symN or coifN")
        if self.n > MAX_WAVELET_PIXELS:
            raise ValueError(
                f"WaveletBasis builds an n x n matrix and supports H*W <= {MAX_WAVELET_PIXELS}; "
                f"got {h}x{w}"
            )
        if level is None:
            level = default_wavelet_level(self.shape, wavelet)
        check_int(level, "level", low=1)
        if h % 2**level or w % 2**level:
            raise ValueError(
                f"level={level} needs H and W divisible by 2^{level}={2**level}, got {h}x{w}; "
                f"the largest possible level is {_max_periodization_level(h, w)}"
            )
        self.wavelet, self.level = wavelet, level
        self.register_buffer("psi", self._build(), persistent=False)

    def _build(self) -> Tensor:
        eye = np.eye(self.n).reshape(self.n, *self.shape)
        with warnings.catch_warnings():  # "level too high" is harmless with periodization
            warnings.filterwarnings("ignore", "Level value", UserWarning)
            coeffs = pywt.wavedec2(
                eye, self.wavelet, mode="periodization", level=self.level, axes=(-2, -1)
            )
        arr, _ = pywt.coeffs_to_array(coeffs, axes=(-2, -1))
        if arr.shape[-2:] != self.shape:
            raise ValueError(f"wavelet coefficients have shape {arr.shape[-2:]}, not {self.shape}")
        return torch.from_numpy(arr.reshape(self.n, self.n).T.copy()).float()  # column k = Psi e_k

    def _analysis(self, x: Tensor) -> Tensor:
        return (x.flatten(-2) @ self.psi.to(x).T).reshape(x.shape)

    def _synthesis(self, c: Tensor) -> Tensor:
        return (c.flatten(-2) @ self.psi.to(c)).reshape(c.shape)

    def matrix(self) -> Tensor:
        return self.psi.clone()

    def approximation_mask(self) -> Tensor:
        """(H, W) bool, True on the approximation (scaling) coefficients of the coarsest level:
        the top-left (H / 2^level) x (W / 2^level) block of the layout (pywt's slice for
        ``coeffs[0]``); every other coefficient is a detail (wavelet) coefficient."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Level value", UserWarning)
            coeffs = pywt.wavedec2(
                np.zeros(self.shape), self.wavelet, mode="periodization", level=self.level
            )
        _, slices = pywt.coeffs_to_array(coeffs)
        mask = torch.zeros(self.shape, dtype=torch.bool)
        mask[slices[0]] = True
        return mask

    def extra_repr(self) -> str:
        return f"shape={self.shape}, wavelet={self.wavelet!r}, level={self.level}"


def make_basis(name: str, shape: Sequence[int], level: int | None = None) -> Basis:
    """Build a basis from its name: 'pixel', 'dct', 'wavelet' (haar) or 'wavelet:<pywt name>'."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    kind, _, wavelet = name.partition(":")
    if kind == "wavelet":
        return WaveletBasis(shape, wavelet or "haar", level)
    if level is not None:
        raise ValueError(f"level only applies to wavelet bases, not {name!r}")
    if kind == "pixel" and not wavelet:
        return PixelBasis(shape)
    if kind == "dct" and not wavelet:
        return DCTBasis(shape)
    raise ValueError(f"basis must be 'pixel', 'dct', 'wavelet' or 'wavelet:<name>'; got {name!r}")


__all__ = [
    "Basis",
    "DCTBasis",
    "PixelBasis",
    "WaveletBasis",
    "default_wavelet_level",
    "make_basis",
]
