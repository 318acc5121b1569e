"""Does averaging image-adaptive reconstructions help where restart averaging did not (+0.21 dB,
``iagan_null_space.py``)? Restarts of one generator converge to nearly the same face; two other
sources of diversity are probed here on held-out VALIDATION faces (never test faces):

1. transformed problems: for a permutation T of the pixels (``--transforms``: the mirror image F,
   circular shifts), T x has the same measurements under A T⁻¹, so reconstructing T x from
   (A T⁻¹, y) and transforming back gives another estimate from other CSGM starts (for F this
   is the reconstruction with F∘G, ``iagan(mirror=True)``);
2. other generators: each ``--generators`` entry reconstructs the same y.

For every generator and mirror: csgm (the faces sweep's settings) then iagan (+TV); the rows are
each estimate alone and the averages of every subset. Writes results.csv (PSNR and per-pixel MSE
on [0, 1], mean over the faces, and the 95% CI half-width of the per-face PSNR) and prints it.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/iagan_ensemble.py --data-root /tmp/data/celeba64 \
        --generators celeba64-lsgan,celeba64-dcgan --transforms id,mirror \
        --out benchmarks/results/iagan_ensemble/generators
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/iagan_ensemble.py --data-root /tmp/data/celeba64 \
        --generators celeba64-lsgan --max-subset 2 --transforms id,mirror,roll:0:1,roll:0:-1,\
    roll:1:0,roll:-1:0,mirror+roll:0:1,mirror+roll:0:-1 --out benchmarks/results/iagan_ensemble/transforms

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/iagan_ensemble.py --data-root /tmp/data/celeba64 \
        --generators celeba64-lsgan,celeba64-lsgan@raw --transforms id,mirror \
        --out benchmarks/results/iagan_ensemble/raw_weights

    for tv in 0.2 0.45; do OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/iagan_ensemble.py \
        --data-root /tmp/data/celeba64 --generators celeba64-lsgan --transforms id,mirror --tv $tv \
        --out benchmarks/results/iagan_ensemble/tv_$tv; done

    # a snapshot of celeba64-lsgan fine-tuned on the CPU with mirrored faces (session 35;
    # benchmarks/pretrain/celeba64_cpu.sh celeba64-cpu-ft choose 5237 writes the snapshot)
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/iagan_ensemble.py --data-root /tmp/data/celeba64 \
        --generators celeba64-lsgan,runs/celeba64-cpu-ft-snapshots/step5237 --transforms id,mirror \
        --out benchmarks/results/iagan_ensemble/finetuned_snapshot

(faces 5900-5907 of the train split: held out of celeba64-lsgan's training, faces 0-5899.)
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
import warnings

import torch
from csv_rows import append_rows, new_results  # benchmarks/csv_rows.py

from ganinverse import metrics
from ganinverse.data import load_images
from ganinverse.exceptions import ConvergenceWarning
from ganinverse.models import load_generator
from ganinverse.operators import GaussianCS, MatrixOperator
from ganinverse.solvers.adaptive import iagan
from ganinverse.solvers.csgm import CSGM_PRESETS, csgm

FIELDS = ("estimate", "k", "psnr", "psnr_ci", "mse", "n", "m", "seconds")


def transform(name: str):
    """(T, T⁻¹) for a transform's name: "id", "mirror" (flip the width), "roll:dy:dx" (a
    circular shift by dy rows and dx columns), "mirror+roll:dy:dx" (both)."""
    fns = []
    for part in name.split("+"):
        if part == "mirror":
            fns.append((lambda t: t.flip(-1), lambda t: t.flip(-1)))
        elif part.startswith("roll:"):
            dy, dx = (int(v) for v in part.split(":")[1:])
            fns.append(
                (
                    lambda t, dy=dy, dx=dx: t.roll((dy, dx), (-2, -1)),
                    lambda t, dy=dy, dx=dx: t.roll((-dy, -dx), (-2, -1)),
                )
            )
        elif part != "id":
            raise ValueError(f"--transforms: unknown transform {part!r}")

    def forward(t):
        for f, _ in fns:
            t = f(t)
        return t

    def inverse(t):
        for _, g in reversed(fns):
            t = g(t)
        return t

    return forward, inverse


def transformed(op: GaussianCS, T) -> MatrixOperator:
    """The operator B with B (T x) = A x for a permutation T of the pixels: B's rows are A's
    rows transformed by T (⟨a, x⟩ = ⟨T a, T x⟩)."""
    m = op.matrix.shape[0]
    B = T(op.matrix.view(m, *op.in_shape)).reshape(m, -1)
    return MatrixOperator(B, op.in_shape, noise_std=op.noise.std)


def scored(name: str, k: int, x_hat, x, m: int, seconds: float) -> dict:
    p = metrics.psnr(x_hat, x)
    ci = 1.96 * float(p.std()) / math.sqrt(len(p)) if len(p) > 1 else float("nan")
    return {
        "estimate": name,
        "k": k,
        "psnr": f"{float(p.mean()):.3f}",
        "psnr_ci": f"{ci:.3f}",
        "mse": f"{float(metrics.mse(x_hat, x).mean()):.6f}",
        "n": len(x),
        "m": m,
        "seconds": f"{seconds:.1f}",
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--generators",
        default="celeba64-lsgan,celeba64-dcgan",
        help="bundled names or checkpoint folders; name@raw: its raw weights instead of the EMA",
    )
    p.add_argument("--dataset", default="celeba64")
    p.add_argument("--data-root")
    p.add_argument("--split", default="train")
    p.add_argument("--start", type=int, default=5900, help="first face (held out of training)")
    p.add_argument("--n-images", type=int, default=8)
    p.add_argument("--m", type=int, default=500)
    p.add_argument("--noise-std", type=float, default=0.01, help="σ on the [0, 1] scale")
    p.add_argument("--tv", type=float, default=0.3, help="iagan's λ_TV")
    p.add_argument("--transforms", default="id,mirror", help="id, mirror, roll:dy:dx, a+b")
    p.add_argument("--max-subset", type=int, default=4, help="averages of subsets up to this size")
    p.add_argument("--out", default="benchmarks/results/iagan_ensemble/transforms")
    args = p.parse_args()
    torch.set_num_threads(1)
    path = new_results(args.out, FIELDS)
    x, _ = load_images(
        args.dataset, args.data_root, split=args.split, n=args.n_images, start=args.start
    )
    op = GaussianCS(x.shape[1:], args.m, seed=args.m, noise_std=2 * args.noise_std)
    y = op.measure(x, seed=1)
    transforms = {t: transform(t) for t in args.transforms.split(",")}
    config = CSGM_PRESETS["celeba"].updated(progress=False)
    estimates: dict[str, torch.Tensor] = {}

    def record(row: dict) -> None:
        append_rows(path, FIELDS, [row])
        print(row, flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in args.generators.split(","):
            base, _, which = name.partition("@")  # ("name@raw": the raw weights, not the EMA)
            G = load_generator(base, device="cpu", ema=which != "raw")
            for tag, (T, T_inv) in transforms.items():
                t0 = time.perf_counter()
                A = transformed(op, T)
                start = csgm(G, A, y, config, image_ids=list(range(len(x))))
                res = iagan(G, A, y, start=start, tv_weight=args.tv)
                x_hat = T_inv(res.x_hat.clamp(-1, 1))
                estimates[f"{name}:{tag}"] = x_hat
                record(scored(f"{name}:{tag}", 1, x_hat, x, args.m, time.perf_counter() - t0))
    names = list(estimates)
    all_avg = torch.stack(list(estimates.values())).mean(0)
    record(scored("all", len(names), all_avg, x, args.m, 0.0))
    for k in range(2, min(args.max_subset, len(names)) + 1):
        for subset in itertools.combinations(names, k):
            avg = torch.stack([estimates[n] for n in subset]).mean(0)
            record(scored(" + ".join(subset), k, avg, x, args.m, 0.0))


if __name__ == "__main__":
    main()
