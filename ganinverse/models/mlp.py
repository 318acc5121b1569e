"""Fully connected generator (Goodfellow et al. 2014; the CSGM decoder size 20-500-500-784), and
the base it shares with the VAE's decoder and encoder (``vae.py``).

Two orders of magnitude cheaper per latent-optimisation step than a DCGAN, which makes it the
right prior for large measurement sweeps on a CPU.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from .._validation import check_int
from .dcgan import check_input, weights_init


class FullyConnected(nn.Module):
    """Shared by the fully connected networks (MLPGenerator, VAEDecoder, VAEEncoder): a latent
    size, an image shape (C, H, W) and hidden widths, validated once, and their ``config()``."""

    def __init__(
        self,
        latent_dim: int,
        image_shape: tuple[int, int, int],
        hidden: tuple[int, ...],
    ) -> None:
        super().__init__()
        check_int(latent_dim, "latent_dim", low=1)
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (C, H, W) of positive ints, got {image_shape}")
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.hidden = tuple(int(h) for h in hidden)

    def config(self) -> dict:
        """Constructor kwargs (what a checkpoint needs to rebuild this module)."""
        return {
            "latent_dim": self.latent_dim,
            "image_shape": list(self.image_shape),
            "hidden": list(self.hidden),
        }


class MLPGenerator(FullyConnected):
    """z (B, latent_dim) -> image (B, C, H, W) in [-1, 1]: Linear-BN-ReLU x len(hidden), Linear, tanh."""

    def __init__(
        self,
        latent_dim: int = 20,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        hidden: tuple[int, ...] = (500, 500),
    ) -> None:
        super().__init__(latent_dim, image_shape, hidden)
        layers: list[nn.Module] = []
        width = self.latent_dim
        for h in self.hidden:
            layers += [nn.Linear(width, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(True)]
            width = h
        layers += [nn.Linear(width, math.prod(self.image_shape)), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)
        self.float()  # float32 whatever torch's default dtype

    def forward(self, z: Tensor) -> Tensor:
        check_input(self, z, "z", (None, self.latent_dim))
        return self.main(z).view(-1, *self.image_shape)
