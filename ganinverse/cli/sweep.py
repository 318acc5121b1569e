"""``ganinverse sweep`` and ``ganinverse sweep-merge``: error against the measurement setting of
any registered operator, for any registered methods (both read from their registries)."""

from __future__ import annotations

import argparse
import os
from functools import partial
from pathlib import Path

from .._validation import check_choice, check_int
from ..data import default_split, load_images
from ..io import read_json
from ..methods import METHODS, is_search
from ..operators import REGISTRY
from ..sweep import Sweep, parse_shard, report
from ..sweep.spec import N_VAL, make_spec, set_by_every, upgrade
from ._common import (
    ENGINE_FLAGS,
    add_engine_args,
    add_method_flags,
    chains,
    check_discriminator_used,
    check_flags_used,
    check_generator_used,
    engine_flag_owners,
    engine_list,
    engine_overrides,
    flag_metavar,
    float_list,
    int_list,
    method_options,
    parsed_list,
    refuse_idle_seed,
    set_method_flags,
    shown,
    str_list,
    validate_methods,
)

DEFAULT_METHODS = ("csgm", "lasso-dct", "lasso-wavelet")


def _sweepable() -> dict:
    return {name: cls for name, cls in REGISTRY.items() if cls.axis is not None}


def _axes() -> dict:
    """flag -> axis, once per axis (gaussian and subsample share --m)."""
    return {cls.axis.flag: cls.axis for cls in _sweepable().values()}


def _value_list(text: str, axis) -> tuple:
    return parsed_list(text, axis.parse, f"{axis.name} values for {axis.flag}")


def register(subparsers: argparse._SubParsersAction) -> None:
    operators = _sweepable()
    p = subparsers.add_parser(
        "sweep",
        help="error vs the measurement setting for several methods (resumable, shardable)",
        description="One CSV row per (image, x, method) written as it goes; rerun to resume. "
        "x is the operator's setting: "
        + "; ".join(f"{n} {c.axis.flag} ({c.axis.label})" for n, c in operators.items())
        + ". Writes rows.csv, summary.csv/.md (mean, 95% CI, time per image), error_vs_m.png "
        "and grid_*.png. Under torchrun, or with --shard K/N, each process takes every N-th "
        "unit; then run sweep-merge.",
    )
    p.add_argument("--generator", help="bundled name or checkpoint path (needed by GAN methods)")
    p.add_argument("--discriminator", help="bundled name or checkpoint (methods that use D)")
    p.add_argument("--dataset", required=True, help="digits, mnist, fashion-mnist, celeba64, ...")
    p.add_argument("--data-root", help="dataset folder (torchvision layout / npz folder)")
    p.add_argument("--split", help="the split scored (default: test; all for a folder)")
    p.add_argument("--start", type=int, default=0, help="first image index of the split")
    operator = p.add_argument(
        "--operator", default="gaussian", choices=list(operators), help="forward operator"
    )
    operator.choice_hint = lambda value: (  # (read by OneLineParser._check_value)
        f"({value!r} is an operator with no axis a sweep can vary)" if value in REGISTRY else ""
    )
    for flag, axis in _axes().items():
        users = ", ".join(n for n, c in operators.items() if c.axis.flag == flag)
        p.add_argument(
            flag,
            type=partial(_value_list, axis=axis),
            dest=f"axis_{axis.name}",
            metavar=flag_metavar(flag),
            help=f"{axis.label}, comma-separated (operator {users})",
        )
    p.add_argument(
        "--methods",
        type=str_list,
        default=DEFAULT_METHODS,
        help=f"comma-separated, from: {', '.join(METHODS)}",
    )
    p.add_argument("--n-images", type=int, default=300, help="test images scored, from --start")
    p.add_argument(
        "--noise-std",
        type=float,
        default=0.1,
        help="noise std per measurement on the [0, 1] image scale (as in CSGM)",
    )
    p.add_argument("--batch-size", type=int, default=25, help="images per work unit")
    p.add_argument(
        "--n-val",
        type=int,
        help=f"validation images (train split) for the weight searches (default {N_VAL})",
    )
    p.add_argument(
        "--val-start",
        type=int,
        help="first train-split index of the validation images (default 0; e.g. the faces "
        "held out of the generator's training, 5900 for celeba64-lsgan)",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="seeds the operator's random draws, the noise and the latent starts (default 0; "
        "refused where none of them is drawn)",
    )
    add_method_flags(p, searched=True)
    p.instead = {  # a searched option's own flag (reconstruct's): its one-value grid here
        r.flags[r.tuned.option].flag: f"{r.flags[r.tuned.option].flag} is chosen per x on "
        f"validation images by the sweep: pass {r.tuned.flag} VALUE to set it (a grid of one "
        "value runs no search)"
        for r in METHODS.values()
        if r.tuned is not None and r.tuned.grid and r.tuned.option in r.flags
    }
    tune = p.add_argument_group(
        "weights chosen per x on the validation images (lowest MSE; recorded in weights.json)"
    )
    seen = set()
    for record in METHODS.values():
        tuned = record.tuned
        if tuned is None or tuned.key in seen:
            continue
        seen.add(tuned.key)
        if tuned.option == "config":
            grid = tune.add_mutually_exclusive_group()
            grid.add_argument(
                "--lambda-z-grid",
                type=float_list,
                help="λ_z candidates for the latent methods, e.g. 0.1,0.01 (default: --lambda-z)",
            )
            grid.add_argument(
                tuned.flag,
                type=engine_list,
                dest="grid_engine",
                metavar=flag_metavar(tuned.flag),
                help=tuned.help,
            )
        else:  # the option's own type: integer grids (steps) stay integers in sweep.json
            own = record.flags.get(tuned.option)
            kind = int_list if own is not None and own.type is int else float_list
            tune.add_argument(
                tuned.flag,
                type=kind,
                dest=f"grid_{tuned.key}",
                metavar=flag_metavar(tuned.flag),
                help=tuned.help,
            )
    p.add_argument("--shard", help="K/N: run only every N-th work unit starting at K")
    p.add_argument("--out", required=True, help="output folder (resumes if it exists)")
    add_engine_args(p)
    p.set_defaults(func=run)

    q = subparsers.add_parser("sweep-merge", help="merge the shards of a sweep folder and report")
    q.add_argument("out", help="the sweep folder")
    q.set_defaults(func=run_merge)


