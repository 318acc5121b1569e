"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..sweep.spec import ENGINE_FLAGS as SWEEP_ENGINE_FLAGS


def _shows_default(default: object) -> bool:
    """Whether ``--help`` shows a flag's default: not for None / False (an unset flag) nor a
    suppressed one; 0 is a default and is shown."""
    return default is not None and default is not False and default != argparse.SUPPRESS


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """``--help`` shows each flag's default where its help does not already say it (a default
    of None or False, "not given", is not shown)."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = _shows_default(action.default) and action.option_strings
        if shown and "default" not in text and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text

    def _expand_help(self, action):
        """A list default reads as the flag takes it (``csgm,lasso-dct``), not as a tuple."""
        if isinstance(action.default, (list, tuple)):
            action = copy.copy(action)
            action.default = ",".join(map(str, action.default))
        return super()._expand_help(action)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose parse errors are one line, ``PROG: error: MESSAGE`` on stderr
    with exit code 2 (not the usage dump); ``--help`` is unchanged. Subcommand parsers are of
    this class too (``add_subparsers`` passes ``parser_class``), so an error names the
    subcommand (``ganinverse sweep: error: ...``), unrecognised arguments included. A value
    that starts with '-' and was taken for a flag (``--noise-std -inf``) gets the hint to write
    it as ``--noise-std=-inf``; a flag whose value is missing (``--m --out X``) is told which
    flag came next. Flags are never abbreviated (``allow_abbrev=False``): a prefix such as
    ``--untrained-steps`` is refused rather than taken for ``--untrained-steps-grid``, whose
    meaning differs. A single-valued flag given twice with different values (``--m 50 --m
    100``, ``--out A --out=B``) is refused, not settled by the last one (the same value twice
    is taken); flags that collect their values (``action="append"``, ``"count"``) are not."""

    _deepest: OneLineParser | None = None  #: the last parser that parsed (the subcommand's)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        # type=float / type=int read numbers strictly (no '0_1' read as 1: read_number)
        self.register("type", float, strict_float)
        self.register("type", int, strict_int)

    def add_argument(self, *args, **kwargs):
        """A flag without help text still shows its default in ``--help``."""
        if "help" not in kwargs and _shows_default(kwargs.get("default")):
            if any(a.startswith("-") for a in args) and kwargs.get("action") != "version":
                kwargs["help"] = "(default: %(default)s)"
        return super().add_argument(*args, **kwargs)

    def _get_value(self, action, arg_string):
        """A type function refused the text: where it said why the text is no number
        (``NumberTextError``: '0_1', '1 0', '1e-400'), that reason, not argparse's bare
        "invalid <type> value"."""
        from .._validation import NumberTextError

        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as err:
            cause = err.__context__
            if isinstance(cause, NumberTextError):
                raise argparse.ArgumentError(action, str(cause)) from cause
            raise

    def _check_value(self, action, value):
        """A value not among a flag's choices, in the words of every lookup of a name
        (``_validation.check_choice``: ``--method: method must be one of 'csgm', ...; got
        'Lasso-DCT'; did you mean 'lasso-dct'?``); a command name as argparse says it."""
        from .._validation import check_choice, closest

        choices = [str(c) for c in action.choices or ()]
        if not choices or value in choices:
            return super()._check_value(action, value)
        if not action.option_strings:  # (a command: argparse's words, and the one meant)
            try:
                super()._check_value(action, value)
            except argparse.ArgumentError as err:
                raise argparse.ArgumentError(
                    action, f"{err.message}{closest(value, choices)}"
                ) from None
            return None
        longs = [o for o in action.option_strings if o.startswith("--")] or action.option_strings
        name = longs[0].lstrip("-").replace("-", "_")  # (the flag's word: --prior, not its dest)
        hint = getattr(action, "choice_hint", None)  # (a flag's own words, e.g. the sweep's)
        try:
            check_choice(value, name, choices, hint=hint(value) if hint is not None else "")
        except ValueError as err:
            raise argparse.ArgumentError(action, str(err)) from None

    def add_subparsers(self, **kwargs):
        kwargs.setdefault("parser_class", OneLineParser)
        return super().add_subparsers(**kwargs)

    def parse_known_args(self, args=None, namespace=None):
        self._argv = list(sys.argv[1:] if args is None else args)
        self._given: dict[argparse.Action, tuple[list[str], Any]] = {}  # this parse's flags
        OneLineParser._deepest = self
        return super().parse_known_args(args, namespace)

    def _get_values(self, action, arg_strings):
        """argparse's values of one occurrence of ``action``; a single-valued flag met again in
        this parse with another value is an error (argparse would keep the last silently)."""
        values = super()._get_values(action, arg_strings)
        if not action.option_strings or not isinstance(action, _SINGLE_VALUED):
            return values
        given = getattr(self, "_given", None)
        if given is None:  # (parsed without parse_known_args: nothing to compare with)
            return values
        text = [a for a in arg_strings if a != "--"]
        if action in given:
            before, first = given[action]
            if not _same(first, values):
                raise argparse.ArgumentError(action, _twice(action, before, text, first, values))
        else:
            given[action] = (text, values)
        return values

    def parse_args(self, args=None, namespace=None):
        OneLineParser._deepest = None
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:  # reported by the subcommand that was parsing, not the top-level parser
            parser = OneLineParser._deepest or self
            parser.error(f"unrecognized arguments: {' '.join(extras)}{parser._longer(extras)}")
        return parsed

    #: {flag another command has: what this parser takes instead, as a sentence} (the sweep
    #: searches some options: ``--untrained-steps`` is given there as a one-value grid)
    instead: dict[str, str] = {}

    def _longer(self, extras: Sequence[str]) -> str:
        """'; did you mean ...' naming this parser's flags that an unrecognised ``--prefix``
        starts (flags are never abbreviated), or what ``instead`` says for it; '' when none."""
        hints, said = [], []
        for extra in extras:
            given = extra.split("=", 1)[0]
            if given in self.instead:
                said.append(self.instead[given])
            elif given.startswith("--"):
                names = sorted(o for o in self._option_string_actions if o.startswith(given))
                if names:
                    hints.append(f"{' or '.join(names)} for {given}")
        text = "".join(f"; {s}" for s in said)
        if hints:
            text += f"; did you mean {', '.join(hints)}? (flags are not abbreviated)"
        return text

    def error(self, message: str):
        message = " ".join(str(message).split())
        if message.startswith("the following arguments are required"):  # (--ou=X for --out)
            unknown = [
                t
                for t in getattr(self, "_argv", ())
                if t.startswith("--") and t.split("=", 1)[0] not in self._option_string_actions
            ]
            message += self._longer(unknown)
        message = re.sub(r"^argument (-[^:]*): ", r"\1: ", message)  # "--m: ..." like our checks
        message = re.sub(  # a type function's name in words: "invalid positive int value"
            r"invalid _*(\w+) value:", lambda m: f"invalid {m[1].replace('_', ' ')} value:", message
        )
        self.exit(2, f"{self.prog}: error: {message}{self._missing_value_hint(message)}\n")

    def _missing_value_hint(self, message: str) -> str:
        """What followed a flag argparse found without its value: '; pass negative numbers as
        --flag=-x' when it was a negative number, else the flag that came next (or that the
        flag was the last argument); '' for any other message."""
        counted = re.fullmatch(r"(\S+): expected (\d+) arguments", message)
        if counted is not None:  # (nargs=N: the flag's usage, e.g. --betas BETA1 BETA2)
            flag = counted.group(1).split("/")[-1]
            action = self._option_string_actions.get(flag)
            if action is not None and isinstance(action.metavar, tuple):
                return f": pass {flag} {' '.join(action.metavar)} (values separated by spaces)"
            return f": pass {counted.group(2)} values after {flag}, separated by spaces"
        found = re.fullmatch(r"(\S+): expected (?:one argument|at least one argument)", message)
        if found is None:
            return ""
        flags = found.group(1).split("/")
        argv = getattr(self, "_argv", [])
        for i, token in enumerate(argv):
            flag = next((f for f in flags if token == f or _abbreviates(token, f)), None)
            if flag is None:
                continue
            if i + 1 == len(argv):
                return f"; {flag} is the last argument: put its value right after it"
            after = argv[i + 1]
            if not after.startswith("-") or after == "-":  # (this one had its value)
                continue
            if _is_number(after):
                return f"; pass negative numbers as {flag}={after}"
            name = after.split("=", 1)[0]
            if after.startswith("--") or name in self._option_string_actions:
                return f"; the flag {name} came next: put the value of {flag} right after it"
            return f"; pass a value that starts with '-' as {flag}={after}"
        return ""


