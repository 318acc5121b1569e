"""Image-adaptive GAN reconstruction (IAGAN; Abu Hussein, Tirer, Giryes, "Image-Adaptive GAN
based Reconstruction", AAAI 2020).

A generator's range misses most real images (faces, digits it never saw), so CSGM's x̂ = G(ẑ)
stops at the closest image G can make. IAGAN makes the generator fit *this* image: starting from
CSGM's ẑ and G's weights θ₀, it fine-tunes the latent and a private copy of the weights jointly
on the image's own measurements,

    min_{z, θ}  (1/m_i) ||M ⊙ (y_i − A G_θ(z))||²  [+ λ_TV TV(G_θ(z))],    x̂_i = G_θ̂ᵢ(ẑ_i),

by Adam with small learning rates (one θ per image; G itself is never changed). The optional
total-variation term (``tv_weight`` = λ_TV, off by default; an addition of ours, not the paper's)
acts on what the measurements do not fix, the null space of A: TV(x) is the mean absolute
difference of neighbouring pixels, vertical plus horizontal, on the [-1, 1] scale. Early stopping
is the regulariser: θ can fit y almost exactly given enough steps (noise included), so the steps
are a weight tuned per m on validation images (``Tuned`` key ``iagan_steps``), and each image
also stops once its data misfit reaches the noise level the operator states (the discrepancy
principle, (1/m_i)||M ⊙ (y_i − A x)||² ≤ τ σ², ``operator.noise.std`` on the [-1, 1] scale;
never with σ = 0 or τ = 0). Both rules need no ground truth.

Optional back-projection (the paper's IA-BP, for low noise): x̂ ← x̂ + A†(y − A x̂) with
A† = Aᵀ(AAᵀ)⁻¹, the projection of x̂ onto {x : A x = y}; AAᵀ w = r is solved by conjugate
gradients per image with the operator's A and Aᵀ (matrix-free; one iteration for masks,
subsampling and pooling, whose AAᵀ is a multiple of the identity on the measured entries).

The per-image copies run together: θ is stacked per image and G evaluated by
``torch.func.functional_call`` under ``torch.func.vmap``, one forward/backward per step for the
whole batch. Adam acts elementwise, so every image's trajectory is its own: a result does not
depend on its batch (up to float rounding of the batched kernels). ms per image per Adam step on
a loaded 2-core CPU (``benchmarks/iagan_speed.py --steps 100``), vmap vs a plain per-image loop:
toy MLP 8x8 0.51 vs 1.65 (B = 8), 1.95 vs 2.14 (B = 2); DCGAN 28x28 ngf=4 1.02 vs 4.85 (B = 8);
ngf=16 2.02 vs 5.93; the bundled digits DCGAN (ngf=32) 3.02 vs 7.64 (B = 8), 5.15 vs 6.29
(B = 2). The vmap path is kept.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from .._validation import (
    check_bool,
    check_count,
    check_int,
    check_learning_rate,
    check_positive,
    check_weight,
)
from ..blending import blend_spec
from ..exceptions import (
    STALL_RTOL,
    ConvergenceWarning,
    IdleOptionWarning,
    user_stacklevel,
    warn_idle,
)
from ..latent import LatentConfig, LatentResult, frozen
from ..operators import Inpainting, LinearOperator, check_operator
from ..status import image_status
from .csgm import _prepare, csgm_start
from .gaussian import GaussianResult

#: Adam's learning rates for the weights θ and the latent z, and the step cap. Chosen on the
#: bundled digits DCGAN (8 train-split images, GaussianCS m = 50 and 200 of 784, σ = 0 and 0.1 on
#: [0, 1]; ``benchmarks/iagan_tuning.py``, results in benchmarks/results/iagan_tuning): one lr for
#: both, 1e-4, gave the lowest MSE at 3 of the 4 (m, σ) (noisy m = 200: 1e-5 for 100 steps
#: 0.00115, 1e-4 with the discrepancy stop 0.00120); 1e-3 overshoots (worse than CSGM at m = 50),
#: 1e-5 needs 3-10x the steps. Noiseless, the MSE plateaus by 100 steps (2.5x below CSGM's at
#: m = 50, 10x at m = 200). With noise a fixed step count overfits (m = 200: 30 steps 0.0017,
#: 100 steps 0.0036, CSGM 0.0029), while the discrepancy stop (τ = 1) gave 0.0012 untuned
#: (m = 50: 0.0023 vs CSGM 0.0034, the best fixed count 0.0019). A public reimplementation of
#: the paper uses 1e-4 for z, 1e-4 to 5e-4 for θ and 600 steps on 64-128 px faces.
LR_THETA = 1e-4
LR_Z = 1e-4
STEPS = 300
#: Step counts searched per m on validation images (``--iagan-steps-grid``).
STEPS_GRID = (30, 100, 300, 1000)
#: τ of the discrepancy principle: stop once the data misfit is at most τ σ² (0: never).
DISCREPANCY = 1.0
#: λ_TV of the optional total-variation term (0: none, the paper's objective). On 8 train-split
#: faces at m = 500 (σ = 0.01, ``benchmarks/iagan_null_space.py``) λ_TV = 0.3 raised the PSNR by
#: 0.5 dB and 0.5 lost 0.6 dB (the misfit then never reaches the noise level): a setting to
#: choose on validation images, not a default.
TV_WEIGHT = 0.0
#: Relative slack of the "no worse than the start" test: the start re-rendered through the stacked
#: copies (vmap) differs from CSGM's x̂ by float rounding (a relative 1e-7 on some CPUs), which
#: must not count as a failed fine-tuning.
ROUNDING_SLACK = 1e-4
#: Images fine-tuned at once (their θ copies, Adam's moments and gradients are held together).
CHUNK = 16


@dataclass
class AdaptiveResult:
    """IAGAN's result for B images.

    ``x_hat`` (B, C, H, W): G_θ̂ᵢ(ẑ_i) on [-1, 1], back-projected when asked (then it meets
    A x̂ = y and may leave [-1, 1] by the noise it fits); ``z`` (B, latent_dim) the fine-tuned
    latents. Data misfits (1/m_i)||M ⊙ (y_i − A x)||², each (B,): ``data_loss_start`` of CSGM's
    start, ``data_loss_adapted`` of G_θ̂ᵢ(ẑ_i), ``data_loss`` of x̂. ``steps_run`` (B,) the Adam
    steps each image ran; ``stopped`` (B,) True where the discrepancy principle stopped it before
    the cap. ``adapted`` (B,) False where the fine-tuning ended non-finite or above the start's
    misfit (beyond a relative ``ROUNDING_SLACK`` = 1e-4; a too-large learning rate): x̂ is then
    CSGM's start (a ``ConvergenceWarning`` says so). ``improved`` (B,) False where the
    fine-tuning ran (steps_run > 0) from a start that did not fit y exactly, ended above the
    discrepancy principle's noise level τσ² (reaching it is success) and lowered the
    misfit by less than ``STALL_RTOL`` = 1e-3 relative (a tiny learning rate: x̂ is in effect
    CSGM's; a ``ConvergenceWarning`` says so) or did not lower it (``adapted`` False).
    ``bp_converged`` (B,): the back-projection's CG met its tolerance (True without one).
    ``seconds``: CSGM's time plus the fine-tuning's. ``start``: CSGM's result.
    """

    x_hat: Tensor
    z: Tensor
    data_loss: Tensor
    data_loss_start: Tensor
    data_loss_adapted: Tensor
    steps_run: Tensor
    stopped: Tensor
    adapted: Tensor
    improved: Tensor
    bp_converged: Tensor
    seconds: float
    start: LatentResult = field(repr=False)
    #: with ``mirror=True`` (``methods.reconstruct_result``): the result with G's mirror image,
    #: whose x̂ is averaged into ``x_hat`` (its seconds added to ``seconds``, its statuses to
    #: ``status``); ``data_loss`` is the average's; every other field (z, the misfits, steps,
    #: flags, start) is the run with G's, so x̂ is then no longer G_θ̂(ẑ)
    mirrored: AdaptiveResult | None = field(default=None, repr=False)
    #: with ``gaussian_weight`` w > 0 (``methods.reconstruct_result``): the Gaussian prior's
    #: result (``solvers.gaussian``), x̂ = (1 − w)·x̂ + w·its x̂, seconds added; as above,
    #: the other fields are the fine-tuning's
    gaussian: GaussianResult | None = field(default=None, repr=False)

    @property
    def config(self) -> LatentConfig:
        """The engine setting of the CSGM start."""
        return self.start.config

    @property
    def status(self) -> list[str]:
        """Per image: CSGM's start's, "not_adapted" (the fine-tuning raised the misfit),
        "not_improved" (it barely moved it) and/or "bp_not_converged" (``ganinverse.status``)."""
        flags = {
            "not_adapted": self.adapted,
            "not_improved": self.improved | ~self.adapted,  # (not both for one image)
            "bp_not_converged": self.bp_converged,
        }
        starts = [self.start.status] + ([self.mirrored.status] if self.mirrored else [])
        starts += [self.gaussian.status] if self.gaussian is not None else []
        return image_status(flags, *starts)


def _check_steps(steps: object) -> int:
    """An int >= 0; an integral float (a grid read from the command line) is accepted."""
    if isinstance(steps, float) and steps.is_integer():
        steps = int(steps)
    return check_count(steps, "adapt_steps", "steps", low=0)


def _check_options(lr_theta, lr_z, steps, discrepancy, back_projection, chunk, tv_weight) -> tuple:
    lr_theta = check_learning_rate(lr_theta, "lr_theta")
    lr_z = check_learning_rate(lr_z, "lr_z")
    steps = _check_steps(steps)
    discrepancy = check_weight(
        discrepancy,
        "discrepancy",
        what="discrepancy τ stops an image once its data misfit <= τ·σ² (the discrepancy "
        "principle): 1 is the noise level, 0 runs every step",
    )
    tv_weight = check_weight(tv_weight, "tv_weight")
    check_bool(back_projection, "back_projection")  # (a numpy bool counts)
    chunk = check_int(chunk, "chunk", low=1)
    return lr_theta, lr_z, steps, discrepancy, chunk, tv_weight


def total_variation(x: Tensor) -> Tensor:
    """TV(x) per image: the mean |x[i+1, j] − x[i, j]| plus the mean |x[i, j+1] − x[i, j]| over
    channels and pixels (anisotropic). x (B, C, H, W) -> (B,), in x's units."""
    down = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    right = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    return down + right


def _stacked(G: nn.Module, n: int) -> dict[str, Tensor]:
    """G's parameters repeated n times (a leading image axis), as new leaf tensors."""
    return {
        name: p.detach().unsqueeze(0).repeat(n, *([1] * p.ndim)).requires_grad_(True)
        for name, p in G.named_parameters()
    }


def render(G: nn.Module, params: dict[str, Tensor], z: Tensor) -> Tensor:
    """G_θᵢ(z_i) for every image i: ``params`` stacked per image (leading axis B, as
    ``G.named_parameters()`` otherwise), z (B, latent_dim) -> (B, C, H, W). G's buffers are
    shared (BatchNorm's running statistics, used as in eval mode); G itself is not changed."""
    buffers = dict(G.named_buffers())

    def one(p: dict[str, Tensor], zi: Tensor) -> Tensor:
        return functional_call(G, (p, buffers), (zi[None],))[0]

    return vmap(one)(params, z)


def _finetune(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    rows: Tensor,
    z0: Tensor,
    steps: int,
    lr_theta: float,
    lr_z: float,
    threshold: float | None,
    tv_weight: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Fine-tune (z, θ) for the images ``rows`` (y: their measurements, z0 their starts).
    Returns x, z, the data misfit, the steps run and whether the discrepancy stopped each."""
    n = len(rows)
    params = _stacked(G, n)
    z = z0.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam(
        [{"params": list(params.values()), "lr": lr_theta}, {"params": [z], "lr": lr_z}]
    )
    x_out = torch.empty(n, *operator.in_shape, device=y.device)
    z_out = torch.empty_like(z0)
    misfit_out = torch.empty(n, device=y.device)
    steps_run = torch.zeros(n, dtype=torch.long, device=y.device)
    stopped = torch.zeros(n, dtype=torch.bool, device=y.device)
    active = torch.ones(n, dtype=torch.bool, device=y.device)
    for t in range(steps + 1):  # evaluation t is at the iterate after t steps
        with torch.set_grad_enabled(t < steps):
            x = render(G, params, z)
            misfit = operator.data_misfit(y, operator.A_rows(x, rows), rows)
        done = active.clone() if t == steps else torch.zeros_like(active)
        if threshold is not None:
            reached = active & (misfit.detach() <= threshold)
            stopped |= reached & (t < steps)
            done |= reached
        if bool(done.any()):
            x_out[done], z_out[done] = x.detach()[done], z.detach()[done]
            misfit_out[done], steps_run[done] = misfit.detach()[done], t
            active &= ~done
        if not bool(active.any()):
            break
        optimizer.zero_grad(set_to_none=True)
        # a finished image's term is left out: its result is kept, its copy no longer matters
        loss = misfit + tv_weight * total_variation(x) if tv_weight else misfit
        loss[active].sum().backward()
        optimizer.step()
    return x_out, z_out, misfit_out, steps_run, stopped


def _cg_normal(
    operator: LinearOperator, r: Tensor, rows: Tensor, tol: float, max_iter: int
) -> tuple[Tensor, Tensor]:
    """w with (A_i A_iᵀ) w_i = r_i for every row i, by conjugate gradients (per-row scalars, one
    batched A Aᵀ product per iteration); returns w and whether ||r_i − A_i A_iᵀ w_i|| ≤ tol ||r_i||."""
    shape = (-1,) + (1,) * (r.ndim - 1)

    def dot(a: Tensor, b: Tensor) -> Tensor:
        return (a * b).flatten(1).sum(1)

    def normal(v: Tensor) -> Tensor:
        return operator.A_rows(operator.A_adjoint_rows(v, rows), rows)

    tiny = torch.finfo(r.dtype).tiny
    w = torch.zeros_like(r)
    res = r.clone()
    p = res.clone()
    rs = dot(res, res)
    target = tol**2 * rs
    for _ in range(max_iter):
        active = rs > target
        if not bool(active.any()):
            break
        ap = normal(p)
        pap = dot(p, ap)
        alpha = torch.where(active & (pap > 0), rs / pap.clamp_min(tiny), 0.0)
        w = w + alpha.view(shape) * p
        res = res - alpha.view(shape) * ap
        rs_new = dot(res, res)
        beta = torch.where(active, rs_new / rs.clamp_min(tiny), 0.0)
        p = res + beta.view(shape) * p
        rs = rs_new
    return w, rs <= target


def back_project(
    operator: LinearOperator,
    x: Tensor,
    y: Tensor,
    *,
    tol: float = 1e-5,
    max_iter: int = 1000,
) -> tuple[Tensor, Tensor]:
    """x + A†(y − A x) with A† = Aᵀ(AAᵀ)⁻¹: the point of {x' : A x' = y} nearest to x (IAGAN's
    back-projection step, Abu Hussein et al. 2020; Tirer & Giryes' BP term).

    x (B, *operator.in_shape), y (B, *operator.out_shape) -> (x_bp (B, *in_shape), converged
    (B,) bool). AAᵀ w = y − A x is solved per image by conjugate gradients with the operator's
    matrix-free A / Aᵀ (per-image operators act with each image's own A_i) to a relative
    residual ``tol`` within ``max_iter`` iterations; an image that misses it is reported in
    ``converged`` and by a ``ConvergenceWarning`` (e.g. a square, ill-conditioned A). For a
    masked operator the unmeasured entries of x are kept (the measured ones become y's).
    Raises TypeError/ValueError for a wrong operator, shape, tol or max_iter.
    """
    check_operator(operator)
    x = operator.check_images(x, range_check=False)
    y = operator.check_measurements(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same images: got {len(x)} and {len(y)}")
    tol = check_positive(tol, "tol")
    max_iter = check_count(max_iter, "max_iter", "steps")
    rows = torch.arange(len(y), device=x.device)
    op = operator.to(x.device)
    with torch.no_grad():
        r = y.to(x.device) - op.A_rows(x, rows)
        mask = op.measurement_mask()
        if mask is not None:  # unmeasured entries of y are no measurements
            r = r * (mask if mask.shape[0] == 1 else mask[rows]).to(r.device)
        w, converged = _cg_normal(op, r, rows, tol, max_iter)
        x_bp = x + op.A_adjoint_rows(w, rows)
    if not bool(converged.all()):
        warnings.warn(
            f"back_project: conjugate gradients on AA^T missed tol={tol:g} within "
            f"{max_iter} iterations for {int((~converged).sum())} of {len(y)} image(s) "
            "(AA^T ill-conditioned, e.g. a square Gaussian A): A x_bp = y holds only "
            "approximately; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return x_bp, converged.cpu()


def iagan(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    config: LatentConfig | None = None,
    *,
    start: LatentResult | None = None,
    lr_theta: float = LR_THETA,
    lr_z: float = LR_Z,
    adapt_steps: int = STEPS,
    discrepancy: float = DISCREPANCY,
    tv_weight: float = TV_WEIGHT,
    back_projection: bool = False,
    blend: bool | str = False,
    chunk: int = CHUNK,
    image_ids: Sequence[int] | None = None,
    **overrides: object,
) -> AdaptiveResult:
    """Image-adaptive reconstruction (Abu Hussein, Tirer, Giryes, AAAI 2020):
    min_{z, θ} (1/m_i)||M ⊙ (y_i − A G_θ(z))||² + λ_TV TV(G_θ(z)) per image from CSGM's
    (ẑ_i, θ₀), x̂_i = G_θ̂ᵢ(ẑ_i); λ_TV = ``tv_weight`` >= 0 (default 0: the paper's objective;
    ``total_variation``).

    y (B, *operator.out_shape), finite -> ``AdaptiveResult`` with x̂ (B, C, H, W) on [-1, 1]
    (outside it only by what back-projection adds). ``start``: ``csgm``'s result for the same G,
    operator and y (computed from ``config`` / ``overrides`` / ``image_ids`` when None, as
    ``csgm``; engine options next to a start must equal ``start.config``). Each image runs Adam
    on its own copy of θ (lr ``lr_theta``) and its z (lr ``lr_z``) for at most ``adapt_steps`` steps,
    and stops earlier once its data misfit is at most ``discrepancy`` · σ² with σ =
    ``operator.noise.std`` (0, or σ = 0: the step count alone). G runs in eval
    mode (BatchNorm on its running statistics, which are never updated) and is not modified.
    ``back_projection``: x̂ ← x̂ + A†(y − A x̂) afterwards (``back_project``). ``blend`` (an
    ``Inpainting`` operator only): x̂ blended into the known pixels of y (``blending.blend_spec``:
    True / ``"poisson"`` Poisson blending as Yeh et al.'s completion, Pérez et al. 2003;
    ``"biharmonic[:α]"`` x = αx̂ + B(y − αx̂), better on scattered masks). ``chunk``: images
    fine-tuned at once (memory: about 4·|θ|·chunk floats); results do not depend on it.

    Raises TypeError/ValueError, before any work, for a wrong generator, operator, shape, start,
    a learning rate that is not > 0, adapt_steps < 0 (an integral float is accepted), discrepancy
    or tv_weight < 0, a non-bool back_projection or chunk < 1. Warns ``ConvergenceWarning`` where the
    fine-tuning ended worse than its start (then x̂ is CSGM's, ``adapted`` False) or the
    back-projection's CG missed its tolerance.
    """
    lr_theta, lr_z, steps, discrepancy, chunk, tv_weight = _check_options(
        lr_theta, lr_z, adapt_steps, discrepancy, back_projection, chunk, tv_weight
    )
    how = blend_spec(blend)
    if how is not None and not isinstance(operator, Inpainting):
        raise ValueError(
            f"blend={blend!r} blends into known pixels: it needs an Inpainting operator, got "
            f"{type(operator).__name__}; drop blend"
        )
    operator, y = _prepare(G, operator, y)
    if steps == 0:  # (the fine-tuning does not run: its options change nothing)
        options = {
            "lr_theta": (lr_theta, LR_THETA),
            "lr_z": (lr_z, LR_Z),
            "tv_weight": (tv_weight, TV_WEIGHT),
        }
        warn_idle(
            "iagan", {**options, "discrepancy": (discrepancy, DISCREPANCY)}, "adapt_steps > 0"
        )
    elif discrepancy not in (0.0, DISCREPANCY) and operator.noise.std == 0:
        warnings.warn(
            f"discrepancy={discrepancy:g} changes nothing: the stopping rule compares the misfit "
            "with discrepancy x σ², and this operator has no noise (σ = 0); drop discrepancy "
            "or give the operator its noise_std",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )
    start = csgm_start(G, operator, y, config, start, image_ids, overrides, "iagan")
    if tuple(start.z.shape) != (len(y), G.latent_dim):
        raise ValueError(
            f"start.z must be ({len(y)}, {G.latent_dim}) (one latent of G per image), got "
            f"{tuple(start.z.shape)}: pass the csgm result of these measurements"
        )
    device = y.device
    t0 = time.perf_counter()
    threshold = discrepancy * operator.noise.std**2 or None  # 0: no early stop
    z0 = start.z.detach().to(device)
    with torch.no_grad():
        x_start = start.x_hat.detach().to(device)
        rows = torch.arange(len(y), device=device)
        data_start = operator.data_misfit(y, operator.A_rows(x_start, rows), rows)
    parts = []
    with frozen(G):
        for i in range(0, len(y), chunk):
            rows = torch.arange(i, min(i + chunk, len(y)), device=device)
            parts.append(
                _finetune(
                    G,
                    operator,
                    y[rows],
                    rows,
                    z0[rows],
                    steps,
                    lr_theta,
                    lr_z,
                    threshold,
                    tv_weight,
                )
            )
    x_hat, z, data_adapted, steps_run, stopped = (torch.cat(p) for p in zip(*parts, strict=True))
    adapted = torch.isfinite(data_adapted) & (data_adapted <= data_start * (1 + ROUNDING_SLACK))
    if not bool(adapted.all()):
        bad = (~adapted).nonzero().flatten().tolist()
        x_hat[~adapted], z[~adapted] = x_start[~adapted], z0[~adapted]
        warnings.warn(
            f"iagan: for {len(bad)} of {len(y)} image(s) (indices {bad[:10]}) the fine-tuning "
            f"ended with a larger or non-finite data misfit than CSGM's start (lr_theta="
            f"{lr_theta:g}, lr_z={lr_z:g}, adapt_steps={steps}); their x_hat is CSGM's (result.adapted "
            "is False): lower the learning rates",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    # (a start that fits y has nothing to improve; one at the noise level τσ² succeeded)
    ran = (steps_run > 0) & (data_start > 0)
    if threshold is not None:
        ran &= data_adapted > threshold
    improved = adapted & ~(ran & (data_adapted > data_start * (1 - STALL_RTOL)))
    stalled = adapted & ~improved
    if bool(stalled.any()):
        few = stalled.nonzero().flatten().tolist()
        warnings.warn(
            f"iagan: for {len(few)} of {len(y)} image(s) (indices {few[:10]}) the fine-tuning "
            f"lowered the data misfit by less than {STALL_RTOL:g} (relative) from CSGM's start "
            f"in {int(steps_run[stalled].max())} step(s) (lr_theta={lr_theta:g}, lr_z={lr_z:g}); "
            "their x_hat is in effect CSGM's (result.improved is False): raise the learning "
            "rates or adapt_steps",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    bp_converged = torch.ones(len(y), dtype=torch.bool)
    if back_projection:
        x_hat, bp_converged = back_project(operator, x_hat, y)
    if how is not None:
        mask = operator.measurement_mask()[:, :1].to(device)
        x_hat = how(x_hat.detach(), y, mask.expand(len(y), -1, -1, -1))
    with torch.no_grad():
        rows = torch.arange(len(y), device=device)
        data = operator.data_misfit(y, operator.A_rows(x_hat, rows), rows)
    return AdaptiveResult(
        x_hat=x_hat,
        z=z,
        data_loss=data,
        data_loss_start=data_start,
        data_loss_adapted=data_adapted,
        steps_run=steps_run.cpu(),
        stopped=stopped.cpu(),
        adapted=adapted.cpu(),
        improved=improved.cpu(),
        bp_converged=bp_converged,
        seconds=start.seconds + time.perf_counter() - t0,
        start=start,
    )


__all__ = ["AdaptiveResult", "back_project", "iagan", "render", "total_variation"]
