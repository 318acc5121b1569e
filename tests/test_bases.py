"""Tests for ganinverse.bases: orthonormality, inverses, and agreement with scipy / PyWavelets."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
import scipy.fft
import torch

from ganinverse.bases import (
    DCTBasis,
    PixelBasis,
    WaveletBasis,
    default_wavelet_level,
    make_basis,
)

CASES = [
    ("pixel", (6, 5)),
    ("dct", (8, 6)),
    ("dct", (28, 28)),
    ("wavelet", (28, 28)),
    ("wavelet:db4", (16, 16)),
    ("wavelet:sym4", (8, 12)),
]


def _rand(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("name,shape", CASES)
def test_matrix_is_orthonormal_and_matches_transforms(name, shape):
    basis = make_basis(name, shape)
    psi = basis.matrix()
    n = shape[0] * shape[1]
    assert psi.shape == (n, n) and psi.dtype == torch.float32
    assert torch.allclose(psi @ psi.T, torch.eye(n), atol=1e-5)
    x = _rand(3, 2, *shape)
    c = basis.analysis(x)
    assert c.shape == x.shape and c.dtype == torch.float32
    assert torch.allclose(c.flatten(2), x.flatten(2) @ psi.T, atol=1e-5)  # c = Psi x per channel
    assert torch.allclose(basis.synthesis(c), x, atol=1e-5)
    assert torch.allclose(basis.analysis(basis.synthesis(x)), x, atol=1e-5)


@pytest.mark.parametrize("name,shape", CASES)
def test_transforms_are_differentiable_and_keep_float64(name, shape):
    basis = make_basis(name, shape)
    x = _rand(1, 1, *shape, dtype=torch.float64).requires_grad_()
    c = basis.analysis(x)
    assert c.dtype == torch.float64
    # <Psi x, g> has gradient Psi^T g = synthesis(g)
    g = _rand(1, 1, *shape, seed=1, dtype=torch.float64)
    (c * g).sum().backward()
    assert torch.allclose(x.grad, basis.synthesis(g), atol=1e-10)


def test_dct_equals_scipy_dctn():
    x = _rand(2, 3, 8, 6, dtype=torch.float64)
    ref = scipy.fft.dctn(x.numpy(), norm="ortho", axes=(-2, -1))
    assert np.allclose(DCTBasis((8, 6)).analysis(x).numpy(), ref, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Level value")
@pytest.mark.parametrize(
    "wavelet,shape,level",
    [("haar", (28, 28), 2), ("db4", (16, 16), 2), ("haar", (16, 8), 3), ("db2", (32, 32), None)],
)
def test_wavelet_equals_pywt_wavedec2_layout(wavelet, shape, level):
    basis = WaveletBasis(shape, wavelet, level)
    x = _rand(2, 1, *shape, dtype=torch.float64)
    for i in range(2):
        coeffs = pywt.wavedec2(x[i, 0].numpy(), wavelet, mode="periodization", level=basis.level)
        ref, _ = pywt.coeffs_to_array(coeffs)
        assert np.allclose(basis.analysis(x)[i, 0].numpy(), ref, atol=1e-6)


def test_default_wavelet_levels():
    assert default_wavelet_level((28, 28)) == 2
    assert default_wavelet_level((3, 32, 32)) == 5
    assert default_wavelet_level((64, 64)) == 6
    assert default_wavelet_level((64, 64), "db4") == 3
    assert default_wavelet_level((8, 8), "db4") == 1
    assert WaveletBasis((28, 28)).level == 2


def test_pixel_basis_is_identity():
    x = _rand(2, 3, 4, 5)
    assert torch.equal(PixelBasis((4, 5)).analysis(x), x)
    assert torch.equal(PixelBasis((3, 4, 5)).matrix(), torch.eye(20))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="spatial shape"):
        DCTBasis((8, 8)).analysis(torch.zeros(1, 1, 8, 6))
    with pytest.raises(ValueError, match="4 dimensions"):
        DCTBasis((8, 8)).synthesis(torch.zeros(8, 8))
    with pytest.raises(TypeError, match="floating"):
        PixelBasis((2, 2)).analysis(torch.zeros(1, 1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible by 2\\^3"):
        WaveletBasis((28, 28), level=3)
    with pytest.raises(ValueError, match="even H and W"):
        WaveletBasis((7, 8))
    with pytest.raises(ValueError, match="H\\*W <= 4096"):
        WaveletBasis((128, 64))
    with pytest.raises(ValueError, match="not orthogonal"):
        WaveletBasis((8, 8), "bior2.2")
    with pytest.raises(ValueError, match="discrete PyWavelets"):
        make_basis("wavelet:nope", (8, 8))
    with pytest.raises(ValueError, match="'pixel', 'dct'"):
        make_basis("fourier", (8, 8))
    with pytest.raises(ValueError, match="level only applies"):
        make_basis("dct", (8, 8), level=2)
    with pytest.raises(ValueError, match="shape must be"):
        make_basis("dct", (8,))


def test_basis_moves_with_to():
    basis = make_basis("wavelet", (8, 8)).to(torch.float64)
    assert basis.psi.dtype == torch.float64
    assert make_basis("wavelet:db4", (8, 8), level=1).level == 1
