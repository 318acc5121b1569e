"""How tight the Defense-GAN projection is for a few learning rates (issue 17): the projection
MSE ||D(x) − x||² / n ([0, 1] scale) of the first ``--n`` MNIST test images under
``DEFENSE_GAN`` (L = 200, R = 10, SGD momentum 0.7) with only the learning rate changed.

Our projection loss is on G's [-1, 1] scale, four times the [0, 1] loss of the authors' code at
the same z, so lr 10 here takes steps four times theirs; lr 2.5 is their step.

    OMP_NUM_THREADS=1 python benchmarks/projection_lr.py --data-root /tmp/data --n 20
"""

from __future__ import annotations

import argparse
import time

import torch

from ganinverse.data import load_images, to_unit
from ganinverse.defense import ProjectionDefense
from ganinverse.defense.projection import DEFENSE_GAN
from ganinverse.models import load_generator
from ganinverse.sweep import mean_ci95


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--generator", default="mnist-wgangp")
    p.add_argument("--data-root", required=True)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--lr", default="10,2.5,1")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    G = load_generator(args.generator, device="cpu")
    x, _ = load_images("mnist", args.data_root, "test", n=args.n)
    x01 = to_unit(x)
    print("| lr | projection MSE, mean ± 95% CI | median | s / image |")
    print("|---:|---:|---:|---:|")
    for lr in (float(v) for v in args.lr.split(",")):
        defense = ProjectionDefense(G, DEFENSE_GAN.updated(lr=lr))
        start = time.perf_counter()
        with torch.no_grad():
            projected = defense(x01)
        seconds = (time.perf_counter() - start) / len(x01)
        mse = ((projected - x01) ** 2).flatten(1).mean(1)
        mean, ci = mean_ci95(mse.tolist())
        print(f"| {lr:g} | {mean:.4f} ± {ci:.4f} | {float(mse.median()):.4f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
