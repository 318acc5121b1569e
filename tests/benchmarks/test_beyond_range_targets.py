"""benchmarks/beyond_range_targets.py: methods are chosen on validation MSE (never on test rows),
rows of several folders pair by image, and the GAN − Lasso difference is the paired one."""

import csv
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ["image", "m", "method", "mse", "psnr", "ssim", "meas_error", "seconds", "operator",
          "setting"]  # fmt: skip


@pytest.fixture(scope="module")
def targets(load_script):
    return load_script("beyond_range_targets")


def _folder(path: Path, rows: list[tuple], weights: dict) -> Path:
    path.mkdir()
    with (path / "rows.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for image, m, method, psnr, seconds in rows:
            w.writerow({"image": image, "m": m, "method": method, "mse": 0.01, "psnr": psnr,
                        "ssim": 0.5, "meas_error": 0.1, "seconds": seconds,
                        "operator": "gaussian", "setting": m})  # fmt: skip
    (path / "weights.json").write_text(json.dumps(weights))
    return path


def test_choice_on_validation_and_paired_difference(targets, tmp_path, capsys):
    # iagan is better on the test rows but worse on validation: csgm-sparse must be chosen
    a = _folder(
        tmp_path / "a",
        [(i, 100, "iagan", 30.0, 2.0) for i in range(3)]
        + [(i, 100, "csgm-sparse", 20.0 + i, 1.0) for i in range(3)]
        + [(i, 100, "csgm", 19.0, 1.0) for i in range(3)],
        {"iagan@100": {"validation_mse": [[30, 0.02], [100, 0.03]]},
         "csgm-sparse@100": {"validation_mse": [[0.1, 0.01]]}},
    )  # fmt: skip
    b = _folder(
        tmp_path / "b",
        [(i, 100, "lasso-dct", 18.0 + 2 * i, 0.5) for i in range(3)],
        {"lasso-dct@100": {"validation_mse": [[1.0, 0.05]]}},
    )
    psnr, seconds, validation = targets.load([a, b])
    assert targets.choose(targets.GAN_PRIOR, 100, psnr, validation) == ("csgm-sparse", 0.01)
    assert targets.choose(targets.LASSO, 100, psnr, validation) == ("lasso-dct", 0.05)
    mean, ci, higher, n = targets.paired(psnr[("csgm-sparse", 100)], psnr[("lasso-dct", 100)])
    assert (mean, higher, n) == (pytest.approx(1.0), 2, 3)  # diffs 2, 1, 0
    cost = tmp_path / "cost.csv"  # (benchmarks/iagan_cost.py's rows: the side-by-side timing)
    cost.write_text(
        "m,n,adapt_steps,csgm_s_per_image,iagan_s_per_image,ratio,finetune_steps_mean,"
        "csgm_psnr,iagan_psnr,threads,when,iagan_options\n"
        '100,4,30,10.0,13.0,1.3,20.0,19.0,21.0,1,2026-12-04 18:00,"{""tv_weight"": 0.3}"\n'
    )
    targets.main([str(a), str(b), "--cost", str(cost)])
    out = capsys.readouterr().out
    assert "| 100 | csgm-sparse (0.01) | lasso-dct (0.05) | +1.00 ±" in out
    # the cost target is read from the side-by-side timing; the sweep's seconds are told apart
    assert "m = 100: iagan {'tv_weight': 0.3} / csgm seconds per image 1.30, side by side" in out
    assert "iagan / csgm sweep timing 2.00 (the sweeps' seconds" in out


def test_a_missing_folder_is_a_clear_error(targets, tmp_path):
    with pytest.raises(ValueError, match="is not a sweep folder"):
        targets.main([str(tmp_path / "nope")])


def test_a_suffixed_folder_is_a_candidate_of_its_own(targets, tmp_path):
    """``FOLDER:bp`` renames its methods (iagan -> iagan+bp) so two iagan variants compete on
    validation instead of one hiding the other's rows."""
    a = _folder(tmp_path / "a", [(i, 10, "iagan", 20.0, 1.0) for i in range(2)],
                {"iagan@10": {"validation_mse": [[30, 0.02]]}})  # fmt: skip
    b = _folder(tmp_path / "b", [(i, 10, "iagan", 25.0, 1.0) for i in range(2)],
                {"iagan@10": {"validation_mse": [[30, 0.01]]}})  # fmt: skip
    psnr, _, validation = targets.load([a, f"{b}:bp"])
    assert psnr[("iagan", 10)] == {0: 20.0, 1: 20.0} and psnr[("iagan+bp", 10)][0] == 25.0
    assert targets.choose(targets.GAN_PRIOR, 10, psnr, validation) == ("iagan+bp", 0.01)


def test_a_suffix_renames_only_the_methods_whose_options_the_sweep_set(targets, tmp_path):
    """faces_tv:tv ran csgm (iagan's start, default options) beside iagan with tv_weight set:
    only iagan becomes iagan+tv; its csgm rows are csgm's (the first folder's kept)."""
    a = _folder(tmp_path / "a", [(i, 10, "csgm", 20.0, 1.0) for i in range(2)], {})
    b = _folder(
        tmp_path / "b",
        [(i, 10, "csgm", 20.1, 1.0) for i in range(3)]
        + [(i, 10, "iagan", 25.0, 1.0) for i in range(3)],
        {"iagan@10": {"validation_mse": [[30, 0.01]]}},
    )
    (b / "sweep.json").write_text(json.dumps({"options": {"iagan": {"tv_weight": 0.3}}}))
    psnr, _, validation = targets.load([a, f"{b}:tv"])
    assert ("csgm+tv", 10) not in psnr and psnr[("csgm", 10)] == {0: 20.0, 1: 20.0, 2: 20.1}
    assert psnr[("iagan+tv", 10)][0] == 25.0 and validation == {"iagan+tv@10": 0.01}


def test_a_folder_of_another_generator_renames_every_method(targets, tmp_path):
    """faces_lsgan_tv:lsgan-tv ran csgm and iagan (tv_weight set) with another generator than
    the first folder's: its csgm is another csgm too (csgm+lsgan-tv), not the first folder's."""
    a = _folder(tmp_path / "a", [(i, 10, "csgm", 20.0, 1.0) for i in range(2)], {})
    (a / "sweep.json").write_text(json.dumps({"generator": "g1"}))
    b = _folder(
        tmp_path / "b",
        [(i, 10, "csgm", 21.0, 1.0) for i in range(2)]
        + [(i, 10, "iagan", 25.0, 1.0) for i in range(2)],
        {"iagan@10": {"validation_mse": [[30, 0.01]]}},
    )
    spec = {"generator": "g2", "options": {"iagan": {"tv_weight": 0.3}}}
    (b / "sweep.json").write_text(json.dumps(spec))
    psnr, _, validation = targets.load([a, f"{b}:x"])
    assert psnr[("csgm", 10)] == {0: 20.0, 1: 20.0} and psnr[("csgm+x", 10)][0] == 21.0
    assert psnr[("iagan+x", 10)][0] == 25.0 and validation == {"iagan+x@10": 0.01}
    spec["generator"] = "g1"  # the same generator: only the method whose options it set
    (b / "sweep.json").write_text(json.dumps(spec))
    psnr, _, _ = targets.load([a, f"{b}:x"])
    assert ("csgm+x", 10) not in psnr and ("iagan+x", 10) in psnr


def _inpainting_folder(path: Path, rows: list[tuple], weights: dict) -> Path:
    path.mkdir()
    with (path / "rows.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for image, mask, method, psnr in rows:
            w.writerow({"image": image, "m": 3000 + image, "method": method, "mse": 0.01,
                        "psnr": psnr, "ssim": 0.5, "meas_error": 0.0, "seconds": 1.0,
                        "operator": "inpainting", "setting": mask})  # fmt: skip
    (path / "weights.json").write_text(json.dumps(weights))
    return path


def test_inpainting_masks_are_judged_against_biharmonic(targets, tmp_path, capsys):
    """Inpainting rows are keyed by their mask (m differs per image there); the baseline of a
    mask is biharmonic, which has no weight to choose; yeh (no search) cannot be chosen."""
    a = _inpainting_folder(
        tmp_path / "a",
        [(i, mask, "iagan", 30.0 + i, ) for i in range(3) for mask in ("center", "grid:4")]
        + [(i, "center", "yeh", 40.0) for i in range(3)]
        + [(i, mask, "biharmonic", 29.0) for i in range(3) for mask in ("center", "grid:4")],
        {"iagan@center": {"validation_mse": [[30, 0.02]]},
         "iagan@grid:4": {"validation_mse": [[30, 0.03]]}},
    )  # fmt: skip
    psnr, _, validation = targets.load([a])
    assert set(psnr) >= {("iagan", "center"), ("biharmonic", "grid:4")}
    assert targets.choose(targets.GAN_PRIOR, "center", psnr, validation) == ("iagan", 0.02)
    assert targets.baseline("grid:4", psnr, validation)[0] == "biharmonic"
    targets.main([str(a)])
    out = capsys.readouterr().out
    assert "| center | iagan (0.02) | biharmonic (nan) | +2.00 ± " in out
    assert "| grid:4 | iagan (0.03) | biharmonic (nan) | +2.00 ± " in out


def test_plot_writes_psnr_against_m_and_against_mask(targets, tmp_path, capsys):
    a = _folder(tmp_path / "a", [(i, m, "csgm", 20.0 + i, 1.0) for i in range(2) for m in (10, 100)],
                {})  # fmt: skip
    b = _inpainting_folder(
        tmp_path / "b", [(i, "center", "biharmonic", 25.0 + i) for i in range(2)], {}
    )
    targets.main([str(a), str(b), "--plot", str(tmp_path / "psnr.png")])
    assert (tmp_path / "psnr.png").stat().st_size > 1000
    assert (tmp_path / "psnr_masks.png").stat().st_size > 1000


def test_table_gives_every_method_per_setting_with_its_images(targets, tmp_path, capsys):
    a = _folder(
        tmp_path / "a",
        [(i, 100, "csgm", 19.0 + i, 1.0) for i in range(3)]
        + [(i, 100, "iagan", 30.0, 2.0) for i in range(2)]  # one image short
        + [(i, 500, "csgm", 21.0, 4.0) for i in range(3)],
        {},
    )
    targets.main([str(a), "--table"])
    out = capsys.readouterr().out
    assert "| PSNR dB (s/image) | m = 100 | m = 500 |" in out
    assert "| csgm | 20.00 ± 2.48 (1.0 s) | 21.00 ± 0.00 (4.0 s) |" in out
    assert "| iagan | 30.00 ± 0.00 (n = 2) (2.0 s) |  |" in out


def test_folders_validated_on_other_images_are_named(targets, tmp_path, capsys):
    """A choice between folders whose validation images differ compares MSEs of different
    images (session 36: --val-start 5900 beside faces validated on train faces 0-3): said."""
    rows = [(i, 100, "iagan", 30.0, 2.0) for i in range(3)]
    a = _folder(tmp_path / "a", rows, {"iagan@100": {"validation_mse": [[30, 0.02]]}})
    b = _folder(tmp_path / "b", rows, {"iagan@100": {"validation_mse": [[30, 0.01]]}})
    for folder, images in ((a, "4:aaaa"), (b, "4:bbbb")):
        (folder / "sweep.json").write_text(json.dumps({"inputs": {"validation images": images}}))
    targets.main([str(a), f"{b}:x"])
    assert "note: the folders' validation images differ" in capsys.readouterr().out
    (b / "sweep.json").write_text(json.dumps({"inputs": {"validation images": "4:aaaa"}}))
    targets.main([str(a), f"{b}:x"])
    assert "validation images differ" not in capsys.readouterr().out
