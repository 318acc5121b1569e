import csv
import json
import warnings

import numpy as np
import pytest
import torch

from ganinverse.exceptions import IncompleteSweepWarning
from ganinverse.models import DCGANGenerator
from ganinverse.models.checkpoint import save_model
from ganinverse.sweep import (
    Sweep,
    mean_ci95,
    merge,
    parse_shard,
    read_rows,
    report,
    summarize,
)
from ganinverse.sweep.rows import FIELDS, INPUTS, OPERATOR_FIELDS, STATUS_MARK
from ganinverse.sweep.spec import N_VAL

from .conftest import ENGINE, spec


def assert_same_rows(a: list[dict], b: list[dict]) -> None:
    """Rows of the same images: GAN rows equal to float rounding; Lasso rows within the accuracy
    its stopping rule certifies (objective within 1e-4 of the minimum: x̂ is not unique to
    better than that, and FISTA's float32 batch arithmetic differs in the last bits)."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert (ra["image"], ra["m"], ra["method"]) == (rb["image"], rb["m"], rb["method"])
        tol = 1e-5 if ra["method"].startswith("csgm") else 2e-3 * float(rb["mse"])
        assert abs(float(ra["mse"]) - float(rb["mse"])) <= tol, (ra, rb)


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_sweep_writes_every_row_and_a_report(tiny_generator, tmp_path):
    out = tmp_path / "run"
    Sweep(spec(tiny_generator), out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert len(rows) == 2 * 2 * 5
    assert {(r["method"], int(r["m"])) for r in rows} == {
        (a, b) for a in ("csgm", "lasso-dct") for b in (20, 60)
    }
    assert all(float(r["mse"]) >= 0 for r in rows)
    text = report(out, title="t")
    assert "lasso-dct" in text and (out / "error_vs_m.png").stat().st_size > 1000
    assert not (out / "searching").exists()  # no leftover folder of search marks
    assert (out / "grid_m20.png").is_file() and (out / "summary.csv").is_file()
    assert (out / "weights.json").is_file()


def test_resume_skips_finished_units_and_repairs_a_torn_line(tiny_generator, tmp_path):
    out = tmp_path / "run"
    sweep = Sweep(spec(tiny_generator, methods=("lasso-dct",)), out)
    sweep.run(progress=False)
    path = out / "rows.csv"
    first = path.read_text()
    lines = first.splitlines(keepends=True)
    # simulate a kill: the last unit (one image) lost and half a row written
    path.write_text("".join(lines[:-1]) + lines[-1][:7])
    assert len(sweep.done_units()) == len(sweep.spec.units()) - 1
    Sweep(spec(tiny_generator, methods=("lasso-dct",)), out).run(progress=False)
    again = list(csv.DictReader(path.read_text().splitlines()))
    before = list(csv.DictReader(first.splitlines()))
    # same rows (timings aside), the torn line gone, nothing duplicated
    assert without_seconds(again) == without_seconds(before)


@pytest.mark.parametrize(
    "left", ["", "image,m,meth", "image,m,method,mse,psnr,ssim,meas_error,seconds,operator,setting"]
)
def test_a_kill_before_the_first_row_leaves_a_folder_that_resumes(tiny_generator, tmp_path, left):
    """A kill right after the rows file was created (empty, or its header torn) loses nothing
    but the unit in flight: the rerun writes the header and every row, same as a straight run."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    small = dict(methods=("lasso-dct",), x_values=(20,), n_images=3)  # two units of one m
    Sweep(spec(tiny_generator, **small), straight).run(progress=False)
    sweep = Sweep(spec(tiny_generator, **small), killed)
    sweep.run(progress=False)
    (killed / "rows.csv").write_text(left)
    Sweep(spec(tiny_generator, **small), killed).run(progress=False)
    assert (killed / "rows.csv").read_text().startswith(",".join(FIELDS) + "\n")
    assert_same_rows(merge(killed), merge(straight))


def test_shards_merge_to_the_single_process_result(tiny_generator, tmp_path):
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    Sweep(spec(tiny_generator), single).run(progress=False)
    for k in range(2):
        Sweep(spec(tiny_generator), sharded).run((k, 2), progress=False)
    assert without_seconds(merge(single)) == without_seconds(merge(sharded))


def test_a_merge_before_every_shard_ran_warns_and_says_so(tiny_generator, tmp_path):
    out = tmp_path / "sharded"
    Sweep(spec(tiny_generator), out).run((0, 2), progress=False)
    with pytest.warns(
        IncompleteSweepWarning,
        match=r"rows of this sweep are missing \(no rows file of shard 1/2\)",
    ):
        text = report(out)
    # (at the top, beside a Flagged line: 5 steps of the untrained tiny G barely move csgm's loss)
    top = text.split("\n\n")[:2]
    assert any(t.startswith("**Incomplete:**") for t in top), text[:300]
    assert "Incomplete" in (out / "summary.md").read_text()
    Sweep(spec(tiny_generator), out).run((1, 2), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompleteSweepWarning)
        assert "Incomplete" not in report(out)


def test_weights_are_chosen_per_m_on_validation_images_and_recorded(tiny_generator, tmp_path):
    engines = ({"lambda_z": 0.0}, {"lambda_z": 100.0, "steps": 3})
    grids = {"engine_grid": engines, "sparse_l1_grid": (1e-2, 1.0)}
    s = spec(tiny_generator, methods=("csgm", "csgm-sparse", "lasso-dct"), n_images=2, **grids)
    out = tmp_path / "run"
    Sweep(s, out).run(progress=False)
    table = json.loads((out / "weights.json").read_text())
    assert set(table) == {f"{a}@{m}" for a in s.methods for m in s.x_values}
    for key, entry in table.items():
        method = key.split("@")[0]
        want = {"csgm": "engine", "csgm-sparse": "sparse_l1", "lasso-dct": "lam"}[method]
        assert entry["weight"] == want and entry["n_val"] == s.n_val
        assert entry["value"] == min(entry["validation_mse"], key=lambda v: v[1])[0]
        assert [v[0] for v in entry["validation_mse"]] == list(
            {"csgm": engines, "csgm-sparse": grids["sparse_l1_grid"]}.get(method, s.lasso_lambdas)
        )
    text = report(out)
    assert "| csgm | engine |" in text and "| csgm-sparse | sparse_l1 |" in text
    assert f"{table['lasso-dct@60']['value']:g}" in text.split("| lasso-dct | lam |")[1]
    # the chosen weights are the ones the units ran with
    sweep = Sweep(s, out)
    options = sweep.unit_options("csgm-sparse", 20)
    chosen = table["csgm@20"]["value"]
    assert options["config"].lambda_z == chosen["lambda_z"]
    assert options["config"].steps == chosen.get("steps", ENGINE["steps"])
    assert options["l1"] == table["csgm-sparse@20"]["value"]
    assert sweep.unit_options("lasso-dct", 60)["lam"] == table["lasso-dct@60"]["value"]


def test_a_sweep_json_from_before_the_weight_grids_still_resumes(tiny_generator, tmp_path):
    s = spec(tiny_generator)
    out = tmp_path / "run"
    Sweep(s, out)
    old = json.loads((out / "sweep.json").read_text())
    del old["engine_grid"], old["sparse_l1_grid"]
    (out / "sweep.json").write_text(json.dumps(old))
    Sweep(s, out)  # accepted: the missing fields hold their defaults
    with pytest.raises(ValueError, match="different sweep"):
        Sweep(spec(tiny_generator, engine_grid=({"lambda_z": 0.1},)), out)


def test_a_report_never_replaces_the_rows_file_of_a_single_process_sweep(tiny_generator, tmp_path):
    # sweep-merge while a one-process sweep still appends to rows.csv must not swap the file
    out = tmp_path / "run"
    Sweep(spec(tiny_generator, methods=("lasso-dct",)), out).run(progress=False)
    path = out / "rows.csv"
    before = (path.stat().st_ino, path.read_text())
    with path.open("a") as running:
        report(out)
        running.write("4,60,lasso-dct,1,1,1,1,1\n")
    assert path.stat().st_ino == before[0]
    assert path.read_text() == before[1] + "4,60,lasso-dct,1,1,1,1,1\n"


def test_a_different_sweep_in_the_same_folder_is_refused(tiny_generator, tmp_path):
    Sweep(spec(tiny_generator), tmp_path / "run")
    with pytest.raises(ValueError, match="different sweep"):
        Sweep(spec(tiny_generator, seed=1), tmp_path / "run")


