"""Shared fixtures: tiny generators whose range we know, so solvers can be checked exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

# The tests use tiny tensors, for which thread start-up costs more than it saves (and on a loaded
# 2-core machine several threads per process thrash). One thread keeps the suite fast.
torch.set_num_threads(1)


class ToyGenerator(nn.Module):
    """G(z) = tanh(W2 relu(W1 z)): a small smooth generator with a known range."""

    def __init__(self, latent_dim: int = 4, image_shape: tuple[int, int, int] = (1, 8, 8), seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        n = image_shape[0] * image_shape[1] * image_shape[2]
        self.net = nn.Sequential(nn.Linear(latent_dim, 32), nn.Tanh(), nn.Linear(32, n), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.image_shape)


@pytest.fixture
def toy_generator() -> ToyGenerator:
    return ToyGenerator()


@pytest.fixture
def toy_rgb_generator() -> ToyGenerator:
    return ToyGenerator(latent_dim=3, image_shape=(3, 8, 8), seed=1)


@pytest.fixture
def csgm_calls(monkeypatch) -> list[int]:
    """Counts runs of the CSGM latent engine (``csgm``), wherever it is called from."""
    import ganinverse.methods
    import ganinverse.solvers.csgm

    calls: list[int] = []
    real = ganinverse.solvers.csgm.csgm

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ganinverse.solvers.csgm, "csgm", counted)
    monkeypatch.setattr(ganinverse.methods, "csgm", counted)
    return calls
