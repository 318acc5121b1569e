"""The Defense-GAN protocol benchmark (benchmarks/defensegan.py) at a tiny size: sklearn digits,
the bundled ``digits`` generator, 4 test images, 3 projection steps. The table is merged by key,
a rerun recomputes nothing, the projection MSE is ||D(x) − x||²/n of the defense itself, and
bad flags are refused before any file is written."""

import csv
import json
from pathlib import Path

import pytest
import torch

import ganinverse.defense.projection as projection
from ganinverse.data import load_images, to_unit
from ganinverse.defense import ProjectionDefense
from ganinverse.defense.attacks import FGSM, PGD
from ganinverse.exceptions import ZeroGradientWarning
from ganinverse.models import load_generator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script("defensegan")


def _args(tmp: Path, *extra: str) -> list[str]:
    return [
        "--dataset", "digits", "--data-root", "", "--generator", "digits", "--n", "4",
        "--n-test-clean", "12", "--train-n", "40", "--epochs", "1", "--rec-n", "6",
        "--rec-projection", "2,1", "--steps", "3", "--restarts", "2", "--pgd-steps", "2",
        "--batch", "3", "--out", str(tmp / "out"), "--models", str(tmp / "models"), *extra,
    ]  # fmt: skip


def _csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run(bench, tmp_path_factory):
    """One tiny run (shared by the tests that read its files)."""
    tmp = tmp_path_factory.mktemp("defensegan")
    bench.main(_args(tmp))
    return tmp


def test_a_run_writes_one_row_per_cell(run):
    rows = _csv(run / "out/table.csv")
    label = "defense-gan-L3-R2"  # not the published setting, so not "defense-gan"
    keys = {(r["model"], r["defense"], r["attack"]) for r in rows}
    assert keys == {
        (m, d, a)
        for m in ("A", "B", "A-rec")
        for d in ("none", label)
        for a in ("none", "fgsm", "pgd")
    }
    assert len(rows) == len(keys)
    clean = [r for r in rows if r["attack"] == "none"]
    assert {(r["norm"], r["eps"], r["n"]) for r in clean} == {("none", "0", "4")}
    for r in rows:
        acc, ci = float(r["accuracy"]), float(r["ci95"])
        assert 0 <= acc <= 1 and 0 < ci < 0.5 and float(r["seconds_per_image"]) >= 0
    protocol = (run / "out/protocol.json").read_text()
    assert '"test_accuracy"' in protocol and '"commit"' in protocol and "--rec-n" in protocol
    # which trained classifier the numbers came from (a model retrained at its path differs)
    from ganinverse.models import model_fingerprint

    info = json.loads(protocol)["classifiers"]
    assert info["A"]["fingerprint"] == model_fingerprint(run / "models" / "A", "classifier")


def test_the_table_is_merged_by_key(bench, tmp_path):
    path = tmp_path / "table.csv"
    row = dict(
        model="A", defense="none", attack="none", norm="none", eps="0", n=4, accuracy="0.5000",
        ci95="0.3", seconds_per_image="0.1",
    )  # fmt: skip
    other = {**row, "attack": "bpda", "norm": "inf", "eps": "0.3", "n": 100}  # a later item's
    bench.merge_table(path, [row, other])
    bench.merge_table(path, [{**row, "accuracy": "0.7500"}, {**row, "model": "B"}])
    rows = _csv(path)
    assert [(r["model"], r["attack"], r["accuracy"]) for r in rows] == [
        ("A", "none", "0.7500"),  # replaced in place
        ("A", "bpda", "0.5000"),  # kept
        ("B", "none", "0.5000"),  # appended
    ]
    path.write_text("model,accuracy\nA,0.5\n")  # not a table of ours: never overwritten
    with pytest.raises(ValueError, match="columns"):
        bench.merge_table(path, [row])
    assert path.read_text() == "model,accuracy\nA,0.5\n"


