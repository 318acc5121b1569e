"""Why CSGM's MNIST error rises with m, and whether sparse deviations close the gap.

On 10 VALIDATION images (MNIST train split) at m = 100 and m = 750, noise σ = 0.1 ([0, 1] scale):
the sweep's setting (λ_z = 0.1, 300 steps) against λ_z = 0.001 with 1000 steps, and csgm-sparse
(DCT) with three ℓ1 weights. 10 restarts halved at 10%/30%, Adam lr 0.1, one thread.

    python benchmarks/csgm_diagnostic.py --data-root /tmp/data
"""

from __future__ import annotations

import argparse
import time

import torch

from ganinverse import GaussianCS, csgm, csgm_sparse, load_generator, load_images, metrics

SETTINGS = [
    ("csgm, λ_z 0.1, 300 steps (the sweep)", csgm, dict(lambda_z=0.1, steps=300)),
    ("csgm, λ_z 0.001, 1000 steps", csgm, dict(lambda_z=0.001, steps=1000)),
    (
        "csgm-sparse ℓ1 1e-2, λ_z 0.001, 1000 steps",
        csgm_sparse,
        dict(lambda_z=0.001, steps=1000, l1=1e-2),
    ),
    (
        "csgm-sparse ℓ1 1e-3, λ_z 0.001, 1000 steps",
        csgm_sparse,
        dict(lambda_z=0.001, steps=1000, l1=1e-3),
    ),
    (
        "csgm-sparse ℓ1 1e-4, λ_z 0.001, 1000 steps",
        csgm_sparse,
        dict(lambda_z=0.001, steps=1000, l1=1e-4),
    ),
]


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--generator", default="mnist-dcgan")
    p.add_argument("--data-root", required=True)
    p.add_argument("--n-images", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(1)
    G = load_generator(args.generator, device="cpu")
    x, _ = load_images("mnist", args.data_root, "train", n=args.n_images)
    print("| m | setting | validation MSE/pixel [0,1] | seconds |\n|---:|---|---:|---:|")
    for m in (100, 750):
        op = GaussianCS(G.image_shape, m, seed=m, noise_std=0.2)  # σ = 0.1 on the [0, 1] scale
        y = op.measure(x, seed=1)
        for name, solver, kw in SETTINGS:
            start = time.time()
            res = solver(G, op, y, lr=0.1, restarts=10, prune_at=(0.1, 0.3), progress=False, **kw)
            err = float(metrics.mse(res.x_hat, x).mean())
            print(f"| {m} | {name} | {err:.4f} | {time.time() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