def _grids(args: argparse.Namespace) -> dict:
    grids = {}
    for key, value in vars(args).items():
        if key.startswith("grid_") and value is not None:
            grids[key[len("grid_") :]] = value
    if getattr(args, "lambda_z_grid", None):
        grids["engine"] = tuple({"lambda_z": v} for v in args.lambda_z_grid)
    return grids


def _grid_flags(args: argparse.Namespace) -> dict[str, str]:
    """{tuned key: the grid flag the user set for it}."""
    flags = {}
    for record in METHODS.values():
        tuned = record.tuned
        if tuned is not None and getattr(args, f"grid_{tuned.key}", None) is not None:
            flags[tuned.key] = tuned.flag
    if getattr(args, "lambda_z_grid", None):
        flags["engine"] = "--lambda-z-grid"
    return flags


def _check_flags_used(args: argparse.Namespace) -> None:
    """Every flag the user set is taken by a method that runs, else it would be ignored
    silently: the method flags and --discriminator by a method of --methods; the engine flags
    (--steps, --lambda-z, ...) and the weight grids (--lambda-z-grid, --sparse-l1-grid, ...)
    by a method of --methods or one it starts from (iagan and csgm-sparse run csgm's search)."""
    owners = set_method_flags(args)
    check_flags_used(owners, args.methods, how="--methods")
    if args.generator:
        given = method_options(args, args.methods)
        check_generator_used(args.generator, args.methods, given, how="--methods")
    if args.discriminator:
        given = method_options(args, args.methods)
        check_discriminator_used(args.methods, given, how="--methods")
    shared = engine_flag_owners(args, args.methods)
    for flag in ("--n-val", "--val-start"):  # the weight searches' images: idle where none
        if getattr(args, flag[2:].replace("-", "_")) is not None:  # runs (a grid of 2 or more)
            _check_n_val_has_a_search(args, _grids(args), flag)
    for key, flag in _grid_flags(args).items():
        shared[flag] = [n for n, r in METHODS.items() if r.tuned is not None and r.tuned.key == key]
    check_flags_used(shared, args.methods, how="--methods", runs=chains(args.methods))
    _check_engine_grid_acts(args)


