"""The variational auto-encoder of the CSGM paper's MNIST experiments (Kingma & Welling 2014;
Bora et al. 2017): fully connected, softplus, 784-500-500-20, Bernoulli likelihood.

Its decoder is a generator like the GANs' (z -> image in [-1, 1]), so every solver takes it. As a
CSGM prior on MNIST it beats the bundled GANs at m <= 50 and loses to them from m = 100 on
(benchmarks/README.md).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._validation import check_int, check_tensor


def _check_shape(image_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(image_shape) != 3 or min(int(s) for s in image_shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W) of positive ints, got {image_shape}")
    return tuple(int(s) for s in image_shape)


def _softplus_mlp(widths: list[int]) -> nn.Sequential:
    """Linear-Softplus between consecutive widths, no activation after the last Linear."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.Softplus())
    return nn.Sequential(*layers)


class VAEDecoder(nn.Module):
    """p(x | z) = Bernoulli(σ(f(z))) on [0, 1] pixels; ``forward`` returns the mean on [-1, 1]:
    2σ(f(z)) − 1 = tanh(f(z) / 2)."""

    def __init__(
        self,
        latent_dim: int = 20,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        hidden: tuple[int, ...] = (500, 500),
    ) -> None:
        super().__init__()
        check_int(latent_dim, "latent_dim", low=1)
        self.latent_dim = int(latent_dim)
        self.image_shape = _check_shape(image_shape)
        self.hidden = tuple(int(h) for h in hidden)
        self.main = _softplus_mlp([self.latent_dim, *self.hidden, math.prod(self.image_shape)])

    def config(self) -> dict:
        """Constructor kwargs (what a checkpoint needs to rebuild this module)."""
        return {
            "latent_dim": self.latent_dim,
            "image_shape": list(self.image_shape),
            "hidden": list(self.hidden),
        }

    def logits(self, z: Tensor) -> Tensor:
        """f(z), the Bernoulli logits, shaped like images."""
        check_tensor(z, "z", shape=(None, self.latent_dim), finite=False)
        return self.main(z).view(-1, *self.image_shape)

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(self.logits(z) / 2)


class VAEEncoder(nn.Module):
    """q(z | x) = N(μ(x), diag exp(log σ²(x))) for x in [-1, 1]; ``forward`` returns (μ, log σ²)."""

    def __init__(
        self,
        latent_dim: int = 20,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        hidden: tuple[int, ...] = (500, 500),
    ) -> None:
        super().__init__()
        check_int(latent_dim, "latent_dim", low=1)
        self.latent_dim = int(latent_dim)
        self.image_shape = _check_shape(image_shape)
        self.hidden = tuple(int(h) for h in hidden)
        self.main = _softplus_mlp([math.prod(self.image_shape), *self.hidden, 2 * self.latent_dim])

    def config(self) -> dict:
        """Constructor kwargs (what a checkpoint needs to rebuild this module)."""
        return {
            "latent_dim": self.latent_dim,
            "image_shape": list(self.image_shape),
            "hidden": list(self.hidden),
        }

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_tensor(x, "x", shape=(None, *self.image_shape))
        mu, logvar = self.main(((x + 1) / 2).flatten(1)).chunk(2, dim=1)
        return mu, logvar
