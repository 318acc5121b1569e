"""Small convolutional classifiers for 28x28 images (Defense-GAN models A and B) and their training.

Inputs are in [0, 1] (the attack convention of torchattacks / ART). ``features(x)`` returns the
penultimate activations, used for Fréchet distances in ``pretrain.quality``.

Every entry point that takes [0, 1] images and class labels (training here; the attacks, the
projection defense and adversarial training in ``ganinverse.defense``) checks them with
:func:`check_unit_images` and :func:`check_labels` before any work: float16 / float64 images are
converted to float32 (documented), integer images are refused with the fix, labels must be
class indices in [0, classes) of the model.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import (
    check_choice,
    check_count,
    check_images,
    check_int,
    check_learning_rate,
)
from ..device import resolve_device
from ..exceptions import STALL_RTOL, ConvergenceWarning, user_stacklevel
from ..seeds import rng


def check_unit_images(
    images: object, name: str = "images", image_shape: tuple[int, ...] | None = None
) -> Tensor:
    """``images`` (B, C, H, W) in [0, 1] as float32, else a TypeError / ValueError naming ``name``.

    float16 and float64 batches are converted to float32 (what the models compute in); integer
    batches (e.g. uint8 0..255) are refused with the fix, since their scale is not [0, 1].
    """
    if isinstance(images, Tensor) and not images.is_floating_point() and not images.is_complex():
        raise TypeError(
            f"{name} must be a float tensor in [0, 1], got dtype {images.dtype}; "
            f"for uint8 images in 0..255 pass {name}.float() / 255"
        )
    check_images(images, name, image_shape)
    lo, hi = float(images.detach().min()), float(images.detach().max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        hint = (
            f"values just outside [0, 1] (rounding, e.g. after x − δ)? pass {name}.clamp(0, 1)"
            if lo >= -1e-3 and hi <= 1 + 1e-3
            else f"images in [0, 255]? pass {name} / 255"
            if hi > 2 and lo >= -1e-6
            else f"images on the generator's [-1, 1] scale? pass ganinverse.data.to_unit({name})"
            if lo >= -1 - 1e-6 and hi <= 1 + 1e-6
            else "scale them to [0, 1]"
        )
        raise ValueError(
            f"{name} must lie in [0, 1] (classifiers and attacks work on that scale), got values "
            f"in [{lo:.7g}, {hi:.7g}]; {hint}"
        )
    return images.float()


def check_label_tensor(labels: object, n: int, name: str = "labels") -> Tensor:
    """``labels`` as an int64 tensor (n,) of class indices, else a TypeError / ValueError."""
    if (
        not isinstance(labels, Tensor)
        or labels.is_floating_point()
        or labels.is_complex()
        or labels.dtype == torch.bool  # (True/False read as classes 1/0: no user means it)
    ):
        kind = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise TypeError(f"{name} must be an integer torch.Tensor of class indices, got {kind}")
    if labels.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},) (one per image), got {tuple(labels.shape)}"
        )
    return labels.long()


def check_labels(
    labels: Tensor, num_classes: int, name: str = "labels", model: str = "the model"
) -> Tensor:
    """Raise unless every label lies in [0, num_classes) (the classes ``model`` outputs).

    cross_entropy would crash on such a label deep inside torch, or (label −100) silently ignore it.
    """
    if labels.numel() == 0:
        return labels
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        hint = ""
        if lo >= 1 and hi == num_classes:
            hint = f"; 1-based labels? pass {name} - 1"
        raise ValueError(
            f"{name} must be class indices in [0, {num_classes}) since {model} outputs "
            f"{num_classes} classes, got values in [{lo}, {hi}]{hint}"
        )
    return labels


def model_num_classes(model: nn.Module) -> int | None:
    """The number of classes a classifier outputs when it says so (``num_classes``, also as the
    last module of an ``nn.Sequential``), else None (known only after a forward pass)."""
    k = getattr(model, "num_classes", None)
    if k is None and isinstance(model, nn.Sequential) and len(model):
        k = getattr(model[-1], "num_classes", None)
    return None if k is None else int(k)


def logits_classes(logits: object, n: int, name: str = "the model") -> int:
    """The class count of logits (n, classes), else a TypeError naming what returned them."""
    if not isinstance(logits, Tensor) or logits.ndim != 2 or logits.shape[0] != n:
        got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise TypeError(f"{name} must return logits of shape ({n}, classes), got {got}")
    return int(logits.shape[1])


def check_float32_model(model: nn.Module, name: str = "model") -> nn.Module:
    """Raise unless ``model`` is an nn.Module whose floating parameters are float32."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    for p in model.parameters():
        if p.is_floating_point() and p.dtype != torch.float32:
            raise TypeError(
                f"{name} has {p.dtype} parameters, expected float32; call {name}.float()"
            )
    return model


