"""Choose iagan's blend per mask on training faces (issue 16), never on the test faces.

For each mask, iagan (the face-inpainting sweep's settings: 500 CSGM steps, 2 restarts, lr 0.1,
300 fine-tuning steps, no blend) completes N CelebA-64 *training* faces (from --start; the
sweep's test faces are never read); its completion g is then blended into the known pixels
every way ``ganinverse.blending`` offers, x = αg + I(y − αg) with I the harmonic (Poisson) or
biharmonic interpolation and α in --alphas, and compared with biharmonic inpainting of y,
paired per face (PSNR dB, mean ± 95% Student-t half-width). The best row per mask is the blend
to run on the test faces.

    OMP_NUM_THREADS=1 python benchmarks/blend_choice.py --data-root /tmp/data/celeba64 \
        --masks center,random:0.8,half,pattern:0.25,grid:4 --n 8 --start 100
"""

from __future__ import annotations

import argparse
import time

import torch

import ganinverse as gi
from ganinverse.blending import Blend
from ganinverse.data import load_images
from ganinverse.inpaint_baselines import biharmonic_inpaint
from ganinverse.masks import parse_mask
from ganinverse.methods import reconstruct_result
from ganinverse.operators import Inpainting
from ganinverse.sweep import mean_ci95


def psnr(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) on the [-1, 1] scale (peak-to-peak 2)."""
    return 10 * torch.log10(4 / (x_hat - x).pow(2).flatten(1).mean(1))


def iagan_completion(G, x, ids, spec: str, adapt_steps: int):
    """The face-inpainting sweep's masks (seed 0, by image id) and iagan's completion of x with
    its settings (500 CSGM steps, 2 restarts, lr 0.1), not blended -> (mask, y, g, s/face)."""
    mask = parse_mask(spec, len(x), G.image_shape, seed=0, ids=ids)
    op = Inpainting(mask, G.image_shape)
    y = op.measure(x)
    t0 = time.perf_counter()
    g = reconstruct_result(
        "iagan",
        G,
        op,
        y,
        adapt_steps=adapt_steps,
        steps=500,
        restarts=2,
        lr=0.1,
        progress=False,
        image_ids=ids,
    ).x_hat.detach()
    return mask, y, g, (time.perf_counter() - t0) / len(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", required=True)
    p.add_argument("--masks", default="center,random:0.8,half,pattern:0.25,grid:4")
    p.add_argument("--alphas", default="0.25,0.5,0.75,0.9,1")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--start", type=int, default=100, help="first training face")
    args = p.parse_args()
    torch.set_num_threads(1)
    alphas = [float(a) for a in args.alphas.split(",")]
    G = gi.load_generator("celeba64-dcgan", device="cpu")
    x, _ = load_images("celeba64", args.data_root, "train", n=args.n, start=args.start)
    ids = list(range(args.start, args.start + args.n))
    for spec in args.masks.split(","):
        mask, y, g, seconds = iagan_completion(G, x, ids, spec, adapt_steps=300)
        base = psnr(biharmonic_inpaint(y, mask), x)
        print(
            f"{spec}: {args.n} training faces from {args.start}, iagan {seconds:.1f} s/face, "
            f"biharmonic {float(base.mean()):.2f} dB",
            flush=True,
        )
        rows = []
        for interpolant in ("poisson", "biharmonic"):
            for alpha in alphas:
                d = psnr(Blend(interpolant, alpha)(g, y, mask), x) - base
                mean, half = mean_ci95(d.tolist())
                rows.append((mean, f"{interpolant}:{alpha:g}", half, int((d > 0).sum())))
        for mean, name, half, wins in rows:
            print(f"  {name:16s} − biharmonic {mean:+.2f} ± {half:.2f}  higher {wins}/{args.n}")
        best = max(rows)
        print(f"  best: {best[1]} ({best[0]:+.2f} dB over biharmonic)", flush=True)


if __name__ == "__main__":
    main()