#: argparse's actions that keep one value (a repeat replaces it): a repeat with another value
#: is refused (``OneLineParser._get_values``); append / count actions collect their repeats.
_SINGLE_VALUED = (argparse._StoreAction, argparse._StoreConstAction)


def _same(a: Any, b: Any) -> bool:
    """Whether two parsed values of one flag are the same (NaN the same as NaN)."""
    try:
        if a == b:
            return True
    except Exception:  # (a value whose == does not give a bool, e.g. an array)
        pass
    return type(a) is type(b) and repr(a) == repr(b)


def _twice(action: argparse.Action, before: list[str], after: list[str], a: Any, b: Any) -> str:
    """The message for a single-valued flag given twice with different values."""
    shown = [" ".join(v) if v else "set" for v in (before, after)]
    shown = [text if text else "''" for text in shown]  # (an empty value: --generator "")
    text = f"given twice ({shown[0]}, then {shown[1]}): give it once"
    if isinstance(a, tuple) and isinstance(b, tuple) and len(before) == len(after) == 1:
        sep = ";" if any(isinstance(v, dict) for v in (*a, *b)) else ","
        flag = next((o for o in action.option_strings if o.startswith("--")), None)
        flag = flag or action.option_strings[0]
        items = dict.fromkeys(i.strip() for v in (before[0], after[0]) for i in v.split(sep))
        text += f" (a list is one value: {flag} {sep.join(items)} for both)"
    return text


def _is_number(text: str) -> bool:
    """Whether ``text`` (or its first comma-separated item) reads as a number (-inf, -1e-3)."""
    try:
        float(text.split(",", 1)[0])
    except ValueError:
        return False
    return True


def _abbreviates(token: str, flag: str) -> bool:
    """Whether ``token`` is argparse's abbreviation of the long flag ``flag``."""
    return token.startswith("--") and len(token) > 2 and flag.startswith(token)


def _items(text: str, what: str) -> list[str]:
    """The comma-separated items of ``text``, stripped; an empty item (``0.1,,0.2``, a
    trailing comma: a value lost by a typo) is an argparse error naming ``what``."""
    items = [v.strip() for v in text.split(",")]
    if not any(items):  # (the wording of every other empty value: "--flag is empty")
        raise argparse.ArgumentTypeError(
            f"is empty ({text!r}): pass one or more {what}, comma-separated, or leave the flag "
            "out where the run does not need it"
        )
    if not all(items):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated {what}, got {text!r} with an empty entry; "
            "remove the extra comma"
        )
    return items


def _once(values: tuple, text: str) -> tuple:
    """``values`` if no value is listed twice, else an argparse error (a repeated candidate or
    setting would run, and be reported, twice)."""
    from .._validation import check_distinct

    try:
        return tuple(check_distinct(values, repr(text)))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _why(err: ValueError) -> str:
    """Python's int() / float() refusal in words; any other reason as it was given."""
    text = str(err)
    if text.startswith("invalid literal for int()"):
        return "is not a whole number"
    if text.startswith("could not convert string to float"):
        return "is not a number"
    return f"is refused: {text}"


