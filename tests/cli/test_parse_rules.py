"""User trial (helper-45): rules every command keeps, each checked on every command it spans.

1. a single-valued flag given twice with two values is refused (argparse kept the last one
   silently: ``--m 50 --m 100`` ran with m = 100, ``--out A --out B`` wrote B); the same value
   twice is taken, and flags that collect their values (append, count) still collect;
2. a flag without its value names the flag that came next (it said "pass negative numbers as
   --m=--out"); the negative-number hint stays where a negative number came next;
3. an inpainting mask with no missing pixel is refused by every command that takes --mask, by
   the one rule the sweep runs (``Inpainting.check_setting``), in the same words;
4. an engine option that the run's other settings leave unused (lr at --steps 0) is recorded as
   unused, not as the engine default it was reset to (lr=0.01 where every other step count
   showed the card's lr=0.1);
5. ``sweep --n-val`` without a search names both fixes: a grid of two or more values for a
   method that runs, or a method that searches by default. (``tune --n-val`` with one
   candidate is taken: tune scores even one candidate and measures the generator's
   representation error on those images.)

Every refusal: exit code 2, one line, nothing written."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from ganinverse.cli import build_parser, main
from ganinverse.cli._common import OneLineParser

DEFEND = ["defend", "eval", "--dataset", "digits", "--generator", "digits"]
DEFEND += ["--classifier", "digits-a"]
TUNE = ["tune", "--generator", "digits", "--dataset", "digits", "--m", "10"]

#: (command head, a single-valued flag, two values) on every command (sweep-merge has no flag)
TWICE = [
    (["reconstruct", "--dataset", "digits"], "--m", "50", "100", ""),
    (["reconstruct", "--dataset", "digits", "--m", "50"], "--method", "csgm", "lasso-dct", ""),
    (["inpaint", "--dataset", "digits"], "--mask", "center", "random", ""),
    (["sweep", "--dataset", "digits", "--m", "20"], "--lr", "0.1", "0.2", ""),
    (
        ["sweep", "--dataset", "digits"],
        "--m",
        "20",
        "40",
        " (a list is one value: --m 20,40 for both)",
    ),
    (TUNE, "--n-val", "2", "3", ""),
    (DEFEND, "--n", "3", "4", ""),
    (["train-classifier", "--dataset", "digits"], "--epochs", "1", "2", ""),
    (["demo"], "--n-images", "1", "2", ""),
]


def _name(head: list[str]) -> str:
    return " ".join(head[:2]) if head[0] == "defend" else head[0]


def run(args: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``ganinverse ARGS`` (an argparse error exits)."""
    try:
        code = main(args)
    except SystemExit as exit_info:
        code = exit_info.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(code: int, err: str, command: str, message: str, tmp_path) -> None:
    """Exit 2, the one line ``ganinverse COMMAND: error: MESSAGE``, nothing written."""
    assert code == 2, err
    assert err == f"ganinverse {command}: error: {message}\n", err
    assert not (tmp_path / "new").exists()


def _pair(flag: str, value: str, joined: bool) -> list[str]:
    return [f"{flag}={value}"] if joined else [flag, value]


