"""The peer benchmark against deepinv (benchmarks/peers.py) at a tiny size: both sides see the
same matrix and measurements, deepinv's sides run as its user writes them, the statistics, and a
resumable run. deepinv is an optional extra: the whole module skips without it."""

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

import ganinverse as gi
from ganinverse.interop.deepinv import from_deepinv

pytest.importorskip("deepinv", minversion="0.5")

ROOT = Path(__file__).resolve().parents[2]
SHAPE = (1, 8, 8)


@pytest.fixture(scope="module")
def peers(load_script):
    return load_script("peers")


def _x01(n, seed=0):
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


def test_both_sides_get_the_same_matrix_and_measurements(peers):
    physics = peers.make_physics(20, SHAPE, 0.1, seed=0)
    assert torch.equal(physics._A, peers.make_physics(20, SHAPE, 0.1, seed=0)._A)
    assert not torch.equal(physics._A, peers.make_physics(20, SHAPE, 0.1, seed=1)._A)
    op = from_deepinv(physics, SHAPE)
    assert op.noise.std == pytest.approx(0.2)  # σ on ganinverse's [-1, 1] scale
    x01 = _x01(3)
    y01 = peers.measure(physics, x01, 0.1, 0, "test", [5, 6, 7])
    noise = y01 - physics.A(x01)
    assert 0.05 < float(noise.std()) < 0.2
    # an image's measurements depend on its identity, not on its batch
    assert torch.allclose(
        peers.measure(physics, x01[1:2], 0.1, 0, "test", [6]), y01[1:2], atol=1e-6
    )
    # ours: the same measurements on the [-1, 1] scale, y = A x + 2·noise
    y = op.measurements_from_deepinv(y01)
    assert torch.allclose(y, op.A(2 * x01 - 1) + 2 * noise, atol=1e-5)
    assert peers.mse01(x01, x01) == [0.0, 0.0, 0.0]


