"""Sparse-recovery baselines: Lasso in a basis (scikit-learn reference and batched torch FISTA), OMP.

Problem (per image, on the scale of the data and the measurements y = A x + noise):

    min_c  P(c) = 1/2 ||y - M c||^2 + lam ||c||_1,    M = A Psi^T,    x_hat = Psi^T c

A is an (m, n) matrix shared by all images or one (m, n) matrix per image, stacked (B, m, n), with
n = C H W acting on images flattened row-major (``x.flatten(1) @ A.T``), or (FISTA, the objective
and the gap) a :class:`~ganinverse.operators.LinearOperator`, applied matrix-free: M c = A(Psi^T c),
M^T r = Psi(A^T r), so subsampling, inpainting or super-resolution of 64x64x3 images never builds
their 12288 x 12288 matrix. Psi is a per-channel orthonormal :class:`~ganinverse.bases.Basis`;
coefficients keep the image layout (B, C, H, W). x_hat is not clipped. Every solver also takes
any :class:`~ganinverse.bases.Dictionary` in Psi^T's place, a synthesis S with its adjoint (a
redundant :class:`~ganinverse.bases.WaveletFrame`: M = A S, M^T r = S^T A^T r, coefficients
(B, C, K), K > H W); only the shapes change, the stopping rule and certificates are the same.

Images of the library lie in [-1, 1]; :func:`lasso` (and :func:`lasso_path`, :func:`choose_lambda`,
the sweep) solves on the [0, 1] image scale instead, y0 = (y + A 1) / 2, x_hat = 2 x0_hat - 1
(:func:`unit_scale_problem`, the one place of that convention).

Stopping rule (both Lasso solvers): the duality gap. With r = y - M c and the dual-feasible point
theta = r min(1, lam / ||M^T r||_inf), D(theta) = 1/2 ||y||^2 - 1/2 ||y - theta||^2 <= P(c*), so

    gap(c) = P(c) - D(theta) >= P(c) - P(c*)

Any other dual-feasible theta gives a valid bound too; the solvers keep the best one they meet
(FISTA also tries the Celer dual extrapolation of its recent residuals, see ``_fista``), because
at small lam the rescaled residual of a near-optimal c can overstate P(c) - P* by orders of
magnitude. The reported ``duality_gap`` is P(c) - D(theta_best) <= ``lasso_duality_gap(c)``,
and a solver stops when that gap <= tol P(c): the objective it returns is within a factor
1/(1 - tol) of the minimum (relative excess at most tol / (1 - tol)). The default tol = 1e-4 keeps
it within about 1e-4 of the minimum. Every result reports ``duality_gap`` and ``converged``; a
solver that stops on max_iter first warns with :class:`ganinverse.exceptions.ConvergenceWarning`.
lam = 0 (least squares) has no useful dual point (theta must satisfy M^T theta = 0; theta = 0 gives
the trivial bound gap = P(c)); FISTA then stops on the gradient, ||M^T r||_2 <= tol ||M^T y||_2.

Weighted Lasso (FISTA, ``weights=``): lam ||c||_1 becomes lam sum_j w_j |c_j| with w >= 0; the
coefficients with w_j = 0 (e.g. a wavelet approximation band) are unpenalised and eliminated
exactly by least squares, and the dual points are kept orthogonal to their columns, which is the
weighted problem's dual feasibility |M_j^T theta| <= lam w_j, so the same gap certifies it
(``_Weighted``, :func:`lasso_fista`).

scikit-learn's ``Lasso`` minimises 1/(2m) ||y - X w||^2 + alpha ||w||_1, i.e. our objective divided
by m when ``alpha = lam / m``; its ``tol`` bounds the same gap by tol_sk ||y||^2 (not tol P(c)).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from ganinverse._validation import (
    check_choice,
    check_count,
    check_int,
    check_measurement_scale,
    check_noise_std,
    check_not_empty,
    check_number,
    check_tensor,
    check_weight,
)
from ganinverse.bases import Basis, Dictionary, make_basis
from ganinverse.device import cpu_threads, resolve_device
from ganinverse.exceptions import ConvergenceWarning, warn_grid_edge
from ganinverse.metrics import mse
from ganinverse.operators import (
    LinearOperator,
    _power_iteration,
    check_measured_from,
    matrix_row_bound,
)
from ganinverse.seeds import rng
from ganinverse.status import image_status

from .exceptions import user_stacklevel

# Power iteration approaches ||A Psi^T||^2 from below; the margin keeps the step at or under 1/L
# (and gradient steps stay stable up to 2/L; the adaptive restart guards the momentum).
LIPSCHITZ_MARGIN = 1.02
#: On the CPU, FISTA on an m x n matrix with m*n at most this runs on one thread (see cpu_threads).
SMALL_PROBLEM = 1 << 20
#: Default relative duality-gap tolerance of the Lasso solvers: gap <= tol P(c).
LASSO_TOL = 1e-4
#: FISTA tests its stopping rule at k = 0 and every this many iterations (and at max_iter).
GAP_CHECK_EVERY = 10
#: FISTA's dual extrapolation combines the residuals of the last this many + 1 gap tests.
EXTRAPOLATION_K = 5
#: An image iterating in float32 whose best gap / P(c) has not fallen by STALL_FACTOR over the last
#: STALL_TESTS gap tests has met float32's floor (the rounding of A Psi^T and y moves the
#: minimiser, and so the dual point built from it, by ~1e-7 relative: at small lam that alone can
#: be a gap of ~1e-4 P); it continues in float64 from where it is.
STALL_TESTS = 50
STALL_FACTOR = 0.9
#: Below this tol FISTA iterates in float64: float32 rounding of M c alone is ~1e-7 relative, and
#: the gaps it leaves are of order 1e-7..1e-6 of P on 28x28 problems.
FLOAT32_MIN_TOL = 1e-6
#: scikit-learn is refit (warm-started, tighter tol) at most this many times until gap <= tol P.
SKLEARN_ROUNDS = 4


@dataclass
class SparseResult:
    """Result of a sparse-recovery baseline for B images.

    x_hat (B, C, H, W) float32 = Psi^T c; coefficients c (B, C, H, W) float32; objective (B,)
    float64 = P(c) = 1/2 ||y - A Psi^T c||^2 + lam ||c||_1 (lam sum_j w_j |c_j| for FISTA with
    ``weights``); iterations (B,) int64 (solver
    iterations per image); duality_gap (B,) float64 = P(c) - D(theta) >= P(c) - min P, computed
    in float64 at the returned (float32) c with the best dual point theta the solver found (see
    the module docstring); converged (B,) bool: the
    solver's stopping rule held for its own iterate before max_iter. Rounding c to float32 moves
    the gap by ~1e-7 of P, so for tol below that, duality_gap can exceed tol P while converged.
    """

    x_hat: Tensor
    coefficients: Tensor
    objective: Tensor
    iterations: Tensor
    duality_gap: Tensor
    converged: Tensor

    @property
    def status(self) -> list[str]:
        """Per image: "ok" or "not_converged" (``ganinverse.status``)."""
        return image_status({"not_converged": self.converged})


def _check_lam(lam: object) -> float:
    """λ weighs ||c||_1: a finite number in [0, 1e6] (0 = least squares; ``check_weight``)."""
    return check_weight(lam, "lam")


def _check_tol(tol: object) -> float:
    return check_number(
        tol,
        "tol",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
        hint="tol is the relative duality gap gap/P(c) at which the solver stops, e.g. 1e-4",
    )


def _check_basis(basis: object) -> Dictionary:
    if not isinstance(basis, Dictionary):
        raise TypeError(
            f"basis must be a ganinverse.bases.Basis (or another bases.Dictionary, e.g. a "
            f"WaveletFrame), got {type(basis).__name__}; build one with "
            "ganinverse.bases.make_basis('pixel' | 'dct' | 'wavelet', image_shape)"
        )
    return basis


def _coefficient_shape(basis: Dictionary, image_shape: Sequence[int]) -> tuple[int, ...]:
    """The coefficients' shape (after the batch) of images (C, H, W) in ``basis``: (C, H, W)
    for an orthonormal Basis, (C, K) for a redundant frame."""
    return tuple(basis.coefficient_shape(image_shape[0]))


def _dense_only(A: object, function: str) -> None:
    """Refuse a LinearOperator where a function needs the matrix itself, naming the fix."""
    if isinstance(A, LinearOperator):
        raise TypeError(
            f"{function} needs the matrix of A (a tensor (m, n) or (B, m, n)), got a "
            f"{type(A).__name__} operator; pass A.dense() (an m x n matrix: fine for small "
            "images, 0.6 GB for 64x64x3) or use lasso_fista, which works matrix-free"
        )


def _check_problem(
    A: Tensor, y: Tensor, basis: Basis, image_shape: Sequence[int] | None
) -> tuple[int, int, int]:
    """Validate A (m, n) | (B, m, n), y (B, m) against the basis; return (C, H, W)."""
    _check_basis(basis)
    check_tensor(A, "A", ndim=(2, 3))
    check_not_empty(check_tensor(y, "y", ndim=2), "y", "measurement vector")
    if A.shape[-2] != y.shape[1]:
        raise ValueError(
            f"A has {A.shape[-2]} rows (measurements) but y has {y.shape[1]} columns; "
            f"A must be (m, n) or (B, m, n) and y (B, m)"
        )
    if A.ndim == 3 and A.shape[0] != y.shape[0]:
        raise ValueError(f"per-image A has {A.shape[0]} matrices but y has {y.shape[0]} rows")
    n = A.shape[-1]
    if image_shape is None:
        if n % basis.n:
            raise ValueError(f"A has {n} columns, not a multiple of the basis size {basis.n}")
        image_shape = (n // basis.n, *basis.shape)
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or tuple(image_shape[1:]) != basis.shape:
        raise ValueError(
            f"image_shape must be (C, {basis.shape[0]}, {basis.shape[1]}) to match "
            f"the basis, got {image_shape}"
        )
    if math.prod(image_shape) != n:
        raise ValueError(
            f"A has {n} columns but image_shape {image_shape} has {math.prod(image_shape)} pixels"
        )
    return image_shape


def _matrix_noise(A: object, noise_std: object) -> float:
    """σ of the noise in y for a matrix A (``noise_std``, default 0), checked; a ValueError when
    it is given with a LinearOperator, which carries its own."""
    if noise_std is None:
        return 0.0
    if isinstance(A, LinearOperator):
        raise ValueError(
            f"noise_std is for a matrix A; the {type(A).__name__} operator carries its own σ "
            "(build it with noise_std=σ) and its check_measurements uses it: drop noise_std"
        )
    return check_noise_std(noise_std, "noise_std")


def _check_matrix_scale(A: Tensor, y: Tensor, noise_std: object) -> None:
    """Refuse measurements y (B, m) of a matrix A that no image in [-1, 1] gives: |y_j| above
    twice ||A_j||_1 plus 6σ (σ = ``noise_std``), the bound an operator's ``check_measurements``
    applies (``_validation.check_measurement_scale``, shared)."""
    check_measurement_scale(
        y,
        matrix_row_bound(A),
        _matrix_noise(A, noise_std),
        "y",
        fix="or, if y is that noisy, pass noise_std=σ (the noise's standard deviation)",
    )


def _check_operator_problem(
    op: LinearOperator, y: object, basis: Basis, image_shape: Sequence[int] | None
) -> tuple[tuple[int, int, int], Tensor]:
    """Validate a LinearOperator A with y (B, *out_shape) | (B, prod(out_shape)); return
    ((C, H, W), y as (B, m)) with y zeroed where a masked operator measures nothing."""
    _check_basis(basis)
    if image_shape is not None and tuple(image_shape) != op.in_shape:
        raise ValueError(
            f"image_shape must be the operator's in_shape {op.in_shape} (or None), "
            f"got {tuple(image_shape)}"
        )
    if basis.shape != op.in_shape[1:]:
        raise ValueError(
            f"the basis is for {basis.shape[0]}x{basis.shape[1]} images but the operator acts on "
            f"in_shape {op.in_shape}; build it with make_basis(name, operator.in_shape)"
        )
    y = check_tensor(y, "y")
    m = math.prod(op.out_shape)
    if y.ndim < 2 or tuple(y.shape[1:]) not in (op.out_shape, (m,)):
        raise ValueError(
            f"y must be (B, *out_shape) = (B, {', '.join(map(str, op.out_shape))}) or (B, {m}) "
            f"for this {type(op).__name__}, got {tuple(y.shape)}"
        )
    k = op.n_matrices
    if k > 1 and k != len(y):
        raise ValueError(
            f"the {type(op).__name__} operator holds {k} per-image matrices (one mask per image) "
            f"but y has {len(y)} images; pass the measurements of its {k} images in order, or "
            "solve each group of operator.per_image(B) on its own"
        )
    y = y.reshape(len(y), m)
    mask = op.measurement_mask()
    if mask is not None:  # entries that are no measurements are no data (y is 0 there)
        y = y * mask.flatten(1).to(y)
    # measurements of images on another scale ([0, 255]) are refused as in every solver (the
    # check only: y keeps its dtype, e.g. float64 for a float64 solve)
    op.check_measurements(y.reshape(len(y), *op.out_shape))
    return op.in_shape, y


def _check_any(
    A: object,
    y: object,
    basis: Basis,
    image_shape: Sequence[int] | None,
    *,
    scale: bool = False,
    noise_std: object = None,
) -> tuple[tuple[int, int, int], Tensor]:
    """Validate a Lasso problem given by a matrix or by a LinearOperator; return ((C, H, W), y
    (B, m)). An operator's y is always checked against the image scale (its
    ``check_measurements``); a matrix's with ``scale`` (the solvers), with σ = ``noise_std``."""
    if isinstance(A, LinearOperator):
        _matrix_noise(A, noise_std)
        return _check_operator_problem(A, y, basis, image_shape)
    if not isinstance(A, Tensor):
        raise TypeError(
            "A must be a torch.Tensor (the matrix, (m, n) or (B, m, n)) or a "
            f"ganinverse.operators.LinearOperator, got {type(A).__name__}"
        )
    image_shape = _check_problem(A, y, basis, image_shape)
    if scale:
        _check_matrix_scale(A, y, noise_std)
    return image_shape, y


