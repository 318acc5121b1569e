"""Small convolutional classifiers for 28x28 images (Defense-GAN models A and B) and their training.

Inputs are in [0, 1] (the attack convention of torchattacks / ART). ``features(x)`` returns the
penultimate activations, used for Fréchet distances in ``pretrain.quality``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import check_choice, check_images, check_int, check_positive, check_range
from ..device import make_generator, resolve_device


class _Classifier(nn.Module):
    """Shared plumbing: ``forward = head(features(x))``; input shape is checked."""

    arch = ""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (C, H, W) of positive ints, got {image_shape}")
        check_int(num_classes, "num_classes", low=2)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.num_classes = int(num_classes)

    def config(self) -> dict:
        """Constructor kwargs (what a checkpoint needs to rebuild this module)."""
        return {"image_shape": list(self.image_shape), "num_classes": self.num_classes}

    def _flat_size(self, body: nn.Module) -> int:
        with torch.no_grad():
            return body(torch.zeros(1, *self.image_shape)).numel()

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations (B, D) of images x (B, C, H, W) in [0, 1]."""
        check_images(x, "x", self.image_shape)
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (B, num_classes) of images x (B, C, H, W) in [0, 1]."""
        return self.head(self.features(x))


class ClassifierA(_Classifier):
    """Defense-GAN model A: conv64 5x5, conv64 5x5/2, dropout .25, FC128, dropout .5, FC."""

    arch = "A"

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10):
        super().__init__(image_shape, num_classes)
        convs = nn.Sequential(
            nn.Conv2d(self.image_shape[0], 64, 5), nn.ReLU(), nn.Conv2d(64, 64, 5, 2), nn.ReLU()
        )
        n = self._flat_size(convs)
        self.body = nn.Sequential(
            *convs, nn.Dropout(0.25), nn.Flatten(), nn.Linear(n, 128), nn.ReLU()
        )
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(128, num_classes))


class ClassifierB(_Classifier):
    """Defense-GAN model B: dropout .2, conv64 8x8/2 (same), conv128 6x6/2, conv128 5x5, dropout .5, FC."""

    arch = "B"

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10):
        super().__init__(image_shape, num_classes)
        convs = nn.Sequential(
            nn.Dropout(0.2),
            nn.Conv2d(self.image_shape[0], 64, 8, 2, padding=3),
            nn.ReLU(),
            nn.Conv2d(64, 128, 6, 2),
            nn.ReLU(),
            nn.Conv2d(128, 128, 5),
            nn.ReLU(),
        )
        n = self._flat_size(convs)
        self.body = nn.Sequential(*convs, nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(n, num_classes))


CLASSIFIERS = {"A": ClassifierA, "B": ClassifierB}


def build_classifier(
    arch: str = "A", image_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10
) -> _Classifier:
    """A fresh classifier ``arch`` in {"A", "B"}."""
    check_choice(arch, "arch", tuple(CLASSIFIERS))
    return CLASSIFIERS[arch](image_shape, num_classes)


def train_classifier(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    augment: object | None = None,
) -> nn.Module:
    """Minimise cross-entropy with Adam on images (N, C, H, W) in [0, 1] and labels (N,).

    ``augment(x, labels, generator) -> x`` is applied per batch when given (the defense's
    adversarial training hooks in here). Returns the model in eval mode, on ``device``.
    """
    check_images(images, "images", getattr(model, "image_shape", None))
    check_range(images, "images", 0.0, 1.0)
    if not isinstance(labels, Tensor) or labels.shape != (images.shape[0],):
        raise ValueError(f"labels must be a tensor of shape ({images.shape[0]},)")
    check_int(epochs, "epochs", low=1)
    check_int(batch_size, "batch_size", low=1)
    check_positive(lr, "lr")
    dev = resolve_device(device)
    torch.manual_seed(seed)  # dropout masks
    gen = make_generator(seed)
    model = model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = images.shape[0]
    steps = epochs * ((n + batch_size - 1) // batch_size)
    bar = tqdm(total=steps, disable=not progress, desc="classifier")
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            x, y = images[idx], labels[idx]
            if augment is not None:
                model.eval()
                x = augment(x.to(dev), y.to(dev), gen)
                model.train()
            loss = F.cross_entropy(model(x.to(dev)), y.to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 500) -> float:
    """Fraction of images (N, C, H, W) in [0, 1] classified as ``labels``."""
    model.eval()
    dev = next(model.parameters()).device
    correct = 0
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].to(dev)
        correct += int((model(x).argmax(1).cpu() == labels[start : start + batch_size]).sum())
    return correct / images.shape[0]
