"""``ganinverse reconstruct``: one inverse problem from the command line."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .. import metrics
from .._validation import check_int, check_unit_noise_std
from ..data import default_split, load_image_file, load_images, save_image_file, warn_trained_on
from ..device import resolve_device
from ..io import atomic_write_json, check_output_dir, staged_output
from ..methods import METHODS, default_config, get_method, reconstruct_result
from ..operators import REGISTRY, make_operator
from ..plots import reconstruction_panels
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
    flag_metavar,
    load_method_generator,
    method_options,
    note_conversion,
    recorded_conversions,
    refuse_idle_seed,
    run_fingerprints,
    set_method_flags,
    spelled_file,
    unused_engine_options,
    validate_methods,
)

OWNER = "ganinverse reconstruct"  #: the writer named in --out's marker (io.staged_output)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reconstruct",
        help="recover an image from simulated measurements y = A x + noise",
        description="Simulates y = A x + noise for an image file or a dataset image, solves with "
        "the chosen method and writes original.png, reconstruction.png and comparison.png (the "
        "truth, the back-projection A^T y and the reconstruction side by side, with PSNRs) and "
        "summary.json (the settings, MSE, PSNR and the solver's status: 'ok', or why it does not "
        "stand by x̂, e.g. not_improved).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--image",
        help="an image file (resized to the generator's size; kept as it is for a method "
        "without a generator)",
    )
    src.add_argument("--dataset", help="a dataset name (with --index, --split, --data-root)")
    p.add_argument("--data-root", help="dataset folder (with --dataset)")
    p.add_argument("--split", help="dataset split (with --dataset; default test)")
    p.add_argument("--index", type=int, help="dataset image index (with --dataset; default 0)")
    p.add_argument(
        "--generator",
        help="bundled name or checkpoint path (default digits; only for a method that uses one)",
    )
    p.add_argument("--discriminator", help="bundled name or checkpoint (methods that use D)")
    p.add_argument("--operator", default="gaussian", choices=list(REGISTRY))
    for flag, axis in _axes().items():
        users = ", ".join(
            n for n, c in REGISTRY.items() if c.axis is not None and c.axis.flag == flag
        )
        default = "" if axis.default is None else f"; default {axis.default}"
        p.add_argument(
            flag,
            type=axis.parse,
            dest=f"axis_{axis.name}",
            metavar=flag_metavar(flag),
            help=f"{axis.label} ({users}{default})",
        )
    p.add_argument(
        "--noise-std", type=float, default=0.0, help="per measurement, [0, 1] image scale"
    )
    p.add_argument(
        "--method",
        default="csgm",
        choices=list(METHODS),
        help="; ".join(f"{r.name}: {r.summary}" for r in METHODS.values()),
    )
    p.add_argument(
        "--seed",
        type=int,
        help="seeds the operator's random draws (Gaussian matrix, random mask or rows), the "
        "noise and the latent inits (default 0; refused where none of them is drawn)",
    )
    p.add_argument("--out", required=True, help="output folder")
    add_method_flags(p)
    add_engine_args(p, card=True)
    p.set_defaults(func=run)


def _axes() -> dict:
    """flag -> axis of the registered operators (gaussian and subsample share --m)."""
    return {c.axis.flag: c.axis for c in REGISTRY.values() if c.axis is not None}


def _setting(args: argparse.Namespace):
    """The chosen operator's axis value; another operator's flag is an error, not ignored."""
    axis = REGISTRY[args.operator].axis
    for flag, other in _axes().items():
        if (axis is None or flag != axis.flag) and getattr(args, f"axis_{other.name}") is not None:
            raise ValueError(
                f"{flag} sets {other.label}, which --operator {args.operator} does not take"
                + (f": use {axis.flag}" if axis is not None else "")
            )
    return None if axis is None else getattr(args, f"axis_{axis.name}")


def run(args: argparse.Namespace) -> int:
    """Check every argument, the data and ``--out`` first; write the three images as one unit."""
    from ..models import recorded_training_status

    out = check_output_dir(args.out, "--out", owner=OWNER)
    device = resolve_device(args.device)
    check_unit_noise_std(args.noise_std, "--noise-std")
    seed_given, args.seed = args.seed is not None, 0 if args.seed is None else args.seed
    check_int(args.seed, "--seed", low=0)
    dataset_selection(args, {"data_root": None, "split": default_split(args.dataset), "index": 0})
    check_int(args.index, "--index", low=0)
    value = _setting(args)
    record = get_method(args.method)
    owners = set_method_flags(args)  # a flag of another method would be ignored: refused
    check_flags_used(owners, (args.method,), how="--method")
    if args.discriminator:
        given = method_options(args, (args.method,))
        check_discriminator_used((args.method,), given, how="--method")
    runs = chains((args.method,))  # an engine flag of a method with no latent search: refused
    check_flags_used(
        engine_flag_owners(args, (args.method,)), (args.method,), how="--method", runs=runs
    )
    given = method_options(args, (args.method,))
    checks = {"given": given, "engine": engine_overrides(args), "how": "--method"}
    checks["operator"] = REGISTRY[args.operator]
    checks["noise_std"] = args.noise_std
    options = validate_methods((args.method,), **checks)[args.method]  # the options alone
    generator, G = load_method_generator(
        args.generator, record, options, device, kept="the image keeps its own size"
    )
    D = None
    if args.discriminator:
        from ..models import load_discriminator

        D = load_discriminator(args.discriminator, device=device)
    c, h, _ = (None, None, None) if G is None else G.image_shape
    if args.image:
        with recorded_conversions() as notes:
            x = load_image_file(args.image, image_size=h, channels=c)
        converted = note_conversion(args.image, None if G is None else G.image_shape)
        note = [f"image file {args.image}: {converted}"] if converted else []
        converted = "; ".join(note + notes) or None  # (notes: the warned conversions)
        read = {"image": str(Path(args.image).resolve()), "converted": converted}
    else:
        x, _ = load_images(args.dataset, args.data_root, args.split, n=1, start=args.index)
        read = {"dataset": args.dataset, "split": args.split, "index": args.index}
    G_data = warn_trained_on(
        G,
        generator,
        None if args.image else args.dataset,
    )
    shape = tuple(x.shape[1:])
    if G is not None and shape != tuple(G.image_shape):
        raise ValueError(
            f"the image has shape {tuple(x.shape[1:])}, the generator makes {G.image_shape}: "
            "pick a generator trained on this data (--generator)"
        )
    axis = REGISTRY[args.operator].axis
    if axis is not None and value is not None:  # the sweep's check (a mask with nothing to fill)
        check_axis_value(REGISTRY[args.operator], shape, value)
    ids = [0 if args.image else args.index]
    try:
        op = make_operator(
            args.operator, shape, value, seed=args.seed, noise_std=2 * args.noise_std, ids=ids
        )
    except (ValueError, TypeError, FileNotFoundError) as err:  # led by the flag that set it
        if axis is None or value is None or str(err).startswith("--"):
            raise  # (no value given: the operator's message names the flag to pass)
        raise type(err)(f"{axis.flag} {value}: {err}") from err
    if seed_given:
        refuse_idle_seed(
            args.operator,
            shape,
            [value],
            x,
            seed=args.seed,
            ids=ids,
            noise_std=args.noise_std,
            methods=(args.method,),
            given=given,
        )
    record.check_operator(op)
    setting = f"{axis.flag} {value}" if axis is not None and value is not None else ""
    d = math.prod(op.out_shape)  # (A's output per image: gaussian's memory grows with it)
    checks.update(measurements={setting: d}, device=device)
    validate_methods((args.method,), **checks, shape=shape, G=G, D=D, batch=len(x))  # G, D
    source = None
    if "progress" in options:  # a solver's own bar (untrained priors)
        options["progress"] = not args.no_progress
    if record.latent:  # G's card (ganinverse tune) unless --engine flags say otherwise
        base, source = default_config(record, G, op)
        options["config"] = base.overridden(progress=not args.no_progress, **engine_overrides(args))
    y = op.measure(x, seed=args.seed + 1)
    back_projection = op.back_projection(y).cpu()  # before the solver moves op to G's device
    kept, fingerprints = record.recorded(  # (idle options dropped; files' fingerprints)
        options, noise_std=args.noise_std, operator=op
    )
    fingerprints = run_fingerprints(  # (and the image, a mask file and the models read)
        fingerprints,
        image=args.image or None,
        mask=value if axis is not None and axis.name == "mask" else None,
        generator=generator if G is not None else None,
        discriminator=args.discriminator if D is not None else None,
    )
    shown = {
        k: (v if k != "config" else _engine(v))
        for k, v in kept.items()
        if v is not None and k != "progress"
    }
    print(f"{args.method} with " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if source is not None:
        given = engine_overrides(args)
        print(
            f"engine settings: {source}"
            + (f"; set on the command line: {', '.join(sorted(given))}" if given else "")
        )
    result = reconstruct_result(
        args.method,
        G,
        op,
        y,
        D=D,
        seed=args.seed,
        image_ids=None if args.image else [args.index],
        **options,
    )
    x_hat = result.x_hat.detach().cpu()
    status = getattr(result, "status", None)  # (a plug-in's result may have none)
    status = "not recorded" if status is None else status[0]
    with staged_output(out, OWNER) as stage:
        save_image_file(x, stage / "original.png")
        save_image_file(x_hat.clamp(-1, 1), stage / "reconstruction.png")
        reconstruction_panels(
            x_hat,
            back_projection,
            stage / "comparison.png",
            truth=x,
            method=args.method,
            title=f"{args.operator}, m = {int(op.measurement_counts()[0])}",
        )
        m = int(op.measurement_counts()[0])
        err, psnr = float(metrics.mse(x_hat, x)[0]), float(metrics.psnr(x_hat, x)[0])
        atomic_write_json(
            stage / "summary.json",
            {
                "input": read,
                "method": args.method,
                "generator": generator if G is not None else None,  # (helper-78: not said)
                "discriminator": args.discriminator if D is not None else None,
                "operator": args.operator,
                # the operator's own setting as its flag names it (--mask center, --factor 4;
                # --m's is "m" below; the default where the flag was not given)
                **(
                    {axis.name: spelled_file(axis.default if value is None else value)}
                    if axis is not None and axis.name != "m"
                    else {}
                ),
                "m": m,
                "noise_std": args.noise_std,
                "seed": args.seed,
                # JSON's own values ("blend": false, not "False"); the engine as a dict, as
                # inpaint's and the sweep's summaries give it
                "options": {
                    k: engine_record(options[k].updated(seed=args.seed))  # (the seed it ran)
                    if k == "config"
                    else v
                    if isinstance(v, (bool, int, float, str))
                    else str(v)
                    for k, v in shown.items()
                },
                **(
                    {"input_fingerprints": fingerprints} if fingerprints else {}
                ),  # (the files' bytes)
                "status": status,
                # the generator's own verdict (pretrain's card): a result of a generator that
                # learned nothing is marked where its numbers are
                "generator_training_status": recorded_training_status(G),
                "generator_trained_on": G_data,  # (its card's dataset; warned if not the data's)
                "mse": err,
                "psnr": psnr,
            },
        )
    print(
        f"{args.method}, {args.operator} m={m}: MSE/pixel ([0,1]) {err:.5f}, PSNR {psnr:.2f} dB, "
        f"status {status}{_STATUS_HINT if status not in ('ok', 'not recorded') else ''} -> {out}"
    )
    return 0


#: What a status other than "ok" means for the one reconstruction (``ganinverse.status``).
_STATUS_HINT = " (the solver does not stand by this x̂: see the warning above)"


#: The engine settings a user tunes, as the run prints them and summary.json records them.
ENGINE_KEYS = ("restarts", "steps", "lr", "lambda_z", "init", "prune_at", "tol")


def _engine(config) -> str:
    """The engine settings a user tunes, in one line; one the others leave unused says so
    (``lr=unused at steps=0``), not the engine default it was reset to."""
    unused = unused_engine_options(config, ENGINE_KEYS)
    shown = (
        f"{k}=unused at {unused[k]}" if k in unused else f"{k}={getattr(config, k)}"
        for k in ENGINE_KEYS
    )
    return "(" + ", ".join(shown) + ")"
