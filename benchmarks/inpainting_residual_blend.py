"""Pilot (issue 16): does the blend after the image-adaptive fit limit face inpainting?

On the first N CelebA-64 test faces and one mask (the sweep's masks: seed 0, image ids 0..N-1),
iagan's fit G_θ(ẑ) (not blended) is completed three ways and compared with biharmonic
inpainting of y, paired per face (PSNR, dB; mean ± 95% CI):
- raw: G_θ(ẑ) itself;
- Poisson: G_θ(ẑ) Poisson-blended into the known pixels (what ``--iagan-blend true`` does);
- residual biharmonic: G_θ(ẑ) + B(M ⊙ (y − G_θ(ẑ))), B = skimage's biharmonic inpainting of the
  residual at the known pixels (a smoother interpolant than Poisson's for scattered masks).

    OMP_NUM_THREADS=1 python benchmarks/inpainting_residual_blend.py random:0.8 100 \
        --data-root /tmp/data/celeba64 --n 16
"""

from __future__ import annotations

import argparse

import torch
from blend_choice import iagan_completion, psnr  # benchmarks/blend_choice.py

import ganinverse as gi
from ganinverse.blending import biharmonic_blend, poisson_blend
from ganinverse.data import load_images
from ganinverse.inpaint_baselines import biharmonic_inpaint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mask", help="mask spec of the sweep, e.g. random:0.8 or grid:4")
    p.add_argument("adapt_steps", type=int, help="iagan's fine-tuning steps (the sweep's choice)")
    p.add_argument("--data-root", required=True)
    p.add_argument("--n", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(1)
    G = gi.load_generator("celeba64-dcgan", device="cpu")
    x, _ = load_images("celeba64", args.data_root, "test", n=args.n)
    ids = list(range(args.n))
    mask, y, fit, seconds = iagan_completion(G, x, ids, args.mask, args.adapt_steps)
    results = {
        "biharmonic": biharmonic_inpaint(y, mask),
        "iagan raw": fit,
        "iagan Poisson": poisson_blend(fit, y, mask),
        "iagan residual biharmonic": biharmonic_blend(fit, y, mask, weight=1.0),
    }
    base = psnr(results["biharmonic"], x)
    print(f"{args.mask}, {args.n} faces, iagan {args.adapt_steps} steps ({seconds:.1f} s/face)")
    for name, x_hat in results.items():
        d = psnr(x_hat, x) - base
        ci = 1.96 * float(d.std()) / args.n**0.5
        print(
            f"{name:26s} PSNR {float(psnr(x_hat, x).mean()):.2f}  − biharmonic "
            f"{float(d.mean()):+.3f} ± {ci:.3f}  higher {int((d > 0).sum())}/{args.n}"
        )


if __name__ == "__main__":
    main()
