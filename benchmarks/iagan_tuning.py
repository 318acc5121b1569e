"""IAGAN's defaults: per-pixel MSE of the image-adaptive fine-tuning against its learning rate
(θ and z alike) and step count, with and without the discrepancy stop, on VALIDATION images (the
train split), never the test images. One CSGM start per (m, σ) is shared by every setting.

Writes results.csv (one row per m, σ, lr, steps, rule) and prints the best setting per (m, σ).

    python benchmarks/iagan_tuning.py --generator digits --dataset digits

Faces at m = 500 (the issue-16 target; 4 train-split faces):

    python benchmarks/iagan_tuning.py --generator celeba64-dcgan --dataset celeba64 \
        --data-root DIR --n-images 4 --m 500 --noise-std 0.01 --lr 1e-4,3e-4,1e-3 \
        --steps 100,300,1000 --tau 1,0.5,0.25 --csgm-preset celeba \
        --out benchmarks/results/iagan_tuning_faces500
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
from csv_rows import append_rows, write_rows  # benchmarks/csv_rows.py

from ganinverse import metrics
from ganinverse.data import load_images
from ganinverse.exceptions import ConvergenceWarning
from ganinverse.models import load_generator
from ganinverse.operators import GaussianCS
from ganinverse.solvers.adaptive import iagan
from ganinverse.solvers.csgm import CSGM_PRESETS, csgm

FIELDS = ("m", "noise_std", "lr", "steps", "rule", "tau", "mse", "csgm_mse", "steps_run", "seconds")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--generator", default="digits")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-root")
    p.add_argument("--n-images", type=int, default=8)
    p.add_argument("--m", default="50,100,200,400")
    p.add_argument("--noise-std", default="0,0.1", help="σ values on the [0, 1] scale")
    p.add_argument("--lr", default="1e-5,1e-4,1e-3")
    p.add_argument("--steps", default="30,100,300,1000")
    p.add_argument(
        "--tau",
        default="1",
        help="discrepancy-stop τ values, each run at the largest --steps (noisy σ only)",
    )
    p.add_argument(
        "--csgm-preset",
        default="mnist",
        choices=sorted(CSGM_PRESETS),
        help="CSGM start settings (celeba: the faces sweep's 10 x 500 steps, lr 0.1)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/iagan_tuning")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    G = load_generator(args.generator, device="cpu")
    x, _ = load_images(args.dataset, args.data_root, split="train", n=args.n_images)
    ids = list(range(len(x)))
    config = CSGM_PRESETS[args.csgm_preset].updated(progress=False)
    taus = [float(v) for v in args.tau.split(",")]
    lrs = [float(v) for v in args.lr.split(",")]
    step_values = [int(v) for v in args.steps.split(",")]
    rows = []
    path = out / "results.csv"
    write_rows(path, FIELDS, [])  # a new run starts a new file
    for m in (int(v) for v in args.m.split(",")):
        for sigma in (float(v) for v in args.noise_std.split(",")):
            op = GaussianCS(G.image_shape, m, seed=m, noise_std=2 * sigma)
            y = op.measure(x, seed=1)
            start = csgm(G, op, y, config, image_ids=ids)
            base = float(metrics.mse(start.x_hat, x).mean())
            runs = [(lr, s, 0.0) for lr in lrs for s in step_values]
            if sigma > 0:
                runs += [(lr, max(step_values), tau) for lr in lrs for tau in taus]
            for lr, steps, tau in runs:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    res = iagan(
                        G,
                        op,
                        y,
                        start=start,
                        lr_theta=lr,
                        lr_z=lr,
                        adapt_steps=steps,
                        discrepancy=tau,
                    )
                row = {
                    "m": m,
                    "noise_std": sigma,
                    "lr": lr,
                    "steps": steps,
                    "rule": "steps" if tau == 0 else "discrepancy",
                    "tau": tau,
                    "mse": f"{float(metrics.mse(res.x_hat, x).mean()):.5g}",
                    "csgm_mse": f"{base:.5g}",
                    "steps_run": f"{float(res.steps_run.float().mean()):.1f}",
                    "seconds": f"{(res.seconds - start.seconds) / len(x):.4g}",
                }
                append_rows(path, FIELDS, [row])
                rows.append(row)
                print(row, flush=True)
    for key in sorted({(r["m"], r["noise_std"]) for r in rows}):
        group = [r for r in rows if (r["m"], r["noise_std"]) == key]
        best = min(group, key=lambda r: float(r["mse"]))
        print(f"m={key[0]} σ={key[1]}: CSGM {best['csgm_mse']}, best {best}")


if __name__ == "__main__":
    main()
