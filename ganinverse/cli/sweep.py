"""``ganinverse sweep`` and ``ganinverse sweep-merge``: measurement-count sweeps."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..io import read_json
from ..methods import LASSO_LAMBDAS, METHODS
from ..sweep import Sweep, SweepSpec, parse_shard, report
from ._common import (
    add_engine_args,
    engine_list,
    engine_overrides,
    float_list,
    int_list,
    str_list,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="error vs number of measurements for several methods (resumable, shardable)",
        description="One CSV row per (image, m, method) written as it goes; rerun to resume. "
        "Writes rows.csv, summary.csv/.md (mean, 95%% CI, time per image), error_vs_m.png and "
        "grid_m*.png. Under torchrun, or with --shard K/N, each process takes every N-th unit; "
        "then run sweep-merge.",
    )
    p.add_argument("--generator", help="bundled name or checkpoint path (needed by csgm methods)")
    p.add_argument("--dataset", required=True, help="digits, mnist, fashion-mnist, celeba64, ...")
    p.add_argument("--data-root", help="dataset folder (torchvision layout / npz folder)")
    p.add_argument("--split", default="test")
    p.add_argument("--start", type=int, default=0, help="first image index of the split")
    p.add_argument("--m", type=int_list, required=True, dest="m_values", help="e.g. 10,25,50,100")
    p.add_argument(
        "--methods",
        type=str_list,
        default=("csgm", "lasso-dct", "lasso-wavelet"),
        help=f"comma-separated, from: {', '.join(METHODS)}",
    )
    p.add_argument("--n-images", type=int, default=300)
    p.add_argument(
        "--noise-std",
        type=float,
        default=0.1,
        help="noise std per measurement on the [0, 1] image scale (as in CSGM)",
    )
    p.add_argument("--batch-size", type=int, default=25, help="images per work unit")
    p.add_argument(
        "--n-val", type=int, default=10, help="validation images (train split) for Lasso's λ"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--sparse-basis", default="dct", help="basis of the sparse deviation (csgm-sparse)"
    )
    p.add_argument(
        "--sparse-l1", type=float, default=0.01, help="ℓ1 weight of the sparse deviation"
    )
    tune = p.add_argument_group(
        "weights chosen per m on the validation images (lowest MSE; recorded in lambdas.json)"
    )
    grid = tune.add_mutually_exclusive_group()
    grid.add_argument(
        "--lambda-z-grid",
        type=float_list,
        help="λ_z candidates for csgm and csgm-sparse, e.g. 0.1,0.01,0.001 (default: --lambda-z)",
    )
    grid.add_argument(
        "--engine-grid",
        type=engine_list,
        help="engine candidates for csgm and csgm-sparse, ';'-separated, each KEY=VALUE,...: "
        "e.g. 'lambda_z=0.3,steps=300;lambda_z=0.001,steps=1000'",
    )
    tune.add_argument(
        "--sparse-l1-grid",
        type=float_list,
        default=(),
        help="ℓ1 candidates for csgm-sparse's deviation (default: --sparse-l1)",
    )
    tune.add_argument(
        "--lasso-lambdas",
        type=float_list,
        default=LASSO_LAMBDAS,
        help=f"λ candidates for Lasso (default: {','.join(map(str, LASSO_LAMBDAS))})",
    )
    p.add_argument("--shard", help="K/N: run only every N-th work unit starting at K")
    p.add_argument("--out", required=True, help="output folder (resumes if it exists)")
    add_engine_args(p)
    p.set_defaults(func=run)

    q = subparsers.add_parser("sweep-merge", help="merge the shards of a sweep folder and report")
    q.add_argument("out", help="the sweep folder")
    q.set_defaults(func=run_merge)


def _engine_grid(args: argparse.Namespace) -> tuple[dict, ...]:
    if args.lambda_z_grid:
        return tuple({"lambda_z": v} for v in args.lambda_z_grid)
    return args.engine_grid or ()


def _shard(args: argparse.Namespace) -> tuple[int, int]:
    if args.shard:
        return parse_shard(args.shard)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), world)


def run(args: argparse.Namespace) -> int:
    spec = SweepSpec(
        dataset=args.dataset,
        m_values=args.m_values,
        methods=args.methods,
        generator=args.generator,
        data_root=args.data_root,
        split=args.split,
        start=args.start,
        n_images=args.n_images,
        noise_std=args.noise_std,
        batch_size=args.batch_size,
        n_val=args.n_val,
        seed=args.seed,
        engine=engine_overrides(args),
        sparse_basis=args.sparse_basis,
        sparse_l1=args.sparse_l1,
        engine_grid=_engine_grid(args),
        sparse_l1_grid=args.sparse_l1_grid,
        lasso_lambdas=args.lasso_lambdas,
    )
    shard = _shard(args)
    path = Sweep(spec, args.out, device=args.device).run(shard, progress=not args.no_progress)
    if shard[1] > 1:
        print(f"shard {shard[0]}/{shard[1]} done: {path}; run `ganinverse sweep-merge {args.out}`")
        return 0
    print(report(args.out, title=_title(spec.to_json())))
    print(f"results in {args.out}")
    return 0


def _title(spec: dict) -> str:
    """The report's title from a sweep's settings (``SweepSpec.to_json()`` or its sweep.json)."""
    return (
        f"{spec['dataset']}, generator {spec['generator']}, noise σ = {spec['noise_std']} "
        "([0,1] scale)"
    )


def run_merge(args: argparse.Namespace) -> int:
    if not Path(args.out).is_dir():
        raise ValueError(f"sweep-merge: {args.out!r} is not a folder; pass a sweep's --out folder")
    saved = Path(args.out) / "sweep.json"
    title = _title(read_json(saved, "sweep spec")) if saved.is_file() else ""
    print(report(args.out, title=title))
    return 0
