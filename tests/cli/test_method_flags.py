"""Method options on the command line (every command, every registered method's flags, so a
method registered later falls under these tests too):

1. every method's options, and every candidate of the grids its sweep searches, are checked as
   its solver checks them before any work or file (``Method.validate``);
2. an error names the flag the user passed (not an internal option name, nor another flag
   whose option has the same name);
3. a flag of a method that does not run is refused, not ignored;
4. every parse error is one line ``ganinverse <command>: error: ...`` (exit 2).

Each bad case asserts exit code 2, one line on stderr led by the right flag, and --out never
created."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import pytest
import torch

from ganinverse.cli import _with_flag, build_parser, main
from ganinverse.cli._common import method_chain
from ganinverse.cli.inpaint import _methods as inpaint_methods
from ganinverse.methods import METHODS, Flag, Method, Tuned, get_method, register_method

COMMANDS = ("sweep", "reconstruct", "inpaint")


def _parser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def _has_flag(command: str, flag: str) -> bool:
    return flag in _parser(command)._option_string_actions


def _operator(method: str) -> list[str]:
    """A setting the method applies to (yeh, tv, biharmonic: inpainting only)."""
    if get_method(method).operators is not None:
        return ["--operator", "inpainting", "--mask", "center"]
    return ["--m", "25"]


def argv(command: str, method: str, out, *extra: str) -> list[str]:
    """A tiny run of ``method``: digits, 2 images, 2 steps, 1 restart (a flag of ``extra``
    replaces the run's own: a flag given twice with two values is refused)."""
    record = get_method(method)
    engine = ["--steps", "2", "--restarts", "1"] if record.latent else []
    generator = ["--generator", "digits"] if record.needs_generator else []
    common = ["--dataset", "digits", *generator, "--device", "cpu", *engine]
    common += ["--no-progress", "--out", str(out)]
    if command == "sweep":  # --n-val only where a weight is searched (else it is refused)
        head = ["sweep", "--methods", method, *_operator(method), "--n-images", "2"]
        runs = extra[extra.index("--methods") + 1].split(",") if "--methods" in extra else [method]
        searched = any(len(_grid(n, extra)) > 1 for m in runs for n in method_chain(m))
        return _with(["sweep", *head[1:], *(["--n-val", "1"] if searched else []), *common], extra)
    if command == "reconstruct":
        return _with(["reconstruct", "--method", method, *_operator(method), *common], extra)
    return _with(["inpaint", "--method", method, "--n", "2", *common], extra)


def _with(base: list[str], extra: Sequence[str]) -> list[str]:
    """``base`` (COMMAND then flag-value pairs and lone flags) without the flags ``extra`` sets,
    then ``extra``."""
    given = {token.partition("=")[0] for token in extra if token.startswith("--")}
    kept, i = [base[0]], 1
    while i < len(base):
        has_value = i + 1 < len(base) and not base[i + 1].startswith("--")
        if base[i] not in given:
            kept += base[i : i + 1 + has_value]
        i += 1 + has_value
    return [*kept, *extra]


def _grid(method: str, extra: Sequence[str]) -> tuple:
    """The candidates of ``method``'s tuned weight in a sweep given ``extra`` (its grid flag's
    values there, else the default grid; a one-candidate grid is no search)."""
    tuned = get_method(method).tuned
    if tuned is None:
        return ()
    flags = [tuned.flag, *(["--lambda-z-grid"] if tuned.option == "config" else [])]
    for i, token in enumerate(extra):
        flag, _, value = token.partition("=")
        if flag in flags:
            value = value or (extra[i + 1] if i + 1 < len(extra) else "")
            return tuple(value.replace(";", ",").split(","))
    return tuple(tuned.grid)


def run(args: list[str], capsys) -> tuple[int, str]:
    """(exit code, stderr) of ``ganinverse ARGS`` (an argparse error exits)."""
    try:
        code = main(args)
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, command: str, lead: str, tmp_path) -> None:
    """Exit 2, one line on stderr led by ``lead``, nothing written."""
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert err.startswith(f"ganinverse {command}: error: {lead}"), err
    assert not (tmp_path / "new").exists()


def _owner(flag: str, command: str) -> str | None:
    """A method that takes ``flag`` and that ``command`` runs (None: there is none)."""
    runs = inpaint_methods() if command == "inpaint" else list(METHODS)
    owners = [n for n, r in METHODS.items() if any(f.flag == flag for f in r.flags.values())]
    return next((n for n in owners if n in runs), None)


def _flags() -> dict[str, Flag]:
    """Every method option flag of the registered methods, once."""
    flags: dict[str, Flag] = {}
    for record in METHODS.values():
        for flag in record.flags.values():
            flags.setdefault(flag.flag, flag)
    return flags


def _generic_bad(flag: Flag) -> str | None:
    """A value every option of this kind refuses: NaN for a float (finite numbers only), a
    fraction for an int, an unknown choice, a word the flag's type does not read."""
    if flag.choices:
        return "no-such-choice"
    if flag.type is float:
        return "nan"
    if flag.type is int:
        return "2.5"
    if flag.type is not str:
        try:
            flag.type("no-such-value")
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            return "no-such-value"
    return None


#: Values the solvers refuse beyond the generic ones (the faults a user found among them).
DOMAIN_BAD = [
    ("--dd-channels", "0"),
    ("--dd-depth", "0"),
    ("--dd-depth", "9"),
    ("--dip-channels", "0"),
    ("--dip-levels", "9"),
    ("--frame-level", "0"),
    ("--frame-level", "99"),
    ("--frame-wavelet", "foo"),
    ("--ilo-layer", "99"),
    ("--ilo-steps", "-1"),
    ("--iagan-steps", "-1"),
    ("--untrained-steps", "0"),
    ("--sparse-basis", "foo"),
    ("--d-prior", "foo"),
    ("--window", "4"),
    ("--window", "0"),
    ("--tv-iters", "0"),
    ("--lam", "-1"),
    ("--prior-weight", "-1"),
    ("--frame-band-weight", "-1"),
]


def _bad_cases() -> list:
    cases = []
    for command in COMMANDS:
        values = [(f, v) for f, flag in _flags().items() if (v := _generic_bad(flag))]
        for flag, value in values + DOMAIN_BAD:
            method = _owner(flag, command)
            if method is None or not _has_flag(command, flag):
                continue
            cases.append(pytest.param(command, method, flag, value, id=f"{command} {flag}={value}"))
    return cases


@pytest.mark.parametrize("command, method, flag, value", _bad_cases())
def test_a_bad_method_option_is_refused_naming_its_flag_before_any_file(
    command, method, flag, value, tmp_path, capsys
):
    out = tmp_path / "new" / "out"
    code, err = run(argv(command, method, out, f"{flag}={value}"), capsys)
    assert_refused(code, err, command, f"{flag}: ", tmp_path)


def _grid_cases() -> list:
    cases = []
    seen = set()
    for name, record in METHODS.items():
        tuned = record.tuned
        if tuned is None or tuned.flag in seen or record.operators is not None:
            continue
        seen.add(tuned.flag)
        value = "lambda_z=nan" if tuned.option == "config" else "0.1,nan"
        cases.append(pytest.param(name, tuned.flag, value, id=f"{tuned.flag}={value}"))
    cases += [
        pytest.param("csgm", "--lambda-z-grid", "0.1,nan", id="--lambda-z-grid=0.1,nan"),
        pytest.param("ilo", "--ilo-layer-grid", "1,99", id="--ilo-layer-grid=1,99"),
        pytest.param("deep-decoder", "--untrained-steps-grid", "0", id="--untrained-steps-grid=0"),
        pytest.param("iagan", "--iagan-steps-grid", "-1", id="--iagan-steps-grid=-1"),
        pytest.param("csgm", "--engine-grid", "restarts=0", id="--engine-grid=restarts=0"),
    ]
    return cases


@pytest.mark.parametrize("method, flag, value", _grid_cases())
def test_every_candidate_of_a_searched_grid_is_checked_before_any_file(
    method, flag, value, tmp_path, capsys
):
    """The grid's candidates are the options each search runs: checked like fixed options,
    the error led by the grid's flag (not --lambda-z / --steps, the engine's own flags)."""
    out = tmp_path / "new" / "out"
    code, err = run(argv("sweep", method, out, f"{flag}={value}"), capsys)
    lead = f"{flag} {value}: " if flag == "--engine-grid" else f"{flag}: "  # (the entry as typed)
    assert_refused(code, err, "sweep", lead, tmp_path)


def test_a_refused_sweep_leaves_no_folder_so_the_corrected_one_runs_there(tmp_path, capsys):
    """Issue: the bad value was recorded in sweep.json after the first methods' rows, so the
    corrected command into the same folder was "a different sweep"."""
    out = tmp_path / "new" / "out"
    grids = ["--lasso-lambdas", "0.1", "--untrained-steps-grid", "2"]
    base = argv("sweep", "lasso-dct", out, "--methods", "lasso-dct,deep-decoder", *grids)
    code, err = run([*base, "--dd-channels", "0"], capsys)
    assert_refused(code, err, "sweep", "--dd-channels: ", tmp_path)
    code, err = run([*base, "--dd-channels", "2"], capsys)
    assert code == 0, err
    assert (out / "sweep.json").is_file()