def test_a_grown_sweep_keeps_its_rows_and_equals_a_straight_run(tiny_generator, tmp_path):
    small = spec(tiny_generator, x_values=(60,), methods=("lasso-dct",), n_images=4)
    big = spec(tiny_generator, x_values=(20, 60), methods=("csgm", "lasso-dct"), n_images=6)
    grown, straight = tmp_path / "grown", tmp_path / "straight"
    Sweep(small, grown).run(progress=False)
    kept = (grown / "rows.csv").read_text()
    sweep = Sweep(big, grown)
    assert len(sweep.done_units()) == 2  # lasso-dct at m=60, images 0-1 and 2-3
    sweep.run(progress=False)
    assert (grown / "rows.csv").read_text().startswith(kept)
    saved = json.loads((grown / "sweep.json").read_text())
    inputs = saved.pop(INPUTS)
    assert set(inputs) == {"generator", "images", "validation images"}
    assert inputs["images"].startswith("6:")  # grown: its 6 images (checked by their first 4)
    assert saved == {**big.to_json(), STATUS_MARK: True}
    Sweep(big, straight).run(progress=False)
    assert without_seconds(merge(grown)) == without_seconds(merge(straight))


def test_csgm_sparse_reuses_the_csgm_unit_and_gives_the_same_rows(
    tiny_generator, tmp_path, csgm_calls
):
    kw = dict(x_values=(20,), n_images=4, sparse_basis="dct", sparse_l1=1e-2)
    both, alone = tmp_path / "both", tmp_path / "alone"
    Sweep(spec(tiny_generator, methods=("csgm", "csgm-sparse"), **kw), both).run(progress=False)
    assert len(csgm_calls) == 2  # one csgm run per batch of 2 images, shared by both methods
    Sweep(spec(tiny_generator, methods=("csgm-sparse",), **kw), alone).run(progress=False)
    assert len(csgm_calls) == 4  # without csgm units, csgm-sparse runs the engine itself
    sparse = [r for r in merge(both) if r["method"] == "csgm-sparse"]
    assert without_seconds(sparse) == without_seconds(merge(alone))
    assert all(float(r["seconds"]) > 0 for r in sparse)


@pytest.mark.parametrize(
    "kw",
    [
        {"n_images": 4},  # fewer images
        {"x_values": (20,)},  # an m dropped
        {"x_values": (20, 60, 100), "noise_std": 0.2},  # grown, but the noise changed
    ],
)
def test_a_sweep_grows_only_with_nothing_else_changed(tiny_generator, tmp_path, kw):
    Sweep(spec(tiny_generator), tmp_path / "run")
    with pytest.raises(ValueError, match="different sweep.*grow it"):
        Sweep(spec(tiny_generator, **kw), tmp_path / "run")


@pytest.mark.parametrize(
    "kw, named, not_named",
    [
        # helper-47: other images by --start / --split blamed "the data files changed"
        ({"start": 1}, "--start: saved 0 (the default), now 1", "data files"),
        ({"split": "train", "start": 3}, "--split: saved test, now train", "data files"),
        # growth is allowed: only what blocks it is named, not the images added
        ({"n_images": 8, "batch_size": 3}, "--batch-size: saved", "n_images"),
        ({"x_values": (20, 60, 100), "noise_std": 0.2}, "--noise-std: saved", "x_values"),
        ({"n_images": 4}, "the folder holds 5 images, this run asks 4", "batch_size"),  # shrunk
        # helper-68: a dropped m read 'saved {"[1:]": [60]}, now {"[1:]": []}'
        ({"x_values": (20,)}, "the folder holds 60 too, which this run drops", "[1:]"),
    ],
)
def test_a_refused_resume_names_only_the_settings_that_block_it(
    tiny_generator, tmp_path, kw, named, not_named
):
    Sweep(spec(tiny_generator), tmp_path / "run")
    with pytest.raises(ValueError, match="different sweep") as err:
        Sweep(spec(tiny_generator, **kw), tmp_path / "run")
    assert named in str(err.value) and not_named not in str(err.value), str(err.value)


def test_a_refused_resume_says_an_engine_change_once(tiny_generator, tmp_path):
    """helper-70: --restarts 2 on a folder of 2 was listed twice, as engine and as its resolved
    copy with the same values."""
    Sweep(spec(tiny_generator), tmp_path / "run")
    with pytest.raises(ValueError, match="different sweep") as err:
        Sweep(spec(tiny_generator, engine={**ENGINE, "restarts": 3}), tmp_path / "run")
    text = str(err.value)
    assert "--restarts: saved 2, now 3" in text
    assert text.count("now 3") == 1 and "resolved engine" not in text, text


def test_a_resumed_sweep_takes_a_reordered_grid_as_the_same_search_in_the_saved_order(
    tiny_generator, tmp_path
):
    """helper-68: --lasso-lambdas 0.1,0.01 on a folder of 0.01,0.1 was refused as a different
    sweep; the candidates are the same search (their order breaks only exact ties), so it
    resumes in the saved order (so ties still break as they did)."""
    kw = dict(methods=("lasso-dct", "csgm-sparse"), lasso_lambdas=(0.01, 0.1, 1.0))
    Sweep(spec(tiny_generator, **kw, sparse_l1_grid=(1e-3, 1e-2)), tmp_path / "run")
    again = Sweep(
        spec(
            tiny_generator, **{**kw, "lasso_lambdas": (1.0, 0.01, 0.1)}, sparse_l1_grid=(1e-2, 1e-3)
        ),
        tmp_path / "run",
    )
    assert again.spec.lasso_lambdas == (0.01, 0.1, 1.0)
    assert again.spec.sparse_l1_grid == (1e-3, 1e-2)
    with pytest.raises(
        ValueError, match=r"--lasso-lambdas: saved 0\.01,0\.1,1\.0, now 0\.01,0\.1,3"
    ):
        Sweep(spec(tiny_generator, **{**kw, "lasso_lambdas": (0.01, 0.1, 3.0)},
                   sparse_l1_grid=(1e-3, 1e-2)), tmp_path / "run")  # fmt: skip


