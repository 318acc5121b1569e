import json
import subprocess
import sys

from ganinverse.models import load_generator
from pretrain.cli import main


def test_help_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "pretrain", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "--loss" in proc.stdout and "--resume" in proc.stdout


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
