"""Paired differences between two methods of a sweep (per m) or of the inpainting benchmark
(per mask), on the images both have.

    python benchmarks/paired.py benchmarks/results/celeba_sweep_full csgm-sparse csgm
    python benchmarks/paired.py benchmarks/results/mnist_sweep_tuned csgm lasso-dct --metric mse
    python benchmarks/paired.py benchmarks/results/mnist_sweep_vae csgm csgm --metric mse \
        --b-from benchmarks/results/mnist_sweep_tuned
    python benchmarks/paired.py benchmarks/results/reruns/inpainting/mnist ours-blended \
        ours-blended --b-from benchmarks/results/inpainting/mnist

``--b-from`` reads method B from another sweep; with the same dataset, seed, noise and m the two
sweeps share A, the noise and the images (``ganinverse.sweep`` seeds them by seed, m and image).

Prints, per m: n, mean of A − B with its 95% Student-t half-width (ganinverse.sweep.mean_ci95),
and on how many images A is better (higher PSNR/SSIM, lower MSE). Differences on the same
images and the same measurements are far tighter than the two methods' own CIs.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from csv_rows import read_rows  # benchmarks/csv_rows.py

from ganinverse.sweep import mean_ci95


def _values(out: Path, metric: str) -> dict[tuple[str, str], dict[int, float]]:
    """(method, m or mask) -> {image: metric} from a results folder's rows.csv (complete rows)."""
    values: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for row in read_rows(out / "rows.csv"):
        if not row.get(metric):
            continue  # no such column (--metric mse of inpainting rows), or no value
        group = row["m"] if "m" in row else row["mask"]
        values[(row["method"], group)][int(row["image"])] = float(row[metric])
    return values


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path, help="a sweep's output folder (rows.csv)")
    p.add_argument("a", help="method A")
    p.add_argument("b", help="method B")
    p.add_argument("--metric", default="psnr", choices=("psnr", "ssim", "mse"))
    p.add_argument("--b-from", type=Path, default=None, help="sweep folder of method B")
    args = p.parse_args(argv)
    a_values, b_values = (
        _values(args.out, args.metric),
        _values(args.b_from or args.out, args.metric),
    )
    for method, values, out in ((args.a, a_values, args.out), (args.b, b_values, args.b_from)):
        if not any(key[0] == method for key in values):
            p.error(f"no rows of method {method!r} in {(out or args.out) / 'rows.csv'}")
    sign = -1 if args.metric == "mse" else 1
    print(f"{args.metric}: {args.a} - {args.b}" + (f" of {args.b_from}" if args.b_from else ""))
    print("m/mask\tn\tmean ± 95% CI\tA better")
    groups = {m for _, m in a_values}
    for m in sorted(groups, key=lambda g: (not g.isdigit(), int(g) if g.isdigit() else g)):
        a, b = a_values.get((args.a, m), {}), b_values.get((args.b, m), {})
        shared = sorted(a.keys() & b.keys())
        if not shared:
            continue
        diff = [a[i] - b[i] for i in shared]
        mean, ci = mean_ci95(diff)
        better = sum(sign * d > 0 for d in diff)
        print(f"{m}\t{len(shared)}\t{mean:+.4g} ± {ci:.2g}\t{better}/{len(shared)}")


if __name__ == "__main__":
    main()
