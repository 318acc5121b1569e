"""How far a Gaussian prior goes on faces, and what averaging it into iagan gains (issue 16,
session 36), on held-out VALIDATION faces (never test faces): faces 5900-5907 of the train
split, held out of celeba64-lsgan's training, with the A and noise of ``iagan_ensemble.py``
(GaussianCS seeded by m, σ = 0.01 on [0, 1]). Prints, per m: the Gaussian's posterior mean
(``solvers.gaussian``) with the moments of the training faces (0-5899) and of N samples of G
(``--mirror``: each also with its samples' mirror images, ``--gaussian-mirror``);
at m = 500 also iagan+TV (csgm's faces preset, λ_TV 0.3) and its mirror run, and the PSNR of
(1 − w)·(their average) + w·x̂_gaussian for each w: how the weight of
``--iagan-gaussian-weight`` was chosen.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/gaussian_probe.py \\
        --data-root /tmp/data/celeba64 --images runs/celeba64_train5900.safetensors
    # the mirror variants (session 37), the w of --iagan-gaussian-mirror runs:
    ... --m 100,500,2500 --n-samples 10000 --mirror
"""

from __future__ import annotations

import argparse
import warnings

import torch

from ganinverse import metrics
from ganinverse.data import load_images
from ganinverse.methods import reconstruct_result
from ganinverse.models import load_generator
from ganinverse.operators import GaussianCS
from ganinverse.solvers.csgm import CSGM_PRESETS
from ganinverse.solvers.gaussian import gaussian


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-root", required=True)
    p.add_argument("--images", required=True, help="the training faces (gaussian_images.py)")
    p.add_argument("--generator", default="celeba64-lsgan")
    p.add_argument("--m", default="100,500,2500")
    p.add_argument("--n-samples", default="10000,20000", help="samples of G for its moments")
    p.add_argument("--weights", default="0,0.2,0.3,0.4,0.5,0.6,1")
    p.add_argument(
        "--mirror",
        action="store_true",
        help="also each prior with its samples' mirror images (gaussian's --gaussian-mirror)",
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    x, _ = load_images("celeba64", args.data_root, split="train", n=8, start=5900)
    G = load_generator(args.generator, device="cpu")

    def psnr(x_hat: torch.Tensor) -> str:
        return f"{float(metrics.psnr(x_hat.clamp(-1, 1), x).mean()):.2f}"

    for m in map(int, args.m.split(",")):
        op = GaussianCS(x.shape[1:], m, seed=m, noise_std=0.02)
        y = op.measure(x, seed=1)
        priors = {}
        for mirror in (False, True) if args.mirror else (False,):
            tail = " and their mirror images" if mirror else ""
            priors["training faces" + tail] = gaussian(
                G, op, y, samples=args.images, mirror=mirror
            ).x_hat
            for n in map(int, args.n_samples.split(",")):
                priors[f"{n} samples of G{tail}"] = gaussian(
                    G, op, y, n_samples=n, mirror=mirror
                ).x_hat
        for name, x_hat in priors.items():
            print(f"m = {m}: gaussian, {name}: {psnr(x_hat)} dB", flush=True)
        if m != 500:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kw = dict(config=CSGM_PRESETS["celeba"].updated(progress=False), tv_weight=0.3)
            ids = list(range(len(x)))
            runs = [
                reconstruct_result("iagan", G, op, y, image_ids=ids, mirror=mirror, **kw).x_hat
                for mirror in (False, True)
            ]
        print(f"m = {m}: iagan+TV {psnr(runs[0])} dB, with its mirror run {psnr(runs[1])} dB")
        for name, prior in priors.items():
            line = " ".join(
                f"{w}: {psnr((1 - w) * runs[1] + w * prior)}"
                for w in map(float, args.weights.split(","))
            )
            print(f"m = {m}: iagan+TV+mirror averaged with the gaussian of {name}, w -> dB: {line}")


if __name__ == "__main__":
    main()
