"""Semantic inpainting with a GAN prior (Yeh, Chen, Lim, Schwing, Hasegawa-Johnson, Do, CVPR 2017).

For an image y with known pixels M (1 = known) it searches the closest image in G's range,

    ẑ = argmin_z  ||W ⊙ (G(z) - y)||₁  +  λ · prior(D(G(z))),   z projected to the box [-1, 1],

where the importance weights W favour known pixels next to the hole (window N(i), default 7x7):

    W_i = Σ_{j∈N(i)} (1 - M_j) / |N(i)|  for known i,   W_i = 0 for missing i,

and the prior term, from the discriminator's logit l = D(G(z)), is one of

    "log1m":  log(1 - σ(l)) = -softplus(l)   (the paper's, λ = 0.003)
    "nonsat": -log σ(l)     =  softplus(-l)  (non-saturating)
    "wgan":   -l                             (a WGAN critic's score).

The completion G(ẑ) is finally blended into the known pixels (``ganinverse.blending``; ``blend``:
True / "poisson" the paper's Poisson blending, "biharmonic[:α]" the biharmonic blend, False none).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    check_choice,
    check_image_range,
    check_int,
    check_tensor,
    check_weight,
)
from ..blending import blend_spec
from ..exceptions import IdleOptionWarning, user_stacklevel
from ..latent import (
    LatentConfig,
    LatentObjective,
    LatentResult,
    check_generator,
    configured,
    generator_device,
    optimize_latent,
)
from ..masks import check_mask
from ..operators import Inpainting

PRIORS = ("log1m", "nonsat", "wgan")
#: Yeh et al.'s weight λ of the prior term (the default of ``inpaint``).
PRIOR_WEIGHT = 0.003

#: The paper's settings: Adam, 1500 steps, z clipped to [-1, 1]; restarts batched, best by total loss.
#: The paper's generator drew z uniformly from [-1, 1]. The bundled generators were trained on
#: z ~ N(0, I); on training images box=1 suited ``mnist-dcgan`` and box=2 ``digits``
#: (benchmarks/results/inpainting/README.md).
INPAINT_CONFIG = LatentConfig(
    restarts=4,
    steps=1500,
    lr=0.03,
    projection="box",
    box=1.0,
    init="uniform",
    select="total",
)


def importance_weights(mask: Tensor, window: int = 7) -> Tensor:
    """W_i = Σ_{j∈N(i)} (1 - M_j) / |N(i)| for known pixels i, 0 for missing ones -> (B, 1, H, W).

    N(i) is the ``window`` x ``window`` square centred on i (i included), cut to the image: at the
    border only in-image neighbours count, in the sum and in |N(i)| (average pooling without the
    padding). ``mask``: (B, 1, H, W) with 1 = known.
    """
    check_int(window, "window", low=1)
    if window % 2 == 0:
        raise ValueError(f"window must be odd (a window centred on the pixel), got {window}")
    check_tensor(mask, "mask", ndim=4)
    missing = F.avg_pool2d(1 - mask, window, stride=1, padding=window // 2, count_include_pad=False)
    return mask * missing


def prior_from_logits(logits: Tensor, prior: str = "log1m") -> Tensor:
    """The prior term per image from discriminator logits l (N,): see the module docstring."""
    check_choice(prior, "prior", PRIORS)
    if prior == "log1m":
        return -F.softplus(logits)
    if prior == "nonsat":
        return F.softplus(-logits)
    return -logits


class InpaintingObjective(LatentObjective):
    """Context loss ||W ⊙ (x - y)||₁ plus λ · prior(D(G(z))) for N latents of B images."""

    def __init__(
        self,
        y: Tensor,
        weights: Tensor,
        D: nn.Module | None = None,
        prior_weight: float = PRIOR_WEIGHT,
        prior: str = "log1m",
    ) -> None:
        self.y = y
        self.weights = weights
        self.D = D
        self.prior_weight = check_weight(prior_weight, "prior_weight")
        self.prior = check_choice(prior, "prior", PRIORS)
        self.modules = (D,) if D is not None else ()

    def data_loss(self, x: Tensor, rows: Tensor) -> Tensor:
        return (self.weights[rows] * (x - self.y[rows])).abs().flatten(1).sum(1)

    def prior_loss(self, g: Tensor, variables: dict[str, Tensor], rows: Tensor) -> Tensor | None:
        if self.D is None or self.prior_weight == 0:
            return None
        logits = self.D(g).reshape(len(g))
        return self.prior_weight * prior_from_logits(logits, self.prior)


@dataclass
class InpaintingResult:
    """Outcome of ``inpaint`` for B images (all (B, C, H, W) in [-1, 1] unless noted)."""

    x_blended: Tensor | None  #: Poisson blend of G(ẑ) into the known pixels (None if blend=False)
    x_raw: Tensor  #: the completion G(ẑ) itself
    y_masked: Tensor  #: the input with its missing pixels set to 0 (grey on the [0, 1] scale)
    mask: Tensor  #: (B, 1, H, W), 1 = known
    weights: Tensor  #: (B, 1, H, W) importance weights W of the context loss
    latent: LatentResult  #: the engine's result (ẑ, losses, restarts, history)
    #: λ of the prior term the search used: 0 without D (the context loss alone)
    prior_weight: float = 0.0

    @property
    def x_hat(self) -> Tensor:
        """The reconstruction: the blend when made, else the raw completion G(ẑ)."""
        return self.x_raw if self.x_blended is None else self.x_blended

    @property
    def seconds(self) -> float:
        """Wall time of the latent search."""
        return self.latent.seconds

    @property
    def status(self) -> list[str]:
        """Per image: the latent search's (``ganinverse.status``)."""
        return self.latent.status