def first_forward(model: nn.Module, x: Tensor, name: str = "the model") -> Tensor:
    """``model(x)`` for a model's first call on these images: a RuntimeError from inside it
    (a layer that does not fit the image size, e.g. torch's "mat1 and mat2 shapes cannot be
    multiplied") becomes a ValueError that names the images' (C, H, W) and the fix. Out of
    memory is not a shape fault and passes through."""
    try:
        return model(x)
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as err:
        raise ValueError(
            f"{name} cannot run on images of shape (C, H, W) = {tuple(x.shape[1:])} "
            f"({str(err).splitlines()[0]}); pass images of the size it was trained on"
        ) from err


def num_classes_of(model: nn.Module, images: Tensor, name: str = "the model") -> int:
    """The classes ``model`` outputs: its ``num_classes``, else one forward pass on one image
    (eval mode, no gradient; for classifiers, not for costly or randomised defenses)."""
    k = model_num_classes(model)
    if k is not None:
        return k
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            param = next(model.parameters(), None)
            x = images[:1] if param is None else images[:1].to(param.device)
            return logits_classes(first_forward(model, x, name), 1, name)
    finally:
        model.train(training)


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
    adversarial training hooks in here). Returns the model in eval mode, on ``device``, with its
    verdict as ``model.training_status`` (:func:`training_status`): :data:`TRAINING_OK`, or why
    it learned nothing (then a ConvergenceWarning said so too); ``train-classifier`` records it
    in the checkpoint JSON and ``defend eval`` flags a classifier whose status is not ok.
    Everything is checked before the first step: images (float16/64 converted to float32),
    labels in [0, classes) of the model (one forward pass finds the class count when the model
    has no ``num_classes``), a finite lr > 0, the ints and the device.
    """
    check_float32_model(model)
    images = check_unit_images(images, "images", getattr(model, "image_shape", None))
    labels = check_label_tensor(labels, images.shape[0])
    check_count(epochs, "epochs", "epochs")
    check_int(batch_size, "batch_size", low=1)
    lr = check_learning_rate(lr, "lr")
    check_int(seed, "seed", low=0)
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be callable or None, got {type(augment).__name__}")
    dev = resolve_device(device)
    model = model.to(dev)
    check_labels(labels, num_classes_of(model, images))
    torch.manual_seed(seed)  # dropout masks
    gen = rng(seed)
    model = model.to(dev).train()
    frozen = [p for p in model.parameters() if not p.requires_grad]
    if frozen:  # (a loaded classifier is frozen: fine-tuning it trains every weight)
        warnings.warn(
            f"{len(frozen)} of the model's parameters did not require gradients (a loaded "
            "classifier is frozen): train_classifier trains every parameter, so they now do",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        model.requires_grad_(True)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = images.shape[0]
    steps = epochs * ((n + batch_size - 1) // batch_size)
    probe = (images[:batch_size], labels[:batch_size])  # the loss on it before and after
    before = _probe_loss(model, *probe, dev)
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
    after, hits = _probe_loss(model, *probe, dev, accuracy=True)
    guess = constant_guess_accuracy(probe[1])
    why = _training_verdict(before, after, hits, guess, augment is not None)
    if why:
        warnings.warn(
            f"train_classifier: {why} (on the first {len(probe[0])} clean training images: "
            f"cross-entropy {before:.4g} before, {after:.4g} after; accuracy {hits:.3g}, "
            f"{guess:.3g} for a constant guess of the most frequent label; lr={lr:g}, typical "
            "for Adam: 1e-4 to 1e-2)",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    model.training_status = why or TRAINING_OK  # (a plain attribute: not in the state_dict)
    return model.eval()


#: the training status of a classifier that learned (:func:`training_status`)
TRAINING_OK = "ok"


def training_status(model: nn.Module) -> str | None:
    """The verdict of the training that made ``model``: :data:`TRAINING_OK` ("ok"), or why it
    learned nothing (the text of :func:`train_classifier`'s ConvergenceWarning, e.g. "the loss
    rose: training diverged; lower lr"); None when unknown (a model not trained by
    :func:`train_classifier`, a checkpoint written before the status was recorded).

    Read from ``model.training_status`` (set by :func:`train_classifier`), else from the
    ``"training_status"`` of the checkpoint it was loaded from (``train-classifier`` writes it
    next to ``test_accuracy``; ``save_model`` records the attribute)."""
    status = getattr(model, "training_status", None)
    if status is None:
        status = (getattr(model, "checkpoint_config", None) or {}).get("training_status")
    return None if status is None else str(status)


def constant_guess_accuracy(labels: Tensor) -> float:
    """The accuracy of the best input-blind classifier on ``labels``: the frequency of the
    most frequent label (1/K for balanced classes)."""
    return float(torch.bincount(labels.cpu()).max()) / labels.numel()


def _training_verdict(
    before: float, after: float, hits: float, guess: float, adversarial: bool
) -> str:
    """Why a training run left a classifier that learned nothing, or "" when it learned.

    Its clean cross-entropy on the probe batch must fall by more than ``STALL_RTOL`` (from
    ``before`` to ``after``) and its accuracy there (``hits``) must beat a constant guess of
    the most frequent label (``guess``): a run whose loss fell to the constant guess's (e.g.
    under adversarial examples that erase the classes) learned nothing either."""
    if not math.isfinite(after) or after > before + STALL_RTOL * abs(before):
        if adversarial and math.isfinite(after):
            return "the clean loss rose: training diverged or the attack's eps erases the classes"
        return "the loss rose: training diverged; lower lr"
    if after >= before - STALL_RTOL * abs(before):
        fix = (
            "lower the attack's eps, or raise lr or epochs" if adversarial else "raise lr or epochs"
        )
        return f"training did not lower the loss by more than {STALL_RTOL:.1%}: {fix}"
    if hits <= guess:
        fix = "lower the attack's eps" if adversarial else "raise epochs or change lr"
        return (
            "the classifier is no more accurate than a constant guess of the most frequent "
            f"label (it never learned the classes); {fix}"
        )
    return ""


@torch.no_grad()
def _probe_loss(
    model: nn.Module, x: Tensor, labels: Tensor, dev, accuracy: bool = False
) -> float | tuple[float, float]:
    """Mean cross-entropy of ``model`` (in eval mode) on one batch, and with ``accuracy`` its
    accuracy there; the model's mode is kept."""
    mode = model.training
    model.eval()
    logits, labels = model(x.to(dev)), labels.to(dev)
    loss = float(F.cross_entropy(logits, labels))
    model.train(mode)
    return (loss, float((logits.argmax(1) == labels).float().mean())) if accuracy else loss


@torch.no_grad()
def correct_predictions(
    model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 500
) -> Tensor:
    """(N,) bool on the CPU: whether each image (N, C, H, W) in [0, 1] is classified as its
    label (argmax of the logits). The model is put in eval mode. Labels outside the model's
    classes are a ValueError (they would silently count as errors)."""
    images = check_unit_images(images, "images")
    labels = check_label_tensor(labels, images.shape[0]).cpu()
    check_int(batch_size, "batch_size", low=1)
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].to(dev)
        logits = model(x)
        if start == 0:  # a label the model cannot output would silently count as an error
            check_labels(labels, logits_classes(logits, len(x)))
        out.append(logits.argmax(1).cpu() == labels[start : start + batch_size])
    return torch.cat(out)


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 500) -> float:
    """Fraction of images (N, C, H, W) in [0, 1] classified as ``labels``
    (:func:`correct_predictions`)."""
    ok = correct_predictions(model, images, labels, batch_size)
    return int(ok.sum()) / len(ok)
