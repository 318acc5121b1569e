"""Intermediate layer optimisation (ILO; Daras, Dean, Jalal, Dimakis, ICML 2021, "Intermediate
Layer Optimization for Inverse Problems using Deep Generative Models"; related: generator
surgery, Smedemark-Margulies et al. 2021).

CSGM searches z, so x̂ stays in the range of G. ILO splits G = G_after ∘ G_before at a hidden
layer k (``models.layers.split_generator``), starts from CSGM's ẑ with h₀ = G_before(ẑ), and
searches the feature map h of layer k (z stays ẑ):

    min_h (1/m_i)||M ⊙ (y_i − A G_after(h))||²   s.t.   ||h − h₀||₁ ≤ r·n_k,   x̂ = G_after(ĥ)

with n_k the number of entries of layer k's feature map. The ℓ1 ball around h₀ keeps h near
the range of G_before (the paper's constraint); its radius is r per entry (r is the mean
absolute change of a feature), so one r means the same at every layer, whose feature maps differ
in size (the bundled generators' hidden features are O(1): BatchNorm + ReLU, or softplus). A
radius relative to ||h₀||₁ was tried and dropped: where CSGM's ẑ switches most ReLUs off, h₀ ≈ 0
and the ball collapses onto CSGM's x̂. r = 0 is CSGM's x̂ exactly; a large r leaves only
G_after's own range. The constraint is kept by projected Adam: after every step h − h₀ is
projected onto the ball by the sort-based algorithm of Duchi, Shalev-Shwartz, Singer, Chandra
(ICML 2008), ``project_l1_ball``. Each image keeps its best iterate by the data term (all
iterates are feasible). h is not kept ≥ 0 after a ReLU: the ball alone keeps it near the range.
The paper repeats the step layer after layer, each layer's ball centred on the previous layer's
solution pushed forward; here one layer k is optimised, and k is the weight chosen per m on
validation images (``methods``: ``ilo_layer``). Defaults (r = 0.3, 300 steps, lr 0.03) were
set on the bundled ``digits`` DCGAN (6 test digits, m = 100 and 400), where r ≥ 0.1 gave the
lowest MSE and r = 0.03 is too tight.

Adam acts per entry and the loss is a sum of per-image terms, so an image's result does not
depend on the other images of its batch.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .._validation import check_count, check_learning_rate, check_tensor, check_weight
from ..exceptions import ConvergenceWarning, no_progress_advice, user_stacklevel, warn_idle
from ..latent import LatentConfig, LatentResult, frozen
from ..models.layers import check_layer, split_generator
from ..operators import LinearOperator
from ..status import image_status
from .csgm import MeasurementObjective, _prepare, csgm_start

#: The layers searched per m by default: the first two hidden blocks (every bundled generator
#: has them; ``models.layers.split_points(G)`` lists a generator's layers).
ILO_LAYERS = (1, 2)
#: What the radius is, for its error message.
RADIUS_IS = "radius bounds the ℓ1 norm of the deviation of the intermediate layer (0: none)"


def project_l1_ball(v: Tensor, radius: Tensor | float) -> Tensor:
    """The Euclidean projection of each row onto an ℓ1 ball (Duchi et al. 2008, Figure 1):
    w_i = argmin_w ||w − v_i||₂ s.t. ||w||₁ ≤ r_i, i.e. w = sign(v)·max(|v| − θ, 0) with θ ≥ 0
    the smallest threshold giving ||w||₁ ≤ r.

    v: (B, ...) float, one row per image; radius: a number or (B,) tensor, each ≥ 0 (r = 0 gives 0). Rows inside
    their ball are returned unchanged. Returns a tensor shaped like v. Raises ValueError for a
    negative or non-finite radius, or a radius tensor of another length.
    """
    check_tensor(v, "v", finite=False)
    if v.ndim < 2 or 0 in v.shape:
        raise ValueError(f"v must be (B, ...) rows, B >= 1, got shape {tuple(v.shape)}")
    flat = v.flatten(1)
    if isinstance(radius, Tensor):
        r = check_tensor(radius, "radius").to(flat)
        if r.ndim == 0:
            r = r.expand(len(flat))
        if r.shape != (len(flat),):
            raise ValueError(f"radius must be a number or ({len(flat)},), got {tuple(r.shape)}")
        if bool((r < 0).any()):
            raise ValueError("radius must be >= 0")
    else:
        r = torch.full((len(flat),), check_weight(radius, "radius", what=RADIUS_IS)).to(flat)
    a = flat.abs()
    out = flat.clone()
    outside = a.sum(1) > r
    if not bool(outside.any()):  # the usual case while the constraint is inactive: no sort
        return out.view_as(v)
    a, r = a[outside], r[outside]
    u = a.sort(dim=1, descending=True).values
    css = u.cumsum(1) - r[:, None]
    j = torch.arange(1, flat.shape[1] + 1, device=flat.device, dtype=flat.dtype)
    # ρ = max{j : u_j − (Σ_{i≤j} u_i − r)/j > 0} (the condition holds for j = 1..ρ only)
    rho = ((u - css / j > 0) * j).amax(1).long().clamp_min(1)  # r = 0 may leave none: θ = u_1
    theta = (css.gather(1, rho[:, None] - 1) / rho[:, None]).clamp_min(0)
    out[outside] = flat[outside].sign() * (a - theta).clamp_min(0)
    return out.view_as(v)


@dataclass
class IloResult:
    """ILO's result for B images: x̂ = G_after(ĥ) (B, C, H, W) in [-1, 1]; ``h`` the feature
    map ĥ of ``layer`` (B, *feature shape); ``z`` CSGM's ẑ (B, latent_dim) it started from;
    ``data_loss`` (B,) (1/m_i)||y − A x̂||² and ``start_data_loss`` (B,) CSGM's;
    ``deviation`` (B,) ||ĥ − h₀||₁ / n_k, the mean absolute change of a feature (≤ radius);
    ``improved`` (B,) False where no step improved on CSGM (x̂ is then CSGM's); ``start`` the
    CSGM result; ``seconds``: CSGM's time plus ILO's."""

    x_hat: Tensor
    h: Tensor
    layer: int
    radius: float
    z: Tensor
    data_loss: Tensor
    start_data_loss: Tensor
    deviation: Tensor
    improved: Tensor
    steps: int
    seconds: float
    start: LatentResult = field(repr=False)

    @property
    def status(self) -> list[str]:
        """Per image: CSGM's start's, and "not_improved" (``ganinverse.status``) where the
        intermediate optimisation ran (steps > 0, radius > 0) and no step improved on CSGM (or
        CSGM already fit y exactly); with no stage asked (steps = 0 or radius = 0) x̂ is CSGM's
        by request, as iagan with adapt_steps = 0: CSGM's status alone."""
        asked = self.steps > 0 and self.radius > 0
        fine = self.improved | (self.start_data_loss.cpu() == 0)
        return image_status({"not_improved": fine if asked else None}, self.start.status)


#: ILO's defaults: the ℓ1 radius per entry, Adam's steps and learning rate on h.
RADIUS, STEPS, LR = 0.3, 300, 0.03


def ilo(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    layer: int = 1,
    radius: float = RADIUS,
    config: LatentConfig | None = None,
    *,
    start: LatentResult | None = None,
    steps: int = STEPS,
    lr: float = LR,
    image_ids: Sequence[int] | None = None,
    **unknown: object,
) -> IloResult:
    """Intermediate layer optimisation (Daras et al. 2021): x̂ = G_after(ĥ) with
    ĥ = argmin_h (1/m_i)||M ⊙ (y_i − A G_after(h))||² s.t. ||h − h₀||₁ ≤ r·n_k,
    h₀ = G_before(ẑ) with n_k entries, ẑ CSGM's (module docstring).

    y: (B, *operator.out_shape), finite. ``layer``: a split point of G (``split_points(G)``,
    the output of hidden block k); ``radius`` r ≥ 0 (per entry; 0 returns CSGM's x̂ exactly);
    ``steps`` of projected Adam with learning rate ``lr`` (0 steps: CSGM's x̂). ``start``: the
    ``csgm`` result for the same G, operator and y (else CSGM runs here with ``config`` and
    ``image_ids``; with ``start``, ``config`` must be absent or ``start.config``). ILO draws
    nothing at random: ``image_ids`` seed CSGM's restarts only.
    Raises TypeError for a generator whose layers are unknown (the message names
    ``models.layers.register_split``) or a wrong type, ValueError for a layer outside the split
    points, a negative radius, a bad lr / steps, or measurements of the wrong shape; all before
    any work. Warns ``ConvergenceWarning`` when no step improved an image's data term
    (``improved``; its x̂ is then CSGM's).
    """
    if unknown:  # (steps and lr are ILO's own: the start's engine settings go in config)
        import dataclasses

        from ..latent import LatentConfig

        names = ", ".join(sorted(unknown))
        engine = sorted(set(unknown) & {f.name for f in dataclasses.fields(LatentConfig)})
        hint = (
            f"; {', '.join(engine)} set(s) the CSGM start's engine: pass "
            f"config=LatentConfig({', '.join(f'{k}={unknown[k]!r}' for k in engine)})"
            if engine
            else "; its options are layer, radius, config, start, steps, lr, image_ids"
        )
        raise TypeError(f"ilo() has no option {names}{hint}")
    operator, y = _prepare(G, operator, y)
    layer = check_layer(G, layer)
    radius = check_weight(radius, "radius", what=RADIUS_IS)
    steps = check_count(steps, "steps", "steps", low=0)
    lr = check_learning_rate(lr, "lr")
    if steps == 0:  # (the intermediate optimisation does not run)
        warn_idle("ilo", {"lr": (lr, LR), "radius": (radius, RADIUS)}, "steps > 0")
    elif radius == 0:  # (h cannot leave h₀: the steps would each return it)
        warn_idle("ilo", {"steps": (steps, STEPS), "lr": (lr, LR)}, "radius > 0")
    start = csgm_start(G, operator, y, config, start, image_ids, {}, "ilo")
    t0 = time.perf_counter()
    before, after = split_generator(G, layer)
    objective = MeasurementObjective(operator, y)
    rows = torch.arange(len(y), device=y.device)
    with frozen(G):
        with torch.no_grad():
            h0 = before(start.z.to(y.device))
            n_k = h0[0].numel()
            budget = torch.full((len(h0),), radius * n_k, device=h0.device)  # ||h − h₀||₁ ≤ r·n_k
            best_h = h0.clone()
            best = objective.data_loss(after(h0), rows)
        start_loss = best.clone()
        last = start_loss  # the loss at the last iterate (for the no-progress advice)
        if radius > 0 and steps > 0:
            h = h0.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([h], lr=lr)
            for step in range(steps + 1):  # the last evaluation scores the last step
                loss = objective.data_loss(after(h), rows)
                with torch.no_grad():
                    better = loss < best  # every iterate is feasible; NaN never wins
                    best = torch.where(better, loss, best)
                    best_h[better] = h[better]
                if step == steps:
                    last = loss.detach()
                    break
                optimizer.zero_grad(set_to_none=True)
                loss.sum().backward()
                optimizer.step()
                with torch.no_grad():
                    h.copy_(h0 + project_l1_ball(h - h0, budget))
        with torch.no_grad():
            x_hat = after(best_h)
            data_loss = objective.data_loss(x_hat, rows)
    improved = (best < start_loss).cpu()
    stuck = ~improved & (start_loss > 0).cpu()
    if radius > 0 and steps > 0 and bool(stuck.any()):
        warnings.warn(
            f"ilo: for {int(stuck.sum())} of {len(y)} image(s) no step within the ℓ1 ball "
            f"(layer {layer}, radius {radius:g}, {steps} steps, lr={lr:g}) improved CSGM's data "
            "term; their x_hat is CSGM's (result.improved is False): "
            + no_progress_advice(start_loss.cpu()[stuck], last.cpu()[stuck]),
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return IloResult(
        x_hat=x_hat,
        h=best_h,
        layer=layer,
        radius=radius,
        z=start.z,
        data_loss=data_loss,
        start_data_loss=start_loss,
        deviation=(best_h - h0).abs().flatten(1).sum(1) / n_k,
        improved=improved,
        steps=steps,
        seconds=start.seconds + time.perf_counter() - t0,
        start=start,
    )


__all__ = ["ILO_LAYERS", "IloResult", "ilo", "project_l1_ball"]
