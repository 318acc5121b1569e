"""The ``ganinverse`` command. Each subcommand lives in its own module of this package and
defines ``register(subparsers)``; they are discovered here, so adding one touches no other file.

Plugins: a package that declares an entry point in the group ``ganinverse.plugins`` (e.g. in its
pyproject.toml: ``[project.entry-points."ganinverse.plugins"] mine = "mypkg.methods"``) is
imported before the parser is built, so the methods, operators and attacks it registers are
choices and flags of every command."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
import warnings

PLUGINS = "ganinverse.plugins"  #: entry-point group of modules that register methods etc.


def load_plugins() -> list[str]:
    """Import every module of the ``ganinverse.plugins`` entry-point group (once); returns
    their names. A plugin that fails to import is an error naming it."""
    from importlib.metadata import entry_points

    names = []
    for ep in entry_points(group=PLUGINS):
        try:
            ep.load()
        except Exception as err:  # a broken plugin must not look like a ganinverse bug
            raise ImportError(
                f"the ganinverse plugin {ep.name!r} ({ep.value}) failed: {err}"
            ) from err
        names.append(ep.name)
    return names


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand module registered (plugins loaded first)."""
    from ._common import OneLineParser

    load_plugins()
    parser = OneLineParser(  # a parse error is one line, its subcommands' too
        prog="ganinverse",
        description="Inverse problems in imaging with a pretrained GAN as the prior.",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineParser
    )
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{info.name}").register(subparsers)
    return parser


def _refuse_empty_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A ValueError for a flag given an empty (or blank) text: no flag of any command takes
    one, and read as a name or path it would mean "not given" (``--discriminator ''`` ran with
    none) or the working folder (``--image ''``) in silence."""
    parsers = [parser]
    for command in (args.command, getattr(args, "defend_command", None)):
        sub = next(
            (a for a in parsers[-1]._actions if isinstance(a, argparse._SubParsersAction)), None
        )
        if command is None or sub is None or command not in sub.choices:
            break
        parsers.append(sub.choices[command])
    for action in parsers[-1]._actions:
        value = getattr(args, action.dest, None)
        if action.option_strings and isinstance(value, str) and not value.strip():
            flag = next((o for o in action.option_strings if o.startswith("--")), None)
            group = next(
                (g for g in parsers[-1]._mutually_exclusive_groups if action in g._group_actions),
                None,
            )
            if action.required:
                fix = "pass a value (the flag is required)"
            elif group is not None and group.required:
                fix = (
                    "pass a value (one of "
                    + " / ".join(a.option_strings[-1] for a in group._group_actions)
                    + " is required)"
                )
            else:
                fix = "pass a value, or leave the flag out where the run does not need it"
            raise ValueError(f"{flag or action.option_strings[0]} is empty ({value!r}): {fix}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ganinverse`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    # the command as argparse names it in its own errors ("ganinverse defend eval: error: ...")
    name = " ".join(
        str(v) for v in (args.command, getattr(args, "defend_command", None)) if v is not None
    )
    # warnings (e.g. ConvergenceWarning) as one line each, without the source line of the call
    format_before = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *_, **__: (
        f"ganinverse {name}: warning ({category.__name__}): {message}\n"
    )
    try:
        _refuse_empty_values(parser, args)
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(
            f"ganinverse {name}: error: {_with_flag(parser, args.command, err, args)}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"ganinverse {name}: interrupted; finished results are saved", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = format_before


def _command_actions(
    parser: argparse.ArgumentParser, command: str, args: argparse.Namespace | None
) -> list[argparse.Action]:
    """The actions of the parser that read the command's flags: ``command``'s, or its action's
    (``defend eval``: the parser of ``eval``, chosen by the sub-command's dest in ``args``)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen = sub.choices[command]
    while True:
        nested = [a for a in chosen._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, nested[0].dest, None) if nested and args is not None else None
        if name not in (nested[0].choices if nested else {}):
            return chosen._actions
        chosen = nested[0].choices[name]


def _with_flag(
    parser: argparse.ArgumentParser,
    command: str,
    err: Exception,
    args: argparse.Namespace | None = None,
) -> str:
    """The error message (on one line), led by the command-line flag when it starts with the
    name of the argument a flag the user set sets (the API's checks name arguments:
    ``lambda_z must be >= 0`` becomes ``--lambda-z: lambda_z must be >= 0``).

    An API message that names an entry with its flag (``x_values[1] (--mask blob): ...``)
    is led by the flag and value alone, as the other commands say it (``--mask blob: ...``).
    Only a guess that cannot be another flag: a message already led by a flag (the commands'
    own checks lead with the flag they concern, e.g. ``--ilo-lr: lr must ...``) is left as it
    is, and so is one whose first word is the argument of a flag the user did not set (``lr
    must ...`` from ``--untrained-lr`` is not ``--lr``'s)."""
    message = " ".join(str(err).split())
    indexed = re.match(r"[A-Za-z_]\w*\[\d+\] \((--[a-z][\w-]*(?: [^()]*)?)\): ", message)
    if indexed is not None:  # "x_values[1] (--mask blob): ..." -> "--mask blob: ..."
        return f"{indexed.group(1)}: {message[indexed.end() :]}"
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\b", message)
    if match is None:  # (a message led by "--flag" has no first word: left as it is)
        return message
    for action in _command_actions(parser, command, args):
        longs = [o for o in action.option_strings if o.startswith("--")]
        word = match.group(1)  # the flag's dest, or its own name (a record's flag: lasso_lambdas)
        named = "--" + word.replace("_", "-")  # (by name only where the message names no flag)
        if not longs or not (action.dest == word or (named in longs and named not in message)):
            continue
        value = getattr(args, action.dest, None) if args is not None else None
        if value is not None and value != action.default:  # the user set it
            return f"{longs[0]}: {message}"
    return message


if __name__ == "__main__":
    sys.exit(main())