@pytest.mark.parametrize(
    "command, flags, lead",
    [
        ("sweep", ["--methods", "ilo", "--lr", "0.1", "--ilo-lr", "nan"], "--ilo-lr: "),
        ("reconstruct", ["--method", "ilo", "--lr", "0.1", "--ilo-lr", "nan"], "--ilo-lr: "),
        ("sweep", ["--methods", "dip", "--untrained-lr", "nan"], "--untrained-lr: "),
        ("reconstruct", ["--method", "dip", "--untrained-lr", "nan"], "--untrained-lr: "),
        (
            "sweep",
            ["--methods", "csgm", "--steps", "2", "--engine-grid", "lambda_z=nan"],
            "--engine-grid lambda_z=nan: ",
        ),
        ("sweep", ["--methods", "iagan", "--iagan-lr-theta", "nan"], "--iagan-lr-theta: "),
        ("reconstruct", ["--method", "csgm", "--lr", "nan"], "--lr: "),
        # a grid no method of the sweep searches is refused (before its values are read)
        (
            "sweep",
            ["--methods", "lasso-dct", "--engine-grid", "lambda_z=nan"],
            "--engine-grid is an option of csgm",
        ),
        ("sweep", ["--methods", "csgm", "--lambda-z", "nan"], "--lambda-z: "),
    ],
)
def test_the_error_names_the_flag_passed_not_one_whose_option_has_the_same_name(
    command, flags, lead, tmp_path, capsys
):
    out = tmp_path / "new" / "out"
    generator = ["--generator", "digits"] if get_method(flags[1]).needs_generator else []
    args = [command, "--dataset", "digits", *generator, "--m", "25"]
    args += [*flags, "--n-images" if command == "sweep" else "--index", "2"]
    code, err = run([*args, "--no-progress", "--out", str(out)], capsys)
    assert_refused(code, err, command, lead, tmp_path)


def test_with_flag_prefixes_only_a_flag_the_user_set():
    parser = build_parser()
    args = parser.parse_args(["reconstruct", "--dataset", "digits", "--out", "o"])
    err = ValueError("lr must be a finite number, got nan")
    assert _with_flag(parser, "reconstruct", err, args) == str(err)  # --lr not set: no guess
    args = parser.parse_args(["reconstruct", "--dataset", "digits", "--out", "o", "--lr", "1"])
    assert _with_flag(parser, "reconstruct", err, args).startswith("--lr: lr must")
    named = ValueError("--ilo-lr: lr must be a finite number, got nan")
    assert _with_flag(parser, "reconstruct", named, args) == str(named)  # named already


def _foreign_cases() -> list:
    cases = []
    for command in COMMANDS:
        for flag, spec in _flags().items():
            if not _has_flag(command, flag):
                continue
            owners = {
                n for n, r in METHODS.items() if any(f.flag == flag for f in r.flags.values())
            }
            method = next(m for m in ("csgm", "lasso-dct", "tv") if m not in owners)
            value = spec.choices[0] if spec.choices else _valid(flag)
            cases.append(pytest.param(command, method, flag, value, id=f"{command} {flag}"))
        cases.append(
            pytest.param(command, "lasso-dct", "--discriminator", "digits", id=f"{command} D")
        )
    cases.append(pytest.param("inpaint", "lasso-dct", "--box", "3", id="inpaint --box"))
    return cases


def _valid(flag: str) -> str:
    """A value the flag's type reads: the default of a method that takes it, else 1."""
    for record in METHODS.values():
        for option, spec in record.flags.items():
            if spec.flag == flag and record.defaults[option] is not None:
                return str(record.defaults[option])
    return "1"


@pytest.mark.parametrize("command, method, flag, value", _foreign_cases())
def test_a_flag_of_a_method_that_does_not_run_is_refused(
    command, method, flag, value, tmp_path, capsys
):
    out = tmp_path / "new" / "out"
    code, err = run(argv(command, method, out, f"{flag}={value}"), capsys)
    assert_refused(code, err, command, f"{flag} is ", tmp_path)
    how = "--methods" if command == "sweep" else f"--method {method}"
    assert how in err and "or drop the flag" in err, err


def test_a_sweep_refuses_a_flag_of_no_selected_method_and_names_the_owner(tmp_path, capsys):
    out = tmp_path / "new" / "out"
    code, err = run(argv("sweep", "csgm", out, "--iagan-lr-z", "inf"), capsys)
    assert_refused(code, err, "sweep", "--iagan-lr-z is an option of iagan", tmp_path)
    assert "add iagan to --methods or drop the flag" in err


def test_a_grid_of_a_parent_method_serves_the_method_that_starts_from_it(tmp_path, capsys):
    """csgm-sparse searches csgm's engine: --engine-grid is not foreign to it (and checked)."""
    out = tmp_path / "new" / "out"
    args = argv("sweep", "csgm-sparse", out, "--engine-grid", "lambda_z=nan")
    code, err = run(args, capsys)
    assert_refused(code, err, "sweep", "--engine-grid lambda_z=nan: lambda_z", tmp_path)


# ------------------------------------------------- engine flags, grids, options that do not act
def _engine_cases() -> list:
    """Every engine flag with a method that runs no latent search, on every command."""
    from ganinverse.cli._common import ENGINE_FLAGS

    values = {"--prune-at": "0.5", "--tol": "1e-4", "--lambda-z": "0.1", "--lr": "0.1"}
    return [
        pytest.param(command, flag, values.get(flag, "3"), id=f"{command} {flag}")
        for command in COMMANDS
        for flag in ENGINE_FLAGS.values()
        if _has_flag(command, flag)
    ]


@pytest.mark.parametrize("command, flag, value", _engine_cases())
def test_an_engine_flag_of_a_run_with_no_latent_search_is_refused(
    command, flag, value, tmp_path, capsys
):
    method = "tv" if command == "inpaint" else "lasso-dct"
    out = tmp_path / "new" / "out"
    code, err = run(argv(command, method, out, flag, value), capsys)
    assert_refused(code, err, command, f"{flag} is an option of csgm", tmp_path)


def _grid_flag_cases() -> list:
    """Every grid flag of the sweep with a method that searches another grid."""
    cases, seen = [], set()
    for record in METHODS.values():
        tuned = record.tuned
        if tuned is None or tuned.flag in seen:
            continue
        seen.add(tuned.flag)
        method = next(m for m in ("lasso-dct", "csgm") if get_method(m).tuned.key != tuned.key)
        method = method if not (method == "csgm" and tuned.key == "engine") else "lasso-dct"
        own = record.flags.get(tuned.option)
        value = "lambda_z=0.1" if tuned.key == "engine" else "0.1"
        value = "1" if own is not None and own.type is int else value  # (an int grid)
        cases.append(pytest.param(method, tuned.flag, value, id=tuned.flag))
    cases.append(pytest.param("lasso-dct", "--lambda-z-grid", "0.1", id="--lambda-z-grid"))
    return cases


@pytest.mark.parametrize("method, flag, value", _grid_flag_cases())
def test_a_grid_no_running_method_searches_is_refused(method, flag, value, tmp_path, capsys):
    out = tmp_path / "new" / "out"
    code, err = run(argv("sweep", method, out, flag, value), capsys)
    assert_refused(code, err, "sweep", f"{flag} is an option of ", tmp_path)
    assert "--methods" in err


def test_engine_flags_and_grids_serve_the_methods_that_start_from_csgm(tmp_path, capsys):
    """iagan and csgm-sparse run csgm's search first: csgm's engine flags and grid are theirs."""
    for method in ("iagan", "csgm-sparse"):
        out = tmp_path / method
        args = argv("sweep", method, out, "--lambda-z-grid", "0.1", "--steps", "3")
        code, err = run(args, capsys)
        assert code == 0, err


@pytest.mark.parametrize("command", ["sweep", "reconstruct"])
def test_an_option_that_cannot_act_is_refused(command, tmp_path, capsys):
    """--d-prior with γ = 0 (no --d-weight): the prior is off, the flag would be ignored."""
    out = tmp_path / "new" / "out"
    code, err = run(argv(command, "csgm", out, "--d-prior", "wgan"), capsys)
    assert_refused(code, err, command, "--d-prior has no effect unless --d-weight > 0", tmp_path)


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--lasso-lambdas", "0.1,,0.2", "with an empty entry; remove the extra comma"),
        ("--lasso-lambdas", "0.1,0.2,", "with an empty entry"),
        ("--lasso-lambdas", "0.1,0.1", "0.1 is listed twice"),
        ("--engine-grid", "lambda_z=0.1;lambda_z=0.1", "'lambda_z=0.1' repeats 'lambda_z=0.1'"),
        ("--engine-grid", "lambda_z=0.1;lambda_z=1e-1", "'lambda_z=1e-1' repeats 'lambda_z=0.1'"),
        ("--methods", "lasso-dct,lasso-dct", "'lasso-dct' is listed twice"),
        ("--prune-at", "0.1,,0.3", "with an empty entry"),
        ("--prune-at", " ", "is empty (' '): pass one or more floats, comma-separated, or leave"),
        ("--lasso-lambdas", ",", "is empty (','): pass one or more floats"),
        ("--m", " ", "is empty (' '): pass one or more m values for --m"),
    ],
)
def test_a_list_with_an_empty_or_repeated_entry_is_refused(flag, value, message, tmp_path, capsys):
    out = tmp_path / "new" / "out"
    args = ["sweep", "--dataset", "digits", "--m", "25", "--methods", "csgm,lasso-dct"]
    code, err = run([*args, f"{flag}={value}", "--out", str(out)], capsys)
    assert_refused(code, err, "sweep", f"{flag}: ", tmp_path)
    assert message in err, err


@pytest.mark.parametrize(
    "extra, lead",
    [
        (["--m=-5"], "m (--m) must be >= 1"),
        (["--m", "0"], "m (--m) must be >= 1"),
        (["--methods", "csgm,foo"], "--methods: method must be one of 'csgm', "),
    ],
)
def test_sweep_errors_name_the_flag(extra, lead, tmp_path, capsys):
    out = tmp_path / "new" / "out"
    args = ["sweep", "--dataset", "digits", "--generator", "digits"]
    if "--methods" not in extra:
        args += ["--methods", "csgm"]
    if not any(a.startswith("--m") and not a.startswith("--methods") for a in extra):
        args += ["--m", "25"]
    code, err = run([*args, *extra, "--out", str(out)], capsys)
    assert_refused(code, err, "sweep", lead, tmp_path)


