"""``ganinverse demo``: the main job on the embedded default, offline, in minutes on a CPU.

A small compressed-sensing sweep with the bundled ``digits`` generator on held-out
scikit-learn digits: CSGM vs Lasso-DCT vs Lasso-wavelet, printing the table and writing the
error-vs-m plot and image grids.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io import read_json
from ..methods import LASSO_LAMBDAS
from ..sweep import Sweep, SweepSpec, report
from ..sweep.runner import DifferentSweepError

DEMO = dict(
    dataset="digits",
    generator="digits",
    x_values=(10, 25, 50, 100, 200, 400),
    methods=("csgm", "lasso-dct", "lasso-wavelet"),
    n_images=20,
    noise_std=0.01,
    batch_size=20,
    n_val=10,
    engine={"restarts": 4, "steps": 300, "lr": 0.05, "prune_at": (0.2,)},
    # the default grid's ends are too near the optimum at the demo's smallest and largest m:
    # with 10-25 of 784 pixels measured both Lassos' validation error still falls at its top
    # (3.0; λ = 10 chosen when offered), at m = 400 Lasso-wavelet's at its bottom (0.001;
    # 3e-4 chosen): the demo's grid reaches past them (GridEdgeWarning otherwise)
    lasso_lambdas=(1e-4, 3e-4, *LASSO_LAMBDAS, 10.0, 30.0),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="CSGM vs Lasso on held-out digits with the bundled generator (offline, minutes)",
        description="Runs a small measurement-count sweep with the bundled 'digits' generator on "
        "held-out scikit-learn digits and writes the table, error_vs_m.png and grid_m*.png.",
    )
    p.add_argument("--out", default="ganinverse-demo", help="output folder (resumes if it exists)")
    p.add_argument("--n-images", type=int, default=DEMO["n_images"])
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _another_sweep(out: str, spec: SweepSpec) -> str:
    """Why the demo cannot resume ``out``, and the fix: the --n-images of an earlier demo there
    (the only setting the demo takes), else another --out (the folder is no demo's)."""
    import dataclasses

    saved = read_json(Path(out) / "sweep.json", "sweep spec")
    n = saved.get("n_images")
    if isinstance(n, int) and n >= 1 and dataclasses.replace(spec, n_images=n).matches(saved):
        return (
            f"--out {out} holds this demo run on {n} images, which --n-images {spec.n_images} "
            f"does not grow: pass --n-images {n} (or more) to resume it, or another --out"
        )
    return (
        f"--out {out} holds the results of another sweep, not of this demo (see its "
        "sweep.json): pass another --out"
    )


def run(args: argparse.Namespace) -> int:
    spec = SweepSpec(**{**DEMO, "n_images": args.n_images})
    try:  # (every check first: the banner follows a start that can run)
        sweep = Sweep(spec, args.out, device=args.device)
    except DifferentSweepError as err:  # (its advice names sweep flags the demo does not have)
        raise ValueError(_another_sweep(args.out, spec)) from err
    print(
        f"CSGM (bundled 'digits' generator) vs Lasso on {spec.n_images} held-out digits, "
        f"m = {', '.join(map(str, spec.x_values))} of n = 784, noise σ = {spec.noise_std} ([0,1] scale)"
    )
    sweep.run(progress=not args.no_progress)
    print(report(args.out, title="demo: digits, CSGM vs Lasso"))
    print(f"plot: {args.out}/error_vs_m.png, grids: {args.out}/grid_m*.png")
    return 0