def test_the_wilson_interval(bench):
    # (1.96 √(0.25/100 + 1.96²/40000)) / (1 + 1.96²/100)
    assert bench.wilson_ci95(0.5, 100) == pytest.approx(0.0962, abs=1e-4)
    assert 0 < bench.wilson_ci95(1.0, 500) < 0.01  # defined at the ends


def test_a_rerun_recomputes_nothing(bench, run, monkeypatch):
    before = {p: p.read_bytes() for p in (run / "out").rglob("*.csv")}

    def boom(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(FGSM, "__call__", boom)
    monkeypatch.setattr(PGD, "__call__", boom)
    monkeypatch.setattr(projection, "optimize_latent", boom)  # every projection runs it
    monkeypatch.setattr(bench, "train_classifier", boom)
    bench.main(_args(run))
    after = {p: p.read_bytes() for p in (run / "out").rglob("*.csv")}
    assert after == before


def test_the_projection_mse_is_that_of_the_defense(bench, run):
    rows = {(r["images"], int(r["index"])): r for r in _csv(run / "out/projection.csv")}
    assert {k[0] for k in rows} == {
        f"{a}:0.3/{m}" for a in ("fgsm", "pgd") for m in ("A", "B", "A-rec")
    } | {"clean"}
    x, labels = load_images("digits", None, "test", n=4)
    x = to_unit(x).clamp(0, 1)
    G = load_generator("digits", device="cpu")
    D = ProjectionDefense(G, steps=3, restarts=2, seed=0)
    with torch.no_grad():
        direct = (D(x) - x).pow(2).flatten(1).mean(1)
    for i in range(4):
        assert float(rows[("clean", i)]["mse"]) == pytest.approx(float(direct[i]), rel=1e-4)
        assert int(rows[("clean", i)]["label"]) == int(labels[i])
    one = D(x[2:3])  # an image's projection does not depend on its batch
    assert float((one - x[2:3]).pow(2).mean()) == pytest.approx(float(direct[2]), rel=1e-4)


def test_the_attack_images_are_projected_once(bench, tmp_path, monkeypatch):
    """The MSE pass reuses the evaluation's projections: the engine runs once for the training
    projections of A-rec and once per defended cell (clean, fgsm, pgd) of A and A-rec, for no
    MSE (of the clean images, and of 2 attacks x 2 models)."""
    calls = []
    real = projection.optimize_latent
    monkeypatch.setattr(
        projection, "optimize_latent", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    bench.main([*_args(tmp_path), "--classifiers", "A", "--batch", "4"])
    assert len(calls) == 1 + 2 * 3  # one batch of 4 images per cell


@pytest.mark.parametrize(
    ("flag", "value", "match"),
    [
        ("--n", "0", "--n must be >= 1"),
        ("--steps", "0", "--steps must be >= 1"),
        ("--threads", "0", "--threads must be >= 1"),
        ("--rec-projection", "100", "--rec-projection must be STEPS,RESTARTS"),
        ("--rec-projection", "0,4", "--rec-projection steps must be >= 1"),
        ("--classifiers", "A,C", "--classifiers"),
        ("--attacks", "fgsm:30", "--attacks"),
        ("--rec-n", "-1", "--rec-n must be >= 0"),
    ],
)
def test_bad_flags_are_refused_before_any_file(bench, tmp_path, flag, value, match):
    with pytest.raises(ValueError, match=match):
        bench.main([*_args(tmp_path), flag, value])
    assert not (tmp_path / "out").exists() and not (tmp_path / "models").exists()


def test_a_rec_variant_needs_model_a(bench, tmp_path):
    with pytest.raises(ValueError, match="--rec-n trains a variant of model A"):
        bench.main([*_args(tmp_path), "--classifiers", "B"])
    assert not (tmp_path / "out").exists()


def test_a_classifier_of_other_settings_is_refused(bench, tmp_path):
    bench.main([*_args(tmp_path), "--classifiers", "B", "--rec-n", "0", "--n", "1"])
    with pytest.raises(ValueError, match="was trained with"):
        bench.main([*_args(tmp_path), "--classifiers", "B", "--rec-n", "0", "--epochs", "2"])


@pytest.fixture(scope="module")
def released(load_script):
    return load_script("defensegan_released")


def test_the_released_code_path_gives_a_zero_perturbation(released):
    """The released white-box code differentiates f(D(x)) through a loop that reaches x only
    through an argmin: its FGSM leaves every image unchanged."""
    G = load_generator("digits", device="cpu")
    x, labels = load_images("digits", None, "test", n=3)
    x = to_unit(x).clamp(0, 1)
    f = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(x[0].numel(), 10))
    defense = ProjectionDefense(G, steps=2, restarts=2)
    with pytest.warns(ZeroGradientWarning, match="exactly zero"):
        adv = FGSM(released.ReleasedGraph(defense, f), eps=0.3)(x, labels)
    assert torch.equal(adv, x)
    # the same FGSM through the tangent backward does move the images
    through = torch.nn.Sequential(ProjectionDefense(G, steps=2, restarts=2), f)
    assert (FGSM(through, eps=0.3)(x, labels) - x).abs().max() > 0.1


@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ZeroGradientWarning")
def test_released_rows_match_the_clean_defended_cell(released, run):
    """Its images are the clean images, so its accuracy is the clean defended cell's."""
    out = run / "out"
    released.main(["--out", str(out), "--models", str(run / "models"), "--n", "4",
                   "--classifiers", "A,B", "--batch", "3"])  # fmt: skip
    rows = {(r["model"], r["defense"], r["attack"]): r for r in _csv(out / "table.csv")}
    label = "defense-gan-L3-R2"
    for model in ("A", "B"):
        row = rows[(model, label, "fgsm_released")]
        assert row["accuracy"] == rows[(model, label, "none")]["accuracy"]
        assert (row["norm"], row["eps"], row["n"]) == ("inf", "0.3", "4")
    info = json.loads((out / "released.json").read_text())
    assert info["A"]["max_abs_delta"] == 0.0 and info["B"]["n"] == 4


@pytest.fixture(scope="module")
def attacks_bench(load_script):
    return load_script("defensegan_attacks")


def _attack_args(run: Path) -> list[str]:
    return [
        "--out", str(run / "out"), "--models", str(run / "models"), "--n", "4", "--chunk", "3",
        "--attacks", "bpda2:1,latent2:1,fgsm:0.3,bpda:0.3", "--pgd-steps", "2",
        "--bpda-steps", "1", "--latent-steps", "2", "--latent-restarts", "1",
        "--unroll-steps", "1", "--adv-n", "20", "--adv-epochs", "1", "--train-pgd-steps", "1",
        "--rm-n", "10", "--manifold-steps", "2", "--curve-n", "2", "--curve-attacks", "fgsm",
        "--curve-eps", "0.1,0.3", "--strong-eps", "0.3",
    ]  # fmt: skip


def test_the_attack_table_merges_complete_cells_and_resumes(attacks_bench, run, monkeypatch):
    """Item 3's driver: chunked cells combine to one row per (row, attack) over all n images;
    the rm row gets only each norm's strongest attack; a rerun recomputes nothing."""
    attacks_bench.main(_attack_args(run))
    rows = [r for r in _csv(run / "out/table.csv") if r["n"] == "4" and r["model"] != "B"]
    label = "defense-gan-L3-R2"
    got = {(r["model"], r["defense"], r["attack"], r["norm"]) for r in rows}
    for model, defense in (("A", "none"), ("A-adv", "none"), ("A", label)):
        for attack, norm in (("none", "none"), ("bpda", "2"), ("latent", "2"), ("fgsm", "inf"),
                             ("bpda", "inf")):  # fmt: skip
            assert (model, defense, attack, norm) in got
    rm = {(a, n) for m, d, a, n in got if m == "A-rm"}
    assert rm >= {("none", "none")} and len(rm) == 3  # clean + one attack per norm
    assert {n for _, n in rm} == {"none", "inf", "2"}
    folder = run / "out/attacks"
    assert (folder / "accuracy_vs_eps.png").is_file() and (folder / "curve.csv").is_file()
    assert len(list((folder / "table").glob("images-*/cells.json"))) == 2  # 4 images, chunks of 3
    # combined accuracy is the image-weighted mean of the chunks'
    cells = attacks_bench.combine(sorted((folder / "table").glob("images-*")), [3, 1])[
        "defense|FGSM ε=0.3"
    ]
    row = next(r for r in rows if (r["model"], r["defense"], r["attack"]) == ("A", label, "fgsm")
               and r["n"] == "4")  # fmt: skip
    assert float(row["accuracy"]) == pytest.approx(cells["accuracy"], abs=1e-4)
    # a rerun runs no attack and classifies nothing
    import ganinverse.defense.evaluate as ev

    monkeypatch.setattr(ev, "_batched", lambda *a, **k: pytest.fail("recomputed"))
    monkeypatch.setattr(ev, "correct_predictions", lambda *a, **k: pytest.fail("recomputed"))
    attacks_bench.main(_attack_args(run))
    # the progress view is written after each chunk, with the images done so far
    progress = folder / "progress.md"
    progress.unlink()
    seen = []
    real = attacks_bench.evaluate_defense

    def spy(rows, images, *a, **k):
        seen.append(progress.read_text() if progress.is_file() else None)
        return real(rows, images, *a, **k)

    monkeypatch.setattr(attacks_bench, "evaluate_defense", spy)
    attacks_bench.main(_attack_args(run))
    assert seen[0] is None and "| 3 |" in seen[1] and "| 4 |" not in seen[1]


def test_one_attack_at_more_steps_sits_beside_the_tables_cell(attacks_bench, run, load_script):
    """defensegan_steps.py: the same attack with other steps, in its own folder and CSV, beside
    the table's cell (its recorded steps); table.csv is left as it was."""
    attacks_bench.main(_attack_args(run))  # (the table's chunks: done once, then reused)
    steps = load_script("defensegan_steps")
    out = run / "out"
    table = (out / "table.csv").read_text()
    args = ["--out", str(out), "--models", str(run / "models"), "--n", "4", "--chunk", "3"]
    steps.main([*args, "--attack", "bpda2:1", "--steps", "2"])
    rows = _csv(out / "attacks/steps2.csv")
    assert [(r["steps"], r["n"], r["attack"], r["norm"]) for r in rows] == [
        ("1", "4", "bpda", "2"),  # the table's cell (--bpda-steps 1 there)
        ("2", "4", "bpda", "2"),
    ]
    cell = attacks_bench.combine(sorted((out / "attacks/table").glob("images-*")), [3, 1])
    assert float(rows[0]["accuracy"]) == pytest.approx(cell["defense|BPDA L2 ε=1"]["accuracy"])
    assert len(list((out / "attacks/steps2").glob("images-*/cells.json"))) == 2
    assert (out / "table.csv").read_text() == table
    with pytest.raises(ValueError, match="--steps must be >= 1"):
        steps.main([*args, "--steps", "0"])
    steps.main([*args, "--attack", "bpda2:1", "--steps", "2", "--keep-best", "--loss", "margin"])
    rows = _csv(out / "attacks/steps2-best-margin.csv")
    with pytest.raises(ValueError, match="--suffix must be"):
        steps.main([*args, "--suffix", "../x"])
    assert [(r["steps"], r["keep_best"], r["loss"]) for r in rows] == [
        ("1", "False", "ce"),  # the table's cell
        ("2", "True", "margin"),
    ]
    meta = json.loads((out / "attacks/steps2-best-margin/images-000-002/cells.json").read_text())
    assert meta["meta"]["settings"]["attack_loss"] == "margin"
