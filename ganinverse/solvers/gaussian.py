"""The Gaussian prior's posterior mean (the LMMSE estimate, a Wiener filter) for any linear
measurement operator, the prior's mean and covariance estimated from samples.

With x ~ N(μ, Σ) and y = A x + η, η ~ N(0, σ²I), the posterior mean is

    x̂ = μ + Σ Aᵀ (A Σ Aᵀ + σ² I)⁻¹ (y − A μ),

the minimum-MSE estimate among all estimators linear in y for ANY prior of that mean and
covariance. The moments come from N samples x_1..x_N (μ their mean, Σ = P Pᵀ / N, P the centred
samples as columns): of the generator G (``x_i = G(z_i)``, z_i ~ N(0, I); the Gaussian with G's
moments, so it needs nothing but G) or of images (the training images: a learned Gaussian, the
"eigenface" or PCA prior). Σ has rank ≤ N − 1 and is never formed: with B = A P (d x N, d the
measurement size), Σ Aᵀ (B Bᵀ/N + σ²I)⁻¹ r = P (N σ² I + Bᵀ B)⁻¹ Bᵀ r, so the solve is of size
min(d, N). Statistical compressed sensing of Gaussian models: Yu & Sapiro, "Statistical
compressed sensing of Gaussian mixture models", IEEE TSP 2011; for faces, the PCA (eigenface)
prior of Turk & Pentland 1991.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import check_bool, check_int
from ..exceptions import user_stacklevel
from ..latent import check_generator_fits
from ..operators import LinearOperator, check_operator
from ..seeds import rng

#: Samples of G that set the moments by default: at m = 500 on held-out faces (celeba64-lsgan,
#: σ = 0.01) 10,000 samples gave 24.94 dB, 20,000 25.06 (benchmarks/gaussian_probe.py); 10,000
#: keeps the samples in ~0.5 GB for 64x64 RGB images.
N_SAMPLES = 10_000
MAX_SAMPLES = 200_000
#: Relative ridge on the solve's diagonal (times its mean; 1 where the samples are all one
#: image), so that a noiseless problem, or measurements the samples never vary (unmeasured
#: pixels), still solves.
JITTER = 1e-6


@dataclass
class GaussianResult:
    """x̂ (B, C, H, W) on [-1, 1] (clamped), the number of samples behind the moments, the
    data misfit ||y − A x̂||² / m per image (B,) and ``seconds`` (the batch, sampling included)."""

    x_hat: Tensor
    n_samples: int
    data_loss: Tensor
    seconds: float

    @property
    def status(self) -> list[str]:
        """Per image: "ok" (a direct solve: nothing to converge)."""
        return ["ok"] * len(self.x_hat)


#: G -> {(n_samples, seed, device, weights' version): samples}: a sweep calls the method once
#: per batch and x value with the same G; its samples are drawn once.
_SAMPLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _version(G: nn.Module) -> tuple:
    """Changes when G's weights are replaced or changed in place (``Tensor._version``)."""
    return tuple((p.data_ptr(), p._version) for p in G.parameters())


def generator_samples(
    G: nn.Module, n_samples: int, seed: int, device, *, progress: bool = False
) -> Tensor:
    """N images G(z_i), z_i ~ N(0, I) drawn from ``seeds.rng(seed, "gaussian-prior")``, (N, C,
    H, W) on ``device``, in eval mode and without gradients; cached per G while its weights
    are unchanged. ``progress``: a bar over the samples drawn."""
    key = (n_samples, seed, str(device), _version(G))
    cached = _SAMPLES.setdefault(G, {})
    if key not in cached:
        cached.clear()  # (one set of samples per G: they are large)
        generator = rng(seed, "gaussian-prior")
        was_training = G.training
        G.eval()
        chunks = []
        bar = tqdm(total=n_samples, desc="gaussian: samples of G", unit="sample",
                   disable=not progress, leave=False)  # fmt: skip
        with torch.no_grad(), bar:
            for start in range(0, n_samples, 500):
                z = torch.randn(min(500, n_samples - start), G.latent_dim, generator=generator)
                chunks.append(G(z.to(device)).float())
                bar.update(len(z))
        G.train(was_training)
        cached[key] = torch.cat(chunks)
    return cached[key]


