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
from ..exceptions import DegeneratePriorWarning, user_stacklevel
from ..latent import check_generator_fits, generator_device
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
#: Samples within this RMS per value (on [-1, 1]: far below 8-bit data's step, 2/255) of their
#: mean, or of one line through it, have no spread in that sense (``spread_rank``): a zero or
#: rank-one covariance, which ``gaussian`` warns of (``DegeneratePriorWarning``).
SPREAD_TOL = 1e-4


@dataclass
class GaussianResult:
    """x̂ (B, C, H, W) on [-1, 1] (clamped), the number of samples behind the moments, the
    data misfit ||y − A x̂||² / m per image (B,), ``seconds`` (the batch, sampling included)
    and the rank of the samples' covariance up to ``SPREAD_TOL`` (``spread_rank``: 0, 1, or 2
    for two or more)."""

    x_hat: Tensor
    n_samples: int
    data_loss: Tensor
    seconds: float
    spread: int = 2

    @property
    def status(self) -> list[str]:
        """Per image: "ok" (a direct solve: nothing to converge), or "degenerate_prior" where
        the samples' covariance is zero or of rank one (``ganinverse.status``)."""
        return ["ok" if self.spread > 1 else "degenerate_prior"] * len(self.x_hat)


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


def _is_flag(name: str) -> bool:
    """Whether an option's name is a command-line flag ("--gaussian-images"): the fixes then
    say to drop the flag where the API's say to pass None or False."""
    return name.startswith("--")


def _passed(name: str, value: object) -> str:
    """``name`` set to ``value`` in its caller's words: "--flag 4000" or "name=4000"."""
    return f"{name} {value}" if _is_flag(name) else f"{name}={value}"


def _unset(name: str, off: object) -> str:
    """How to turn the option ``name`` off: "drop --flag", or "pass name=False" (``off``)."""
    return f"drop {name}" if _is_flag(name) else f"pass {name}={off}"


def _for_g(name: str) -> str:
    """How to take G's samples instead of the samples file option ``name``."""
    return f"drop {name} for samples of G" if _is_flag(name) else "None for samples of G"


