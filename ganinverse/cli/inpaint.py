"""``ganinverse inpaint``: fill missing pixels with any registered method that applies to the
Inpainting operator (default: Yeh et al. 2017's semantic inpainting), blended into the known pixels."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch

from .. import metrics
from .._validation import check_int
from ..blending import blend_spec
from ..data import (
    default_split,
    folder_files,
    load_image_file,
    load_images,
    save_image_file,
    warn_trained_on,
)
from ..device import resolve_device
from ..exceptions import ConversionWarning
from ..io import atomic_write_json, check_output_dir, staged_output
from ..masks import parse_mask
from ..methods import METHODS, get_method, reconstruct_result
from ..operators import Inpainting
from ..plots import image_grid
from ._common import (
    add_engine_args,
    add_method_flags,
    chains,
    check_axis_value,
    check_discriminator_used,
    check_flags_used,
    dataset_selection,
    engine_flag_owners,
    engine_overrides,
    engine_record,
    load_method_generator,
    method_options,
    note_conversion,
    recorded_conversions,
    run_fingerprints,
    set_method_flags,
    spelled_file,
    validate_methods,
)

OWNER = "ganinverse inpaint"  #: the writer named in --out's marker (io.staged_output)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inpaint",
        help="fill the missing pixels of images with a pretrained GAN (Yeh et al. 2017)",
        description="Masks the images, completes them with --method (default: Yeh et al.'s "
        "search of the generator's latent space: weighted context loss + discriminator prior), "
        "blends the completion into the known pixels (Poisson blending for every method unless "
        "--yeh-blend / --iagan-blend says otherwise: biharmonic[:α], or false for none) and "
        "writes NNN_masked.png, NNN_raw.png (the unblended completion), NNN_blended.png, "
        "comparison.png and summary.json (PSNR/SSIM of raw and blended against the unmasked "
        "input; 'options': the method's options, as reconstruct's; 'blend': the blend used).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--image",
        help="an image file or a folder of images (resized to G's size; kept as they are for a "
        "method without a generator)",
    )
    src.add_argument("--dataset", help="a dataset name (with --data-root, --split, --start, --n)")
    p.add_argument("--data-root", help="dataset folder (with --dataset)")
    p.add_argument("--split", help="dataset split (with --dataset; default test)")
    p.add_argument("--start", type=int, help="first dataset image (with --dataset; default 0)")
    p.add_argument("--n", type=int, help="number of dataset images (with --dataset; default 8)")
    p.add_argument(
        "--generator",
        help="bundled name or checkpoint path (default digits; only for a method that uses one)",
    )
    p.add_argument(
        "--discriminator",
        help="bundled name, checkpoint path or 'none' (default: the generator's own, if bundled)",
    )
    p.add_argument(
        "--mask",
        default="center",
        help="center[:side], random[:missing], half[:left|right|top|bottom|random], pattern[:missing], "
        "grid[:step] or a PNG of the image size, never resized (white = known, threshold 128); "
        "random masks are drawn per image from (--seed, dataset index); default center "
        "(half the side)",
    )
    p.add_argument(
        "--method",
        default="yeh",
        choices=_methods(),
        help="; ".join(f"{n}: {METHODS[n].summary}" for n in _methods()),
    )
    p.add_argument(
        "--box",
        type=float,
        help="clip z to [-box, box] (default 1, the paper's; 2 did better for 'digits')",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="seeds the random masks and the latent inits (default 0; refused where neither is)",
    )
    p.add_argument("--out", required=True, help="output folder")
    here = "true: NNN_blended.png is Poisson-blended, NNN_raw.png unblended"
    add_method_flags(p, defaults_here={"--iagan-blend": here, "--yeh-blend": here})
    add_engine_args(p)
    p.set_defaults(func=run)


def _methods() -> list[str]:
    """The registered methods that apply to the Inpainting operator."""
    return [
        name
        for name, record in METHODS.items()
        if record.operators is None or issubclass(Inpainting, record.operators)
    ]


def _check_flags_used(args: argparse.Namespace) -> None:
    """A flag of a method other than --method would be ignored: refused (the method options,
    --box of the latent methods, a --discriminator for a method that uses none)."""
    owners = set_method_flags(args)
    check_flags_used(owners, (args.method,), how="--method", choices=_methods())
    if args.discriminator not in (None, "none"):
        given = method_options(args, (args.method,))
        check_discriminator_used((args.method,), given, how="--method", choices=_methods())
    check_flags_used(  # an engine flag of a method with no latent search: refused
        engine_flag_owners(args, (args.method,)),
        (args.method,),
        how="--method",
        choices=_methods(),
        runs=chains((args.method,)),
    )


def _load_inputs(
    args: argparse.Namespace, image_shape: tuple[int, int, int] | None
) -> tuple[torch.Tensor, list[int] | None, list[str] | None, list[str]]:
    """(images, their identities, their files, the conversions made): dataset indices (they
    seed masks and restarts) or None; the files read (relative to a folder --image) in the
    order of the outputs, or None for a dataset; the messages of the conversions (colour to
    grey, stretched, 16-bit files holding 8-bit values; also printed). ``image_shape``: G's
    (C, H, W) the images are brought to; None keeps their own."""
    c, h, _ = (None, None, None) if image_shape is None else image_shape
    ids = files = None
    with recorded_conversions() as notes:
        if args.dataset is not None:  # ('' is no dataset: refused by its check, not "no --dataset")
            x, _ = load_images(
                args.dataset, args.data_root, args.split, n=args.n, start=args.start, image_size=h
            )
            ids = list(range(args.start, args.start + len(x)))
        elif Path(args.image).is_dir():
            x, _ = load_images("folder", args.image, image_size=h, channels=c)
            files = folder_files(args.image)
        else:
            x = load_image_file(args.image, image_size=h, channels=c)
            files = [Path(args.image).name]
    if files is not None and not Path(args.image).is_dir():
        converted = note_conversion(args.image, image_shape)
        notes[:0] = [f"image file {args.image}: {converted}"] if converted else []
    if image_shape is not None and tuple(x.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"the images have shape {tuple(x.shape[1:])}, the generator makes {image_shape}: "
            "pick a generator trained on this data (--generator)"
        )
    return x, ids, files, notes


def _load_discriminator(args: argparse.Namespace, G: torch.nn.Module, device: torch.device):
    """--discriminator, or by default the one stored beside a bundled / directory generator
    (refused when the two were exported at different training steps: a run folder whose save
    was interrupted between its two exports)."""
    from ..models import list_generators, load_discriminator

    if args.discriminator == "none":
        return None
    if args.discriminator:
        return load_discriminator(args.discriminator, device=device)
    if args.generator in list_generators() or Path(args.generator).is_dir():
        try:
            D = load_discriminator(args.generator, device=device)
        except FileNotFoundError:
            pass
        else:
            g_step = getattr(G, "checkpoint_config", {}).get("steps")
            d_step = getattr(D, "checkpoint_config", {}).get("steps")
            if g_step != d_step:
                raise ValueError(
                    f"the generator and discriminator in {args.generator!r} come from different "
                    f"training steps ({g_step} and {d_step}): an interrupted save; resume the run "
                    "(ganinverse-pretrain --resume) to export both again, or pass --discriminator"
                )
            return D
    print(
        f"note: no discriminator found beside {args.generator!r}; context loss only "
        "(--prior-weight 0)"
    )
    return None


def run(args: argparse.Namespace) -> int:
    """Check every argument, the data, the mask and ``--out`` first; write the images and
    summary.json as one unit (summary.json last)."""
    from ..latent import generator_device
    from ..models import recorded_training_status

    out = check_output_dir(args.out, "--out", owner=OWNER)
    device = resolve_device(args.device)
    split = default_split(args.dataset)
    dataset_selection(args, {"data_root": None, "split": split, "start": 0, "n": 8})
    seed_given, args.seed = args.seed is not None, 0 if args.seed is None else args.seed
    check_int(args.seed, "--seed", low=0)
    record = get_method(args.method)
    _check_flags_used(args)
    given = method_options(args, (args.method,))
    # the blend: the method's own option as given (default here, for every method: Poisson
    # blending; the flags' help says so), applied below to the raw completion, so raw.png and
    # blended.png show both; the solver runs without its own blend, and is checked so (iagan's
    # averaged Gaussian is in the raw completion, before this blend: no conflict here)
    how = blend_spec(given.get(args.method, {}).get("blend", True))
    if "blend" in given.get(args.method, {}):
        given = {**given, args.method: {**given[args.method], "blend": False}}
    engine = engine_overrides(args)  # (with --box)
    checks = {"engine": engine, "how": "--method", "operator": Inpainting, "noise_std": 0.0}
    checks["noise_fixed"] = "inpaint measures without noise (it has no --noise-std)"
    options = validate_methods((args.method,), given, **checks)[args.method]
    if record.latent:  # every engine flag checked before any work
        options["config"] = options["config"].overridden(progress=not args.no_progress, **engine)
    if "blend" in options:
        options["blend"] = False
    if "progress" in options:  # a solver's own bar (untrained priors)
        options["progress"] = not args.no_progress
    args.generator, G = load_method_generator(
        args.generator, record, options, device, kept="the images keep their own size"
    )
    device = device if G is None else generator_device(G)
    D = _load_discriminator(args, G, device) if record.takes_discriminator(options) else None
    if D is None and given.get(args.method, {}).get("prior_weight", 0) > 0:
        raise ValueError(
            f"--prior-weight weighs {args.method}'s discriminator prior, but no discriminator "
            "is used (--discriminator none, or none beside the generator): pass --discriminator "
            "NAME, or drop --prior-weight"
        )
    if D is None and options.get("prior_weight", 0) > 0:  # the note said: context loss only
        options["prior_weight"] = 0.0
        given = {args.method: {**given.get(args.method, {}), "prior_weight": 0.0}}
    x, ids, files, conversions = _load_inputs(args, None if G is None else tuple(G.image_shape))
    G_data = warn_trained_on(G, args.generator, args.dataset)
    shape = tuple(x.shape[1:])  # the options against G, D and the image size
    checks.update(measurements={"": x[0].numel()}, device=device)  # (A = M: every pixel)
    validate_methods((args.method,), given, **checks, shape=shape, G=G, D=D, batch=len(x))
    check_axis_value(Inpainting, shape, args.mask)  # the sweep's check: e.g. nothing to fill
    with recorded_conversions() as mask_notes:  # (a mask file's grey or coloured pixels)
        mask = parse_mask(args.mask, len(x), shape, seed=args.seed, ids=ids)
    conversions = conversions + mask_notes
    if seed_given and not record.draws_at_random(given.get(args.method, {})):  # changes any?
        with warnings.catch_warnings():  # (a check: the mask's conversions warned above)
            warnings.simplefilter("ignore", ConversionWarning)
            other = parse_mask(args.mask, len(x), shape, seed=args.seed + 1, ids=ids)
        if torch.equal(mask, other):
            raise ValueError(
                f"--seed: --mask {args.mask} is fixed and method {args.method!r} draws no "
                "random numbers"
                + (" with the options given" if callable(record.seeded) else "")
                + ", so --seed changes nothing; drop --seed"
            )
    operator = Inpainting(mask, shape)
    kept, fingerprints = record.recorded(  # (idle options dropped; files' fingerprints)
        options, noise_std=0.0, operator=operator
    )
    discriminator = None if D is None else (args.discriminator or args.generator)
    fingerprints = run_fingerprints(  # (and the images, a mask file and the models read)
        fingerprints,
        image=args.image,
        mask=args.mask,
        generator=args.generator if G is not None else None,
        discriminator=discriminator,
    )
    y = operator.measure(x)
    res = reconstruct_result(
        args.method,
        G,
        operator,
        y,
        D=D,
        seed=args.seed,
        image_ids=ids,
        **options,
    )
    x_raw = getattr(res, "x_raw", res.x_hat).detach().cpu()
    blended = x_raw if how is None else how(x_raw, y, mask)
    images = {"masked": y.cpu(), "raw": x_raw, "blended": blended.detach().cpu()}
    rows = []
    for kind in ("raw", "blended"):
        psnr, ssim = metrics.psnr(images[kind], x), metrics.ssim(images[kind], x)
        rows.append({"output": kind, "psnr": psnr.tolist(), "ssim": ssim.tolist()})
        print(f"{kind:8s} PSNR {float(psnr.mean()):6.2f} dB  SSIM {float(ssim.mean()):.3f}")
    latent = getattr(res, "latent", res)
    config = getattr(latent, "config", None)
    status = getattr(res, "status", None)  # (a plug-in's result may have none)
    flagged = [] if status is None else [i for i, s in enumerate(status) if s != "ok"]
    if flagged:
        print(
            f"status: {len(flagged)} of {len(x)} image(s) not 'ok' (the solver does not stand "
            f"by them, see summary.json 'status' and the warning above): {flagged}"
        )
    with staged_output(out, OWNER) as stage:
        for i in range(len(x)):
            for kind, batch in images.items():
                save_image_file(batch[i], stage / f"{i:03d}_{kind}.png")
        image_grid(
            [x, *images.values()],
            ["original", "masked", f"{args.method} raw", "blended"],
            stage / "comparison.png",
            title=f"inpaint --mask {args.mask} --method {args.method}",
        )
        atomic_write_json(
            stage / "summary.json",
            {
                "method": args.method,
                "generator": args.generator if G is not None else None,
                "generator_training_status": recorded_training_status(G),
                "generator_trained_on": G_data,  # (its card's dataset; warned if not the data's)
                "discriminator": discriminator,  # (null for none, as the generator's)
                "mask": spelled_file(args.mask),  # (a mask file: its absolute path)
                "seed": args.seed,  # (it draws a random mask, G's samples, restarts)
                "image_ids": ids,
                # the images' source: a --dataset's name and split (ids index it), or a file
                "dataset": args.dataset,
                "split": args.split if args.dataset is not None else None,
                "image": None if args.image is None else str(Path(args.image).resolve()),
                "input_files": files,
                "input_conversions": conversions,
                "missing_fraction": float(1 - mask.float().mean()),
                # the method's options as reconstruct's summary gives them (JSON values, the
                # engine as a dict); its blend is the "blend" below, which inpaint applies
                "options": _recorded_options(kept, config, args.seed),
                **(
                    {"input_fingerprints": fingerprints} if fingerprints else {}
                ),  # (the files' bytes)
                "blend": False if how is None else how.option,  # (applied here, not by the solver)
                # the latent engine's per-image verdict where the result has one (csgm, yeh);
                # every method's status below says the same in its own words (iagan: status)
                **({"improved": latent.improved.tolist()} if hasattr(latent, "improved") else {}),
                "status": status,
                "metrics_vs_input": rows,
            },
        )
    print(f"{len(x)} image(s) -> {out}")
    return 0


def _config_record(config) -> dict:
    """The engine settings of the run for summary.json (``engine_record``)."""
    return engine_record(config)


def _recorded_options(kept: dict, config, seed: int) -> dict:
    """summary.json's ``options``: the method's recorded options (``Method.recorded``) as
    reconstruct's summary gives them: JSON values (others as text, None left out), the latent
    engine as a dict under ``config`` (``config``: the one the result ran, else the options'
    with ``seed``); without ``blend`` (the solver's is off here: inpaint blends, the summary's
    top-level ``blend``)."""
    out = {}
    for k, v in kept.items():
        if k in ("blend", "config") or v is None:
            continue
        out[k] = v if isinstance(v, (bool, int, float, str)) else str(v)
    if config is None and kept.get("config") is not None:
        config = kept["config"].updated(seed=seed)  # (the seed it ran, as reconstruct's)
    if config is not None:
        out["config"] = _config_record(config)
    return out