def check_memory(
    n_samples: int, image_size: int, d: int, device, name: str, *, mirror: bool = False
) -> None:
    """A ValueError, before any sample is drawn or read, where the solve would need more than
    ``device``'s available memory (``models.cost.available_memory``) for N = ``n_samples``
    samples (2N with ``mirror``) of n = ``image_size`` values and d measurements (0: the
    samples alone, d not known yet), float32 unless said: the N samples as drawn or read
    (kept in the cache), their mirrored copy (2N), the centred samples, A applied to them
    (float32 and float64) and the min(d, N)² system (float64). ``name``: the option that
    sets N, for the fix."""
    from ..models.cost import available_memory

    total = 2 * n_samples if mirror else n_samples
    need = 4 * image_size * (n_samples + total + (total if mirror else 0))
    need += 12 * total * d + 8 * min(d, total) ** 2
    have = available_memory(device)
    if need > have:
        raise ValueError(
            f"{name}: the Gaussian's {n_samples:,} samples"
            + (f" and their {n_samples:,} mirror images" if mirror else "")
            + f" of {image_size:,} values"
            + (f" measured by {d:,} measurements" if d else "")
            + f" need about {need / 2**30:,.1f} GiB, but {device} has "
            f"{have / 2**30:,.1f} GiB available; pass fewer samples (the default "
            f"{N_SAMPLES:,} gives all but ~0.1 dB of 20,000 on 64x64 faces)"
        )


def load_samples(path: str | Path, name: str = "samples", shape=None) -> Tensor:
    """Images (N, C, H, W) on [-1, 1] from a safetensors file's ``images`` tensor (e.g. the
    training images, ``save_samples``), read once per version of the file. Raises ValueError
    naming ``name`` (the option that holds the file) for a missing file, no ``images`` key, a
    shape that is not (N, C, H, W) with N ≥ 2 (or not of image shape ``shape``, when given),
    or values that are not finite or outside [-1, 1]."""
    _check_file(path, name, shape)
    stat = Path(path).stat()
    return _file_images(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, name)


def save_samples(images: Tensor, path: str | Path) -> Path:
    """Write images (N, C, H, W) on [-1, 1] as the ``samples`` file of ``gaussian``."""
    from safetensors.torch import save_file

    from ..io import atomic_write

    _check_images(images)
    tensors = {"images": images.detach().float().cpu().contiguous()}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))


