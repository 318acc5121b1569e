"""``ganinverse reconstruct``: one inverse problem from the command line."""

from __future__ import annotations

import argparse

from .. import metrics
from .._validation import check_int, check_positive
from ..data import load_image_file, load_images, save_image_file
from ..device import resolve_device
from ..io import check_output_dir, staged_output
from ..methods import GAN_METHODS, METHODS, MethodSettings, reconstruct
from ..operators import OPERATORS, make_operator
from ..plots import image_grid
from ._common import add_engine_args, engine_overrides

OWNER = "ganinverse reconstruct"  #: the writer named in --out's marker (io.staged_output)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reconstruct",
        help="recover an image from simulated measurements y = A x + noise",
        description="Simulates y = A x + noise for an image file or a dataset image, solves with "
        "the chosen method and writes original.png, reconstruction.png and comparison.png.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="an image file (resized to the generator's size)")
    src.add_argument("--dataset", help="a dataset name (with --index, --split, --data-root)")
    p.add_argument("--data-root")
    p.add_argument("--split", default="test")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--generator", default="digits", help="bundled name or checkpoint path")
    p.add_argument("--operator", default="gaussian", choices=OPERATORS)
    p.add_argument("--m", type=int, help="measurements (gaussian, subsample)")
    p.add_argument("--factor", type=int, default=2, help="downsampling factor (superres)")
    p.add_argument(
        "--noise-std", type=float, default=0.0, help="per measurement, [0, 1] image scale"
    )
    p.add_argument("--method", default="csgm", choices=METHODS)
    p.add_argument("--lam", type=float, default=0.03, help="Lasso's λ (Lasso methods)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    add_engine_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check every argument, the data and ``--out`` first; write the three images as one unit."""
    from ..models import load_generator

    out = check_output_dir(args.out, "--out", owner=OWNER)
    device = resolve_device(args.device)
    check_positive(args.noise_std, "--noise-std", strict=False)
    check_positive(args.lam, "--lam")
    check_int(args.seed, "--seed", low=0)
    check_int(args.index, "--index", low=0)
    config = MethodSettings().config.updated(
        progress=not args.no_progress, **engine_overrides(args)
    )
    G = load_generator(args.generator, device=device)
    c, h, _ = G.image_shape
    if args.image:
        x = load_image_file(args.image, image_size=h, channels=c)
    else:
        x, _ = load_images(args.dataset, args.data_root, args.split, n=1, start=args.index)
    if tuple(x.shape[1:]) != tuple(G.image_shape):
        raise ValueError(
            f"the image has shape {tuple(x.shape[1:])}, the generator makes {G.image_shape}: "
            "pick a generator trained on this data (--generator)"
        )
    op = make_operator(
        args.operator,
        G.image_shape,
        args.m,
        seed=args.seed,
        noise_std=2 * args.noise_std,
        factor=args.factor,
    )
    y = op.measure(x, seed=args.seed + 1)
    x_hat = (
        reconstruct(
            args.method,
            G if args.method in GAN_METHODS else None,
            op,
            y,
            MethodSettings(config=config),
            lam=args.lam,
            seed=args.seed,
            image_ids=None if args.image else [args.index],
        )
        .detach()
        .cpu()
    )
    with staged_output(out, OWNER) as stage:
        save_image_file(x, stage / "original.png")
        save_image_file(x_hat.clamp(-1, 1), stage / "reconstruction.png")
        image_grid([x, x_hat], ["original", args.method], stage / "comparison.png")
    err = float(metrics.mse(x_hat, x)[0])
    psnr = float(metrics.psnr(x_hat, x)[0])
    print(
        f"{args.method}, {args.operator} m={op.m}: MSE/pixel ([0,1]) {err:.5f}, PSNR {psnr:.2f} dB -> {out}"
    )
    return 0
