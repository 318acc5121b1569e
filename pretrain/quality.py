"""Offline sample-quality score of a generator, with a small classifier trained by this package.

Fréchet distance in the classifier's feature space (the FID recipe with a dataset-specific
network instead of Inception, so it runs offline on a CPU):

    FD = ||mu_r - mu_g||² + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})

between penultimate features of real test images and of generated images; lower is better, and
FD(real train, real test) is reported as the floor. Diversity is the entropy of the histogram of
predicted labels on the samples (max log 10 ≈ 2.303 nats for ten evenly covered classes).

    python -m pretrain.quality --generator digits --dataset digits
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings

import numpy as np
import scipy.linalg
import torch
from torch import Tensor, nn

from ganinverse.data import load_images, to_unit
from ganinverse.device import make_generator, resolve_device
from ganinverse.io import atomic_write_json, read_json
from ganinverse.models import (
    accuracy,
    build_classifier,
    load_classifier,
    load_generator,
    save_model,
    train_classifier,
)
from ganinverse.models.registry import WEIGHTS_DIR, resolve


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


@torch.no_grad()
def generate(G: nn.Module, n: int, seed: int = 0, batch: int = 500) -> Tensor:
    """n samples G(z), z ~ N(0, I) from ``seed``, mapped to [0, 1]: (n, C, H, W) on the CPU."""
    z = torch.randn(n, G.latent_dim, generator=make_generator(seed))
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
    mu_r, s_r = _stats(_features(classifier, real_test01)[0])
    fake_feats, preds = _features(classifier, generate(G, n_samples, seed))
    mu_g, s_g = _stats(fake_feats)
    hist = torch.bincount(preds, minlength=classifier.num_classes).double()
    p = hist / hist.sum()
    entropy = float(-(p[p > 0] * p[p > 0].log()).sum())
    result = {
        "fd": round(frechet_distance(mu_r, s_r, mu_g, s_g), 4),
        "label_entropy": round(entropy, 4),
        "max_label_entropy": round(math.log(classifier.num_classes), 4),
        "label_histogram": [int(h) for h in hist],
        "n_samples": n_samples,
        "n_real_test": len(real_test01),
        "seed": seed,
    }
    if real_train01 is not None:
        n = min(n_samples, len(real_train01))
        mu_t, s_t = _stats(_features(classifier, real_train01[:n])[0])
        result["fd_real_train_vs_test"] = round(frechet_distance(mu_r, s_r, mu_t, s_t), 4)
    return result


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


def score_generator(
    generator: str,
    dataset: str,
    root: str | None = None,
    *,
    classifier: str | None = None,
    n_samples: int = 2000,
    seed: int = 0,
    device: str = "auto",
) -> dict:
    """Quality dict of a generator (bundled name or path) against ``dataset``'s test split."""
    dev = resolve_device(device)
    G = load_generator(generator, device=dev)
    clf = load_classifier(classifier or dataset, device=dev)
    real_test = to_unit(load_images(dataset, root, "test")[0])
    real_train = to_unit(load_images(dataset, root, "train")[0][:n_samples])
    result = sample_quality(
        G, clf, real_test, real_train01=real_train, n_samples=n_samples, seed=seed
    )
    result.update(
        dataset=dataset,
        classifier=classifier or dataset,
        classifier_test_accuracy=clf.checkpoint_config.get("test_accuracy"),
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pretrain.quality",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--generator", help="bundled name or checkpoint path")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-root", default=None)
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
            classifier=args.classifier,
            n_samples=args.n_samples,
            seed=args.seed,
        )
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"pretrain.quality: error: {err}", file=sys.stderr)
        return 2
    print(result)
    if args.json:
        atomic_write_json(args.json, result)
    if args.update_config:
        stem = resolve(args.generator, "generator")
        path = stem.with_name(stem.name + ".json")
        config = read_json(path, "generator config")
        config["quality"] = result
        atomic_write_json(path, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
