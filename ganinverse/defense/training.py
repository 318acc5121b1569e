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

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import check_count, check_int, check_number
from ..models import train_classifier
from ..models.classifier import check_float32_model, check_unit_images
from .adaptive import OverpoweredAttack, check_generator
from .attacks import PGD, check_budget, model_image_shape
from .projection import ProjectionDefense


def _seed(generator: torch.Generator) -> int:
    return int(torch.randint(2**31 - 1, (1,), generator=generator))


class AdversarialAugment:
    """``augment(x, labels, generator) -> x'`` for ``train_classifier``.

    The first ⌈(1 − ρ) B⌉ images of a batch become PGD examples (L∞, ``eps``, ``steps``); the
    other ⌊ρ B⌋ become overpowered images G(z1) (needs ``G``; budget ``manifold_eps`` in L2).
    ρ = ``manifold_fraction`` (0 = Madry). Every batch draws its attack seeds from ``generator``.
    """

    def __init__(
        self,
        model: nn.Module,
        eps: float = 0.3,
        steps: int = 7,
        alpha: float | None = None,
        *,
        G: nn.Module | None = None,
        manifold_fraction: float = 0.0,
        manifold_eps: float = 2.0,
        manifold_steps: int = 30,
    ) -> None:
        self.model = check_float32_model(model)
        self.eps = check_budget(eps, "eps", "inf")
        self.steps = check_count(steps, "steps", "steps")
        self.alpha = None if alpha is None else check_budget(alpha, "alpha", "inf", strict=True)
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


def adversarial_training(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    eps: float = 0.3,
    steps: int = 7,
    alpha: float | None = None,
    G: nn.Module | None = None,
    manifold_fraction: float = 0.0,
    manifold_eps: float = 2.0,
    manifold_steps: int = 30,
    **train_kwargs: object,
) -> nn.Module:
    """Madry PGD training (``manifold_fraction=0``) or robust-manifold training (> 0, needs G).

    ``train_kwargs`` go to :func:`ganinverse.models.train_classifier` (epochs, batch_size, lr,
    seed, device, progress). Returns the trained model in eval mode. Every argument, the
    images and the labels are checked before the first step (see ``train_classifier``).
    """
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
