"""Offline sample-quality score of a generator: Fréchet distance (FD) in a small feature space.

The FID recipe with features that need no Inception weights, so it runs offline on a CPU:

    FD = ||mu_r - mu_g||² + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})

between Gaussians fitted to features of real and of generated images; lower is better.

- ``classifier`` features (datasets with a bundled classifier, e.g. mnist, digits): penultimate
  layer of a small classifier trained by this package; real = the test split, floor =
  FD(real train, real test). Diversity is the entropy of the histogram of predicted labels on
  the samples (max log 10 ≈ 2.303 nats for ten evenly covered classes).
- ``pca`` features (the default for unlabelled data, e.g. celeba64): the first k principal
  components of [0, 1] pixels, fitted on n real reference images from the train split; floor =
  FD(reference, n other train images). No label entropy.

    python -m pretrain.quality --generator digits --dataset digits
    python -m pretrain.quality --generator runs/celeba64-dcgan --dataset celeba64 --data-root DIR
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from torch import Tensor, nn

from ganinverse._validation import check_choice, check_int
from ganinverse.data import SOURCES, load_images, to_unit
from ganinverse.device import resolve_device
from ganinverse.io import atomic_write_json
from ganinverse.models import (
    accuracy,
    build_classifier,
    list_classifiers,
    load_classifier,
    load_generator,
    save_model,
    train_classifier,
)
from ganinverse.models.checkpoint import update_config
from ganinverse.models.registry import WEIGHTS_DIR, resolve
from ganinverse.seeds import rng

FEATURES = ("classifier", "pca")


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """||mu1 - mu2||² + Tr(s1 + s2 - 2 sqrtm(s1 s2)) for means (D,) and covariances (D, D)."""
    with warnings.catch_warnings():  # singular products are expected (dead ReLU features)
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        product = s1 @ s2
        covmean = scipy.linalg.sqrtm(product)
        residual = np.linalg.norm(covmean @ covmean - product) / max(np.linalg.norm(product), 1e-12)
        if not np.isfinite(covmean).all() or residual > 1e-3:
            # regularise as the FID reference code does
            offset = np.eye(s1.shape[0]) * 1e-6
            covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@torch.no_grad()
def _features(classifier: nn.Module, images01: Tensor, batch: int = 500) -> tuple[Tensor, Tensor]:
    """(features (N, D) float64, predicted labels (N,)) of images in [0, 1]."""
    dev = next(classifier.parameters()).device
    feats, preds = [], []
    for start in range(0, len(images01), batch):
        f = classifier.features(images01[start : start + batch].to(dev))
        feats.append(f.double().cpu())
        preds.append(classifier.head(f).argmax(1).cpu())
    return torch.cat(feats), torch.cat(preds)


def _stats(features: Tensor) -> tuple[np.ndarray, np.ndarray]:
    x = features.numpy()
    return x.mean(0), np.cov(x, rowvar=False)


def feature_fd(a: Tensor, b: Tensor) -> float:
    """FD between the Gaussians fitted to two feature sets (N, D) and (M, D), rounded to 1e-4."""
    return round(frechet_distance(*_stats(a.double()), *_stats(b.double())), 4)


@dataclass(frozen=True)
class PixelPCA:
    """PCA of flattened [0, 1] pixels: ``f(x) = (flatten(x) - mean) @ components.T``, (N, k).

    ``components`` (k, D) are the top-k orthonormal eigenvectors of the reference covariance,
    each signed so that its largest-magnitude entry is positive (deterministic).
    """

    mean: Tensor  # (D,) float64
    components: Tensor  # (k, D) float64

    @classmethod
    def fit(cls, images01: Tensor, k: int = 64) -> PixelPCA:
        """Fit on (N, C, H, W) images in [0, 1]; 1 <= k <= min(N - 1, C H W)."""
        x = images01.flatten(1).double()
        n, d = x.shape
        check_int(k, "k", low=1, high=max(min(n - 1, d), 1))
        mean = x.mean(0)
        x = x - mean
        small = x @ x.T if n < d else x.T @ x  # eigh of the smaller of Gram / scatter matrix
        lam, vec = torch.linalg.eigh(small)
        lam, vec = lam.flip(0)[:k], vec.flip(1)[:, :k]
        if lam[-1] <= 1e-9 * lam[0].clamp_min(1e-300):
            raise ValueError(
                f"k={k} components: the {n} reference images span fewer dimensions; lower k"
            )
        # Gram x xᵀ = U Λ Uᵀ  =>  principal axes V = xᵀ U Λ^{-1/2}
        components = (x.T @ vec / lam.sqrt()).T if n < d else vec.T
        peak = components.abs().argmax(1, keepdim=True)
        components = components * components.gather(1, peak).sign()
        return cls(mean, components.contiguous())

    def __call__(self, images01: Tensor) -> Tensor:
        """Project (N, C, H, W) images in [0, 1] -> (N, k) float64."""
        x = images01.flatten(1).double()
        if x.shape[1] != self.mean.numel():
            raise ValueError(
                f"images01 has {x.shape[1]} values per image; the PCA was fitted on "
                f"{self.mean.numel()}"
            )
        return (x - self.mean) @ self.components.T


@torch.no_grad()
def generate(G: nn.Module, n: int, seed: int = 0, batch: int = 500) -> Tensor:
    """n samples G(z), z ~ N(0, I) from ``seed``, mapped to [0, 1]: (n, C, H, W) on the CPU."""
    z = torch.randn(n, G.latent_dim, generator=rng(seed))
    dev = next(G.parameters()).device
    out = []
    for start in range(0, n, batch):
        out.append(to_unit(G(z[start : start + batch].to(dev)).clamp(-1, 1)).cpu())
    return torch.cat(out)


def sample_quality(
    G: nn.Module,
    classifier: nn.Module,
    real_test01: Tensor,
    *,
    real_train01: Tensor | None = None,
    n_samples: int = 2000,
    seed: int = 0,
) -> dict:
    """{"fd", "fd_real_train_vs_test", "label_entropy", "max_label_entropy", "label_histogram", ...}."""
    classifier.eval()
    real_feats = _features(classifier, real_test01)[0]
    fake_feats, preds = _features(classifier, generate(G, n_samples, seed))
    hist = torch.bincount(preds, minlength=classifier.num_classes).double()
    p = hist / hist.sum()
    entropy = float(-(p[p > 0] * p[p > 0].log()).sum())
    result = {
        "fd": feature_fd(real_feats, fake_feats),
        "label_entropy": round(entropy, 4),
        "max_label_entropy": round(math.log(classifier.num_classes), 4),
        "label_histogram": [int(h) for h in hist],
        "n_samples": n_samples,
        "n_real_test": len(real_test01),
        "seed": seed,
    }
    if real_train01 is not None:
        n = min(n_samples, len(real_train01))
        train_feats = _features(classifier, real_train01[:n])[0]
        result["fd_real_train_vs_test"] = feature_fd(real_feats, train_feats)
    return result


def pca_quality(
    G: nn.Module,
    reference01: Tensor,
    floor01: Tensor,
    *,
    k: int = 64,
    n_samples: int = 2000,
    seed: int = 0,
) -> dict:
    """FD in a :class:`PixelPCA` fitted on ``reference01`` (N, C, H, W) in [0, 1].

    "fd" = FD(reference, ``n_samples`` samples of G); "fd_real_vs_real" = FD(reference,
    ``floor01``), the floor from finite samples (same scale when len(floor01) == n_samples).
    """
    if tuple(G.image_shape) != tuple(reference01.shape[1:]):
        raise ValueError(
            f"G makes images of shape {tuple(G.image_shape)}; the reference images are "
            f"{tuple(reference01.shape[1:])}"
        )
    pca = PixelPCA.fit(reference01, k)
    reference = pca(reference01)
    return {
        "features": f"pca-{k} of [0,1] pixels fitted on the reference set",
        "fd": feature_fd(reference, pca(generate(G, n_samples, seed))),
        "fd_real_vs_real": feature_fd(reference, pca(floor01)),
        "n_reference": len(reference01),
        "n_real_vs_real": len(floor01),
        "n_samples": n_samples,
        "seed": seed,
    }


def train_reference_classifier(
    dataset: str,
    root: str | None = None,
    *,
    epochs: int = 3,
    n_train: int | None = None,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    progress: bool = True,
) -> nn.Module:
    """Train Defense-GAN model A on (the first ``n_train`` images of) the train split; save to
    ``out`` (default: the bundled weights folder of ``dataset``)."""
    x, y = load_images(dataset, root, "train", n=n_train)
    xt, yt = load_images(dataset, root, "test")
    model = build_classifier("A", tuple(x.shape[1:]), 10)
    model = train_classifier(
        model, to_unit(x), y, epochs=epochs, seed=seed, device="cpu", progress=progress
    )
    acc = accuracy(model, to_unit(xt), yt)
    stem = WEIGHTS_DIR / dataset / "classifier" if out is None else out
    config = {
        "dataset": dataset,
        "epochs": epochs,
        "n_train": len(x),
        "seed": seed,
        "test_accuracy": round(acc, 4),
        "purpose": "features for pretrain.quality (Fréchet distance, label entropy)",
    }
    save_model(model, stem, config)
    return model


def select_features(features: str | None, dataset: str, classifier: str | None = None) -> str:
    """``features`` checked, or the automatic choice: "classifier" when ``classifier`` is given
    or ``dataset`` has a bundled one, else "pca"."""
    if features is None:
        return "classifier" if classifier is not None or dataset in list_classifiers() else "pca"
    check_choice(features, "features", FEATURES)
    if features == "pca" and classifier is not None:
        raise ValueError(f"classifier={classifier!r} only applies to features='classifier'")
    return features


def _reference_and_floor(dataset: str, root: str | None, n: int) -> tuple[Tensor, Tensor]:
    """Images [0, n) and [n, 2n) of the default (train) split in [0, 1]; half/half if fewer."""
    try:
        x = load_images(dataset, root, n=2 * n)[0]
    except ValueError:  # fewer than 2n images; any other error is raised again here
        x = load_images(dataset, root)[0]
    half = min(n, len(x) // 2)
    x = to_unit(x)
    return x[:half], x[half : 2 * half]


def score_generator(
    generator: str,
    dataset: str,
    root: str | None = None,
    *,
    features: str | None = None,
    classifier: str | None = None,
    n_samples: int = 2000,
    pca_components: int = 64,
    seed: int = 0,
    device: str = "auto",
) -> dict:
    """Quality dict of a generator (bundled name or path) against ``dataset``.

    ``features`` (None: see :func:`select_features`): "classifier" -> :func:`sample_quality`
    against the test split; "pca" -> :func:`pca_quality` with ``pca_components`` components,
    reference = train[:n_samples], floor = train[n_samples:2 n_samples].
    """
    check_int(n_samples, "n_samples", low=2)
    mode = select_features(features, dataset, classifier)
    dev = resolve_device(device)
    G = load_generator(generator, device=dev)
    if mode == "pca":
        reference, floor = _reference_and_floor(dataset, root, n_samples)
        result = pca_quality(G, reference, floor, k=pca_components, n_samples=n_samples, seed=seed)
        result.update(
            reference_split=SOURCES[dataset][0],
            note="reference and floor images are both training images: fd_real_vs_real "
            "measures sampling noise, not generalisation",
        )
    else:
        clf = load_classifier(classifier or dataset, device=dev)
        real_test = to_unit(load_images(dataset, root, "test")[0])
        real_train = to_unit(load_images(dataset, root, "train")[0][:n_samples])
        result = sample_quality(
            G, clf, real_test, real_train01=real_train, n_samples=n_samples, seed=seed
        )
        result.update(
            features=f"penultimate layer of classifier {classifier or dataset!r}",
            classifier=classifier or dataset,
            classifier_test_accuracy=clf.checkpoint_config.get("test_accuracy"),
        )
    result["dataset"] = dataset
    return result


def main(argv: list[str] | None = None) -> int:
    from ganinverse.cli._common import OneLineParser  # one-line errors, no abbreviations

    parser = OneLineParser(
        prog="python -m pretrain.quality",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--generator", help="bundled name or checkpoint path")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--features",
        choices=FEATURES,
        default=None,
        help="feature space of the FD (default: classifier if --dataset has one, else pca)",
    )
    parser.add_argument("--pca-components", type=int, default=64, help="k for --features pca")
    parser.add_argument("--classifier", default=None, help="default: the bundled one of --dataset")
    parser.add_argument(
        "--train-classifier",
        action="store_true",
        help="(re)train and save the reference classifier of --dataset first",
    )
    parser.add_argument(
        "--classifier-out",
        default=None,
        help="where --train-classifier saves (default: ganinverse/weights/<dataset>/classifier)",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=None, help="classifier training images")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the result here")
    parser.add_argument(
        "--update-config",
        action="store_true",
        help="also store the result as 'quality' in the generator's JSON config",
    )
    args = parser.parse_args(argv)
    try:
        if args.train_classifier:
            train_reference_classifier(
                args.dataset,
                args.data_root,
                epochs=args.epochs,
                n_train=args.n_train,
                seed=args.seed,
                out=args.classifier_out,
                progress=args.progress,
            )
            if args.classifier is None and args.classifier_out is not None:
                args.classifier = args.classifier_out
        if args.generator is None:
            return 0
        result = score_generator(
            args.generator,
            args.dataset,
            args.data_root,
            features=args.features,
            classifier=args.classifier,
            n_samples=args.n_samples,
            pca_components=args.pca_components,
            seed=args.seed,
        )
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"pretrain.quality: error: {err}", file=sys.stderr)
        return 2
    print(result)
    if args.json:
        atomic_write_json(args.json, result)
    if args.update_config:
        update_config(resolve(args.generator, "generator"), {"quality": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