def _check_n_val_has_a_search(args: argparse.Namespace, grids: dict, flag: str) -> None:
    """--n-val (or --val-start, ``flag``) where no method that runs (nor one it starts from) searches a weight
    (``methods.is_search``: a grid of two or more candidates; csgm's engine has a search only
    when a grid is given) would be ignored: a ValueError naming both fixes, a grid of two or
    more values for a method that runs (``--lambda-z-grid`` / ``--engine-grid`` for csgm) and a
    method that searches by default, besides dropping --n-val."""
    runs = chains(args.methods)
    tuned = {n: METHODS[n].tuned for n in runs if METHODS[n].tuned is not None}
    if any(is_search(grids.get(t.key, t.grid)) for t in tuned.values()):
        return
    flags = _grid_flags(args)
    single = list(dict.fromkeys(flags[t.key] for t in tuned.values() if t.key in flags))
    if single:
        raise ValueError(
            f"{flag} sets the validation images of the weight searches, but {', '.join(single)} "
            "holds one value, which is set without a search, and no other grid is searched: "
            f"drop {flag}, or give the grid two or more candidates"
        )
    grid_flags: dict[str, list[str]] = {}  # {grid flag(s): the methods it would give a search}
    for name, t in tuned.items():
        grid = "--lambda-z-grid or --engine-grid" if t.key == "engine" else t.flag
        grid_flags.setdefault(grid, []).append(name)
    fixes = [
        f"give {' and '.join(names)} a search with {grid} of two or more values"
        for grid, names in grid_flags.items()
    ]
    operator = REGISTRY[args.operator]  # (the methods that search by default and apply to it)
    searchers = [
        n
        for n, r in METHODS.items()
        if r.tuned is not None
        and is_search(r.tuned.grid)
        and (r.operators is None or issubclass(operator, r.operators))
    ]
    if len(searchers) == 1:
        fixes.append(f"add {searchers[0]} to --methods")
    elif searchers:
        fixes.append(f"add a method that searches by default to --methods ({', '.join(searchers)})")
    raise ValueError(
        f"{flag} sets the validation images of the weight searches, but no method of --methods "
        f"{','.join(args.methods)} searches a weight: "
        + "".join(f"{fix}, or " for fix in fixes)
        + f"drop {flag}"
    )


def _check_engine_grid_acts(args: argparse.Namespace) -> None:
    """An --engine-grid candidate that sets an engine option which cannot act with the rest of
    its settings (``latent.ACTS_WHEN``: momentum without SGD, ...) would be searched and
    reported as chosen while changing nothing: a ValueError."""
    from ..latent import LatentConfig
    from ..sweep.spec import typed_candidate

    engine = engine_overrides(args)
    for candidate in getattr(args, "grid_engine", None) or ():
        try:
            config = LatentConfig().overridden(**{**engine, **candidate})
        except (TypeError, ValueError):  # a bad value: named by the grid's own checks
            continue
        idle = config.idle_options(given=candidate)
        for key, needs in idle.items():
            raise ValueError(
                f"--engine-grid {typed_candidate(candidate)}: sets {key}, which changes nothing "
                f"there: it acts only with {needs}; set that in the candidate or drop {key}"
            )