def _size(n_bytes: float) -> str:
    """Bytes in a unit that shows them: "1.5 GiB", "300.0 MiB", "29.3 KiB", "512 bytes"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{int(n_bytes):,} bytes"


def memory_needed(n_samples: int, image_size: int, d: int, *, mirror: bool = False) -> int:
    """Bytes the solve needs (``check_memory``) for N = ``n_samples`` samples (2N with
    ``mirror``) of n = ``image_size`` values and d measurements (0: the samples alone): an
    upper bound of the peak growth of the process's memory measured on the CPU (1,012 MiB
    against 974 for 100,000 digit samples at d = 100; 1,702 against 1,401 at d = 700; 1,852
    against 1,551 for 50,000 mirrored at d = 700: benchmarks/gaussian_memory.py)."""
    total = 2 * n_samples if mirror else n_samples
    need = 4 * image_size * (n_samples + 2 * total + (total if mirror else 0))
    return need + 12 * total * d + 8 * min(d, total) ** 2


def check_memory(
    n_samples: int,
    image_size: int,
    d: int,
    device,
    name: str,
    *,
    mirror: bool = False,
    mirror_name: str = "mirror",
    path: str | Path | None = None,
) -> None:
    """A ValueError, before any sample is drawn or read, where the solve would need more than
    ``device``'s available memory (``models.cost.available_memory``) for N = ``n_samples``
    samples (2N with ``mirror``) of n = ``image_size`` values and d measurements (0: the
    samples alone, d not known yet), float32 unless said: the N samples as drawn or read
    (kept in the cache), their mirrored copy (2N), the centred samples and a copy of them
    while A is applied, A applied to them (float32 and float64) and the min(d, N)² system
    (float64) (``memory_needed``). ``name``:
    the option that sets N (G's sample count, or the samples file ``path``), ``mirror_name``
    the mirror's, for the fix: the largest N that fits, a file of fewer images, the mirror
    dropped. Names that are flags ("--...") are the command line's: the fix says "drop" the
    flag where the API's says to pass False. The error is marked ``joint`` (of the options
    together: ``Method.validate`` gives its message for all of them, not the first that
    fails)."""
    from ..models.cost import available_memory

    need = memory_needed(n_samples, image_size, d, mirror=mirror)
    have = available_memory(device)
    if need <= have:
        return
    lo, hi = 1, n_samples  # the largest N that fits (need grows with N)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (
            (mid, hi) if memory_needed(mid, image_size, d, mirror=mirror) <= have else (lo, mid - 1)
        )
    fits = lo if memory_needed(lo, image_size, d, mirror=mirror) <= have else 0
    if fits < 2:
        fix = (
            "not even 2 samples fit"
            + (f" with {d:,} measurements per image: measure fewer values" if d else "")
            + ", or free memory or use a device with more"
        )
    elif path is not None:
        fix = f"pass a file of {fits:,} images or fewer"
    else:
        fix = (
            f"pass {_passed(name, fits)} or fewer (the default {N_SAMPLES:,} gives all but "
            "~0.1 dB of 20,000 on 64x64 faces)"
        )
    if mirror:
        alone = memory_needed(n_samples, image_size, d) <= have
        fix += f", or {_unset(mirror_name, False)} (the mirror doubles the samples" + (
            ": without it they fit)" if alone else ")"
        )
    error = ValueError(
        f"{name}: the Gaussian's {n_samples:,} samples"
        + (f" and their {n_samples:,} mirror images" if mirror else "")
        + f" of {image_size:,} values"
        + (f" (the images of {str(path)!r})" if path is not None else "")
        + (f" measured by {d:,} measurements" if d else "")
        + f" need about {_size(need)}, but {device} has {_size(have)} available; {fix}"
    )
    error.joint = True  # (a bound of the options together: ``Method.validate`` says so of all)
    raise error


def load_samples(path: str | Path, name: str = "samples", shape=None) -> Tensor:
    """Images (N, C, H, W) on [-1, 1] from a safetensors file's ``images`` tensor (e.g. the
    training images, ``save_samples``), read once per version of the file. Raises ValueError
    naming ``name`` (the option that holds the file) for a missing file, no ``images`` key, a
    shape that is not (N, C, H, W) with N ≥ 2 (or not of image shape ``shape``, when given),
    or values that are not finite or outside [-1, 1]."""
    _check_file(path, name, shape)
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _FILE:  # (one file held: the check before any work and every batch's solve)
        _FILE.clear()
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            images = load_file(key[0])["images"]
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{name}: {str(path)!r} cannot be read ({err})") from None
        _check_images(images, name)  # (its warnings once per version of the file)
        _FILE[key] = images.float()
    return _FILE[key]


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


#: (path, mtime, size) -> the checked images of one samples file, read once per version of
#: the file (``load_samples``). Not to be changed in place.
_FILE: dict = {}


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
    the file, the mirror and the count, for the errors (flags, "--...", in the command line's
    words: its fixes then say to drop a flag where the API's say to pass None or False)."""
    check_bool(mirror, mirror_name)
    check_int(n_samples, n_name, low=2)
    if n_samples > MAX_SAMPLES:
        raise ValueError(
            f"{n_name} must be <= {MAX_SAMPLES:,}, got {n_samples:,}: the samples are held in "
            "memory (N·C·H·W floats); pass fewer"
        )
    mirrored = {"mirror": bool(mirror), "mirror_name": mirror_name}
    if samples is None and shape is not None and d:
        check_memory(n_samples, math.prod(shape), d, device, n_name, **mirrored)
    if samples is not None:
        stored = _check_file(samples, name, shape)  # (the header: N before the file is read)
        if d:  # (the memory with the measurements, then the values: the file read once)
            size = math.prod(stored[1:])
            check_memory(stored[0], size, d, device, name, path=samples, **mirrored)
            load_samples(samples, name, shape)


def _check_file(samples: object, name: str, shape=None) -> tuple:
    """A samples option that names a safetensors file whose header holds ``images`` (N, C, H,
    W), N ≥ 2, of image shape ``shape`` when given (its values are ``_check_images``'); returns
    that shape."""
    if isinstance(samples, str) and not samples.strip():
        raise ValueError(
            f"{name} is empty (''); pass the path of a safetensors file of images, or "
            f"{_for_g(name)}"
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
    """The shape of the ``images`` tensor of a safetensors file, read from its header alone
    (the 8-byte header length and the JSON header: no mapping of the file, so a file too large
    for the memory is refused by ``check_memory``, not by the operating system), after
    checking that the header's tensors lie within the file (a truncated file)."""
    import json
    import struct

    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"{name}: {str(path)!r} is a folder; pass a safetensors file of images (N, C, H, W) "
            "on [-1, 1] under the key 'images' (ganinverse.solvers.gaussian.save_samples), or "
            f"{_for_g(name)}"
        )
    if not path.is_file():
        raise ValueError(
            f"{name}: no file {str(path)!r}; pass a safetensors file of images (N, C, H, W) "
            "on [-1, 1] under the key 'images' (ganinverse.solvers.gaussian.save_samples), or "
            f"{_for_g(name)}"
        )
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            header = json.loads(f.read(n)) if 0 < n <= min(size - 8, 100 * 2**20) else None
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{name}: {str(path)!r} cannot be read as a safetensors file ({err})"
        ) from None
    tensors = (
        {k: v for k, v in header.items() if k != "__metadata__"}
        if isinstance(header, dict)
        else None
    )
    try:  # (every tensor's end, to find a truncated file; the images' shape, dtype and bytes)
        ends = [int(v["data_offsets"][1]) for v in tensors.values()]
        entry = tensors.get("images")
        if entry is not None:
            shape = tuple(int(s) for s in entry["shape"])
            dtype, (first, last) = str(entry["dtype"]), map(int, entry["data_offsets"])
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        tensors = None
    if tensors is None:
        raise ValueError(
            f"{name}: {str(path)!r} is not a safetensors file (no valid header); pass a file "
            "written by ganinverse.solvers.gaussian.save_samples"
        )
    if ends and 8 + n + max(ends) > size:
        raise ValueError(
            f"{name}: {str(path)!r} is truncated ({size:,} bytes; its header describes "
            f"{8 + n + max(ends):,}); write it again"
        )
    if entry is None:
        raise ValueError(
            f"{name}: {str(path)!r} holds no 'images' tensor (it holds "
            f"{', '.join(tensors) or 'nothing'}); see save_samples"
        )
    width = _FLOAT_BYTES.get(dtype)
    if width is None:
        raise ValueError(
            f"{name}: {str(path)!r} holds 'images' of dtype {dtype}; they must be float "
            "images on [-1, 1] (F16, BF16, F32 or F64): map uint8 images with x / 127.5 - 1"
        )
    if width * math.prod(shape) != last - first:
        raise ValueError(
            f"{name}: {str(path)!r} is not a valid safetensors file: its header gives 'images' "
            f"the shape {shape} of {dtype} ({width * math.prod(shape):,} bytes) but "
            f"{last - first:,} bytes of data; write it again (save_samples)"
        )
    return shape


