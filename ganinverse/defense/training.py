"""Adversarial training of [0, 1]-image classifiers, as ``augment`` hooks of ``train_classifier``.

Madry et al. (2018):        min_θ E_(x,y) max_{||δ||∞ ≤ ε} ℓ(f_θ(x + δ), y)
                            (every batch is replaced by its PGD examples)
Robust manifold (Ilyas et al. 2017): a fraction ρ of every batch is replaced by the off-label
                            images G(z1) of overpowered pairs anchored at those images (labelled y,
                            the label of the anchor), the rest by PGD examples.

Training on reconstructions (Defense-GAN's variant) is ``train_classifier`` on
``project_images(defense, images)``.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import check_count, check_int, check_number
from ..exceptions import IdleOptionWarning, user_stacklevel
from ..models import train_classifier
from ..models.classifier import check_float32_model, check_unit_images
from .adaptive import OverpoweredAttack, check_generator
from .attacks import PGD, check_budget, check_not_generator, model_image_shape
from .projection import ProjectionDefense


def _seed(generator: torch.Generator) -> int:
    return int(torch.randint(2**31 - 1, (1,), generator=generator))


#: The defaults of the adversarial training (``AdversarialAugment``, ``adversarial_training``,
#: ``ganinverse train-classifier``): Madry et al.'s MNIST L∞ budget 0.3 with a short PGD (7
#: steps, as in the Defense-GAN paper's adversarially trained baseline), and the robust-manifold
#: part's L2 budget 2.0 on the latent attack of 30 steps (Jalal et al. 2019).
ADVERSARIAL_DEFAULTS: dict[str, object] = {
    "eps": 0.3,
    "steps": 7,
    "alpha": None,
    "manifold_fraction": 0.0,
    "manifold_eps": 2.0,
    "manifold_steps": 30,
}
_D = ADVERSARIAL_DEFAULTS


class AdversarialAugment:
    """``augment(x, labels, generator) -> x'`` for ``train_classifier``.

    The first ⌈(1 − ρ) B⌉ images of a batch become PGD examples (L∞, ``eps``, ``steps``); the
    other ⌊ρ B⌋ become overpowered images G(z1) (needs ``G``; budget ``manifold_eps`` in L2).
    ρ = ``manifold_fraction`` (0 = Madry). Every batch draws its attack seeds from ``generator``.
    """

    def __init__(
        self,
        model: nn.Module,
        eps: float = _D["eps"],
        steps: int = _D["steps"],
        alpha: float | None = None,
        *,
        G: nn.Module | None = None,
        manifold_fraction: float = _D["manifold_fraction"],
        manifold_eps: float = _D["manifold_eps"],
        manifold_steps: int = _D["manifold_steps"],
    ) -> None:
        check_not_generator(model, "model", "a classifier of [0, 1] images (G goes in G=)")
        self.model = check_float32_model(model)
        self.eps = check_budget(eps, "eps", "inf", strict=True, zero_checked_later=True)
        self.steps = check_count(steps, "steps", "steps")
        self.alpha = (
            None if alpha is None else check_budget(alpha, "alpha", "inf", strict=True, step=True)
        )
        self.manifold_fraction = check_number(manifold_fraction, "manifold_fraction", low=0, high=1)
        if self.manifold_fraction > 0 and G is None:
            raise ValueError("manifold_fraction > 0 needs the generator G")
        self.G = None if G is None else check_generator(G, model)
        shape = model_image_shape(model) if G is None else tuple(self.G.image_shape)
        n = None if shape is None else math.prod(shape)
        self.manifold_eps = check_budget(manifold_eps, "manifold_eps", "2", n, strict=True)
        self.manifold_steps = check_count(manifold_steps, "manifold_steps", "steps")

    def __call__(self, x: Tensor, labels: Tensor, generator: torch.Generator) -> Tensor:
        n_manifold = int(self.manifold_fraction * len(x))
        n_pgd = len(x) - n_manifold
        parts = []
        if n_pgd:
            pgd = PGD(self.model, self.eps, self.alpha, self.steps, seed=_seed(generator))
            parts.append(pgd(x[:n_pgd], labels[:n_pgd]))
        if n_manifold:
            attack = OverpoweredAttack(
                self.G,
                self.model,
                self.manifold_eps,
                steps=self.manifold_steps,
                restarts=1,
                seed=_seed(generator),
            )
            parts.append(attack(x[n_pgd:], labels[n_pgd:]).x1.to(x.device))
        return torch.cat(parts)


def idle_adversarial_options(
    options: dict[str, object], given: set[str] | frozenset[str], batch_size: int
) -> list[str]:
    """Why options of ``adversarial_training`` in ``given`` (set by the caller) change nothing
    with the others (``options``: eps, steps, alpha, manifold_fraction, manifold_eps,
    manifold_steps, G, after their checks): the PGD part's at ε = 0 (PGD returns the clean
    images) or with manifold_fraction = 1 (no PGD examples); the manifold part's with
    manifold_fraction = 0. The API warns each (``IdleOptionWarning``), the CLI refuses."""
    fraction = options["manifold_fraction"]
    pgd, manifold = ("eps", "steps", "alpha"), ("manifold_eps", "manifold_steps", "G")
    idle = []
    if fraction == 1:
        idle += [f"{k} (the PGD part) changes nothing with manifold_fraction=1" for k in pgd]
    elif options["eps"] == 0:
        idle.append("eps=0 makes the PGD examples the clean images: plain training on them")
        idle += [
            f"{k} changes nothing at eps=0: PGD returns the clean images (plain training)"
            for k in ("steps", "alpha")
        ]
    if fraction == 0:
        idle += [
            f"{k} (the manifold part) changes nothing with manifold_fraction=0" for k in manifold
        ]
    return [m for m in idle if m.split()[0].split("=")[0] in given]


def check_manifold_share(fraction: float, batch_size: int, name: str = "manifold_fraction") -> None:
    """A ValueError for a manifold fraction ρ > 0 that rounds to no image of a batch of
    ``batch_size`` (⌊ρ B⌋ = 0): the training would be Madry's, not the one asked for."""
    if fraction > 0 and int(fraction * batch_size) == 0:
        raise ValueError(
            f"{name}={fraction:g} puts floor({fraction:g} x {batch_size}) = 0 images of each "
            f"batch of {batch_size} on the manifold: the training would be plain PGD; raise it "
            f"to at least {1 / batch_size:.3g} (or the batch size), or train Madry's PGD "
            "(manifold_fraction=0, --adversarial pgd)"
        )