def parsed_list(text: str, parse, what: str) -> tuple:
    """``"a,b"`` -> (parse("a"), parse("b")); an empty list, an empty entry, a bad item or an
    item listed twice is an argparse error naming ``what`` (e.g. "ints", "factor values")."""
    items = _items(text, what)
    from .._validation import NumberTextError

    values = []
    for item in items:
        try:
            values.append(parse(item))
        except ValueError as err:  # (name the entry, and why where the reader said)
            why = (
                str(err) if isinstance(err, NumberTextError) else f"the entry {item!r} {_why(err)}"
            )
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {what}, got {text!r}: {why}"
            ) from err
    return _once(tuple(values), text)


def strict_float(text: str) -> float:
    """argparse's ``type=float`` for every parser of the package (``OneLineParser`` registers
    it): ``_validation.read_number``, so ``--lr 0_1`` is an error, not 1.0."""
    return _strict(text, float)


def strict_int(text: str) -> int:
    """argparse's ``type=int`` (see :func:`strict_float`)."""
    return _strict(text, int)


def _strict(text: str, kind: type) -> int | float:
    from .._validation import NumberTextError, read_number

    try:
        return read_number(text, kind)
    except NumberTextError as err:  # (else argparse's own "invalid float value: 'x'")
        raise argparse.ArgumentTypeError(str(err)) from err


def _number_list(text: str, kind: type) -> tuple:
    from .._validation import read_number

    return parsed_list(text, lambda v: read_number(v, kind), f"{kind.__name__}s")


def int_list(text: str) -> tuple[int, ...]:
    """``"10,25,50"`` -> (10, 25, 50)."""
    return _number_list(text, int)


def float_list(text: str) -> tuple[float, ...]:
    """``"0.1,1e-3"`` -> (0.1, 0.001)."""
    return _number_list(text, float)


def prune_fractions(text: str) -> tuple[float, ...]:
    """``--prune-at``: ``"0.1,0.3"`` -> (0.1, 0.3); ``"none"`` -> () (no pruning: every restart
    runs all its steps, whatever a card or preset would prune)."""
    return () if text.strip().lower() == "none" else float_list(text)


def str_list(text: str) -> tuple[str, ...]:
    """``"a,b"`` -> ("a", "b") (no empty entry, no name twice)."""
    return _once(tuple(_items(text, "names")), text)


def _number(text: str, name: str) -> int | float:
    """``"300"`` -> 300, ``"1e-3"`` -> 0.001."""
    from .._validation import NumberTextError, read_number

    try:
        return read_number(text, int)
    except NumberTextError as err:  # (a reason beyond "not an int": '_', a space, ...)
        raise argparse.ArgumentTypeError(f"{name}: {err}") from err
    except ValueError:
        pass
    try:
        return read_number(text, float)
    except NumberTextError as err:
        raise argparse.ArgumentTypeError(f"{name}: {err}") from err
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: expected a number, got {text!r}") from None


def _engine_words() -> set[str]:
    """The engine options whose values are words (init, optimizer, schedule, projection,
    select): an ``--engine-grid`` candidate takes them as typed (the engine checks them)."""
    import dataclasses

    from ..latent import LatentConfig

    return {f.name for f in dataclasses.fields(LatentConfig) if isinstance(f.default, str)}


def engine_list(text: str) -> tuple[dict, ...]:
    """``"lambda_z=0.3,steps=300;lambda_z=0.001"`` -> ({"lambda_z": 0.3, "steps": 300}, ...);
    ``prune_at=0.1/0.3`` -> ``{"prune_at": (0.1, 0.3)}`` (a tuple's fractions '/'-separated;
    ``prune_at=none``: no pruning); a word option as its word (``init=uniform``)."""
    candidates = []
    typed: dict[str, str] = {}  # a candidate's settings -> how it was first typed
    parts = text.split(";")
    if any(not p.strip() for p in parts) and any(p.strip() for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected ';'-separated candidates, got {text!r} with an empty one; remove the "
            "extra ';'"
        )
    for part in (p for p in parts if p.strip()):
        candidate = {}
        for item in part.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r} in {text!r}")
            if key.strip() in candidate:
                raise argparse.ArgumentTypeError(
                    f"{key.strip()} is set twice in the candidate {part.strip()!r}; set it once"
                )
            if key.strip() == "prune_at" and value.strip().lower() == "none":
                candidate["prune_at"] = ()
            elif key.strip() == "prune_at":  # a tuple: its fractions '/'-separated
                fractions = value.strip().split("/")
                candidate["prune_at"] = tuple(_number(v.strip(), "prune_at") for v in fractions)
            elif key.strip() in _engine_words():  # (init=uniform, optimizer=sgd, ...)
                candidate[key.strip()] = value.strip()
            else:
                candidate[key.strip()] = _number(value.strip(), key.strip())
        settings = json.dumps(candidate, sort_keys=True)
        if settings in typed:  # (as typed: steps=10 and steps=1e1 are one candidate)
            raise argparse.ArgumentTypeError(
                f"the candidate {part.strip()!r} repeats {typed[settings]!r} (the same "
                "settings): it would run, and be reported, twice; list it once"
            )
        typed[settings] = part.strip()
        candidates.append(candidate)
    if not candidates:
        raise argparse.ArgumentTypeError("expected at least one candidate")
    return tuple(candidates)