def _check_grids_replace_nothing(args: argparse.Namespace) -> None:
    """A fixed value that a weight search replaces would be ignored and recorded as if used: a
    ValueError. The engine flags (``--lambda-z``, ``--steps``, ...) a candidate of
    ``--lambda-z-grid`` / ``--engine-grid`` sets, and a method's option (``--sparse-l1``,
    ``--iagan-steps``) that the grid flag given for it searches. (A method option set without
    its grid flag is the search's one candidate: iagan's default grid yields to --iagan-steps.)"""
    grids, grid_flags = _grids(args), _grid_flags(args)
    engine = engine_overrides(args)
    given = method_options(args, tuple(chains(args.methods)))
    for name in chains(args.methods):
        tuned = METHODS[name].tuned
        if tuned is None:
            continue
        if tuned.key not in grid_flags:  # (a set option replaces a default grid: no conflict)
            continue
        grid, flag = tuple(grids[tuned.key]), grid_flags[tuned.key]
        if tuned.option == "config":
            # (a candidate that leaves a setting takes the flag's)
            for key in sorted(set_by_every(grid) & set(engine)):
                raise ValueError(
                    f"{ENGINE_FLAGS[key]} is replaced by the candidates of {flag}, which all set "
                    f"{key}: drop {ENGINE_FLAGS[key]}, or the grid"
                )
        elif tuned.option in given.get(name, {}):
            option = METHODS[name].flags[tuned.option].flag
            raise ValueError(
                f"{option} is replaced by the candidates of {flag} ({name} chooses its "
                f"{tuned.option} among {','.join(map(shown, grid))} on validation images): pass "
                f"{tuned.flag} {shown(given[name][tuned.option])} to fix it, or drop {option}"
            )


def _validate_methods(args: argparse.Namespace, loaded: bool = False) -> None:
    """Every selected method's options and every candidate of the grids it searches, checked
    as the solvers check them, before any file: on their own, or (``loaded``) against the
    generator, discriminator and image size, loaded here for that (the sweep loads them again:
    its folder is created only once everything passed)."""
    models: dict = {}
    if loaded:
        from ..data import load_images
        from ..device import resolve_device

        device = resolve_device(args.device)
        if args.generator:
            from ..models import load_generator

            models["G"] = load_generator(args.generator, device=device)
        if args.discriminator:
            from ..models import load_discriminator

            models["D"] = load_discriminator(args.discriminator, device=device)
        x, _ = load_images(args.dataset, args.data_root, args.split, n=1, start=args.start)
        models["shape"] = tuple(x.shape[1:])
        models["measurements"] = _measurements(args, models["shape"])
        models["device"] = device
    validate_methods(
        args.methods,
        method_options(args, args.methods),
        grids=_grids(args),
        grid_flags=_grid_flags(args),
        engine=engine_overrides(args),
        operator=REGISTRY[args.operator],
        noise_std=args.noise_std,
        batch=max(1, min(args.batch_size, args.n_images)),  # (their own checks come later)
        batch_flag="--batch-size",
        n_val=N_VAL if args.n_val is None else args.n_val,
        **models,
    )


def _measurements(args: argparse.Namespace, shape: tuple) -> dict[str, int]:
    """{"--m 5000" (an x value; with several, said to be the sweep's most): the measurements
    per image of its operator} for the x values of the axis flag that fit the images (the
    others are refused later, by their own check), for the checks that need them (gaussian's
    memory)."""
    from ..operators import measurements_at

    cls = REGISTRY[args.operator]
    try:
        values = _x_values(args)
    except ValueError:  # (refused later, by the same check)
        return {}
    counts = {}
    for value in values:
        try:
            cls.check_setting(shape, value)
            counts[value] = measurements_at(cls, shape, value)
        except (ValueError, TypeError):
            continue
    most = ", the sweep's most measurements per image" if len(counts) > 1 else ""
    return {f"{cls.axis.flag} {value}{most}": d for value, d in counts.items()}


def _x_values(args: argparse.Namespace) -> tuple:
    """The values of the chosen operator's axis flag; another axis's flag is refused."""
    operator = args.operator
    axis = _sweepable()[operator].axis
    for flag, other in _axes().items():
        given = getattr(args, f"axis_{other.name}")
        if flag != axis.flag and given is not None:
            raise ValueError(
                f"{flag} sets the {other.name} axis, but --operator {operator} varies "
                f"{axis.name}: use {axis.flag}"
            )
    values = getattr(args, f"axis_{axis.name}")
    if values is None:
        raise ValueError(
            f"--operator {operator} needs {axis.flag} ({axis.label}), e.g. {axis.flag} "
            f"{'25,100' if axis.numeric else 'center,random:0.8'}"
        )
    return values