def adversarial_training(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    eps: float = _D["eps"],
    steps: int = _D["steps"],
    alpha: float | None = None,
    G: nn.Module | None = None,
    manifold_fraction: float = _D["manifold_fraction"],
    manifold_eps: float = _D["manifold_eps"],
    manifold_steps: int = _D["manifold_steps"],
    **train_kwargs: object,
) -> nn.Module:
    """Madry PGD training (``manifold_fraction=0``) or robust-manifold training (> 0, needs G).

    ``train_kwargs`` go to :func:`ganinverse.models.train_classifier` (epochs, batch_size, lr,
    seed, device, progress). Returns the trained model in eval mode. Every argument, the
    images and the labels are checked before the first step (see ``train_classifier``).
    """
    check_not_generator(model, "model", "a classifier of [0, 1] images (G goes in G=)")
    check_manifold_share(
        check_number(manifold_fraction, "manifold_fraction", low=0, high=1),
        check_int(train_kwargs.get("batch_size", 128), "batch_size", low=1),
    )
    augment = AdversarialAugment(
        model,
        eps,
        steps,
        alpha,
        G=G,
        manifold_fraction=manifold_fraction,
        manifold_eps=manifold_eps,
        manifold_steps=manifold_steps,
    )
    values = {"eps": eps, "steps": steps, "alpha": alpha, "manifold_eps": manifold_eps}
    values.update(manifold_steps=manifold_steps, G=G, manifold_fraction=manifold_fraction)
    given = {k for k, v in values.items() if v is not _D.get(k) and v != _D.get(k)}
    for message in idle_adversarial_options(values, given, train_kwargs.get("batch_size", 128)):
        fix = "train_classifier trains on clean images" if message.startswith("eps=0") else ""
        warnings.warn(
            f"{message}; {fix or 'drop it'}", IdleOptionWarning, stacklevel=user_stacklevel()
        )
    return train_classifier(model, images, labels, augment=augment, **train_kwargs)


def project_images(
    defense: ProjectionDefense, images: Tensor, batch_size: int = 256, progress: bool = False
) -> Tensor:
    """D(x) for images (N, C, H, W) in [0, 1], ``batch_size`` images per engine run.

    All images are checked before the first batch is projected."""
    if not isinstance(defense, ProjectionDefense):
        raise TypeError(f"defense must be a ProjectionDefense, got {type(defense).__name__}")
    images = check_unit_images(images, "images", defense.image_shape)
    check_int(batch_size, "batch_size", low=1)
    out = []
    for start in tqdm(range(0, len(images), batch_size), disable=not progress, desc="project"):
        out.append(defense(images[start : start + batch_size]).cpu())
    return torch.cat(out)