def add_engine_args(parser: argparse.ArgumentParser, *, card: bool = False) -> None:
    """Latent-engine knobs shared by the GAN-based commands (None = the method's default);
    ``card``: the command takes an unset flag's setting from the generator's card first
    (``methods.default_config``: reconstruct), else from the method's preset (sweep, inpaint:
    what their records hold)."""
    from ..solvers.csgm import CSGM_PRESETS

    preset = CSGM_PRESETS["mnist"]
    source = (
        "the one the generator's card recommends for this operator's m and noise (`ganinverse "
        "tune` writes it), else the method's preset"
        if card
        else "the method's preset (this command does not read the generator's card: "
        "`ganinverse reconstruct` does)"
    )
    group = parser.add_argument_group(
        "latent optimisation",
        f"An unset flag takes each method's own setting: {source} "
        f"(csgm: --steps {preset.steps}, --restarts {preset.restarts}, --lr {preset.lr:g}, "
        f"--lambda-z {preset.lambda_z:g}, --prune-at "
        f"{','.join(f'{f:g}' for f in preset.prune_at) or 'none'}). The run's summary records "
        "the settings used.",
    )
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
        type=prune_fractions,
        dest="prune_at",
        help="fractions of the steps at which each image keeps the better half of its restarts "
        "(none: no pruning)",
    )
    group.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")


#: The engine options of ``add_engine_args``: {LatentConfig field: its flag} (the sweep's, and
#: inpaint's --box: the others have no such flag, getattr gives None).
ENGINE_FLAGS = {**SWEEP_ENGINE_FLAGS, "box": "--box"}


def engine_overrides(args: argparse.Namespace) -> dict:
    """The engine options the user set on the command line."""
    return {k: getattr(args, k) for k in ENGINE_FLAGS if getattr(args, k, None) is not None}


def engine_flag_owners(args: argparse.Namespace, methods: Sequence[str]) -> dict[str, list[str]]:
    """{engine flag the user set: the methods that run the latent engine}: for
    ``check_flags_used`` with the methods' chains (``method_chain``: csgm-sparse and iagan
    run CSGM's engine first), so an engine flag of a sweep or a reconstruction that runs no
    latent search (the Lasso, the untrained priors) is refused, not ignored. An engine flag that
    cannot act with the others in any latent method of ``methods`` (``latent.ACTS_WHEN``:
    ``--prune-at`` with ``--restarts 1``) is a ValueError here."""
    from ..methods import get_method

    engine = engine_overrides(args)
    takers = latent_methods()
    idle: dict[str, str] = {}  # flag: what it needs, idle in every latent method that runs
    first = None  # (the first latent method's engine: the message's example)
    for i, name in enumerate(n for n in chains(methods) if n in takers):
        try:
            config = get_method(name).defaults["config"].overridden(**engine)
        except (TypeError, ValueError):  # a bad value: the engine checks name its flag later
            return {ENGINE_FLAGS[key]: takers for key in engine}
        here = {
            k: f"{needs} ({name}: {_engine_line(config, k)})"
            for k, needs in config.idle_options().items()
            if k in engine
        }
        idle = here if i == 0 else {k: v for k, v in idle.items() if k in here}
        first = config if first is None else first
    refuse_idle_flags(idle, first)
    return {ENGINE_FLAGS[key]: takers for key in engine}


def refuse_idle_flags(idle: dict[str, str], config: Any = None) -> None:
    """A ValueError for the first engine flag in ``idle`` ({option: what it needs to act},
    ``LatentConfig.idle_options``), naming the flags that decide it (``latent.ACTS_WHEN``):
    under ``config`` (the engine the flags gave), only those whose part of the condition fails."""
    from ..latent import ACTS_WHEN

    for key, needs in idle.items():
        flag = ENGINE_FLAGS[key]
        acts = ACTS_WHEN[key]
        deciding = acts.deciding if config is None else acts.blocking(config)
        joint = acts.parts is not None and config is not None  # (each failing part must change)
        change = (" and " if joint else " or ").join(
            ENGINE_FLAGS[f] for f in deciding if f in ENGINE_FLAGS
        )
        fix = (
            f"drop {flag} or change {change}"
            if change
            else f"drop {flag} (no flag of this command changes those settings)"
        )
        raise ValueError(
            f"{flag} changes nothing with these flags: it acts only with {needs}; {fix}"
        )


def _engine_line(config: Any, key: str) -> str:
    """The settings of ``config`` that decide whether option ``key`` acts, as k=v."""
    from ..latent import ACTS_WHEN

    return ", ".join(f"{f}={getattr(config, f)!r}" for f in ACTS_WHEN[key].deciding)


def unused_engine_options(config: Any, keys: Sequence[str]) -> dict[str, str]:
    """{option of ``keys``: the settings that leave it unused, as k=v} for the engine options of
    ``config`` that cannot act with its other settings (``latent.ACTS_WHEN``: lr at steps=0,
    prune_at at restarts=1). A run's record names them unused instead of a value no step used:
    ``LatentConfig.overridden`` resets such an option to the engine's default (lr=0.01), not
    the card's or the method's, so its value is no setting of the run. An empty setting
    (prune_at=(), tol=None) is left out: nothing of it goes unused."""
    idle = config.idle_options(given=keys)
    return {
        k: _engine_line(config, k)
        for k in keys
        if k in idle and getattr(config, k) not in ((), None)
    }


#: The latent-engine settings a run's summary.json records (reconstruct's and inpaint's alike).
ENGINE_RECORD = ("steps", "restarts", "lr", "lambda_z", "init", "prune_at", "box", "tol", "seed")


def engine_record(config: Any, keys: Sequence[str] = ENGINE_RECORD) -> dict:
    """The engine settings ``keys`` of a run for its summary.json, as JSON values (a tuple as a
    list); one its other settings leave unused (lr at steps=0) is null, with why under
    "unused" (``unused_engine_options``), not the engine default it was reset to."""
    unused = unused_engine_options(config, keys)

    def native(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return [native(v) for v in value]
        return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)

    record = {k: None if k in unused else native(getattr(config, k)) for k in keys}
    if unused:
        record["unused"] = {k: f"at {line}" for k, line in unused.items()}
    return record


