"""CSGM at small m on VALIDATION images: λ_z x steps x restart selection (data or total loss).

MNIST train images 100-139 (not the sweep's validation images 0-19, never test images),
`mnist-wgangp`, m = 25 and 10, noise σ = 0.1 on the [0, 1] scale (0.2 on the library's [-1, 1]),
Adam lr 0.1, 10 restarts halved at 10 % and 30 %. Prints one line per setting:
m, λ_z, steps, selection, mean per-pixel MSE on [0, 1], seconds.

    cp -r ../shared/data/MNIST /tmp/data/
    OMP_NUM_THREADS=1 python benchmarks/csgm_small_m.py --data-root /tmp/data
"""

from __future__ import annotations

import argparse
import time

import torch

from ganinverse import GaussianCS, csgm, load_generator, load_images, metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default="/tmp/data")
    args = p.parse_args()
    torch.set_num_threads(1)
    G = load_generator("mnist-wgangp", device="cpu")
    x, _ = load_images("mnist", args.data_root, "train", n=40, start=100)
    for m in (25, 10):
        op = GaussianCS(x.shape[1:], m, seed=7, noise_std=0.2)
        y = op.measure(x, seed=3)
        for lam in (0.1, 0.3, 1.0):
            for steps in (300, 1000):
                for select in ("data", "total"):
                    t = time.time()
                    r = csgm(
                        G,
                        op,
                        y,
                        restarts=10,
                        steps=steps,
                        lr=0.1,
                        lambda_z=lam,
                        prune_at=(0.1, 0.3),
                        select=select,
                        progress=False,
                        seed=1,
                    )
                    mse = float(metrics.mse(r.x_hat, x).mean())
                    print(
                        m, lam, steps, select, round(mse, 4), round(time.time() - t, 1), flush=True
                    )


if __name__ == "__main__":
    main()
