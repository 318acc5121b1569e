"""The inpainting benchmark runner: a row depends on its image, not on the batch it ran in."""

import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runner(load_script):
    return load_script("inpainting")


def _rows(out: Path) -> dict[tuple[str, str, int], dict]:
    with (out / "rows.csv").open() as f:
        return {(r["mask"], r["method"], int(r["image"])): r for r in csv.DictReader(f)}


# TV with 20-50 iterations stops on its cap: the warning is expected at these tiny sizes
@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
def test_an_image_alone_gives_its_row_of_a_larger_run(runner, tmp_path):
    common = [
        "--generator", "digits", "--dataset", "digits", "--data-root", "", "--train-n", "20",
        "--masks", "random:0.5,center", "--steps", "200", "--restarts", "2", "--tv-iters", "50",
        "--grid-n", "2", "--cache", str(tmp_path / "cache"),
    ]  # fmt: skip
    runner.main([*common, "--n", "3", "--start", "0", "--out", str(tmp_path / "batch")])
    runner.main([*common, "--n", "1", "--start", "1", "--out", str(tmp_path / "alone"),
                 "--cache", str(tmp_path / "cache-alone")])  # fmt: skip
    batch, alone = _rows(tmp_path / "batch"), _rows(tmp_path / "alone")
    assert {key[2] for key in alone} == {1}  # rows carry the dataset index
    for (mask, method, image), row in alone.items():
        other = batch[(mask, method, image)]
        assert row["missing"] == other["missing"]  # the same random mask for image 1
        assert abs(float(row["psnr"]) - float(other["psnr"])) < 0.01, (mask, method)


@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")
def test_a_rerun_of_the_same_command_resumes(runner, tmp_path):
    args = [
        "--generator", "digits", "--dataset", "digits", "--data-root", "", "--train-n", "20",
        "--masks", "center", "--steps", "5", "--restarts", "1", "--tv-iters", "20", "--n", "2",
        "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "cache"),
    ]  # fmt: skip
    runner.main(args)
    # the saved protocol (read back from JSON) is the same protocol; hiding the bars is no
    # part of it
    runner.main([*args, "--no-progress"])
    assert len(_rows(tmp_path / "run")) == 2 * len(runner.METHODS)