def check_axis_value(operator: type, shape: Sequence[int], value: Any) -> None:
    """The operator's own check of its axis value against the images' (C, H, W) shape
    (``check_setting``, the one the sweep runs for each x value: e.g. a mask with no missing
    pixel is nothing to inpaint), led as the sweep leads it: ``--mask SPEC: ...``. A check
    only: the conversions of a mask file warn where the command reads it for its work."""
    import warnings

    from ..exceptions import ConversionWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConversionWarning)
            operator.check_setting(tuple(shape), value)
    except (ValueError, TypeError, FileNotFoundError) as err:
        if str(err).startswith(operator.axis.flag):
            raise
        raise type(err)(f"{operator.axis.flag} {value}: {err}") from err


def refuse_idle_seed(
    operator: str,
    shape: Sequence[int],
    values: Sequence[Any],
    x: Any,
    *,
    seed: int,
    ids: Sequence[int],
    noise_std: float,
    methods: Sequence[str],
    given: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """A ValueError for a --seed that changes nothing: no noise is drawn, no method of
    ``methods`` (or one it starts from) draws random numbers with its options ``given``
    ({method: options set}; ``Method.draws_at_random``), and ``operator`` at every axis
    value of ``values`` maps the image ``x`` (1, C, H, W) the same under the next seed."""
    import torch

    from ..methods import get_method
    from ..operators import make_operator

    given = given or {}
    if noise_std > 0 or any(
        get_method(n).draws_at_random(given.get(n, {})) for n in chains(methods)
    ):
        return
    for value in values:
        a, b = (make_operator(operator, shape, value, seed=s, ids=ids) for s in (seed, seed + 1))
        if not torch.equal(a(x), b(x)):
            return
    names = ",".join(methods)
    who = (  # (gaussian draws G's samples, or nothing with a samples file)
        f"the options given to {names} draw no"
        if any(callable(get_method(n).seeded) for n in methods)
        else f"no method of {names} draws"
    )
    raise ValueError(
        f"--seed: operator {operator!r} draws nothing at random at these settings, there is no "
        f"noise (--noise-std 0) and {who} random numbers, so --seed changes nothing; drop --seed"
    )


def chains(methods: Sequence[str]) -> list[str]:
    """``methods`` and every method they start from (``method_chain``), in order, once."""
    return list(dict.fromkeys(n for m in methods for n in method_chain(m)))


def add_method_flags(
    parser: argparse.ArgumentParser,
    *,
    searched: bool = False,
    defaults_here: Mapping[str, str] | None = None,
) -> None:
    """The option flags of every registered method (``Method.flags``), once per flag; with
    ``searched`` an option whose weight is always searched (e.g. Lasso's λ) is left out.
    ``defaults_here`` ({flag: text}): the default a command gives a flag instead of the
    records' (inpaint blends every completion into blended.png: ``--iagan-blend`` there is
    Poisson blending when unset)."""
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
                    type=_keeping_reason(flag.type),
                    choices=flag.choices,
                    dest=_dest(flag.flag),
                    # (the usage line shows the flag's own name, not the dest's METHOD_ prefix)
                    metavar=None if flag.choices else flag_metavar(flag.flag),
                    help=(
                        f"{flag.help} (default here: {defaults_here[flag.flag]})".replace("%", "%%")
                        if flag.flag in (defaults_here or {})
                        else _with_record_defaults(flag.help, flag.flag, METHODS.values())
                    ),
                )


def _with_record_defaults(text: str, flag: str, records) -> str:
    """A method flag's help with the default of its option in each record that has it (the
    flag's own default is None: it tells a given flag from an unset one)."""
    shown = {}
    for record in records:
        for option, f in record.flags.items():
            value = record.defaults.get(option)
            if f.flag == flag and isinstance(value, (bool, int, float, str)):
                word = (
                    str(value).lower()
                    if isinstance(value, bool)
                    else f"{value:g}"
                    if isinstance(value, float)
                    else str(value)
                )
                shown.setdefault(word, []).append(record.name)
    if not shown or "default:" in text or "(default" in text:
        return text
    if len(shown) == 1:
        return f"{text} (default: {next(iter(shown))})".replace("%", "%%")
    each = ", ".join(f"{v} for {'/'.join(names)}" for v, names in shown.items())
    return f"{text} (default: {each})".replace("%", "%%")


def _keeping_reason(parse):
    """A record's own parser of a flag's text (not int / float / str, which the parser's type
    registry reads) with its ValueError's reason shown: argparse would print only
    "invalid <name> value"."""
    if parse in (int, float, str) or not callable(parse):
        return parse

    @functools.wraps(parse)
    def read(text: str):
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from err

    return read


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


def flag_metavar(flag: str) -> str:
    """The usage line's name of a flag's value: the flag's own (``--iagan-blend IAGAN_BLEND``),
    not that of the dest it is stored under (``METHOD_IAGAN_BLEND``, ``AXIS_M``, ``GRID_LAM``)."""
    return flag.lstrip("-").replace("-", "_").upper()


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


def latent_methods() -> list[str]:
    """The registered methods that run the latent engine (they take the engine flags)."""
    from ..methods import METHODS

    return [name for name, record in METHODS.items() if record.latent]


def set_method_flags(args: argparse.Namespace) -> dict[str, list[str]]:
    """{flag: the methods that take it} for every method option flag (``Method.flags``) the
    user set. (The engine flags, ``add_engine_args``, are shared settings of whichever latent
    method runs, passed alike to every method by scripts and tests: not checked here.)"""
    from ..methods import METHODS

    owners: dict[str, list[str]] = {}
    for record in METHODS.values():
        for flag in record.flags.values():
            if getattr(args, _dest(flag.flag), None) is not None:
                owners.setdefault(flag.flag, []).append(record.name)
    return owners


