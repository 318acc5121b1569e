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

import copy
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pywt
import scipy.fft
import torch
from torch import Tensor, nn

from ganinverse._validation import check_int, check_tensor, closest

MAX_WAVELET_PIXELS = 4096
#: A WaveletFrame with H W K at most this many entries stores W as a matrix (28x28 db8 level 3:
#: 784 x 3,319 = 2.6M, 21 MB in float64); larger ones (64x64: 35M) stay convolutions.
MAX_FRAME_MATRIX = 1 << 22
#: Dictionary.least_energy_gauge's cache: (class, extra_repr, free coefficients) -> T.
_GAUGES: dict[tuple, Tensor] = {}


def _spatial_shape(shape: Sequence[int]) -> tuple[int, int]:
    """Accept (H, W) or (C, H, W); return (H, W)."""
    shape = tuple(shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (H, W) or (C, H, W), got {shape}")
    for s in shape:
        check_int(s, "shape entries", low=1)
    return shape[-2], shape[-1]


class Dictionary(nn.Module):
    """A per-channel synthesis x = S c on H x W images, with its adjoint c' = S^T x: what the
    Lasso solvers (``ganinverse.baselines``) need of a representation. Coefficients of C channels
    have the shape ``coefficient_shape(C)`` (after the batch); an orthonormal :class:`Basis` keeps
    the image layout (C, H, W), a redundant frame (:class:`WaveletFrame`) has more coefficients.
    """

    name = "dictionary"

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = _spatial_shape(shape)

    @property
    def n(self) -> int:
        """Pixels per channel, n = H W."""
        return self.shape[0] * self.shape[1]

    def coefficient_shape(self, channels: int) -> tuple[int, ...]:
        """The shape of the coefficients of one image with ``channels`` channels."""
        raise NotImplementedError

    def synthesis(self, c: Tensor) -> Tensor:
        """x = S c per channel: (B, *coefficient_shape(C)) -> (B, C, H, W)."""
        raise NotImplementedError

    def adjoint(self, x: Tensor) -> Tensor:
        """S^T x per channel: (B, C, H, W) -> (B, *coefficient_shape(C))."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        """Everything the synthesis depends on (a subclass with parameters extends it: it keys
        the cache of ``least_energy_gauge``)."""
        return f"shape={self.shape}"

    def least_energy_gauge(self, free: Tensor, coef_shape: Sequence[int]) -> Tensor | None:
        """A (k, r) float64 CPU map T of the coefficients ``free`` (k flat indices into
        ``coef_shape``, (C, ...)) with S_U T orthonormal columns spanning range(S_U), S_U the
        synthesis restricted to them: c_U = T z gives the image S_U c_U = S_U T z of energy
        ||z||². The weighted Lasso (``baselines.lasso_fista``) uses it to pick, among the
        least-squares values of unpenalised coefficients, the one of least image energy (for a
        redundant frame the least ||c_U|| can be far from it: coefficients of atoms that barely
        meet the image grow large). Built per channel from ``synthesis`` of unit coefficients
        (an SVD of (H W) x k_c per distinct channel pattern, cached by the dictionary's
        ``extra_repr``, which names everything its synthesis depends on)."""
        free = free.to("cpu", torch.long)
        channels, per = coef_shape[0], math.prod(coef_shape[1:])
        if len(_GAUGES) > 64:
            _GAUGES.clear()
        blocks, rows, cols = [], [], 0
        for ch in range(channels):
            sel = (free // per == ch).nonzero()[:, 0]
            if not len(sel):
                continue
            local = free[sel] % per
            key = (type(self).__name__, self.extra_repr(), tuple(local.tolist()))
            if key not in _GAUGES:
                unit = torch.zeros(len(local), 1, per, dtype=torch.float64)
                unit[torch.arange(len(local)), 0, local] = 1
                s_u = self._synthesis64(unit.reshape(len(local), 1, *coef_shape[1:]))
                u, sv, vh = torch.linalg.svd(s_u.reshape(len(local), -1).T, full_matrices=False)
                keep = sv > sv.amax() * max(s_u.shape) * torch.finfo(torch.float64).eps
                _GAUGES[key] = vh[keep].T / sv[keep]  # (k_c, r_c)
            blocks.append(_GAUGES[key])
            rows.append(sel)
        T = torch.zeros(len(free), sum(b.shape[1] for b in blocks), dtype=torch.float64)
        for sel, b in zip(rows, blocks, strict=True):
            T[sel[:, None], torch.arange(cols, cols + b.shape[1])] = b
            cols += b.shape[1]
        return T

    def _synthesis64(self, c: Tensor) -> Tensor:
        """``synthesis`` in float64 on the CPU (a copy of the dictionary where needed)."""
        if all(b.device.type == "cpu" and b.dtype == torch.float64 for b in self.buffers()):
            return self.synthesis(c)
        return copy.deepcopy(self).to("cpu", torch.float64).synthesis(c)


class Basis(Dictionary):
    """An orthonormal per-channel basis on H x W images; subclasses define the transforms.
    Its synthesis is Psi^T and its adjoint the analysis Psi (coefficients in the image layout)."""

    name = "basis"

    def coefficient_shape(self, channels: int) -> tuple[int, ...]:
        return (channels, *self.shape)

    def adjoint(self, x: Tensor) -> Tensor:
        """(Psi^T)^T x = Psi x: the analysis (orthonormal)."""
        return self.analysis(x)

    def least_energy_gauge(self, free: Tensor, coef_shape: Sequence[int]) -> None:
        """None: orthonormal, the least ||c_U|| is the least image energy already."""
        return None

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
        _check_orthogonal_wavelet(wavelet)
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


def _check_orthogonal_wavelet(wavelet: object) -> pywt.Wavelet:
    """The pywt.Wavelet of an orthogonal discrete wavelet's name, else a named error."""
    names = pywt.wavelist(kind="discrete")
    if not isinstance(wavelet, str) or wavelet not in names:
        raise ValueError(
            f"wavelet must be a discrete PyWavelets name such as 'haar', 'db4', 'db8', 'sym8'; "
            f"got {wavelet!r}" + closest(wavelet, names)
        )
    w = pywt.Wavelet(wavelet)
    if not w.orthogonal:
        raise ValueError(f"wavelet {wavelet!r} is not orthogonal; use haar, dbN, symN or coifN")
    return w


def frame_band_sizes(size: int, filter_length: int, level: int) -> list[int]:
    """Band lengths of the zero-padded DWT of a signal of ``size`` samples: [size, n_1, ...,
    n_level] with n_l = floor((n_{l-1} + F - 1) / 2) (pywt's ``dwt_coeff_len`` for every
    non-periodic mode). Raises ValueError for a level at which the band would not shrink
    (n_{l-1} <= F - 1: the level would add only redundancy, no coarser scale)."""
    sizes = [size]
    for _ in range(level):
        if sizes[-1] <= filter_length - 1:
            raise ValueError(
                f"level={level} is too high for {size} pixels with a filter of length "
                f"{filter_length}: at level {len(sizes)} the approximation band ({sizes[-1]}) no "
                f"longer shrinks; the largest level is {max_frame_level(size, filter_length)}"
            )
        sizes.append((sizes[-1] + filter_length - 1) // 2)
    return sizes


def max_frame_level(size: int, filter_length: int) -> int:
    """The largest level at which every band still shrinks (``frame_band_sizes``); 0 if none."""
    level, n = 0, size
    while n > filter_length - 1:
        n, level = (n + filter_length - 1) // 2, level + 1
    return level


class WaveletFrame(Dictionary):
    """The zero-padded (non-periodic) 2-D discrete wavelet transform of an orthogonal wavelet as
    a redundant Parseval frame, matrix-free (conv2d / conv_transpose2d with pywt's filters).

    Analysis W (``adjoint``): PyWavelets' ``wavedec2(x, wavelet, mode="zero", level)``, each
    level a full convolution of the zero-extended image with the decomposition filters, kept at
    odd positions: a band of n_l = floor((n_{l-1} + F - 1) / 2) per side (F the filter length),
    so K > H W coefficients per channel (3,319 for 28x28 with db8 at level 3). With orthogonal
    filters every translate that meets the image is kept, so W is an isometry,
    ||W x|| = ||x|| (W^T W = I), and the synthesis is its transpose, S = W^T (``synthesis``):
    S W x = x (perfect reconstruction), while W S is only the projection onto W's range. S is
    PyWavelets' ``waverec2`` for every non-periodic mode (zero, symmetric, reflect, ... all
    reconstruct alike: the mode only changes the analysis), so a synthesis Lasso in this frame
    has no boundary option.

    Coefficients (B, C, K), per channel the bands flattened row-major in pywt's order:
    the approximation a_L (n_L x n_L'), then for l = L..1 the details of level l, each
    (3, n_l, n_l') in pywt's (horizontal, vertical, diagonal) order: (cH, cV, cD) =
    detail on axis 0 (H) / on axis 1 (W) / on both. ``approximation_mask()`` marks a_L.
    Levels must shrink every band (``frame_band_sizes``: n_{l-1} > F - 1), which is looser than
    pywt's ``dwt_max_level`` (2^L (F - 1) <= H; it warns for db8 at level 3 on 28x28 images,
    the setting of deepinv's ``WaveletPrior``). Any H x W (no divisibility needed). ``matrix``:
    apply W as an explicit (K, H W) matrix (None: when H W K <= MAX_FRAME_MATRIX, e.g. 28x28;
    64x64 images stay matrix-free). Raises ValueError for a wavelet that is not an orthogonal
    PyWavelets name, a level < 1 or too high; TypeError for a ``matrix`` not None/True/False.
    """

    name = "wavelet-frame"

    def __init__(
        self,
        shape: Sequence[int],
        wavelet: str = "db8",
        level: int = 3,
        matrix: bool | None = None,
    ):
        super().__init__(shape)
        w = _check_orthogonal_wavelet(wavelet)
        check_int(level, "level", low=1)
        if matrix not in (None, True, False):
            raise TypeError(f"matrix must be None (auto), True or False, got {matrix!r}")
        f = w.dec_len
        h, wd = self.shape
        try:
            rows, cols = frame_band_sizes(h, f, level), frame_band_sizes(wd, f, level)
        except ValueError as err:
            raise ValueError(f"{err} ({wavelet!r} on {h}x{wd} images)") from None
        self.wavelet, self.level, self.filter_length = wavelet, level, f
        self.sizes = list(zip(rows, cols, strict=True))  # [(H, W), (n_1, n_1'), ...]
        # conv2d is a cross-correlation: the flipped decomposition filters, as 2-D outer products
        lo = torch.tensor(w.dec_lo[::-1], dtype=torch.float64)
        hi = torch.tensor(w.dec_hi[::-1], dtype=torch.float64)
        kernels = [torch.outer(a, b) for a, b in ((lo, lo), (hi, lo), (lo, hi), (hi, hi))]
        self.register_buffer("kernels", torch.stack(kernels)[:, None], persistent=False)
        na, nb = self.sizes[-1]
        self.k = na * nb + sum(3 * a * b for a, b in self.sizes[1:])
        # small images: W as an explicit (K, H W) matrix, built by the convolutions (matmuls are
        # several times faster than conv2d with F x F kernels on the CPU, float64 above all)
        self.dense = self.n * self.k <= MAX_FRAME_MATRIX if matrix is None else matrix
        self.register_buffer("w", torch.empty(0, dtype=torch.float64), persistent=False)
        if self.dense:
            eye = torch.eye(self.n, dtype=torch.float64).reshape(self.n, 1, *self.shape)
            self.w = self._analysis_conv(eye).reshape(self.n, self.k).T.contiguous()

    def coefficient_shape(self, channels: int) -> tuple[int, ...]:
        return (channels, self.k)

    def _check_images(self, x: Tensor, name: str) -> Tensor:
        check_tensor(x, name, ndim=4, finite=False)
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(
                f"{name} must have spatial shape {self.shape} for this wavelet frame, "
                f"got {tuple(x.shape)}"
            )
        return x

    def analysis(self, x: Tensor) -> Tensor:
        """c = W x (= wavedec2(mode="zero")): (B, C, H, W) -> (B, C, K); W = S^T."""
        x = self._check_images(x, "x")
        if self.dense:
            return x.flatten(-2) @ self.w.to(x).T
        return self._analysis_conv(x)

    def _analysis_conv(self, x: Tensor) -> Tensor:
        b, c = x.shape[:2]
        kern = self.kernels.to(x)
        pad = self.filter_length - 2, self.filter_length - 1
        a, parts = x.reshape(b * c, 1, *self.shape), []
        for _ in range(self.level):
            out = torch.nn.functional.conv2d(
                torch.nn.functional.pad(a, (*pad, *pad)), kern, stride=2
            )
            a = out[:, :1]
            parts.append(out[:, 1:].flatten(1))
        parts.append(a.flatten(1))
        return torch.cat(parts[::-1], 1).reshape(b, c, self.k)

    def adjoint(self, x: Tensor) -> Tensor:
        """S^T x = W x: the analysis (Parseval frame)."""
        return self.analysis(x)

    def synthesis(self, c: Tensor) -> Tensor:
        """x = S c = W^T c (= waverec2): (B, C, K) -> (B, C, H, W)."""
        check_tensor(c, "c", ndim=3, finite=False)
        if c.shape[-1] != self.k:
            raise ValueError(
                f"c must have shape (B, C, {self.k}) for this wavelet frame, got {tuple(c.shape)}"
            )
        if self.dense:
            return (c @ self.w.to(c)).reshape(*c.shape[:2], *self.shape)
        b, ch = c.shape[:2]
        kern = self.kernels.to(c)
        f = self.filter_length
        flat = c.reshape(b * ch, self.k)
        na, nb = self.sizes[-1]
        a, at = flat[:, : na * nb].reshape(-1, 1, na, nb), na * nb
        for lv in range(self.level, 0, -1):
            (h, w), (n1, n2) = self.sizes[lv - 1], self.sizes[lv]
            d = flat[:, at : at + 3 * n1 * n2].reshape(-1, 3, n1, n2)
            at += 3 * n1 * n2
            up = torch.nn.functional.conv_transpose2d(torch.cat([a, d], 1), kern, stride=2)
            # the adjoint of "zero-pad by (F - 2, F - 1), then convolve": transpose, then crop
            ph, pw = h + 2 * f - 3 - up.shape[-2], w + 2 * f - 3 - up.shape[-1]
            up = torch.nn.functional.pad(up, (0, pw, 0, ph))
            a = up[..., f - 2 : f - 2 + h, f - 2 : f - 2 + w]
        return a.reshape(b, ch, *self.shape)

    def approximation_mask(self) -> Tensor:
        """(K,) bool, True on the coarsest approximation band a_L (the first n_L n_L' entries);
        every other coefficient is a detail (wavelet) coefficient."""
        mask = torch.zeros(self.k, dtype=torch.bool)
        na, nb = self.sizes[-1]
        mask[: na * nb] = True
        return mask

    def extra_repr(self) -> str:
        return (
            f"shape={self.shape}, wavelet={self.wavelet!r}, level={self.level}, "
            f"coefficients={self.k} per channel, matrix={self.dense}"
        )


def make_basis(name: str, shape: Sequence[int], level: int | None = None) -> Basis:
    """Build a basis from its name: 'pixel', 'dct', 'wavelet' (haar) or 'wavelet:<pywt name>'."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    kind, colon, wavelet = name.partition(":")
    if colon and not wavelet:  # (read as haar in silence before)
        raise ValueError(
            f"basis {name!r} has a ':' and no wavelet after it: write 'wavelet' for haar or "
            "'wavelet:<pywt name>' (e.g. 'wavelet:db4')"
        )
    if kind == "wavelet":
        return WaveletBasis(shape, wavelet or "haar", level)
    if level is not None:
        raise ValueError(f"level only applies to wavelet bases, not {name!r}")
    if kind == "pixel" and not wavelet:
        return PixelBasis(shape)
    if kind == "dct" and not wavelet:
        return DCTBasis(shape)
    raise ValueError(
        f"basis must be 'pixel', 'dct', 'wavelet' or 'wavelet:<name>'; got {name!r}"
        + closest(kind, ("pixel", "dct", "wavelet"))
    )


__all__ = [
    "Basis",
    "DCTBasis",
    "Dictionary",
    "PixelBasis",
    "WaveletBasis",
    "WaveletFrame",
    "default_wavelet_level",
    "frame_band_sizes",
    "make_basis",
    "max_frame_level",
]