def inpaint(
    G: nn.Module,
    y: Tensor,
    mask: Tensor,
    D: nn.Module | None = None,
    prior_weight: float | None = None,
    prior: str = "log1m",
    window: int = 7,
    blend: bool | str = True,
    config: LatentConfig | None = None,
    *,
    image_ids: Sequence[int] | None = None,
    **overrides: object,
) -> InpaintingResult:
    """Fill the missing pixels of y (B, C, H, W) in [-1, 1] with G's range (Yeh et al. 2017).

    The mask form of ``inpaint_operator``: ``mask`` is (H, W), (1, 1, H, W) or (B, 1, H, W),
    1 = known; y's missing pixels are ignored (they may be anything, NaN included). ``D``
    returns one logit per image; ``prior_weight`` is λ of its prior term, by default (None)
    Yeh et al.'s ``PRIOR_WEIGHT`` with D and 0 without D: the context loss alone, which
    ``result.prior_weight`` records (a λ > 0 given without D warns: it cannot act).
    ``config`` defaults to ``INPAINT_CONFIG``; ``overrides`` replace its fields (steps,
    restarts, lr, seed, progress, ...). ``image_ids`` (B distinct ints, e.g. dataset indices)
    seed each image's restarts by its identity (see ``optimize_latent``), so an image gives the
    same completion alone or in any batch. Raises ValueError when the known pixels leave
    [-1, 1] (with the fix for [0, 255] or [0, 1] images).
    """
    check_generator(G)
    shape = tuple(G.image_shape)
    y = check_tensor(y, "y", shape=(None, *shape), finite=False)
    y = y.float()  # float64 / float16 inputs: converted to the generator's float32
    mask = check_mask(mask, len(y), shape)
    y_masked = Inpainting(mask, shape).A(torch.where(mask.bool(), y, 0.0))
    check_image_range(y_masked, "y (known pixels)")
    return _inpaint(
        G, y_masked, mask, D, prior_weight, prior, window, blend, config, image_ids, overrides
    )