def check_flags_used(
    owners: Mapping[str, Sequence[str]],
    methods: Sequence[str],
    *,
    how: str,
    choices: Iterable[str] | None = None,
    runs: Iterable[str] | None = None,
) -> None:
    """Raise a ValueError for the first flag of ``owners`` ({flag the user set: the methods
    that take it}) that none of ``methods`` takes: a flag of a method that does not run would
    be ignored silently. ``how``: the flag that selects the methods (``--methods`` or
    ``--method``); ``choices``: the methods this command can run (default: every one);
    ``runs``: the methods that run (default: ``methods``; ``chains(methods)`` for the engine
    and grid flags, which the methods a selected one starts from take too)."""
    selected = set(methods) if runs is None else set(runs)
    for flag, takers in owners.items():
        if selected & set(takers):
            continue
        takers = [t for t in takers if choices is None or t in set(choices)]
        if not takers:
            raise ValueError(f"{flag} is an option of no method this command runs; drop the flag")
        names = ", ".join(takers)
        if how == "--methods":
            which = (
                f"{names}, which --methods does not include; add {names} to --methods"
                if len(takers) == 1
                else f"{names}, none of which --methods includes; add one of them to --methods"
            )
        else:
            which = f"{names}, not of {how} {', '.join(methods)}; " + (
                f"pass {how} {names}" if len(takers) == 1 else f"pick one of them with {how}"
            )
        raise ValueError(f"{flag} is an option of {which} or drop the flag")


def check_discriminator_used(
    methods: Sequence[str],
    given: Mapping[str, Mapping[str, Any]],
    *,
    how: str,
    choices: Iterable[str] | None = None,
) -> None:
    """``--discriminator`` was set: raise a ValueError unless a method of ``methods`` uses D
    with the options the user set (``given``, ``method_options``): csgm uses it only with
    ``--d-weight > 0`` (``Method.discriminator_acts_when``), a Lasso never. Else the
    discriminator would be loaded and ignored."""
    from ..methods import METHODS, get_method

    records = [get_method(name) for name in methods]
    if any(r.takes_discriminator(given.get(r.name, {})) for r in records):
        return
    validate_methods(methods, given, how=how)  # a bad --d-weight is named as such first
    for r in records:
        if r.uses_discriminator:  # it would, with other options
            needs = r.discriminator_acts_when[1]
            raise ValueError(
                f"--discriminator is used by {r.name} only with {needs}: pass {needs.split()[0]} "
                "(e.g. 0.01) or drop --discriminator"
            )
    takers = [n for n, r in METHODS.items() if r.uses_discriminator]
    check_flags_used({"--discriminator": takers}, methods, how=how, choices=choices)


def check_generator_used(
    generator: str | None,
    methods: Sequence[str],
    given: Mapping[str, Mapping[str, Any]],
    *,
    how: str,
    kept: str = "",
) -> None:
    """``--generator`` was set (not None): raise a ValueError unless a method of ``methods`` (or
    one it starts from) uses G with its options (``given``: {method: the options set}):
    gaussian only with G's samples (``Method.generator_acts_when``), a Lasso never. Else G
    would be loaded, checked against the images and recorded, and change nothing. ``kept``:
    what happens without it (the images keep their own size)."""
    from ..methods import METHODS, get_method

    if generator is None:
        return
    names = [n for m in methods for n in method_chain(m)]
    if any(get_method(n).uses_generator(given.get(n) if n in methods else None) for n in names):
        return
    tail = f" ({kept})" if kept else ""
    for name in methods:
        record = get_method(name)
        if record.needs_generator:  # it would, with other options
            needs = record.generator_acts_when[1]
            raise ValueError(
                f"--generator is used by {name} only when {needs}, so here it would change "
                f"nothing{tail}; drop --generator"
            )
    if how == "--method":
        raise ValueError(
            f"--generator: method {methods[0]!r} uses no generator, so it would change nothing"
            f"{tail}; drop --generator"
        )
    takers = [n for n, r in METHODS.items() if r.needs_generator]
    check_flags_used({"--generator": takers}, methods, how=how)


def load_method_generator(
    generator: str | None, record: Any, options: Mapping[str, Any], device: Any, *, kept: str
) -> tuple[str, Any]:
    """One method's ``--generator`` (reconstruct, inpaint): refused where the method uses no G
    with its full ``options`` (``check_generator_used``; ``kept``: what happens without it),
    else (its name, default ``digits``; G loaded on ``device``, or None where the method uses
    none)."""
    from ..models import load_generator

    check_generator_used(
        generator, (record.name,), {record.name: options}, how="--method", kept=kept
    )
    name = "digits" if generator is None else generator  # (the default G)
    uses = record.uses_generator(options)
    return name, (load_generator(name, device=device) if uses else None)


def spelled_file(value: Any) -> Any:
    """A setting as a summary records it: a path to an existing file (a ``--mask`` file)
    absolute, as the image's and a samples file's, else the value as given (``center``)."""
    if isinstance(value, str) and value.strip() and Path(value).is_file():
        return str(Path(value).resolve())
    return value


def method_chain(name: str) -> list[str]:
    """``name`` and the methods it starts from (their searches run for it)."""
    from ..methods import get_method

    names = []
    while name is not None and name not in names:
        names.append(name)
        name = get_method(name).starts_from
    return names


