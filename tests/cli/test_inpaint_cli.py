import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganinverse.cli import build_parser, main
from ganinverse.models import DCGANDiscriminator, MLPGenerator, save_model


@pytest.fixture
def checkpoints(tmp_path):
    """A tiny random generator and discriminator saved as checkpoints (no bundled weights needed)."""
    torch.manual_seed(0)
    G = MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(16,)).eval()
    D = DCGANDiscriminator(image_shape=(1, 28, 28), ndf=4)
    return save_model(G, tmp_path / "ckpt" / "generator"), save_model(
        D, tmp_path / "ckpt" / "discriminator"
    )


def digit_png(path, seed=0):
    rng = np.random.default_rng(seed)
    arr = (rng.random((28, 28)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["inpaint", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--mask", "--prior-weight", "--discriminator", "--dataset", "--restarts"):
        assert option in text


def test_help_gives_the_blend_default_of_this_command(capsys):
    """helper-64: inpaint blends every completion into blended.png (Poisson when no blend flag
    is given) while its help showed iagan's own default, false."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["inpaint", "--help"])
    text = "".join(capsys.readouterr().out.split())  # (wherever the lines wrap)
    here = "(defaulthere:true:NNN_blended.pngisPoisson-blended,NNN_raw.pngunblended)"
    assert text.count(here) == 2, text  # --iagan-blend and --yeh-blend
    assert "Poissonblendingforeverymethodunless--yeh-blend/--iagan-blend" in text
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reconstruct", "--help"])
    assert "(default here" not in capsys.readouterr().out


def test_end_to_end_on_an_image_file(tmp_path, checkpoints):
    gen, disc = checkpoints
    arr = digit_png(tmp_path / "in.png")
    out = tmp_path / "out"
    argv = [
        "inpaint",
        "--generator",
        str(gen),
        "--discriminator",
        str(disc),
        "--image",
        str(tmp_path / "in.png"),
        "--mask",
        "random:0.5",
        "--out",
        str(out),
        "--steps",
        "5",
        "--restarts",
        "2",
        "--box",
        "2",
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert main(argv) == 0
    for name in ("000_masked.png", "000_raw.png", "000_blended.png", "comparison.png"):
        assert (out / name).is_file()
    blended = np.asarray(Image.open(out / "000_blended.png"))
    masked = np.asarray(Image.open(out / "000_masked.png"))
    known = masked != 128  # missing pixels are written as 0 in [-1, 1] = grey 128
    assert known.mean() > 0.4
    assert np.array_equal(blended[known], arr[known])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["missing_fraction"] == pytest.approx(0.5, abs=0.01)
    config = summary["options"]["config"]  # (nested, as reconstruct's)
    assert config["steps"] == 5 and config["box"] == 2 and summary["discriminator"] == str(disc)


def test_folder_and_dataset_inputs(tmp_path, checkpoints, capsys):
    gen, _ = checkpoints
    (tmp_path / "imgs").mkdir()
    for i in range(2):
        digit_png(tmp_path / "imgs" / f"{i}.png", seed=i)
    common = [
        "--generator",
        str(gen),
        "--steps",
        "3",
        "--restarts",
        "1",
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert (
        main(
            [
                "inpaint",
                "--image",
                str(tmp_path / "imgs"),
                "--mask",
                "half:left",
                "--out",
                str(tmp_path / "a"),
                *common,
            ]
        )
        == 0
    )
    assert (tmp_path / "a" / "001_blended.png").is_file()
    assert "no discriminator found" in capsys.readouterr().out
    # helper-50: summary.json said nothing of which file each output came from
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["input_files"] == ["0.png", "1.png"] and summary["image_ids"] is None
    # a checkpoint directory: its discriminator is used by default
    common[1] = str(gen.parent)
    assert (
        main(
            [
                "inpaint",
                "--dataset",
                "digits",
                "--n",
                "2",
                "--mask",
                "grid:2",
                "--out",
                str(tmp_path / "b"),
                *common,
            ]
        )
        == 0
    )
    assert (tmp_path / "b" / "001_raw.png").is_file()
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["discriminator"] == common[1]
    assert (
        main(
            [
                "inpaint",
                "--dataset",
                "digits",
                "--n",
                "1",
                "--mask",
                "blob",
                "--out",
                str(tmp_path / "c"),
                *common,
            ]
        )
        == 2
    )
    assert "mask spec 'blob'" in capsys.readouterr().err


def test_a_rerun_replaces_its_result_whole_and_other_folders_are_refused(
    tmp_path, checkpoints, capsys
):
    """Issue 14 kinds 2 and 6: --out never mixes two results, and never overwrites files that
    are not an earlier result of this command (checked before any work)."""
    gen, _ = checkpoints
    out = tmp_path / "out"
    run = [
        "inpaint", "--generator", str(gen), "--dataset", "digits", "--steps", "2",
        "--restarts", "1", "--device", "cpu", "--no-progress", "--out", str(out),
    ]  # fmt: skip
    assert main([*run, "--n", "3"]) == 0
    assert (out / "002_blended.png").is_file()
    assert main([*run, "--n", "2", "--start", "10", "--mask", "random:0.5"]) == 0
    assert not (out / "002_blended.png").exists()  # the earlier result is gone as a whole
    summary = json.loads((out / "summary.json").read_text())
    assert summary["image_ids"] == [10, 11]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "summary.json").write_text("my own notes")
    capsys.readouterr()
    assert main([*run[:-1], str(foreign), "--n", "2"]) == 2
    assert "holds other files" in capsys.readouterr().err
    assert (foreign / "summary.json").read_text() == "my own notes"


@pytest.mark.parametrize("method", ["csgm", "lasso-dct"])
def test_any_registered_method_inpaints_and_is_blended(method, tmp_path, checkpoints):
    """--method takes every registered method that applies to the Inpainting operator; its
    completion is Poisson-blended into the known pixels like Yeh's."""
    gen, _ = checkpoints
    arr = digit_png(tmp_path / "in.png")
    out = tmp_path / method
    argv = ["inpaint", "--image", str(tmp_path / "in.png")]
    argv += ["--generator", str(gen)] if method == "csgm" else []  # (lasso-dct uses none)
    argv += ["--mask", "center", "--method", method, "--out", str(out), "--device", "cpu"]
    argv += ["--no-progress"] + (["--steps", "3", "--restarts", "1"] if method == "csgm" else [])
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == method
    assert summary["status"] in (["ok"], ["not_improved"])  # (helper-38 #14: per image)
    blended = np.asarray(Image.open(out / "000_blended.png"))
    known = np.asarray(Image.open(out / "000_masked.png")) != 128
    assert np.array_equal(blended[known], arr[known])


def test_an_unknown_method_is_refused_before_writing(tmp_path, checkpoints, capsys):
    gen, _ = checkpoints
    digit_png(tmp_path / "in.png")
    argv = ["inpaint", "--generator", str(gen), "--image", str(tmp_path / "in.png")]
    with pytest.raises(SystemExit):
        main([*argv, "--method", "magic", "--out", str(tmp_path / "o")])
    assert "--method: method must be one of 'csgm'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_prior_weight_without_a_discriminator_is_refused(tmp_path, checkpoints, capsys):
    """--prior-weight with --discriminator none was set to 0 in silence and recorded as 0.0
    (user trial): refused, nothing written."""
    from ganinverse.cli import main

    gen, _ = checkpoints
    digit_png(tmp_path / "in.png")
    out = tmp_path / "out"
    argv = ["inpaint", "--generator", str(gen), "--discriminator", "none", "--image"]
    argv += [str(tmp_path / "in.png"), "--method", "yeh", "--prior-weight", "0.5"]
    assert main([*argv, "--steps", "2", "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--prior-weight weighs yeh's discriminator prior, but no discriminator" in err, err
    assert not out.exists()


def test_box_for_a_method_that_does_not_clip_is_refused(tmp_path, checkpoints, capsys):
    """--box acts only where z is clipped to the box or drawn from it (yeh's defaults); with
    csgm (no projection, normal starts) it changed nothing in silence: refused by name."""
    gen, _ = checkpoints
    digit_png(tmp_path / "in.png")
    out = tmp_path / "out"
    argv = ["inpaint", "--generator", str(gen), "--image", str(tmp_path / "in.png")]
    argv += ["--method", "csgm", "--box", "2", "--steps", "2", "--no-progress"]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--box changes nothing with these flags: it acts only with projection='box'" in err
    assert "csgm: projection='none', init='normal'" in err, err
    assert not out.exists()


def test_dataset_flags_with_an_image_and_a_generator_for_a_baseline_are_refused(
    tmp_path, checkpoints, capsys
):
    """--n / --start / --split with --image picked nothing, and --generator with tv changed
    nothing but was recorded (user trial): refused, nothing written; tv runs on the images'
    own size without a generator and records none."""
    gen, _ = checkpoints
    digit_png(tmp_path / "in.png")
    out = tmp_path / "out"
    for extra in (["--n", "3"], ["--start", "2"], ["--split", "train"]):
        argv = ["inpaint", "--generator", str(gen), "--image", str(tmp_path / "in.png"), *extra]
        assert main([*argv, "--steps", "2", "--no-progress", "--out", str(out)]) == 2
        assert f"{extra[0]} picks dataset images, but --image gives" in capsys.readouterr().err
    argv = ["inpaint", "--image", str(tmp_path / "in.png"), "--method", "tv"]
    assert main([*argv, "--generator", str(gen), "--out", str(out)]) == 2
    assert "--generator: method 'tv' uses no generator" in capsys.readouterr().err
    assert not out.exists()
    assert main([*argv, "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["generator"] is None


def test_reconstruct_refuses_dataset_flags_with_an_image(tmp_path, capsys):
    digit_png(tmp_path / "in.png")
    for extra in (["--index", "2"], ["--split", "train"], ["--data-root", str(tmp_path)]):
        argv = ["reconstruct", "--image", str(tmp_path / "in.png"), "--m", "20", *extra]
        assert main([*argv, "--out", str(tmp_path / "o")]) == 2
        assert f"{extra[0]} picks dataset images, but --image gives" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_seed_that_changes_nothing_is_refused_and_a_conversion_is_said(
    tmp_path, checkpoints, capsys
):
    """inpaint --seed with a fixed mask and a method that draws no random number changed
    nothing (user trial): refused; with a random mask it acts. An RGB file brought to a grey
    generator was converted in silence: a note says so."""
    out = tmp_path / "out"
    argv = ["inpaint", "--dataset", "digits", "--n", "1", "--method", "biharmonic", "--seed", "5"]
    assert main([*argv, "--mask", "center", "--out", str(out)]) == 2
    assert "--seed: --mask center is fixed and method 'biharmonic'" in capsys.readouterr().err
    assert not out.exists()
    assert main([*argv, "--mask", "random:0.5", "--out", str(out)]) == 0
    gen, _ = checkpoints
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(tmp_path / "rgb.png")
    argv = ["inpaint", "--generator", str(gen), "--image", str(tmp_path / "rgb.png"), "--steps"]
    argv += ["2", "--restarts", "1", "--no-progress", "--out", str(tmp_path / "o2")]
    from ganinverse.exceptions import ConversionWarning

    with pytest.warns(ConversionWarning, match="colour file converted to grey; non-square"):
        assert main(argv) == 0


def test_transparent_image_or_mask_files_are_refused_before_any_work(tmp_path, checkpoints, capsys):
    """helper-49: an alpha-only stroke was read as all black and reconstructed with status ok;
    reconstruct and inpaint refuse a transparent image or mask and write nothing."""
    gen, _ = checkpoints
    arr = np.zeros((28, 28, 2), np.uint8)
    arr[10:18, 12:16, 1] = 255  # the stroke lives in the alpha band only
    Image.fromarray(arr, "LA").save(tmp_path / "stroke.png")
    digit_png(tmp_path / "in.png")
    mask = np.full((28, 28, 4), 255, np.uint8)
    mask[:14, :, 3] = 0
    Image.fromarray(mask, "RGBA").save(tmp_path / "mask.png")
    tail = ["--steps", "2", "--restarts", "1", "--no-progress", "--out", str(tmp_path / "o")]
    runs = [
        ["reconstruct", "--generator", str(gen), "--image", str(tmp_path / "stroke.png")],
        ["inpaint", "--generator", str(gen), "--image", str(tmp_path / "stroke.png")],
        ["inpaint", "--generator", str(gen), "--image", str(tmp_path / "in.png"), "--mask"],
    ]
    runs[2].append(str(tmp_path / "mask.png"))
    for argv in runs:
        assert main([*argv, *tail]) == 2, argv
        err = capsys.readouterr().err
        assert "has transparent pixels" in err and not (tmp_path / "o").exists(), err


def test_summary_records_the_conversions_of_a_folders_files(tmp_path, checkpoints):
    """helper-54: the warnings were printed, but summary.json kept no trace of them."""
    from ganinverse.exceptions import ConversionWarning

    gen, _ = checkpoints
    (tmp_path / "imgs").mkdir()
    digit_png(tmp_path / "imgs" / "0.png")
    rgb = (np.random.default_rng(1).random((28, 28, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "imgs" / "1.png")
    wide = (np.random.default_rng(2).random((28, 28)) * 255).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "imgs" / "2.png")  # 16-bit holding 8-bit values
    argv = ["inpaint", "--image", str(tmp_path / "imgs"), "--mask", "half:left"]
    argv += ["--generator", str(gen), "--steps", "2", "--restarts", "1", "--device", "cpu"]
    with pytest.warns(ConversionWarning) as caught:  # still shown to the user
        assert main([*argv, "--no-progress", "--out", str(tmp_path / "a")]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    notes = summary["input_conversions"]
    assert any("colour files converted to grey (1.png)" in n for n in notes), notes
    assert any("2.png" in n and "16-bit scale" in n for n in notes), notes
    assert len(notes) == len([w for w in caught if w.category is ConversionWarning])


def test_summary_of_a_file_needing_no_conversion_records_none(tmp_path, checkpoints):
    gen, _ = checkpoints
    digit_png(tmp_path / "0.png")
    argv = ["inpaint", "--image", str(tmp_path / "0.png"), "--mask", "half:left"]
    argv += ["--generator", str(gen), "--steps", "2", "--restarts", "1", "--device", "cpu"]
    assert main([*argv, "--no-progress", "--out", str(tmp_path / "a")]) == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["input_conversions"] == []


def test_summary_records_the_conversions_of_a_mask_file_once(tmp_path, checkpoints):
    """helper-57: a mask file's coloured pixels warned, but summary.json's input_conversions
    stayed empty; the mask's checks must not repeat the warning."""
    from ganinverse.exceptions import ConversionWarning

    gen, _ = checkpoints
    digit_png(tmp_path / "0.png")
    mask = np.full((28, 28, 3), 255, np.uint8)
    mask[10:18, 10:18] = 0
    mask[0, 0] = (255, 0, 0)
    Image.fromarray(mask).save(tmp_path / "m.png")
    argv = ["inpaint", "--image", str(tmp_path / "0.png"), "--mask", str(tmp_path / "m.png")]
    argv += ["--generator", str(gen), "--steps", "2", "--restarts", "1", "--device", "cpu"]
    with pytest.warns(ConversionWarning) as caught:
        assert main([*argv, "--no-progress", "--out", str(tmp_path / "a")]) == 0
    notes = json.loads((tmp_path / "a" / "summary.json").read_text())["input_conversions"]
    assert len(notes) == 1 and "1 coloured pixels" in notes[0], notes
    assert len([w for w in caught if w.category is ConversionWarning]) == 1


@pytest.mark.parametrize("blend", ["biharmonic:0.6", "false"])
def test_the_methods_blend_flag_picks_the_blend_of_blended_png(blend, tmp_path, checkpoints):
    """--yeh-blend biharmonic:0.6: blended.png is the biharmonic blend of raw.png's completion
    (known pixels kept; summary.json records it); false: no blend, blended.png is raw.png."""
    gen, disc = checkpoints
    arr = digit_png(tmp_path / "in.png")
    out = tmp_path / "out"
    argv = ["inpaint", "--generator", str(gen), "--discriminator", str(disc)]
    argv += ["--image", str(tmp_path / "in.png"), "--mask", "random:0.5", "--out", str(out)]
    argv += ["--steps", "3", "--restarts", "1", "--device", "cpu", "--no-progress"]
    assert main([*argv, "--yeh-blend", blend]) == 0
    blended = np.asarray(Image.open(out / "000_blended.png"))
    raw = np.asarray(Image.open(out / "000_raw.png"))
    known = np.asarray(Image.open(out / "000_masked.png")) != 128
    summary = json.loads((out / "summary.json").read_text())
    if blend == "false":
        assert np.array_equal(blended, raw) and summary["blend"] is False
    else:
        assert np.array_equal(blended[known], arr[known]) and not np.array_equal(blended, raw)
        assert summary["blend"] == "biharmonic:0.6"


def test_a_bad_blend_is_refused_by_its_flag(tmp_path, capsys, checkpoints):
    gen, _ = checkpoints
    digit_png(tmp_path / "in.png")
    argv = ["inpaint", "--generator", str(gen), "--image", str(tmp_path / "in.png")]
    argv += ["--method", "iagan", "--iagan-blend", "biharmonic:2", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--iagan-blend" in err and "its α must be <= 1, got 2; α is the share" in err, err
    assert not (tmp_path / "o").exists()


def test_the_summary_gives_improved_only_where_the_result_has_it(tmp_path):
    """helper-66: iagan's summary.json held "improved": null beside "status": ["not_improved"]
    (iagan's result had no such field; it has since helper-68: its fine-tuning's)."""
    import json

    from ganinverse.cli import main

    head = ["inpaint", "--dataset", "digits", "--n", "1", "--steps", "2", "--restarts", "1"]
    for method in ("iagan", "csgm"):
        out = tmp_path / method
        assert main([*head, "--method", method, "--no-progress", "--out", str(out)]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert len(summary["status"]) == 1
        assert isinstance(summary["improved"], list) and len(summary["improved"]) == 1, summary


def test_the_summary_nests_the_options_as_reconstructs_without_those_idle_here(
    tmp_path, checkpoints
):
    """User trial: inpaint's summary.json kept the method's options at its top level (under
    ``options`` in reconstruct's) and recorded iagan's discrepancy, idle without noise (it
    compares the misfit with τσ²); reconstruct recorded its blend with a Gaussian operator."""
    gen, _ = checkpoints
    fast = ["--steps", "2", "--restarts", "1", "--iagan-steps", "2", "--no-progress"]
    out = tmp_path / "i"
    argv = ["inpaint", "--dataset", "digits", "--n", "1", "--method", "iagan"]
    assert main([*argv, "--generator", str(gen), *fast, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    options = summary["options"]
    assert options["adapt_steps"] == 2 and options["config"]["steps"] == 2
    assert "discrepancy" not in options and "blend" not in options  # (blend: the top level's)
    assert summary["blend"] is True and "config" not in summary  # (true: Poisson, the default)
    assert not {"adapt_steps", "lr_theta", "back_projection"} & set(summary)
    from ganinverse.data import default_split  # (helper-83: the images' source unrecorded)

    assert (summary["dataset"], summary["split"]) == ("digits", default_split("digits"))
    # reconstruct with a mask and noise: both act, both recorded
    rec = ["reconstruct", "--dataset", "digits", "--method", "iagan", "--operator", "inpainting"]
    rec += ["--mask", "center", "--noise-std", "0.1", "--generator", str(gen), *fast]
    assert main([*rec, "--out", str(tmp_path / "r")]) == 0
    options = json.loads((tmp_path / "r" / "summary.json").read_text())["options"]
    assert options["discrepancy"] == 1.0 and options["blend"] is False


@pytest.mark.parametrize("blend", ["true", "biharmonic", "poisson:0.5", None])
def test_iagans_blend_and_averaged_gaussian_run_together_in_inpaint(blend, tmp_path, checkpoints):
    """User trial: `inpaint --method iagan --iagan-gaussian-weight 0.3 --iagan-blend true` was
    refused ("the Gaussian's x̂ would be averaged in after the blend"), though inpaint blends
    the raw completion itself, after the solver (without the flag it already did: Poisson).
    Every blend spelling runs: the average in raw.png, the blend into the known pixels after."""
    gen, _ = checkpoints
    out = tmp_path / "out"
    argv = ["inpaint", "--dataset", "digits", "--n", "1", "--method", "iagan"]
    argv += ["--generator", str(gen), "--mask", "random:0.8", "--out", str(out)]
    argv += ["--iagan-gaussian-weight", "0.3", "--iagan-gaussian-n-samples", "50"]
    argv += ["--steps", "2", "--restarts", "1", "--iagan-steps", "2", "--no-progress"]
    assert main([*argv, *(["--iagan-blend", blend] if blend else [])]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["options"]["gaussian_weight"] == 0.3
    spelled = {"true": True, "biharmonic": "biharmonic:0.5", "poisson:0.5": "poisson:0.5"}
    assert summary["blend"] == spelled.get(blend, True)
    blended = np.asarray(Image.open(out / "000_blended.png"))
    original = np.asarray(Image.open(out / "000_masked.png"))
    known = original != 128
    assert np.array_equal(blended[known], original[known])  # (the blend after the average)
    assert not np.array_equal(blended, np.asarray(Image.open(out / "000_raw.png")))


@pytest.mark.parametrize("command", ["reconstruct", "sweep"])
def test_where_the_solver_blends_the_pair_is_refused_by_its_flags(command, tmp_path, capsys):
    """reconstruct (--operator inpainting) and sweep blend inside iagan, before the average: the
    pair stays refused, its message in the flags' words, not "gaussian_weight=0.3 with
    blend=True"."""
    argv = [command, "--dataset", "digits", "--operator", "inpainting", "--mask", "center"]
    argv += ["--iagan-gaussian-weight", "0.3", "--iagan-blend", "poisson:0.5"]
    argv += ["--method" if command == "reconstruct" else "--methods", "iagan"]
    assert main([*argv, "--no-progress", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    said = "an averaged Gaussian (--iagan-gaussian-weight 0.3) with a blend (--iagan-blend "
    assert said + "poisson:0.5): the Gaussian's x̂ would be averaged in after the blend" in err
    assert "gaussian_weight=" not in err and "blend=" not in err, err
    assert not (tmp_path / "o").exists()
