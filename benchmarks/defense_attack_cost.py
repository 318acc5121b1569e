"""Seconds per image of one attack gradient through the projection defense, side by side:
bpda (identity backward), bpda_tangent, eot_restarts (tangent at each of the R restarts of one
projection) and unrolled (autograd through the last K updates), and one bare projection.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/defense_attack_cost.py \
        --generator mnist-wgangp --classifier mnist --data-root /tmp/data --n 8 --steps 100 --restarts 4

Each row is the minimum over ``--repeats`` interleaved runs (the machine may be shared); the
gradients are those of the registry's attacks, built by their factories.
"""

from __future__ import annotations

import argparse
import time

import torch

from ganinverse.cli.defend import labelled_images
from ganinverse.defense import ProjectionDefense
from ganinverse.defense.evaluate import EvalSettings, Row, _make_attack, parse_attacks
from ganinverse.latent import frozen
from ganinverse.models import load_classifier, load_generator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--generator", default="mnist-wgangp")
    p.add_argument("--classifier", default="mnist")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-root", default="/tmp/data")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--steps", type=int, default=100, help="projection steps")
    p.add_argument("--restarts", type=int, default=4, help="projection restarts")
    p.add_argument("--unroll-steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.manual_seed(0)
    G = load_generator(args.generator, device="cpu")
    clf = load_classifier(args.classifier, device="cpu")
    x, y = labelled_images(args.dataset, args.data_root, "test", args.n, 0, "--n")
    defense = ProjectionDefense(G, steps=args.steps, restarts=args.restarts)
    settings = EvalSettings(bpda_steps=1, unroll_steps=args.unroll_steps)
    row = Row("projection defense", clf, True)
    names = ("bpda", "bpda_tangent", "eot_restarts", "unrolled")
    attacks = {
        n: _make_attack(parse_attacks(f"{n}:0.1")[0], row, defense, G, settings) for n in names
    }
    best = dict.fromkeys(("projection", *names), float("inf"))
    for _ in range(args.repeats):
        start = time.perf_counter()
        with torch.no_grad():
            defense(x)
        best["projection"] = min(best["projection"], time.perf_counter() - start)
        for name, attack in attacks.items():
            start = time.perf_counter()
            with frozen(attack.model):  # as Attack.__call__ runs it
                attack.gradient(x, y)
            best[name] = min(best[name], time.perf_counter() - start)
    print(
        f"{args.generator}, n={args.n}, projection {args.steps} steps x {args.restarts} restarts, "
        f"unroll_steps={args.unroll_steps}, min of {args.repeats}"
    )
    for name, seconds in best.items():
        ratio = seconds / best["projection"]
        print(f"{name:14s} {seconds / args.n:.3f} s/image per gradient  ({ratio:.2f} projections)")


if __name__ == "__main__":
    main()
