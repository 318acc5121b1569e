"""Toy data and classifiers for the defense tests: 8x8 images, two classes, trained in a second."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from ganinverse.data import to_unit
from ganinverse.models import train_classifier


class ToyClassifier(nn.Module):
    """A small MLP on (1, 8, 8) images in [0, 1] -> 2 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.image_shape = (1, 8, 8)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LinearGenerator(nn.Module):
    """G(z) = W z + b reshaped to (1, 4, 4); no tanh, so range(G) is an affine subspace."""

    def __init__(self, latent_dim: int = 3, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.latent_dim, self.image_shape = latent_dim, (1, 4, 4)
        self.W = nn.Parameter(0.2 * torch.randn(16, latent_dim, generator=gen))
        self.b = nn.Parameter(0.05 * torch.randn(16, generator=gen))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.W.T + self.b).view(-1, *self.image_shape)

    def projector(self) -> torch.Tensor:
        W = self.W.detach().double()
        return (W @ torch.linalg.solve(W.T @ W, W.T)).float()


def linear_images(n: int = 3, seed: int = 1) -> torch.Tensor:
    """Images near 0.5 (inside (0, 1)) for the linear toy: its projection is never clamped."""
    gen = torch.Generator().manual_seed(seed)
    return (0.5 + 0.1 * torch.randn(n, 1, 4, 4, generator=gen)).clamp(0, 1)


def intensity_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0 is dark (mean 0.35), class 1 bright (mean 0.65), pixel noise 0.1."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    x = 0.35 + 0.3 * labels.float().view(-1, 1, 1, 1) + 0.1 * torch.randn(n, 1, 8, 8, generator=gen)
    return x.clamp(0, 1), labels


def range_data(G: nn.Module, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images G(z) in [0, 1], labelled by whether their mean exceeds the median mean."""
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = to_unit(G(z))
    m = x.flatten(1).mean(1)
    return x, (m > m.median()).long()


@contextlib.contextmanager
def one_thread():
    """Tiny tensors: one thread avoids OpenMP contention on the shared 2-core machine (50x)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="session")
def toy_classifier_class() -> type[ToyClassifier]:
    return ToyClassifier


@pytest.fixture(scope="session")
def toy_data() -> tuple[torch.Tensor, torch.Tensor]:
    return intensity_data(200)


@pytest.fixture(scope="session")
def toy_test_set() -> tuple[torch.Tensor, torch.Tensor]:
    return intensity_data(100, seed=1)


@pytest.fixture(scope="session")
def toy_classifier(toy_data) -> ToyClassifier:
    x, y = toy_data
    with one_thread(), torch.random.fork_rng():  # (the same classifier whatever ran before)
        torch.manual_seed(0)
        return train_classifier(
            ToyClassifier(), x, y, epochs=30, batch_size=50, lr=1e-2, device="cpu"
        )


@pytest.fixture
def range_classifier(toy_generator) -> tuple[ToyClassifier, torch.Tensor, torch.Tensor]:
    """A classifier trained on the toy generator's range, with 400 labelled range images."""
    x, y = range_data(toy_generator, 400)
    clf = train_classifier(ToyClassifier(), x, y, epochs=40, batch_size=50, lr=1e-2, device="cpu")
    return clf, x, y


@pytest.fixture
def range_test_set(toy_generator) -> tuple[torch.Tensor, torch.Tensor]:
    return range_data(toy_generator, 40, seed=1)
