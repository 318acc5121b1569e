"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse


def parsed_list(text: str, parse, what: str) -> tuple:
    """``"a,b"`` -> (parse("a"), parse("b")); an empty list or a bad item is an argparse error
    naming ``what`` (e.g. "ints", "factor values")."""
    try:
        values = tuple(parse(v.strip()) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}") from err
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one of the {what}")
    return values


def _number_list(text: str, kind: type) -> tuple:
    return parsed_list(text, kind, f"{kind.__name__}s")


def int_list(text: str) -> tuple[int, ...]:
    """``"10,25,50"`` -> (10, 25, 50)."""
    return _number_list(text, int)


def float_list(text: str) -> tuple[float, ...]:
    """``"0.1,1e-3"`` -> (0.1, 0.001)."""
    return _number_list(text, float)


def str_list(text: str) -> tuple[str, ...]:
    """``"a,b"`` -> ("a", "b")."""
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values:
        raise argparse.ArgumentTypeError("expected at least one name")
    return values


def _number(text: str, name: str) -> int | float:
    """``"300"`` -> 300, ``"1e-3"`` -> 0.001."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"{name}: expected a number, got {text!r}")


def engine_list(text: str) -> tuple[dict, ...]:
    """``"lambda_z=0.3,steps=300;lambda_z=0.001"`` -> ({"lambda_z": 0.3, "steps": 300}, ...)."""
    candidates = []
    for part in (p for p in text.split(";") if p.strip()):
        candidate = {}
        for item in part.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r} in {text!r}")
            candidate[key.strip()] = _number(value.strip(), key.strip())
        candidates.append(candidate)
    if not candidates:
        raise argparse.ArgumentTypeError("expected at least one candidate")
    return tuple(candidates)


def add_engine_args(parser: argparse.ArgumentParser) -> None:
    """Latent-engine knobs shared by the GAN-based commands (None = the method's default)."""
    group = parser.add_argument_group("latent optimisation")
    group.add_argument("--steps", type=int, help="optimisation steps per restart")
    group.add_argument("--restarts", type=int, help="random restarts per image")
    group.add_argument("--lr", type=float, help="learning rate")
    group.add_argument("--lambda-z", type=float, dest="lambda_z", help="weight of ||z||^2")
    group.add_argument(
        "--tol",
        type=float,
        help="stop a latent once its loss improves by less than this (relative) over 50 steps",
    )
    group.add_argument(
        "--prune-at",
        type=float_list,
        dest="prune_at",
        help="fractions of the steps at which each image keeps the better half of its restarts",
    )
    group.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")


def engine_overrides(args: argparse.Namespace) -> dict:
    """The engine options the user set on the command line."""
    keys = ("steps", "restarts", "lr", "lambda_z", "tol", "prune_at")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def add_method_flags(parser: argparse.ArgumentParser, *, searched: bool = False) -> None:
    """The option flags of every registered method (``Method.flags``), once per flag; with
    ``searched`` an option whose weight is always searched (e.g. Lasso's λ) is left out."""
    from ..methods import METHODS

    group = parser.add_argument_group("method options (see each method's record)")
    seen: set[str] = set()
    for record in METHODS.values():
        for option, flag in record.flags.items():
            tuned = record.tuned
            if searched and tuned is not None and tuned.option == option and tuned.grid:
                continue
            if flag.flag not in seen:
                seen.add(flag.flag)
                add_record_flag(
                    group,
                    record.name,
                    flag.flag,
                    type=flag.type,
                    choices=flag.choices,
                    dest=_dest(flag.flag),
                    help=flag.help,
                )


def add_record_flag(group, owner: str, flag: str, **kwargs) -> None:
    """Add a flag a registered record declares; a clash with the command's own flags is a
    ValueError naming the record (not an argparse traceback)."""
    try:
        group.add_argument(flag, **kwargs)
    except argparse.ArgumentError as err:
        raise ValueError(
            f"method {owner!r} declares the flag {flag}, which this command already has; "
            "rename it in the method's record"
        ) from err


def _dest(flag: str) -> str:
    return "method_" + flag.lstrip("-").replace("-", "_")


def method_options(args: argparse.Namespace, methods: tuple[str, ...]) -> dict[str, dict]:
    """{method: {option: value}} for the method flags the user set, for ``methods``."""
    from ..methods import get_method

    options: dict[str, dict] = {}
    for name in methods:
        record = get_method(name)
        for option, flag in record.flags.items():
            value = getattr(args, _dest(flag.flag), None)
            if value is not None:
                options.setdefault(name, {})[option] = value
    return options