def validate_methods(
    methods: Sequence[str],
    given: Mapping[str, Mapping[str, Any]],
    *,
    grids: Mapping[str, Sequence] | None = None,
    grid_flags: Mapping[str, str] | None = None,
    engine: Mapping[str, Any] | None = None,
    shape: Sequence[int] | None = None,
    G: Any = None,
    D: Any = None,
    how: str = "--methods",
    operator: type | None = None,
    noise_std: float | None = None,
    batch: int = 2,
    batch_flag: str | None = None,
    n_val: int | None = None,
    noise_fixed: str | None = None,
    measurements: Mapping[str, int] | None = None,
    device: Any = None,
) -> dict[str, dict]:
    """{method: its options}: ``given`` ({method: {option: value}} the user set,
    ``method_options``) over each method's defaults, checked as its solver checks them
    (``Method.validate``) before any work or file. ``engine``: the latent-engine overrides (the
    engine flags) on each latent method's default ``config``; ``shape``, ``G``, ``D``: the
    images' (C, H, W) and the models, once loaded (the checks that need them run then);
    ``operator``: the operator class the methods meet (an option that applies to other
    operators only, ``Method.option_operators``, is refused); ``noise_std``: the operator's
    noise (the ``Flag.acts_when`` rules that need it see it as the option ``noise_std``;
    ``noise_fixed``: why a command without --noise-std has that noise, e.g. inpaint's none);
    ``batch``: the images solved side by side (the networks an untrained prior trains per
    image must fit in memory together, ``Method.networks``), set by ``batch_flag`` where a flag
    sets it (the message names it); ``n_val``: the validation images a method's weight search
    fits side by side (checked for the methods that search: ``grids`` with two or more
    candidates), set by --n-val; ``measurements``: {what sets it (e.g. "--m 5000"; "": no
    words): the measurements per image} of the operators the methods meet, once the images'
    shape is known, and ``device`` where they run: the checks that need them (gaussian's
    memory, iagan's averaged Gaussian's) run with the largest, an error naming what set it.
    With
    ``grids`` ({tuned key: candidates}; a key absent: the record's default grid) every
    candidate of every grid the methods search is checked too, the grids of the methods they
    start from included (csgm-sparse searches csgm's engine), and every grid the user set
    (``grid_flags``), searched or not.

    An error is a ValueError/TypeError led by the flag that set the bad value: the option's
    flag (``Method.flags``) or, for a candidate, the grid's (``grid_flags[key]`` where the user
    set it); else it names the method as ``how`` (the flag that chose it) does: ``--method yeh:
    ...`` (and a default grid's flag)."""
    from ..methods import METHODS, get_method, idle_method_options, is_search

    checked: dict[str, dict] = {}
    where, d = max((measurements or {}).items(), key=lambda item: item[1], default=("", None))
    names = [n for m in methods for n in method_chain(m)]
    for key in grid_flags or {}:  # a grid the user set is checked even if no method searches it
        if not any(get_method(n).tuned and get_method(n).tuned.key == key for n in names):
            names += [n for n, r in METHODS.items() if r.tuned and r.tuned.key == key][:1]
    for name in dict.fromkeys(names):
        record = get_method(name)
        options = dict(given.get(name, {})) if name in methods else {}
        if engine and record.latent:  # a bad engine flag raises here, named by its argument
            options = {"config": record.defaults["config"].overridden(**engine), **options}
        tuned = record.tuned
        grid = () if grids is None or tuned is None else tuple(grids.get(tuned.key, tuned.grid))
        lead = f"{how} {name}" if name in methods else f"method {name!r}"
        checks = {"shape": shape, "G": G, "D": D, "grid": grid, "operator": operator}
        checks.update(batch=2, device=device, flags=True)  # (the messages in flags)
        try:  # (the networks' memory for the images side by side: below, by the flags)
            full = record.validate(options, **checks, d=d)
        except (ValueError, TypeError) as err:
            kind = TypeError if isinstance(err, TypeError) else ValueError
            text = _flagged(record, err, options, grid, grid_flags or {}, lead)
            if where and d is not None and _passes(record, options, checks):  # (d's fault)
                text += f" (at {where})"
            raise kind(text) from err
        if name in methods and shape is not None and record.networks is not None:
            sides = [(batch, f"{batch_flag} {batch}" if batch_flag else "fewer images per call")]
            if n_val is not None and is_search(grid):
                sides.append(
                    (
                        n_val,
                        f"--n-val {n_val} (the search of {record.tuned.flag} fits "
                        "its validation images side by side)",
                    )
                )
            _check_side_by_side(record, full, shape, sides, lead)
        if name in methods:
            runs = record.runs(full, grid, noise_std)
            for option, needs in idle_method_options(record, given.get(name, {}), runs).items():
                flag = record.flags[option].flag
                if grid and tuned.option in record.flags:  # (a sweep: its grid flag names it)
                    needs = needs.replace(
                        record.flags[tuned.option].flag, f"a {tuned.flag} candidate", 1
                    )
                if noise_fixed and "--noise-std" in needs:  # (a command without the flag)
                    raise ValueError(
                        f"{flag} has no effect here: it acts only with {needs} ({record.name}), "
                        f"and {noise_fixed}; drop {flag}"
                    )
                fix = record.flags[option].fix_for(runs)
                raise ValueError(
                    f"{flag} has no effect unless {needs} ({record.name}): {fix}, or drop {flag}"
                )
            checked[name] = full
    return checked


def _passes(record, options: Mapping, checks: Mapping) -> bool:
    """Whether ``record.validate(options, **checks)`` passes (without the measurement count:
    an error it raised with one was the count's)."""
    try:
        record.validate(options, **checks)
    except (ValueError, TypeError):
        return False
    return True


def _check_side_by_side(
    record, options: Mapping, shape: Sequence[int], sides: Sequence[tuple[int, str]], lead: str
) -> None:
    """A ValueError led by ``lead`` unless the networks ``record`` trains per image
    (``Method.networks``) fit in memory for each (images, what sets them) of ``sides``: the
    message names the network's size flag and the flag that sets the count to lower."""
    from ..models.cost import check_training_memory

    build, what, fix = record.networks(options, tuple(shape))
    for count, setter in sides:
        if count <= 2:  # (two copies at least: checked by Method.validate)
            continue
        try:
            check_training_memory(build, what, fix, copies=count)
        except ValueError as err:
            raise ValueError(
                f"{lead}: {err}, or fewer images side by side: lower {setter}"
            ) from err


def shown(candidate: Any) -> str:
    """A grid candidate as typed: 0.1, or an engine candidate's k=v pairs (the sweep spec's
    spelling, ``typed_candidate``, so its messages and the CLI's agree)."""
    from ..sweep.spec import typed_candidate, typed_value

    if isinstance(candidate, Mapping):
        return typed_candidate(candidate)
    return typed_value(candidate)