def test_summary_statistics():
    mean, ci = mean_ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and abs(ci - 4.302653 / 3**0.5) < 1e-5  # t(0.975, 2) * sd / sqrt(n)
    rows = [
        {"method": "a", "m": "5", "mse": str(v), "psnr": "1", "ssim": "0.5", "seconds": "2"}
        for v in (1, 2, 3)
    ]
    (row,) = summarize(rows)
    assert row["n"] == 3 and row["mse"] == 2.0 and row["seconds_per_image"] == 2.0


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"x_values": (0,)}, r"m \(--m\) must be >= 1"),
        ({"methods": ("magic",)}, "method must be one of"),
        ({"generator": None}, "needs a generator"),
        ({"engine": {"stepz": 1}}, "unknown latent-engine option"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"sparse_l1_grid": (-0.1,)}, "sparse_l1_grid"),
        ({"engine_grid": ({"stepz": 3},)}, "unknown latent-engine option"),
        ({"engine_grid": (0.1,)}, "engine_grid entries"),
        ({"lasso_lambdas": ()}, "lasso_lambdas"),
        ({"methods": ("csgm", "csgm")}, "methods must not repeat"),
        ({"x_values": (20, 20)}, r"x_values \(--m\) must not repeat"),
        # helper-64: a text read letter by letter, a number as a list, repeated candidates
        ({"methods": "csgm"}, r"methods must be a tuple \(e\.g\. methods=\('csgm'"),
        ({"x_values": 10}, r"x_values must be a tuple \(e\.g\. x_values=\(100, 500\)\), got int"),
        ({"x_values": "10"}, r"x_values must be a tuple .*got str '10'"),
        ({"lasso_lambdas": (0.1, 0.1)}, "lasso_lambdas: the candidate 0.1 is listed twice"),
        ({"sparse_l1_grid": (0.1, 0.1)}, "sparse_l1_grid: the candidate 0.1 is listed twice"),
        ({"engine_grid": ({"steps": 3}, {"steps": 3})}, r"^engine_grid\[1\] .*runs the same"),
        # helper-70: a candidate that sets what is already so runs the same engine twice
        (
            {"engine_grid": ({"steps": 3}, {"steps": 3, "optimizer": "adam"})},
            r"engine_grid\[1\] \(--engine-grid steps=3,optimizer=adam\): runs the same engine "
            r"as the candidate 'steps=3' \(entry 0",
        ),
        ({"engine_grid": ({"log_every": 5},)}, "sets log_every, which changes what the run prints"),
        (  # (a tuple as --engine-grid takes it)
            {"engine_grid": ({"prune_at": (0.1, 0.3), "steps": 0},)},
            r"\(--engine-grid prune_at=0\.1/0\.3,steps=0\): steps = 0",
        ),
        # an entry named by its index and as --engine-grid takes it (was a Python dict)
        (
            {"engine_grid": ({"steps": 3}, {"steps": 0})},
            r"^engine_grid\[1\] \(--engine-grid "
            r"steps=0\): steps = 0 runs no search",
        ),
        (
            {"engine_grid": ({"seed": 1, "lr": 0.1},)},
            r"^engine_grid\[0\] \(--engine-grid "
            r"seed=1,lr=0.1\): sets seed",
        ),
        # helper-40: test images among the validation images the weights were chosen on
        ({"split": "train"}, r"split='train' with start=0: the reconstructed images 0..4 include"),
        ({"split": "train", "start": 2}, r"train images of 0..2, the n_val=3 validation"),
    ],
)
def test_bad_specs_raise(tiny_generator, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        spec(tiny_generator, **kw)


def test_test_images_of_the_train_split_after_the_validation_images_are_accepted(tiny_generator):
    spec(tiny_generator, split="train", start=3)  # (validation: train images 0..2)
    spec(tiny_generator, split="train", methods=("biharmonic",), operator="inpainting",
         x_values=("center",), generator=None, n_val=3)  # fmt: skip


def test_parse_shard():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_lasso_wins_over_noise_floor_and_csv_is_well_formed(tiny_generator, tmp_path):
    out = tmp_path / "run"
    Sweep(spec(tiny_generator, methods=("lasso-dct",), x_values=(20, 400)), out).run(progress=False)
    with (out / "rows.csv").open() as f:
        rows = list(csv.DictReader(f))
    err = {m: sum(float(r["mse"]) for r in rows if r["m"] == m) for m in ("20", "400")}
    assert err["400"] < err["20"]  # more measurements, lower error


def test_operator_is_drawn_once_per_m_and_matches_a_fresh_draw(tiny_generator, tmp_path):
    sweep = Sweep(spec(tiny_generator), tmp_path / "run")
    a = sweep.operator(20)
    assert sweep.operator(20) is a
    b = sweep.operator(60)
    assert b is not a and b.m == 60
    fresh = Sweep(spec(tiny_generator), tmp_path / "run").operator(60)
    assert torch.equal(b.matrix, fresh.matrix)


def test_a_missing_generator_fails_before_any_work(tmp_path):
    with pytest.raises(FileNotFoundError, match="no generator named 'nosuch'"):
        Sweep(spec("nosuch"), tmp_path / "run")
    assert not (tmp_path / "run" / "sweep.json").exists()


def test_a_sweep_grows_by_any_number_of_images_and_equals_a_straight_run(tiny_generator, tmp_path):
    """Issue 14 kind 8: seeds follow the image, so a half-full last batch can be grown."""
    grown, straight = tmp_path / "grown", tmp_path / "straight"
    Sweep(spec(tiny_generator, n_images=3), grown).run(progress=False)
    Sweep(spec(tiny_generator, n_images=6), grown).run(progress=False)
    Sweep(spec(tiny_generator, n_images=6), straight).run(progress=False)
    a, b = merge(grown), merge(straight)
    assert len(a) == len(b) == 2 * 2 * 6
    assert len(read_rows([grown / "rows.csv"])) == len(a)  # no image ran twice
    assert_same_rows(a, b)


def test_a_row_depends_on_its_image_not_on_its_batch(tiny_generator, tmp_path):
    """The same images in batches of 2 and of 5 give the same rows."""
    Sweep(spec(tiny_generator, batch_size=2), tmp_path / "a").run(progress=False)
    Sweep(spec(tiny_generator, batch_size=5), tmp_path / "b").run(progress=False)
    assert_same_rows(merge(tmp_path / "a"), merge(tmp_path / "b"))


def test_sweep_json_records_the_resolved_settings_and_old_folders_are_not_resumed(
    tiny_generator, tmp_path
):
    out = tmp_path / "run"
    Sweep(spec(tiny_generator), out)
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["resolved"]["engine"]["optimizer"] == "adam"  # a default, recorded
    assert saved["resolved"]["engine"]["steps"] == 5  # an override, resolved
    assert saved["resolved"]["protocol"] >= 2
    # a sweep.json written before the resolved settings existed: refused, the folder unchanged
    del saved["resolved"]
    (out / "sweep.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="earlier code"):
        Sweep(spec(tiny_generator), out)
    assert "resolved" not in json.loads((out / "sweep.json").read_text())
    # a changed default is a different sweep
    saved = spec(tiny_generator).to_json()
    saved["resolved"]["engine"]["momentum"] = 0.5
    (out / "sweep.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="different sweep"):
        Sweep(spec(tiny_generator), out)


# -- issue 14 kind 2: everything is checked before the first byte is written ----------------
@pytest.mark.parametrize(
    "kw, match",
    [
        ({"x_values": (10, 1000)}, "m must be at most n"),  # digits are 8x8... resized to 28
        ({"n_images": 100_000}, "n_images|n="),
        ({"start": 100_000}, "start"),
        ({"n_val": 100_000}, "n_val|n="),
        ({"dataset": "mnist", "data_root": "/nonexistent"}, "not found|data"),
        ({"dataset": "mnist"}, "data.root|data_root"),
        ({"noise_std": float("nan")}, "noise_std"),
        ({"noise_std": float("inf")}, "noise_std"),
        ({"sparse_l1": float("nan"), "methods": ("csgm-sparse",)}, "sparse_l1"),
        ({"lasso_lambdas": (float("nan"),)}, "lasso_lambdas"),
        # the bad entry by its index (a numpy array among numbers named no entry)
        ({"lasso_lambdas": (0.1, np.ones(2))}, r"lasso_lambdas\[1\] must be a real number"),
        ({"sparse_l1_grid": (0.1, -1.0), "methods": ("csgm-sparse",)}, r"sparse_l1_grid\[1\]"),
        ({"engine": {"lr": float("nan")}}, "lr"),
        ({"methods": ("csgm-sparse",), "sparse_basis": "fourier"}, "sparse_basis"),
        ({"methods": ("csgm-sparse",), "sparse_basis": "wavelet:bogus"}, "sparse_basis"),
        ({"n_val": 100_000}, "n_val"),
    ],
)
def test_a_failed_start_writes_nothing(tiny_generator, tmp_path, kw, match):
    out = tmp_path / "run"
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=match):
        Sweep(spec(tiny_generator, **kw), out)
    assert not out.exists()


def test_a_generator_of_another_image_shape_is_refused_before_writing(tmp_path):
    G = DCGANGenerator(latent_dim=8, image_shape=(3, 32, 32), ngf=4)
    gen = str(save_model(G, tmp_path / "rgb" / "generator", {"dataset": "test"}))
    with pytest.raises(ValueError, match=r"images of shape \(3, 32, 32\).*\(1, 28, 28\)"):
        Sweep(spec(gen), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_out_that_is_a_file_is_refused(tiny_generator, tmp_path):
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(ValueError, match="out .* is an existing file"):
        Sweep(spec(tiny_generator), tmp_path / "file")
    assert (tmp_path / "file").read_text() == "keep me"


def test_a_folder_with_the_old_weights_file_resumes_with_its_weights(tiny_generator, tmp_path):
    """Earlier code kept the searches in lambdas.json with the value under "lambda": they are
    read (not searched again) and moved to weights.json on the next write."""
    s = spec(tiny_generator, methods=("lasso-dct",), x_values=(20, 60), n_images=2)
    out = tmp_path / "old"
    Sweep(s, out).run(progress=False)
    table = json.loads((out / "weights.json").read_text())
    old = {
        k: {**{f: v for f, v in e.items() if f != "value"}, "lambda": 0.3} for k, e in table.items()
    }
    del old["lasso-dct@60"]
    (out / "weights.json").unlink()
    (out / "lambdas.json").write_text(json.dumps(old))
    rows = [r for r in read_rows([out / "rows.csv"]) if r["setting"] == "20"]
    with (out / "rows.csv").open("w", newline="") as f:  # drop m = 60's rows: resumed below
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sweep = Sweep(s, out)
    assert sweep.unit_options("lasso-dct", 20)["lam"] == 0.3  # read from the old file
    sweep.run(progress=False)
    assert not (out / "lambdas.json").exists()
    new = json.loads((out / "weights.json").read_text())
    assert new["lasso-dct@20"]["lambda"] == 0.3 and "lasso-dct@60" in new


@pytest.mark.parametrize("method", ["csgm-sparse", "ilo", "iagan"])
def test_a_refinement_reuses_csgms_result_of_the_same_images(
    method, tiny_generator, tmp_path, csgm_calls
):
    """csgm's unit runs the engine once; the refinement's unit (same images, same engine
    options) starts from that result instead of running CSGM again."""
    small = {  # (few refinement steps: what is counted is the engine's runs)
        "iagan": {"grids": {"iagan_steps": (2, 3)}},
        "ilo": {"options": {"ilo": {"ilo_steps": 3}}},
    }.get(method, {})
    s = spec(tiny_generator, methods=("csgm", method), x_values=(20,), n_images=2, **small)
    sweep = Sweep(s, tmp_path / method)
    for name in ("csgm", method):  # the weight searches first: they run CSGM on validation images
        sweep.unit_options(name, 20)
    before = len(csgm_calls)
    sweep.run(progress=False)
    assert len(csgm_calls) - before == 1


def test_a_discriminator_prior_without_a_discriminator_is_refused_before_writing(
    tiny_generator, tmp_path
):
    s = spec(tiny_generator, methods=("csgm",), options={"csgm": {"d_weight": 0.1}})
    with pytest.raises(ValueError, match="method 'csgm'.*discriminator"):
        Sweep(s, tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_a_sweep_grows_by_a_bundled_method_with_its_own_settings(tiny_generator, tmp_path):
    """csgm-sparse's grid and basis, Lasso's λ grid come with the method; a grid of a method the
    sweep does not run is no difference; a real difference is named."""
    out = tmp_path / "g"
    Sweep(spec(tiny_generator, methods=("csgm",), n_images=2), out).run(progress=False)
    grown = spec(
        tiny_generator,
        methods=("csgm", "csgm-sparse", "lasso-dct"),
        n_images=2,
        sparse_l1_grid=(0.1, 0.01),
        sparse_basis="wavelet",
        lasso_lambdas=(0.1, 1.0),
    )
    Sweep(grown, out)  # accepted: the settings belong to the added methods
    other = tmp_path / "o"
    Sweep(spec(tiny_generator, methods=("lasso-dct",), n_images=1), other).run(progress=False)
    Sweep(spec(tiny_generator, methods=("lasso-dct",), n_images=1, sparse_l1_grid=(0.5,)), other)
    with pytest.raises(ValueError, match="differs in: --noise-std: saved"):
        Sweep(spec(tiny_generator, methods=("lasso-dct",), n_images=1, noise_std=0.5), other)


def _rows_file(path, rows):
    from ganinverse.sweep.rows import FIELDS

    base = dict(m="10", method="csgm", mse="0.01", psnr="20", ssim="0.5", meas_error="0.001")
    base.update(seconds="1.0", operator="gaussian", setting="10")
    lines = [",".join(FIELDS)] + [
        ",".join(str({**base, **r}.get(k, "")) for k in FIELDS) for r in rows
    ]
    path.write_text("\n".join(lines) + "\n")


def test_merge_keeps_one_of_agreeing_duplicates_and_refuses_conflicting_ones(tmp_path):
    """Two rows of one (setting, method, image) with other scores were merged in silence, the
    last one kept (user trial): they come from different runs, so the merge refuses, naming
    both files. Agreeing duplicates (a unit run twice; only seconds differ) merge to one."""
    _rows_file(tmp_path / "rows.shard-0-of-2.csv", [{"image": 0}, {"image": 1}])
    _rows_file(tmp_path / "rows.shard-1-of-2.csv", [{"image": 1, "seconds": "3"}])
    assert [r["image"] for r in merge(tmp_path)] == ["0", "1"]
    _rows_file(tmp_path / "rows.shard-1-of-2.csv", [{"image": 1, "mse": "0.02", "psnr": "16.9897"}])
    with pytest.raises(
        ValueError, match=r"image 1, csgm at 10 differ between .*rows.csv and .*shard-1"
    ):
        merge(tmp_path)


def test_rows_of_two_operators_are_refused_naming_both_files(tmp_path):
    """Helper-41: rows of another operator in a folder failed in the report as "the rows mix
    operators", naming no file."""
    _rows_file(tmp_path / "rows.shard-0-of-2.csv", [{"image": 0}])
    _rows_file(tmp_path / "rows.shard-1-of-2.csv", [{"image": 1, "operator": "subsample"}])
    with pytest.raises(ValueError, match=r"shard-1-of-2.csv holds rows of the 'subsample'.*"
                       r"shard-0-of-2.csv holds rows of 'gaussian'"):  # fmt: skip
        merge(tmp_path)


def test_a_conflict_within_one_rows_file_names_it_once(tmp_path):
    _rows_file(tmp_path / "rows.shard-0-of-1.csv", [{"image": 0}, {"image": 0, "seconds": "2"}])
    assert len(merge(tmp_path)) == 1
    other = tmp_path / "other"
    other.mkdir()
    _rows_file(
        other / "rows.shard-0-of-1.csv",
        [{"image": 0}, {"image": 0, "mse": "0.02", "psnr": "16.9897"}],
    )
    with pytest.raises(ValueError, match=r"appear twice in .*shard-0-of-1.csv, with other scores"):
        merge(other)


@pytest.mark.parametrize(
    "key, value", [("mse", "nan"), ("ssim", "inf"), ("psnr", "-inf"), ("seconds", "x")]
)
def test_merge_refuses_a_score_a_sweep_never_writes(tmp_path, key, value):
    _rows_file(tmp_path / "rows.shard-0-of-1.csv", [{"image": 0, key: value}])
    with pytest.raises(ValueError, match=f"has {key} = '{value}', not a score a sweep writes"):
        merge(tmp_path)


@pytest.mark.parametrize(
    "row, match",
    [
        ({"psnr": "30"}, r"has psnr = '30', not 10 log10\(1 / mse\) of its mse = 0.01"),
        ({"mse": "0", "psnr": "40"}, r"has psnr = '40', not 10 log10"),
        ({"ssim": "1.5"}, r"has ssim = '1.5', outside \[-1, 1\]"),
        ({"status": "fine"}, r"has status = 'fine', no status a solver writes"),
        ({"m": "100"}, r"has m = '100', but its setting \(the m measured\) is 10"),
        ({"status": "not_improved+not_improved"}, r"has status = 'not_improved\+not_improved'"),
        ({"status": "unreported"}, r"has status = 'unreported', but csgm always reports"),
    ],
)
def test_merge_refuses_scores_that_contradict_each_other_or_an_unknown_status(tmp_path, row, match):
    """Helper-41: a PSNR that disagrees with the row's MSE (one of them edited) and a status
    no solver writes were merged into the summary (the status only warned)."""
    _rows_file(tmp_path / "rows.shard-0-of-1.csv", [{"image": 0, **row}])
    with pytest.raises(ValueError, match=match):
        merge(tmp_path)


def test_a_registered_reason_is_a_status_a_row_may_hold(tmp_path, monkeypatch):
    from ganinverse import status

    monkeypatch.setattr(status, "REASONS", dict(status.REASONS))
    _rows_file(tmp_path / "rows.shard-0-of-1.csv", [{"image": 0, "status": "ok+my_reason"[3:]}])
    with pytest.raises(ValueError, match="no status a solver writes"):
        merge(tmp_path)
    status.register_reason("my_reason", "my solver's own")
    assert merge(tmp_path)[0]["status"] == "my_reason"
    assert status.is_status("not_converged+my_reason") and not status.is_status("ok+my_reason")
    with pytest.raises(ValueError, match="registered already"):
        status.register_reason("not_improved", "something else")


def test_a_new_sweep_refuses_rows_without_a_status_and_an_older_one_keeps_them(
    tiny_generator, tmp_path
):
    """Helper-42: a rows file without the status column (or a row with an empty status) was
    merged into a sweep made by today's code as "not recorded". A folder made since the column
    existed is marked in sweep.json (not a setting: resuming and growing compare without it);
    its rows must each carry a status. A folder of older code, grown today, keeps its rows."""
    small = spec(tiny_generator, x_values=(60,), methods=("lasso-dct",), n_images=2)
    new = tmp_path / "new"
    Sweep(small, new).run(progress=False)
    assert json.loads((new / "sweep.json").read_text())[STATUS_MARK] is True
    assert all(r["status"] for r in merge(new))
    grown = spec(tiny_generator, x_values=(60,), methods=("lasso-dct",), n_images=4)
    Sweep(grown, new).run(progress=False)  # grown: the mark stays
    assert json.loads((new / "sweep.json").read_text())[STATUS_MARK] is True
    text = (new / "rows.csv").read_text().splitlines()
    (new / "rows.csv").write_text("\n".join([text[0], text[1].rsplit(",", 1)[0] + ","]) + "\n")
    with pytest.raises(ValueError, match=rf"image 0, lasso-dct at 60 has no status.*{STATUS_MARK}"):
        merge(new)
    old_columns = [",".join(OPERATOR_FIELDS), text[1].rsplit(",", 1)[0]]  # no status column
    (new / "rows.csv").write_text("\n".join(old_columns) + "\n")
    with pytest.raises(ValueError, match="has no status"):
        merge(new)

    old = tmp_path / "old"  # a folder of older code: no mark, rows without a status
    old.mkdir()
    (old / "rows.csv").write_text("\n".join(old_columns) + "\n")
    saved = small.to_json()
    (old / "sweep.json").write_text(json.dumps(saved))
    assert merge(old)[0]["status"] == ""
    Sweep(grown, old).run(progress=False)  # grown by today's code: still no mark
    assert STATUS_MARK not in json.loads((old / "sweep.json").read_text())
    assert [r["status"] for r in merge(old)] == ["", "ok", "ok", "ok"]


def test_the_mse_cell_has_no_nan_and_no_false_zero():
    """Helper-42: one image printed "0.0123 ± nan"; an MSE below 5e-5 printed "0.0000"."""
    from ganinverse.sweep.report import format_table, summarize

    base = dict(method="csgm", m="10", setting="10", ssim="1", seconds="1", operator="gaussian")
    text = format_table(summarize([{**base, "image": "0", "mse": "0.0123", "psnr": "19.1"}]))
    assert "0.0123 (one image: no CI)" in text and "nan" not in text
    rows = [
        {**base, "image": str(i), "mse": v, "psnr": "0"} for i, v in enumerate(("2e-5", "4e-5"))
    ]
    text = format_table(summarize(rows))
    assert "3.00e-05 ± 1.27e-04" in text and "0.0000" not in text


def test_merge_accepts_the_psnr_of_an_exact_reconstruction(tmp_path):
    _rows_file(tmp_path / "rows.csv", [{"image": 0, "psnr": "inf", "mse": "0"}])
    assert merge(tmp_path)[0]["psnr"] == "inf"


def test_the_summary_says_where_a_psnr_is_infinite_or_has_no_ci():
    """Helper-42: an exact reconstruction (MSE 0) printed "inf ± nan" in summary.md."""
    from ganinverse.sweep.report import format_table, summarize

    base = dict(method="csgm", m="10", setting="10", ssim="1", seconds="1", operator="gaussian")
    rows = [{**base, "image": "0", "mse": "0", "psnr": "inf"}]
    rows += [{**base, "image": "1", "mse": "0.01", "psnr": "20"}]
    text = format_table(summarize(rows))
    assert "inf (an exact x̂, MSE 0" in text and "nan" not in text
    text = format_table(summarize(rows[1:]))
    assert "20.00 (one image: no CI)" in text


def test_a_mark_left_by_a_killed_search_is_removed_when_the_sweep_finishes(
    tiny_generator, tmp_path
):
    """User trial: a sweep killed during a weight search left searching/<key>.lock behind
    after the resumed run finished."""
    from ganinverse.sweep.search import SEARCHING, WeightSearches

    out = tmp_path / "run"
    s = spec(tiny_generator, methods=("lasso-dct",), x_values=(20,), n_images=2)
    sweep = Sweep(s, out)
    stale = WeightSearches(out)._mark("lasso-dct@20")
    stale.parent.mkdir()
    stale.touch()  # what a kill during that search leaves
    sweep.run(progress=False)
    assert not (out / SEARCHING).exists()


def test_a_report_without_the_weight_table_the_rows_ran_with_says_so(tiny_generator, tmp_path):
    """User trial: sweep-merge after weights.json was deleted dropped the table of chosen
    weights without a word."""
    out = tmp_path / "run"
    s = spec(tiny_generator, methods=("lasso-dct",), x_values=(20,), n_images=2)
    Sweep(s, out).run(progress=False)
    assert "Incomplete" not in report(out)  # (the run's own report: complete)
    (out / "weights.json").unlink()
    with pytest.warns(IncompleteSweepWarning, match=r"lacks 1 search\(es\).*lasso-dct@20"):
        text = report(out)
    assert text.startswith("**Incomplete:**") and "restore the file" in text


@pytest.mark.parametrize(
    "edit, match",
    [
        # helper-40: a row of an image outside the sweep was counted in the summary
        (lambda lines: [*lines, lines[-1].replace(lines[-1].split(",")[0], "99", 1)],
         r"1 row\(s\) are not of this sweep's images.*image 99"),
        (lambda lines: [lines[0], "garbage,line\n", *lines[1:]], r"row 1 \('garbage,line'\)"),
        (lambda lines: [*lines, "1,20,lasso-dct,0.05\n"], r"is not a row a sweep writes"),
        # helper-41: a header repeated by joining files, an image index that is no int, an MSE < 0
        (lambda lines: [*lines, lines[0]], r"row \d+ \('image,m,method.*header repeated"),
        (lambda lines: [*lines, "1.0" + lines[-1][1:]], r"is not a row a sweep writes"),
        (lambda lines: [lines[0], lines[1].replace(lines[1].split(",")[3], "-0.5", 1), *lines[2:]],
         r"has mse = '-0.5', not a score a sweep writes"),
    ],
)  # fmt: skip
def test_merge_refuses_rows_a_sweep_did_not_write(tiny_generator, tmp_path, edit, match):
    """A stray row (an image, setting or method outside sweep.json) and a malformed line in
    the middle of a rows file were merged or skipped without a word."""
    out = tmp_path / "run"
    Sweep(spec(tiny_generator, methods=("lasso-dct",), n_images=2), out).run(progress=False)
    path = out / "rows.csv"
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))
    with pytest.raises(ValueError, match=match):
        merge(out)


def test_a_report_without_sweep_json_says_its_rows_are_unchecked(tiny_generator, tmp_path):
    """Helper-42: sweep-merge after sweep.json was deleted exited 0 without a word, its rows
    checked against nothing."""
    out = tmp_path / "run"
    Sweep(spec(tiny_generator, methods=("lasso-dct",), n_images=1), out).run(progress=False)
    (out / "sweep.json").unlink()
    with pytest.warns(IncompleteSweepWarning, match=r"no sweep.json in .*not checked"):
        text = report(out)
    assert text.startswith("**Incomplete:** no sweep.json")


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_generator_retrained_at_the_same_path_is_refused_before_any_file(
    tiny_generator, tmp_path
):
    """Helper-43: a sweep grown after its generator was retrained at the same path took rows
    of both generators into one mean (sweep.json recorded only the path)."""
    from ganinverse.models import load_generator, save_model

    out = tmp_path / "run"
    small = spec(tiny_generator, x_values=(20,), methods=("csgm",), n_images=2)
    Sweep(small, out).run(progress=False)
    G = load_generator(tiny_generator, device="cpu")
    save_model(G, tiny_generator, {"dataset": "test"})  # the same weights saved again: fine
    Sweep(small, out)
    with torch.no_grad():
        next(G.parameters()).add_(0.01)
    save_model(G, tiny_generator, {"dataset": "test"})  # retrained in place
    before = _snapshot(out)
    grown = spec(tiny_generator, x_values=(20,), methods=("csgm",), n_images=4)
    for s in (small, grown):  # resumed or grown
        with pytest.raises(ValueError, match=r"another generator than .* retrained or replaced"):
            Sweep(s, out)
    assert _snapshot(out) == before


def test_a_mask_file_rewritten_at_the_same_path_is_refused(tmp_path):
    """Helper-43: a mask PNG rewritten with another hole gave rows of two masks under one
    setting ("mean m 608" of m = 720 and 384)."""
    from PIL import Image

    from ganinverse.sweep import SweepSpec

    hole = tmp_path / "hole.png"
    img = Image.new("L", (28, 28), 255)
    img.paste(0, (4, 4, 14, 14))
    img.save(hole)
    kw = dict(dataset="digits", operator="inpainting", x_values=(str(hole),), methods=("tv",))
    out = tmp_path / "run"
    Sweep(SweepSpec(**kw, n_images=1), out).run(progress=False)
    saved = json.loads((out / "sweep.json").read_text())[INPUTS]
    assert list(saved) == ["images", f"mask {hole}"]
    img.paste(0, (4, 4, 24, 24))
    img.save(hole)
    before = _snapshot(out)
    with pytest.raises(ValueError, match=r"another mask than .*hole.png"):
        Sweep(SweepSpec(**kw, n_images=2), out)
    assert _snapshot(out) == before


def test_a_folder_of_older_code_records_its_inputs_from_now_on(tiny_generator, tmp_path):
    out = tmp_path / "old"
    small = spec(tiny_generator, x_values=(60,), methods=("lasso-dct",), n_images=2)
    Sweep(small, out).run(progress=False)
    saved = json.loads((out / "sweep.json").read_text())
    del saved[INPUTS]
    (out / "sweep.json").write_text(json.dumps(saved))
    Sweep(small, out)  # resumed: the inputs are recorded, nothing else changes
    again = json.loads((out / "sweep.json").read_text())
    assert set(again.pop(INPUTS)) == {"generator", "images", "validation images"}
    assert again == saved


def test_summary_csv_leaves_the_ci_of_one_image_empty(tmp_path):
    """Helper-43: summary.csv wrote mse_ci95 = nan for a single image (summary.md said so)."""
    _rows_file(tmp_path / "rows.csv", [{"image": 0}])
    report(tmp_path)
    with (tmp_path / "summary.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["mse_ci95"] == row["psnr_ci95"] == "" and float(row["mse"]) == 0.01


def test_a_plug_in_rows_unreported_status_is_flagged(tmp_path):
    from ganinverse.sweep.report import flagged_rows

    rows = [dict(method="my-plug-in", setting="10", status="unreported")]
    assert "1 my-plug-in at 10 (unreported)" in flagged_rows(rows + [dict(rows[0], status="ok")])


def test_data_files_changed_under_a_sweep_are_refused(tmp_path):
    """Helper-43 (not tried there; the same kind): a --dataset folder whose images changed
    between runs of one sweep would mix rows of two sets of images."""
    from PIL import Image

    from ganinverse.sweep import SweepSpec

    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        Image.new("L", (28, 28), 40 * i).save(data / f"img{i}.png")
    kw = dict(dataset="folder", data_root=str(data), x_values=("center",), methods=("tv",))
    kw.update(operator="inpainting", split="all")
    out = tmp_path / "run"
    Sweep(SweepSpec(**kw, n_images=2), out).run(progress=False)
    assert json.loads((out / "sweep.json").read_text())[INPUTS]["images"].startswith("2:")
    Sweep(SweepSpec(**kw, n_images=3), out)  # grown: its first 2 images are the same
    Image.new("L", (28, 28), 255).save(data / "img1.png")  # a file of the rows changed
    before = _snapshot(out)
    with pytest.raises(ValueError, match=r"rows of other images than --dataset 'folder'"):
        Sweep(SweepSpec(**kw, n_images=3), out)
    assert _snapshot(out) == before


def test_duplicate_rows_that_differ_in_status_are_refused(tmp_path):
    """Helper-46: two rows of one unit with the same scores but another status merged, the
    first one kept (a flagged row could hide behind an "ok" copy)."""
    _rows_file(tmp_path / "rows.csv", [{"image": 0, "status": "ok"}, {"image": 0}])
    assert len(merge(tmp_path)) == 1  # same status
    _rows_file(tmp_path / "rows.csv", [{"image": 0, "status": "ok"},
                                       {"image": 0, "status": "not_improved"}])  # fmt: skip
    with pytest.raises(ValueError, match="status ok vs not_improved"):
        merge(tmp_path)


def test_rows_of_two_operators_in_one_file_name_it_once(tmp_path):
    _rows_file(tmp_path / "rows.csv", [{"image": 0}, {"image": 1, "operator": "subsample"}])
    with pytest.raises(ValueError, match=r"rows.csv holds rows of the 'subsample'.* but other "
                       r"rows of it are of 'gaussian'"):  # fmt: skip
        merge(tmp_path)


def test_a_folder_without_a_train_split_says_how_to_sweep_it(tmp_path):
    """Helper-46: a searched weight on --dataset folder said only "split for 'folder' must be
    one of 'all'; got 'train'", a split the user never passed."""
    from PIL import Image

    from ganinverse.sweep import SweepSpec

    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        Image.new("L", (28, 28), 40 * i).save(data / f"img{i}.png")
    kw = dict(dataset="folder", data_root=str(data), split="all", x_values=(25,), n_images=2)
    with pytest.raises(ValueError, match=r"weight search of lasso-dct needs validation images.*"
                       r"give each searched grid one value"):  # fmt: skip
        Sweep(SweepSpec(**kw, methods=("lasso-dct",), lasso_lambdas=(0.1, 1.0)), tmp_path / "o")
    assert not (tmp_path / "o").exists()
    Sweep(SweepSpec(**kw, methods=("lasso-dct",), lasso_lambdas=(0.1,)), tmp_path / "o")


def test_engine_settings_no_method_runs_warn_idle(tiny_generator):
    """helper-64: SweepSpec(engine={"steps": 3}) with Lasso only ran without a word (the CLI
    refuses the flags); iagan runs csgm's engine, so there it acts."""
    from ganinverse.exceptions import IdleOptionWarning

    with pytest.warns(IdleOptionWarning, match=r"engine=\{'steps': 3\} changes nothing here"):
        spec(tiny_generator, methods=("lasso-dct",), engine={"steps": 3})
    with pytest.warns(IdleOptionWarning, match="sparse_l1_grid=.* no method of .* runs csgm-sp"):
        spec(tiny_generator, methods=("csgm",), sparse_l1_grid=(0.1,))
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdleOptionWarning)
        spec(tiny_generator, methods=("iagan",), engine={"steps": 3})


def test_a_refused_resume_names_the_option_that_changed_inside_a_methods_settings():
    """helper-65: options differing in one of several iagan settings were shown as the whole
    {"iagan": {...}} cut at 80 characters, the changed option past the cut."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("iagan",))
    many = {"lr_theta": 3e-5, "lr_z": 3e-4, "discrepancy": 0.5, "chunk": 4, "back_projection": True}
    saved = SweepSpec(**kw, options={"iagan": {**many, "tv_weight": 0.3}}).to_json()
    now = SweepSpec(**kw, options={"iagan": {**many, "tv_weight": 0.2}})
    lines = now.differences(saved, explain=True)  # (options; the resolved methods: the same)
    assert lines == ["--iagan-tv: saved 0.3, now 0.2"], lines


def test_a_refused_resume_names_the_entry_that_changed_in_a_long_grid():
    """helper-66: a 26-value --lambda-z-grid with its last value changed printed "saved" and
    "now" alike, both cut at 160 characters before the entry that changed."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm",))
    grid = tuple({"lambda_z": round(0.001 * (i + 1), 4)} for i in range(26))
    saved = SweepSpec(**kw, engine_grid=grid).to_json()
    now = SweepSpec(**kw, engine_grid=(*grid[:-1], {"lambda_z": 0.0265}))
    (line,) = now.differences(saved, explain=True)
    assert line == "--lambda-z-grid entry 26: saved 0.026, now 0.0265", line


