"""``ganinverse train-classifier``: Defense-GAN model A / B on a dataset, optionally adversarially
trained (Madry PGD or robust-manifold) or trained on the projections G(ẑ) of the images."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-classifier",
        help="train a classifier (Defense-GAN model A or B) and save it as safetensors + JSON",
        description="Trains on the train split (first --n images), reports the accuracy on the "
        "test split and writes OUT/classifier.safetensors + OUT/classifier.json.",
    )
    p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, digits, ...")
    p.add_argument("--data-root", help="folder holding the dataset (see ganinverse.data)")
    p.add_argument("--model", default="A", choices=("A", "B"), help="Defense-GAN architecture")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--n", type=int, help="train on the first N images (default: all)")
    p.add_argument(
        "--n-test", type=int, default=10000, help="test images for the reported accuracy"
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--adversarial",
        default="none",
        choices=("none", "pgd", "manifold"),
        help="pgd: Madry PGD training; manifold: robust-manifold training (PGD + overpowered "
        "pairs of --generator)",
    )
    p.add_argument("--eps", type=float, default=0.3, help="L∞ PGD radius, [0, 1] scale")
    p.add_argument("--pgd-steps", type=int, default=7, help="PGD steps per training batch")
    p.add_argument(
        "--generator", help="generator of the overpowered pairs (--adversarial manifold)"
    )
    p.add_argument("--manifold-fraction", type=float, default=0.5)
    p.add_argument("--manifold-eps", type=float, default=2.0, help="L2 budget of the pairs")
    p.add_argument("--manifold-steps", type=int, default=30)
    p.add_argument(
        "--on-reconstructions",
        metavar="GENERATOR",
        help="train on the projections G(ẑ) of the images (Defense-GAN's variant)",
    )
    p.add_argument("--projection-steps", type=int, default=200)
    p.add_argument("--projection-restarts", type=int, default=10)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def _unit_images(dataset: str, root: str | None, split: str, n: int | None):
    from ..data import load_images, to_unit

    x, labels = load_images(dataset, root, split, n=n)
    if labels is None:
        raise ValueError(f"dataset {dataset!r} has no labels; a classifier needs them")
    return to_unit(x).clamp(0, 1), labels


def run(args: argparse.Namespace) -> int:
    from ..defense.projection import ProjectionDefense
    from ..defense.training import adversarial_training, project_images
    from ..device import resolve_device
    from ..models import accuracy, build_classifier, load_generator, save_model, train_classifier

    if args.adversarial == "manifold" and not args.generator:
        raise ValueError("--adversarial manifold needs --generator (bundled name or checkpoint)")
    device = resolve_device(args.device)
    progress = not args.no_progress
    start = time.perf_counter()
    x, y = _unit_images(args.dataset, args.data_root, "train", args.n)
    x_test, y_test = _unit_images(args.dataset, args.data_root, "test", None)
    x_test, y_test = x_test[: args.n_test], y_test[: args.n_test]
    num_classes = int(max(y.max(), y_test.max())) + 1
    model = build_classifier(args.model, tuple(x.shape[1:]), num_classes)
    if args.on_reconstructions:
        G = load_generator(args.on_reconstructions, device=device)
        defense = ProjectionDefense(
            G, steps=args.projection_steps, restarts=args.projection_restarts, progress=False
        )
        x = project_images(defense, x, progress=progress)
    train = dict(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=device,
        progress=progress,
    )
    if args.adversarial == "none":
        model = train_classifier(model, x, y, **train)
    else:
        G = load_generator(args.generator, device=device) if args.generator else None
        model = adversarial_training(
            model,
            x,
            y,
            eps=args.eps,
            steps=args.pgd_steps,
            G=G,
            manifold_fraction=args.manifold_fraction if args.adversarial == "manifold" else 0.0,
            manifold_eps=args.manifold_eps,
            manifold_steps=args.manifold_steps,
            **train,
        )
    acc = accuracy(model, x_test, y_test)
    config = {
        "dataset": args.dataset,
        "train_images": len(x),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "adversarial": args.adversarial,
        "test_accuracy": acc,
        "test_images": len(x_test),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if args.adversarial != "none":
        config.update(eps=args.eps, pgd_steps=args.pgd_steps)
    if args.adversarial == "manifold":
        config.update(
            generator=args.generator,
            manifold_fraction=args.manifold_fraction,
            manifold_eps=args.manifold_eps,
            manifold_steps=args.manifold_steps,
        )
    if args.on_reconstructions:
        config.update(
            on_reconstructions=args.on_reconstructions,
            projection_steps=args.projection_steps,
            projection_restarts=args.projection_restarts,
        )
    stem = save_model(model, Path(args.out) / "classifier", config)
    print(json.dumps({"checkpoint": str(stem), "test_accuracy": acc}))
    return 0