def test_a_rerun_with_other_settings_names_the_flags_and_both_values(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = argv("sweep", "csgm", out)
    assert run(args, capsys)[0] == 0
    code, err = run([*args, "--lr", "0.2"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    # (helper-71: the flag that changed, and the default the saved run used, not "null")
    assert "--lr: saved 0.01 (the default), now 0.2" in err, err
    assert "resolved engine" not in err  # (said once)


def test_reconstruct_leads_a_bad_mask_file_with_its_flag(tmp_path, capsys):
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    out = tmp_path / "new" / "out"
    args = ["reconstruct", "--method", "csgm", "--operator", "inpainting", "--mask", str(fake)]
    args += ["--dataset", "digits", "--generator", "digits", "--device", "cpu"]
    code, err = run([*args, "--out", str(out)], capsys)
    assert_refused(code, err, "reconstruct", f"--mask {fake}: mask file", tmp_path)


# ----------------------------------------------------------------------- one-line parse errors
def _commands() -> list[list[str]]:
    """Every subcommand's argv head (a subcommand with actions: each action)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    heads = []
    for name, command in sub.choices.items():
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        heads += [[name, action] for a in nested for action in a.choices] or [[name]]
    return heads


@pytest.mark.parametrize("head", _commands(), ids=" ".join)
def test_every_command_reports_an_unknown_flag_in_one_line(head, capsys):
    code, err = run([*head, "--no-such-flag"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"ganinverse {' '.join(head)}: error: "), err


@pytest.mark.parametrize(
    "args, lead, hint",
    [
        (
            ["reconstruct", "--method", "Lasso-DCT"],
            "--method: method must be one of",
            "'lasso-dct'?",
        ),
        (["sweep", "--operator", "Gaussian"], "--operator: operator must be one of", "'gaussian'?"),
        (["sweep", "--methods", "CSGM"], "--methods: method must be one of", "'csgm'?"),
        (
            [
                "sweep",
                "--operator",
                "inpainting",
                "--methods",
                "biharmonic",
                "--mask",
                "Center",
                "--n-images",
                "2",
            ],
            "--mask Center",
            "'center'?",
        ),
        (["inpaint", "--mask", "randm"], "--mask", "'random'?"),
    ],
)
def test_a_name_in_another_case_is_refused_naming_the_one_meant(args, lead, hint, tmp_path, capsys):
    """helper-68: names are exact on every command, as in the API; the refusal names the
    choice meant ('Gaussian' -> gaussian, 'CSGM' -> csgm)."""
    out = tmp_path / "new" / "out"
    code, err = run([args[0], "--dataset", "digits", *args[1:], "--out", str(out)], capsys)
    assert_refused(code, err, args[0], lead, tmp_path)
    assert f"did you mean {hint}" in err, err


@pytest.mark.parametrize(
    "args, lead",
    [
        (["sweep", "--m", "2.5"], "--m: "),
        (["sweep", "--m="], "--m: "),
        (["sweep", "--methods="], "--methods: "),
        (["sweep", "--noise-std", "-inf"], "--noise-std: "),
        (["reconstruct", "--window", "2.5"], "--window: "),
        (["reconstruct", "--m", "2.5"], "--m: invalid positive int value"),
        (["reconstruct", "--noise-std", "-inf"], "--noise-std: "),
        (["inpaint", "--n", "2.5"], "--n: "),
        (["inpaint", "--method", "magic"], "--method: method must be one of 'csgm', "),
        (["train-classifier", "--epochs", "1.5"], "--epochs: "),
    ],
)
def test_a_parse_error_is_one_line_naming_the_flag(args, lead, tmp_path, capsys):
    out = tmp_path / "new" / "out"
    full = [args[0], "--dataset", "digits", *args[1:], "--out", str(out)]
    code, err = run(full, capsys)
    assert_refused(code, err, args[0], lead, tmp_path)
    if "-inf" in args:
        assert "pass negative numbers as --noise-std=-inf" in err


def test_help_is_still_the_full_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: ganinverse sweep") and "--dd-channels" in text
    # a method flag's value is named after the flag (helper-70: [--iagan-blend METHOD_IAGAN_BLEND])
    assert "[--iagan-blend IAGAN_BLEND]" in text and "METHOD_" not in text
    # (helper-71: the axis and grid flags too: [--m AXIS_M], [--lasso-lambdas GRID_LAM])
    assert "[--m M]" in text and "[--lasso-lambdas LASSO_LAMBDAS]" in text
    assert "AXIS_" not in text and "GRID_" not in text
    assert "--n-images N_IMAGES   test images scored" in text


# --------------------------------------------------------------------------- train-classifier
@pytest.mark.parametrize(
    "extra, lead",
    [
        (["--eps", "0.3"], "--eps is used only with --adversarial"),
        (["--pgd-steps", "3"], "--pgd-steps is used only with --adversarial"),
        (["--adversarial", "pgd", "--manifold-steps", "3"], "--manifold-steps is used only"),
        (["--projection-steps", "3"], "--projection-steps is used only with --on-recon"),
    ],
)
def test_train_classifier_refuses_a_flag_of_a_training_that_does_not_run(
    extra, lead, tmp_path, capsys
):
    out = tmp_path / "new" / "out"
    args = ["train-classifier", "--dataset", "digits", "--n", "32", "--epochs", "1"]
    code, err = run([*args, *extra, "--device", "cpu", "--out", str(out)], capsys)
    assert_refused(code, err, "train-classifier", lead, tmp_path)


# ------------------------------------------------------------------------------------ pretrain
@pytest.mark.parametrize(
    "extra, lead",
    [
        (["--lr", "nan"], "--lr: lr must be a finite number"),
        (["--ema-decay", "1"], "--ema-decay: ema_decay must be < 1"),
        (["--betas", "0.5", "nan"], "--betas: betas[1]"),
        (["--steps", "2.5"], "--steps: invalid int value"),
        (["--lr", "-inf"], "--lr: expected one argument; pass negative numbers as --lr=-inf"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--clip", "0.01"], "--clip is an option of --loss wgan, not of --loss gan"),
        (["--gp-lambda", "10"], "--gp-lambda is an option of --loss wgan-gp, not of --loss gan"),
        (["--loss", "wgan", "--gp-lambda", "10"], "--gp-lambda is an option of --loss wgan-gp"),
        (["--loss", "vae", "--arch", "mlp", "--n-critic", "2"], "--n-critic is an option of"),
        (["--loss", "vae", "--arch", "mlp", "--d-norm", "none"], "--d-norm is an option of"),
        (["--loss", "vae", "--arch", "mlp", "--ndf", "32"], "--ndf is an option of --loss gan"),
        (["--loss", "vae", "--arch", "mlp", "--lr-d", "1e-3"], "--lr-d is an option of --loss"),
        (["--arch", "mlp", "--ngf", "32"], "--ngf is an option of --arch dcgan, not of --arch mlp"),
        (["--hidden", "64", "64"], "--hidden is an option of --arch mlp, not of --arch dcgan"),
        (
            ["--optimizer", "rmsprop", "--betas", "0.5", "0.9"],
            "--betas is an option of --optimizer adam / oadam, not of --optimizer rmsprop",
        ),
        (
            ["--loss", "wgan", "--betas", "0.5", "0.9"],
            "--betas is an option of --optimizer adam / oadam, not of --optimizer rmsprop (the "
            "default of --loss wgan)",
        ),
    ],
)
def test_pretrain_errors_are_one_line_naming_the_flag(extra, lead, tmp_path, capsys):
    from pretrain.cli import main as pretrain

    out = tmp_path / "new" / "out"
    args = ["--dataset", "digits", "--steps", "2", "--device", "cpu", "--no-progress"]
    try:
        code = pretrain([*args, *extra, "--out", str(out)])
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"ganinverse-pretrain: error: {lead}"), err
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------- a method registered later
def _toy_solver(G, operator, y, *, width=4, scale=1.0):
    raise AssertionError("no work may start before the options are checked")


def _check_toy(options, shape):
    from ganinverse._validation import check_int, check_positive

    check_int(options["width"], "width", low=1)
    check_positive(options["scale"], "scale")


@pytest.fixture
def toy_method():
    record = register_method(
        Method(
            "toy-flags",
            _toy_solver,
            "a test's method with two options",
            defaults={"width": 4, "scale": 1.0},
            tuned=Tuned("toy_scale", "scale", "--toy-scale-grid", "scale candidates", (1.0,)),
            needs_generator=False,
            flags={"width": Flag("--toy-width", int, "the toy's width")},
            check_options=_check_toy,
        )
    )
    yield record
    del METHODS[record.name]


@pytest.mark.parametrize(
    "methods, extra, lead",
    [
        ("toy-flags", ["--toy-width", "0"], "--toy-width: width must be >= 1"),
        (
            "toy-flags",
            ["--toy-scale-grid", "1,-2"],
            "--toy-scale-grid: entry 2 of 2 (-2): scale must be > 0",
        ),
        ("csgm", ["--toy-width", "3"], "--toy-width is an option of toy-flags, which --methods"),
    ],
)
def test_a_method_registered_later_has_its_flags_checked(
    toy_method, methods, extra, lead, tmp_path, capsys
):
    out = tmp_path / "new" / "out"
    needs = any(get_method(m).needs_generator for m in methods.split(","))
    args = ["sweep", "--dataset", "digits", *(["--generator", "digits"] if needs else [])]
    args += ["--m", "25", "--methods", methods, "--n-images", "2", "--no-progress"]
    args += ["--steps", "2"] if get_method(methods).latent else []
    code, err = run([*args, *extra, "--out", str(out)], capsys)
    assert_refused(code, err, "sweep", lead, tmp_path)


# ------------------------------------------------------------------------ Method.validate (API)
def test_validate_blames_the_option_and_the_candidate():
    from ganinverse.models import DCGANGenerator

    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4)
    record = get_method("deep-decoder")
    with pytest.raises(ValueError, match="depth = 9 halves 28x28") as info:
        record.validate({"channels": 8, "depth": 9}, shape=(1, 28, 28))
    assert (info.value.option, info.value.candidate) == ("depth", None)
    with pytest.raises(ValueError, match="steps must be >= 1") as info:
        record.validate({}, shape=(1, 28, 28), grid=(100, 0))
    assert (info.value.option, info.value.candidate) == ("grid", 0)
    with pytest.raises(ValueError, match="split points") as info:
        get_method("ilo").validate({"layer": 7}, G=G)
    assert info.value.option == "layer"
    # a check that needs D fails without any given option to blame; the option that fixes it
    with pytest.raises(ValueError, match="needs a discriminator") as info:
        get_method("yeh").validate({}, G=G)
    assert info.value.option is None
    assert get_method("yeh").validate({"prior_weight": 0.0}, G=G)["prior_weight"] == 0.0


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_s_defaults_and_default_grid_pass_its_checks(name):
    """A record's own defaults must pass its checks (else every run would be refused); the
    checks build nothing in memory (the networks on the meta device)."""
    from ganinverse.models import DCGANGenerator

    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4)
    record = get_method(name)
    D = torch.nn.Linear(1, 1) if record.uses_discriminator else None
    grid = record.tuned.grid if record.tuned is not None else ()
    options = record.validate({}, shape=(1, 28, 28), G=G, D=D, grid=grid)
    assert set(options) == set(record.defaults)


@pytest.mark.parametrize(
    "value, message",
    [
        ("lambda_z=0.1;", "with an empty one; remove the extra ';'"),
        ("lambda_z=0.1;;lambda_z=0.01", "with an empty one"),
        ("lambda_z=0.1,lambda_z=0.2", "lambda_z is set twice in the candidate"),
    ],
)
def test_an_engine_grid_with_an_empty_candidate_or_a_key_twice_is_refused(
    value, message, tmp_path, capsys
):
    out = tmp_path / "new" / "out"
    code, err = run(argv("sweep", "csgm", out, f"--engine-grid={value}"), capsys)
    assert_refused(code, err, "sweep", "--engine-grid: ", tmp_path)
    assert message in err, err


@pytest.mark.parametrize(
    "extra, lead",
    [
        (
            ["--methods", "csgm", "--lambda-z", "0.7", "--lambda-z-grid", "0.1,0.01"],
            "--lambda-z is replaced by the candidates of --lambda-z-grid, which all set lambda_z",
        ),
        (
            ["--methods", "csgm", "--steps", "5", "--engine-grid", "lambda_z=0.3,steps=3"],
            "--steps is replaced by the candidates of --engine-grid, which all set steps",
        ),
        (
            ["--methods", "iagan", "--lambda-z", "0.5", "--engine-grid", "lambda_z=0.3;lambda_z=1"],
            "--lambda-z is replaced by the candidates of --engine-grid",
        ),
        (
            ["--methods", "csgm-sparse", "--sparse-l1", "0.5", "--sparse-l1-grid", "0.1,0.01"],
            "--sparse-l1 is replaced by the candidates of --sparse-l1-grid (csgm-sparse chooses "
            "its l1 among 0.1,0.01 on validation images): pass --sparse-l1-grid 0.5",
        ),
    ],
)
def test_a_fixed_value_a_grid_replaces_is_refused(extra, lead, tmp_path, capsys):
    """A value set beside a grid that searches it would be ignored and recorded in sweep.json
    as if used (user trial): refused. An engine-grid that sets only steps leaves --lambda-z."""
    args = ["sweep", "--dataset", "digits", "--generator", "digits", "--m", "10", "--n-images"]
    args += ["2", "--restarts", "1", "--device", "cpu", "--out", str(tmp_path / "new" / "o")]
    code, err = run([*args, *extra], capsys)
    assert_refused(code, err, "sweep", lead, tmp_path)
    from ganinverse.cli import build_parser
    from ganinverse.cli.sweep import _check_grids_replace_nothing

    for grid in ("steps=3;steps=5", "lambda_z=0.3,steps=3;steps=5"):  # one leaves lambda_z
        ok = build_parser().parse_args(
            [*args, "--methods", "csgm", "--lambda-z", "0.1", "--engine-grid", grid]
        )
        _check_grids_replace_nothing(ok)  # no error


@pytest.mark.parametrize("command", ["sweep", "reconstruct", "inpaint", "tune"])
def test_prune_at_with_one_restart_is_refused(command, tmp_path, capsys):
    """--prune-at cannot act with --restarts 1 (user trial: accepted in silence); every command
    says it by one rule (``latent.ACTS_WHEN``), naming the flag that would make it act."""
    args = [command, "--dataset", "digits", "--generator", "digits", "--device", "cpu"]
    args += {
        "sweep": ["--m", "10", "--methods", "csgm"],
        "reconstruct": ["--m", "10"],
        "tune": ["--m", "10", "--n-val", "2"],
    }.get(command, [])
    args += ["--restarts", "1", "--prune-at", "0.5", "--out", str(tmp_path / "new" / "o")]
    code, err = run(args, capsys)
    assert_refused(
        code,
        err,
        command,
        "--prune-at changes nothing with these flags: it acts only with restarts > 1",
        tmp_path,
    )
    assert err.rstrip().endswith("drop --prune-at or change --restarts"), err  # (steps is fine)


@pytest.mark.parametrize(
    "given, fix",
    [
        (["--restarts", "3", "--steps", "0"], "change --steps"),
        (["--restarts", "1", "--steps", "0"], "change --restarts and --steps"),
    ],
)
def test_an_idle_prune_at_names_only_the_flags_that_fail(given, fix, tmp_path, capsys):
    """prune_at acts with restarts > 1 AND steps > 0: the fix named both flags when only one
    failed (a user who had --restarts 3 was told to change it)."""
    args = ["reconstruct", "--dataset", "digits", "--generator", "digits", "--m", "10", *given]
    code, err = run([*args, "--prune-at", "0.5", "--out", str(tmp_path / "new" / "o")], capsys)
    assert_refused(code, err, "reconstruct", "--prune-at changes nothing", tmp_path)
    assert err.rstrip().endswith(f"drop --prune-at or {fix}"), err


@pytest.mark.parametrize(
    "command, args",
    [
        ("sweep", ["--m", "10", "--methods", "csgm", "--generator", "digits"]),
        ("reconstruct", ["--m", "10"]),
        ("inpaint", ["--n", "1"]),
        ("tune", ["--m", "10", "--generator", "digits"]),
    ],
)
def test_a_data_root_for_the_embedded_digits_is_refused(command, args, tmp_path, capsys):
    """--data-root with --dataset digits selected nothing (user trial): refused, nothing written."""
    argv = [command, "--dataset", "digits", "--data-root", str(tmp_path), *args]
    code, err = run([*argv, "--device", "cpu", "--out", str(tmp_path / "new" / "o")], capsys)
    assert_refused(
        code, err, command, "root (CLI --data-root) does not apply to 'digits'", tmp_path
    )


@pytest.mark.parametrize("command", ["sweep", "reconstruct"])
def test_a_generator_for_methods_that_use_none_is_refused(command, tmp_path, capsys):
    """--generator with only Lasso methods changed nothing and was recorded (user trial):
    refused; reconstruct runs such a method without one, on the image's own size."""
    methods = {"sweep": ["--methods", "lasso-dct", "--n-images", "1"], "reconstruct": []}
    argv = [command, "--dataset", "digits", "--m", "10", *methods[command]]
    argv += ["--method", "lasso-dct"] if command == "reconstruct" else []
    code, err = run([*argv, "--generator", "digits", "--out", str(tmp_path / "new" / "o")], capsys)
    lead = "--generator" + (" is an option of" if command == "sweep" else ": method 'lasso-dct'")
    assert_refused(code, err, command, lead, tmp_path)
    if command == "reconstruct":
        assert main([*argv, "--out", str(tmp_path / "ok")]) == 0
        assert (tmp_path / "ok" / "reconstruction.png").is_file()


def test_validation_images_without_a_search_are_refused(tmp_path, capsys):
    """--n-val sets the images of the weight searches: with methods that search none (the
    inpainting baselines) it changed nothing (user trial); tune's --refine-n-val with
    --refine-top 0 (no second stage) likewise. Refused, nothing written."""
    argv = ["sweep", "--dataset", "digits", "--operator", "inpainting", "--mask", "center"]
    argv += ["--methods", "biharmonic", "--n-images", "1", "--n-val", "3"]
    code, err = run([*argv, "--out", str(tmp_path / "new" / "o")], capsys)
    lead = "--n-val sets the validation images of the weight searches, but no method of --methods"
    assert_refused(code, err, "sweep", f"{lead} biharmonic searches a weight", tmp_path)
    argv = ["tune", "--generator", "digits", "--dataset", "digits", "--m", "10"]
    argv += ["--refine-top", "0", "--refine-n-val", "30", "--device", "cpu"]
    code, err = run([*argv, "--out", str(tmp_path / "new" / "o")], capsys)
    assert code == 2 and "--refine-n-val) = 30 sets the images of the second stage" in err, err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("command", ["sweep", "reconstruct"])
def test_an_option_for_another_operator_is_refused_before_writing(command, tmp_path, capsys):
    """--iagan-blend true with a Gaussian operator failed inside the solver after the sweep had
    written sweep.json and rows.csv, naming 'blend' (user trial): refused first, by its flag."""
    methods = {"sweep": ["--methods", "iagan", "--n-images", "1"], "reconstruct": []}
    argv = [command, "--dataset", "digits", "--generator", "digits", "--m", "10"]
    argv += [*methods[command], *(["--method", "iagan"] if command == "reconstruct" else [])]
    code, err = run([*argv, "--iagan-blend", "true", "--out", str(tmp_path / "new" / "o")], capsys)
    lead = (
        "--iagan-blend applies to Inpainting operators ('inpainting') only, got "
        "GaussianCS ('gaussian')"
    )
    assert_refused(code, err, command, lead, tmp_path)
    # helper-65: "--iagan-blend poisson" was named "blend=True", a spelling the user never typed
    code, err = run([*argv, "--iagan-blend", "Poisson", "--out", str(tmp_path / "p" / "o")], capsys)
    assert_refused(code, err, command, lead, tmp_path)
    assert "blend=True" not in err
    # helper-66: a bad α was quoted lower-cased ('biharmonic:2' for BIHARMONIC:2)
    code, err = run([*argv, "--iagan-blend", "BIHARMONIC:2", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "'BIHARMONIC:2': its α must be <= 1" in err, err


def test_a_sweep_spec_with_an_option_for_another_operator_is_refused():
    from ganinverse.sweep.spec import make_spec

    kw = dict(dataset="digits", generator="digits", methods=("iagan",), x_values=(10,))
    with pytest.raises(
        ValueError,
        match=r"blend=True applies to Inpainting operators \('inpainting'\) only",
    ):
        make_spec(**kw, options={"iagan": {"blend": True}})
    make_spec(**kw, options={"iagan": {"blend": False}})  # the default: fine


def test_tune_into_another_commands_or_settings_folder_says_so_in_its_own_words(tmp_path, capsys):
    """tune into a sweep's folder listed sweep-only flags (--methods, --batch-size) as the
    difference (user trial): it says the folder holds a sweep; a tune with other settings is
    named by tune's flags; more --m values grow a tune."""
    sweep = ["sweep", "--dataset", "digits", "--m", "10", "--methods", "lasso-dct"]
    assert main([*sweep, "--n-images", "1", "--no-progress", "--out", str(tmp_path / "s")]) == 0
    tune = ["tune", "--generator", "digits", "--dataset", "digits", "--n-val", "1", "--restarts"]
    tune += ["1", "--refine-top", "0", "--lambda-z-grid", "0.1", "--no-progress", "--device", "cpu"]
    code, err = run([*tune, "--m", "10", "--steps", "2", "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and "holds a `ganinverse sweep` result (sweep.json), not a tune's" in err
    assert main([*tune, "--m", "10", "--steps", "2", "--out", str(tmp_path / "t")]) == 0
    capsys.readouterr()
    code, err = run([*tune, "--m", "10", "--steps", "3", "--out", str(tmp_path / "t")], capsys)
    assert code == 2 and "holds a tune with other settings" in err, err
    assert "(--steps: saved 2, now 3)" in err, err  # (the sweep's words: the flag, as tune's)
    assert err.count("--steps") == 1 and "--methods" not in err  # (engine and resolved: one)
    grid = [*tune[:12], "0.1,0.001", *tune[13:], "--m", "10", "--steps", "2"]
    code, err = run([*grid, "--out", str(tmp_path / "t")], capsys)
    assert code == 2 and "saved --lambda-z-grid 0.1 --init-grid normal,uniform" in err, err
    assert "now --lambda-z-grid 0.1,0.001 --init-grid normal,uniform" in err and "[1]" not in err
    more_val = [*tune[:6], "2", *tune[7:], "--m", "10", "--steps", "2"]
    code, err = run([*more_val, "--out", str(tmp_path / "t")], capsys)
    assert code == 2 and "(--n-val: saved 1, now 2)" in err  # (the values, not the field)
    assert main([*tune, "--m", "10,20", "--steps", "2", "--out", str(tmp_path / "t")]) == 0


def test_tune_refusal_marks_the_prune_at_that_follows_restarts_as_the_default(tmp_path, capsys):
    """helper-73: a tune rerun with another --restarts listed a --prune-at never given
    ("saved 0.1, now 0.1,0.3"): the default follows --restarts, and is marked so."""
    tune = ["tune", "--generator", "digits", "--dataset", "digits", "--n-val", "1", "--m", "10"]
    tune += ["--refine-top", "0", "--lambda-z-grid", "0.1", "--init-grid", "normal"]
    tune += ["--steps-grid", "20", "--no-progress", "--device", "cpu", "--out", str(tmp_path)]
    assert main([*tune, "--restarts", "2"]) == 0
    capsys.readouterr()
    code, err = run([*tune, "--restarts", "3"], capsys)
    assert code == 2 and "--restarts: saved 2, now 3" in err, err
    assert (
        "--prune-at: saved 0.1 (the default at --restarts 2), now 0.1,0.3 (the default at "
        "--restarts 3)" in err
    ), err
    code, err = run([*tune, "--restarts", "2", "--prune-at", "0.3"], capsys)
    assert code == 2 and "--prune-at: saved 0.1 (the default at --restarts 2), now 0.3)" in err
    code, err = run([*tune, "--restarts", "1"], capsys)
    assert code == 2 and "now none (the default at --restarts 1)" in err, err


def test_tune_with_another_second_stage_is_refused_before_its_first_stage_writes(tmp_path, capsys):
    """helper-70: --refine-n-val changed on a tuned folder ran the first stage into it (its
    sweep.json and weights.json grew) and then failed in sweep's words naming --n-val."""
    tune = ["tune", "--generator", "digits", "--dataset", "digits", "--n-val", "1", "--restarts"]
    tune += ["1", "--lambda-z-grid", "0.1,0.01", "--steps", "2", "--no-progress", "--device"]
    tune += ["cpu", "--out", str(tmp_path / "t")]
    assert main([*tune, "--m", "10", "--refine-n-val", "2"]) == 0
    before = {p: p.read_bytes() for p in (tmp_path / "t").rglob("*") if p.is_file()}
    capsys.readouterr()
    code, err = run([*tune, "--m", "10,20", "--refine-n-val", "3"], capsys)
    assert code == 2 and "holds a second stage at m = 10" in err, err
    assert "--refine-n-val: saved 2, now 3" in err and "--n-val:" not in err, err
    after = {p: p.read_bytes() for p in (tmp_path / "t").rglob("*") if p.is_file()}
    assert after == before  # nothing written
    assert main([*tune, "--m", "10,20", "--refine-n-val", "2"]) == 0  # its settings: grows


def test_a_sweep_with_no_search_steps_is_refused(tmp_path, capsys):
    """--steps 0 made every csgm row score its random start, unmarked (user trial): refused;
    an --engine-grid candidate with steps=0 likewise."""
    argv = ["sweep", "--dataset", "digits", "--generator", "digits", "--m", "10", "--n-images"]
    argv += ["1", "--methods", "csgm", "--out", str(tmp_path / "new" / "o")]
    code, err = run([*argv, "--steps", "0"], capsys)
    assert_refused(code, err, "sweep", "engine (--steps): steps = 0 runs no search", tmp_path)
    code, err = run([*argv, "--engine-grid", "steps=0;steps=5"], capsys)
    assert code == 2 and "error: --engine-grid steps=0: steps = 0 runs no search" in err  # (typed)


def test_an_engine_grid_candidate_with_an_idle_option_is_refused(tmp_path, capsys):
    """--engine-grid momentum=0.9 (with Adam) was searched and reported as the chosen weight
    while changing nothing (user trial): refused before any file."""
    argv = ["sweep", "--dataset", "digits", "--generator", "digits", "--m", "10", "--n-images"]
    argv += ["1", "--methods", "csgm", "--steps", "2", "--restarts", "1"]
    for grid in ("momentum=0.9", "lambda_z=0.1;momentum=0.5"):
        code, err = run(
            [*argv, "--engine-grid", grid, "--out", str(tmp_path / "new" / "o")], capsys
        )
        assert_refused(code, err, "sweep", "--engine-grid momentum=0.", tmp_path)  # (as typed)
        assert "acts only with optimizer='sgd'" in err
    ok = [*argv, "--engine-grid", "lambda_z=0.1;lambda_z=0.3", "--n-val", "1"]
    assert main([*ok, "--no-progress", "--out", str(tmp_path / "ok")]) == 0


def test_n_val_without_a_search_that_runs_is_refused(tmp_path, capsys):
    """csgm searches only a grid the user gives (else its card's settings): --n-val with
    --methods csgm alone was recorded but used by nothing (user trial)."""
    argv = ["sweep", "--dataset", "digits", "--generator", "digits", "--m", "10", "--n-images"]
    argv += ["1", "--methods", "csgm", "--steps", "2", "--restarts", "1", "--n-val", "3"]
    code, err = run([*argv, "--out", str(tmp_path / "new" / "o")], capsys)
    lead = "--n-val sets the validation images of the weight searches, but no method of --methods"
    assert_refused(code, err, "sweep", f"{lead} csgm searches a weight", tmp_path)


def test_val_start_without_a_search_that_runs_is_refused_and_with_one_is_recorded(tmp_path, capsys):
    """--val-start moves the weight searches' images (e.g. to faces held out of G's training):
    idle without a search, as --n-val; with one, sweep.json and tune's card record it."""
    argv = ["sweep", "--dataset", "digits", "--generator", "digits", "--m", "10", "--n-images"]
    argv += ["1", "--methods", "csgm", "--steps", "2", "--restarts", "1", "--val-start", "100"]
    code, err = run([*argv, "--out", str(tmp_path / "new" / "o")], capsys)
    lead = "--val-start sets the validation images of the weight searches, but no method of"
    assert_refused(code, err, "sweep", f"{lead} --methods csgm searches a weight", tmp_path)
    out = tmp_path / "s"
    lasso = ["sweep", "--dataset", "digits", "--m", "10", "--methods", "lasso-dct", "--n-images"]
    lasso += ["1", "--n-val", "2", "--val-start", "100", "--no-progress", "--out", str(out)]
    assert main(lasso) == 0
    assert json.loads((out / "sweep.json").read_text())["val_start"] == 100
    tune = ["tune", "--generator", "digits", "--dataset", "digits", "--m", "10", "--n-val", "1"]
    tune += ["--restarts", "1", "--refine-top", "0", "--lambda-z-grid", "0.1,0.01", "--steps"]
    tune += ["2", "--no-progress", "--device", "cpu", "--val-start", "100"]
    assert main([*tune, "--out", str(tmp_path / "t")]) == 0
    assert json.loads((tmp_path / "t" / "recommended.json").read_text())["val_start"] == 100
    capsys.readouterr()
    late = [*tune[:8], "2", *tune[9:-1], "1499", "--out", str(tmp_path / "u")]  # 2 from 1499
    code, err = run(late, capsys)
    assert code == 2 and "(--n-val 2 from --val-start 1499)" in err and "(CLI --n-val)" in err
    refine = [*late[:12], "1", *late[13:]]  # (--refine-top 1: its images are checked first)
    code, err = run(refine, capsys)
    assert code == 2 and "(--n-val 2 from --val-start 1499)" in err


SWEEP = ["sweep", "--dataset", "digits", "--n-images", "1", "--no-progress"]
SWEEP_LASSO = [*SWEEP, "--n-val", "1"]
SWEEP_CSGM = [*SWEEP, "--generator", "digits", "--m", "25", "--methods", "csgm"]


@pytest.mark.parametrize(
    "argv, lead",
    [
        (  # nothing random: superres, no noise, a deterministic method
            [
                *SWEEP,
                "--operator",
                "superres",
                "--factor",
                "2",
                "--noise-std",
                "0",
                "--methods",
                "lasso-dct",
                "--lasso-lambdas",
                "0.1",
                "--seed",
                "5",
            ],
            "--seed: operator 'superres' draws nothing at random",
        ),
        (
            [*SWEEP, "--m", "25", "--methods", "lasso", "--lasso-lambdas", "0"],
            "--lasso-lambdas: entry 1 of 1 (0): a lam candidate must be > 0: λ = 0 is least",
        ),
        (
            [*SWEEP_CSGM, "--lr", "1e39"],
            "--lr: lr must be a finite float32",
        ),
        (
            [
                *SWEEP_CSGM,
                "--noise-std",
                "1e308",
            ],
            "--noise-std: noise_std must be a finite float32",
        ),
        (
            [
                *SWEEP_CSGM,
                "--noise-std",
                "3e38",
            ],
            "--noise-std: noise_std must be <= 1000",
        ),
        (
            ["reconstruct", "--dataset", "digits", "--m", "50", "--noise-std", "3e38"],
            "--noise-std must be <= 1000",
        ),
        (
            ["reconstruct", "--dataset", "digits", "--m", "50", "--lr", "1e39"],
            "--lr: lr must be a finite float32",
        ),
        (
            ["inpaint", "--dataset", "digits", "--n", "1", "--box", "1e39"],
            "--box: box must be a finite float32",
        ),
    ],
)
def test_values_no_float32_holds_and_idle_seeds_are_refused_before_writing(
    argv, lead, tmp_path, capsys
):
    """User trial: --lr 1e39 crashed inside torch's Adam after sweep.json was written, --noise-std
    1e308 was refused only after it (a corrected rerun was then "a different sweep"), --seed
    with nothing random ran, --lasso-lambdas 0 named no flag."""
    code, err = run([*argv, "--out", str(tmp_path / "new" / "o")], capsys)
    assert_refused(code, err, argv[0], lead, tmp_path)


@pytest.mark.parametrize(
    "command, method, extra, lead",
    [
        ("sweep", "csgm", ["--lr", "3e38"], "--lr: lr must be <= 1e+06"),
        ("reconstruct", "csgm", ["--lr", "1e7"], "--lr: lr must be <= 1e+06"),
        ("inpaint", "yeh", ["--lr", "3e38"], "--lr: lr must be <= 1e+06"),
        ("reconstruct", "ilo", ["--ilo-lr", "3e38"], "--ilo-lr: ilo_lr must be <= 1e+06"),
        ("sweep", "iagan", ["--iagan-lr-z", "3e38"], "--iagan-lr-z: lr_z must be <= 1e+06"),
        ("reconstruct", "iagan", ["--iagan-lr-theta", "2e6"], "--iagan-lr-theta: lr_theta must"),
        ("reconstruct", "deep-decoder", ["--untrained-lr", "3e38"], "--untrained-lr: lr must be"),
        ("sweep", "csgm", ["--noise-std", "1e19"], "--noise-std: noise_std must be <= 1000"),
        ("reconstruct", "lasso-dct", ["--noise-std", "1001"], "--noise-std must be <= 1000"),
        ("inpaint", "yeh", ["--box", "3e38"], "--box: box must be <= 1000"),
        ("inpaint", "yeh", ["--prior-weight", "3e38"], "--prior-weight: prior_weight must be <="),
        ("reconstruct", "ilo", ["--ilo-radius", "3e38"], "--ilo-radius: radius must be <= 1e+06"),
        ("reconstruct", "csgm", ["--lambda-z", "3e38"], "--lambda-z: lambda_z must be <= 1e+06"),
        (
            "sweep",
            "csgm-sparse",
            ["--sparse-l1-grid", "3e38,0.01"],
            "--sparse-l1-grid: entry 1 of 2 (3e+38): l1 must",
        ),
        ("sweep", "csgm-sparse", ["--sparse-l1", "3e38"], "--sparse-l1: "),
        ("reconstruct", "ilo", ["--ilo-steps", "0", "--ilo-lr", "0.01"], "--ilo-lr has no effect"),
        # helper-68: radius 0 keeps h at h₀, so ILO's steps and lr change nothing
        (
            "reconstruct",
            "ilo",
            ["--ilo-radius", "0", "--ilo-steps", "50"],
            "--ilo-steps has no effect unless --ilo-radius > 0",
        ),
        (
            "sweep",
            "ilo",
            ["--ilo-radius", "0", "--ilo-lr", "0.1"],
            "--ilo-lr has no effect unless --ilo-radius > 0 (ilo)",
        ),
        ("reconstruct", "iagan", ["--iagan-steps", "0", "--iagan-lr-z", "0.1"], "--iagan-lr-z has"),
        ("sweep", "iagan", ["--iagan-steps-grid", "0", "--iagan-lr-z", "0.1"], "--iagan-lr-z has"),
        ("reconstruct", "iagan", ["--iagan-tv", "-0.1"], "--iagan-tv: tv_weight must be >= 0"),
        ("sweep", "iagan", ["--iagan-tv", "nan"], "--iagan-tv"),
        ("inpaint", "iagan", ["--iagan-tv", "3e38"], "--iagan-tv: tv_weight must be <="),
        (
            "sweep",
            "iagan",
            ["--iagan-steps-grid", "0", "--iagan-tv", "0.1"],
            "--iagan-tv has no effect unless a --iagan-steps-grid candidate > 0",  # (no --iagan-steps)
        ),
        # budgets and network sizes beyond any machine (helper-38: days of work, or the OOM kill)
        ("sweep", "csgm", ["--restarts", "100000"], "--restarts: restarts must be <= 10,000"),
        ("reconstruct", "csgm", ["--steps", "100000000"], "--steps: steps must be <= 1,000,000"),
        ("inpaint", "yeh", ["--steps", "100000000"], "--steps: steps must be <= 1,000,000"),
        (
            "sweep",
            "ilo",
            ["--ilo-steps", "10000000"],
            "--ilo-steps: ilo_steps must be <= 1,000,000",
        ),
        ("reconstruct", "iagan", ["--iagan-steps", "10000000"], "--iagan-steps: "),
        ("reconstruct", "deep-decoder", ["--untrained-steps", "10000000"], "--untrained-steps: "),
        (
            "sweep",
            "deep-decoder",
            ["--dd-channels", "100000"],
            "--dd-channels: channels must be <= 1,024",
        ),
        (
            "reconstruct",
            "dip",
            ["--dip-channels", "3000"],
            "--dip-channels: channels must be <= 1,024",
        ),
        # helper-38: the ν-step bound m·μ/2 <= 1e6 was checked only when the unit ran
        ("sweep", "csgm-sparse", ["--sparse-l1-grid", "1,90000"], "--sparse-l1-grid 90000 at m"),
    ],
)
def test_a_step_size_noise_or_box_beyond_its_domain_is_refused_before_writing(
    command, method, extra, lead, tmp_path, capsys
):
    """User trial: lr in (3.4e37, 3.4e38] passed the float32 bound and overflowed inside Adam
    (sweep left its files); σ = 1e19 and box = 3e38 gave inf/NaN later, blamed on lambda_z."""
    code, err = run(argv(command, method, tmp_path / "new" / "o", *extra), capsys)
    assert_refused(code, err, command, lead, tmp_path)
    assert "beyond 1e6 the optimiser's update overflows" in err or "--lr" not in lead


@pytest.mark.parametrize(
    "command, extra, lead",
    [
        ("reconstruct", ["--tol", "0.01"], "--tol changes nothing with these flags: it acts only"),
        ("sweep", ["--tol", "0.01"], "--tol changes nothing with these flags"),
        ("sweep", ["--restarts", "4", "--prune-at", "0.1,0.2,0.3"], "--prune-at: prune_at has 3"),
        ("reconstruct", ["--prune-at", "0.9"], "--prune-at: prune_at fraction 0.9 prunes at step"),
    ],
)
def test_a_tol_or_prune_fraction_that_cannot_act_is_refused_before_writing(
    command, extra, lead, tmp_path, capsys
):
    """User trial: --tol with fewer steps than two patience windows, and prune fractions beyond
    the halvings of the restarts or on the last step, ran and changed nothing."""
    base = {"--steps": "3", "--restarts": "2"}  # (those extra sets: its own)
    base = [t for flag, value in base.items() if flag not in extra for t in (flag, value)]
    code, err = run(argv(command, "csgm", tmp_path / "new" / "o", *base, *extra), capsys)
    assert_refused(code, err, command, lead, tmp_path)


DEFEND_EVAL = ["defend", "eval", "--dataset", "digits", "--generator", "digits"]
DEFEND_EVAL += ["--classifier", "digits-a"]


@pytest.mark.parametrize(
    "args, lead",
    [
        (["train-classifier", "--dataset", "digits", "--epochs", "100000"], "--epochs must be <="),
        (
            [
                "tune",
                "--generator",
                "digits",
                "--dataset",
                "digits",
                "--m",
                "10",
                "--restarts",
                "100000",
            ],
            "--re",
        ),
        ([*DEFEND_EVAL, "--eot-samples", "100000"], "--eot-samples must be <= 10,000"),
        (
            ["tune", "--generator", "digits", "--dataset", "digits", "--m", "10"]
            + ["--steps-grid", "2,10000000"],
            "--steps-grid must be <= 1,000,000",  # (helper-39: it named --steps)
        ),
        ([*DEFEND_EVAL, "--pgd-steps", "10000000"], "--pgd-steps must be <= 1,000,000"),
    ],
)
def test_the_other_commands_refuse_a_budget_beyond_its_bound(args, lead, tmp_path, capsys):
    code, err = run([*args, "--device", "cpu", "--out", str(tmp_path / "new" / "o")], capsys)
    command = " ".join(args[:2]) if args[0] == "defend" else args[0]
    assert_refused(code, err, command, lead, tmp_path)
    assert "it counts" in err


@pytest.mark.parametrize(
    "head",
    [
        ["train-classifier", "--dataset", "digits", "--n", "32", "--epochs", "1"],
        ["tune", "--generator", "digits", "--dataset", "digits", "--n-val", "1", "--m", "10"],
    ],
)
@pytest.mark.parametrize("lr", ["3e38", "1e7"])
def test_train_classifier_and_tune_refuse_a_step_size_beyond_its_domain(head, lr, tmp_path, capsys):
    args = [*head, "--lr", lr, "--device", "cpu", "--out", str(tmp_path / "new" / "o")]
    code, err = run(args, capsys)
    assert_refused(code, err, head[0], "--lr", tmp_path)
    assert "must be <= 1e+06" in err


@pytest.mark.parametrize("command", ["sweep", "reconstruct", "inpaint"])
def test_an_empty_out_or_a_data_root_that_is_a_file_is_named(command, tmp_path, capsys):
    args = {
        "sweep": [*SWEEP_LASSO, "--m", "25", "--methods", "lasso-dct"],
        "reconstruct": ["reconstruct", "--dataset", "digits", "--method", "lasso-dct"],
        "inpaint": ["inpaint", "--dataset", "digits", "--n", "1", "--method", "biharmonic"],
    }[command]
    code, err = run([*args, "--out", ""], capsys)
    assert code == 2 and "--out is empty (''): pass a value" in err, err
    data = tmp_path / "f.txt"
    data.write_text("not a folder")
    args = [a if a != "digits" else "mnist" for a in args]
    code, err = run([*args, "--data-root", str(data), "--out", str(tmp_path / "new" / "o")], capsys)
    assert code == 2 and f"'{data}' is a file, expected a folder" in err, err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "command, method, extra, lead",
    [
        # (only the part of the condition that fails: not --iagan-steps, which is > 0)
        (
            "reconstruct",
            "iagan",
            ["--iagan-discrepancy", "2"],
            "--iagan-discrepancy has no effect unless --noise-std > 0 (iagan)",
        ),
        (
            "sweep",
            "iagan",
            ["--iagan-discrepancy", "2", "--noise-std", "0.1", "--iagan-steps-grid", "0"],
            "--iagan-discrepancy has no effect unless a --iagan-steps-grid candidate > 0 (iagan)",
        ),
        ("sweep", "iagan", ["--iagan-discrepancy", "2", "--noise-std", "0"], "--iagan-discrep"),
        ("inpaint", "yeh", ["--prior-weight", "0", "--prior", "wgan"], "--prior has no effect"),
        (
            "inpaint",
            "yeh",
            ["--prior-weight", "0", "--discriminator", "digits"],
            "--discriminator is used by yeh only with --prior-weight > 0",
        ),
    ],
)
def test_an_option_idle_under_the_noise_or_a_zero_prior_weight_is_refused(
    command, method, extra, lead, tmp_path, capsys
):
    """User trial (helper-38 #5, #6): --iagan-discrepancy without noise and yeh's --prior /
    --discriminator with --prior-weight 0 ran (a warning at most) and changed nothing."""
    code, err = run(argv(command, method, tmp_path / "new" / "o", *extra), capsys)
    assert_refused(code, err, command, lead, tmp_path)


def test_yeh_with_prior_weight_0_loads_no_discriminator_and_warns_nothing(tmp_path, capsys):
    """helper-38 #6: --prior-weight 0 loaded the default D and warned 'D was given'."""
    import json
    import warnings

    from ganinverse.exceptions import IdleOptionWarning

    out = tmp_path / "o"
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdleOptionWarning)
        code, err = run(argv("inpaint", "yeh", out, "--prior-weight", "0"), capsys)
    assert code == 0, err
    assert json.loads((out / "summary.json").read_text())["discriminator"] is None


def test_a_sweep_checks_the_memory_of_its_batch_of_untrained_networks(
    tmp_path, capsys, monkeypatch
):
    """Helper-39: the sweep's check counted two networks, so --batch-size 8 of a Deep Decoder
    that fits twice but not eight times was refused only when its unit ran (after sweep.json)."""
    from ganinverse.models import cost
    from ganinverse.models.untrained import DeepDecoder

    net = cost.built_on_meta(lambda: DeepDecoder((1, 28, 28), 16))[0]
    weights = sum(p.numel() for p in net.parameters())
    one = (
        weights * cost.TRAINING_BYTES_PER_WEIGHT + cost.count_activations(net, net.input_shape) * 8
    )
    monkeypatch.setattr(cost, "device_memory", lambda device: 4 * one)  # two fit, eight do not
    base = ["--n-images", "8", "--untrained-steps-grid", "1"]
    code, err = run(
        argv("sweep", "deep-decoder", tmp_path / "new" / "o", *base, "--batch-size", "8"), capsys
    )
    assert_refused(code, err, "sweep", "--methods deep-decoder: the Deep Decoder", tmp_path)
    assert "x 8 copies" in err
    code, err = run(
        argv("sweep", "deep-decoder", tmp_path / "new" / "o", *base, "--batch-size", "2"), capsys
    )
    assert code == 0, err


def test_a_sweep_checks_the_memory_of_its_validation_search_before_any_file(
    tmp_path, capsys, monkeypatch
):
    """Helper-41: the weight search of an untrained prior fits its --n-val validation images
    side by side; that memory was checked only when the search ran (after sweep.json and
    rows.csv were written). Refused first, naming --n-val; a test batch too large names
    --batch-size."""
    from ganinverse.models import cost
    from ganinverse.models.untrained import DeepDecoder

    net = cost.built_on_meta(lambda: DeepDecoder((1, 28, 28), 16))[0]
    weights = sum(p.numel() for p in net.parameters())
    one = (
        weights * cost.TRAINING_BYTES_PER_WEIGHT + cost.count_activations(net, net.input_shape) * 8
    )
    monkeypatch.setattr(cost, "device_memory", lambda device: 5 * one)  # 5 fit, 6 do not
    out = tmp_path / "new" / "o"
    base = ["--untrained-steps-grid", "1,2", "--batch-size", "2"]
    code, err = run(argv("sweep", "deep-decoder", out, *base, "--n-val", "6"), capsys)
    assert_refused(code, err, "sweep", "--methods deep-decoder: the Deep Decoder", tmp_path)
    assert "x 6 copies" in err and "lower --n-val 6" in err, err
    one_value = ["--untrained-steps-grid", "1", "--batch-size", "6", "--n-images", "6"]
    code, err = run(argv("sweep", "deep-decoder", out, *one_value), capsys)
    assert_refused(code, err, "sweep", "--methods deep-decoder: the Deep Decoder", tmp_path)
    assert "lower --batch-size 6" in err and "--n-val" not in err, err
    code, err = run(argv("sweep", "deep-decoder", out, *base, "--n-val", "5"), capsys)
    assert code == 0, err


def test_a_one_candidate_grid_is_that_value_without_a_search(tmp_path, capsys):
    """Helper-41: a grid of one value ran the whole validation search (fits of the validation
    images, a weights.json entry) to choose the only candidate, and counted as a search for
    the split='train' rule. Now it is the value, set: no weights.json, --n-val refused as
    idle, --split train --start 0 accepted; the rows match the value run as its own option."""
    import csv
    import json

    out = tmp_path / "o"
    one = ["--untrained-steps-grid", "3", "--split", "train", "--start", "0"]
    code, err = run(argv("sweep", "deep-decoder", out, *one), capsys)
    assert code == 0, err
    assert not (out / "weights.json").exists()
    saved = json.loads((out / "sweep.json").read_text())
    assert (
        saved["grids"]["untrained_steps"] == [3]
        and type(saved["grids"]["untrained_steps"][0]) is int
    )
    assert saved["resolved"]["methods"]["deep-decoder"]["steps"] == 3  # (helper-42: was 500)
    rows = list(csv.DictReader((out / "rows.csv").open()))
    assert len(rows) == 2
    code, err = run(argv("sweep", "deep-decoder", tmp_path / "p", *one, "--n-val", "2"), capsys)
    assert code == 2 and "--untrained-steps-grid holds one value, which is set without" in err
    other = ["--untrained-steps-grid", "1", *one[2:]]  # the value acts: another gives others
    code, err = run(argv("sweep", "deep-decoder", tmp_path / "q", *other), capsys)
    assert code == 0, err
    rows_1 = list(csv.DictReader((tmp_path / "q" / "rows.csv").open()))
    assert [r["mse"] for r in rows_1] != [r["mse"] for r in rows]


def test_resolved_records_the_value_of_every_one_candidate_grid(tmp_path, capsys):
    """Helper-42: with one-value grids (no search, no weights.json entry) sweep.json's
    resolved block recorded the defaults (λ_z 0.001, iagan's 300 steps) while the rows ran
    with the grids' values: it is the one record of those settings."""
    import json

    out = tmp_path / "o"
    grids = ["--lambda-z-grid", "0.1", "--iagan-steps-grid", "3", "--untrained-steps-grid", "4"]
    code, err = run(argv("sweep", "iagan", out, "--methods", "iagan,dip", *grids), capsys)
    assert code == 0, err
    resolved = json.loads((out / "sweep.json").read_text())["resolved"]
    assert resolved["engine"]["lambda_z"] == 0.1
    assert resolved["methods"]["iagan"]["adapt_steps"] == 3
    assert resolved["methods"]["iagan"]["config"]["lambda_z"] == 0.1
    assert resolved["methods"]["dip"]["steps"] == 4
    assert not (out / "weights.json").exists()


def test_too_many_validation_images_names_n_val(tmp_path, capsys):
    """Helper-42: --n-val beyond the train split ended with "pass n <= 1500 (CLI --n /
    --n-images)", flags the user had not set."""
    out = tmp_path / "new" / "o"
    grids = ["--untrained-steps-grid", "3,5"]
    code, err = run(argv("sweep", "deep-decoder", out, *grids, "--n-val", "5000"), capsys)
    assert_refused(code, err, "sweep", "--n-val: ", tmp_path)
    assert "(CLI --n-val)" in err and "--n-images" not in err, err


@pytest.mark.parametrize(
    ("flag", "text", "reason"),
    [
        ("--iagan-back-projection", "maybe", "expected true or false, got 'maybe'"),
        ("--iagan-blend", "bilinear", "expected true, false, poisson[:α] or biharmonic[:α]"),
        ("--iagan-blend", "biharmonic:0_5", "'_' is not part of a number"),
        ("--yeh-blend", "poisson:0", "its α must be > 0, got 0; α is the share of the guide kept"),
    ],
)
def test_a_record_flags_own_parser_says_why_it_refused(flag, text, reason, tmp_path, capsys):
    """A method flag read by the record's own parser printed only "invalid <name> value"
    (argparse drops a ValueError's message): the reason is kept, on the one error line."""
    method = _owner(flag, "sweep")
    code, err = run(argv("sweep", method, tmp_path / "new" / "o", flag, text), capsys)
    assert_refused(code, err, "sweep", f"{flag}: ", tmp_path)
    assert reason in err, err


def test_a_sweep_records_the_biharmonic_blend(tmp_path, capsys):
    """--iagan-blend biharmonic on inpainting runs and is recorded in its canonical form."""
    import json

    out = tmp_path / "o"
    args = ["sweep", "--dataset", "digits", "--generator", "digits", "--methods", "iagan"]
    args += ["--operator", "inpainting", "--mask", "random:0.8", "--n-images", "1"]
    args += ["--steps", "2", "--restarts", "1", "--iagan-steps-grid", "2", "--device", "cpu"]
    args += ["--no-progress", "--iagan-blend", "Biharmonic", "--out", str(out)]
    code, err = run(args, capsys)
    assert code == 0, err
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["options"]["iagan"]["blend"] == "biharmonic:0.5"


@pytest.mark.parametrize(
    "method, extra, lead, tail",
    [
        # helper-66: told to set --noise-std, a flag inpaint does not have
        (
            "iagan",
            ["--iagan-discrepancy", "0.5"],
            "--iagan-discrepancy has no effect here",
            "inpaint measures without noise (it has no --noise-std); drop --iagan-discrepancy",
        ),
        # helper-66: "drop --box or change" ended there (projection and init have no flag)
        (
            "csgm",
            ["--box", "2"],
            "--box changes nothing with these flags",
            "drop --box (no flag of this command changes those settings)",
        ),
    ],
)
def test_inpaint_names_no_fix_it_cannot_take(method, extra, lead, tail, tmp_path, capsys):
    code, err = run(argv("inpaint", method, tmp_path / "new" / "o", *extra), capsys)
    assert_refused(code, err, "inpaint", lead, tmp_path)
    assert err.rstrip().endswith(tail), err


def test_prune_at_none_turns_pruning_off(tmp_path, capsys):
    """helper-68: tune's help named 'none' but no flag took it: a card's pruning could not be
    turned off from the command line. --prune-at none (any case) is no pruning, and so is
    prune_at=none in an --engine-grid candidate."""
    import json

    from ganinverse.cli._common import engine_list, prune_fractions

    assert prune_fractions(" None ") == () and prune_fractions("0.1,0.3") == (0.1, 0.3)
    assert engine_list("prune_at=none,lambda_z=0.1;prune_at=0.1/0.3") == (
        {"prune_at": (), "lambda_z": 0.1},
        {"prune_at": (0.1, 0.3)},
    )
    out = tmp_path / "o"
    args = ["reconstruct", "--dataset", "digits", "--generator", "digits", "--m", "10"]
    code, err = run(
        [*args, "--restarts", "4", "--steps", "3", "--prune-at", "none", "--out", str(out)], capsys
    )
    assert code == 0, err
    assert json.loads((out / "summary.json").read_text())["options"]["config"]["prune_at"] == []


@pytest.mark.parametrize(
    "method, grid, lead",
    [
        (
            "lasso-dct",
            ["--lasso-lambdas", "0.1,nan"],
            "--lasso-lambdas: entry 2 of 2 (nan): lam must",
        ),
        (
            "csgm",
            ["--engine-grid", "steps=3;steps=2.5"],
            "--engine-grid steps=2.5: steps",
        ),
        (
            "iagan",
            ["--iagan-steps-grid", "3,-1"],
            "--iagan-steps-grid: entry 2 of 2 (-1): adapt_steps",
        ),
    ],
)
def test_a_bad_grid_entry_is_named_by_its_place_and_value(method, grid, lead, tmp_path, capsys):
    """helper-68: "--engine-grid: steps must be an int, got float" named neither the candidate
    nor its value; a grid's refusal now says which entry failed."""
    code, err = run(argv("sweep", method, tmp_path / "new" / "o", *grid), capsys)
    assert_refused(code, err, "sweep", lead, tmp_path)


def test_choose_weight_names_a_bad_candidate_by_its_index():
    import torch

    import ganinverse as gi
    from ganinverse.methods import choose_weight

    A = gi.GaussianCS((1, 8, 8), 20)
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    with pytest.raises(ValueError, match=r"^values\[1\] \(nan\): lam must be a finite number"):
        choose_weight("lasso-dct", None, A, x, A.measure(x), [1e-3, float("nan")])


def test_an_engine_grid_over_seeds_is_refused(tmp_path, capsys):
    """helper-68: --engine-grid "seed=1;seed=2" chose the luckiest seed on the validation images
    and recorded it as a tuned setting."""
    out = tmp_path / "new" / "o"
    code, err = run(argv("sweep", "csgm", out, "--engine-grid", "seed=1;seed=2"), capsys)
    assert_refused(code, err, "sweep", "--engine-grid seed=1: ", tmp_path)
    assert "sets seed, which is no setting to choose on validation images" in err


@pytest.mark.parametrize(
    "command, extra",
    [
        ("reconstruct", ["--dataset", "digits", "--m", "25", "--method", "iagan"]),
        ("sweep", ["--dataset", "digits", "--m", "25", "--methods", "iagan", "--n-images", "1"]),
        ("inpaint", ["--dataset", "digits", "--n", "1", "--method", "iagan"]),
    ],
)
@pytest.mark.parametrize("value", ["2", "maybe", ""])
def test_iagan_mirror_takes_a_bool_in_every_command(command, extra, value, tmp_path, capsys):
    code, err = run(
        [
            command,
            *extra,
            "--generator",
            "digits",
            "--iagan-mirror",
            value,
            "--out",
            str(tmp_path / "new"),
        ],
        capsys,
    )
    assert code == 2 and "--iagan-mirror" in err, err
    assert not (tmp_path / "new").exists()


def test_a_mirrored_iagan_sweep_records_it_and_resumes_only_with_it(tmp_path, capsys):
    """--iagan-mirror true: the sweep's rows are iagan averaged with its run on G's mirror
    image; sweep.json records it, and a rerun without it is refused naming the flag."""
    out = tmp_path / "o"
    head = [
        *SWEEP,
        "--generator",
        "digits",
        "--m",
        "25",
        "--methods",
        "iagan",
        "--steps",
        "3",
        "--restarts",
        "1",
        "--iagan-steps-grid",
        "2",
        "--out",
        str(out),
    ]
    code, err = run([*head, "--iagan-mirror", "true"], capsys)
    assert code == 0, err
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["options"]["iagan"]["mirror"] is True
    code, err = run([*head, "--iagan-mirror", "true"], capsys)  # (resumes: nothing to do)
    assert code == 0, err
    code, err = run(head, capsys)
    assert code == 2 and "--iagan-mirror: saved true, now false (the default)" in err, err


def test_a_dropped_grid_says_the_default_grid_it_would_search(tmp_path, capsys):
    """helper-73: dropping --iagan-steps-grid 3 read 'now not given' and then 'resolved methods
    ... adapt_steps 3, now 300', a default that never runs under the default grid."""
    head = [*SWEEP, "--generator", "digits", "--m", "25", "--methods", "iagan", "--steps", "3"]
    head += ["--restarts", "1", "--out", str(tmp_path / "o")]
    assert run([*head, "--iagan-steps-grid", "3"], capsys)[0] == 0
    code, err = run(head, capsys)
    assert code == 2, err
    assert "--iagan-steps-grid: saved 3, now not given (the default grid 30,100,300,1000)" in err
    assert "adapt_steps" not in err and "resolved methods" not in err, err