def test_a_spec_takes_0d_tensors_and_numpy_numbers_as_their_python_values():
    """helper-66: 0-d tensors passed SweepSpec, then sweep.json could not record them
    ("cannot record Tensor", no argument named)."""
    import json

    import torch

    from ganinverse.sweep import SweepSpec

    spec = SweepSpec(
        dataset="digits",
        generator="digits",
        x_values=(torch.tensor(20),),
        methods=("iagan",),
        options={"iagan": {"tv_weight": torch.tensor(0.25)}},
        engine={"lr": np.float64(0.1), "steps": torch.tensor(2)},
        grids={"iagan_steps": (torch.tensor(0), 5)},
        lasso_lambdas=(np.float32(0.5), 0.2),
    )
    saved = json.loads(json.dumps(spec.to_json()))
    assert saved["options"] == {"iagan": {"tv_weight": 0.25}} and saved["x_values"] == [20]
    assert saved["engine"] == {"lr": 0.1, "steps": 2} and saved["grids"]["iagan_steps"] == [0, 5]
    with pytest.raises(TypeError, match=r"tv_weight must be a real number.*shape \(1,\)"):
        SweepSpec(
            dataset="digits",
            generator="digits",
            x_values=(20,),
            methods=("iagan",),
            options={"iagan": {"tv_weight": torch.tensor([0.25])}},
        )


