"""Why Defense-GAN's published white-box FGSM number is 0.988 (issue 17, item 1's measured cause).

The paper's released evaluation (kabkabm/defensegan, ``whitebox.py``) adds the reconstruction
layer to the classifier (``model.add_rec_model``) BEFORE it builds the FGSM attack on that
model, so FGSM takes the gradient of f(D(x)) through the TF1 reconstruction loop. In that loop
the output G(ẑ) reads the latent variable ẑ, which the optimiser updates by assignment: the
output depends on x only through the choice of the best restart (an argmin), so the gradient
that reaches x is zero, sign(0) = 0 and the "adversarial" images are the clean images. The
authors confirmed this in the repository's issues #1 ("If --defense_type defense_gan is active,
the gradients will be zero") and #14 (zero distortion between benign and adversarial images).

This script replays that computation with our projection (the protocol of
``benchmarks/defensegan.py``, read from its ``protocol.json``): FGSM of radius ``--eps`` on
``Sequential(D, f)`` with D's backward the zero map of the released graph, on the first ``--n``
test images; it reports the largest |δ| and the accuracy of f on D(x + δ), beside the
defense-oblivious FGSM (the gradient of f alone) that ``defensegan.py`` measures. Rows go into
``table.csv`` (attack ``fgsm_released``) and ``released.json``.

    OMP_NUM_THREADS=1 python benchmarks/defensegan_released.py --n 100 --classifiers A
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import defensegan as dg  # benchmarks/defensegan.py (its table format and helpers)
import torch
from torch import Tensor, nn

from ganinverse.data import load_images, to_unit
from ganinverse.defense import ProjectionDefense
from ganinverse.defense.attacks import FGSM
from ganinverse.defense.evaluate import AttackSpec
from ganinverse.io import atomic_write_json
from ganinverse.models import accuracy, load_classifier, load_generator


class _ZeroBackward(torch.autograd.Function):
    """D(x) forward; the zero map backward (what reaches x through the released TF1 loop)."""

    @staticmethod
    def forward(ctx, images: Tensor, defense: nn.Module) -> Tensor:
        with torch.no_grad():
            return defense(images)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return torch.zeros_like(grad), None


class ReleasedGraph(nn.Module):
    """f(D(x)) with ∂D/∂x = 0, the gradient the released white-box code computes."""

    def __init__(self, defense: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.defense, self.classifier = defense, classifier

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(_ZeroBackward.apply(images, self.defense))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", help="default: the protocol's --data-root")
    p.add_argument("--out", default="benchmarks/results/defense/defensegan")
    p.add_argument("--models", default="/tmp/ganinverse-defensegan/models")
    p.add_argument(
        "--classifiers", default="A", help="models among A,B,A-rec (trained by defensegan.py)"
    )
    p.add_argument("--n", type=int, default=100, help="test images (the first n)")
    p.add_argument("--eps", type=float, default=0.3)
    p.add_argument("--batch", type=int, default=50)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    protocol = json.loads((out / "protocol.json").read_text())
    settings = protocol["defense"]
    if args.n < 1 or args.n > protocol["args"]["n"]:
        raise ValueError(f"--n must be in [1, {protocol['args']['n']}] (the protocol's n)")
    G = load_generator(settings["generator"], device="cpu")
    defense = ProjectionDefense(
        G, steps=settings["steps"], restarts=settings["restarts"], seed=settings["seed"]
    )
    root = protocol["args"]["data_root"] if args.data_root is None else args.data_root
    x, labels = load_images(protocol["args"]["dataset"], root or None, "test", n=args.n)
    x = to_unit(x).clamp(0, 1)
    results = {"command": shlex.join(["python", *sys.argv] if argv is None else argv)}
    rows = []
    for name in args.classifiers.split(","):
        f = load_classifier(Path(args.models) / name, device="cpu").eval()
        start = time.perf_counter()
        correct, largest = 0, 0.0
        for i in range(0, args.n, args.batch):
            xb, yb = x[i : i + args.batch], labels[i : i + args.batch]
            adv = FGSM(ReleasedGraph(defense, f), eps=args.eps)(xb, yb)
            largest = max(largest, float((adv - xb).abs().max()))
            correct += round(accuracy(nn.Sequential(defense, f), adv, yb) * len(yb))
        seconds = (time.perf_counter() - start) / args.n
        acc = correct / args.n
        results[name] = {
            "n": args.n,
            "accuracy": acc,
            "max_abs_delta": largest,
            "s_per_image": seconds,
        }
        print(f"{name}: released-code FGSM {args.eps:g}: max |δ| = {largest:g}, accuracy {acc:.3f}")
        spec = AttackSpec("fgsm", args.eps)
        row = dg.table_row(name, protocol["defense"]["label"], spec, acc, args.n, seconds * args.n)
        rows.append({**row, "attack": "fgsm_released"})
    dg.merge_table(out / "table.csv", rows)
    atomic_write_json(out / "released.json", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
