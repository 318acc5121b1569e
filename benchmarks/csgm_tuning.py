"""Time-to-quality curves for CSGM: per-pixel MSE against seconds for a grid of learning rates,
step counts and λ_z, on VALIDATION images (the train split), never the test images.

The sweep's CSGM settings are read off these curves: the cheapest setting within a few percent
of the best MSE. Writes results.csv (one row per setting and m), time_to_quality.png, choice.json.

    python benchmarks/csgm_tuning.py --generator mnist-dcgan --dataset mnist --data-root /tmp/data
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from csv_rows import read_rows, write_rows  # benchmarks/csv_rows.py

from ganinverse import metrics
from ganinverse.data import load_images
from ganinverse.io import atomic_write, atomic_write_json
from ganinverse.latent import LatentConfig
from ganinverse.models import load_generator
from ganinverse.operators import GaussianCS
from ganinverse.solvers.csgm import csgm

FIELDS = ("m", "lr", "steps", "lambda_z", "prune", "seconds", "mse")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--generator", default="digits")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-root")
    p.add_argument("--n-images", type=int, default=10)
    p.add_argument("--m", default="25,100,400")
    p.add_argument("--lr", default="0.01,0.05,0.1")
    p.add_argument("--steps", default="100,300,1000")
    p.add_argument("--lambda-z", default="0.001")
    p.add_argument("--restarts", type=int, default=10)
    p.add_argument(
        "--prune",
        choices=("yes", "no", "both"),
        default="both",
        help="successive halving of restarts at 10%% and 30%% of the steps",
    )
    p.add_argument("--noise-std", type=float, default=0.1, help="[0, 1] scale")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--report-only", action="store_true", help="plot and choose from the rows so far"
    )
    p.add_argument("--out", default="benchmarks/results/csgm_tuning")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.csv"
    done = {}
    for row in read_rows(path):  # resume
        done[tuple(row[k] for k in FIELDS[:5])] = row

    G = load_generator(args.generator, device="cpu")
    x, _ = load_images(args.dataset, args.data_root, "train", n=args.n_images)
    grid = itertools.product(
        [int(v) for v in args.m.split(",")],
        [float(v) for v in args.lr.split(",")],
        [int(v) for v in args.steps.split(",")],
        [float(v) for v in args.lambda_z.split(",")],
        {"yes": [True], "no": [False], "both": [False, True]}[args.prune],
    )
    rows = list(done.values())
    for m, lr, steps, lam, prune in [] if args.report_only else grid:
        key = (str(m), str(lr), str(steps), str(lam), str(prune))
        if key in done:
            continue
        op = GaussianCS(G.image_shape, m, seed=m, noise_std=2 * args.noise_std)
        y = op.measure(x, seed=1)
        config = LatentConfig(
            restarts=args.restarts,
            steps=steps,
            lr=lr,
            lambda_z=lam,
            progress=False,
            prune_at=(0.1, 0.3) if prune else (),
        )
        start = time.perf_counter()
        x_hat = csgm(G, op, y, config).x_hat
        seconds = (time.perf_counter() - start) / len(x)
        row = dict(
            zip(
                FIELDS,
                (*key, f"{seconds:.4g}", f"{float(metrics.mse(x_hat, x).mean()):.6g}"),
                strict=True,
            )
        )
        rows.append(row)
        print(row, flush=True)
        write_rows(path, FIELDS, rows)
    _plot(rows, out / "time_to_quality.png", args)
    atomic_write_json(out / "choice.json", _choose(rows))
    print(_choose(rows))


def _choose(rows: list[dict], slack: float = 0.05) -> dict:
    """Per setting, the worst-case ratio to the best MSE over m; pick the cheapest within slack."""
    by_m: dict[str, float] = {}
    for r in rows:
        by_m[r["m"]] = min(by_m.get(r["m"], float("inf")), float(r["mse"]))
    settings: dict[tuple, list[dict]] = {}
    for r in rows:
        settings.setdefault((r["lr"], r["steps"], r["lambda_z"], r["prune"]), []).append(r)
    scored = []
    n_m = len(by_m)
    for key, group in settings.items():
        if len(group) < n_m:  # not measured at every m (an interrupted run): not comparable
            continue
        ratio = max(float(r["mse"]) / by_m[r["m"]] for r in group)
        cost = sum(float(r["seconds"]) for r in group)
        scored.append(
            {
                "lr": key[0],
                "steps": key[1],
                "lambda_z": key[2],
                "prune": key[3],
                "worst_mse_ratio_to_best": ratio,
                "seconds_per_image_all_m": cost,
            }
        )
    good = [s for s in scored if s["worst_mse_ratio_to_best"] <= 1 + slack]
    if good:  # the cheapest setting within the slack of the best at every m
        chosen = min(good, key=lambda s: s["seconds_per_image_all_m"])
    else:  # no single setting is near the best everywhere: the most uniform one
        chosen = min(scored, key=lambda s: s["worst_mse_ratio_to_best"], default=None)
    return {
        "slack": slack,
        "chosen": chosen,
        "all": sorted(scored, key=lambda s: s["worst_mse_ratio_to_best"]),
    }


def _plot(rows: list[dict], path: Path, args) -> None:
    ms = sorted({r["m"] for r in rows}, key=int)
    fig, axes = plt.subplots(1, len(ms), figsize=(4.2 * len(ms), 3.6), squeeze=False)
    for ax, m in zip(axes[0], ms, strict=True):
        lines: dict[tuple, list[dict]] = {}
        for r in rows:
            if r["m"] == m:
                lines.setdefault((r["lr"], r["lambda_z"], r["prune"]), []).append(r)
        for (lr, lam, prune), group in sorted(lines.items()):
            group.sort(key=lambda r: int(r["steps"]))
            ax.plot(
                [float(r["seconds"]) for r in group],
                [float(r["mse"]) for r in group],
                marker="o",
                linestyle="--" if prune == "True" else "-",
                label=f"lr {lr}, λ {lam}{', pruned' if prune == 'True' else ''}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"m = {m}")
        ax.set_xlabel("seconds per image")
        ax.set_ylabel("validation MSE/pixel [0,1]")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        f"CSGM time to quality: {args.generator}, {args.n_images} validation images "
        f"(train split), {args.restarts} restarts, steps {args.steps}",
        fontsize=9,
    )
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
    plt.close(fig)


if __name__ == "__main__":
    main()