#: the float dtypes of a samples file (safetensors' names) and their bytes per value
_FLOAT_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}


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
    memory (``check_memory``). Warns ``DegeneratePriorWarning`` where the samples' covariance
    is zero or of rank one (``spread_rank``): y then moves x̂ little or not at all.
    """
    check_operator(operator)
    y = operator.check_measurements(y)
    if samples is None:  # G's samples are drawn, and the solve runs, on G's device
        check_generator_fits(G, operator)
        operator, y = operator.to(generator_device(G)), y.to(generator_device(G))
    d = math.prod(operator.out_shape)  # (A's output per image: masked pixels included)
    check_gaussian_options(
        n_samples, samples, operator.in_shape, mirror=mirror, d=d, device=y.device
    )
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
    spread = _warn_degenerate(P, samples, mirror)
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
    return GaussianResult(x_hat, N, data, time.perf_counter() - start, spread)


@torch.no_grad()
def spread_rank(centred: Tensor) -> int:
    """0, 1 or 2 (2: two or more) for centred samples (N, C, H, W), the rank of their
    covariance up to ``SPREAD_TOL``: 0 where every sample lies within that RMS per value of
    their mean (all one image), 1 where every one lies within it of one line through the mean
    (the mean plus multiples of one image). Reads the samples in chunks (no N·n copy)."""
    flat = centred.reshape(len(centred), -1)
    tol = SPREAD_TOL * math.sqrt(flat.shape[1])
    norms = torch.linalg.vector_norm(flat, dim=1)
    k = int(norms.argmax())
    if float(norms[k]) <= tol:
        return 0
    v = flat[k] / norms[k]
    for chunk in flat.split(4096):
        off = chunk - (chunk @ v)[:, None] * v  # (each sample's part off the line along v)
        if float(torch.linalg.vector_norm(off, dim=1).max()) > tol:
            return 2
    return 1


def _warn_degenerate(centred: Tensor, samples: str | Path | None, mirror: bool) -> int:
    """A ``DegeneratePriorWarning`` where the samples' covariance is zero or of rank one
    (``spread_rank``, returned): x̂ is then their mean whatever y, or their mean plus a
    multiple of one image; the message names the samples file (or G's samples) and the fix."""
    rank = spread_rank(centred)
    if rank > 1:
        return rank
    N = len(centred)
    drawn = f"G's {N // 2 if mirror else N:,} samples"
    what = f"the images of the samples file {str(samples)!r}" if samples is not None else drawn
    what += " and their mirror images" if mirror else ""
    if rank == 0:
        said = (
            f"gaussian: {what} are all one image (none differs from their mean by more than "
            f"{SPREAD_TOL:g} RMS): their covariance is zero, so x̂ is their mean whatever y"
        )
    else:
        said = (
            f"gaussian: {what} vary along one image only (their covariance has rank 1, to "
            f"{SPREAD_TOL:g} RMS), so x̂ is their mean plus a multiple of that image, whatever "
            "else y holds"
        )
    if N == 2:
        fix = "two samples always do: pass more"
    elif samples is not None:
        fix = "pass a file of images that differ (e.g. the training images)"
    else:
        fix = (
            "G makes (almost) one image whatever z (a collapsed generator?): check G, or pass "
            "a samples file"
        )
    warnings.warn(f"{said}; {fix}", DegeneratePriorWarning, stacklevel=user_stacklevel())
    return rank
