"""Bundle a finished training run as ``ganinverse/weights/<name>/`` and record its results.

    python benchmarks/pretrain/bundle.py --run runs/digits --name digits --dataset digits
    python benchmarks/pretrain/bundle.py --run runs/celeba64-dcgan --name celeba64-dcgan \
        --dataset celeba64 --data-root ../shared/data/celeba64

Copies generator.* and discriminator.* (a VAE run: encoder.* instead; safetensors + JSON; each pair
as one unit, so a kill leaves the bundled pair old or new, never mixed),
re-measures the cost on this CPU, scores sample quality (pretrain.quality: FD in the features of the dataset's bundled classifier,
or in a 64-d pixel PCA for datasets without one such as celeba64; no label entropy then), stores
cost and quality in the generator's JSON, and writes benchmarks/results/pretrain/<name>/:
quality.json, losses.csv, losses.png, samples.png (64 EMA samples from a fixed z).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import torch

from ganinverse.io import atomic_write, atomic_write_json
from ganinverse.models import generator_cost, load_generator
from ganinverse.models.checkpoint import copy_pair, pair_exists, read_config, update_config
from ganinverse.models.registry import WEIGHTS_DIR
from pretrain.logs import save_grid
from pretrain.quality import FEATURES, score_generator

RESULTS = Path(__file__).resolve().parents[1] / "results" / "pretrain"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="training output folder")
    parser.add_argument("--name", required=True, help="bundled name")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument(
        "--features", choices=FEATURES, default=None, help="default: see pretrain.quality"
    )
    parser.add_argument(
        "--note", default=None, help="free text stored in the config (e.g. 'stopped early')"
    )
    args = parser.parse_args(argv)
    run, dest, results = Path(args.run), WEIGHTS_DIR / args.name, RESULTS / args.name
    # everything checked before the first byte is written
    if not args.name or Path(args.name).name != args.name or args.name.startswith("."):
        parser.error(f"--name must be a plain folder name such as 'digits', got {args.name!r}")
    if args.n_samples < 2:
        parser.error(f"--n-samples must be >= 2, got {args.n_samples}")
    try:
        read_config(run / "generator")  # the run's generator pair exists and is complete
    except (FileNotFoundError, ValueError) as err:
        parser.error(f"--run {args.run!r} holds no loadable generator: {err}")
    dest.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    # a GAN run has a discriminator next to its generator, a VAE run an encoder
    companions = [c for c in ("discriminator", "encoder") if pair_exists(run / c)]
    for stem in ("generator", *companions):  # each pair copied as one unit (complete pairs only)
        copy_pair(run / stem, dest / stem)
    G = load_generator(args.name, device="cpu")
    cost = generator_cost(G, batch=640, repeats=5)
    cost["load_average_1min"] = round(os.getloadavg()[0], 2)
    quality = score_generator(
        args.name,
        args.dataset,
        args.data_root,
        features=args.features,
        n_samples=args.n_samples,
    )
    fields = {"cost": cost, "quality": quality, **({"note": args.note} if args.note else {})}
    config = update_config(dest / "generator", fields)  # keeps the JSON tied to its weights
    summary = {
        "name": args.name,
        "steps": config["steps"],
        "loss": config["loss"],
        "architecture": config["architecture"],
        "kwargs": config["kwargs"],
        "cost": cost,
        "quality": quality,
        "note": args.note,
    }
    atomic_write_json(results / "quality.json", summary)
    for f in ("losses.csv", "losses.png"):
        atomic_write(results / f, lambda p, src=run / f: shutil.copyfile(src, p))
    z = torch.randn(64, G.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        save_grid(G(z), results / "samples.png")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