def _check_images(images: object, name: str = "samples") -> None:
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be images (N, C, H, W), got {type(images).__name__}")
    if images.dim() != 4 or len(images) < 2:
        raise ValueError(
            f"{name} must be images (N, C, H, W) with N >= 2, got shape {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        raise ValueError(
            f"{name} must be float images on [-1, 1], got dtype {images.dtype}: map uint8 "
            "images with x / 127.5 - 1"
        )
    bad = int((~torch.isfinite(images)).sum())
    if bad:
        raise ValueError(f"{name} holds {bad} non-finite values (NaN or Inf); pass finite images")
    lo, hi = float(images.min()), float(images.max())
    if max(-lo, hi) > 1 + 1e-4:
        raise ValueError(
            f"{name} must be images on [-1, 1] (the library's scale: x = 2·x₀₁ − 1), got "
            f"values in [{lo:g}, {hi:g}]: images in [0, 255] map with x / 127.5 - 1"
        )
    if lo >= 0:
        warnings.warn(
            f"{name} holds no negative value (values in [{lo:g}, {hi:g}]): were these [0, 1] "
            "images? The library's scale is [-1, 1]: map them with 2x - 1",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


@functools.lru_cache(maxsize=1)
def _file_images(path: str, mtime_ns: int, size: int, name: str) -> Tensor:
    """The checked images of a samples file, read once per version of the file (path, mtime,
    size): the check before any work and every batch's solve share one read. Not to be changed
    in place (the cache holds it)."""
    from safetensors.torch import load_file

    images = load_file(path)["images"]
    _check_images(images, name)
    return images.float()


def check_gaussian_options(
    n_samples: object,
    samples: object,
    shape=None,
    *,
    name: str = "samples",
    mirror: object = False,
    mirror_name: str = "mirror",
    n_name: str = "n_samples",
    d: int = 0,
    device="cpu",
) -> None:
    """The options' own checks, before any work: ``n_samples`` an int in [2, MAX_SAMPLES],
    ``samples`` None or an existing safetensors file with an ``images`` tensor (N, C, H, W),
    N ≥ 2, of image shape ``shape`` (the images', when known), whose values are finite and
    on [-1, 1] (``load_samples``: the file read once per version, for the solve too);
    ``mirror`` a bool; the samples (twice as many with ``mirror``) and, with d measurements
    per image (0: not known yet), the solve within ``device``'s memory (``check_memory``),
    before the file is read. ``name`` / ``mirror_name`` / ``n_name``: the options that hold
    the file, the mirror and the count, for the errors."""
    check_bool(mirror, mirror_name)
    check_int(n_samples, n_name, low=2)
    if n_samples > MAX_SAMPLES:
        raise ValueError(
            f"{n_name} must be <= {MAX_SAMPLES:,}, got {n_samples:,}: the samples are held in "
            "memory (N·C·H·W floats); pass fewer"
        )
    if samples is None and shape is not None:
        check_memory(n_samples, math.prod(shape), d, device, n_name, mirror=bool(mirror))
    if samples is not None:
        stored = _check_file(samples, name, shape)  # (the header: N before the file is read)
        check_memory(stored[0], math.prod(stored[1:]), d, device, name, mirror=bool(mirror))
        load_samples(samples, name, shape)


def _check_file(samples: object, name: str, shape=None) -> tuple:
    """A samples option that names a safetensors file whose header holds ``images`` (N, C, H,
    W), N ≥ 2, of image shape ``shape`` when given (its values are ``_check_images``'); returns
    that shape."""
    if isinstance(samples, str) and not samples.strip():
        raise ValueError(
            f"{name} is empty (''); pass the path of a safetensors file of images, or None for "
            "samples of G"
        )
    if not isinstance(samples, (str, Path)):
        raise TypeError(
            f"{name} must be None (samples of G) or the path of a safetensors file of images, "
            f"got {type(samples).__name__}"
        )
    stored = _stored_shape(samples, name)
    if len(stored) != 4 or stored[0] < 2:
        raise ValueError(
            f"{name}: {str(samples)!r} holds 'images' of shape {stored}; they must be "
            "images (N, C, H, W) with N >= 2"
        )
    if shape is not None and stored[1:] != tuple(shape):
        raise ValueError(
            f"{name}: {str(samples)!r} holds images of shape {stored[1:]}, but the images "
            f"measured are {tuple(shape)}; pass images of the measured size"
        )
    return stored


def _stored_shape(path: str | Path, name: str) -> tuple:
    """The shape of the ``images`` tensor of a safetensors file, read from its header."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"{name}: no file {str(path)!r}; pass a safetensors file of images (N, C, H, W) "
            "on [-1, 1] under the key 'images' (ganinverse.solvers.gaussian.save_samples), or "
            "None for samples of G"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            if "images" not in f.keys():
                raise ValueError(
                    f"{name}: {str(path)!r} holds no 'images' tensor (it holds "
                    f"{', '.join(f.keys()) or 'nothing'}); see save_samples"
                )
            return tuple(f.get_slice("images").get_shape())
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{name}: {str(path)!r} is not a safetensors file ({err})") from None


def gaussian(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    *,
    n_samples: int = N_SAMPLES,
    samples: str | Path | None = None,
    mirror: bool = False,
    seed: int = 0,
    progress: bool = False,
) -> GaussianResult:
    """x̂ = μ + Σ Aᵀ(AΣAᵀ + σ²I)⁻¹(y − Aμ): the posterior mean under x ~ N(μ, Σ) (module
    docstring), μ and Σ the moments of ``n_samples`` images G(z), z ~ N(0, I) (seeded by
    ``seed``, drawn once per G), or of the images in the file ``samples`` (``save_samples``;
    G is then not sampled, ``n_samples`` not used). σ is the operator's noise std (on the
    [-1, 1] scale). ``mirror``: the moments of the samples and their left-right mirror
    images (2N samples; μ and Σ then mirror-symmetric), for data as likely mirrored as not
    (faces: +0.39 dB with G's samples, +0.17 with the training faces' on 8 held-out faces at
    m = 500, σ = 0.01; benchmarks/gaussian_probe.py), not digits. ``progress``: a bar while
    G's samples are drawn.

    Shapes: y (B, *operator.out_shape) -> x̂ (B, C, H, W) on [-1, 1]. Works for every linear
    operator (it applies A to the centred samples, a batch of N images; one solve per
    operator of ``operator.per_image``). Cost: A on N images plus a min(d, N)-sized Cholesky
    solve per operator, d the measurement size; memory ~ N·(n + d) floats.

    Raises ValueError/TypeError, before any work, for n_samples < 2, a samples file that is
    missing or not finite images on [-1, 1], samples or a G whose image shape differs from the
    operator's, y as every solver refuses it (shape, dtype, non-finite values, a scale far
    beyond A x + noise: images in [0, 255]), and a solve that would not fit in the device's
    memory (``check_memory``).
    """
    check_operator(operator)
    y = operator.check_measurements(y)
    d = math.prod(operator.out_shape)  # (A's output per image: masked pixels included)
    check_gaussian_options(
        n_samples, samples, operator.in_shape, mirror=mirror, d=d, device=y.device
    )
    if samples is None:
        check_generator_fits(G, operator)
    start = time.perf_counter()
    device = y.device
    if samples is None:
        images = generator_samples(G, n_samples, seed, device, progress=progress)
    else:
        images = load_samples(samples).to(device)
    if mirror:  # (a new tensor: the cached samples stay as drawn / read)
        images = torch.cat([images, images.flip(-1)])
    N = len(images)
    mu = images.mean(0, keepdim=True)
    P = images - mu  # (N, C, H, W): the centred samples
    x_hat = torch.empty(len(y), *operator.in_shape, device=device)
    s2 = float(operator.noise.std) ** 2
    for rows, op in operator.per_image(len(y)):
        with torch.no_grad():
            B = op.A(P).reshape(N, -1).double()  # (N, d): A applied to each centred sample
            r = (y[rows] - op.A(mu)).reshape(len(rows), -1).double()  # (b, d)
        d = B.shape[1]
        if d <= N:  # Σ Aᵀ (B Bᵀ/N + σ²I)⁻¹ r with Bᵀ here (N, d): K = BᵀB/N + σ²I (d x d)
            K = B.T @ B / N
            K.diagonal().add_(s2 + JITTER * (float(K.diagonal().mean()) or 1.0))
            w = torch.cholesky_solve(r.T, torch.linalg.cholesky(K))  # (d, b)
            coef = B @ w / N  # (N, b)
        else:  # the same by Woodbury: P (Nσ²I + B Bᵀ)⁻¹ B r, an N x N solve
            M = B @ B.T
            M.diagonal().add_(N * s2 + JITTER * (float(M.diagonal().mean()) or 1.0))
            coef = torch.cholesky_solve(B @ r.T, torch.linalg.cholesky(M))  # (N, b)
        x = mu + (coef.T.float() @ P.reshape(N, -1)).reshape(len(rows), *operator.in_shape)
        x_hat[rows] = x.clamp(-1, 1)
    with torch.no_grad():
        idx = torch.arange(len(y), device=device)
        data = operator.data_misfit(y, operator.A_rows(x_hat, idx), idx)
    return GaussianResult(x_hat, N, data, time.perf_counter() - start)