def test_equal_quality_is_a_ci_that_contains_zero_or_favours_us(peers):
    same = peers.paired_difference([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert same["mean"] == 0 and same["equal"]
    worse = peers.paired_difference([0.2, 0.3, 0.4], [0.1, 0.2, 0.3])  # +0.1 on every image
    assert worse["mean"] == pytest.approx(0.1) and not worse["equal"]
    better = peers.paired_difference([0.0, 0.1, 0.2], [0.1, 0.2, 0.3])
    assert better["equal"] and better["ours_better"] == 3
    noisy = peers.paired_difference([0.2, 0.1, 0.3, 0.1], [0.1, 0.2, 0.1, 0.2])
    assert noisy["mean"] > 0 and noisy["mean"] - noisy["ci95"] <= 0 and noisy["equal"]
    with pytest.raises(ValueError, match="equal"):
        peers.paired_difference([0.1], [0.1, 0.2])


def test_the_time_ratio_and_its_bootstrap_ci(peers):
    assert peers.time_ratio([1.0] * 4, [10.0] * 4, n_boot=100) == (10.0, 10.0, 10.0)
    ratio, lo, hi = peers.time_ratio([1.0, 1.0, 1.0, 1.0], [5.0, 15.0, 5.0, 15.0], n_boot=2000)
    assert ratio == pytest.approx(10.0) and 5.0 <= lo < 10.0 < hi <= 15.0
    with pytest.raises(ValueError, match="equal"):
        peers.time_ratio([1.0], [1.0, 2.0])


def test_deepinvs_csgm_loop_runs_every_restart_and_seeds_each_image(peers, toy_generator):
    G = toy_generator
    physics = peers.make_physics(20, G.image_shape, 0.1, seed=0)
    with torch.no_grad():
        x01 = gi.to_unit(
            G(torch.randn(2, G.latent_dim, generator=torch.Generator().manual_seed(1)))
        )
    y01 = peers.measure(physics, x01, 0.1, 0, "test", [0, 1])
    options = dict(restarts=3, steps=4, lr=0.05, tol=0.0, seed=0)
    ticks = []
    out = peers.deepinv_csgm(G, physics, y01, [0, 1], tick=lambda: ticks.append(1), **options)
    assert out["x01"].shape == (2, *G.image_shape)
    assert out["work"] == [12, 12] and len(ticks) == 6  # 3 restarts x 4 steps, all run
    assert len(out["seconds"]) == 2 and out["total_seconds"] == pytest.approx(sum(out["seconds"]))
    alone = peers.deepinv_csgm(G, physics, y01[1:], [1], **options)
    assert torch.allclose(alone["x01"], out["x01"][1:])


def test_our_csgm_settings_come_from_a_tune_folder_or_the_card(peers, toy_generator, tmp_path):
    weights = {"csgm@20": {"value": {"init": "uniform", "lambda_z": 0.3}}}
    (tmp_path / "weights.json").write_text(json.dumps(weights))
    (tmp_path / "sweep.json").write_text(json.dumps({"engine": {"lr": 0.1, "prune_at": [0.5]}}))
    settings, source = peers.ours_csgm_settings(None, None, 20, str(tmp_path / "weights.json"))
    assert settings == {"lr": 0.1, "prune_at": (0.5,), "init": "uniform", "lambda_z": 0.3}
    assert "csgm@20" in source
    with pytest.raises(SystemExit, match="csgm@25"):
        peers.ours_csgm_settings(None, None, 25, str(tmp_path / "weights.json"))
    with pytest.raises(SystemExit, match="--tune-weights"):  # no card, no folder
        peers.ours_csgm_settings(toy_generator, None, 20, None)


def test_deepinvs_dip_and_wavelet_baselines_run_as_documented(peers):
    physics = peers.make_physics(30, SHAPE, 0.1, seed=0)
    x01 = _x01(2)
    y01 = peers.measure(physics, x01, 0.1, 0, "test", [0, 1])
    dip = peers.deepinv_dip(
        physics, y01, [0, 1], iterations=3, lr=0.01, channels=8, in_size=2, seed=0
    )
    assert dip["x01"].shape == x01.shape and dip["work"] == [3, 3]
    again = peers.deepinv_dip(
        physics, y01[1:], [1], iterations=3, lr=0.01, channels=8, in_size=2, seed=0
    )
    assert torch.allclose(again["x01"], dip["x01"][1:])  # a fresh, seeded network per image
    pytest.importorskip("ptwt")  # deepinv's WaveletPrior needs it
    options = dict(wavelet="haar", level=2, max_iter=20, tol=1e-5)
    lam, scores = peers.deepinv_wavelet_lambda(physics, x01, y01, [0.01, 1.0], **options)
    assert lam in (0.01, 1.0) and [s[0] for s in scores] == [0.01, 1.0]
    out = peers.deepinv_wavelet(physics, y01, lam, **options)
    assert out["x01"].shape == x01.shape and 1 <= out["work"][0] <= 20
    assert all(math.isfinite(v) for v in peers.mse01(out["x01"], x01))


def _rows(out: Path) -> list[dict]:
    with (out / "results.csv").open() as f:
        return list(csv.DictReader(f))


def test_a_tiny_run_writes_its_table_and_resumes(peers, tmp_path):
    tune = tmp_path / "tune"
    tune.mkdir()
    (tune / "weights.json").write_text(
        json.dumps({"csgm@20": {"value": {"init": "normal", "lambda_z": 0.1}}})
    )
    (tune / "sweep.json").write_text(json.dumps({"engine": {"lr": 0.1}}))
    pairs = "csgm,wavelet,dip" if importlib.util.find_spec("ptwt") else "csgm,dip"
    args = [
        "--generator", "digits", "--dataset", "digits", "--data-root", "", "--n", "2",
        "--n-dip", "1", "--n-val", "2", "--m", "20", "--pairs", pairs, "--steps", "5",
        "--restarts", "2", "--dip-steps", "2", "--dinv-dip-channels", "8", "--lambdas", "0.1,1",
        "--dinv-fista-iters", "5", "--boot", "50", "--tune-weights", str(tune / "weights.json"),
        "--out", str(tmp_path / "run"), "--no-progress",
    ]  # fmt: skip
    assert peers.main(args) == 0
    rows = _rows(tmp_path / "run")
    per_pair = {"csgm": 2, "wavelet": 2, "dip": 1}  # dip on the first --n-dip images
    assert len(rows) == sum(2 * per_pair[p] for p in pairs.split(","))
    assert {(r["pair"], r["side"]) for r in rows} == {
        (p, s) for p in pairs.split(",") for s in peers.SIDES
    }
    text = (tmp_path / "run" / "results.md").read_text()
    assert "| 20 | csgm | 2 |" in text and "deepinv/ours time" in text
    units = json.loads((tmp_path / "run" / "units.json").read_text())
    assert units["m20/csgm/ours"]["settings"]["lambda_z"] == 0.1
    # the same command again: every unit is done, nothing is appended
    peers.main(args)
    assert len(_rows(tmp_path / "run")) == len(rows)
    # another protocol into the same folder is refused
    with pytest.raises(SystemExit, match="steps"):
        peers.main([*args, "--steps", "6"])