def effective_matrix(A: Tensor, basis: Basis, image_shape: Sequence[int]) -> Tensor:
    """A Psi^T, same leading shape as A (m, n) | (B, m, n): row i is Psi a_i (the basis analysis
    of A's row i); for a redundant frame S (``bases.WaveletFrame``) A S, (m, N) | (B, m, N) with
    N = C K, row i = S^T a_i. Raises like the solvers when A, basis and image_shape do not fit together
    (TypeError for a LinearOperator: this is the matrix itself; pass ``A.dense()``)."""
    _dense_only(A, "effective_matrix")
    _check_basis(basis)
    check_tensor(A, "A", ndim=(2, 3))
    rows = A.new_zeros(A.shape[0] if A.ndim == 3 else 1, A.shape[-2])  # a y that fits A
    return _effective(A, basis, _check_problem(A, rows, basis, image_shape))


def _matvec(M: Tensor, v: Tensor) -> Tensor:
    """M v for a batch v (b, n): shared M (m, n) or per-image M (b, m, n) -> (b, m)."""
    return v @ M.T if M.ndim == 2 else torch.bmm(M, v[:, :, None])[:, :, 0]


def _rmatvec(M: Tensor, r: Tensor) -> Tensor:
    """M^T r for a batch r (b, m) -> (b, n)."""
    return r @ M if M.ndim == 2 else torch.bmm(r[:, None, :], M)[:, 0, :]


class _Matrix:
    """The solvers' view of M = A Psi^T (b rows of coefficients c (b, n) -> M c (b, m)) when it
    is a stored matrix: (m, n) shared by every image, or (B, m, n) one per image."""

    def __init__(self, M: Tensor) -> None:
        self.M = M
        self.per_image = M.ndim == 3  # row i of a batch is acted on by its own M_i
        self.batch = M.shape[0] if self.per_image else 1  # the matrices held
        self.n, self.dtype, self.device = M.shape[-1], M.dtype, M.device

    def matvec(self, c: Tensor) -> Tensor:
        return _matvec(self.M, c)

    def rmatvec(self, r: Tensor) -> Tensor:
        return _rmatvec(self.M, r)

    def select(self, rows: Tensor) -> _Matrix:
        """The problem of the images ``rows`` (index or bool mask) of a per-image M."""
        return _Matrix(self.M[rows]) if self.per_image else self

    def columns(self, idx: Tensor) -> Tensor:
        """The columns ``idx`` (k,) of M: (m, k), or (B, m, k) for a per-image M."""
        return self.M[..., idx]

    def measured(self) -> Tensor:
        """The measurements of each image: M's nonzero rows, () shared or (B,) per image."""
        return (self.M != 0).any(-1).sum(-1)


