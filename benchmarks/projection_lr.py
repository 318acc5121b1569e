"""How tight the Defense-GAN projection is for a few learning rates (issue 17): the projection
MSE ||D(x) − x||² / n ([0, 1] scale) of the first ``--n`` MNIST test images under
``DEFENSE_GAN`` (L = 200, R = 10, SGD momentum 0.7) with only the learning rate changed.

Our projection loss is on G's [-1, 1] scale, four times the [0, 1] loss of the authors' code at
the same z, so lr 10 here takes steps four times theirs; lr 2.5 is their step.

    OMP_NUM_THREADS=1 python benchmarks/projection_lr.py --data-root /tmp/data --n 20

With ``--classifier`` (a checkpoint folder) the images are first attacked by defense-oblivious
FGSM of radius ``--eps`` on that classifier, and the classifier's accuracy on the projections is
printed beside the MSE (to the attacked images and to the clean ones).

``--init-std 0.177`` replays the released Defense-GAN code's initial latents, z₀ ~ N(0, I/d)
(d = 32 for mnist-wgangp: std 1/√32), instead of the engine's N(0, I) (a diagnostic: the
engine's draws are scaled, everything else is unchanged).
"""

from __future__ import annotations

import argparse
import time

import torch

import ganinverse.defense.projection as projection
import ganinverse.latent as latent
from ganinverse.data import load_images, to_unit
from ganinverse.defense import ProjectionDefense
from ganinverse.defense.attacks import FGSM
from ganinverse.defense.projection import DEFENSE_GAN
from ganinverse.models import accuracy, load_classifier, load_generator
from ganinverse.sweep import mean_ci95


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--generator", default="mnist-wgangp")
    p.add_argument("--data-root", required=True)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--lr", default="10,2.5,1")
    p.add_argument("--classifier", help="checkpoint folder: attack with FGSM on it first")
    p.add_argument("--eps", type=float, default=0.3, help="FGSM's L∞ radius ([0, 1] scale)")
    p.add_argument("--init-std", type=float, default=1.0, help="std of the initial latents")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if not args.init_std > 0:
        raise ValueError(f"--init-std must be > 0, got {args.init_std}")
    if args.init_std != 1.0:
        draw = latent._init_latents
        scaled = lambda *a, **k: draw(*a, **k) * args.init_std  # noqa: E731
        latent._init_latents = projection._init_latents = scaled
    torch.set_num_threads(args.threads)
    G = load_generator(args.generator, device="cpu")
    x, labels = load_images("mnist", args.data_root, "test", n=args.n)
    clean = x01 = to_unit(x)
    f = None
    if args.classifier:
        f = load_classifier(args.classifier, device="cpu")
        x01 = FGSM(f, eps=args.eps)(clean, labels)
        print(
            f"FGSM ε = {args.eps:g} on {args.classifier}: accuracy {accuracy(f, x01, labels):.3f}"
        )
    print("| lr | projection MSE, mean ± 95% CI | median | s / image | to clean | accuracy |")
    print("|---:|---:|---:|---:|---:|---:|")
    for lr in (float(v) for v in args.lr.split(",")):
        defense = ProjectionDefense(G, DEFENSE_GAN.updated(lr=lr))
        start = time.perf_counter()
        with torch.no_grad():
            projected = defense(x01)
        seconds = (time.perf_counter() - start) / len(x01)
        mse = ((projected - x01) ** 2).flatten(1).mean(1)
        mean, ci = mean_ci95(mse.tolist())
        to_clean = float(((projected - clean) ** 2).mean())
        acc = "" if f is None else f"{accuracy(f, projected, labels):.3f}"
        print(
            f"| {lr:g} | {mean:.4f} ± {ci:.4f} | {float(mse.median()):.4f} | {seconds:.2f} "
            f"| {to_clean:.4f} | {acc} |"
        )


if __name__ == "__main__":
    main()