def _flagged(
    record, err: Exception, options: Mapping, grid: Sequence, grid_flags: Mapping, lead: str
) -> str:
    """The message of ``Method.validate``'s error led by the flag that set the bad value."""
    from ..methods import is_search

    option = getattr(err, "option", None)
    own = record.tuned.option if record.tuned else None
    one = bool(grid) and not is_search(grid)  # the option set is the search's one candidate
    if option == "grid" and own in options and own in record.flags and one:
        return f"{record.flags[own].flag}: {err}"  # (the option set is the search's candidate)
    if option == "grid":
        flag = grid_flags.get(record.tuned.key)
        if flag == "--engine-grid" and isinstance(err.candidate, Mapping):  # (as the spec)
            return f"{flag} {shown(err.candidate)}: {err}"
        if flag is not None:  # (which entry: "--lasso-lambdas 0.1,nan" failed on lam=nan)
            return f"{flag}: entry {err.index + 1} of {len(grid)} ({shown(err.candidate)}): {err}"
        default = ",".join(map(str, grid))
        return (
            f"{lead}, its default {record.tuned.flag} {default}: {err}; pass "
            f"{record.tuned.flag} with values that fit"
        )
    text = str(err)
    for f in record.flags.values():  # (a check given the flags: led by the option's own)
        if text.startswith(f"{f.flag}: "):
            return text
        if text.startswith(f"{f.flag} "):  # ("--gaussian-images is empty": the flag leads)
            return f"{f.flag}: {text[len(f.flag) + 1 :]}"
    if option in options and option in record.flags:
        flag = record.flags[option].flag
        said = f"{option}={options[option]!r} "
        if text.startswith(said) and record.flags[option].type not in (int, float, str):
            # (a value the flag's reader converted, not what the user typed: --iagan-blend
            # poisson is blend=True): the flag alone says which
            return f"{flag} {text[len(said) :]}"
        return f"{flag}: {text}"
    return f"{lead}: {err}"


def dataset_selection(args: argparse.Namespace, defaults: Mapping[str, Any]) -> None:
    """The flags that pick dataset images (``defaults``: {dest: default}, e.g. ``split``,
    ``index``), filled in with their defaults for a --dataset run; with --image they would pick
    nothing: a ValueError naming the flag."""
    for dest, default in defaults.items():
        value = getattr(args, dest)
        if value is not None and not getattr(args, "dataset", None):
            flag = "--" + dest.replace("_", "-")
            raise ValueError(
                f"{flag} picks dataset images, but --image gives the image(s): drop {flag} "
                "(or pass --dataset instead of --image)"
            )
        setattr(args, dest, default if value is None else value)


@contextlib.contextmanager
def recorded_conversions():
    """Collect the messages of every :class:`~ganinverse.exceptions.ConversionWarning` raised
    inside (a 16-bit file holding 8-bit values, colour files of a folder greyed, ...) into the
    yielded list, for the run's summary; each is still shown (re-issued under the caller's
    filters after the block), so recording never hides one."""
    import warnings

    from ..exceptions import ConversionWarning

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConversionWarning)
        try:
            yield notes
        finally:
            seen = list(caught)
    for w in seen:
        if issubclass(w.category, ConversionWarning):
            notes.append(str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def note_conversion(path: str, shape: Sequence[int] | None) -> str | None:
    """Print a note when the image file ``path`` is brought to the generator's ``shape`` (C, H,
    W; None: kept as it is) by a conversion that loses nothing: grey made RGB, a square file
    resized. Those that lose or distort content (a colour file made grey, a non-square one
    stretched) ``load_image_file`` warns as ConversionWarning, and they are not repeated here.
    Reads the file's header only. Returns the note's conversions ("grey to RGB, 280x280 px to
    28x28"), or None."""
    from ..data import _default_mode, _image_size_of

    if shape is None:
        return
    (width, height), mode = _image_size_of(Path(path))
    channels = 1 if _default_mode(mode) == "L" else 3
    c, h, w = shape
    done = []
    if channels == 1 and c == 3:
        done.append("grey to RGB")
    if width == height and (height, width) != (h, w):
        done.append(f"{width}x{height} px to {w}x{h}")
    if done:
        print(f"note: {path} converted ({', '.join(done)}) for the generator's {c}x{h}x{w} images")
    return ", ".join(done) or None


def run_fingerprints(
    files: Mapping[str, str],
    *,
    image: str | None = None,
    mask: Any = None,
    generator: str | None = None,
    discriminator: str | None = None,
) -> dict:
    """summary.json's ``input_fingerprints`` of a reconstruct / inpaint run: ``files`` (the
    method's file options', ``Method.recorded``), then the SHA-256 (16 hex digits,
    ``io.file_fingerprint``) of the ``image`` file read (``--image``; a folder's: ``images``,
    {file relative to it: fingerprint}), of a ``mask`` file (``--mask``; a mask spec such as
    center: none), and the weights' identities (``models.model_fingerprint``) of the
    ``generator`` and ``discriminator`` used (None: none used), as a sweep records its inputs."""
    from ..data import folder_files
    from ..io import file_fingerprint
    from ..masks import FILE_SUFFIXES
    from ..models import model_fingerprint

    found = dict(files)
    if image is not None and Path(image).is_dir():
        found["images"] = {f: file_fingerprint(Path(image) / f) for f in folder_files(image)}
    elif image is not None:
        found["image"] = file_fingerprint(image)
    if isinstance(mask, str) and Path(mask).suffix.lower() in FILE_SUFFIXES:
        found["mask"] = file_fingerprint(mask)
    if generator is not None:
        found["generator"] = model_fingerprint(generator, "generator")
    if discriminator is not None:
        found["discriminator"] = model_fingerprint(discriminator, "discriminator")
    return found
