"""Forward models y = A x + η for images x of shape (B, C, H, W) in [-1, 1].

Every operator is an ``nn.Module`` (so ``.to(device)`` moves its buffers) with
``A(x)`` (= A x, also ``forward``/``op(x)``), ``A_adjoint(y)`` (= Aᵀ y), ``in_shape`` (C, H, W),
``out_shape`` and ``m`` (measurements per image). ``A`` / ``A_adjoint`` (and their per-image
``_rows`` forms) check the shape of what they are given (x (B, *in_shape), y (B, *out_shape): a
ValueError naming the expected shape), nothing more, since solvers call them in their loops;
``op(x)``, ``adjoint(y)``, ``measure(x)`` and ``check_measurements(y)`` validate fully. Noise is
composed in: ``measure(x)`` returns A x + η with η ~ N(0, σ² I) drawn from a seeded generator.

Masked operators (``Inpainting``) keep y in the image layout: entries that are not measured are
exactly zero, y = M ⊙ (x + η), and they are no measurements: ``measurement_mask`` marks the
measured entries and ``measurement_counts`` gives m_i per image, so every data term
(1/m_i)||M ⊙ (y − A x)||² averages over the m_i real measurements only (``data_misfit``).

Every operator checks itself: ``adjointness_error()`` / ``check_adjoint()`` test that ``A_adjoint``
is the transpose of ``A`` on random images, and ``norm()`` estimates ||A||₂ by power iteration on
AᵀA (both seeded, deterministic, matrix-free; per-image operators are checked image by image).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._validation import (
    check_choice,
    check_count,
    check_image_range,
    check_images,
    check_int,
    check_measurement_scale,
    check_noise_std,
    check_not_empty,
    check_positive,
    check_tensor,
    read_number,
)
from .seeds import Key, derive_seed, rng

#: Largest dense sensing matrix GaussianCS builds by default (bytes). 64x64x3 with m = 10000
#: in float32 is 0.49 GB and fits; m = n = 12288 is 0.60 GB; 128x128x3 with m = n is 9.7 GB and does not.
DEFAULT_MAX_MATRIX_BYTES = 4 * 1024**3


def _float32(x: Tensor) -> Tensor:
    """Other floating dtypes converted to float32 (documented conversion at the boundary)."""
    return x if x.dtype == torch.float32 else x.float()


def _image_shape(shape: Sequence[int], name: str = "image_shape") -> tuple[int, int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise ValueError(f"{name} must be (C, H, W), got {shape!r}")
    for s in shape:
        check_int(s, name, low=1)
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


def _power_iteration(
    matvec: Callable[[Tensor], Tensor],
    rmatvec: Callable[[Tensor], Tensor],
    v: Tensor,
    n_iter: int,
) -> Tensor:
    """||A v_k||² per row after ``n_iter`` steps v ← AᵀA v / ||AᵀA v|| from the rows of v (b, n):
    the Rayleigh quotient of AᵀA, which approaches ||A||₂² from below. ``matvec`` maps (b, n) to
    (b, m) and ``rmatvec`` back; row i of v may be acted on by its own matrix (per-image A).
    The one power iteration of the library (operator norms and FISTA's Lipschitz constant)."""
    for _ in range(n_iter):
        v = rmatvec(matvec(v))
        v = v / v.norm(dim=1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
    return matvec(v).pow(2).sum(1)


class GaussianNoise(nn.Module):
    """η ~ N(0, σ² I) added to every measurement; σ = 0 means noiseless."""

    def __init__(self, std: float = 0.0) -> None:
        super().__init__()
        self.std = check_noise_std(std, "noise_std")

    def forward(
        self, y: Tensor, generator: torch.Generator | None = None, mask: Tensor | None = None
    ) -> Tensor:
        """y + σ η; with ``mask`` (1 = measured entry) y + σ M ⊙ η: nothing lands where nothing
        is measured."""
        if self.std == 0:
            return y
        noise = torch.randn(y.shape, generator=generator, dtype=y.dtype, device="cpu")
        noise = self.std * noise.to(y.device)
        return y + (noise if mask is None else mask * noise)


@dataclass(frozen=True)
class Axis:
    """What a measurement sweep varies for an operator kind (``ganinverse sweep --operator``).

    ``name``: the option (``m``, ``factor``, ``mask``), also the rows' x column's meaning;
    ``flag``: the command-line flag taking a comma-separated list of values; ``parse``: one
    value from its text; ``label``: the plots' x label; ``numeric``: a number axis (plotted on
    a log scale), else categories (mask specs); ``default``: the value an operator takes when
    none is given (None: one must be given).
    """

    name: str
    flag: str
    parse: Callable[[str], Any]
    label: str
    numeric: bool = True
    default: Any = None


def _positive_int(text: str) -> int:
    return read_number(text, int)


def _mask_spec(text: str) -> str:
    """A mask spec in one spelling, so one mask is one sweep record: no blanks around its ':'
    (``random: 0.5``, helper-60) and each number as Python writes it (``random:.5`` and
    ``random:0.50`` are ``random:0.5``, helper-61). Text that is no number is kept as written
    (``half:left``, a file name; a bad number is refused by ``parse_mask`` later)."""
    from ._validation import read_number

    def one(part: str) -> str:
        for kind in (int, float):
            try:
                return repr(read_number(part, kind))
            except (TypeError, ValueError):
                pass
        return part

    head, *values = [part.strip() for part in text.split(":")]
    return ":".join([head, *map(one, values)])


M_AXIS = Axis("m", "--m", _positive_int, "number of measurements m")

#: name -> operator class: every LinearOperator subclass that sets ``name`` (``make_operator``,
#: ``ganinverse reconstruct --operator`` and ``ganinverse sweep --operator`` read it).
REGISTRY: dict[str, type[LinearOperator]] = {}


class LinearOperator(nn.Module):
    """Base class: subclasses implement ``A`` and ``A_adjoint`` and set ``out_shape``; each
    checks its argument's shape first with ``self._shaped`` (cheap, no scan of the values).

    A subclass that sets ``name`` is registered (``REGISTRY``); with an ``axis`` and
    ``from_setting`` it can be swept (``ganinverse sweep --operator NAME``).

    Operators that hold one matrix per image (per-image masks) also override ``A_rows`` and
    ``A_adjoint_rows`` and report ``n_matrices`` > 1 (through ``measurement_mask``).
    """

    #: True when ``dense()`` returns a matrix the operator already stores (no n-sized build), so
    #: solvers that want a matrix may use it for free; False: only A and Aᵀ are cheap.
    stores_matrix: bool = False

    #: The name the CLI and ``make_operator`` know the operator by (None: not registered).
    name: ClassVar[str | None] = None
    #: What a sweep varies (None: the operator cannot be swept).
    axis: ClassVar[Axis | None] = None
    #: Whether ``from_setting`` draws something per image (masks), so it depends on ``ids``.
    per_image_draws: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            known = REGISTRY.get(cls.name)
            same = known is not None and (known.__module__, known.__qualname__) == (
                cls.__module__,
                cls.__qualname__,
            )  # the same class defined again (a notebook cell rerun) replaces it
            if known is not None and not same:
                raise ValueError(
                    f"an operator named {cls.name!r} is already registered "
                    f"({known.__module__}.{known.__qualname__}); pick another name"
                )
            REGISTRY[cls.name] = cls

    @classmethod
    def from_setting(
        cls,
        image_shape: Sequence[int],
        value: Any = None,
        *,
        seed: int = 0,
        ids: Sequence[Key] | None = None,
        noise_std: float = 0.0,
    ) -> LinearOperator:
        """The operator at the axis value ``value`` for the images ``ids`` (their identities,
        for operators drawn per image), with its random draws derived from ``seed``."""
        raise NotImplementedError(f"{cls.__name__} has no sweep axis")

    @classmethod
    def check_setting(cls, image_shape: Sequence[int], value: Any) -> Any:
        """``value`` parsed and checked against the image shape, before any work (raises
        ValueError naming the axis); by default by building the operator once."""
        cls.from_setting(image_shape, value, ids=[0])
        return value

    def __init__(self, image_shape: Sequence[int], *, noise_std: float = 0.0) -> None:
        super().__init__()
        self.in_shape = _image_shape(image_shape)
        self.out_shape: tuple[int, ...] = self.in_shape
        self.noise = GaussianNoise(noise_std)

    @property
    def n(self) -> int:
        """Number of unknowns per image, C·H·W."""
        return math.prod(self.in_shape)

    @property
    def m(self) -> int:
        """Number of measurements per image."""
        return math.prod(self.out_shape)

    def measurement_mask(self) -> Tensor | None:
        """(K, *out_shape) with 1 where an entry of y is a measurement (K = 1 shared, or one per
        image), or None when every entry of y is one (the default)."""
        return None

    def measurement_counts(self) -> Tensor:
        """m_i, the measurements of each image, as a float tensor (K,): K = 1 when every image
        has the same operator, else one per image."""
        mask = self.measurement_mask()
        if mask is None:
            return torch.tensor([float(self.m)])
        return mask.flatten(1).sum(1)

    def data_misfit(self, y: Tensor, ax: Tensor, rows: Tensor | None = None) -> Tensor:
        """Per-row (1/m_i)||M ⊙ (y − A x)||², shape (N,): the squared residual averaged over the
        m_i measurements of each image (unmeasured entries of y are ignored).

        ``y`` and ``ax`` are (N, *out_shape); ``rows`` (N,) says which image each row belongs to
        (needed only for per-image operators; default: row i is image i).
        """
        residual = y - ax
        mask = self.measurement_mask()
        if mask is None:  # every entry is a measurement: m is a plain number (no tensor per step)
            return residual.pow(2).flatten(1).sum(1) / self.m
        if mask.shape[0] > 1:
            mask = mask[torch.arange(len(y), device=mask.device) if rows is None else rows]
        mask = mask.to(residual.device)
        return (residual * mask).pow(2).flatten(1).sum(1) / mask.flatten(1).sum(1)

    def A(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def A_adjoint(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    def _shaped(self, t: object, name: str, method: str, *, image: bool) -> Tensor:
        """``t`` itself if it is a tensor (B, *in_shape) (``image``) or (B, *out_shape), else a
        named error with the likely fix. Shape only (no scan of the values: ``A``, ``A_adjoint``
        and their ``_rows`` forms run inside the solvers' loops); called by each of them."""
        want = self.in_shape if image else self.out_shape
        if isinstance(t, Tensor) and t.shape[1:] == want:
            if not t.is_floating_point():
                raise TypeError(
                    f"{type(self).__name__}.{method}: {name} must be a floating-point tensor "
                    f"(float32, or float64/float16), got {t.dtype}; pass {name}.float()"
                )
            return t
        what = "images x" if image else "measurements y"
        if not isinstance(t, Tensor):
            raise TypeError(
                f"{type(self).__name__}.{method}: {name} must be a torch.Tensor of {what} "
                f"(B, {', '.join(map(str, want))}), got {type(t).__name__}"
            )
        other, other_method = (self.out_shape, "A_adjoint") if image else (self.in_shape, "A")
        per_row = math.prod(t.shape[1:]) if t.ndim >= 1 else -1
        if t.ndim >= 1 and t.shape[1:] == other:
            fix = (
                f"that is the shape of {'measurements' if image else 'images'}: "
                f"{other_method}({'y' if image else 'x'}) applies "
                f"{'Aᵀ to measurements' if image else 'A to images'}"
            )
        elif t.ndim >= 1 and per_row == math.prod(want):
            attribute = "in_shape" if image else "out_shape"
            fix = f"reshape it: {name}.reshape(len({name}), *operator.{attribute})"
        else:
            fix = (
                f"pass a batch of this operator's {what.split()[0]} (one row per image, "
                f"{'in_shape' if image else 'out_shape'} = {want})"
            )
        raise ValueError(
            f"{type(self).__name__}.{method}: {name} must have shape (B, "
            f"{', '.join(map(str, want))}) ({what} of this operator), got {tuple(t.shape)}; {fix}"
        )

    def A_rows(self, x: Tensor, rows: Tensor) -> Tensor:
        """A x for candidates of the images ``rows`` (differs from ``A`` for per-image operators)."""
        return self.A(self._shaped(x, "x", "A_rows", image=True))

    def A_adjoint_rows(self, y: Tensor, rows: Tensor) -> Tensor:
        """Aᵀ y for measurements of the images ``rows`` (row i of y is acted on by the matrix of
        image ``rows[i]``; differs from ``A_adjoint`` for per-image operators)."""
        return self.A_adjoint(self._shaped(y, "y", "A_adjoint_rows", image=False))

    @property
    def n_matrices(self) -> int:
        """K, the matrices the operator holds: 1 (one A shared by every image, any batch) or one
        per image (per-image masks), and then a batch given to ``A`` has exactly K images."""
        mask = self.measurement_mask()
        return 1 if mask is None else int(mask.shape[0])

    @property
    def device(self) -> torch.device:
        """The device of the operator's buffers (the CPU for an operator without buffers)."""
        return next(self.buffers(), torch.empty(0)).device

    def _dtype(self) -> torch.dtype:
        """The dtype of the operator's floating buffers (float32 unless converted)."""
        return next((b.dtype for b in self.buffers() if b.is_floating_point()), torch.float32)

    def per_image(self, n_images: int) -> list[tuple[list[int], LinearOperator]]:
        """[(image indices, operator)]: groups of images that share one matrix (one group,
        ``self``, unless the operator holds one matrix per image)."""
        return [(list(range(n_images)), self)]

    def forward(self, x: Tensor) -> Tensor:
        """A x for a non-empty (B, *in_shape) batch, validated (dtype, finite values; ``A``
        itself checks only the shape: the fast path that solvers call in their loops)."""
        return self.A(self.check_images(x, range_check=False))

    def dense(self) -> Tensor:
        """The matrix of A, (prod(out_shape), n): A applied to the n unit images."""
        eye = torch.eye(self.n, device=self.device).view(-1, *self.in_shape)
        return self.A(eye).flatten(1).T

    def _random(self, k: int, shape: Sequence[int], gen: torch.Generator) -> Tensor:
        """k standard normal arrays of ``shape`` drawn on the CPU from ``gen`` (the same numbers
        on any device), in the operator's dtype, on its device."""
        return torch.randn(k, *shape, generator=gen).to(self.device, self._dtype())

    def adjointness_error(self, seed: int = 0) -> float:
        """max over probe images i of |<A x_i, y_i> − <x_i, Aᵀ y_i>| / ||A x_i||, with x_i
        (*in_shape) and y_i (*out_shape) standard normal, drawn from ``seeds.rng(seed)``.

        For standard normal probes E (<A x, y> − <x, B y>)² = ||A − Bᵀ||_F² and E ||A x||² =
        ||A||_F², so this estimates ||A − Bᵀ||_F / ||A||_F, the relative error of the matrix B
        that ``A_adjoint`` applies: ~1e-7 (float32 rounding) for a true adjoint, O(1) for a wrong
        scale (a forgotten 1/f²) or misplaced entries. (Dividing also by ||y_i|| would shrink a
        wrong scale to ~1/sqrt(m).) 3 probe images for a shared operator, one per matrix for a
        per-image operator (image i by its own A_i); inner products in float64; deterministic
        for a seed. Raises TypeError/ValueError for a seed that is not an int >= 0.
        """
        check_int(seed, "seed", low=0)
        k = self.n_matrices
        gen = rng(seed)
        x = self._random(k if k > 1 else 3, self.in_shape, gen)
        y = self._random(len(x), self.out_shape, gen)
        with torch.no_grad():
            ax, aty = self.A(x).double().flatten(1), self.A_adjoint(y).double().flatten(1)
        x, y = x.double().flatten(1), y.double().flatten(1)
        diff = ((ax * y).sum(1) - (x * aty).sum(1)).abs()
        return float((diff / ax.norm(dim=1).clamp_min(torch.finfo(torch.float64).tiny)).max())

    def check_adjoint(self, tol: float = 1e-4, seed: int = 0) -> float:
        """``adjointness_error(seed)`` if it is at most ``tol``, else a ValueError that says by
        how much ``A_adjoint`` misses the transpose of ``A`` (a missing scale such as 1/f², or
        entries scattered to the wrong place). Raises ValueError/TypeError for a tol that is
        not a finite number > 0 or a bad seed."""
        tol = check_positive(tol, "tol")
        error = self.adjointness_error(seed)
        if not error <= tol:
            raise ValueError(
                f"{type(self).__name__}.A_adjoint is not the adjoint of A: "
                f"|<A x, y> - <x, A^T y>| / ||A x|| = {error:.3g} > tol = {tol:g} on random x, y "
                "(about the relative error of A_adjoint's matrix); A_adjoint(y) must equal the "
                "transpose of A's matrix times y (check its scaling and which entries it writes)"
            )
        return error

    def norm(self, n_iter: int = 100, seed: int = 0) -> Tensor:
        """||A||₂ (the largest singular value) by ``n_iter`` steps of power iteration on AᵀA,
        matrix-free, started from a standard normal image drawn from ``seeds.rng(seed)``
        (deterministic) -> float32 (K,) on the CPU: K = 1 for a shared operator (``float(op.norm())``),
        one norm per image's A_i for a per-image operator (``norm().max()`` is the norm of A on the
        whole batch). The estimate approaches ||A||₂ from below: the error shrinks like
        (σ₂/σ₁)^(2 n_iter). Raises TypeError/ValueError for n_iter < 1 or a seed that is not an
        int >= 0.
        """
        check_count(n_iter, "n_iter", "steps")
        check_int(seed, "seed", low=0)
        k = self.n_matrices
        rows = torch.arange(k, device=self.device)

        def matvec(v: Tensor) -> Tensor:
            return self.A_rows(v.view(-1, *self.in_shape), rows).flatten(1)

        def rmatvec(r: Tensor) -> Tensor:
            return self.A_adjoint_rows(r.view(-1, *self.out_shape), rows).flatten(1)

        with torch.no_grad():
            v = self._random(k, (self.n,), rng(seed))
            return _power_iteration(matvec, rmatvec, v, n_iter).sqrt().float().cpu()

    def adjoint(self, y: Tensor) -> Tensor:
        """Aᵀ y for a (B, *out_shape) batch, validated (shape, finite values; float64 / float16
        converted to float32; B >= 1) -> (B, *in_shape). ``A_adjoint`` itself checks only the
        shape: the fast path that solvers call in their loops."""
        y = _float32(check_tensor(y, "y", shape=(None, *self.out_shape)))
        return self.A_adjoint(check_not_empty(y, "y", "measurement vector"))

    def measure(
        self, x: Tensor, seed: int | None = 0, image_ids: Sequence[int] | None = None
    ) -> Tensor:
        """y = A x + η, η ~ N(0, σ² I) drawn from ``seeds.rng(seed)`` for the batch as a whole,
        or with ``image_ids`` (B distinct ints, e.g. dataset indices) each image's η from
        ``seeds.rng(seed, "noise", id)``: then an image measured alone gets the noise it gets
        in any batch. For masked operators y = M ⊙ (x + η) (zero where nothing is measured).

        x is (B, *in_shape) in [-1, 1] (the generator's range); y is (B, *out_shape).
        Raises TypeError/ValueError for a wrong type, shape or dtype, non-finite values, or
        values outside [-1, 1] (e.g. images in [0, 255]: pass x / 127.5 − 1), or image_ids
        that are not B distinct non-negative ints.
        """
        from .latent import check_image_ids

        x = self.check_images(x)
        ids = check_image_ids(image_ids, len(x))
        mask = self.measurement_mask()
        mask = None if mask is None else mask.to(x.device)
        ax = self.A(x)
        if ids is None:
            return self.noise(ax, rng(seed), mask)
        rows = []
        for i, image in enumerate(ids):
            own = None if mask is None else mask[i : i + 1] if len(mask) > 1 else mask
            rows.append(self.noise(ax[i : i + 1], rng(seed, "noise", image), own))
        return torch.cat(rows)

    def back_projection(self, y: Tensor) -> Tensor:
        """The normalised back-projection x_bp = α_i Aᵀ y_i of each image, shown next to a
        reconstruction: α_i = <y_i, A Aᵀ y_i> / ||A Aᵀ y_i||² is the scalar that best explains
        y_i by A(α Aᵀ y_i) (least squares). For masked and subsampling operators AAᵀ is a
        projection, so α = 1 and x_bp is the zero-filled y (0 where nothing is measured); for
        average pooling α = f² and x_bp is y upsampled; for Gaussian A it rescales Aᵀy (whose
        size grows like n/m) to the measurements. y (B, *out_shape) -> (B, *in_shape), on the
        image scale but not clamped (clamp to [-1, 1] to show it); α = 0 where AAᵀy = 0. Raises
        TypeError/ValueError as ``check_measurements``; per-image operators take B = K images.
        Computed on the operator's device."""
        y = self.check_measurements(y).to(self.device)
        rows = torch.arange(len(y), device=y.device)
        with torch.no_grad():
            aty = self.A_adjoint_rows(y, rows)
            aaty = self.A_rows(aty, rows).flatten(1)
            num = (y.flatten(1) * aaty).sum(1)
            den = aaty.pow(2).sum(1)
            alpha = torch.where(den > 0, num / den.clamp_min(torch.finfo(den.dtype).tiny), 0.0)
        return alpha.view(-1, *[1] * len(self.in_shape)) * aty

    def from_unit_measurements(self, y01: Tensor) -> Tensor:
        """y of the library's [-1, 1] images from measurements y₀₁ of the same images on the
        [0, 1] scale: x = 2x₀₁ − 1 gives A x = 2 A x₀₁ − A1, so y = 2y₀₁ − A1 (noise of std σ₀₁
        becomes 2σ₀₁: build the operator with noise_std = 2σ₀₁). y₀₁ (B, *out_shape) -> y, the
        same shape; entries a masked operator does not measure stay zero. Raises TypeError /
        ValueError for a wrong shape, non-finite values or values no [0, 1] image reaches."""
        y01 = _float32(check_tensor(y01, "y01", shape=(None, *self.out_shape)))
        ones = torch.ones(len(y01), *self.in_shape, device=y01.device)
        return self.check_measurements(2 * y01 - self.A(ones), "y (from y01)")

    def check_images(self, x: object, name: str = "x", *, range_check: bool = True) -> Tensor:
        """Validate a (B, C, H, W) float batch against ``in_shape`` and, with ``range_check``,
        the library's [-1, 1] value range. float64 / float16 / bfloat16 are converted to
        float32 (the operators' dtype)."""
        x = _float32(check_images(x, name, self.in_shape))
        return check_image_range(x, name) if range_check else x

    def measurement_bound(self) -> Tensor:
        """max |(A x)_j| over images x in [-1, 1]: the ℓ1 norm of each row of A, (m,) or a
        scalar; 1 for operators whose measurements are pixels or averages of pixels."""
        return torch.tensor(1.0)

    def check_measurements(self, y: object, name: str = "y") -> Tensor:
        """Validate a non-empty (B, *out_shape) batch of finite measurements (float64 / float16
        converted to float32) whose size fits images in [-1, 1]: |y_j| at most twice the largest
        |(A x)_j| plus 6σ of the noise, else a ValueError (y measured from images in [0, 255]?;
        ``_validation.check_measurement_scale``, the check the Lasso solvers' matrix form shares).
        A masked operator's y is zero where nothing is measured (y = M ⊙ (x + η)): a non-zero
        entry there is a ValueError (it would be ignored in silence)."""
        y = _float32(check_tensor(y, name, shape=(None, *self.out_shape)))
        check_not_empty(y, name, "measurement vector")
        mask = self.measurement_mask()
        if mask is not None and mask.shape[0] in (1, len(y)):
            stray = int(((mask.to(y.device) == 0) & (y != 0)).sum())
            if stray:
                raise ValueError(
                    f"{name} has {stray} non-zero entries where the operator measures nothing "
                    "(mask 0): a masked operator's y is M ⊙ (x + η), zero there; pass "
                    "operator.measure(x), or y * mask if y holds whole images"
                )
        return check_measurement_scale(
            y,
            self.measurement_bound(),
            self.noise.std,
            name,
            fix="or, if y is that noisy, build the operator with its noise_std=σ",
        )

    def extra_repr(self) -> str:
        counts = self.measurement_counts()
        m = (
            int(counts[0])
            if bool((counts == counts[0]).all())
            else f"{int(counts.min())}..{int(counts.max())}"
        )
        return f"in_shape={self.in_shape}, m={m}, noise_std={self.noise.std}"


def matrix_row_bound(matrix: Tensor) -> Tensor:
    """||A_j||_1 for every row j of A (m, n) -> (m,), or of each matrix of (B, m, n) -> (B, m):
    max |(A x)_j| over images x in [-1, 1] (``check_measurement_scale``'s bound), without a
    copy of the matrix."""
    return torch.linalg.vector_norm(matrix.detach(), ord=1, dim=-1)


def check_gaussian_size(
    image_shape: Sequence[int], m: int, max_bytes: int = DEFAULT_MAX_MATRIX_BYTES
) -> None:
    """Raise unless a dense m x n Gaussian matrix fits: 1 <= m <= n = C·H·W and m·n·4 bytes
    <= ``max_bytes`` (callers check this before writing anything)."""
    shape = _image_shape(image_shape)
    n = math.prod(shape)
    check_int(m, "m", low=1)
    check_int(max_bytes, "max_bytes", low=1)
    if m > n:
        raise ValueError(
            f"m must be at most n = C*H*W = {n} for image_shape {shape}, got {m}; "
            "choose fewer measurements"
        )
    size = m * n * 4
    if size > max_bytes:
        raise ValueError(
            f"a dense {m}x{n} float32 sensing matrix needs {size / 1024**3:.2f} GiB, above "
            f"max_bytes={max_bytes / 1024**3:.2f} GiB; lower m, raise max_bytes, or use Subsample"
        )


class MatrixOperator(LinearOperator):
    """y = A vec(x) + η with a given matrix A ∈ R^{m×n}, n = C·H·W: measurements made elsewhere
    (a device's calibrated matrix, another package's operator) reconstructed here.

    ``matrix`` (m, n) is copied to float32 and kept as a buffer (``.to(device)`` moves it); Aᵀ is
    its transpose; ``noise_std`` is σ of the Gaussian noise η on the library's [-1, 1] image
    scale (``from_unit_measurements`` converts measurements of [0, 1] images). Raises
    TypeError/ValueError for a matrix that is not a 2-D finite tensor of width n, or that has an
    all-zero row (a measurement of nothing).
    """

    stores_matrix = True

    def __init__(
        self,
        matrix: Tensor,
        image_shape: Sequence[int],
        noise_std: float = 0.0,
        *,
        copy: bool = True,
    ) -> None:
        """``copy=False`` keeps ``matrix`` itself (a float32 tensor the caller will not change)."""
        super().__init__(image_shape, noise_std=noise_std)
        matrix = check_tensor(matrix, "matrix", ndim=2)
        if matrix.shape[0] == 0:
            raise ValueError(
                f"matrix has no row, got shape {tuple(matrix.shape)}: pass an (m, n) matrix with "
                "m >= 1 measurements"
            )
        if matrix.shape[1] != self.n:
            raise ValueError(
                f"matrix must be (m, n) with n = C*H*W = {self.n} for image_shape "
                f"{self.in_shape}, got {tuple(matrix.shape)}; flatten images as x.flatten(1)"
            )
        zero = (matrix.detach() == 0).all(1)
        if bool(zero.any()):  # a row that measures nothing: m would count it, y carries nothing
            k = int(zero.sum())
            raise ValueError(
                f"matrix has {k} all-zero row(s) of {matrix.shape[0]} (first: row "
                f"{int(zero.nonzero()[0])}): a zero row measures nothing, yet the data term's "
                "1/m would count it"
                + (
                    " (every row is zero: y carries no information about x)"
                    if bool(zero.all())
                    else ""
                )
                + "; drop those rows: matrix[matrix.abs().sum(1) > 0]"
            )
        self.out_shape = (int(matrix.shape[0]),)
        matrix = matrix.detach().float()
        self.register_buffer("matrix", matrix.clone() if copy else matrix)

    def _matrix_as(self, t: Tensor) -> Tensor:
        """A in ``t``'s float dtype (float64 in, float64 out, as the other operators)."""
        return self.matrix if t.dtype == self.matrix.dtype else self.matrix.to(t.dtype)

    def A(self, x: Tensor) -> Tensor:
        x = self._shaped(x, "x", "A", image=True)
        return x.flatten(1) @ self._matrix_as(x).T

    def A_adjoint(self, y: Tensor) -> Tensor:
        y = self._shaped(y, "y", "A_adjoint", image=False)
        return (y @ self._matrix_as(y)).view(-1, *self.in_shape)

    def dense(self) -> Tensor:
        return self.matrix

    def measurement_bound(self) -> Tensor:
        return matrix_row_bound(self.matrix)


class GaussianCS(MatrixOperator):
    """Compressed sensing: A ∈ R^{m×n} with i.i.d. N(0, 1/m) entries, y = A vec(x) + η.

    The matrix is dense: m·n·4 bytes. It is drawn on the CPU from ``seed`` (the same A on any
    device). Above ``max_bytes`` construction fails up front instead of exhausting memory.
    """

    name = "gaussian"
    axis = M_AXIS

    @classmethod
    def from_setting(cls, image_shape, value=None, *, seed=0, ids=None, noise_std=0.0):
        """A for m = ``value`` drawn from ``derive_seed(seed, "operator", m)`` (one A for all
        images: the sweeps' seeding)."""
        m = _need_m(value, cls.name)
        return cls(image_shape, m, seed=derive_seed(seed, "operator", m), noise_std=noise_std)

    @classmethod
    def check_setting(cls, image_shape, value):
        check_gaussian_size(image_shape, value)
        return value

    def __init__(
        self,
        image_shape: Sequence[int],
        m: int,
        seed: int = 0,
        noise_std: float = 0.0,
        max_bytes: int = DEFAULT_MAX_MATRIX_BYTES,
    ) -> None:
        shape = _image_shape(image_shape)
        check_noise_std(noise_std, "noise_std")  # before the matrix is drawn
        check_gaussian_size(shape, m, max_bytes)
        matrix = torch.randn(m, math.prod(shape), generator=rng(seed)) / math.sqrt(m)
        super().__init__(matrix, shape, noise_std, copy=False)


class Subsample(LinearOperator):
    """Keep m of the n entries of vec(x), chosen uniformly at random from ``seed``: y = x[Ω]."""

    name = "subsample"
    axis = M_AXIS

    @classmethod
    def from_setting(cls, image_shape, value=None, *, seed=0, ids=None, noise_std=0.0):
        """Ω of size m = ``value`` drawn from ``derive_seed(seed, "operator", m)`` (one Ω for
        all images)."""
        m = _need_m(value, cls.name)
        return cls(image_shape, m, seed=derive_seed(seed, "operator", m), noise_std=noise_std)

    def __init__(self, image_shape: Sequence[int], m: int, seed: int = 0, noise_std: float = 0.0):
        super().__init__(image_shape, noise_std=noise_std)
        check_int(m, "m", low=1, high=self.n)
        self.out_shape = (m,)
        keep = torch.randperm(self.n, generator=rng(seed))[:m].sort().values
        self.register_buffer("indices", keep)

    def A(self, x: Tensor) -> Tensor:
        return self._shaped(x, "x", "A", image=True).flatten(1)[:, self.indices]

    def A_adjoint(self, y: Tensor) -> Tensor:
        y = self._shaped(y, "y", "A_adjoint", image=False)
        out = y.new_zeros(y.shape[0], self.n)
        out[:, self.indices] = y
        return out.view(-1, *self.in_shape)


class Inpainting(LinearOperator):
    """y = M ⊙ (x + η) with a binary mask M (1 = known pixel); A = M is self-adjoint.

    ``mask`` is (H, W), (1|C, H, W) shared by the batch, or (B, 1|C, H, W) one per image. ``m``
    counts the known entries of an image (m_i per image: ``measurement_counts``); y keeps the
    image layout and is exactly zero at missing pixels, which are not measurements.
    """

    name = "inpainting"
    axis = Axis("mask", "--mask", _mask_spec, "mask", numeric=False)
    per_image_draws = True

    @classmethod
    def from_setting(cls, image_shape, value=None, *, seed=0, ids=None, noise_std=0.0):
        """One mask per image from the spec ``value`` (``masks.parse_mask``: e.g.
        ``random:0.8``, ``center``), mask i drawn from ``rng(seed, "mask", ids[i])``."""
        from .masks import parse_mask

        if value is None:
            raise ValueError(
                "operator 'inpainting' needs a mask spec (--mask, e.g. center, random:0.8)"
            )
        ids = [0] if ids is None else list(ids)
        mask = parse_mask(value, len(ids), image_shape, seed=seed, ids=ids)
        return cls(mask, image_shape, noise_std=noise_std)

    @classmethod
    def check_setting(cls, image_shape, value):
        """A mask spec that parses and leaves pixels to fill (a mask file without a missing
        pixel is nothing to inpaint)."""
        mask = cls.from_setting(image_shape, value, ids=[0]).mask
        if bool(mask.all()):
            raise ValueError(f"mask {value!r} has no missing pixel: nothing to inpaint")
        return value

    def __init__(self, mask: Tensor, image_shape: Sequence[int], noise_std: float = 0.0) -> None:
        super().__init__(image_shape, noise_std=noise_std)
        check_tensor(mask, "mask", ndim=(2, 3, 4), floating=False)
        c, h, w = self.in_shape
        mask = mask.float()
        if mask.ndim == 2:
            mask = mask[None]
        if mask.ndim == 3:
            mask = mask[None]
        if mask.shape[-2:] != (h, w) or mask.shape[1] not in (1, c):
            raise ValueError(
                f"mask must be (H, W), (1|C, H, W) or (B, 1|C, H, W) with H, W = {h}, {w} and C = {c};"
                f" got {tuple(mask.shape)}"
            )
        if mask.shape[0] == 0:
            raise ValueError(
                f"mask holds no image, got shape {tuple(mask.shape)}: pass one mask (H, W) shared "
                "by every image, or one per image (B, 1, H, W) with B >= 1"
            )
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must be binary (0 = missing, 1 = known)")
        if not bool(mask.flatten(1).any(1).all()):
            raise ValueError("mask has no known pixel for at least one image")
        self.register_buffer("mask", mask.expand(-1, c, h, w).contiguous())

    @property
    def m(self) -> int:
        """Known entries per image; per-image masks with different counts have no single m
        (``measurement_counts`` gives m_i)."""
        counts = self.measurement_counts()
        if not bool((counts == counts[0]).all()):
            raise ValueError(
                f"the {len(counts)} per-image masks have from {int(counts.min())} to "
                f"{int(counts.max())} known entries, so no single m: use measurement_counts()"
            )
        return int(counts[0])

    def measurement_mask(self) -> Tensor:
        return self.mask

    def _mask_for(self, x: Tensor) -> Tensor:
        if self.mask.shape[0] not in (1, x.shape[0]):
            raise ValueError(
                f"the operator holds {self.mask.shape[0]} masks but the batch has {x.shape[0]} images"
            )
        return self.mask

    def A(self, x: Tensor) -> Tensor:
        x = self._shaped(x, "x", "A", image=True)
        return self._mask_for(x) * x

    def _mask_rows(self, rows: Tensor, batch: Tensor, method: str) -> Tensor:
        """The masks of images ``rows`` for ``batch`` (B, ...): row i of the batch is acted on
        by image ``rows[i]``'s mask. ``rows`` must be B integer indices in [0, K) (K per-image
        masks): else a ValueError / TypeError naming ``method``, not torch's IndexError."""
        k = self.mask.shape[0]
        if k == 1:
            return self.mask
        if not isinstance(rows, Tensor) or rows.is_floating_point() or rows.dtype == torch.bool:
            raise TypeError(
                f"{method}: rows must be an integer tensor of image indices, got "
                f"{getattr(rows, 'dtype', type(rows).__name__)}; e.g. torch.arange(B)"
            )
        if rows.shape != (len(batch),):
            raise ValueError(
                f"{method}: rows must hold one image index per batch row, shape ({len(batch)},), "
                f"got {tuple(rows.shape)}"
            )
        if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= k):
            raise ValueError(
                f"{method}: rows must index the operator's {k} per-image masks (0 .. {k - 1}), "
                f"got {int(rows.min())} .. {int(rows.max())}"
            )
        return self.mask[rows]

    def A_rows(self, x: Tensor, rows: Tensor) -> Tensor:
        x = self._shaped(x, "x", "A_rows", image=True)
        return self._mask_rows(rows, x, "A_rows") * x

    def A_adjoint(self, y: Tensor) -> Tensor:
        y = self._shaped(y, "y", "A_adjoint", image=False)
        return self._mask_for(y) * y

    def A_adjoint_rows(self, y: Tensor, rows: Tensor) -> Tensor:
        y = self._shaped(y, "y", "A_adjoint_rows", image=False)
        return self._mask_rows(rows, y, "A_adjoint_rows") * y

    def per_image(self, n_images: int) -> list[tuple[list[int], LinearOperator]]:
        if self.mask.shape[0] == 1:
            return super().per_image(n_images)
        return [
            ([i], Inpainting(self.mask[i], self.in_shape, self.noise.std).to(self.mask.device))
            for i in range(n_images)
        ]

    def dense(self) -> Tensor:
        if self.mask.shape[0] != 1:
            raise ValueError(
                f"the operator holds {self.mask.shape[0]} per-image masks, so no single matrix: "
                "use one Inpainting operator per image"
            )
        return torch.diag(self.mask.flatten())


class SuperResolution(LinearOperator):
    """Average pooling by ``factor``: y = (1/f²) Σ over each f×f block; Aᵀ spreads y/f² back."""

    name = "superres"
    axis = Axis(
        "factor", "--factor", _positive_int, "downsampling factor f (m = n / f²)", default=2
    )

    @classmethod
    def from_setting(cls, image_shape, value=None, *, seed=0, ids=None, noise_std=0.0):
        """Average pooling by ``value`` (no randomness)."""
        value = cls.axis.default if value is None else value
        return cls(image_shape, value, noise_std=noise_std)

    def __init__(self, image_shape: Sequence[int], factor: int, noise_std: float = 0.0) -> None:
        super().__init__(image_shape, noise_std=noise_std)
        c, h, w = self.in_shape
        check_int(factor, "factor", low=1)
        if h % factor or w % factor:
            raise ValueError(f"factor must divide H and W = {h}, {w}; got {factor}")
        self.factor = factor
        self.out_shape = (c, h // factor, w // factor)

    def A(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(self._shaped(x, "x", "A", image=True), self.factor)

    def A_adjoint(self, y: Tensor) -> Tensor:
        f = self.factor
        y = self._shaped(y, "y", "A_adjoint", image=False)
        return y.repeat_interleave(f, -2).repeat_interleave(f, -1) / (f * f)


class Identity(LinearOperator):
    """A = I: denoising, y = x + η. Raises TypeError for a setting passed after the shape
    (A = I takes none; σ is ``noise_std=`` by keyword)."""

    name = "identity"

    def __init__(self, image_shape: Sequence[int], *setting: Any, noise_std: float = 0.0):
        if setting:  # (Identity(shape, 0.1) set σ silently before noise_std was keyword-only)
            raise TypeError(
                f"Identity takes the image shape alone (A = I has no setting), got "
                f"{', '.join(map(repr, setting))} after it; pass noise_std= by keyword"
            )
        super().__init__(image_shape, noise_std=noise_std)

    @classmethod
    def from_setting(cls, image_shape, value=None, *, seed=0, ids=None, noise_std=0.0):
        return cls(image_shape, noise_std=noise_std)

    def A(self, x: Tensor) -> Tensor:
        return self._shaped(x, "x", "A", image=True)

    def A_adjoint(self, y: Tensor) -> Tensor:
        return self._shaped(y, "y", "A_adjoint", image=False)


def measurements_at(cls: type[LinearOperator], image_shape: Sequence[int], value: Any) -> int:
    """prod(out_shape), the size of A's output per image of ``cls.from_setting(image_shape,
    value)`` (a sweep's x value; the solvers hold y at that size: inpainting's masked pixels
    included): the value itself where the axis is m (GaussianCS, Subsample: its dense m x n
    matrix is not drawn to count its rows), else the operator's, built once for one image
    (superres: n / f², inpainting: every pixel)."""
    if cls.axis is M_AXIS:
        return int(value)
    return math.prod(cls.from_setting(image_shape, value, ids=[0]).out_shape)


def check_operator(operator: object, name: str = "operator") -> LinearOperator:
    """``operator`` itself if it is a ganinverse ``LinearOperator``, else a TypeError naming the
    fix. A deepinv physics (recognised by its class's module, without importing deepinv) is
    refused with the adapter to use, ``ganinverse.interop.deepinv.from_deepinv``: deepinv's
    physics measure [0, 1] images, the library's operators [-1, 1] ones, so y must be converted
    explicitly (``DeepinvOperator.measurements_from_deepinv``) and x̂ comes back on [-1, 1]."""
    if isinstance(operator, LinearOperator):
        return operator
    kind = type(operator)
    module = kind.__module__ or ""
    if module == "deepinv" or module.startswith("deepinv."):
        raise TypeError(
            f"{name} is a deepinv {kind.__name__}, not a ganinverse LinearOperator; adapt it: "
            "op = ganinverse.interop.deepinv.from_deepinv(physics, image_shape) and pass "
            "y = op.measurements_from_deepinv(y) (deepinv measures [0, 1] images, ganinverse "
            "[-1, 1] ones; the result x_hat is on [-1, 1]: (x_hat + 1) / 2 for deepinv)"
        )
    raise TypeError(
        f"{name} must be a ganinverse LinearOperator (ganinverse.operators: GaussianCS, "
        f"Subsample, Inpainting, SuperResolution, Identity, or MatrixOperator(matrix, "
        f"image_shape) for a matrix of your own), got {kind.__module__}.{kind.__qualname__}"
    )


def make_operator(
    name: str,
    image_shape: Sequence[int],
    value: Any = None,
    *,
    seed: int = 0,
    noise_std: float = 0.0,
    ids: Sequence[Key] | None = None,
    **setting: Any,
) -> LinearOperator:
    """Build a registered operator by name (``REGISTRY``) at its axis value: ``gaussian`` and
    ``subsample`` take m (A or Ω drawn from ``seed`` itself), ``superres`` a factor (default 2),
    ``inpainting`` a mask spec (one mask per id of ``ids``, drawn as ``masks.parse_mask``),
    ``identity`` nothing (a value is refused). The value is passed third or by its axis's name:
    ``make_operator("gaussian", (3, 64, 64), m=500)``, ``factor=4``, ``mask="center"``.

    Raises:
        TypeError: a keyword that is not this operator's axis (``m=`` for ``superres``), or
            the value passed both ways."""
    cls = REGISTRY[check_choice(name, "operator", REGISTRY)]
    if setting:
        value = _value_by_name(name, cls.axis, value, setting)
    if cls.axis is None:
        if value is not None:
            raise ValueError(f"operator {name!r} takes no setting, got {value!r}")
        return cls.from_setting(image_shape, noise_std=noise_std)
    if cls.axis is M_AXIS:  # make_operator's seed is the matrix's own seed
        return cls(image_shape, _need_m(value, name), seed=seed, noise_std=noise_std)
    return cls.from_setting(image_shape, value, seed=seed, ids=ids, noise_std=noise_std)


def _value_by_name(name: str, axis: Axis | None, value: Any, setting: dict[str, Any]) -> Any:
    """The value of ``make_operator(name, shape, <axis name>=value)``, or a TypeError naming
    the keyword this operator takes (none for ``identity``)."""
    takes = (
        f"operator {name!r} takes its {axis.label} as {axis.name}= (or as the third argument)"
        if axis is not None
        else f"operator {name!r} takes no setting"
    )
    wrong = [k for k in setting if axis is None or k != axis.name]
    if wrong:
        raise TypeError(f"make_operator() got an unexpected keyword {wrong[0]!r}: {takes}")
    if value is not None:
        raise TypeError(
            f"make_operator() got {axis.name} twice ({value!r} as the third argument and "
            f"{axis.name}={setting[axis.name]!r}): pass it once"
        )
    return setting[axis.name]


def _need_m(m: int | None, name: str) -> int:
    if m is None:
        raise ValueError(f"operator {name!r} needs m, the number of measurements (--m)")
    return m


#: How far measurements y may lie from A x of their images x, per image: (1/m_i)||y − A x||² at most
#: (MISFIT_SIGMAS σ)² + MISFIT_RELATIVE (1/m_i)||A x||² (float rounding), where σ is the
#: operator's noise (a mean of m_i squared N(0, σ²) draws exceeds 36σ² with probability below
#: 1e-9 even at m_i = 1).
MISFIT_SIGMAS, MISFIT_RELATIVE = 6.0, 1e-6


def check_measured_from(
    operator: LinearOperator, x: Tensor, y: Tensor, x_name: str = "x", y_name: str = "y"
) -> None:
    """A ValueError unless y (B, *out_shape) could be ``operator.measure(x)`` of the images x
    (B, *in_shape), image by image (``MISFIT_SIGMAS``, ``MISFIT_RELATIVE``): a weight search
    that scores each candidate's x̂ against x must reconstruct from x's own measurements (not x
    on another scale, nor y of other images or in another order). ``x_name`` / ``y_name``: the
    arguments' names in the message."""
    with torch.no_grad():
        ax = operator.A(x.to(operator.device)).to(y.device)
        misfit = operator.data_misfit(y, ax)
        signal = operator.data_misfit(torch.zeros_like(ax), ax)
    sigma = float(operator.noise.std)
    allowed = (MISFIT_SIGMAS * sigma) ** 2 + MISFIT_RELATIVE * signal + 1e-12
    far = torch.nonzero(misfit > allowed).flatten().tolist()
    if far:
        i = far[0]
        raise ValueError(
            f"{y_name} is not the measurements of {x_name}: for {len(far)} of {len(y)} images "
            f"(first: image {i}) (1/m)||{y_name} − A {x_name}||² = {float(misfit[i]):.3g}, "
            f"beyond the operator's noise (σ = {sigma:g}: at most {float(allowed[i]):.3g}); "
            f"pass {y_name} = operator.measure({x_name}), the same images in the same order on "
            f"the [-1, 1] scale ({x_name} on [0, 1]? pass 2 {x_name} − 1)"
        )
