"""IAGAN's cost and gain on toy problems (CPU).

1. Batched vs per-image fine-tuning: ms per image per Adam step of the vmap path that
   ``solvers/adaptive.py`` runs (θ stacked per image, ``functional_call`` under ``vmap``) against
   a plain loop over images (each image its own θ copy and Adam, no vmap), same arithmetic.
2. The acceptance problem of tests/solvers/test_adaptive.py: the conftest's untrained toy MLP
   (1x8x8), three scikit-learn digits on [-0.9, 0.9], noiseless GaussianCS with m = n = 64, no
   back-projection: per-pixel MSE of CSGM and IAGAN, their ratio, seconds per image of each.

    PYTHONPATH=. python benchmarks/iagan_speed.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from torch.func import functional_call

from ganinverse.latent import frozen
from ganinverse.models import DCGANGenerator, load_generator
from ganinverse.operators import GaussianCS
from ganinverse.solvers.adaptive import _finetune, iagan
from ganinverse.solvers.csgm import csgm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import ToyGenerator  # the tests' toy generator


def loop(G, op, y, z0, steps, lr):
    """The per-image alternative: one θ copy and one Adam per image, G called without vmap."""
    out = []
    buffers = dict(G.named_buffers())
    for i in range(len(y)):
        params = {k: v.detach().clone().requires_grad_() for k, v in G.named_parameters()}
        z = z0[i : i + 1].clone().requires_grad_()
        opt = torch.optim.Adam(
            [{"params": list(params.values()), "lr": lr}, {"params": [z], "lr": lr}]
        )
        row = torch.tensor([i])
        for _ in range(steps):
            opt.zero_grad()
            x = functional_call(G, (params, buffers), (z,))
            op.data_misfit(y[i : i + 1], op.A_rows(x, row), row).sum().backward()
            opt.step()
        out.append(x.detach())
    return torch.cat(out)


def speed(steps: int) -> None:
    torch.manual_seed(0)
    generators = {
        "toy MLP 1x8x8": ToyGenerator(),
        "DCGAN 28 ngf=4": DCGANGenerator(8, (1, 28, 28), ngf=4),
        "DCGAN 28 ngf=16": DCGANGenerator(32, (1, 28, 28), ngf=16),
        "digits DCGAN (ngf=32)": load_generator("digits", device="cpu"),
    }
    for name, G in generators.items():
        n = G.image_shape[0] * G.image_shape[1] * G.image_shape[2]
        op = GaussianCS(G.image_shape, n // 2, seed=0)
        for B in (2, 8):
            y = op.A(torch.rand(B, *G.image_shape) * 2 - 1)
            z0 = torch.randn(B, G.latent_dim)
            rows = torch.arange(B)
            with frozen(G):
                t = time.perf_counter()
                _finetune(G, op, y, rows, z0, steps, 1e-3, 1e-3, None)
                batched = time.perf_counter() - t
                t = time.perf_counter()
                loop(G, op, y, z0, steps, 1e-3)
                looped = time.perf_counter() - t
            per = 1000 / (steps * B)
            print(
                f"{name}, B={B}: vmap {batched * per:.3f} ms/image/step, "
                f"per-image loop {looped * per:.3f} ms/image/step",
                flush=True,
            )


def acceptance() -> None:
    torch.manual_seed(0)
    G = ToyGenerator()
    d = torch.tensor(load_digits().images[:3], dtype=torch.float32)[:, None] / 16
    x = d * 1.8 - 0.9
    op = GaussianCS(G.image_shape, 64, seed=1)
    y = op.measure(x)
    start = csgm(
        G, op, y, restarts=2, steps=150, lr=0.05, lambda_z=0.0, progress=False, image_ids=[0, 1, 2]
    )
    res = iagan(G, op, y, start=start, adapt_steps=300, lr_theta=1e-2, lr_z=1e-2)
    a, b = float((start.x_hat - x).pow(2).mean()), float((res.x_hat - x).pow(2).mean())
    print(
        f"acceptance problem: CSGM MSE {a:.4g} ({start.seconds / 3:.3f} s/image), IAGAN MSE "
        f"{b:.4g} ({res.seconds / 3:.3f} s/image incl. CSGM's start; fine-tuning "
        f"{(res.seconds - start.seconds) / 3:.3f} s/image), ratio CSGM/IAGAN {a / b:.1f}"
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steps", type=int, default=50, help="Adam steps timed per setting")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    acceptance()
    speed(args.steps)


if __name__ == "__main__":
    main()
