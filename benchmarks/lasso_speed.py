"""Lasso baseline speed: scikit-learn one image at a time (as the CSGM code ran it) vs one
scikit-learn multi-target call vs batched torch FISTA, at matched objective values.

    .venv/bin/python benchmarks/lasso_speed.py [--dataset digits] [--m 100 300] [--n-images 64]

Images: 28x28 in [-1, 1]; A has i.i.d. N(0, 1/m) entries (shared by the batch); y = A x + noise.
lam is chosen per (basis, m) on validation images (train split) by FISTA, never on the timed
(test) images. Every method's objective is compared with the best objective any solver reached
for that image: gap = (f - f_best) / f_best.
Results: benchmarks/results/lasso_speed/results.csv and README.md (written atomically).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from dataclasses import fields
from pathlib import Path

import torch
from csv_rows import write_rows  # benchmarks/csv_rows.py
from threadpoolctl import threadpool_limits

from ganinverse.baselines import SparseResult, choose_lambda, lasso_fista, lasso_sklearn
from ganinverse.bases import make_basis
from ganinverse.data import load_images
from ganinverse.io import atomic_write_text
from ganinverse.metrics import mse

OUT = Path(__file__).parent / "results" / "lasso_speed"
LAMS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# (label, scikit-learn tol, FISTA tol): both are the relative duality gap gap <= tol P(c) now
SETTINGS = (("loose", 1e-4, 1e-4), ("tight", 1e-6, 1e-6))


def _timed(fn, *args, **kwargs):
    """Run fn; return (result, CPU seconds of this process, wall seconds). With one thread the
    CPU time is the robust number on a shared machine; wall time is reported beside it."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.process_time() - cpu, time.perf_counter() - wall


def _sklearn_one_at_a_time(A, y, basis, lam, tol):
    """How CSGM ran the baseline: one Lasso fit per image."""
    results = [lasso_sklearn(A, y[i : i + 1], basis, None, lam, tol=tol) for i in range(len(y))]
    return SparseResult(
        *(torch.cat([getattr(r, f.name) for r in results]) for f in fields(SparseResult))
    )


def run(args: argparse.Namespace) -> list[dict]:
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # numpy/scipy BLAS used around scikit-learn
    x_test, _ = load_images(args.dataset, args.data_root, "test", n=args.n_images, image_size=28)
    x_val, _ = load_images(args.dataset, args.data_root, "train", n=args.n_val, image_size=28)
    n = x_test[0].numel()
    rows = []
    for m in args.m:
        g = torch.Generator().manual_seed(args.seed + m)
        A = torch.randn(m, n, generator=g) / math.sqrt(m)
        y = x_test.flatten(1) @ A.T + args.noise_std * torch.randn(len(x_test), m, generator=g)
        y_val = x_val.flatten(1) @ A.T + args.noise_std * torch.randn(len(x_val), m, generator=g)
        for basis_name in args.bases:
            basis = make_basis(basis_name, (28, 28))
            lam, _ = choose_lambda(A, y_val, x_val, basis, LAMS, tol=1e-4, device="cpu")
            # warm-up (imports, allocator) outside the timings
            lasso_sklearn(A, y[:2], basis, None, lam)
            lasso_fista(A, y[:2], basis, None, lam, device="cpu")
            runs = []  # (setting, method, tol, result, cpu seconds, wall seconds)
            for label, sk_tol, fista_tol in SETTINGS:
                runs.append(
                    (
                        label,
                        "a: sklearn per image",
                        sk_tol,
                        *_timed(_sklearn_one_at_a_time, A, y, basis, lam, sk_tol),
                    )
                )
                runs.append(
                    (
                        label,
                        "b: sklearn multi-target",
                        sk_tol,
                        *_timed(lasso_sklearn, A, y, basis, None, lam, tol=sk_tol),
                    )
                )
                runs.append(
                    (
                        label,
                        "c: torch FISTA batched",
                        fista_tol,
                        *_timed(
                            lasso_fista,
                            A,
                            y,
                            basis,
                            None,
                            lam,
                            tol=fista_tol,
                            max_iter=50_000,
                            device="cpu",
                        ),
                    )
                )
            best = torch.stack([r[3].objective for r in runs]).min(0).values
            cpu_a = {r[0]: r[4] for r in runs if r[1].startswith("a:")}
            for label, method, tol, res, cpu, wall in runs:
                gap = (res.objective - best) / best
                rows.append(
                    {
                        "basis": basis_name,
                        "m": m,
                        "n": n,
                        "images": len(x_test),
                        "lam": lam,
                        "setting": label,
                        "method": method,
                        "tol": tol,
                        "cpu_s": round(cpu, 3),
                        "wall_s": round(wall, 3),
                        "speedup_vs_a": round(cpu_a[label] / cpu, 2),
                        "gap_max": f"{float(gap.max()):.2e}",
                        "gap_mean": f"{float(gap.mean()):.2e}",
                        "iterations_mean": round(float(res.iterations.float().mean()), 1),
                        "mse_mean": f"{float(mse(res.x_hat, x_test).mean()):.5f}",
                    }
                )
                print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    return rows


def write(rows: list[dict], args: argparse.Namespace, out: Path) -> None:
    write_rows(out / "results.csv", list(rows[0]), rows)
    cols = [
        "basis",
        "m",
        "lam",
        "setting",
        "method",
        "tol",
        "cpu_s",
        "wall_s",
        "speedup_vs_a",
        "gap_max",
        "iterations_mean",
        "mse_mean",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    text = f"""# Lasso baseline speed

`{" ".join(["benchmarks/lasso_speed.py", *args.argv])}` on {platform.machine()}, torch
{torch.__version__}, {args.threads} thread(s) for torch and BLAS; scikit-learn's coordinate
descent is single-threaded. Dataset `{args.dataset}` test split, {args.n_images} images 28x28 in
[-1, 1]; A ~ N(0, 1/m) shared; noise std {args.noise_std}; lam chosen on {args.n_val} validation
(train-split) images from {list(LAMS)}.

Methods: (a) scikit-learn `Lasso` one image at a time (as the CSGM code ran it), (b) one
multi-target scikit-learn call for the batch, (c) batched torch FISTA (`lasso_fista`).
`cpu_s`: process CPU seconds (the machine is shared, so this is the number to compare; `wall_s`
beside it). `speedup_vs_a` = cpu_s(a) / cpu_s. `gap_max` = max over images of
(f - f_best) / f_best, f = 1/2 ||y - A Psi^T c||^2 + lam ||c||_1, f_best the lowest value any
solver reached for that image. `tol`: the relative duality gap gap <= tol P(c) at which every
method stops (the same rule for (a), (b) and (c)).

{chr(10).join(lines)}
"""
    atomic_write_text(out / "README.md", text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-root", default=None)
    p.add_argument("--n-images", type=int, default=64)
    p.add_argument("--n-val", type=int, default=16)
    p.add_argument("--m", type=int, nargs="+", default=[100, 300])
    p.add_argument("--bases", nargs="+", default=["dct", "wavelet"])
    p.add_argument("--noise-std", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    rows = run(args)
    write(rows, args, args.out)
    print(f"wrote {args.out / 'results.csv'} and {args.out / 'README.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
