import json
import os
import re

import pytest
import torch

from ganinverse.models import load_generator
from pretrain.cli import main
from pretrain.trainer import TrainConfig, train


def test_help_runs(monkeypatch, capsys):
    """``python -m pretrain --help`` (its ``__main__`` run as ``-m`` runs it, in this process)."""
    import runpy

    monkeypatch.setattr("sys.argv", ["ganinverse-pretrain", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("pretrain", run_name="__main__", alter_sys=True)
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "--loss" in out and "--resume" in out


def test_tiny_end_to_end_run_on_digits_and_resume(tmp_path, capsys):
    args = [
        "--dataset",
        "digits",
        "--n-train",
        "64",
        "--latent-dim",
        "4",
        "--ngf",
        "4",
        "--ndf",
        "4",
        "--batch-size",
        "16",
        "--steps",
        "2",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    G = load_generator(tmp_path, device="cpu")
    assert G.image_shape == (1, 28, 28)
    # resume takes the saved config; only --steps is given
    assert main(["--out", str(tmp_path), "--resume", "--steps", "3", "--no-progress"]) == 0
    assert json.loads((tmp_path / "checkpoint.json").read_text())["config"]["ngf"] == 4
    assert json.loads((tmp_path / "generator.json").read_text())["steps"] == 3


def test_bad_option_is_a_clean_error(tmp_path, capsys):
    assert main(["--loss", "hinge", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "loss must be one of" in capsys.readouterr().err


# ----------------------------------------------------------------------------- validation
TINY = ["--dataset", "digits", "--n-train", "64", "--latent-dim", "4", "--ngf", "4",
        "--ndf", "4", "--batch-size", "16", "--steps", "2", "--device", "cpu", "--no-progress"]  # fmt: skip

BAD = {
    "lr nan": (["--lr", "nan"], "lr must be a finite number"),
    "lr inf": (["--lr", "inf"], "lr must be a finite number"),
    "lr negative": (["--lr=-1e-4"], "lr must be > 0"),
    "lr-d nan": (["--lr-d", "nan"], "lr_d must be a finite"),
    "lr beyond 1e6": (["--lr", "3e38"], r"lr must be <= 1e\+06, got 3e\+38; a learning rate"),
    "lr-d beyond 1e6": (["--lr-d", "2e6"], r"lr_d must be <= 1e\+06"),
    "beta nan": (["--betas", "0.5", "nan"], r"betas\[1\] must be a finite"),
    "beta one": (["--betas", "1.0", "0.9"], r"betas\[0\] must be < 1"),
    "clip nan": (["--loss", "wgan", "--clip", "nan"], "clip must be a finite"),
    "clip zero": (["--loss", "wgan", "--clip", "0"], "clip must be > 0"),
    "gp-lambda inf": (["--loss", "wgan-gp", "--gp-lambda", "inf"], "gp_lambda must be a finite"),
    "gp-lambda negative": (["--loss", "wgan-gp", "--gp-lambda", "-1"], "gp_lambda must be >= 0"),
    "gp-lambda beyond 1e6": (["--loss", "wgan-gp", "--gp-lambda", "3e38"], "gp_lambda must be <="),
    "ema-decay nan": (["--ema-decay", "nan"], "ema_decay must be a finite"),
    "ema-decay one": (["--ema-decay", "1"], "ema_decay must be < 1"),
    "steps": (["--steps", "-1"], "steps must be >= 0"),
    "steps zero, new run": (["--steps", "0"], r"steps \(--steps\) = 0 trains nothing"),
    "batch-size": (["--batch-size", "0"], "batch_size must be >= 1"),
    "seed": (["--seed", "-3"], "seed must be >= 0"),
    "n-train zero": (["--n-train", "0"], "n_train must be >= 1"),
    "n-train beyond the split": (
        ["--n-train", "100000"],
        r"n_train \(--n-train\) = 100000 exceeds the 1500 training images of .digits.",
    ),
    "data root for digits": (["--data-root", "/tmp"], "does not apply to .digits."),
    "batch beyond the data": (["--batch-size", "128", "--n-train", "64"], "exceeds the 64"),
    "dcgan image size": (["--image-size", "30"], "image_size must be one of"),
    "hidden": (["--arch", "mlp", "--hidden", "0"], "hidden must be >= 1"),
    "vae with dcgan": (["--loss", "vae"], "arch='mlp'"),
    "wgan-gp with batch norm": (["--loss", "wgan-gp", "--d-norm", "batch"], "d_norm"),
    "unknown loss": (["--loss", "hinge"], "loss must be one of"),
    "unknown augment": (
        ["--augment", "flip"],
        r"augment must be one of 'none', 'hflip'; got 'flip'",
    ),
    # helper-71: an empty name ran the loss's default
    "empty optimizer": (
        ["--optimizer", ""],
        r"--optimizer: optimizer is empty \(''\): pass one of 'adam'",
    ),
    "empty d-norm": (["--d-norm", ""], r"--d-norm: d_norm is empty \(''\): pass one of 'batch'"),
    "unknown dataset": (["--dataset", "nosuch"], r"--dataset: dataset must be one of"),
    "missing data root": (
        ["--dataset", "mnist"],
        r"root \(the data folder; CLI --data-root\) is required",
    ),
    "amp on cpu": (["--amp"], r"amp \(--amp\) is a CUDA-only option"),
    "compile on cpu": (["--compile"], r"compile \(--compile\) is a CUDA-only option"),
    "resume without a checkpoint": (["--resume"], "--resume but .* holds no training checkpoint"),
    "threads": (["--threads", "0"], "threads must be >= 1"),
    "bad device": (["--device", "tpu:x"], "device must be"),
    # networks and budgets beyond any machine (helper-38: allocation tracebacks, the OOM killer)
    "ngf beyond memory": (["--ngf", "100000"], r"\(ngf=100000, .*weights: training needs"),
    "latent beyond memory": (["--latent-dim", "100000000"], r"latent_dim=100000000.*GiB"),
    "steps beyond budget": (["--steps", "1000000000"], "steps must be <= 100,000,000"),
    "n-critic beyond budget": (["--n-critic", "1000"], "n_critic must be <= 100, got 1,000"),
    # helper-38: a clip beyond any weight clips nothing
    "clip beyond weights": (
        ["--loss", "wgan", "--clip", "1e9"],
        r"--clip: clip must be <= 10, got 1e\+09; .*clip nothing",
    ),
}


def _tiny(*extra: str) -> list[str]:
    """TINY without the flags ``extra`` sets, then ``extra`` (a flag given twice is refused)."""
    given = {token.partition("=")[0] for token in extra if token.startswith("--")}
    kept, i = [], 0
    while i < len(TINY):
        has_value = i + 1 < len(TINY) and not TINY[i + 1].startswith("--")
        if TINY[i] not in given:
            kept += TINY[i : i + 1 + has_value]
        i += 1 + has_value
    return [*kept, *extra]


@pytest.mark.parametrize("extra,match", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, extra, match):
    out = tmp_path / "run"
    assert main([*_tiny(*extra), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganinverse-pretrain: error: ") and err.count("\n") == 1, err
    assert re.search(match, err), err
    assert not out.exists()


def test_out_that_cannot_be_a_folder_is_refused_before_any_work(tmp_path, capsys):
    afile = tmp_path / "taken.txt"
    afile.write_text("keep me")
    for out, match in [(afile, "existing file"), (afile / "run", "which is a file")]:
        assert main([*TINY, "--out", str(out)]) == 2
        assert match in capsys.readouterr().err
    assert afile.read_text() == "keep me" and sorted(os.listdir(tmp_path)) == ["taken.txt"]
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main([*TINY, "--out", str(locked / "run")]) == 2
        assert "not writable" in capsys.readouterr().err


def test_the_device_is_resolved_before_anything_is_written(tmp_path, capsys, monkeypatch):
    import pretrain.trainer

    def no_gpu(device):
        raise ValueError(f"device {device!r} asks for CUDA but torch sees no GPU; use --device cpu")

    monkeypatch.setattr(pretrain.trainer, "resolve_device", no_gpu)
    assert main([*_tiny("--device", "cuda"), "--out", str(tmp_path / "run")]) == 2
    assert "no GPU" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    from ganinverse.device import resolve_device

    try:
        resolve_device("cuda")
    except ValueError:
        pass
    else:
        pytest.skip("ganinverse.device.resolve_device does not refuse CUDA without a GPU yet")
    assert main([*_tiny("--device", "cuda"), "--out", str(tmp_path / "run")]) == 2
    assert "cuda" in capsys.readouterr().err.lower() and not (tmp_path / "run").exists()


def test_resume_needs_a_checkpoint_and_a_fresh_run_needs_none(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out), "--resume"]) == 2
    assert "checkpoint" in capsys.readouterr().err and not out.exists()
    with pytest.raises(ValueError, match="no training checkpoint"):
        train(TrainConfig(out=str(out), device="cpu", progress=False), resume=True)
    assert not out.exists()
    assert main([*TINY, "--out", str(out)]) == 0
    before = (out / "checkpoint.safetensors").read_bytes()
    assert main([*TINY, "--out", str(out)]) == 2  # would overwrite the run
    assert "--resume" in capsys.readouterr().err
    assert (out / "checkpoint.safetensors").read_bytes() == before


def test_a_torn_checkpoint_without_a_kept_one_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out)]) == 0
    info = json.loads((out / "checkpoint.json").read_text())
    info["pair_token"] = "from another save"
    (out / "checkpoint.json").write_text(json.dumps(info))
    assert main(["--out", str(out), "--resume", "--steps", "3", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "not one pair" in err and "backup" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "data,match",
    [
        (torch.rand(32, 1, 28, 28) * 255, r"data must lie in \[-1.0, 1.0\]"),
        (torch.rand(32, 28, 28), "data must have 4 dimensions"),
        (torch.full((32, 1, 28, 28), float("nan")), "NaN"),
        (torch.rand(32, 1, 20, 20), "arch='dcgan' needs square images"),
    ],
    ids=["0-255", "no channel axis", "nan", "20 px for dcgan"],
)
def test_bad_training_data_is_refused_before_writing(tmp_path, data, match):
    cfg = TrainConfig(out=str(tmp_path / "run"), device="cpu", progress=False, batch_size=16)
    with pytest.raises(ValueError, match=match):
        train(cfg, data)
    assert not (tmp_path / "run").exists()


def test_an_out_holding_another_commands_result_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "sweep-run"
    out.mkdir()
    (out / "rows.csv").write_text("keep")
    assert main([*TINY, "--out", str(out)]) == 2
    assert "holds other files (rows.csv) and no training checkpoint" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["rows.csv"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--hidden", "100000000"], r"hidden=\[100000000\].*GiB.*lower the sizes"),
        (["--loss", "vae", "--hidden", "100000000"], r"mlp generator and its encoder"),
    ],
)
def test_an_mlp_beyond_memory_is_refused_before_any_weight(tmp_path, capsys, extra, match):
    """helper-38: --hidden 1e8 ended in an allocation traceback or the OOM killer."""
    out = tmp_path / "run"
    head = ["--dataset", "digits", "--n-train", "64", "--arch", "mlp", "--steps", "2"]
    assert main([*head, "--device", "cpu", *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganinverse-pretrain: error: ") and err.count("\n") == 1, err
    assert re.search(match, err), err
    assert not out.exists()


def _png_folder(root, sizes, seed=0):
    """``root`` with one random grey PNG per entry of ``sizes`` (its side), named 0.png, ...;
    returns the numpy generator, for images drawn later."""
    import numpy as np
    from PIL import Image

    root.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, side in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).save(root / f"{i}.png")
    return rng


def test_resume_on_a_folder_whose_images_changed_is_refused(tmp_path, capsys):
    """(issue 14, S3) --dataset folder: a replaced or deleted image stops --resume with one line,
    exit 2, nothing written; the same images under a moved folder (--data-root) resume."""
    import shutil

    import numpy as np
    from PIL import Image

    root = tmp_path / "faces"
    rng = _png_folder(root, [28] * 20)
    out = tmp_path / "run"
    tiny = ["--latent-dim", "4", "--ngf", "4", "--ndf", "4", "--batch-size", "8"]
    common = ["--device", "cpu", "--no-progress", "--out", str(out)]
    first = ["--dataset", "folder", "--data-root", str(root), "--steps", "1", *tiny, *common]
    assert main(first) == 0
    saved = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    moved = shutil.copytree(root, tmp_path / "moved")  # the trained images, elsewhere
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(root / "3.png")
    resume = ["--resume", "--steps", "2", *common]
    capsys.readouterr()
    assert main([*resume, "--data-root", str(root)]) == 2  # one image replaced
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "on other training images" in err and "Restore" in err
    (root / "3.png").unlink()
    assert main([*resume, "--data-root", str(root)]) == 2  # one image deleted
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == saved
    assert main([*resume, "--data-root", str(moved)]) == 0  # moved, unchanged: resumes
    assert json.loads((out / "checkpoint.json").read_text())["step"] == 2


def test_a_folder_of_mixed_sizes_names_the_flag_that_resizes(tmp_path, capsys):
    """(issue 14, U4) the message names --image-size, the flag pretrain has; with it, it trains."""
    _png_folder(tmp_path, [28, 28, 32, 28])
    out = tmp_path / "run"
    args = [
        "--dataset",
        "folder",
        "--data-root",
        str(tmp_path),
        "--steps",
        "1",
        "--batch-size",
        "2",
    ]
    args += ["--latent-dim", "4", "--ngf", "4", "--ndf", "4", "--device", "cpu", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "differ in size" in err and "--image-size" in err and not out.exists()
    assert main([*args, "--out", str(out), "--image-size", "28"]) == 0


def test_resume_with_another_dataset_names_the_dataset(tmp_path, capsys):
    """helper-47: --resume --dataset digits on a folder run blamed the saved --data-root (which
    the user never passed); the conflict is the dataset, named as for any other setting."""
    root = tmp_path / "imgs"
    _png_folder(root, [28] * 8)
    out = tmp_path / "run"
    common = ["--device", "cpu", "--no-progress", "--out", str(out)]
    tiny = ["--latent-dim", "4", "--ngf", "4", "--ndf", "4", "--batch-size", "4"]
    assert (
        main(["--dataset", "folder", "--data-root", str(root), "--steps", "1", *tiny, *common]) == 0
    )
    capsys.readouterr()
    assert main(["--resume", "--dataset", "digits", "--steps", "2", *common]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "different dataset" in err and "data-root" not in err, err
    # (helper-70: the flag and both values, not the field and the saved one alone)
    assert "--dataset: the checkpoint has 'folder', this run asks 'digits'" in err, err


def test_a_folder_with_a_transparent_image_is_refused_before_any_work(tmp_path, capsys):
    """helper-49: alpha was dropped in silence; pretrain refuses the folder before --out."""
    import numpy as np
    from PIL import Image

    rng = _png_folder(tmp_path, [28, 28, 28])
    rgba = np.concatenate(
        [rng.integers(0, 256, (28, 28, 1), dtype=np.uint8), np.zeros((28, 28, 1), np.uint8)], 2
    )
    Image.fromarray(rgba, "LA").save(tmp_path / "3.png")
    out = tmp_path / "run"
    args = ["--dataset", "folder", "--data-root", str(tmp_path), "--steps", "1"]
    args += ["--batch-size", "2", "--latent-dim", "4", "--ngf", "4", "--ndf", "4"]
    assert main([*args, "--device", "cpu", "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "3.png has transparent pixels (100.0%" in err and not out.exists(), err


def test_an_image_size_the_gan_discriminator_cannot_take_names_the_flag(tmp_path, capsys):
    """helper-53: --arch mlp --image-size 16 with a GAN loss failed inside the DCGAN
    discriminator ("image_shape must be (C, S, S) ..."), naming no flag."""
    out = tmp_path / "run"
    args = ["--dataset", "digits", "--arch", "mlp", "--hidden", "8", "--latent-dim", "4"]
    args += ["--image-size", "16", "--steps", "1", "--device", "cpu", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--image-size" in err and "loss='gan'" in err and "DCGAN discriminator" in err, err
    assert not out.exists()
    assert main([*args, "--loss", "vae", "--out", str(out)]) == 0  # no discriminator: fine


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--augment", "flip"], r"--augment: augment must be one of 'none', 'hflip'; got 'flip'"),
        (["--loss", "GAN"], r"--loss: loss must be one of .*got 'GAN'; did you mean 'gan'"),
    ],
)
def test_a_resume_with_a_value_no_run_takes_names_the_value_not_a_change(
    tmp_path, capsys, flags, match
):
    """helper-71: '--resume --augment flip' was told 'cannot resume ... with a different
    augment' rather than that no run takes 'flip'."""
    out = tmp_path / "run"
    assert main([*_tiny(), "--out", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main([*_tiny("--steps", "3", *flags), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err) and "cannot resume" not in err, err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_threads_beyond_the_cores_warns(tmp_path, capsys, monkeypatch):
    """helper-71: --threads 1000 on 2 cores was taken silently (and ran slowly)."""
    import pretrain.cli

    monkeypatch.setattr(pretrain.cli.os, "cpu_count", lambda: 2)
    # (not set for real: the threads would outlive the test and change later runs' floats)
    monkeypatch.setattr(pretrain.cli.torch, "set_num_threads", lambda n: None)
    with pytest.warns(UserWarning, match=r"--threads 3 is more than this machine's 2 CPU cores"):
        assert main([*_tiny("--threads", "3"), "--out", str(tmp_path / "run")]) == 0


def test_a_flag_of_two_values_given_one_shows_its_usage(tmp_path, capsys):
    """helper-71: '--betas 0.5' said argparse's 'expected 2 arguments' and no fix."""
    with pytest.raises(SystemExit) as exit_info:  # (argparse's own error exits)
        main(["--dataset", "digits", "--betas", "0.5", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "--betas: expected 2 arguments: pass --betas BETA1 BETA2" in err, err
    assert not (tmp_path / "o").exists()


def test_a_batch_above_the_training_images_names_both_fixes(tmp_path, capsys):
    common = ["--dataset", "digits", "--steps", "1", "--device", "cpu", "--no-progress"]
    out = tmp_path / "o"
    assert main([*common, "--n-train", "5", "--batch-size", "16", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "batch_size=16 exceeds the 5 training images: pass a batch_size of at most 5" in err
    assert "or train on 16 images or more" in err and not out.exists(), err