# ------------------------------------------------------------------------- 1. a flag twice
@pytest.mark.parametrize("joined", [False, True], ids=["flag value", "flag=value"])
@pytest.mark.parametrize(
    "head, flag, a, b, hint", TWICE, ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_flag_given_twice_with_two_values_is_refused(
    head, flag, a, b, hint, joined, tmp_path, capsys
):
    out = ["--out", str(tmp_path / "new" / "o")]
    argv = [*head, *_pair(flag, a, False), *out, *_pair(flag, b, joined)]
    code, _, err = run(argv, capsys)
    message = f"{flag}: given twice ({a}, then {b}): give it once{hint}"
    refused(code, err, _name(head), message, tmp_path)


def test_out_given_twice_writes_neither(tmp_path, capsys):
    """``--out A --out B`` wrote only B."""
    argv = ["reconstruct", "--dataset", "digits", "--m", "20", "--method", "lasso-dct"]
    a, b = tmp_path / "new" / "a", tmp_path / "new" / "b"
    code, _, err = run([*argv, "--out", str(a), f"--out={b}"], capsys)
    refused(code, err, "reconstruct", f"--out: given twice ({a}, then {b}): give it once", tmp_path)


def test_a_list_flag_given_twice_says_a_list_is_one_value(tmp_path, capsys):
    argv = ["sweep", "--dataset", "digits", "--m", "20", "--methods", "lasso"]
    argv += ["--methods", "lasso,tv", "--out", str(tmp_path / "new" / "o")]
    code, _, err = run(argv, capsys)
    message = "--methods: given twice (lasso, then lasso,tv): give it once (a list is one value: "
    refused(code, err, "sweep", message + "--methods lasso,tv for both)", tmp_path)


def test_the_pretrain_command_refuses_a_flag_given_twice(tmp_path, capsys):
    from pretrain.cli import main as pretrain

    with pytest.raises(SystemExit) as exit_info:
        pretrain(["--steps", "2", "--out", str(tmp_path / "new"), "--steps=3"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and not (tmp_path / "new").exists()
    assert err == "ganinverse-pretrain: error: --steps: given twice (2, then 3): give it once\n"


def test_the_same_value_twice_is_taken():
    parse = build_parser().parse_args
    args = parse(["reconstruct", "--dataset", "digits", "--m", "50", "--m=50", "--out", "o"])
    assert args.axis_m == 50
    args = parse(["sweep", "--dataset", "digits", "--lr", "0.1", "--lr", "1e-1", "--out", "o"])
    assert args.lr == 0.1
    args = parse(["inpaint", "--image", "x.png", "--no-progress", "--no-progress", "--out", "o"])
    assert args.no_progress is True
    from pretrain.cli import build_parser as pretrain_parser

    assert pretrain_parser().parse_args(["--steps", "2", "--steps", "2"]).steps == 2


def test_flags_that_collect_their_values_still_collect():
    parser = OneLineParser(prog="p")
    parser.add_argument("--tag", action="append")
    parser.add_argument("-v", action="count")
    args = parser.parse_args(["--tag", "a", "--tag=b", "-v", "-v"])
    assert args.tag == ["a", "b"] and args.v == 2


def test_a_second_parse_does_not_remember_the_first():
    parser = build_parser()
    for m in ("50", "100"):
        args = parser.parse_args(["reconstruct", "--dataset", "digits", "--m", m, "--out", "o"])
        assert args.axis_m == int(m)


# -------------------------------------------------------------- 2. a flag without its value
MISSING = [
    (["reconstruct", "--dataset", "digits"], "--m"),
    (["inpaint", "--dataset", "digits"], "--mask"),
    (["sweep", "--dataset", "digits"], "--m"),
    (TUNE, "--n-val"),
    (DEFEND, "--n"),
    (["train-classifier", "--dataset", "digits"], "--epochs"),
    (["demo"], "--n-images"),
]


@pytest.mark.parametrize("head, flag", MISSING, ids=lambda v: v if isinstance(v, str) else "")
def test_a_flag_without_its_value_names_the_flag_that_came_next(head, flag, tmp_path, capsys):
    out = str(tmp_path / "new" / "o")
    code, _, err = run([*head, flag, "--out", out], capsys)
    message = f"{flag}: expected one argument; the flag --out came next: put the value of {flag} "
    refused(code, err, _name(head), message + "right after it", tmp_path)
    code, _, err = run([*head, flag, f"--out={out}"], capsys)
    assert "the flag --out came next" in err and "negative" not in err, err
    code, _, err = run([*head, "--out", out, flag], capsys)
    message = f"{flag}: expected one argument; {flag} is the last argument: put its value right "
    refused(code, err, _name(head), message + "after it", tmp_path)


def test_the_pretrain_command_names_the_flag_that_came_next(tmp_path, capsys):
    from pretrain.cli import main as pretrain

    with pytest.raises(SystemExit) as exit_info:
        pretrain(["--steps", "--out", str(tmp_path / "new")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and not (tmp_path / "new").exists()
    assert err.startswith(
        "ganinverse-pretrain: error: --steps: expected one argument; the flag --out"
    )


@pytest.mark.parametrize(
    "head, given, hint",
    [
        (["reconstruct", "--dataset", "digits"], ["--noise-std", "-inf"], "--noise-std=-inf"),
        (["sweep", "--dataset", "digits"], ["--lambda-z", "-1e-3"], "--lambda-z=-1e-3"),
        (
            ["sweep", "--dataset", "digits"],
            ["--lambda-z-grid", "-1e-3,2"],
            "--lambda-z-grid=-1e-3,2",
        ),
    ],
)
def test_a_negative_number_next_keeps_the_negative_number_hint(head, given, hint, tmp_path, capsys):
    code, _, err = run([*head, *given, "--out", str(tmp_path / "new" / "o")], capsys)
    message = f"{given[0]}: expected one argument; pass negative numbers as {hint}"
    refused(code, err, head[0], message, tmp_path)


# ------------------------------------------------------------------ 3. a mask with no hole
@pytest.fixture
def white_mask(tmp_path):
    path = tmp_path / "white.png"
    Image.new("L", (28, 28), 255).save(path)
    return str(path)


@pytest.mark.parametrize("command", ["reconstruct", "inpaint", "sweep"])
@pytest.mark.parametrize("kind", ["file", "grid:1"])
def test_a_mask_with_no_missing_pixel_is_refused_alike_by_every_command(
    command, kind, white_mask, tmp_path, capsys
):
    mask = white_mask if kind == "file" else kind
    head = {
        "reconstruct": ["reconstruct", "--dataset", "digits", "--index", "3"],
        "inpaint": ["inpaint", "--dataset", "digits", "--n", "1"],
        "sweep": ["sweep", "--dataset", "digits", "--methods", "tv", "--n-images", "1"],
    }[command]
    operator = [] if command == "inpaint" else ["--operator", "inpainting"]
    argv = [*head, *operator, "--mask", mask, "--device", "cpu", "--no-progress"]
    code, _, err = run([*argv, "--out", str(tmp_path / "new" / "o")], capsys)
    message = f"--mask {mask}: mask {mask!r} has no missing pixel: nothing to inpaint"
    refused(code, err, command, message, tmp_path)


# --------------------------------------------------------- 4. what --steps 0 leaves unused
def _card_lr() -> float:
    from ganinverse.methods import default_config, get_method
    from ganinverse.models import load_generator
    from ganinverse.operators import make_operator

    G = load_generator("digits", device="cpu")
    return default_config(get_method("csgm"), G, make_operator("gaussian", (1, 28, 28), 100))[0].lr


@pytest.mark.parametrize("command", ["reconstruct", "inpaint"])
def test_an_engine_option_that_steps_0_leaves_unused_is_recorded_so(command, tmp_path, capsys):
    from ganinverse.methods import get_method

    head = {
        "reconstruct": ["reconstruct", "--dataset", "digits", "--index", "3", "--m", "100"],
        "inpaint": ["inpaint", "--dataset", "digits", "--n", "1"],
    }[command]
    runs = {}
    for steps in ("0", "1"):
        argv = [*head, "--steps", steps, "--restarts", "1", "--device", "cpu", "--no-progress"]
        with pytest.warns() if steps == "0" else _nothing():
            code, out, err = run([*argv, "--out", str(tmp_path / steps)], capsys)
        assert code == 0, err
        runs[steps] = out, json.loads((tmp_path / steps / "summary.json").read_text())
    if command == "reconstruct":  # (summary.json: the engine as a dict, as inpaint's)
        for steps, lr in (("0", "unused at steps=0"), ("1", str(_card_lr()))):
            assert f"lr={lr}," in runs[steps][0]
        config = runs["0"][1]["options"]["config"]
        assert config["lr"] is None and config["unused"]["lr"] == "at steps=0"
        config = runs["1"][1]["options"]["config"]
        assert config["lr"] == _card_lr() and "lr" not in config.get("unused", {})
    else:
        config = runs["0"][1]["options"]["config"]  # (nested, as reconstruct's)
        assert config["lr"] is None and config["unused"] == {"lr": "at steps=0"}
        config = runs["1"][1]["options"]["config"]
        assert config["lr"] == get_method("yeh").defaults["config"].lr and "unused" not in config


def _nothing():
    import contextlib

    return contextlib.nullcontext()


# ------------------------------------------------------------- 5. --n-val without a search
@pytest.mark.parametrize(
    "methods, grids",
    [
        ("csgm", "--lambda-z-grid or --engine-grid of two or more values"),
        ("csgm-sparse", "--sparse-l1-grid of two or more values, or give csgm a search with"),
    ],
)
def test_n_val_without_a_search_names_the_grid_and_the_methods(methods, grids, tmp_path, capsys):
    argv = ["sweep", "--dataset", "digits", "--generator", "digits", "--m", "20"]
    argv += ["--methods", methods, "--n-val", "3", "--out", str(tmp_path / "new" / "o")]
    code, _, err = run(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "new").exists(), err
    lead = "ganinverse sweep: error: --n-val sets the validation images of the weight searches, "
    assert err.startswith(f"{lead}but no method of --methods {methods} searches a weight: "), err
    assert f"give {methods} a search with {grids}" in err, err
    assert "add a method that searches by default to --methods (lasso, " in err, err
    assert err.endswith(", or drop --n-val\n"), err


def test_tune_n_val_with_one_candidate_is_used(tmp_path, capsys):
    """tune scores even a one-candidate grid on the --n-val images and measures the
    generator's representation error there: --n-val acts, so it is taken (unlike the sweep's,
    which a one-value grid sets without a search)."""
    argv = [*TUNE, "--lambda-z-grid", "0.1", "--init-grid", "normal", "--steps", "2"]
    argv += ["--restarts", "1", "--refine-top", "0", "--n-val", "2", "--device", "cpu"]
    code, out, err = run([*argv, "--no-progress", "--out", str(tmp_path / "t")], capsys)
    assert code == 0, err
    assert "validation MSE on 2 images" in out
    rho = json.loads((tmp_path / "t" / "representation_error.json").read_text())
    assert rho["n_val"] == 2


def test_an_empty_value_given_twice_is_shown_as_empty(tmp_path, capsys):
    """Helper-46: ``--generator digits --generator ""`` was shown as "(digits, then set)"."""
    argv = ["reconstruct", "--dataset", "digits", "--m", "20", "--generator", "digits"]
    code, _, err = run([*argv, "--generator", "", "--out", str(tmp_path / "new" / "o")], capsys)
    refused(
        code,
        err,
        "reconstruct",
        "--generator: given twice (digits, then ''): give it once",
        tmp_path,
    )


# ------------------------------------------------------ 6. a number's text is read strictly
#: (command head, flag, the text): Python's int()/float() read '0_1' as 1 and ' 5' as 5
#: (helper-59: ``defend eval --attacks pgd:0_1`` ran at ε = 1 with accuracy 0.000)
NUMBER_TEXTS = [
    (["reconstruct", "--dataset", "digits", "--method", "lasso-dct"], "--m", "1_0"),
    (["sweep", "--dataset", "digits", "--m", "20"], "--lr", "0_1"),
    (["sweep", "--dataset", "digits"], "--m", "1_0,20"),
    (["sweep", "--dataset", "digits", "--m", "20", "--methods", "csgm"], "--lambda-z-grid", "0_1"),
    (["inpaint", "--dataset", "digits"], "--mask", "random:0_8"),
    (TUNE, "--n-val", "2_0"),
    (DEFEND, "--attacks", "pgd:0_1"),
    (DEFEND, "--steps", "1 0"),
    (["train-classifier", "--dataset", "digits"], "--epochs", "1_0"),
    (["demo"], "--n-images", "1_0"),
    (["sweep", "--dataset", "digits", "--m", "20", "--n-val", "1"], "--engine-grid", "lr=0_1;lr=1"),
    (["sweep", "--dataset", "digits", "--operator", "inpainting"], "--iagan-blend", "poisson:0_5"),
]


@pytest.mark.parametrize(
    "head, flag, text", NUMBER_TEXTS, ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_number_with_an_underscore_or_inner_space_is_refused(head, flag, text, tmp_path, capsys):
    code, _, err = run([*head, flag, text, "--out", str(tmp_path / "new" / "o")], capsys)
    assert code == 2, err
    assert err.startswith(f"ganinverse {_name(head)}: error:") and err.count("\n") == 1, err
    assert text in err or text.split(";")[0].split("=")[-1] in err, err  # (the text is named)
    assert "'_' is not part of a number" in err or "no space inside" in err, err  # (and why)
    assert not (tmp_path / "new").exists()


def test_the_pretrain_command_reads_numbers_strictly(tmp_path, capsys):
    from pretrain.cli import main as pretrain_main

    argv = ["--dataset", "digits", "--steps", "1_0", "--out", str(tmp_path / "new" / "o")]
    with pytest.raises(SystemExit) as exit_info:
        pretrain_main(argv)
    assert exit_info.value.code == 2
    assert "'_' is not part of a number" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_pretrain_runs_as_its_cli_module(tmp_path):
    """``python -m pretrain.cli ...`` exited 0 doing nothing (user trial): it runs the command
    as ``python -m pretrain`` does (here: its refusal of a bad number, exit 2)."""
    import subprocess
    import sys

    argv = [sys.executable, "-m", "pretrain.cli", "--dataset", "digits", "--steps", "1_0"]
    done = subprocess.run([*argv, "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert done.returncode == 2 and "'_' is not part of a number" in done.stderr, done.stderr


@pytest.mark.parametrize("text", ["１０", "٣", "1e-320"])
def test_a_number_in_other_digits_or_below_float32_is_refused(text, tmp_path, capsys):
    """float("１e-400") is 0.0 and "٠.١" 0.1: full-width / Arabic-Indic digits passed the
    underflow check (user trial: --lambda-z １e-400 ran at 0); 1e-320 is 0 in float32."""
    head = ["sweep", "--dataset", "digits", "--m", "20", "--out", str(tmp_path / "new" / "o")]
    code, _, err = run([*head, "--noise-std", text], capsys)
    assert code == 2 and err.startswith("ganinverse sweep: error: --noise-std: "), err
    assert "ASCII digits" in err or "below the smallest normal float32" in err, err
    assert not (tmp_path / "new").exists()


def test_help_shows_each_default(capsys):
    """helper-59: defend eval --help showed no default for --dataset, --n, --steps, ..."""
    with pytest.raises(SystemExit):
        main(["defend", "eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("(default: mnist)", "(default: 100)", "(default: 0)", "(default: 200)"):
        assert shown in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_help_shows_defaults_of_flags_without_help_and_lists_as_typed(capsys):
    """helper-60: --seed (no help text) showed no default; --methods showed a Python tuple."""
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    words = "".join(text.split())  # (argparse may wrap a list after any '-')
    assert "(default:csgm,lasso-dct,lasso-wavelet)" in words and "('csgm'" not in text
    with pytest.raises(SystemExit):
        main(["defend", "eval", "--help"])
    assert "--seed SEED (default: 0)" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["sweep", "reconstruct", "inpaint"])
def test_help_says_where_unset_engine_flags_take_their_setting(command, capsys):
    """--steps, --lr, ... showed no default (session 27's open item): theirs come from the
    generator's card or the method's preset, which the group's text now names with csgm's."""
    from ganinverse.solvers.csgm import CSGM_PRESETS

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    preset = CSGM_PRESETS["mnist"]
    assert "An unset flag takes each method's own setting" in text
    assert (
        f"(csgm: --steps {preset.steps}, --restarts {preset.restarts}, --lr {preset.lr:g}" in text
    )


def test_a_mask_spec_has_one_spelling():
    from ganinverse.operators import Inpainting

    assert Inpainting.axis.parse("random: 0.5") == "random:0.5"
    assert Inpainting.axis.parse("half : left") == "half:left"
    assert Inpainting.axis.parse("random:.5") == Inpainting.axis.parse("random:0.50")
    assert Inpainting.axis.parse("random:1e-1") == "random:0.1"
    assert Inpainting.axis.parse("grid:4") == "grid:4"  # (an int stays an int)


def test_a_sweep_resumes_under_another_spelling_of_its_masks(tmp_path, capsys):
    """A sweep written with --mask random:0.5 refused a rerun with random:.5 (helper-61)."""
    out = str(tmp_path / "o")
    head = ["sweep", "--dataset", "digits", "--operator", "inpainting", "--methods", "tv"]
    head += ["--n-images", "1", "--no-progress", "--out", out]
    assert run([*head, "--mask", "random:0.5"], capsys)[0] == 0
    code, _, err = run([*head, "--mask", "random:.5,center"], capsys)
    assert code == 0, err
    spec = json.loads((tmp_path / "o" / "sweep.json").read_text())
    assert spec["x_values"] == ["random:0.5", "center"]


def test_a_bad_list_entry_is_named(tmp_path, capsys):
    """--m 10,10.0 said only "expected comma-separated m values" (helper-61): the entry."""
    head = ["sweep", "--dataset", "digits", "--out", str(tmp_path / "new" / "o")]
    code, _, err = run([*head, "--m", "10,10.0"], capsys)
    assert code == 2 and "the entry '10.0' is not a whole number" in err, err


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["reconstruct", "--image", "", "--m", "20"], "--image"),  # (was: the working folder)
        (
            ["reconstruct", "--dataset", "digits", "--m", "20", "--discriminator", ""],
            "--discriminator",
        ),
        (["sweep", "--dataset", "digits", "--m", "20", "--discriminator", " "], "--discriminator"),
        (["sweep", "--dataset", "digits", "--m", "20", "--split", ""], "--split"),  # (ran test)
        (["sweep", "--dataset", "digits", "--m", "20", "--shard", ""], "--shard"),  # (unsharded)
        (["inpaint", "--image", ""], "--image"),
        (["inpaint", "--dataset", "digits", "--generator", ""], "--generator"),
        (
            "defend eval --classifier digits --generator digits --attack-loss".split() + [""],
            "--attack-loss",
        ),  # (ran 'ce')
        (
            "tune --generator digits --dataset digits --m 20 --data-root".split() + [""],
            "--data-root",
        ),
    ],
)
def test_an_empty_value_is_refused_by_its_flag_before_any_work(tmp_path, capsys, argv, flag):
    """helper-71: empty texts were read as "not given" ('--discriminator ""' ran without one,
    '--split ""' the test split, '--shard ""' unsharded) or as the working folder."""
    out = tmp_path / "o"
    code, _, err = run([*argv, "--out", str(out)], capsys)
    assert code == 2 and f"error: {flag} is empty (" in err, err
    # "leave the flag out" only where leaving it out can run (--generator ''  with csgm cannot:
    # helper-73, the words no longer promise a default)
    required = {"--image": "(one of --image / --dataset is required)"}.get(
        flag, "leave the flag out where the run does not need it"
    )
    assert required in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, fix",
    [
        (["sweep", "--dataset", "digits", "--m", "20", "--out", ""], "(the flag is required)"),
        (["sweep", "--dataset", " ", "--m", "20", "--out", "o"], "(the flag is required)"),
        (
            ["tune", "--generator", "", "--dataset", "digits", "--m", "20", "--out", "o"],
            "(the flag is required)",
        ),
        (
            ["reconstruct", "--dataset", "", "--m", "20", "--out", "o"],
            "(one of --image / --dataset is required)",
        ),
    ],
)
def test_an_empty_required_flag_is_not_told_to_drop_it(tmp_path, monkeypatch, capsys, argv, fix):
    """The empty-value refusal said "or drop the flag for its default" for '--out ""' too: a
    required flag has no default to fall back to."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(argv, capsys)
    assert code == 2 and "is empty (" in err and fix in err and "leave the flag out" not in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, lead",
    [
        (["reconstruct", "--m", " ", "--dataset", "digits"], "--m: is empty (' '): write a number"),
        (["sweep", "--m", "10", "--noise-std", "", "--methods", "csgm"], "--noise-std: is empty"),
    ],
)
def test_an_empty_number_says_is_empty(argv, lead, capsys, tmp_path):
    """helper-75: a blank number read "invalid positive int value: ' '" (argparse's words)."""
    from ganinverse.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert lead in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv, meant", [(["reconstrct"], "'reconstruct'"), (["defend", "evl"], "'eval'")]
)
def test_a_mistyped_command_names_the_one_meant(argv, meant, capsys):
    from ganinverse.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{argv[-1]}'" in err and f"did you mean {meant}?" in err, err


def test_the_sweep_says_identity_is_an_operator_without_an_axis(capsys, tmp_path):
    """helper-75: only the API said so; the command line said 'got 'identity'' alone."""
    from ganinverse.cli import main

    with pytest.raises(SystemExit):
        main(["sweep", "--operator", "identity", "--dataset", "digits", "--m", "10"])
    err = capsys.readouterr().err
    assert "got 'identity' ('identity' is an operator with no axis a sweep can vary)" in err, err
