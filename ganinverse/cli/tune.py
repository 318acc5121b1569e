"""``ganinverse tune``: a generator's recommended latent-search settings, chosen on validation
images and written to its card (``ganinverse.tuning``)."""

from __future__ import annotations

import argparse
import json
import os

from .._validation import check_count, check_int
from ..latent import INITS, LatentConfig, acting_prunes
from ..tuning import (
    ENGINE,
    INIT_GRID,
    LAMBDA_Z_GRID,
    REFINE_FACTOR,
    REFINE_TOP,
    STEPS_GRID,
    default_grid,
    tune,
    write_card,
)
from ._common import float_list, int_list, prune_fractions, refuse_idle_flags, str_list


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tune",
        help="choose a generator's solver settings (λ_z, init, steps per m) on validation images",
        description="At each m, CSGM with every (λ_z, init, steps) candidate on the first --n-val "
        "train-split images (Gaussian A, noise --noise-std); the lowest validation MSE wins. "
        "--out is a resumable sweep folder (weights.json holds every candidate's MSE) with "
        "recommended.json, the card block; --write-card puts it into the generator's JSON, "
        "so gi.csgm(G, A, y) and `ganinverse reconstruct` use it when given no settings.",
    )
    p.add_argument("--generator", required=True, help="bundled name or checkpoint path")
    p.add_argument("--dataset", required=True, help="the generator's data (digits, mnist, ...)")
    p.add_argument("--data-root", help="dataset folder (torchvision layout / npz folder)")
    p.add_argument("--m", type=int_list, required=True, help="measurement counts, e.g. 25,100")
    p.add_argument(
        "--noise-std",
        type=float,
        default=0.1,
        help="noise std per measurement on the [0, 1] image scale, as in sweep (default 0.1)",
    )
    p.add_argument(
        "--n-val", type=int, default=20, help="validation images (train split; default 20)"
    )
    p.add_argument(
        "--val-start",
        type=int,
        default=0,
        help="first train-split index of the validation images (default 0; e.g. the faces "
        "held out of the generator's training, 5900 for celeba64-lsgan)",
    )
    p.add_argument(
        "--lambda-z-grid",
        type=float_list,
        default=LAMBDA_Z_GRID,
        help=f"λ_z candidates (default: {','.join(map(str, LAMBDA_Z_GRID))})",
    )
    p.add_argument(
        "--init-grid",
        type=str_list,
        default=INIT_GRID,
        help=f"latent inits searched, from {', '.join(INITS)} (default: both)",
    )
    p.add_argument(
        "--steps-grid",
        type=int_list,
        help="steps per restart searched (default: --steps when given, else "
        f"{','.join(map(str, STEPS_GRID))})",
    )
    p.add_argument(
        "--refine-top",
        type=int,
        help="candidates per m re-scored on --refine-n-val images (0: no second stage; default "
        f"{REFINE_TOP}, or every candidate of a smaller grid)",
    )
    p.add_argument(
        "--refine-n-val",
        type=int,
        help="validation images of the second stage (train split, includes the first --n-val; "
        f"default {REFINE_FACTOR} x --n-val)",
    )
    p.add_argument(
        "--restarts",
        type=int,
        default=ENGINE["restarts"],
        help=f"random restarts per image (default {ENGINE['restarts']})",
    )
    p.add_argument(
        "--steps",
        type=int,
        help="steps per restart: the only candidate when --steps-grid is not given; also the "
        f"steps of the projection that measures G's representation error (default {ENGINE['steps']})",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=ENGINE["lr"],
        help=f"Adam's learning rate (default {ENGINE['lr']})",
    )
    p.add_argument(
        "--prune-at",
        type=prune_fractions,
        help="fractions of the steps at which each image keeps the better half of its restarts "
        f"(default {','.join(map(str, ENGINE['prune_at']))}; none with --restarts 1; "
        "'none': no pruning)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="search folder (resumes if it exists)")
    p.add_argument(
        "--write-card",
        action="store_true",
        help="write the settings into the generator checkpoint's JSON (a checkpoint path; "
        "a bundled generator's card also needs --bundled-card)",
    )
    p.add_argument(
        "--bundled-card",
        action="store_true",
        help="with --write-card and a bundled name: replace the card that ships with ganinverse "
        "(every default of gi.csgm on that generator reads it; for maintainers re-tuning it)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def check_card_target(generator: str, write_card: bool, bundled_card: bool) -> None:
    """Refuse, before any search, to overwrite a bundled generator's card by accident, or to
    write a card that cannot be written."""
    from ..models.registry import WEIGHTS_DIR, resolve

    if bundled_card and not write_card:
        raise ValueError("--bundled-card only applies with --write-card; add it or drop the flag")
    if not write_card:
        return
    stem = resolve(generator, "generator")
    if stem.resolve().is_relative_to(WEIGHTS_DIR.resolve()) and not bundled_card:
        raise ValueError(
            f"--write-card: {generator!r} is a bundled generator: its card ships with ganinverse "
            "and sets the defaults of every gi.csgm call on it. Tune a copy (save it with "
            "ganinverse.models.checkpoint.save_model and pass its path to --generator), drop "
            "--write-card (the settings are in --out/recommended.json), or add --bundled-card "
            "to replace the shipped card"
        )
    card = stem.with_name(stem.name + ".json")
    if not os.access(card, os.W_OK):
        raise ValueError(f"--write-card: the card {str(card)!r} is not writable")


def _prune_at(args: argparse.Namespace) -> tuple[float, ...]:
    """--prune-at, else the default where it can act (more than one restart); a ValueError for
    --prune-at with --restarts 1, which it could not act on."""
    if args.prune_at is None:  # (those of the default that can act with these restarts)
        candidates = args.steps_grid or [args.steps if args.steps is not None else min(STEPS_GRID)]
        flag = "--steps-grid" if args.steps_grid else "--steps"
        steps = min(check_count(s, flag, "steps", low=0) for s in candidates)
        return acting_prunes(ENGINE["prune_at"], args.restarts, steps) if args.restarts > 1 else ()
    check_count(args.restarts, "--restarts", "draws")
    config = LatentConfig(restarts=args.restarts)
    refuse_idle_flags(config.idle_options(given=("prune_at",)), config)
    return tuple(args.prune_at)


#: default_grid's axes as their flags (its errors name the flag's entry, as sweep's do)
GRID_FLAGS = {
    "lambda_z_grid": "--lambda-z-grid",
    "init_grid": "--init-grid",
    "steps_grid": "--steps-grid",
}


def run(args: argparse.Namespace) -> int:
    for m in args.m:
        check_int(m, "m", low=1)
    check_card_target(args.generator, args.write_card, args.bundled_card)
    steps_grid = args.steps_grid or (None if args.steps is not None else STEPS_GRID)
    engine = {
        "restarts": args.restarts,
        "steps": ENGINE["steps"] if args.steps is None else args.steps,
        "lr": args.lr,
        "prune_at": _prune_at(args),
    }
    block = tune(
        args.generator,
        dataset=args.dataset,
        data_root=args.data_root,
        m_values=args.m,
        out=args.out,
        noise_std=args.noise_std,
        n_val=args.n_val,
        val_start=args.val_start,
        engine=engine,
        grid=default_grid(args.lambda_z_grid, args.init_grid, steps_grid, flags=GRID_FLAGS),
        seed=args.seed,
        refine_top=args.refine_top,
        refine_n_val=args.refine_n_val,
        device=args.device,
        progress=not args.no_progress,
    )
    line = f"representation error ρ² = {block['representation_error']:.5f} per pixel ([-1, 1])"
    flags = block.get("representation_error_flagged")
    if flags:  # (the projection warned ConvergenceWarning for them too)
        why = ", ".join(f"{reason} on {k} of {block['n_val']}" for reason, k in flags.items())
        line += f" (FLAGGED: {why} validation images; raise --steps or --lr)"
    print(line)
    trained = block.get("generator_training_status")
    if trained not in (None, "ok"):  # (loading it warned ConvergenceWarning too)
        print(
            f"FLAGGED: the generator was recorded as having learned nothing ({trained}); "
            "these settings tune no trained model: retrain it"
        )
    for row in block["by_m"]:
        scores = row.get("refined_mse") or row["validation_mse"]
        mse = dict((json.dumps(c, sort_keys=True), v) for c, v in scores)
        key = json.dumps(row["settings"], sort_keys=True)
        n = block["refine"]["n_val"] if "refined_mse" in row else block["n_val"]
        line = f"m = {row['m']}: {key} (validation MSE on {n} images {mse[key]:.5f}"
        first = dict((json.dumps(c, sort_keys=True), v) for c, v in row["validation_mse"])
        tied = [k for k, v in mse.items() if k != key and v == mse[key]]
        tied += [k for k, v in first.items() if k not in (key, *tied) and v == first.get(key)]
        if tied:  # (e.g. one step of Adam, whose first update ignores λ_z's scale)
            line += (
                f"; TIED with {len(tied)} other candidate(s) ({', '.join(tied[:2])}"
                f"{', ...' if len(tied) > 2 else ''}): the choice among them is the grid's order"
            )
        if row["best_on_validation"] != row["settings"]:  # moved by the λ_z-falls-with-m rule
            best = json.dumps(row["best_on_validation"], sort_keys=True)
            line += f"; the per-m best {best}: {mse[best]:.5f}"
        if row.get("flagged"):  # (the search warned ConvergenceWarning for them too)
            why = ", ".join(f"{reason} on {k} of {n}" for reason, k in row["flagged"].items())
            line += f"; FLAGGED: {why} validation images"
        print(line + ")")
    if args.write_card:
        write_card(args.generator, block)
        print(f"written to the card of {args.generator}")
    print(f"-> {args.out}/recommended.json")
    return 0
