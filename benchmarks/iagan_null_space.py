"""What decides the image-adaptive method's x̂ where the measurements say nothing (the null space
of A)? Two probes on VALIDATION faces (the train split, never test faces), one shared CSGM start:

1. restart averaging: iagan fine-tuned from each CSGM restart's latent, the x̂ of the K best (by
   their fine-tuned data misfit) averaged, K = 1 ... restarts (an ensemble over the starts);
2. a total-variation term λ_TV TV(x) in the fine-tuning objective (``iagan(tv_weight=...)``),
   for each λ of ``--tv``.

Writes results.csv (one row per probe and setting: PSNR and per-pixel MSE on [0, 1], mean over
the faces; fine-tuning steps run) and prints it.

    OMP_NUM_THREADS=1 python benchmarks/iagan_null_space.py --data-root /tmp/data/celeba64 \
        --n-images 8 --m 500 --tv 0,0.1,0.2,0.3,0.5 --out benchmarks/results/iagan_null_space
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings

import torch
from csv_rows import append_rows, new_results  # benchmarks/csv_rows.py

from ganinverse import metrics
from ganinverse.data import load_images
from ganinverse.exceptions import ConvergenceWarning
from ganinverse.latent import frozen
from ganinverse.models import load_generator
from ganinverse.operators import GaussianCS
from ganinverse.solvers.adaptive import iagan
from ganinverse.solvers.csgm import CSGM_PRESETS, MeasurementObjective, csgm

FIELDS = ("probe", "setting", "psnr", "mse", "steps_run", "n", "m")


def restart_starts(G, operator, y, start):
    """One csgm-like start per restart r: ``start`` with z = that restart's best latent (B,
    latent_dim), x̂ = G(z) and the data term recomputed (what ``iagan(start=)`` checks)."""
    rows = torch.arange(len(y))
    objective = MeasurementObjective(operator, y)
    for r in range(start.restart_z.shape[1]):
        z = start.restart_z[:, r].detach()
        with torch.no_grad(), frozen(G):
            x = G(z)
        yield dataclasses.replace(start, z=z, x_hat=x, data_loss=objective.data_loss(x, rows))


def scored(probe: str, setting: str, x_hat, x, steps, m: int) -> dict:
    return {
        "probe": probe,
        "setting": setting,
        "psnr": f"{float(metrics.psnr(x_hat, x).mean()):.3f}",
        "mse": f"{float(metrics.mse(x_hat, x).mean()):.6f}",
        "steps_run": "" if steps is None else f"{float(steps.float().mean()):.1f}",
        "n": len(x),
        "m": m,
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--generator", default="celeba64-dcgan")
    p.add_argument("--dataset", default="celeba64")
    p.add_argument("--data-root")
    p.add_argument("--n-images", type=int, default=8)
    p.add_argument("--m", type=int, default=500)
    p.add_argument("--noise-std", type=float, default=0.01, help="σ on the [0, 1] scale")
    p.add_argument("--adapt-steps", type=int, default=300, help="iagan's step cap")
    p.add_argument("--tv", default="0,0.1,0.2,0.3,0.5", help="λ_TV values")
    p.add_argument("--out", default="benchmarks/results/iagan_null_space")
    args = p.parse_args()
    torch.set_num_threads(1)
    path = new_results(args.out, FIELDS)  # a new run starts a new file
    G = load_generator(args.generator, device="cpu")
    x, _ = load_images(args.dataset, args.data_root, split="train", n=args.n_images)
    op = GaussianCS(G.image_shape, args.m, seed=args.m, noise_std=2 * args.noise_std)
    y = op.measure(x, seed=1)
    config = CSGM_PRESETS["celeba"].updated(progress=False)
    start = csgm(G, op, y, config, image_ids=list(range(len(x))))

    def record(row: dict) -> None:
        append_rows(path, FIELDS, [row])
        print(row, flush=True)

    record(scored("csgm", "best restart", start.x_hat, x, None, args.m))
    xs, misfits = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for s in restart_starts(G, op, y, start):
            res = iagan(G, op, y, start=s, adapt_steps=args.adapt_steps)
            xs.append(res.x_hat)
            misfits.append(res.data_loss_adapted)
        X, order = torch.stack(xs, 1), torch.stack(misfits, 1).argsort(1)
        for k in sorted({1, 2, 3, 5, X.shape[1]} & set(range(1, X.shape[1] + 1))):
            average = torch.stack([X[i, order[i, :k]].mean(0) for i in range(len(x))])
            record(scored("restart average", f"K={k}", average, x, None, args.m))
        for lam in (float(v) for v in args.tv.split(",")):
            res = iagan(G, op, y, start=start, adapt_steps=args.adapt_steps, tv_weight=lam)
            record(scored("tv", f"tv_weight={lam:g}", res.x_hat, x, res.steps_run, args.m))


if __name__ == "__main__":
    main()
