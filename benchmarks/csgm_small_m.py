"""CSGM at small m on VALIDATION images: generator x restarts x λ_z x steps x restart selection.

MNIST train images 100-… (not the sweep's validation images 0-19, never test images), noise
σ = 0.1 on the [0, 1] scale (0.2 on the library's [-1, 1]), Adam lr 0.1, restarts halved at 10 %
and 30 %. Prints one line per setting:
generator, m, restarts, λ_z, steps, selection, mean per-pixel MSE on [0, 1], seconds.

    cp -r ../shared/data/MNIST /tmp/data/
    # the first run (mnist-wgangp, m = 25 and 10, 40 images; results/csgm_small_m/results.txt):
    OMP_NUM_THREADS=1 python benchmarks/csgm_small_m.py --data-root /tmp/data
    # the VAEs at m = 50 and 25 with 10 or 30 restarts (results/csgm_small_m/vae.txt):
    OMP_NUM_THREADS=1 python benchmarks/csgm_small_m.py --data-root /tmp/data \\
        --generator mnist-vae,mnist-vae-100ep --m 50,25 --n 100 --restarts 10,30 \\
        --lambda-z 0.03,0.01,0.003,0.001 --select data
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch

from ganinverse import GaussianCS, csgm, load_generator, load_images, metrics


def _list(kind):
    return lambda text: [kind(v) for v in text.split(",")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default="/tmp/data")
    p.add_argument("--generator", type=_list(str), default=["mnist-wgangp"])
    p.add_argument("--m", type=_list(int), default=[25, 10])
    p.add_argument("--n", type=int, default=40, help="validation images (train 100 …)")
    p.add_argument("--restarts", type=_list(int), default=[10])
    p.add_argument("--lambda-z", type=_list(float), default=[0.1, 0.3, 1.0])
    p.add_argument("--steps", type=_list(int), default=[300, 1000])
    p.add_argument("--select", type=_list(str), default=["data", "total"])
    args = p.parse_args()
    torch.set_num_threads(1)
    x, _ = load_images("mnist", args.data_root, "train", n=args.n, start=100)
    grid = list(itertools.product(args.restarts, args.lambda_z, args.steps, args.select))
    for name in args.generator:
        G = load_generator(name, device="cpu")
        for m in args.m:
            op = GaussianCS(x.shape[1:], m, seed=7, noise_std=0.2)
            y = op.measure(x, seed=3)
            for restarts, lam, steps, select in grid:
                t = time.time()
                r = csgm(
                    G,
                    op,
                    y,
                    restarts=restarts,
                    steps=steps,
                    lr=0.1,
                    lambda_z=lam,
                    prune_at=(0.1, 0.3),
                    select=select,
                    progress=False,
                    seed=1,
                )
                mse = float(metrics.mse(r.x_hat, x).mean())
                line = (name, m, restarts, lam, steps, select, round(mse, 4))
                print(*line, round(time.time() - t, 1), flush=True)


if __name__ == "__main__":
    main()