def test_a_spec_refuses_a_searched_weight_set_as_an_option_and_warns_an_idle_one_at_sigma_0():
    """helper-66: options={"iagan": {"adapt_steps": 0}} was overridden by iagan's own grid in
    silence (and recorded as 0); discrepancy at noise_std=0 warned only when the unit ran."""
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("iagan",))
    with pytest.raises(ValueError, match=r"\['adapt_steps'\] is the weight the sweep searches"):
        SweepSpec(**kw, options={"iagan": {"adapt_steps": 0, "tv_weight": 0.3}})
    with pytest.warns(IdleOptionWarning, match="discrepancy=0.5 changes nothing.*noise_std > 0"):
        SweepSpec(**kw, noise_std=0.0, options={"iagan": {"discrepancy": 0.5}})


def test_an_engine_setting_given_at_the_value_the_saved_sweep_resolved_resumes(tmp_path):
    """helper-66: --lr 0.01 on a folder that ran with lr unset (resolved 0.01) was refused as
    "saved {"lr": null}, now {"lr": 0.01}", while a method option at its default resumed."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("iagan",))
    kw |= dict(n_images=1, grids={"iagan_steps": (2,)})
    saved = SweepSpec(**kw, engine={"steps": 2, "restarts": 1}).to_json()
    lr = saved["resolved"]["engine"]["lr"]
    assert SweepSpec(**kw, engine={"steps": 2, "restarts": 1, "lr": lr}).matches(saved)
    other = SweepSpec(**kw, engine={"steps": 2, "restarts": 1, "lr": 2 * lr})
    assert any(line.startswith("engine") for line in other.differences(saved))
    assert any(line.startswith("resolved engine") for line in other.differences(saved))


def test_float32_numbers_are_recorded_as_typed_and_a_grid_must_be_a_tuple():
    """helper-67: torch.tensor(0.02) was recorded as 0.019999999552965164 (a folder run with
    0.02 then refused it); grids={"iagan_steps": tensor([2, 3])} failed in sweep.json's writer;
    a grid grown by one entry was shown cut off before the entry."""
    import torch

    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm",))
    spec = SweepSpec(**kw, engine={"lr": torch.tensor(0.02)}, noise_std=np.float32(0.05))
    assert spec.engine == {"lr": 0.02} and spec.noise_std == 0.05
    assert SweepSpec(**kw, engine={"lr": 0.02}, noise_std=0.05).matches(spec.to_json())
    with pytest.raises(TypeError, match=r"grids\['iagan_steps'\] must be a tuple"):
        SweepSpec(**{**kw, "methods": ("iagan",)}, grids={"iagan_steps": torch.tensor([2, 3])})
    grid = tuple({"lambda_z": round(0.001 * (i + 1), 4)} for i in range(12))
    saved = SweepSpec(**kw, engine_grid=grid).to_json()
    (line,) = SweepSpec(**kw, engine_grid=(*grid, {"lambda_z": 0.02})).differences(
        saved, explain=True
    )
    assert line == "--lambda-z-grid entries 13 on: saved none, now 0.02", line


def test_an_engine_setting_replaced_by_the_engine_or_its_grid_is_refused():
    """helper-67: options={"csgm": {"steps": 7}} beside engine={"steps": 3} ran 3 and kept both
    in sweep.json; options={"csgm": {"lambda_z": 0.1}} under an engine grid that sets lambda_z
    in every candidate was replaced in silence. (engine= under a grid is the grid's base, as
    tune's steps: allowed.)"""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm",))
    grid = ({"lambda_z": 0.2}, {"lambda_z": 0.3})
    with pytest.raises(ValueError, match=r"options\['csgm'\] sets \['steps'\]"):
        SweepSpec(**kw, options={"csgm": {"steps": 7}}, engine={"steps": 3})
    with pytest.raises(ValueError, match=r"options\['csgm'\] sets \['lambda_z'\]"):
        SweepSpec(**kw, options={"csgm": {"lambda_z": 0.1}}, engine_grid=grid)
    SweepSpec(**kw, options={"csgm": {"steps": 7}}, engine_grid=grid)  # (not replaced: fine)
    SweepSpec(**kw, engine={"steps": 3}, engine_grid=grid)


def test_validation_images_start_at_val_start_and_never_meet_the_test_images(
    tiny_generator, tmp_path
):
    """``val_start``: the weight searches' images are train images val_start.. (e.g. faces held
    out of the generator's training); an overlap with train-split test images is refused with
    both fixes; a sweep.json from before the field resumes (it was 0)."""
    from ganinverse.data import load_images

    sweep = Sweep(spec(tiny_generator, methods=("lasso-dct",), val_start=40), tmp_path / "a")
    expected, _ = load_images("digits", None, "train", n=3, start=40)
    assert torch.equal(sweep.validation_images(), expected)
    with pytest.raises(ValueError, match=r"train images of 40\.\.42.*--start 43 or more, "
                       r"--val-start 45 or more, or --split test"):  # fmt: skip
        spec(tiny_generator, split="train", start=40, val_start=40)
    spec(tiny_generator, split="train", start=0, val_start=5)  # 0..4 and 5..7: apart
    with pytest.raises(ValueError, match="val_start must be >= 0"):
        spec(tiny_generator, val_start=-1)
    with pytest.raises(ValueError, match=r"--val-start 1499\) from the train split.*n=3 images "
                       r"from start=1499.*pass n <= 1 \(CLI --n-val\)"):  # fmt: skip
        Sweep(spec(tiny_generator, methods=("lasso-dct",), val_start=1499), tmp_path / "b")
    assert not (tmp_path / "b").exists()
    out = tmp_path / "c"
    Sweep(spec(tiny_generator, methods=("lasso-dct",)), out)
    saved = json.loads((out / "sweep.json").read_text())
    del saved["val_start"]  # (written by code before the field)
    (out / "sweep.json").write_text(json.dumps(saved))
    Sweep(spec(tiny_generator, methods=("lasso-dct",)), out)  # resumes: its value was 0
    with pytest.raises(ValueError, match=r"--val-start: saved 0 \(the default\), now 3"):
        Sweep(spec(tiny_generator, methods=("lasso-dct",), val_start=3), out)


def test_a_refused_resume_shows_a_short_grid_whole():
    """helper-70: a 2-entry grid with one entry changed read 'saved {"[1]": ...}, now {"[1]":
    ...}' (JSON indices); a grid that fits the line is shown as it was and as it is."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm",))
    saved = SweepSpec(**kw, engine_grid=({"lambda_z": 0.1}, {"lambda_z": 0.01})).to_json()
    now = SweepSpec(**kw, engine_grid=({"lambda_z": 0.1}, {"lambda_z": 0.001}))
    (line,) = now.differences(saved, explain=True)
    assert line == "--lambda-z-grid: saved 0.1,0.01, now 0.1,0.001", line
    assert "[1]" not in line and "entry" not in line


def test_a_refused_resume_names_a_changed_option_by_its_flag_once():
    """helper-70: a changed --iagan-tv read 'options (the method option flags): ...' and then
    the same values again as 'resolved methods (the defaults the flags left): ...'."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("iagan",))
    saved = SweepSpec(**kw, options={"iagan": {"tv_weight": 0.3, "lr_z": 3e-4}}).to_json()
    now = SweepSpec(**kw, options={"iagan": {"tv_weight": 0.2, "lr_z": 1e-3}})
    lines = now.differences(saved, explain=True)
    assert lines == ["--iagan-lr-z: saved 0.0003, now 0.001", "--iagan-tv: saved 0.3, now 0.2"]


def test_a_refused_resume_says_each_changed_setting_by_its_flag_as_typed():
    """A changed option, engine setting and weight grid read as the command line takes them,
    one per flag ('--iagan-tv: saved 0.3, now 0.2'), not as the JSON of the fields that hold
    them ('options (--iagan-tv): saved {"iagan": {"tv_weight": 0.3}}, ...'); a long grid by its
    1-based entry; a setting with no flag of its own keeps the field's JSON."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm", "iagan"))
    saved = SweepSpec(**kw, options={"iagan": {"tv_weight": 0.3}}, engine={"lr": 0.02})
    now = SweepSpec(
        **kw,
        options={"iagan": {"tv_weight": 0.2}},
        engine={"lr": 0.05},
        grids={"iagan_steps": (1, 2)},
    )
    assert now.differences(saved.to_json(), explain=True) == [
        "--lr: saved 0.02, now 0.05",
        "--iagan-steps-grid: saved not given (the default grid 30,100,300,1000), now 1,2",
        "--iagan-tv: saved 0.3, now 0.2",
    ]
    steps = tuple(range(30))
    saved = SweepSpec(**kw, grids={"iagan_steps": steps}).to_json()
    (line,) = SweepSpec(**kw, grids={"iagan_steps": (*steps[:-1], 31)}).differences(
        saved, explain=True
    )
    assert line == "--iagan-steps-grid entry 30: saved 29, now 31", line
    kw["methods"] = ("csgm",)  # (csgm's steps as an option: no flag of its own)
    saved = SweepSpec(**kw, options={"csgm": {"steps": 7}}).to_json()
    lines = SweepSpec(**kw, options={"csgm": {"steps": 8}}).differences(saved, explain=True)
    assert 'options (the method option flags): saved {"csgm": {"steps": 7}}' in lines[0], lines


def test_a_refused_resume_tells_a_left_out_flag_by_the_default_it_ran_once():
    """helper-71: a flag added or dropped read 'saved {"lr_z": null}' and then the same change
    again as 'resolved methods (the defaults the flags left): ...'; a dropped --iagan-tv and a
    changed weight grid named no flag ('the method option flags', 'the weight grid flags'), a
    changed engine setting all six engine flags."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("iagan",))

    def lines(saved: dict, now: dict) -> list[str]:
        return SweepSpec(**kw, **now).differences(SweepSpec(**kw, **saved).to_json(), explain=True)

    tv = {"options": {"iagan": {"tv_weight": 0.3}}}
    assert lines(tv, {"options": {"iagan": {"tv_weight": 0.3, "lr_z": 1e-3}}}) == [
        "--iagan-lr-z: saved 0.0001 (the default), now 0.001"
    ]
    assert lines(tv, {}) == ["--iagan-tv: saved 0.3, now 0.0 (the default)"]
    assert lines({"engine": {"steps": 5}}, {"engine": {"steps": 7}}) == ["--steps: saved 5, now 7"]
    assert lines({}, {"options": {"iagan": {"lr_z": 1e-3}}, "engine": {"steps": 5}}) == [
        "--steps: saved 1000 (the default), now 5",  # (iagan left out: the option it ran)
        "--iagan-lr-z: saved 0.0001 (the default), now 0.001",
    ]
    assert lines({"grids": {"iagan_steps": (2, 3)}}, {"grids": {"iagan_steps": (2, 4)}}) == [
        "--iagan-steps-grid: saved 2,3, now 2,4"
    ]


def test_a_dropped_x_value_names_the_operators_flag_and_keeps_the_folders_order():
    """helper-71: '--m / --factor / --mask ...' for a Gaussian sweep, and the fix 'e.g. 30,20'
    for a folder of 20,30."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", methods=("csgm",))
    saved = SweepSpec(**kw, x_values=(20, 30)).to_json()
    (line,) = SweepSpec(**kw, x_values=(30, 40)).blocking_differences(saved)
    assert line.startswith("x_values (--m): the folder holds 20 too"), line
    assert line.endswith("pass all of them (e.g. 20,30,40)"), line


def test_a_sparse_basis_without_csgm_sparse_warns_in_the_api():
    """helper-73: SweepSpec(sparse_basis='nope') without csgm-sparse was taken in silence (the
    CLI refuses --sparse-basis there)."""
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.sweep.spec import SweepSpec

    with pytest.warns(
        IdleOptionWarning, match="sparse_basis='nope' changes nothing here.*csgm-sparse"
    ):
        SweepSpec(dataset="digits", x_values=(20,), methods=("lasso-dct",), sparse_basis="nope")


def test_a_refused_resume_names_the_default_a_left_out_option_ran_with():
    """helper-73: '--d-weight: saved not given, now 0.1' did not say that not given was γ = 0;
    helper-75: a default given (--d-prior nonsat) read 'not given' (a spec stores a default as
    nothing): both read as the default's value; a setting with no default stays 'not given'."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm",))
    saved = SweepSpec(**kw, options={"csgm": {"d_prior": "nonsat"}}).to_json()
    now = SweepSpec(**kw, discriminator="digits", options={"csgm": {"d_weight": 0.1}})
    assert now.differences(saved, explain=True) == [
        "--discriminator: saved not given, now digits",
        "--d-weight: saved 0.0 (the default), now 0.1",
    ]
    assert SweepSpec(**kw).differences(now.to_json(), explain=True)[1] == (
        "--d-weight: saved 0.1, now 0.0 (the default)"
    )


def test_a_method_name_that_is_no_str_is_a_type_error():
    from ganinverse.sweep import SweepSpec

    with pytest.raises(TypeError, match=r"method must be a str, one of 'csgm'"):
        SweepSpec("digits", (4,), (["csgm"],))


def test_a_refused_resume_marks_a_field_default_as_the_options_are():
    """helper-75: '--lambda-z: saved 0.001 (the default)' beside '--noise-std: saved 0.1' (its
    default, unmarked); the split is not marked (a folder's default is 'all')."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm",))
    saved = SweepSpec(**kw).to_json()
    lines = SweepSpec(**kw, noise_std=0.05, split="train").differences(saved, explain=True)
    assert "--noise-std: saved 0.1 (the default), now 0.05" in lines
    assert "--split: saved test, now train" in lines


def test_a_dropped_method_is_named_once_not_again_as_its_settings():
    """helper-73: after 'the folder holds iagan too, which this run drops' came iagan's grid,
    its options and its resolved defaults, each as a difference of their own."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,))
    saved = SweepSpec(
        **kw,
        methods=("csgm", "iagan"),
        options={"iagan": {"tv_weight": 0.3}},
        grids={"iagan_steps": (1,)},
    ).to_json()
    lines = SweepSpec(**kw, methods=("csgm",)).blocking_differences(saved)
    assert len(lines) == 1 and "the folder holds iagan too, which this run drops" in lines[0]
    lines = SweepSpec(**kw, methods=("csgm",), engine={"lr": 0.05}).blocking_differences(saved)
    assert lines[1:] == ["--lr: saved 0.01 (the default), now 0.05"], lines


def test_a_refused_resume_marks_no_lambda_z_search_as_the_default():
    """helper-75: '--lambda-z-grid: saved none' was the one default left unmarked."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm",))
    grid = SweepSpec(**kw, engine_grid=({"lambda_z": 0.1}, {"lambda_z": 0.01})).to_json()
    assert SweepSpec(**kw).differences(grid, explain=True) == [
        "--lambda-z-grid: saved 0.1,0.01, now none (the default)"
    ]


def test_a_refused_resume_shows_an_engine_grid_as_engine_grid_takes_it():
    """helper-73: an engine grid with more than λ_z read as JSON ('saved [{"lambda_z": 0.1,
    "steps": 3}, ...]'); it reads as the flag's candidates, either side."""
    from ganinverse.sweep import SweepSpec

    kw = dict(dataset="digits", generator="digits", x_values=(20,), methods=("csgm",))
    saved = SweepSpec(
        **kw, engine_grid=({"lambda_z": 0.1, "steps": 3}, {"lambda_z": 0.01, "prune_at": ()})
    ).to_json()
    (line,) = SweepSpec(**kw, engine_grid=({"lambda_z": 0.1}, {"lambda_z": 0.2})).differences(
        saved, explain=True
    )
    assert line == (
        "--engine-grid: saved lambda_z=0.1,steps=3;lambda_z=0.01,prune_at=none, "
        "now lambda_z=0.1;lambda_z=0.2"
    ), line
    (line,) = SweepSpec(**kw).differences(saved, explain=True)
    assert line.endswith("now none (the default)") and "{" not in line, line


def test_a_sweep_of_methods_without_the_engine_grows_by_a_latent_method_with_its_engine(
    tiny_generator, tmp_path
):
    """A folder of lasso-dct alone recorded the engine's defaults that none of its methods
    ran, and refused to grow by csgm with the engine this run passes (helper-77, with
    gaussian): the engine comes with the first latent method, as a grid comes with its
    method; once a latent method ran, the engine is a setting of the folder."""
    out = tmp_path / "g"
    Sweep(spec(tiny_generator, methods=("lasso-dct",), n_images=1, engine={}), out).run(
        progress=False
    )
    Sweep(spec(tiny_generator, methods=("lasso-dct", "csgm"), n_images=1), out).run(progress=False)
    assert json.loads((out / "sweep.json").read_text())["engine"] == ENGINE
    other = {**ENGINE, "steps": 6}
    with pytest.raises(ValueError, match="--steps: saved 5, now 6"):
        Sweep(spec(tiny_generator, methods=("lasso-dct", "csgm"), n_images=1, engine=other), out)


def test_a_report_says_the_method_options_the_sweep_set_by_their_flags(tiny_generator, tmp_path):
    """helper-76: summary.md labelled rows of iagan averaged with the Gaussian plain `iagan`
    (sweep.json alone held the weight): the options set away from their defaults are listed
    under the table, by their flags."""
    out = tmp_path / "o"
    options = {"gaussian": {"n_samples": 20}}
    s = spec(tiny_generator, methods=("gaussian", "lasso-dct"), n_images=1, options=options)
    Sweep(s, out).run(progress=False)
    text = report(out)
    assert "Settings set away from their defaults" in text
    assert "- gaussian: --gaussian-n-samples 20\n" in text
    assert "lasso-dct:" not in text and text == (out / "summary.md").read_text()
    assert "- the latent engine (every method that searches z): lr=0.05, restarts=2, steps=5" in (
        text
    )  # (helper-78: csgm's --steps 20 --restarts 1 were nowhere in summary.md)
    assert "- the sweep: --n-val 3\n" in text  # (spec's; N_VAL is 10)
    plain = tmp_path / "p"
    s = spec(tiny_generator, methods=("lasso-dct",), n_images=1, engine={}, n_val=N_VAL)
    Sweep(s, plain).run(progress=False)
    assert "Settings set away" not in report(plain)


def test_a_sweep_of_methods_without_g_grows_by_a_method_with_its_generator(
    tiny_generator, tmp_path
):
    """helper-78: a folder of lasso-dct alone saved generator = None (the CLI refuses
    --generator there) and then refused csgm with its generator as 'a different sweep'."""
    out = tmp_path / "g"
    alone = spec(tiny_generator, methods=("lasso-dct",), n_images=1, generator=None, engine={})
    Sweep(alone, out).run(progress=False)
    Sweep(spec(tiny_generator, methods=("lasso-dct", "csgm"), n_images=1), out).run(progress=False)
    assert json.loads((out / "sweep.json").read_text())["generator"] == tiny_generator
    with pytest.raises(ValueError, match="--generator: saved"):
        Sweep(spec("digits", methods=("lasso-dct", "csgm"), n_images=1), out)
