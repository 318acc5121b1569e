"""CSGM speed, side by side in one run, printed as ratios.

  loop      one image and one restart at a time (how CSGM's code and deepinv's CSGMGenerator run)
  batched   all images x restarts in one batch on the latent engine, same settings
  pruned    batched + successive halving of restarts + per-latent early stopping

All three use the same generator, A, noise, latent starts (seeded), steps and lr; the table shows
the per-pixel MSE ([0, 1] scale) of each so equal quality is visible beside the time.

    python benchmarks/csgm_speed.py --generator mnist-dcgan --dataset mnist --data-root /tmp/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ganinverse import metrics
from ganinverse.data import load_images
from ganinverse.io import atomic_write_json, atomic_write_text
from ganinverse.latent import LatentConfig, optimize_latent
from ganinverse.models import load_generator
from ganinverse.operators import GaussianCS
from ganinverse.solvers.csgm import MeasurementObjective, csgm


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--generator", default="digits")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-root")
    p.add_argument("--n-images", type=int, default=5)
    p.add_argument("--restarts", type=int, default=10)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--m", type=int, default=100)
    p.add_argument("--noise-std", type=float, default=0.1, help="[0, 1] scale")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    p.add_argument("--out", default="benchmarks/results/csgm_speed")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    G = load_generator(args.generator, device="cpu")
    x, _ = load_images(args.dataset, args.data_root, "test", n=args.n_images)
    op = GaussianCS(G.image_shape, args.m, seed=0, noise_std=2 * args.noise_std)
    y = op.measure(x, seed=1)
    base = LatentConfig(
        restarts=args.restarts, steps=args.steps, lr=args.lr, lambda_z=0.001, progress=False
    )

    # the batched engine draws the B*R starts in image-major order from one generator; the loop
    # gives each (image, restart) run exactly its start, so all variants begin at the same points
    starts = torch.randn(
        args.n_images * args.restarts,
        G.latent_dim,
        generator=torch.Generator().manual_seed(base.seed),
    )

    def loop():
        out = []
        for i in range(args.n_images):
            best = None
            for r in range(args.restarts):
                res = _single_start(G, op, y[i : i + 1], base, starts[i * args.restarts + r])
                if best is None or res.loss[0] < best.loss[0]:
                    best = res
            out.append(best.x_hat)
        return torch.cat(out)

    variants = {
        "loop": loop,
        "batched": lambda: csgm(G, op, y, base).x_hat,
        "pruned": lambda: (
            csgm(G, op, y, base.updated(prune_at=(0.1, 0.3), tol=1e-4, patience=25)).x_hat
        ),
    }
    rows = []
    for name, fn in variants.items():
        x_hat, seconds = timed(fn)
        rows.append(
            {"variant": name, "seconds": seconds, "mse": float(metrics.mse(x_hat, x).mean())}
        )
        print(f"{name:8s} {seconds:8.2f} s   MSE/pixel {rows[-1]['mse']:.5f}", flush=True)
    loop_s = rows[0]["seconds"]
    for r in rows:
        r["speedup_vs_loop"] = loop_s / r["seconds"]
    setting = (
        f"{args.generator} on {args.n_images} {args.dataset} test images, m = {args.m}, "
        f"noise σ = {args.noise_std} ([0,1] scale), {args.restarts} restarts x {args.steps} Adam steps, "
        f"lr {args.lr}, λ = 0.001, torch threads {torch.get_num_threads()}"
    )
    table = (
        "| variant | seconds | speed-up vs loop | MSE/pixel [0,1] |\n|---|---:|---:|---:|\n"
        + "".join(
            f"| {r['variant']} | {r['seconds']:.2f} | {r['speedup_vs_loop']:.1f}x | {r['mse']:.5f} |\n"
            for r in rows
        )
    )
    print(setting)
    print(table)
    out = Path(args.out)
    atomic_write_json(out / "results.json", {"setting": setting, "rows": rows})
    atomic_write_text(out / "results.md", f"{setting}\n\n{table}")


def _single_start(G, op, y, config, z0):
    """One image, one restart, starting at z0."""
    return optimize_latent(
        G, MeasurementObjective(op, y), 1, config.updated(restarts=1), z_init=z0[None]
    )


if __name__ == "__main__":
    main()
