import argparse
import json

import pytest
import torch

from ganinverse.cli import build_parser, main
from ganinverse.cli._common import engine_list
from ganinverse.models import DCGANGenerator
from ganinverse.models.checkpoint import save_model


@pytest.fixture
def tiny_generator(tmp_path):
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4)
    return str(save_model(G, tmp_path / "gen" / "generator", {"dataset": "test"}))


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"demo", "sweep", "sweep-merge", "reconstruct"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_reconstruct_end_to_end(tiny_generator, tmp_path, capsys):
    out = tmp_path / "rec"
    code = main(
        [
            "reconstruct",
            "--generator",
            tiny_generator,
            "--dataset",
            "digits",
            "--index",
            "2",
            "--m",
            "50",
            "--steps",
            "5",
            "--restarts",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    for name in ("original.png", "reconstruction.png", "comparison.png"):
        assert (out / name).stat().st_size > 100
    assert "PSNR" in capsys.readouterr().out
    _assert_three_panels(out / "comparison.png")


def test_reconstruct_records_options_as_json_values(tmp_path, capsys):
    """helper-64: summary.json held every option as text ("blend": "False", truthy in JSON)."""
    out = tmp_path / "rec"
    argv = ["reconstruct", "--dataset", "digits", "--m", "50", "--method", "iagan"]
    argv += ["--iagan-steps", "2", "--steps", "2", "--restarts", "1", "--no-progress"]
    assert main([*argv, "--out", str(out)]) == 0
    options = json.loads((out / "summary.json").read_text())["options"]
    assert options["back_projection"] is False  # (JSON's false; blend: idle without a mask)
    assert "blend" not in options and "discrepancy" not in options  # (idle: no mask, σ = 0)
    assert options["adapt_steps"] == 2 and options["lr_theta"] == 1e-4
    # helper-65: the engine was a repr line here but a dict in inpaint's and the sweep's
    # summaries (the card's lambda_z and prune_at as JSON values)
    config = options["config"]
    assert config["steps"] == 2 and config["restarts"] == 1 and config["init"] == "uniform"
    assert isinstance(config["lambda_z"], float) and config["prune_at"] == []
    idle = ["reconstruct", "--dataset", "digits", "--m", "50", "--method", "csgm", "--steps", "0"]
    assert main([*idle, "--restarts", "1", "--no-progress", "--out", str(tmp_path / "idle")]) == 0
    config = json.loads((tmp_path / "idle" / "summary.json").read_text())["options"]["config"]
    assert config["lr"] is None and "steps=0" in config["unused"]["lr"]  # (not the default)


def test_reconstruct_and_inpaint_record_the_same_engine_settings_and_the_operators(tmp_path):
    """helper-66: reconstruct's summary.json left out --tol and the mask; inpaint's left out
    --lambda-z and --prune-at; the two recorded different engine keys."""
    from ganinverse.cli._common import ENGINE_RECORD

    rec = ["reconstruct", "--dataset", "digits", "--operator", "inpainting", "--mask", "center"]
    rec += ["--method", "csgm", "--steps", "120", "--restarts", "1", "--tol", "0.001"]
    assert main([*rec, "--no-progress", "--out", str(tmp_path / "r")]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["mask"] == "center" and summary["options"]["config"]["tol"] == 0.001
    inp = ["inpaint", "--dataset", "digits", "--n", "1", "--method", "csgm", "--steps", "2"]
    inp += ["--restarts", "2", "--lambda-z", "0.05", "--prune-at", "0.5", "--no-progress"]
    assert main([*inp, "--out", str(tmp_path / "i")]) == 0
    config = json.loads((tmp_path / "i" / "summary.json").read_text())["options"]["config"]
    assert config["lambda_z"] == 0.05 and config["prune_at"] == [0.5]
    assert set(ENGINE_RECORD) <= set(config)
    assert set(ENGINE_RECORD) <= set(summary["options"]["config"])
    # helper-67: the engine's seed was recorded 0 where --seed 3 ran; a default factor as null
    sr = ["reconstruct", "--dataset", "digits", "--operator", "superres", "--method", "csgm"]
    sr += ["--steps", "2", "--restarts", "1", "--seed", "3", "--no-progress"]
    assert main([*sr, "--out", str(tmp_path / "s")]) == 0
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["factor"] == 2 and summary["options"]["config"]["seed"] == 3 == summary["seed"]


def _assert_three_panels(path):
    """comparison.png: truth, back-projection, x̂ side by side (PANEL_SIZE each, 120 dpi)."""
    import matplotlib.image

    from ganinverse.plots import PANEL_SIZE

    height, width = matplotlib.image.imread(path).shape[:2]
    assert (width, height) == (round(120 * PANEL_SIZE[0] * 3), round(120 * PANEL_SIZE[1]))


@pytest.mark.parametrize(
    "flags", [["--operator", "inpainting", "--mask", "center"], ["--operator", "superres"]]
)
def test_reconstruct_comparison_shows_the_back_projection(
    flags, tiny_generator, tmp_path, monkeypatch
):
    import ganinverse.cli.reconstruct as command

    shown = {}
    real = command.reconstruction_panels
    monkeypatch.setattr(
        command,
        "reconstruction_panels",
        lambda x_hat, bp, path, **kw: shown.update(bp=bp, **kw) or real(x_hat, bp, path, **kw),
    )
    out = tmp_path / "rec"
    argv = ["reconstruct", "--generator", tiny_generator, "--dataset", "digits", *flags]
    assert main([*argv, "--steps", "3", "--restarts", "1", "--out", str(out), "--no-progress"]) == 0
    _assert_three_panels(out / "comparison.png")
    x = shown["truth"]
    if "inpainting" in flags:  # the zero-filled y: the truth where known, 0 elsewhere
        known = shown["bp"] != 0
        assert 0 < known.float().mean() < 1 and torch.allclose(shown["bp"][known], x[known])
    else:  # y upsampled: the 2x2 block means of the truth
        means = (
            torch.nn.functional.avg_pool2d(x, 2).repeat_interleave(2, -2).repeat_interleave(2, -1)
        )
        assert torch.allclose(shown["bp"], means, atol=1e-5)


def test_sweep_and_merge_end_to_end(tiny_generator, tmp_path, capsys):
    out = tmp_path / "sweep"
    args = [
        "sweep",
        "--generator",
        tiny_generator,
        "--dataset",
        "digits",
        "--m",
        "20,40",
        "--methods",
        "csgm,lasso-dct",
        "--n-images",
        "3",
        "--batch-size",
        "3",
        "--n-val",
        "2",
        "--steps",
        "3",
        "--restarts",
        "2",
        "--engine-grid",
        "lambda_z=0.1,steps=3;lambda_z=1e-3",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main([*args, "--shard", "0/2"]) == 0
    assert main([*args, "--shard", "1/2"]) == 0
    assert main(["sweep-merge", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| csgm | 20 | 3 |" in text and "| lasso-dct | 40 | 3 |" in text
    assert (out / "error_vs_m.png").is_file()
    assert (out / "summary.md").read_text().startswith("# digits, generator ")
    grid = json.loads((out / "sweep.json").read_text())["engine_grid"]
    assert grid == [{"lambda_z": 0.1, "steps": 3}, {"lambda_z": 0.001}]
    assert "| csgm | engine |" in text


def test_engine_list_reads_numbers_and_rejects_garbage():
    assert engine_list("lambda_z=0.3,steps=300; lambda_z=1e-3") == (
        {"lambda_z": 0.3, "steps": 300},
        {"lambda_z": 0.001},
    )
    for bad in ("lambda_z", "steps=many", ";", "=3"):
        with pytest.raises(argparse.ArgumentTypeError):
            engine_list(bad)
    # helper-68: the word options were refused ("init: expected a number"), though tune
    # searches init; they are taken as typed and checked by the engine
    assert engine_list("init=uniform,lambda_z=0.1; optimizer=sgd,select=total") == (
        {"init": "uniform", "lambda_z": 0.1},
        {"optimizer": "sgd", "select": "total"},
    )


def test_an_engine_grid_of_words_is_searched_and_a_bad_word_named(tmp_path, capsys):
    argv = ["sweep", "--dataset", "digits", "--generator", "digits", "--m", "20", "--methods"]
    argv += ["csgm", "--n-images", "1", "--n-val", "2", "--steps", "3", "--restarts", "1"]
    argv += ["--no-progress"]
    bad = main([*argv, "--engine-grid", "init=Uniform;init=normal", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert bad == 2 and "--engine-grid init=Uniform: init must be" in err and "'uniform'?" in err, (
        err
    )
    assert not (tmp_path / "b").exists()
    out = tmp_path / "s"
    assert main([*argv, "--engine-grid", "init=uniform;init=normal", "--out", str(out)]) == 0
    searched = json.loads((out / "weights.json").read_text())["csgm@20"]["validation_mse"]
    assert [v for v, _ in searched] == [{"init": "uniform"}, {"init": "normal"}]


def test_bad_input_is_a_clear_error_not_a_traceback(tiny_generator, tmp_path, capsys):
    code = main(
        [
            "reconstruct",
            "--generator",
            tiny_generator,
            "--dataset",
            "digits",
            "--m",
            "5000",
            "--out",
            str(tmp_path / "rec"),
            "--no-progress",
        ]
    )
    assert code == 2
    assert "m must be at most n" in capsys.readouterr().err
    assert main(["sweep", "--dataset", "digits", "--m", "10", "--out", str(tmp_path / "s")]) == 2
    assert "needs a generator" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command, flags, message",
    [
        ("reconstruct", ["--lambda-z", "-1"], "--lambda-z: lambda_z must be >= 0"),
        ("reconstruct", ["--restarts", "0"], "--restarts: restarts must be >= 1"),
        (
            "sweep",
            ["--methods", "csgm", "--n-images", "4", "--lambda-z", "-1"],
            "--lambda-z: lambda_z must be >= 0",
        ),
        (
            "sweep",
            ["--methods", "csgm", "--n-images", "4", "--restarts", "0"],
            "--restarts: restarts must be >= 1",
        ),
    ],
)
def test_an_error_from_a_checked_argument_names_its_flag(
    tiny_generator, tmp_path, capsys, command, flags, message
):
    out = tmp_path / "o"
    argv = [command, "--generator", tiny_generator, "--dataset", "digits", "--m", "10"]
    assert main([*argv, *flags, "--out", str(out), "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_torchrun_environment_selects_the_shard(tiny_generator, tmp_path, monkeypatch, capsys):
    out = tmp_path / "sweep"
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    args = [
        "sweep",
        "--dataset",
        "digits",
        "--m",
        "20,40",
        "--methods",
        "lasso-dct",
        "--n-images",
        "2",
        "--n-val",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    assert (out / "rows.shard-1-of-2.csv").is_file() and not (out / "rows.csv").exists()
    assert "sweep-merge" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--operator", "gaussian", "--m", "50", "--factor", "4"], "--factor sets"),
        (["--operator", "superres", "--m", "50"], "--m sets"),
        (["--operator", "gaussian", "--m", "50", "--mask", "center"], "--mask sets"),
        (["--operator", "identity", "--m", "50"], "--m sets"),
    ],
)
def test_reconstruct_refuses_another_operators_setting(
    flags, match, tiny_generator, tmp_path, capsys
):
    out = tmp_path / "rec"
    argv = ["reconstruct", "--generator", tiny_generator, "--dataset", "digits", *flags]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 2
    assert match in capsys.readouterr().err and not out.exists()


def test_plugins_registered_by_entry_point_reach_the_command_line(monkeypatch, capsys):
    """A module named in the ganinverse.plugins entry-point group is imported before the parser
    is built, so the method it registers is a choice of reconstruct."""
    import importlib.metadata
    import sys
    import types

    from ganinverse import methods

    module = types.ModuleType("ganinverse_test_plugin")

    def load():
        record = methods.Method(
            "plugin-method",
            lambda G, operator, y, **o: types.SimpleNamespace(x_hat=operator.A_adjoint(y)),
            "a plugin's method",
            needs_generator=False,
        )
        if "plugin-method" not in methods.METHODS:
            methods.register_method(record)
        return module

    ep = types.SimpleNamespace(name="test", value="ganinverse_test_plugin", load=load)
    monkeypatch.setitem(sys.modules, "ganinverse_test_plugin", module)
    monkeypatch.setattr(
        importlib.metadata, "entry_points", lambda group=None: [ep] if group else []
    )
    try:
        with pytest.raises(SystemExit):
            main(["reconstruct", "--help"])
        assert "plugin-method" in capsys.readouterr().out
    finally:
        methods.METHODS.pop("plugin-method", None)


def test_an_operator_setting_with_a_default_says_it_in_help():
    from ganinverse.operators import SuperResolution

    reconstruct = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices["reconstruct"]
    text = " ".join(reconstruct.format_help().split())
    assert "downsampling factor f (m = n / f²) (superres; default 2)" in text
    assert SuperResolution.from_setting((1, 8, 8)).factor == SuperResolution.axis.default == 2


@pytest.mark.parametrize(
    "flags, refused",
    [
        (["--operator", "superres", "--factor", "2"], True),  # nothing random anywhere
        (["--operator", "inpainting", "--mask", "center"], True),
        (["--operator", "gaussian", "--m", "50"], False),  # the matrix is drawn from it
        (["--operator", "inpainting", "--mask", "random:0.5"], False),  # the mask is
        (["--operator", "superres", "--factor", "2", "--noise-std", "0.05"], False),  # noise
    ],
)
def test_reconstruct_refuses_a_seed_that_changes_nothing(flags, refused, tmp_path, capsys):
    """reconstruct --seed with a fixed operator, no noise and a method that draws no random
    number changed nothing and was accepted (user trial); where anything is drawn it runs."""
    out = tmp_path / "rec"
    argv = ["reconstruct", "--dataset", "digits", "--method", "lasso-dct", "--seed", "3", *flags]
    code = main([*argv, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    if refused:
        assert code == 2 and "--seed changes nothing; drop --seed" in err and not out.exists()
    else:
        assert code == 0 and (out / "reconstruction.png").is_file()


@pytest.mark.parametrize("folder", ["", "   "])
def test_sweep_merge_of_an_empty_path_is_refused_not_run_on_the_current_folder(
    folder, tmp_path, capsys, monkeypatch
):
    """User trial: `ganinverse sweep-merge ""` merged (and wrote a report into) the cwd."""
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["sweep-merge", folder])
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert (
        code == 2
        and "error: OUT (the sweep folder) is empty: pass the --out folder of a sweep" in err
    ), err
    assert list(tmp_path.iterdir()) == []


def test_an_engine_grid_candidate_sets_prune_fractions_with_slashes(tmp_path, capsys):
    """User trial: --engine-grid "prune_at=0.9" said "prune_at must be a tuple", and the grid
    syntax had no way to write one."""
    assert engine_list("prune_at=0.1/0.3,steps=20;lambda_z=0.1") == (
        {"prune_at": (0.1, 0.3), "steps": 20},
        {"lambda_z": 0.1},
    )
    assert engine_list("prune_at=0.5") == ({"prune_at": (0.5,)},)


def test_sweep_merge_of_a_folder_without_rows_says_what_to_pass(tmp_path, capsys):
    code = main(["sweep-merge", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "no result rows in" in err and "pass the --out folder of a sweep" in err


@pytest.mark.parametrize("steps, status", [("3", "ok"), ("0", "not_improved")])
def test_reconstruct_writes_and_prints_the_solvers_status(steps, status, tmp_path, capsys):
    """User trial (helper-38 #14): reconstruct said nothing per image beyond a warning; its
    summary.json and last line now carry the solver's status ("ok", or why not)."""
    out = tmp_path / "rec"
    argv = ["reconstruct", "--generator", "digits", "--dataset", "digits", "--m", "50"]
    argv += ["--method", "csgm", "--steps", steps, "--restarts", "1"]
    with pytest.warns() if status != "ok" else _no_warning():
        assert main([*argv, "--device", "cpu", "--no-progress", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == status and summary["method"] == "csgm" and summary["m"] == 50
    assert summary["psnr"] > 0 and 0 <= summary["mse"] <= 1
    # helper-53: summary.json did not say what was reconstructed
    assert summary["input"] == {"dataset": "digits", "split": "test", "index": 0}
    assert f"status {status}" in capsys.readouterr().out


def _no_warning():
    import contextlib

    return contextlib.nullcontext()


def test_a_seed_that_draws_the_operator_is_not_called_idle(tmp_path):
    """helper-39: reconstruct --method lasso-dct --seed 3 (the seed draws A) warned that the
    seed changes nothing; only gi.reconstruct, given a built operator, warns so."""
    import warnings

    from ganinverse.exceptions import IdleOptionWarning

    argv = ["reconstruct", "--dataset", "digits", "--m", "20", "--method", "lasso-dct"]
    argv += ["--seed", "3", "--device", "cpu", "--no-progress", "--out", str(tmp_path / "o")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdleOptionWarning)
        assert main(argv) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "--dataset", "digits", "--out", "o", "--untrained-steps", "5"],
        ["reconstruct", "--dataset", "digits", "--out", "o", "--ste", "5"],
        [
            "defend",
            "eval",
            "--generator",
            "g",
            "--classifier",
            "c",
            "--out",
            "o",
            "--atta",
            "fgsm:0.1",
        ],
    ],
)
def test_a_flag_prefix_is_refused_not_expanded(argv, tmp_path, capsys, monkeypatch):
    """A prefix (``--untrained-steps`` for ``--untrained-steps-grid``) is not taken for the
    longer flag: argparse's abbreviation would run a grid the user never named."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err
    if argv[0] == "sweep":  # (the option is searched there: its one-value grid sets it)
        assert "pass --untrained-steps-grid VALUE to set it" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["sweep", "--dataset", "digits", "--m", "20", "--ou=o"], "--out for --ou?"),
        (["sweep", "--datas", "digits", "--m", "20", "--out", "o"], "--dataset for --datas?"),
        (["defend", "eval", "--gen", "g", "--classifier", "c", "--out", "o"], "--generator for"),
    ],
)
def test_a_prefix_of_a_required_flag_gets_the_hint(argv, hint, tmp_path, capsys, monkeypatch):
    """Helper-41: argparse reports a missing required flag before the unrecognised prefix
    the user typed for it (``--ou=X``): the error now says which flag was meant."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "the following arguments are required" in err, err
    assert f"did you mean {hint}" in err, err
    assert not (tmp_path / "o").exists()


def test_pretrain_flags_are_not_abbreviated(capsys):
    from pretrain.cli import build_parser as pretrain_parser

    with pytest.raises(SystemExit):
        pretrain_parser().parse_args(["--ste", "3"])
    assert "unrecognized arguments: --ste" in capsys.readouterr().err


def test_demo_into_another_sweeps_folder_says_pass_another_out(tmp_path, capsys):
    """Helper-42: demo --out <a folder of another sweep> advised changing --m, --methods, ...,
    flags the demo does not have."""
    out = tmp_path / "o"
    argv = ["sweep", "--dataset", "digits", "--m", "20", "--methods", "lasso-dct"]
    argv += ["--lasso-lambdas", "0.1", "--n-images", "1", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    before = (out / "sweep.json").read_text()
    capsys.readouterr()
    code = main(["demo", "--n-images", "1", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "holds the results of another sweep, not of this demo" in err, err
    assert "pass another --out" in err and "--methods" not in err
    assert (out / "sweep.json").read_text() == before


def test_a_folder_dataset_needs_no_split(tmp_path, capsys):
    """Helper-42: reconstruct --dataset folder without --split failed with "split for 'folder'
    must be one of 'all'; got 'test'", a default the user never set; the default split is the
    source's own (test where there is one, else all)."""
    import numpy as np
    from PIL import Image

    from ganinverse.data import default_split

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        Image.fromarray((np.arange(784).reshape(28, 28) % 256).astype("uint8")).save(
            folder / f"{i}.png"
        )
    argv = ["reconstruct", "--dataset", "folder", "--data-root", str(folder), "--m", "50"]
    argv += ["--method", "lasso-dct", "--lam", "0.1", "--no-progress", "--out", str(tmp_path / "o")]
    assert main(argv) == 0, capsys.readouterr().err
    assert default_split("folder") == "all" and default_split("mnist") == "test"


def test_demo_into_a_larger_demo_names_its_image_count(tmp_path, capsys):
    """(issue 14, U6) a folder of this demo on more images: the fix is that run's --n-images,
    and only there (a folder of another sweep gets "pass another --out", test above)."""
    from ganinverse.cli.demo import DEMO
    from ganinverse.sweep import Sweep, SweepSpec

    out = tmp_path / "o"
    Sweep(SweepSpec(**{**DEMO, "n_images": 3}), out, device="cpu")  # (records sweep.json only)
    before = (out / "sweep.json").read_text()
    capsys.readouterr()
    code = main(["demo", "--n-images", "2", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "holds this demo run on 3 images" in err and "--n-images 3" in err, err
    assert (out / "sweep.json").read_text() == before


def test_a_refused_demo_prints_no_banner_and_a_missing_mask_is_named(tmp_path, capsys):
    """helper-47: demo printed its "CSGM ... on N digits" banner before a one-line error, and
    reconstruct --operator inpainting without --mask said "--mask None: ..."."""
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["demo", "--no-progress", "--out", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error" in captured.err
    argv = ["reconstruct", "--generator", "digits", "--dataset", "digits", "--index", "3"]
    assert main([*argv, "--operator", "inpainting", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "needs a mask spec (--mask" in err and "None" not in err, err
    assert not (tmp_path / "r").exists()


def _rgb_50x40(path):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(path)
    return (
        f"image file {path}: a colour file converted to grey; non-square (50x40 px) stretched "
        "to 28x28"
    )


def _wide_8bit(path):
    import numpy as np
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint16)).save(path)
    return "16-bit scale"  # helper-54: it warned, but summary.json said null


@pytest.mark.parametrize("make, name", [(_rgb_50x40, "rgb.png"), (_wide_8bit, "wide.png")])
def test_reconstruct_records_its_input_file_and_the_conversion(tmp_path, make, name):
    from ganinverse.exceptions import ConversionWarning

    expected = make(tmp_path / name)
    out = tmp_path / "rec"
    argv = ["reconstruct", "--generator", "digits", "--image", str(tmp_path / name)]
    argv += ["--m", "50", "--steps", "2", "--restarts", "1", "--device", "cpu", "--no-progress"]
    with pytest.warns(ConversionWarning):
        assert main([*argv, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"]["image"] == str(tmp_path / name)
    assert expected in summary["input"]["converted"]


def test_summaries_carry_the_generators_own_training_verdict(tmp_path):
    """helper-56: a generator recorded as having learned nothing warned, but the summaries of
    the results made with it said nothing."""
    import torch

    from ganinverse.exceptions import ConvergenceWarning
    from ganinverse.models import MLPGenerator, save_model

    G = MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(16,)).eval()
    why = "the losses diverged (g_loss = 1e4 at the last step)"
    card = {"dataset": "digits", "training_status": why}
    path = str(save_model(G, tmp_path / "g" / "generator", card))
    common = ["--generator", path, "--steps", "2", "--restarts", "1", "--device", "cpu"]
    common += ["--no-progress", "--dataset", "digits"]
    with pytest.warns(ConvergenceWarning, match="learned nothing"):
        assert main(["reconstruct", *common, "--m", "20", "--out", str(tmp_path / "r")]) == 0
        assert (
            main(["inpaint", *common, "--n", "1", "--mask", "center", "--out", str(tmp_path / "i")])
            == 0
        )
    for folder in ("r", "i"):
        summary = json.loads((tmp_path / folder / "summary.json").read_text())
        assert summary["generator_training_status"] == why
    torch.manual_seed(0)
    ok = save_model(G, tmp_path / "ok" / "generator", {**card, "training_status": "ok"})
    common[1] = str(ok)
    assert main(["reconstruct", *common, "--m", "20", "--out", str(tmp_path / "r2")]) == 0
    assert (
        json.loads((tmp_path / "r2" / "summary.json").read_text())["generator_training_status"]
        == "ok"
    )


def test_a_sweep_with_a_generator_that_learned_nothing_is_flagged_in_its_summary(tmp_path):
    """helper-56: the sweep warned when it loaded such a generator, but summary.md said
    nothing."""
    from ganinverse.exceptions import ConvergenceWarning
    from ganinverse.models import MLPGenerator, save_model

    G = MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(16,)).eval()
    why = "the losses diverged (g_loss = 1e4 at the last step)"
    path = str(save_model(G, tmp_path / "g" / "generator", {"training_status": why}))
    argv = ["sweep", "--generator", path, "--dataset", "digits", "--m", "20", "--methods"]
    argv += ["csgm", "--n-images", "2", "--steps", "2", "--restarts", "1"]
    argv += ["--device", "cpu", "--no-progress", "--out", str(tmp_path / "s")]
    with pytest.warns(ConvergenceWarning, match="learned nothing"):
        assert main(argv) == 0
    summary = (tmp_path / "s" / "summary.md").read_text()
    assert "**Flagged:** the generator" in summary and why in summary


def test_a_generator_trained_on_other_data_is_warned_and_recorded_where_its_numbers_are(
    tmp_path,
):
    """helper-57: reconstruct and sweep ran a generator whose card says mnist on --dataset
    digits without a word; the results measure images outside its training data. They warn
    (DatasetMismatchWarning), summary.json records the card's dataset, summary.md flags it."""
    import warnings

    from ganinverse.exceptions import DatasetMismatchWarning
    from ganinverse.models import MLPGenerator, save_model

    torch.manual_seed(0)
    G = MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(16,)).eval()
    other = str(save_model(G, tmp_path / "g" / "generator", {"dataset": "mnist"}))
    common = ["--generator", other, "--steps", "2", "--restarts", "1", "--device", "cpu"]
    common += ["--no-progress", "--dataset", "digits"]
    with pytest.warns(
        DatasetMismatchWarning, match="trained on mnist, the images come from digits"
    ):
        assert main(["reconstruct", *common, "--m", "20", "--out", str(tmp_path / "r")]) == 0
    with pytest.warns(DatasetMismatchWarning, match="trained on mnist"):
        argv = ["inpaint", *common, "--n", "1", "--mask", "center", "--out", str(tmp_path / "i")]
        assert main(argv) == 0
    for folder in ("r", "i"):
        summary = json.loads((tmp_path / folder / "summary.json").read_text())
        assert summary["generator_trained_on"] == "mnist"
    argv = ["sweep", *common, "--m", "20", "--methods", "csgm", "--n-images", "2"]
    with pytest.warns(DatasetMismatchWarning, match="trained on mnist"):
        assert main([*argv, "--out", str(tmp_path / "s")]) == 0
    summary = (tmp_path / "s" / "summary.md").read_text()
    assert "**Flagged:** the generator" in summary and "trained on mnist" in summary
    same = str(save_model(G, tmp_path / "d" / "generator", {"dataset": "digits"}))
    common[1] = same
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetMismatchWarning)
        assert main(["reconstruct", *common, "--m", "20", "--out", str(tmp_path / "r2")]) == 0
        assert main([*argv[:2], same, *argv[3:], "--out", str(tmp_path / "s2")]) == 0
    assert json.loads((tmp_path / "r2" / "summary.json").read_text())["generator_trained_on"] == (
        "digits"
    )
    assert "trained on" not in (tmp_path / "s2" / "summary.md").read_text()


@pytest.mark.parametrize(
    "command, says",
    [
        ("reconstruct", "the one the generator's card recommends"),
        ("inpaint", "this command does not read the generator's card"),
        ("sweep", "this command does not read the generator's card"),
    ],
)
def test_the_engine_help_says_where_an_unset_flag_comes_from(command, says, capsys):
    """helper-67: inpaint's (and sweep's) help said an unset engine flag takes the card's
    setting; only reconstruct reads the card (methods.default_config)."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert says in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["reconstruct", "inpaint"])
def test_a_summary_fingerprints_the_image_the_mask_file_and_the_models_it_read(
    command, tmp_path, monkeypatch
):
    """User trial: reconstruct's and inpaint's summary.json fingerprinted a samples file only
    (a sweep records its generator's, images' and mask files'): a rewritten --image, --mask
    file or checkpoint gave other numbers under the same names. They now record the image
    file's bytes (its path absolute), the mask file's, and the weights of G and D used."""
    import numpy as np
    from PIL import Image

    from ganinverse.io import file_fingerprint
    from ganinverse.models import DCGANDiscriminator, model_fingerprint

    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4)
    gen = str(save_model(G, tmp_path / "g" / "generator"))
    disc = DCGANDiscriminator(image_shape=(1, 28, 28), ndf=4)
    disc = str(save_model(disc, tmp_path / "g" / "discriminator"))
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((28, 28)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    hole = np.full((28, 28), 255, np.uint8)
    hole[8:20, 8:20] = 0
    Image.fromarray(hole).save(tmp_path / "hole.png")
    monkeypatch.chdir(tmp_path)  # (the files named relative to it)
    argv = [command, "--generator", gen, "--discriminator", disc, "--image", "in.png"]
    argv += ["--mask", "hole.png", "--steps", "2", "--restarts", "1", "--device", "cpu"]
    argv += ["--no-progress", "--out", "o"]
    if command == "reconstruct":  # (csgm with its discriminator prior: D used)
        argv += ["--operator", "inpainting", "--d-weight", "0.1"]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["input_fingerprints"] == {
        "image": file_fingerprint(tmp_path / "in.png"),
        "mask": file_fingerprint(tmp_path / "hole.png"),
        "generator": model_fingerprint(gen, "generator"),
        "discriminator": model_fingerprint(disc, "discriminator"),
    }
    image = summary["input"]["image"] if command == "reconstruct" else summary["image"]
    assert image == str((tmp_path / "in.png").resolve())
    assert summary["mask"] == str((tmp_path / "hole.png").resolve())  # (helper-84: relative)
    assert summary["discriminator"] == disc


def test_summaries_record_no_discriminator_and_no_generator_as_null(tmp_path):
    """User trial: inpaint's summary.json held "discriminator": "none" beside "generator":
    null; and a sweep without a generator was titled "generator None" in summary.md."""
    argv = ["inpaint", "--dataset", "digits", "--n", "1", "--method", "tv", "--tv-iters", "50"]
    assert main([*argv, "--no-progress", "--out", str(tmp_path / "i")]) == 0
    summary = json.loads((tmp_path / "i" / "summary.json").read_text())
    assert summary["generator"] is None and summary["discriminator"] is None
    assert "input_fingerprints" not in summary  # (no file, no model read)
    argv = ["sweep", "--dataset", "digits", "--methods", "lasso-dct", "--lasso-lambdas", "0.3"]
    argv += ["--m", "20", "--n-images", "1", "--no-progress", "--out", str(tmp_path / "s")]
    assert main(argv) == 0
    title = (tmp_path / "s" / "summary.md").read_text().splitlines()[0]
    assert title == "# digits, no generator, noise σ = 0.1 ([0,1] scale)", title