def _check_sparse_l1_fits(args: argparse.Namespace) -> None:
    """csgm-sparse's ℓ1 candidates (its grid, else its --sparse-l1) against every m of --m
    (``solvers.csgm.check_sparse_l1``), before sweep.json is written: the solver would refuse
    them only when their unit runs. (Other axes' m is known once their operator is built.)"""
    from ..solvers.csgm import check_sparse_l1

    record = METHODS["csgm-sparse"]
    if record.name not in chains(args.methods) or _sweepable()[args.operator].axis.name != "m":
        return
    tuned = record.tuned
    given = method_options(args, (record.name,)).get(record.name, {})
    grid = _grids(args).get(tuned.key) or (given.get("l1", record.defaults["l1"]),)
    flag = _grid_flags(args).get(tuned.key) or record.flags["l1"].flag
    for m in _x_values(args):
        for l1 in grid:
            check_sparse_l1(l1, m, name=f"{flag} {l1:g} at m = {m}: l1")


def _shard(args: argparse.Namespace) -> tuple[int, int]:
    if args.shard is not None:  # ('' is no K/N: refused by parse_shard, not read as unset)
        return parse_shard(args.shard)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), world)


def run(args: argparse.Namespace) -> int:
    """Check the flags, every method's options and grids (on their own, then against G, D
    and the images' size), the settings, then run the sweep; nothing is written before all
    passed."""
    args.split = args.split if args.split is not None else default_split(args.dataset)
    for name in args.methods:  # (each entry, in the words of every lookup of a method)
        try:
            check_choice(name, "method", METHODS)
        except ValueError as err:
            raise ValueError(f"--methods: {err}") from None
    _check_flags_used(args)
    _validate_methods(args)  # the options alone: at once
    _check_grids_replace_nothing(args)  # (after the candidates' own checks)
    _validate_methods(args, loaded=True)  # against G, D and the image size
    _check_sparse_l1_fits(args)
    seed_given, args.seed = args.seed is not None, 0 if args.seed is None else args.seed
    if seed_given:
        check_int(args.seed, "--seed", low=0)
        x, _ = load_images(args.dataset, args.data_root, args.split, n=1, start=args.start)
        refuse_idle_seed(
            args.operator,
            tuple(x.shape[1:]),
            _x_values(args),
            x,
            seed=args.seed,
            ids=[args.start],
            noise_std=args.noise_std,
            methods=args.methods,
            given=method_options(args, args.methods),
        )
    spec = make_spec(
        dataset=args.dataset,
        x_values=_x_values(args),
        methods=args.methods,
        operator=args.operator,
        generator=args.generator,
        discriminator=args.discriminator,
        data_root=args.data_root,
        split=args.split,
        start=args.start,
        n_images=args.n_images,
        noise_std=args.noise_std,
        batch_size=args.batch_size,
        n_val=N_VAL if args.n_val is None else args.n_val,
        val_start=args.val_start or 0,
        seed=args.seed,
        engine=engine_overrides(args),
        grids=_grids(args),
        options=method_options(args, args.methods),
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
    operator = spec.get("operator", "gaussian")
    op = "" if operator == "gaussian" else f"{operator} operator, "
    generator = f"generator {spec['generator']}" if spec.get("generator") else "no generator"
    return f"{spec['dataset']}, {op}{generator}, noise σ = {spec['noise_std']} ([0,1] scale)"


def run_merge(args: argparse.Namespace) -> int:
    if args.out.strip() == "":  # (Path("") is the current folder)
        raise ValueError("OUT (the sweep folder) is empty: pass the --out folder of a sweep")
    if not Path(args.out).is_dir():
        raise ValueError(f"OUT {args.out!r} is not a folder: pass the --out folder of a sweep")
    saved = Path(args.out) / "sweep.json"
    title = _title(upgrade(read_json(saved, "sweep spec"))) if saved.is_file() else ""
    print(report(args.out, title=title))
    return 0
