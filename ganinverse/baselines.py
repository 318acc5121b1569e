"""Sparse-recovery baselines: Lasso in a basis (scikit-learn reference and batched torch FISTA), OMP.

Problem (per image, on the [-1, 1] scale of the data and the measurements y = A x + noise):

    min_c  1/2 ||y - A Psi^T c||^2 + lam ||c||_1,        x_hat = Psi^T c

A is an (m, n) matrix shared by all images or one (m, n) matrix per image, stacked (B, m, n), with
n = C H W acting on images flattened row-major (``x.flatten(1) @ A.T``). Psi is a per-channel
orthonormal :class:`~ganinverse.bases.Basis`; coefficients keep the image layout (B, C, H, W).
x_hat is not clipped to [-1, 1].

scikit-learn's ``Lasso`` minimises 1/(2m) ||y - X w||^2 + alpha ||w||_1, i.e. our objective divided
by m when ``alpha = lam / m``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ganinverse._validation import check_int, check_positive, check_tensor
from ganinverse.bases import Basis
from ganinverse.device import cpu_threads, resolve_device
from ganinverse.metrics import mse

# Power iteration approaches ||A Psi^T||^2 from below; the margin keeps the step at or under 1/L
# (and gradient steps stay stable up to 2/L; the adaptive restart guards the momentum).
LIPSCHITZ_MARGIN = 1.02
#: On the CPU, FISTA on an m x n matrix with m*n at most this runs on one thread (see cpu_threads).
SMALL_PROBLEM = 1 << 20


@dataclass
class SparseResult:
    """x_hat (B, C, H, W); coefficients c (B, C, H, W) with x_hat = Psi^T c; objective (B,) float64
    = 1/2 ||y - A Psi^T c||^2 + lam ||c||_1; iterations (B,) int64 (solver iterations per image)."""

    x_hat: Tensor
    coefficients: Tensor
    objective: Tensor
    iterations: Tensor


def _check_problem(
    A: Tensor, y: Tensor, basis: Basis, image_shape: Sequence[int] | None
) -> tuple[int, int, int]:
    """Validate A (m, n) | (B, m, n), y (B, m) against the basis; return (C, H, W)."""
    if not isinstance(basis, Basis):
        raise TypeError(f"basis must be a ganinverse.bases.Basis, got {type(basis).__name__}")
    check_tensor(A, "A", ndim=(2, 3))
    check_tensor(y, "y", ndim=2)
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


def effective_matrix(A: Tensor, basis: Basis, image_shape: Sequence[int]) -> Tensor:
    """A Psi^T, same leading shape as A: row i is Psi a_i (the basis analysis of A's row i)."""
    rows = A.reshape(-1, *image_shape)
    return basis.analysis(rows).reshape(A.shape)


def _matvec(M: Tensor, v: Tensor) -> Tensor:
    """M v for a batch v (b, n): shared M (m, n) or per-image M (b, m, n) -> (b, m)."""
    return v @ M.T if M.ndim == 2 else torch.bmm(M, v[:, :, None])[:, :, 0]


def _rmatvec(M: Tensor, r: Tensor) -> Tensor:
    """M^T r for a batch r (b, m) -> (b, n)."""
    return r @ M if M.ndim == 2 else torch.bmm(r[:, None, :], M)[:, 0, :]


def _objective(M: Tensor, y: Tensor, c: Tensor, lam: float) -> Tensor:
    M, y, c = M.double(), y.double(), c.double()
    return 0.5 * (y - _matvec(M, c)).pow(2).sum(1) + lam * c.abs().sum(1)


def lasso_objective(A: Tensor, y: Tensor, basis: Basis, c: Tensor, lam: float) -> Tensor:
    """Per-image 1/2 ||y - A Psi^T c||^2 + lam ||c||_1 in float64 -> (B,); c is (B, C, H, W)."""
    image_shape = _check_problem(A, y, basis, None)
    check_tensor(c, "c", shape=(y.shape[0], *image_shape))
    lam = check_positive(lam, "lam", strict=False)
    return _objective(effective_matrix(A.double(), basis, image_shape), y, c.flatten(1), lam)


def _result(
    M: Tensor,
    y: Tensor,
    c: Tensor,
    lam: float,
    basis: Basis,
    image_shape: tuple[int, int, int],
    iterations: Tensor,
) -> SparseResult:
    coef = c.reshape(-1, *image_shape).to(dtype=torch.float32, device=y.device)
    return SparseResult(
        x_hat=basis.synthesis(coef),
        coefficients=coef,
        objective=_objective(M, y, c, lam).cpu(),
        iterations=iterations.long().cpu(),
    )


def _numpy_problem(A: Tensor, basis: Basis, image_shape) -> tuple[np.ndarray, Tensor]:
    """A Psi^T in float64 on the CPU, as numpy (for scikit-learn) and as a tensor."""
    M = effective_matrix(A.detach().double().cpu(), basis, image_shape)
    return M.numpy(), M


def lasso_sklearn(
    A: Tensor,
    y: Tensor,
    basis: Basis,
    image_shape: Sequence[int] | None = None,
    lam: float = 0.1,
    *,
    tol: float = 1e-6,
    max_iter: int = 100_000,
) -> SparseResult:
    """Reference Lasso with scikit-learn (coordinate descent, float64, CPU).

    ``alpha = lam / m``, ``fit_intercept=False``; a shared A is ONE multi-target fit for all images
    (y as (m, B)), a per-image A one fit per image. ``tol`` is scikit-learn's duality-gap tolerance.
    """
    from sklearn.linear_model import Lasso

    image_shape = _check_problem(A, y, basis, image_shape)
    lam = check_positive(lam, "lam", strict=False)
    m = A.shape[-2]
    model = Lasso(alpha=lam / m, fit_intercept=False, tol=tol, max_iter=max_iter)
    X, M = _numpy_problem(A, basis, image_shape)
    Y = y.detach().double().cpu().numpy()
    if A.ndim == 2:
        model.fit(X, Y.T)
        coef = model.coef_.reshape(len(Y), -1)
        iters = np.broadcast_to(np.asarray(model.n_iter_), (len(Y),))
    else:
        coef, iters = np.empty((len(Y), X.shape[-1])), np.empty(len(Y), dtype=np.int64)
        for i in range(len(Y)):
            model.fit(X[i], Y[i])
            coef[i], iters[i] = model.coef_, model.n_iter_
    c = torch.from_numpy(np.ascontiguousarray(coef))
    return _result(
        M, y.detach().double().cpu(), c, lam, basis, image_shape, torch.from_numpy(np.array(iters))
    )


def omp(
    A: Tensor,
    y: Tensor,
    basis: Basis,
    image_shape: Sequence[int] | None = None,
    n_nonzero: int = 10,
) -> SparseResult:
    """Orthogonal matching pursuit (scikit-learn): at most ``n_nonzero`` coefficients per image.

    The reported objective is 1/2 ||y - A Psi^T c||^2 (lam = 0).
    """
    from sklearn.linear_model import OrthogonalMatchingPursuit

    image_shape = _check_problem(A, y, basis, image_shape)
    check_int(n_nonzero, "n_nonzero", low=1, high=min(A.shape[-2], A.shape[-1]))
    model = OrthogonalMatchingPursuit(n_nonzero_coefs=n_nonzero, fit_intercept=False)
    X, M = _numpy_problem(A, basis, image_shape)
    Y = y.detach().double().cpu().numpy()
    if A.ndim == 2:
        coef = model.fit(X, Y.T).coef_.reshape(len(Y), -1)
    else:
        coef = np.stack([model.fit(X[i], Y[i]).coef_ for i in range(len(Y))])
    c = torch.from_numpy(np.ascontiguousarray(coef))
    return _result(
        M, y.detach().double().cpu(), c, 0.0, basis, image_shape, torch.full((len(Y),), n_nonzero)
    )


def lipschitz_constant(M: Tensor, n_iter: int = 100, seed: int = 0) -> Tensor:
    """||M||_2^2 by power iteration on M^T M, times LIPSCHITZ_MARGIN -> (1,) shared or (B,).

    M is (m, n) or (B, m, n). The Rayleigh quotient approaches the top eigenvalue from below; the
    small margin keeps the FISTA step 1/L safe.
    """
    g = torch.Generator(device="cpu").manual_seed(seed)
    b = 1 if M.ndim == 2 else M.shape[0]
    v = torch.randn(b, M.shape[-1], generator=g, dtype=torch.float64).to(M)
    for _ in range(n_iter):
        v = _rmatvec(M, _matvec(M, v))
        v = v / v.norm(dim=1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
    return _matvec(M, v).pow(2).sum(1) * LIPSCHITZ_MARGIN


def _soft(u: Tensor, thr: Tensor) -> Tensor:
    """Soft thresholding sign(u) max(|u| - thr, 0), the prox of thr ||.||_1."""
    return u.sign() * (u.abs() - thr).clamp_min(0)


def _fista(M: Tensor, y: Tensor, lam: float, L: Tensor, max_iter: int, tol: float):
    """Batched FISTA with gradient-based adaptive restart; each image stops on its own when
    ||c_k - c_{k-1}|| <= tol ||c_k||. Converged images leave the working set."""
    B, n = y.shape[0], M.shape[-1]
    c_out = torch.zeros(B, n, dtype=y.dtype, device=y.device)
    iters = torch.full((B,), max_iter, dtype=torch.long)
    idx = torch.arange(B, device=y.device)
    c, z = c_out.clone(), c_out.clone()
    t = torch.ones(B, 1, dtype=y.dtype, device=y.device)
    step = (1.0 / L).reshape(-1, 1)
    for k in range(1, max_iter + 1):
        grad = _rmatvec(M, _matvec(M, z) - y)
        c_new = _soft(z - step * grad, lam * step)
        diff = c_new - c
        restart = ((z - c_new) * diff).sum(1, keepdim=True) > 0  # momentum points uphill
        t_new = torch.where(restart, torch.ones_like(t), (1 + torch.sqrt(1 + 4 * t * t)) / 2)
        beta = torch.where(restart, torch.zeros_like(t), (t - 1) / t_new)
        z, c, t = c_new + beta * diff, c_new, t_new
        done = diff.norm(dim=1) <= tol * c.norm(dim=1)
        if bool(done.any()):
            c_out[idx[done]] = c[done]
            iters[idx[done].cpu()] = k
            keep = ~done
            idx, c, z, t, y = idx[keep], c[keep], z[keep], t[keep], y[keep]
            if M.ndim == 3:  # per-image matrices and steps shrink with the working set
                M, step = M[keep], step[keep]
            if idx.numel() == 0:
                break
    c_out[idx] = c
    return c_out, iters


def lasso_fista(
    A: Tensor,
    y: Tensor,
    basis: Basis,
    image_shape: Sequence[int] | None = None,
    lam: float = 0.1,
    *,
    max_iter: int = 5000,
    tol: float = 1e-5,
    device: str | torch.device = "auto",
) -> SparseResult:
    """Batched Lasso by FISTA (step 1/L, L = ||A Psi^T||_2^2 by power iteration, per image when A
    is per image), float32, on CPU or GPU.

    Each image stops when the relative change of its coefficients ||c_k - c_{k-1}|| / ||c_k||
    falls to ``tol`` (or after ``max_iter``); ``iterations`` records when. Results live on y's
    device; objective and iterations on the CPU.
    """
    image_shape = _check_problem(A, y, basis, image_shape)
    lam = check_positive(lam, "lam", strict=False)
    check_int(max_iter, "max_iter", low=1)
    check_positive(tol, "tol")
    dev = resolve_device(device)
    small = dev.type == "cpu" and A.shape[-2] * A.shape[-1] <= SMALL_PROBLEM
    with torch.no_grad(), cpu_threads(1 if small else None):
        M = effective_matrix(A.detach().to(dev, torch.float32), basis, image_shape)
        yd = y.detach().to(dev, torch.float32)
        c, iters = _fista(M, yd, lam, lipschitz_constant(M), max_iter, tol)
        res = _result(M, yd, c, lam, basis, image_shape, iters)
    res.x_hat, res.coefficients = res.x_hat.to(y.device), res.coefficients.to(y.device)
    return res


SOLVERS = {"fista": lasso_fista, "sklearn": lasso_sklearn}


def choose_lambda(
    A: Tensor,
    y_val: Tensor,
    x_val: Tensor,
    basis: Basis,
    lams: Sequence[float],
    *,
    solver: str = "fista",
    **solver_kwargs,
) -> tuple[float, list[tuple[float, float]]]:
    """Pick lam on VALIDATION images: the one whose Lasso reconstructions of x_val from y_val have
    the lowest mean per-pixel MSE ([0, 1] scale). Never pass test images here.

    Returns (best lam, [(lam, mean mse), ...] in the order of ``lams``).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}; got {solver!r}")
    if len(lams) == 0:
        raise ValueError("lams must hold at least one value")
    check_tensor(x_val, "x_val", ndim=4)
    if x_val.shape[0] != y_val.shape[0]:
        raise ValueError(f"x_val has {x_val.shape[0]} images but y_val {y_val.shape[0]} rows")
    table = []
    for lam in lams:
        res = SOLVERS[solver](A, y_val, basis, tuple(x_val.shape[1:]), lam, **solver_kwargs)
        table.append((float(lam), float(mse(res.x_hat.to(x_val.device), x_val).mean())))
    best = min(table, key=lambda row: row[1])[0]
    return best, table


__all__ = [
    "LIPSCHITZ_MARGIN",
    "SparseResult",
    "choose_lambda",
    "effective_matrix",
    "lasso_fista",
    "lasso_objective",
    "lasso_sklearn",
    "lipschitz_constant",
    "omp",
]
