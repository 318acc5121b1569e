"""Defaults of ``lasso-wavelet-frame`` (wavelet, level) chosen on VALIDATION images.

The first ``--n`` MNIST *train* images (never test images), GaussianCS with m = 25 and 100
(``GaussianCS.from_setting``: the sweeps' seeding), noise σ = 0.1 on the [0, 1] image scale
(noise_std 2σ on the library's [-1, 1] scale). For every (wavelet, level) of ``--settings``
(``all``: every wavelet of ``--wavelets`` at every level that fits 28x28 images,
``bases.max_frame_level``) and every coarse-band weight β of ``--band-weights``, λ is tuned on
the same images by ``choose_weight`` over ``--lambdas`` (the peer benchmark's grid), and the validation
MSE ([0, 1] scale) at the chosen λ is recorded; ``lasso-wavelet-detail`` (periodized Haar, the
earlier method) is the reference row. The default is the setting with the lowest mean of its
validation MSEs over the m values.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/wavelet_frame_defaults.py \\
        --out benchmarks/results/wavelet_frame_defaults

Writes ``results.csv`` (one row per setting and m) and ``results.md`` (table and command).
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import sys
import time
import warnings
from pathlib import Path

import pywt
import torch

import ganinverse as gi
from ganinverse.bases import max_frame_level
from ganinverse.exceptions import ConvergenceWarning
from ganinverse.methods import LASSO_LAMBDAS
from ganinverse.operators import GaussianCS

LAMBDAS = (*LASSO_LAMBDAS, 10.0, 30.0, 100.0, 300.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-root", default="/tmp/data")
    p.add_argument("--n", type=int, default=20, help="validation images: train 0..n-1")
    p.add_argument("--m", default="25,100")
    p.add_argument("--noise-std", type=float, default=0.1, help="σ on the [0, 1] scale")
    p.add_argument(
        "--settings",
        default="haar:3,db2:4,db4:3,db4:4,db8:2,db8:3",
        help="wavelet:level pairs (comma-separated); 'all' = every wavelet of --wavelets at "
        "every level that fits",
    )
    p.add_argument("--wavelets", default="haar,db2,db4,db6,db8,sym8")
    p.add_argument("--max-level", type=int, default=6)
    p.add_argument("--band-weights", default="0,0.03,0.1,0.3", help="β of the coarse band")
    p.add_argument("--lambdas", default=",".join(map(str, LAMBDAS)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/wavelet_frame_defaults")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/wavelet_frame_defaults.py " + (
        shlex.join(sys.argv[1:] if argv is None else argv)
    )
    lams = [float(v) for v in args.lambdas.split(",")]
    x, _ = gi.load_images("mnist", args.data_root, "train", n=args.n)
    ids = list(range(len(x)))
    settings: list[tuple[str, dict]] = [("lasso-wavelet-detail", {})]
    pairs = []
    if args.settings == "all":
        for wv in args.wavelets.split(","):
            top = min(args.max_level, max_frame_level(28, pywt.Wavelet(wv).dec_len))
            pairs += [(wv, lv) for lv in range(1, top + 1)]
    else:
        pairs = [(s.split(":")[0], int(s.split(":")[1])) for s in args.settings.split(",")]
    for wv, lv in pairs:
        for beta in (float(v) for v in args.band_weights.split(",")):
            opts = {"wavelet": wv, "level": lv, "band_weight": beta}
            settings.append(("lasso-wavelet-frame", opts))
    rows = []
    for m in (int(v) for v in args.m.split(",")):
        op = GaussianCS.from_setting((1, 28, 28), m, seed=args.seed, noise_std=2 * args.noise_std)
        y = op.measure(x, seed=gi.seeds.derive_seed(args.seed, "validation-noise", m))
        for method, opts in settings:
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                lam, scores = gi.choose_weight(method, None, op, x, y, lams, opts, image_ids=ids)
            seconds = time.perf_counter() - start
            best = min(s for _, s in scores if math.isfinite(s))
            unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
            row = {
                "m": m,
                "method": method,
                "wavelet": opts.get("wavelet", "haar (periodized)"),
                "level": opts.get("level", 2),
                "band_weight": opts.get("band_weight", 0.0),
                "lam": lam,
                "val_mse": f"{best:.5f}",
                "seconds": f"{seconds:.2f}",
                "convergence_warnings": unconverged,
            }
            rows.append(row)
            print(row, flush=True)
    with (out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ms = sorted({r["m"] for r in rows})
    table: dict[tuple, dict] = {}
    for r in rows:
        table.setdefault((r["method"], r["wavelet"], r["level"], r["band_weight"]), {})[r["m"]] = r
    ranked = sorted(table.items(), key=lambda kv: sum(float(v["val_mse"]) for v in kv[1].values()))
    lines = [
        "# lasso-wavelet-frame defaults, chosen on validation images",
        "",
        f"MNIST train images 0-{args.n - 1}, GaussianCS (sweep seeding, seed {args.seed}), "
        f"σ = {args.noise_std} on [0, 1]; λ tuned per setting and m on the same images over "
        f"{args.lambdas}. MSE per pixel on [0, 1] at the chosen λ; sorted by the mean over m.",
        "",
        "| method | wavelet | level | band weight β | "
        + " | ".join(f"m = {m}: MSE (λ)" for m in ms)
        + " | mean MSE | seconds (λ search, all m) |",
        "|---" * (5 + len(ms) + 1) + "|",
    ]
    for (method, wv, lv, beta), by_m in ranked:
        cells = " | ".join(f"{by_m[m]['val_mse']} ({by_m[m]['lam']:g})" for m in ms)
        mean = sum(float(v["val_mse"]) for v in by_m.values()) / len(by_m)
        sec = sum(float(v["seconds"]) for v in by_m.values())
        lines.append(f"| {method} | {wv} | {lv} | {beta:g} | {cells} | {mean:.5f} | {sec:.1f} |")
    lines += ["", "Command:", "", f"    {command}", ""]
    (out / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