def inpaint_operator(
    G: nn.Module,
    operator: Inpainting,
    y: Tensor,
    *,
    D: nn.Module | None = None,
    prior_weight: float | None = None,
    prior: str = "log1m",
    window: int = 7,
    blend: bool | str = True,
    config: LatentConfig | None = None,
    image_ids: Sequence[int] | None = None,
    **overrides: object,
) -> InpaintingResult:
    """Yeh et al.'s inpainting as the solver of an ``Inpainting`` operator: y = M ⊙ (x + η)
    (B, C, H, W), zero where M is 0; the mask is the operator's (shared or one per image).

    The objective and options are ``inpaint``'s. Noisy known pixels may leave [-1, 1] by the
    noise (``operator.check_measurements`` bounds them). Raises TypeError for another operator,
    ValueError for a mask with no missing pixel or measurements beyond what the operator reaches.
    """
    check_generator(G)
    if not isinstance(operator, Inpainting):
        raise TypeError(
            f"operator must be an Inpainting operator (Yeh et al. fill masked pixels), got "
            f"{type(operator).__name__}"
        )
    y = operator.check_measurements(y)
    mask = operator.measurement_mask()
    if not bool((mask == mask[:, :1]).all()):
        raise ValueError(
            "the operator's mask differs between channels; Yeh et al.'s inpainting needs one "
            "mask per pixel (build the Inpainting operator from an (H, W) or (B, 1, H, W) mask)"
        )
    mask = mask[:, :1]
    mask = mask.expand(len(y), -1, -1, -1) if mask.shape[0] == 1 else mask
    return _inpaint(G, y, mask, D, prior_weight, prior, window, blend, config, image_ids, overrides)


def _warn_idle_prior(D: nn.Module | None, prior_weight: float, prior: str) -> None:
    """IdleOptionWarning for a prior option that cannot act: D with prior_weight = 0, a
    prior_weight > 0 given without D (the prior term is dropped), a prior other than the
    default where the prior term is off."""
    idle = []
    if D is not None and prior_weight == 0:
        idle.append(
            "D was given but prior_weight=0: the prior term is off and D unused; pass "
            "prior_weight > 0 or drop D"
        )
    if D is None and prior_weight != 0:
        idle.append(
            f"prior_weight={prior_weight:g} changes nothing without D (the prior term "
            "is dropped): pass D= (ganinverse.load_discriminator) or drop prior_weight"
        )
    if (D is None or prior_weight == 0) and prior != "log1m":
        idle.append(
            f"prior={prior!r} changes nothing: the prior term is off (no D, or "
            "prior_weight=0); pass D and prior_weight > 0, or drop prior"
        )
    for message in idle:
        warnings.warn(message, IdleOptionWarning, stacklevel=user_stacklevel())


def _inpaint(
    G, y_masked, mask, D, prior_weight, prior, window, blend, config, image_ids, overrides
):
    """The shared body: checks, importance weights, the latent search and the blend."""
    complete = (mask.flatten(1) == 1).all(1)
    if bool(complete.any()):
        raise ValueError(
            f"mask has no missing pixel for image(s) {complete.nonzero().flatten().tolist()}: "
            "nothing to inpaint (1 = known pixel; pass a mask with 0 where pixels are missing)"
        )
    if D is not None and not isinstance(D, nn.Module):
        raise TypeError(f"D must be a discriminator nn.Module or None, got {type(D).__name__}")
    check_choice(prior, "prior", PRIORS)
    if prior_weight is None:  # (Yeh et al.'s λ where there is a D to weigh)
        prior_weight = 0.0 if D is None else PRIOR_WEIGHT
    prior_weight = check_weight(prior_weight, "prior_weight")
    how = blend_spec(blend)
    _warn_idle_prior(D, prior_weight, prior)
    device = generator_device(G)
    if D is not None and generator_device(D) != device:
        raise ValueError(f"D is on {generator_device(D)} but G on {device}; move D with D.to(...)")
    y_masked, mask = y_masked.to(device), mask.to(device)
    check_tensor(y_masked, "y (known pixels)")
    weights = importance_weights(mask, window)
    objective = InpaintingObjective(y_masked, weights, D, prior_weight, prior)
    config = configured(config, INPAINT_CONFIG, overrides)
    latent = optimize_latent(
        G, objective, len(y_masked), config, image_ids=image_ids, desc="inpaint"
    )
    x_raw = latent.x_hat.detach()
    x_blended = None if how is None else how(x_raw, y_masked, mask)
    used = prior_weight if D is not None else 0.0
    return InpaintingResult(x_blended, x_raw, y_masked, mask, weights, latent, used)


__all__ = [
    "INPAINT_CONFIG",
    "PRIORS",
    "InpaintingObjective",
    "InpaintingResult",
    "importance_weights",
    "inpaint",
    "inpaint_operator",
    "prior_from_logits",
]