class _MatrixFree:
    """M = A Psi^T applied matrix-free: M c = A(Psi^T c), M^T r = Psi(A^T r), with a
    LinearOperator A and a basis Psi already on the iterations' device and dtype. ``rows`` (b,):
    the image of each row for a per-image operator (its ``A_rows``), None for a shared one."""

    def __init__(
        self,
        operator: LinearOperator,
        basis: Basis,
        rows: Tensor | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.operator, self.basis, self.rows = operator, basis, rows
        self.per_image = rows is not None
        self.batch = len(rows) if rows is not None else 1
        self.coefficient_shape = _coefficient_shape(basis, operator.in_shape)
        self.n, self.device, self.dtype = math.prod(self.coefficient_shape), device, dtype

    def matvec(self, c: Tensor) -> Tensor:
        op = self.operator
        x = self.basis.synthesis(c.reshape(-1, *self.coefficient_shape))
        ax = op.A(x) if self.rows is None else op.A_rows(x, self.rows)
        return ax.reshape(len(c), -1)

    def rmatvec(self, r: Tensor) -> Tensor:
        op = self.operator
        r = r.reshape(-1, *op.out_shape)
        aty = op.A_adjoint(r) if self.rows is None else op.A_adjoint_rows(r, self.rows)
        return self.basis.adjoint(aty).reshape(len(r), -1)

    def select(self, rows: Tensor) -> _MatrixFree:
        if self.rows is None:
            return self
        rows = self.rows[rows.to(self.rows.device)]
        return _MatrixFree(self.operator, self.basis, rows, self.device, self.dtype)

    def columns(self, idx: Tensor) -> Tensor:
        """The columns ``idx`` (k,) of M, matrix-free (M applied to the unit coefficients
        e_j): (m, k), or (b, m, k) for a per-image operator (one image at a time)."""
        unit = torch.zeros(len(idx), self.n, dtype=self.dtype, device=self.device)
        unit[torch.arange(len(idx), device=self.device), idx.to(self.device)] = 1
        if self.rows is None:
            return self.matvec(unit).T
        return torch.stack(
            [
                _MatrixFree(
                    self.operator, self.basis, row.repeat(len(idx)), self.device, self.dtype
                )
                .matvec(unit)
                .T
                for row in self.rows
            ]
        )

    def measured(self) -> Tensor:
        """The measurements of each image (``measurement_counts``): () shared or (b,)."""
        counts = self.operator.measurement_counts().to(self.device)
        return counts[0] if self.rows is None else counts[self.rows]


class _Weighted:
    """The weighted Lasso min_c 1/2 ||y - M c||^2 + lam sum_j w_j |c_j| (w >= 0, some w_j > 0) as
    the unweighted Lasso that the solvers iterate on (the ``_Problem`` interface):

        min_c' 1/2 ||Q_perp (y - M' c')||^2 + lam ||c'||_1,   M' = M W+,

    with c'_j = w_j c_j, W+ = diag(1/w_j) on the penalised coefficients and 0 on the unpenalised
    set U = {j : w_j = 0}, and Q_perp = I - Q Q^T the projector onto the orthogonal complement of
    the unpenalised columns M_U (Q: an orthonormal basis of their range, from the SVD of M_U, so
    rank-deficient M_U are fine). For any c_P the best c_U is least squares,
    c_U = M_U^+ (y - M_P c_P) (``assemble``), and 1/2 ||y - M c||^2 = 1/2 ||Q_perp (y - M_P c_P)||^2:
    both problems have the same minimum and P(assemble(c')) = P'(c'). A dual point of the reduced
    problem lies in range(Q_perp), so M_U^T theta = 0 and |M_j^T theta| <= lam w_j: it is feasible
    for the weighted problem, with the same dual value (``_weighted_gap``).

    ``keep`` is 0 for an image whose M_U spans all its measurements (then Q_perp = 0 exactly:
    min P = 0 at c_P = 0, c_U = M_U^+ y), else 1. Arrays are per image (leading b) when the
    problem is.
    """

    def __init__(
        self,
        base: _Problem,
        w: Tensor,
        free: Tensor,
        basis_u: Tensor,
        s_inv: Tensor,
        vh: Tensor,
        keep: Tensor,
    ) -> None:
        self.base, self.w, self.free = base, w, free
        self.w_inv = torch.where(w > 0, 1 / w.clamp_min(torch.finfo(w.dtype).tiny), 0)
        self.basis_u, self.s_inv, self.vh, self.keep = basis_u, s_inv, vh, keep
        self.per_image, self.batch = base.per_image, base.batch
        self.n, self.dtype, self.device = base.n, base.dtype, base.device

    def project(self, r: Tensor) -> Tensor:
        """Q_perp r for r (b, m)."""
        Q = self.basis_u
        if Q.ndim == 2:
            return (r - (r @ Q) @ Q.T) * self.keep
        return (r - torch.bmm(Q, torch.bmm(Q.transpose(1, 2), r[:, :, None]))[:, :, 0]) * self.keep

    def matvec(self, c: Tensor) -> Tensor:
        return self.project(self.base.matvec(c * self.w_inv))

    def rmatvec(self, r: Tensor) -> Tensor:
        return self.base.rmatvec(self.project(r)) * self.w_inv

    def select(self, rows: Tensor) -> _Weighted:
        if not self.per_image:
            return self
        parts = (self.basis_u, self.s_inv, self.vh, self.keep)
        return _Weighted(self.base.select(rows), self.w, self.free, *(a[rows] for a in parts))

    def assemble(self, c_reduced: Tensor, y: Tensor) -> Tensor:
        """The weighted problem's coefficients c (b, n) of reduced ones c' (b, n): c_P = c'_P /
        w_P and the least-squares c_U = M_U^+ (y - M_P c_P) (minimum norm)."""
        c = c_reduced * self.w_inv
        r = y - self.base.matvec(c)
        Q, vh = self.basis_u, self.vh
        if Q.ndim == 2:
            c_u = ((r @ Q) * self.s_inv) @ vh
        else:
            c_u = torch.bmm(Q.transpose(1, 2), r[:, :, None])[:, :, 0] * self.s_inv
            c_u = torch.bmm(c_u[:, None, :], vh)[:, 0, :]
        c[:, self.free] = c_u
        return c


_Problem = _Matrix | _MatrixFree | _Weighted


def _check_weights(weights: object, image_shape: Sequence[int]) -> Tensor | None:
    """``weights`` as a float64 (n,) CPU tensor: finite, >= 0, broadcast to ``image_shape``, the
    coefficients' shape ((C, H, W) for a Basis, (C, K) for a frame)."""
    if weights is None:
        return None
    w = check_tensor(weights, "weights")
    try:
        w = torch.broadcast_to(w, tuple(image_shape))
    except RuntimeError as err:
        raise ValueError(
            f"weights must have the coefficients' shape {tuple(image_shape)} or broadcast to it "
            f"(e.g. (1, {', '.join(map(str, image_shape[1:]))})), got {tuple(w.shape)}"
        ) from err
    if bool((w < 0).any()):
        raise ValueError(
            "weights must be >= 0 (w_j = 0 leaves coefficient j unpenalised), got a negative one"
        )
    return w.detach().reshape(-1).to("cpu", torch.float64)


def _weighted_problems(
    P: _Problem, P64: _Problem, w: Tensor, gauge: Callable[[Tensor], Tensor | None] | None = None
) -> tuple[_Weighted, _Weighted]:
    """(the reduced problem in P's dtype, in float64) of weights w (n,) with some w_j > 0.

    ``gauge(free)`` (the dictionary's ``least_energy_gauge``): a (k, r) float64 map T with
    c_U = T z, or None. Among the least-squares c_U (several where M_U is rank-deficient) the
    elimination takes the one of least ||z||: with T, the least image energy ||S_U c_U|| (T
    whitens S_U's columns), without it the least ||c_U|| (the same for an orthonormal basis)."""
    device = P64.device
    w64 = w.to(device)[None]
    free = (w64[0] == 0).nonzero()[:, 0]
    per = P64.per_image
    lead = (P64.batch,) if per else ()
    T = None if gauge is None or not len(free) else gauge(free.cpu())
    if len(free):
        M_u = P64.columns(free)  # (m, k) or (b, m, k), float64
        if T is not None:
            T = T.to(device, torch.float64)
            M_u = M_u @ T  # (m, r) or (b, m, r): the columns of M_U T
        U, S, vh = torch.linalg.svd(M_u, full_matrices=False)
        if T is not None:
            vh = vh @ T.T  # c_U = T z: assemble maps to c_U directly
        floor = S.amax(-1, keepdim=True) * max(M_u.shape[-2:]) * torch.finfo(torch.float64).eps
        on = S > floor  # the rank: directions below it are M_u's numerical null space
        Q, s_inv = U * on[..., None, :], torch.where(on, 1 / S.clamp_min(1e-300), 0)
        rank = on.sum(-1)
    else:
        m = P64.matvec(torch.zeros(P64.batch, P64.n, dtype=torch.float64, device=device)).shape[1]
        Q = torch.zeros(*lead, m, 0, dtype=torch.float64, device=device)
        s_inv = torch.zeros(*lead, 0, dtype=torch.float64, device=device)
        vh = torch.zeros(*lead, 0, 0, dtype=torch.float64, device=device)
        rank = torch.zeros(lead, dtype=torch.long, device=device)
    keep = (rank < P64.measured().to(device)).to(torch.float64)
    keep = keep[:, None] if per else keep
    W64 = _Weighted(P64, w64, free, Q, s_inv, vh, keep)
    if P.dtype == torch.float64:
        return (W64 if P is P64 else _Weighted(P, w64, free, Q, s_inv, vh, keep)), W64
    cast = (a.to(P.dtype) for a in (Q, s_inv, vh, keep))
    return _Weighted(P, w64.to(P.dtype), free, *cast), W64


def _gauge(basis: Dictionary, coef_shape: Sequence[int]) -> Callable[[Tensor], Tensor | None]:
    """``basis.least_energy_gauge`` for coefficients of ``coef_shape`` (``_weighted_problems``)."""
    return lambda free: basis.least_energy_gauge(free, tuple(coef_shape))


def _moved(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """``module`` with its buffers on ``device`` and its floating buffers in ``dtype``: itself
    when they already are, else a copy (the caller's operator and basis are never changed)."""
    if all(
        b.device == device and (b.dtype == dtype or not b.is_floating_point())
        for b in module.buffers()
    ):
        return module
    return copy.deepcopy(module).to(device=device, dtype=dtype)


def _problems(
    A: Tensor | LinearOperator,
    basis: Basis,
    image_shape: tuple[int, int, int],
    n_images: int,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[_Problem, _Problem]:
    """(M in ``dtype``, M in float64) on ``device`` for a validated A (``_check_any``): a stored
    matrix for a tensor A (M = M64 rounded), matrix-free for a LinearOperator."""
    if isinstance(A, Tensor):
        M64 = _effective(A.detach().to(device, torch.float64), basis, image_shape)
        return _Matrix(M64.to(dtype)), _Matrix(M64)
    rows = torch.arange(n_images, device=device) if A.n_matrices > 1 else None

    def at(dt: torch.dtype) -> _MatrixFree:
        return _MatrixFree(_moved(A, device, dt), _moved(basis, device, dt), rows, device, dt)

    P64 = at(torch.float64)
    return (P64 if dtype == torch.float64 else at(dtype)), P64


def _objective(P: _Problem, y: Tensor, c: Tensor, lam: float, w: Tensor | None = None) -> Tensor:
    """P(c) per image in float64 (P a float64 problem); weights w (n,): lam sum_j w_j |c_j|."""
    y, c = y.double(), c.double()
    l1 = c.abs() if w is None else c.abs() * w.to(c)
    return 0.5 * (y - P.matvec(c)).pow(2).sum(1) + lam * l1.sum(1)


def _float64_problem(
    A: object, y: object, basis: Basis, c: object, lam: object, weights: object = None
) -> tuple[_Problem, Tensor, Tensor, float, Tensor | None]:
    """Validated (M in float64 on A's device, y (B, m), c (B, n), lam, weights (n,) or None) of
    the functions that evaluate a Lasso problem at given coefficients."""
    image_shape, y = _check_any(A, y, basis, None)
    check_tensor(c, "c", shape=(y.shape[0], *_coefficient_shape(basis, image_shape)))
    lam = _check_lam(lam)
    w = _check_weights(weights, _coefficient_shape(basis, image_shape))
    P64 = _problems(A, basis, image_shape, len(y), A.device, torch.float64)[1]
    w = None if w is None else w.to(A.device)
    return P64, y.to(A.device), c.flatten(1).to(A.device), lam, w


def lasso_objective(
    A: Tensor | LinearOperator,
    y: Tensor,
    basis: Basis,
    c: Tensor,
    lam: float,
    *,
    weights: Tensor | None = None,
) -> Tensor:
    """Per-image P(c) = 1/2 ||y - A Psi^T c||^2 + lam ||c||_1 in float64 -> (B,).

    A: the matrix (m, n) | (B, m, n) with y (B, m), or a LinearOperator (matrix-free) with
    y (B, *out_shape) or (B, m) (entries of y a masked operator does not measure are ignored);
    c (B, C, H, W). ``weights`` (C, H, W) >= 0, or any shape that broadcasts to it: the weighted
    norm sum_j w_j |c_j| instead of ||c||_1 (:func:`lasso_fista`). Raises ValueError/TypeError
    on bad shapes, non-finite tensors, negative weights or a lam that is not a finite number
    >= 0.
    """
    P64, y, c, lam, w = _float64_problem(A, y, basis, c, lam, weights)
    return _objective(P64, y, c, lam, w)


def lasso_duality_gap(
    A: Tensor | LinearOperator,
    y: Tensor,
    basis: Basis,
    c: Tensor,
    lam: float,
    *,
    weights: Tensor | None = None,
) -> Tensor:
    """Per-image duality gap P(c) - D(theta) in float64 -> (B,), an upper bound on P(c) - min P.

    theta = r min(1, lam / ||M^T r||_inf), r = y - M c, M = A Psi^T; for lam = 0, theta = 0 and
    the bound is P(c) itself. With ``weights`` (the weighted problem of :func:`lasso_fista`)
    theta is r projected onto the orthogonal complement of the unpenalised columns
    {M_j : w_j = 0}, scaled so that |M_j^T theta| <= lam w_j (``_Weighted``). A (matrix or
    LinearOperator), shapes and errors as :func:`lasso_objective`.
    """
    P64, y, c, lam, w = _float64_problem(A, y, basis, c, lam, weights)
    if w is None or lam == 0 or not bool((w > 0).any()):  # lam = 0 or all w = 0: least squares
        return _gap(P64, y.double(), c.double(), 0.0 if w is not None else lam)[0]
    W64 = _weighted_problems(P64, P64, w)[1]
    return _weighted_gap(W64, y.double(), c.double(), lam)[0]


def _effective(A: Tensor, basis: Dictionary, image_shape: tuple[int, int, int]) -> Tensor:
    """effective_matrix without the checks (A already validated): rows S^T a_i, (..., m, N)."""
    return basis.adjoint(A.reshape(-1, *image_shape)).reshape(*A.shape[:-1], -1)


def _warn_unconverged(
    solver: str, converged: Tensor, gap: Tensor, objective: Tensor, tol: float, max_iter: int
) -> None:
    """The ConvergenceWarning of a Lasso solver for the images whose stopping rule never held."""
    bad = ~converged
    if not bool(bad.any()):
        return
    rel = (gap[bad] / objective[bad].clamp_min(torch.finfo(torch.float64).tiny)).max()
    warnings.warn(
        f"{solver}: {int(bad.sum())} of {len(converged)} images stopped on max_iter={max_iter} "
        f"before the duality gap fell to tol={tol:g} of the objective (largest gap / objective "
        f"reached: {float(rel):.2e}); their objective may be that far above the minimum. Use a "
        "larger ℓ1 weight (a small one converges slowly: Lasso's lam, CLI --lam / "
        "--lasso-lambdas; csgm-sparse's l1, --sparse-l1 / --sparse-l1-grid), or, calling "
        f"{solver} directly, raise max_iter or loosen tol (a larger value)",
        ConvergenceWarning,
        stacklevel=user_stacklevel(),
    )


def _result(
    P64: _Problem,
    y: Tensor,
    c: Tensor,
    lam: float,
    basis: Basis,
    image_shape: tuple[int, int, int],
    iterations: Tensor,
    converged: Tensor,
    theta: Tensor | None = None,
    weighted: _Weighted | None = None,
) -> SparseResult:
    coef = c.reshape(-1, *_coefficient_shape(basis, image_shape))
    coef = coef.to(dtype=torch.float32, device=y.device)
    # objective and gap at the float32 coefficients that are returned, in float64, with the
    # solver's best dual point theta (B, m) when it has one
    th = None if theta is None or lam == 0 else theta.to(y.device, torch.float64)
    if weighted is None:
        gap, objective, _ = _gap(P64, y.double(), coef.flatten(1).double(), lam, th)
    else:  # the weighted problem (float64, on P64's device)
        gap, objective, _ = _weighted_gap(weighted, y.double(), coef.flatten(1).double(), lam, th)
    return SparseResult(
        x_hat=basis.synthesis(coef),
        coefficients=coef,
        objective=objective.cpu(),
        iterations=iterations.long().cpu(),
        duality_gap=gap.cpu(),
        converged=converged.bool().cpu(),
    )


def _numpy_problem(A: Tensor, basis: Basis, image_shape) -> tuple[np.ndarray, Tensor]:
    """A Psi^T in float64 on the CPU, as numpy (for scikit-learn) and as a tensor."""
    M = _effective(A.detach().double().cpu(), basis, image_shape)
    return M.numpy(), M


def lasso_sklearn(
    A: Tensor,
    y: Tensor,
    basis: Basis,
    image_shape: Sequence[int] | None = None,
    lam: float = 0.1,
    *,
    tol: float = LASSO_TOL,
    max_iter: int = 100_000,
    noise_std: float | None = None,
) -> SparseResult:
    """Reference Lasso with scikit-learn (coordinate descent, float64, CPU): min_c P(c) as in the
    module docstring. A (m, n) | (B, m, n), y (B, m) -> :class:`SparseResult` on y's device.

    ``alpha = lam / m``, ``fit_intercept=False``. Stopping rule: the same relative duality gap as
    :func:`lasso_fista`, gap <= tol P(c). scikit-learn's own rule is gap <= tol_sk ||y||^2, so it
    is first run with tol_sk = tol / 2 (enough when c* = 0, where P = ||y||^2 / 2), then each
    image whose gap (computed here, float64) is still above tol P(c) is refit, warm-started, with
    tol_sk = tol P(c) / (2 ||y||^2), at most SKLEARN_ROUNDS times in all. A shared A is ONE
    multi-target fit for the first round, a per-image A one fit per image. ``max_iter`` bounds
    the coordinate-descent epochs of each image over all rounds; ``iterations`` is their sum.
    lam = 0: ``converged`` uses FISTA's gradient rule ||M^T r||_2 <= tol ||M^T y||_2.

    y must be measurements of images in [-1, 1] (as every solver's): |y_j| at most twice
    ||A_j||_1 plus 6 ``noise_std`` (σ of the noise in y, default 0), else a ValueError (images
    in [0, 255]?).

    Raises ValueError/TypeError on bad shapes, an empty batch, non-finite tensors, y beyond the
    image scale, lam not finite >= 0, tol not in (0, 1), max_iter < 1, noise_std not finite >= 0.
    Warns :class:`~ganinverse.exceptions.ConvergenceWarning` (instead of
    scikit-learn's, which is silenced here) when an image ends with gap > tol P(c);
    ``converged`` is False for it.
    """
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
    from sklearn.linear_model import Lasso

    _dense_only(A, "lasso_sklearn")
    image_shape = _check_problem(A, y, basis, image_shape)
    _check_matrix_scale(A, y, noise_std)
    lam = _check_lam(lam)
    tol = _check_tol(tol)
    check_count(max_iter, "max_iter", "steps")
    m = A.shape[-2]
    X, M = _numpy_problem(A, basis, image_shape)
    P = _Matrix(M)
    y64 = y.detach().double().cpu()
    Y = y64.numpy()
    B = len(Y)
    yy = np.maximum((Y**2).sum(1), np.finfo(np.float64).tiny)
    coef = np.zeros((B, X.shape[-1]))
    iters = np.zeros(B, dtype=np.int64)

    theta = torch.zeros_like(y64)  # best dual point over the rounds (theta = 0: D = 0)

    def rule_holds(rows: np.ndarray) -> Tensor:
        """FISTA's rule: gap <= tol P(c); for lam = 0, ||M^T r||_2 <= tol ||M^T y||_2. The gap
        uses the better of the rescaled residual and the best dual point of earlier rounds."""
        Pi, yi = P.select(torch.from_numpy(rows)), y64[rows]
        ci = torch.from_numpy(coef[rows])
        gap, objective, grad_norm = _gap(Pi, yi, ci, lam, theta[rows])
        if lam == 0:
            return grad_norm <= tol * Pi.rmatvec(yi).norm(dim=1)
        gap_r = _gap(Pi, yi, ci, lam)[0]
        newer = torch.from_numpy(rows)[gap_r <= gap]  # the residual's point is the best one
        if len(newer):
            sel = torch.isin(torch.from_numpy(rows), newer)
            theta[newer] = _feasible(Pi.select(sel), (yi - Pi.matvec(ci))[sel], lam)[0]
        return gap <= tol * objective

    def fit(i: int, tol_sk: float, budget: int) -> None:
        model = Lasso(
            alpha=lam / m, fit_intercept=False, tol=tol_sk, max_iter=budget, warm_start=True
        )
        model.coef_ = coef[i].copy()
        model.fit(X if X.ndim == 2 else X[i], Y[i])
        coef[i], iters[i] = model.coef_, iters[i] + int(model.n_iter_)

    with warnings.catch_warnings():  # non-convergence is judged (and warned about) below
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        if X.ndim == 2:
            model = Lasso(alpha=lam / m, fit_intercept=False, tol=tol / 2, max_iter=max_iter)
            model.fit(X, Y.T)
            coef[:] = model.coef_.reshape(B, -1)
            iters[:] = np.broadcast_to(np.asarray(model.n_iter_), (B,))
        else:
            for i in range(B):
                fit(i, tol / 2, max_iter)
        for _ in range(SKLEARN_ROUNDS - 1):
            rows = np.arange(B)
            todo = rows[~rule_holds(rows).numpy() & (iters < max_iter)]
            if len(todo) == 0:
                break
            objective = _objective(P, y64, torch.from_numpy(coef), lam).numpy()
            for i in todo:
                p = objective[i]
                fit(int(i), tol * p / (2 * yy[i]), int(max_iter - iters[i]))
    converged = rule_holds(np.arange(B))
    c = torch.from_numpy(np.ascontiguousarray(coef))
    res = _result(P, y64, c, lam, basis, image_shape, torch.from_numpy(iters), converged, theta)
    _warn_unconverged("lasso_sklearn", res.converged, res.duality_gap, res.objective, tol, max_iter)
    res.x_hat, res.coefficients = res.x_hat.to(y.device), res.coefficients.to(y.device)
    return res


def omp(
    A: Tensor,
    y: Tensor,
    basis: Basis,
    image_shape: Sequence[int] | None = None,
    n_nonzero: int = 10,
    *,
    noise_std: float | None = None,
) -> SparseResult:
    """Orthogonal matching pursuit (scikit-learn): at most ``n_nonzero`` coefficients per image.
    A (m, n) | (B, m, n), y (B, m) -> :class:`SparseResult` on y's device.

    The reported objective is 1/2 ||y - A Psi^T c||^2 (lam = 0). OMP solves no convex problem and
    always ends after n_nonzero steps: ``converged`` is True, ``iterations`` = n_nonzero and
    ``duality_gap`` is the trivial bound of least squares, P(c) - D(0) = P(c).
    Raises ValueError/TypeError on bad shapes, an empty batch, non-finite tensors, n_nonzero not
    in [1, min(m, n)], and y beyond the image scale as :func:`lasso_sklearn` (``noise_std``).
    """
    from sklearn.linear_model import OrthogonalMatchingPursuit

    _dense_only(A, "omp")
    image_shape = _check_problem(A, y, basis, image_shape)
    _check_matrix_scale(A, y, noise_std)
    check_int(n_nonzero, "n_nonzero", low=1, high=min(A.shape[-2], A.shape[-1]))
    model = OrthogonalMatchingPursuit(n_nonzero_coefs=n_nonzero, fit_intercept=False)
    X, M = _numpy_problem(A, basis, image_shape)
    Y = y.detach().double().cpu().numpy()
    if A.ndim == 2:
        coef = model.fit(X, Y.T).coef_.reshape(len(Y), -1)
    else:
        coef = np.stack([model.fit(X[i], Y[i]).coef_ for i in range(len(Y))])
    c = torch.from_numpy(np.ascontiguousarray(coef))
    n = len(Y)
    res = _result(
        _Matrix(M),
        y.detach().double().cpu(),
        c,
        0.0,
        basis,
        image_shape,
        torch.full((n,), n_nonzero),
        torch.ones(n, dtype=torch.bool),
    )
    res.x_hat, res.coefficients = res.x_hat.to(y.device), res.coefficients.to(y.device)
    return res


def lipschitz_constant(M: Tensor | LinearOperator, n_iter: int = 100, seed: int = 0) -> Tensor:
    """||M||_2^2 by power iteration on M^T M, times LIPSCHITZ_MARGIN -> (1,) shared or (B,).

    M is a finite matrix (m, n) or (B, m, n) (FISTA's M = A Psi^T), or a LinearOperator A:
    then ||A||_2^2 LIPSCHITZ_MARGIN from ``A.norm(n_iter, seed)`` (float32, CPU; (K,) for an
    operator with K per-image matrices), which is L for A Psi^T with any orthonormal Psi. The
    Rayleigh quotient approaches the top eigenvalue from below; the small margin keeps the FISTA
    step 1/L safe. Raises on a bad M, n_iter < 1 or a seed that is not an int >= 0.
    """
    if isinstance(M, LinearOperator):
        return M.norm(n_iter, seed).pow(2) * LIPSCHITZ_MARGIN
    check_tensor(M, "M", ndim=(2, 3))
    check_count(n_iter, "n_iter", "steps")
    check_int(seed, "seed", low=0)
    return _lipschitz(_Matrix(M), n_iter, seed)


def _lipschitz(P: _Problem, n_iter: int = 100, seed: int = 0) -> Tensor:
    g = rng(seed)
    v = torch.randn(P.batch, P.n, generator=g, dtype=torch.float64).to(P.device, P.dtype)
    return _power_iteration(P.matvec, P.rmatvec, v, n_iter) * LIPSCHITZ_MARGIN


def _soft(u: Tensor, thr: Tensor) -> Tensor:
    """Soft thresholding sign(u) max(|u| - thr, 0), the prox of thr ||.||_1."""
    return u.sign() * (u.abs() - thr).clamp_min(0)


def _feasible(P: _Problem, theta: Tensor, lam: float) -> tuple[Tensor, Tensor]:
    """(s theta, s M^T theta) with s = min(1, lam / ||M^T theta||_inf): the dual-feasible point
    on theta's ray (||M^T (s theta)||_inf <= lam) and its correlations; s in float64."""
    g = P.rmatvec(theta)
    g_inf = g.double().abs().amax(1)
    s = (lam / g_inf.clamp_min(torch.finfo(torch.float64).tiny)).clamp(max=1.0)
    s = s.to(theta.dtype)[:, None]
    return s * theta, s * g


def _gap_at(
    r: Tensor, c: Tensor, theta: Tensor, g: Tensor, lam: float, w: Tensor | None = None
) -> Tensor:
    """P(c) - D(theta) for a dual-feasible theta with g = M^T theta, r = y - M c, in the form

        1/2 ||r - theta||^2 + (lam ||c||_1 - <c, g>)

    (both terms >= 0), which is 1/2 ||r||^2 + lam ||c||_1 - (1/2 ||y||^2 - 1/2 ||y - theta||^2)
    with y = r + M c substituted: no cancellation against ||y||^2 (P can be far below it).
    With weights ``w`` (1, n) the norm is sum_j w_j |c_j| (feasible: |g_j| <= lam w_j).
    Reductions in float64."""
    d = (r - theta).double().pow(2).sum(1)
    l1 = c.double().abs() if w is None else c.double().abs() * w.double()
    return 0.5 * d + lam * l1.sum(1) - (c.double() * g.double()).sum(1)


def _weighted_gap(
    W: _Weighted, y: Tensor, c: Tensor, lam: float, theta: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """``_gap`` of the weighted problem (``_Weighted``, lam > 0) at full coefficients c (b, n):
    (gap, P(c) = 1/2 ||y - M c||^2 + lam sum_j w_j |c_j|, ||M^T r||_2) per image, float64
    reductions. Dual points: Q_perp r and, when given, ``theta``, each projected onto the
    complement of the unpenalised columns (M_U^T theta = 0, to rounding) and scaled by
    s = min(1, lam / max_j |M_j^T theta| / w_j) so that |M_j^T theta| <= lam w_j."""
    P = W.base
    r = y - P.matvec(c)
    objective = 0.5 * r.double().pow(2).sum(1) + lam * (c.double().abs() * W.w.double()).sum(1)

    def feasible(theta: Tensor) -> tuple[Tensor, Tensor]:
        theta = W.project(theta)
        g = P.rmatvec(theta)
        top = (g * W.w_inv).double().abs().amax(1)
        s = (lam / top.clamp_min(torch.finfo(torch.float64).tiny)).clamp(max=1.0)
        s = s.to(theta.dtype)[:, None]
        return s * theta, s * g

    gap = _gap_at(r, c, *feasible(r), lam, W.w)
    if theta is not None:
        gap = torch.minimum(gap, _gap_at(r, c, *feasible(theta.to(r.dtype)), lam, W.w))
    return gap.clamp_min(0), objective, P.rmatvec(r).double().norm(dim=1)


def _gap(
    P: _Problem, y: Tensor, c: Tensor, lam: float, theta: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(gap, P(c), ||M^T r||_2) per image, reductions in float64; vectors in c's dtype.

    The dual point is the better of theta_r = r min(1, lam/||M^T r||_inf), r = y - M c, and, when
    given, ``theta`` (any (b, m) vector, made feasible the same way): gap = P(c) - max D. lam = 0:
    theta = 0 and gap = P(c) (see ``_gap_at``)."""
    r = y - P.matvec(c)
    g = P.rmatvec(r)
    objective = 0.5 * r.double().pow(2).sum(1) + lam * c.double().abs().sum(1)
    if lam == 0:
        return objective.clone(), objective, g.double().norm(dim=1)
    s = (lam / g.double().abs().amax(1).clamp_min(torch.finfo(torch.float64).tiny)).clamp(max=1.0)
    s = s.to(r.dtype)[:, None]
    gap = _gap_at(r, c, s * r, s * g, lam)
    if theta is not None:
        gap = torch.minimum(gap, _gap_at(r, c, *_feasible(P, theta.to(r.dtype), lam), lam))
    return gap.clamp_min(0), objective, g.double().norm(dim=1)


def _extrapolate(history: Tensor) -> tuple[Tensor, Tensor]:
    """Dual extrapolation (Massias, Gramfort, Salmon, ICML 2018, Celer) of the residuals
    history (K + 1, b, m), oldest first -> (r_acc (b, m), ok (b,) bool).

    U = [r_1 - r_0, ..., r_K - r_{K-1}] (b, m, K); solve (U^T U) z = 1 (float64), c = z / sum z,
    r_acc = sum_i c_i r_i (i = 1..K). ok is False where U^T U is singular or the result is not
    finite; r_acc is then the last residual. Any r_acc is only a candidate: it is made feasible
    and kept only if its dual value is better, so a poor extrapolation costs nothing but time."""
    R = history.double()
    U = (R[1:] - R[:-1]).permute(1, 2, 0)  # (b, m, K)
    UtU = U.transpose(1, 2) @ U
    ones = torch.ones(UtU.shape[:2], dtype=UtU.dtype, device=UtU.device)
    z, info = torch.linalg.solve_ex(UtU, ones)
    total = z.sum(1, keepdim=True)
    coef = z / total
    r_acc = torch.einsum("kbm,bk->bm", R[1:], coef)
    ok = (info == 0) & torch.isfinite(r_acc).all(1) & (total[:, 0].abs() > 0)
    r_acc = torch.where(ok[:, None], r_acc, R[-1])
    return r_acc.to(history.dtype), ok


def _fista(
    P: _Problem,
    P64: _Problem,
    y: Tensor,
    y64: Tensor,
    lam: float,
    L: Tensor,
    max_iter: int,
    tol: float,
    c0: Tensor | None = None,
    theta0: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Batched FISTA with gradient-based adaptive restart -> (c (B, n), iterations (B,), converged
    (B,) bool, theta (B, m): the best dual point found per image, in y's dtype).

    Each image stops on its own when its duality gap at c_k is at most tol P(c_k) (lam > 0) or
    ||M^T r_k||_2 <= tol ||M^T y||_2 (lam = 0), tested at k = 0 and every GAP_CHECK_EVERY
    iterations. The gap uses the best of three dual-feasible points (any one gives a valid lower
    bound D(theta) <= P*): the rescaled residual r_k, the Celer extrapolation of the last
    EXTRAPOLATION_K + 1 tested residuals (``_extrapolate``), and the best point of the earlier
    tests; at small lam the rescaled residual alone stays far from the dual optimum long after
    P(c_k) is (its gap then overstates P(c_k) - P* by orders of magnitude). A test costs three
    matrix-vector products in the working dtype; a pass is confirmed in float64 (P64, y64: the
    problem in float64, P = P64 rounded to the working dtype) before an image leaves the
    working set. P applies M = A Psi^T, stored or matrix-free (``_Matrix``, ``_MatrixFree``)."""
    B, n = y.shape[0], P.n
    P64_full, y64_full, L_full = P64, y64, L
    c_out = torch.zeros(B, n, dtype=y.dtype, device=y.device)
    if c0 is not None:
        c_out = c0.to(y.dtype).clone()
    theta_out = torch.zeros_like(y)
    iters = torch.full((B,), max_iter, dtype=torch.long)
    converged = torch.zeros(B, dtype=torch.bool)
    idx = torch.arange(B, device=y.device)
    c, z = c_out.clone(), c_out.clone()
    t = torch.ones(B, 1, dtype=y.dtype, device=y.device)
    step = (1.0 / L).reshape(-1, 1)
    grad0 = P.rmatvec(y).double().norm(dim=1)  # ||M^T y||: the gradient at c = 0
    # best dual point so far and its correlations M^T theta (theta = 0: D = 0, a valid start)
    theta, g_theta = torch.zeros_like(y), torch.zeros_like(c)
    if theta0 is not None and lam > 0:
        theta, g_theta = _feasible(P, theta0.to(y.dtype), lam)
    history: list[Tensor] = []  # residuals of the last tests, oldest first
    watch = P.dtype != torch.float64 and lam > 0  # float32: detect the floor (STALL_TESTS)
    stalled = torch.zeros(B, dtype=torch.bool)
    rel_gaps: list[Tensor] = []  # best gap / P(c) of the last STALL_TESTS + 1 tests
    # the rule is confirmed in float64 before an image leaves: in float32, r = y - M c loses
    # digits when P(c) << ||y||^2 (small lam), enough to pass a gap a little above tol P

    def test(c: Tensor) -> Tensor:
        nonlocal theta, g_theta
        r = y - P.matvec(c)
        g = P.rmatvec(r)
        objective = 0.5 * r.double().pow(2).sum(1) + lam * c.double().abs().sum(1)
        if lam == 0:
            done = g.double().norm(dim=1) <= tol * grad0
        else:
            history.append(r)
            if len(history) > EXTRAPOLATION_K + 1:
                history.pop(0)
            s = (lam / g.double().abs().amax(1).clamp_min(torch.finfo(torch.float64).tiny)).clamp(
                max=1.0
            )
            s = s.to(r.dtype)[:, None]
            cands = [(theta, g_theta), (s * r, s * g)]
            if len(history) == EXTRAPOLATION_K + 1:
                cands.append(_feasible(P, _extrapolate(torch.stack(history))[0], lam))
            gaps = torch.stack([_gap_at(r, c, th, gt, lam) for th, gt in cands])
            best = gaps.argmin(0)
            for i, (th, gt) in enumerate(cands[1:], 1):
                pick = (best == i)[:, None]
                theta, g_theta = torch.where(pick, th, theta), torch.where(pick, gt, g_theta)
            done = gaps.amin(0) <= tol * objective
            if watch:
                rel_gaps.append(gaps.amin(0) / objective.clamp_min(torch.finfo(torch.float64).tiny))
                if len(rel_gaps) > STALL_TESTS + 1:
                    rel_gaps.pop(0)
        if P.dtype != torch.float64 and bool(done.any()):
            rows = done.nonzero()[:, 0]
            sub = P64.select(rows)
            th = None if lam == 0 else theta[rows].double()
            gap, objective, grad_norm = _gap(sub, y64[rows], c[rows].double(), lam, th)
            done[rows] = gap <= tol * objective if lam > 0 else grad_norm <= tol * grad0[rows]
        return done

    for k in range(max_iter + 1):
        if k > 0:
            grad = P.rmatvec(P.matvec(z) - y)
            c_new = _soft(z - step * grad, lam * step)
            diff = c_new - c
            restart = ((z - c_new) * diff).sum(1, keepdim=True) > 0  # momentum points uphill
            t_new = torch.where(restart, torch.ones_like(t), (1 + torch.sqrt(1 + 4 * t * t)) / 2)
            beta = torch.where(restart, torch.zeros_like(t), (t - 1) / t_new)
            z, c, t = c_new + beta * diff, c_new, t_new
        if k % GAP_CHECK_EVERY and k != max_iter:
            continue
        done = test(c)
        stall = torch.zeros_like(done)
        if watch and len(rel_gaps) == STALL_TESTS + 1 and k != max_iter:
            best_then = torch.stack(rel_gaps[:-STALL_TESTS]).amin(0)
            stall = ~done & (
                torch.stack(rel_gaps[-STALL_TESTS:]).amin(0) > STALL_FACTOR * best_then
            )
        if bool(done.any()) or bool(stall.any()):
            out = done | stall
            c_out[idx[out]] = c[out]
            theta_out[idx[out]] = theta[out]
            iters[idx[out].cpu()] = k
            converged[idx[done].cpu()] = True
            stalled[idx[stall].cpu()] = True
            keep = ~out
            idx, c, z, t, grad0 = idx[keep], c[keep], z[keep], t[keep], grad0[keep]
            y, y64, theta, g_theta = y[keep], y64[keep], theta[keep], g_theta[keep]
            history = [r[keep] for r in history]
            rel_gaps = [v[keep] for v in rel_gaps]
            if P.per_image:  # per-image matrices and steps shrink with the working set
                P, P64, step = P.select(keep), P64.select(keep), step[keep]
            if idx.numel() == 0:
                break
    c_out[idx] = c
    theta_out[idx] = theta
    if bool(stalled.any()):
        # float64 from the stalled iterate and dual point; the budget left to the image that
        # stalled last, so that no image exceeds max_iter in all
        rows = stalled.nonzero()[:, 0]
        dev_rows = rows.to(c_out.device)
        sub = P64_full.select(dev_rows)
        L64 = (L_full if L_full.numel() == 1 else L_full[dev_rows]).double()
        y_sub = y64_full[dev_rows]
        left = max_iter - int(iters[rows].max())
        c2, it2, conv2, th2 = _fista(
            sub, sub, y_sub, y_sub, lam, L64, left, tol, c_out[dev_rows], theta_out[dev_rows]
        )
        c_out[dev_rows] = c2.to(c_out.dtype)
        theta_out[dev_rows] = th2.to(theta_out.dtype)
        iters[rows] += it2
        converged[rows] = conv2
    return c_out, iters, converged, theta_out


def lasso_fista(
    A: Tensor | LinearOperator,
    y: Tensor,
    basis: Basis,
    image_shape: Sequence[int] | None = None,
    lam: float = 0.1,
    *,
    max_iter: int = 20_000,
    tol: float = LASSO_TOL,
    device: str | torch.device = "auto",
    init: Tensor | None = None,
    weights: Tensor | None = None,
    noise_std: float | None = None,
) -> SparseResult:
    """Batched Lasso by FISTA: min_c P(c) = 1/2 ||y - A Psi^T c||^2 + lam ||c||_1 per image.

    ``init`` (B, C, H, W): starting coefficients, e.g. the solution at a larger lam (a warm-started
    lam path converges several times faster; the stopping rule and its guarantee are unchanged).

    ``weights`` (C, H, W) >= 0 (or a shape that broadcasts to it, shared by the images): the
    weighted Lasso min_c 1/2 ||y - A Psi^T c||^2 + lam sum_j w_j |c_j|, e.g. w = 0 on a wavelet
    basis's approximation band (``WaveletBasis.approximation_mask``) and 1 elsewhere. The
    unpenalised coefficients U = {j : w_j = 0} are eliminated exactly: FISTA iterates on
    c'_j = w_j c_j (j not in U) for min 1/2 ||Q_perp (y - M_P c_P)||^2 + lam ||c'||_1, Q_perp the
    projector onto the orthogonal complement of the columns M_U (an SVD of the |U| columns, built
    matrix-free from M applied to unit coefficients: cheap for the 1-49 coefficients per channel
    of a wavelet approximation band), and c_U = M_U^+ (y - M_P c_P) by least squares (minimum
    norm where M_U is rank-deficient). Its dual points are orthogonal to M_U and scaled so that
    |M_j^T theta| <= lam w_j, so the duality gap below certifies the weighted problem in the
    same way; an image whose M_U spans all its measurements has min P = 0 at c_P = 0 and
    stops at once. lam = 0 or all w = 0: least squares (the lam = 0 rule). weights=None is
    the plain Lasso, unchanged.

    A is the matrix (m, n) | (B, m, n) with y (B, m), or a
    :class:`~ganinverse.operators.LinearOperator` with y (B, *out_shape) or (B, m): then FISTA is
    matrix-free, M c = A(Psi^T c) and M^T r = Psi(A^T r) (no n x n matrix: subsampling,
    inpainting or super-resolution of 64x64x3 images cost O(n) per product, not 12288^2); an
    operator with one mask per image (K = B) acts on each image with its own rows, and entries of
    y that a masked operator does not measure are ignored (set to 0, as A x is there). The
    operator and basis are copied (not changed) when they must move to ``device`` or float64.
    -> :class:`SparseResult` (x_hat, coefficients on y's device; objective, duality_gap,
    iterations, converged on the CPU). Step 1/L, L = ||A Psi^T||_2^2 by power iteration (per
    image when A is per image), gradient-based adaptive restart; float32 on CPU or GPU, float64
    when tol < FLOAT32_MIN_TOL (float32 cannot certify smaller gaps).

    Stopping rule, per image: the duality gap (module docstring) gap(c_k) <= tol P(c_k), with the
    best of the rescaled residual, its dual extrapolation and earlier dual points (``_fista``),
    tested at k = 0 and every GAP_CHECK_EVERY iterations; an image whose float32 gap stalls
    (STALL_TESTS) continues in float64 within the same max_iter, so the returned objective is at most a relative
    tol / (1 - tol) above the minimum (default tol = 1e-4). lam = 0 (least squares): stop on the
    gradient, ||M^T r||_2 <= tol ||M^T y||_2 (``duality_gap`` is then the trivial bound P(c)). ``iterations`` records when each image stopped.

    y must be measurements of images in [-1, 1]: an operator's ``check_measurements``; for a
    matrix A the same bound, |y_j| at most twice ||A_j||_1 plus 6 ``noise_std`` (σ of the noise in
    y, default 0; matrix form only: an operator carries its own σ), else a ValueError (images in
    [0, 255]?).

    Raises ValueError/TypeError on bad shapes, an empty batch, non-finite A or y, y beyond the
    image scale, lam not finite >= 0, tol not in (0, 1), max_iter < 1, an unknown device, weights
    that are negative, not finite or do not broadcast to (C, H, W), noise_std not finite >= 0 or
    given with an operator. Warns
    :class:`~ganinverse.exceptions.ConvergenceWarning` when an image reaches max_iter with the
    rule unmet (``converged`` False; ``duality_gap`` says how far it is).
    """
    image_shape, y = _check_any(A, y, basis, image_shape, scale=True, noise_std=noise_std)
    lam = _check_lam(lam)
    check_count(max_iter, "max_iter", "steps")
    tol = _check_tol(tol)
    coef_shape = _coefficient_shape(basis, image_shape)
    if init is not None:
        check_tensor(init, "init", shape=(y.shape[0], *coef_shape))
    w = _check_weights(weights, coef_shape)
    if w is not None and (lam == 0 or not bool((w > 0).any())):
        lam, w = 0.0, None  # nothing penalised: least squares
    dev = resolve_device(device)
    dtype = torch.float32 if tol >= FLOAT32_MIN_TOL else torch.float64
    small = dev.type == "cpu" and y.shape[1] * math.prod(coef_shape) <= SMALL_PROBLEM
    with torch.no_grad(), cpu_threads(1 if small else None):
        # the problem in float64 (gaps and the reported objective) and rounded to dtype (iterations)
        P, P64 = _problems(A, basis, image_shape, len(y), dev, dtype)
        y64 = y.detach().to(dev, torch.float64)
        if w is None:
            yd = y64.to(dtype)
            c0 = None if init is None else init.detach().flatten(1).to(dev, dtype)
            c, iters, converged, theta = _fista(
                P, P64, yd, y64, lam, _lipschitz(P), max_iter, tol, c0=c0
            )
            res = _result(P64, y64, c, lam, basis, image_shape, iters, converged, theta)
        else:  # FISTA on the reduced problem (``_Weighted``), certified on the weighted one
            W, W64 = _weighted_problems(P, P64, w, _gauge(basis, coef_shape))
            y_red = W64.project(y64)
            c0 = None
            if init is not None:
                c0 = (init.detach().flatten(1).to(dev, torch.float64) * W64.w).to(dtype)
            L = _lipschitz(W)
            L = torch.where(L > 0, L, torch.ones_like(L))  # M' = 0: min P = 0, reached at c' = 0
            c_red, iters, converged, theta = _fista(
                W, W64, y_red.to(dtype), y_red, lam, L, max_iter, tol, c0=c0
            )
            c = W64.assemble(c_red.double(), y64)
            res = _result(P64, y64, c, lam, basis, image_shape, iters, converged, theta, W64)
    _warn_unconverged("lasso_fista", res.converged, res.duality_gap, res.objective, tol, max_iter)
    res.x_hat, res.coefficients = res.x_hat.to(y.device), res.coefficients.to(y.device)
    return res


SOLVERS = {"fista": lasso_fista, "sklearn": lasso_sklearn}


def _check_solver(solver: object) -> str:
    return check_choice(solver, "solver", sorted(SOLVERS))


def unit_scale_problem(
    A: Tensor | LinearOperator,
    y: Tensor,
    *,
    dense: bool | None = None,
    noise_std: float | None = None,
) -> tuple[Tensor | LinearOperator, Tensor]:
    """The Lasso problem of the [0, 1]-scale image: (A', y0) with y0 = (y + A 1) / 2.

    The library's images x lie in [-1, 1]; with x = 2 x0 - 1 its measurements y = A x + eta are
    exactly y0 = (y + A 1) / 2 = A x0 + eta / 2 of the [0, 1]-scale image x0 (CSGM's Lasso scale,
    where a digit's background is 0 and so sparse in the pixel basis); x_hat = 2 x0_hat - 1 maps
    a solution back. The one place this conversion is made (:func:`lasso`, the sweep).

    A: a LinearOperator with y (B, *out_shape), checked by ``A.check_measurements`` (float64 /
    float16 converted to float32, values that images in [-1, 1] cannot give refused); or the
    matrix (m, n) | (B, m, n) with y (B, m), refused in the same way beyond the image scale
    (|y_j| above twice ||A_j||_1 plus 6 ``noise_std``, σ of the noise in y: matrix form only,
    default 0). ``dense``: return the operator's matrix
    ``A.dense()`` as A' (A 1 = its row sums) or the operator itself (A 1 = ``A.A(ones)``,
    matrix-free); None (default): the matrix exactly when the operator stores one
    (``A.stores_matrix``: GaussianCS), so every other operator stays matrix-free. For a matrix
    A, A' is A. y0 has y's shape.

    Raises TypeError for an A that is neither, ValueError/TypeError for a y that does not fit A
    (shape, an empty batch, non-finite values, the wrong image scale), for noise_std not finite
    >= 0 or given with an operator, and ``A.dense()``'s ValueError for
    ``dense=True`` on an operator with per-image masks (use ``dense=False``).
    """
    if isinstance(A, LinearOperator):
        _matrix_noise(A, noise_std)
        y = A.check_measurements(y)
        if dense is None:
            dense = A.stores_matrix
        if not dense:
            ones = torch.ones(A.n_matrices, *A.in_shape, device=A.device)
            a1 = A.A(ones).flatten(1).to(y.device)
            if a1.shape[0] not in (1, len(y)):
                raise ValueError(
                    f"the {type(A).__name__} operator holds {a1.shape[0]} per-image matrices "
                    f"but y has {len(y)} images; pass the measurements of its {a1.shape[0]} images"
                )
            return A, ((y.flatten(1) + a1) / 2).view_as(y)
        A = A.dense()
    elif isinstance(A, Tensor):
        check_tensor(A, "A", ndim=(2, 3))
        check_not_empty(check_tensor(y, "y", ndim=2), "y", "measurement vector")
        if A.shape[-2] != y.shape[1] or (A.ndim == 3 and A.shape[0] != y.shape[0]):
            raise ValueError(
                f"y must be (B, m) for A of shape {tuple(A.shape)} ((m, n) or (B, m, n)), "
                f"got {tuple(y.shape)}"
            )
        _check_matrix_scale(A, y, noise_std)
    else:
        raise TypeError(
            "A must be a ganinverse.operators.LinearOperator or its matrix (a torch.Tensor "
            f"(m, n) or (B, m, n)), got {type(A).__name__}"
        )
    return A, ((y.flatten(1) + A.sum(-1)) / 2).view_as(y)


def lasso(
    A: Tensor | LinearOperator,
    y: Tensor,
    basis: Basis | str,
    lam: float,
    *,
    solver: str = "fista",
    init: Tensor | None = None,
    image_shape: Sequence[int] | None = None,
    dense: bool | None = None,
    **solver_kwargs,
) -> SparseResult:
    """Lasso reconstruction of images in [-1, 1] from their measurements y, solved on the [0, 1]
    image scale (the sweep's and CSGM's convention):

        x0_hat = Psi^T c_hat,  c_hat = argmin_c 1/2 ||y0 - A Psi^T c||^2 + lam ||c||_1,
        y0 = (y + A 1) / 2 (:func:`unit_scale_problem`),  x_hat = 2 x0_hat - 1.

    A: a LinearOperator with y (B, *out_shape), or its matrix (m, n) | (B, m, n) with y (B, m)
    (then ``image_shape`` (C, H, W), default inferred from A and the basis). ``basis``: a Basis or
    a name for :func:`~ganinverse.bases.make_basis` ('pixel', 'dct', 'wavelet'). ``solver``:
    'fista' (:func:`lasso_fista`: the operator's stored matrix if it has one (GaussianCS), else
    matrix-free) or 'sklearn' (:func:`lasso_sklearn`: always ``A.dense()``). ``init``
    (B, C, H, W): FISTA's starting coefficients (of the [0, 1]-scale image, e.g. the previous
    result's ``coefficients`` on a lam path). ``dense`` (FISTA with a LinearOperator A): False
    keeps a stored matrix matrix-free (e.g. for a redundant frame, whose A S would be larger than
    A); None (default) as :func:`unit_scale_problem`. ``solver_kwargs`` go to the solver (tol,
    max_iter, device, weights for FISTA: with ``weights`` w the penalty is
    lam sum_j w_j |c_j|, see :func:`lasso_fista`), except ``noise_std`` (a matrix A only: σ of
    the noise in y, for the image-scale check of :func:`unit_scale_problem`; the solver is told
    σ/2, the noise of y0).

    Returns the solver's :class:`SparseResult` with ``x_hat`` (B, C, H, W) float32 on y's device
    mapped back to [-1, 1]; ``coefficients``, ``objective`` and ``duality_gap`` are those of the
    [0, 1]-scale problem. Raises ValueError for an unknown solver or ``init`` with 'sklearn',
    TypeError for a basis that is neither a Basis nor a name, and the errors of
    :func:`unit_scale_problem` and of the solver; the solver's ConvergenceWarning passes on.
    """
    solve = SOLVERS[_check_solver(solver)]
    if init is not None and solver != "fista":
        raise ValueError(f"init warm-starts FISTA only; solver={solver!r} takes no init")
    if solver_kwargs.get("weights") is not None and solver != "fista":
        raise ValueError(f"weights (a weighted l1 norm) need solver='fista', got {solver!r}")
    if isinstance(A, LinearOperator) and image_shape is None:
        image_shape = A.in_shape
    if isinstance(basis, str):
        if image_shape is None:
            raise ValueError("a basis given by name needs image_shape (C, H, W) for a matrix A")
        basis = make_basis(basis, image_shape)
    noise_std = solver_kwargs.pop("noise_std", None)
    M, y0 = unit_scale_problem(
        A, y, dense=dense if solver == "fista" else True, noise_std=noise_std
    )
    extra = {} if init is None else {"init": init}
    if isinstance(M, Tensor):  # a matrix takes y as rows of measurements (image-shaped y too)
        y0 = y0.flatten(1)
        # y0 = (y + A 1) / 2 carries half the noise of y (an operator's own σ, else noise_std)
        sigma = A.noise.std if isinstance(A, LinearOperator) else _matrix_noise(A, noise_std)
        extra["noise_std"] = sigma / 2
    res = solve(M, y0, basis, image_shape, lam, **extra, **solver_kwargs)
    return replace(res, x_hat=2 * res.x_hat.float().to(y.device) - 1)


def lasso_path(
    A: Tensor | LinearOperator,
    y: Tensor,
    basis: Basis | str,
    lams: Sequence[float],
    *,
    solver: str = "fista",
    image_shape: Sequence[int] | None = None,
    **solver_kwargs,
) -> Iterator[tuple[int, SparseResult]]:
    """:func:`lasso` at every lam of ``lams``, yielding (index into lams, result) as each is
    solved. FISTA walks the path from the largest lam down (ties in the given order), each solve
    warm-started at the previous solution (several times faster; each is still certified by its
    own duality gap); scikit-learn solves them cold, in the given order. The one lam path of the
    library (``choose_lambda``, the sweep's weight search).

    Arguments as :func:`lasso`. Raises (at once, before any solve) ValueError for an unknown
    solver, an empty ``lams`` or an entry that is not a finite number >= 0 (named ``lams[i]``),
    TypeError for ``lams`` that is not a sequence; each solve raises as :func:`lasso`.
    """
    _check_solver(solver)
    if isinstance(lams, (str, bytes)) or not hasattr(lams, "__iter__"):
        raise TypeError(f"lams must be a sequence of numbers, got {type(lams).__name__}")
    lams = [check_weight(lam, f"lams[{i}]") for i, lam in enumerate(lams)]
    if not lams:
        raise ValueError("lams must hold at least one value of lam")
    warm = solver == "fista"
    order = sorted(range(len(lams)), key=lambda i: -lams[i]) if warm else range(len(lams))

    def walk() -> Iterator[tuple[int, SparseResult]]:
        previous = None
        for i in order:
            kwargs = {"solver": solver, "init": previous, "image_shape": image_shape}
            res = lasso(A, y, basis, lams[i], **kwargs, **solver_kwargs)
            previous = res.coefficients if warm else None
            yield i, res

    return walk()


#: Why a search of λ (``choose_lambda``, the methods' ``Tuned.positive``, the sweep) takes no 0.
LASSO_POSITIVE = "λ = 0 is least squares, not a Lasso (run it alone: lam=0 / --lam 0)"


def choose_lambda(
    A: Tensor | LinearOperator,
    y_val: Tensor,
    x_val: Tensor,
    basis: Basis | str,
    lams: Sequence[float],
    *,
    solver: str = "fista",
    **solver_kwargs,
) -> tuple[float, list[tuple[float, float]]]:
    """Pick lam on VALIDATION images: the one whose :func:`lasso` reconstructions of x_val from
    y_val (solved on the [0, 1] image scale along :func:`lasso_path`, as the sweep's
    ``methods.choose_weight``, so both pick the same lam for the same problem) have the lowest
    mean per-pixel MSE ([0, 1] scale). A reconstruction that is not finite scores NaN and never
    wins; ties go to the first lam in ``lams``. Never pass test images here.

    A: a LinearOperator with y_val (B, *out_shape), or its matrix (m, n) | (B, m, n) with
    y_val (B, m); x_val (B, C, H, W) in [-1, 1]; ``solver_kwargs`` go to the solver (e.g. tol,
    max_iter). Returns (best lam, [(lam, mean mse), ...] in the order of ``lams``).
    Raises ValueError/TypeError on an unknown solver, an empty ``lams`` or one that is not a
    finite number > 0 (λ = 0 is least squares: ``LASSO_POSITIVE``), bad tensors (as
    :func:`lasso`), and, with a LinearOperator, y_val that
    is not x_val's measurements within the operator's noise
    (``operators.check_measured_from``); the solver's ConvergenceWarning passes on.
    """
    check_not_empty(check_tensor(x_val, "x_val", ndim=4), "x_val", "image")
    check_tensor(y_val, "y_val")
    for i, lam in enumerate(lams if isinstance(lams, (list, tuple)) else ()):
        if not isinstance(lam, bool) and isinstance(lam, (int, float)) and lam == 0:
            raise ValueError(f"lams[{i}] (0): a λ candidate must be > 0: {LASSO_POSITIVE}; drop 0")
    if x_val.shape[0] != y_val.shape[0]:
        raise ValueError(f"x_val has {x_val.shape[0]} images but y_val {y_val.shape[0]} rows")
    if isinstance(A, LinearOperator) and tuple(x_val.shape[1:]) != A.in_shape:
        raise ValueError(
            f"x_val must be (B, *in_shape) = (B, {', '.join(map(str, A.in_shape))}) for this "
            f"operator, got {tuple(x_val.shape)}"
        )
    if isinstance(A, LinearOperator):  # (a bare matrix says nothing of its noise: unchecked)
        check_measured_from(A, x_val, y_val, "x_val", "y_val")
    image_shape = None if isinstance(A, LinearOperator) else tuple(x_val.shape[1:])
    path = lasso_path(
        A, y_val, basis, lams, solver=solver, image_shape=image_shape, **solver_kwargs
    )
    table: list[tuple[float, float]] = [(float(lam), math.nan) for lam in lams]
    for i, res in path:
        x_hat = res.x_hat.to(x_val.device)
        if bool(torch.isfinite(x_hat).all()):
            table[i] = (table[i][0], float(mse(x_hat, x_val).mean()))
    best = min(range(len(table)), key=lambda i: (not math.isfinite(table[i][1]), table[i][1]))
    warn_grid_edge("choose_lambda", table, best)
    return table[best][0], table


__all__ = [
    "LIPSCHITZ_MARGIN",
    "LASSO_POSITIVE",
    "SparseResult",
    "choose_lambda",
    "effective_matrix",
    "LASSO_TOL",
    "lasso",
    "lasso_duality_gap",
    "lasso_fista",
    "lasso_objective",
    "lasso_path",
    "lasso_sklearn",
    "lipschitz_constant",
    "omp",
    "unit_scale_problem",
]
