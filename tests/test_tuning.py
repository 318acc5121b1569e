"""``tune``: the recommended settings chosen on validation images, written to the card, read back
by the solvers; and ``ganinverse tune`` on the command line."""

import itertools
import json
import math

import pytest
import torch

import ganinverse as gi
from ganinverse.cli import main
from ganinverse.models import DCGANGenerator, load_generator, save_model
from ganinverse.tuning import default_grid, finalists, monotone_choice, tune, write_card

ENGINE = {"restarts": 2, "steps": 30, "lr": 0.1}
GRID = default_grid((0.3, 0.001), ("normal", "uniform"), None)  # the engine's 30 steps


@pytest.fixture
def generator(tmp_path):
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4)
    return str(save_model(G, tmp_path / "gen" / "generator", {"dataset": "digits"}))


def run_tune(generator, out, **kw):
    args = dict(dataset="digits", m_values=(20, 80), out=out, n_val=3, engine=ENGINE, grid=GRID)
    args["refine_top"] = 0  # one stage unless a test asks for the second
    return tune(generator, progress=False, **{**args, **kw})


def test_tune_picks_the_lowest_validation_mse_at_each_m(generator, tmp_path):
    block = run_tune(generator, tmp_path / "t")
    assert [row["m"] for row in block["by_m"]] == [20, 80]
    for row in block["by_m"]:
        scores = {json.dumps(v, sort_keys=True): mse for v, mse in row["validation_mse"]}
        assert len(scores) == len(GRID)
        best = min(scores, key=scores.get)
        assert json.dumps(row["settings"], sort_keys=True) == best
    assert block["noise_std"] == pytest.approx(0.2)  # σ = 0.1 on [0, 1] is 0.2 on [-1, 1]
    assert 0 < block["representation_error"] < 4
    saved = json.loads((tmp_path / "t" / "recommended.json").read_text())
    assert saved == json.loads(json.dumps(block))


def test_the_second_stage_rescores_the_finalists_on_more_images(generator, tmp_path):
    one = run_tune(generator, tmp_path / "one")
    two = run_tune(generator, tmp_path / "two", refine_top=2, refine_n_val=6)
    assert two["refine"] == {"top": 2, "n_val": 6} and "refine" not in one
    key = lambda c: json.dumps(c, sort_keys=True)  # noqa: E731
    for row_one, row in zip(one["by_m"], two["by_m"], strict=True):
        assert row["validation_mse"] == row_one["validation_mse"]  # the first stage is shared
        first = sorted(row["validation_mse"], key=lambda cv: cv[1])
        finalists_ = {key(c) for c, _ in first[:2]} | {key(row_one["settings"])}
        assert {key(c) for c, _ in row["refined_mse"]} == finalists_
        # the same candidate scored on 6 images, not 3: another number
        assert dict(map(lambda cv: (key(cv[0]), cv[1]), row["refined_mse"])) != {
            key(c): v for c, v in row["validation_mse"] if key(c) in finalists_
        }
    refined = {row["m"]: row["refined_mse"] for row in two["by_m"]}
    chosen = monotone_choice(refined)
    assert [key(row["settings"]) for row in two["by_m"]] == [key(chosen[m]) for m in (20, 80)]
    assert (tmp_path / "two" / "refine" / "m20" / "weights.json").is_file()
    # no search runs any more: the marks' folders are gone (first stage and second)
    assert not list((tmp_path / "two").rglob("searching"))


def test_finalists_are_the_best_few_and_the_first_choice_in_search_order():
    search = [({"lambda_z": 1.0}, 0.5), ({"lambda_z": 0.1}, 0.2), ({"lambda_z": 0.01}, None)]
    search += [({"lambda_z": 0.001}, 0.3)]
    assert finalists(search, 1, {"lambda_z": 1.0}) == [{"lambda_z": 1.0}, {"lambda_z": 0.1}]
    assert finalists(search, 5, {"lambda_z": 0.1}) == [
        {"lambda_z": 1.0},
        {"lambda_z": 0.1},
        {"lambda_z": 0.001},
    ]


def test_tune_resumes_from_its_recorded_search(generator, tmp_path, monkeypatch):
    first = run_tune(generator, tmp_path / "t", refine_top=1, refine_n_val=5)

    def no_search(*a, **k):
        raise AssertionError("a recorded search was run again")

    monkeypatch.setattr("ganinverse.sweep.runner.choose_weight", no_search)
    assert run_tune(generator, tmp_path / "t", refine_top=1, refine_n_val=5) == first


def test_the_card_written_by_tune_is_what_csgm_runs(generator, tmp_path):
    block = run_tune(generator, tmp_path / "t")
    write_card(generator, block)
    G = load_generator(generator, device="cpu")
    A = gi.GaussianCS(G.image_shape, 80, seed=0, noise_std=0.2)
    x, _ = gi.load_images("digits", split="test", n=2)
    res = gi.csgm(G, A, A.measure(x, seed=1))
    chosen = block["by_m"][1]["settings"]
    assert res.config.lambda_z == pytest.approx(chosen["lambda_z"])
    assert res.config.init == chosen["init"] and res.config.steps == ENGINE["steps"]
    assert G.checkpoint_config["dataset"] == "digits"  # the rest of the card is kept


def test_bad_arguments_are_refused_before_any_file(generator, tmp_path):
    with pytest.raises(ValueError, match="m_values"):
        run_tune(generator, tmp_path / "a", m_values=())
    with pytest.raises(ValueError, match="n_val"):
        run_tune(generator, tmp_path / "b", n_val=0)
    with pytest.raises(ValueError, match="noise_std"):
        run_tune(generator, tmp_path / "c", noise_std=-1.0)
    with pytest.raises(ValueError, match="refine_n_val must be >= 4"):
        run_tune(generator, tmp_path / "d", refine_top=2, refine_n_val=3)
    with pytest.raises(ValueError, match="refine_n_val .* validation images from the train"):
        run_tune(generator, tmp_path / "e", refine_top=2, refine_n_val=10**6)
    with pytest.raises(ValueError, match="refine_top must be >= 0"):
        run_tune(generator, tmp_path / "f", refine_top=-1)
    assert not any((tmp_path / d).exists() for d in "abcdef")


def test_tune_on_the_command_line(generator, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["tune", "--generator", generator, "--dataset", "digits", "--m", "20", "--n-val", "2"]
    argv += ["--lambda-z-grid", "0.3,0.001", "--init-grid", "uniform", "--steps", "20"]
    argv += ["--restarts", "2", "--no-progress", "--out", str(out), "--write-card"]
    assert main(argv) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "m = 20:" in text and "written to the card" in text
    assert "validation MSE on 10 images" in text  # the second stage: 5 x --n-val
    assert load_generator(generator, device="cpu").checkpoint_config["recommended"]["csgm"]


@pytest.mark.parametrize(
    "flags, message",
    [
        # (each entry by its flag, as sweep's; helper-70: 'steps_grid[0]', the API's name)
        (
            ["--init-grid", "gaussian"],
            "--init-grid: entry 1 of 1 (gaussian): init must be one of 'normal', 'uniform'",
        ),
        (["--lambda-z-grid", "-1"], "--lambda-z-grid: entry 1 of 1 (-1): lambda_z must be >= 0"),
        (
            ["--lambda-z-grid", "0.1,nan"],
            "--lambda-z-grid: entry 2 of 2 (nan): lambda_z must be a finite",
        ),
        (["--steps-grid", "10,0"], "--steps-grid: entry 2 of 2 (0): steps must be >= 1"),
        (["--restarts", "0"], "--restarts: restarts must be >= 1"),
        (["--refine-n-val", "20"], "--refine-n-val: refine_n_val must be >= 21"),
        (["--refine-top", "-2"], "--refine-top: refine_top must be >= 0"),
        (["--m", "0"], "--m: m must be >= 1, got 0"),
        (["--n-val", "5000"], "--n-val: n_val = 5000 validation images from the train split"),
        (["--dataset", "digitz"], "--dataset: dataset must be one of"),
    ],
)
def test_the_command_line_names_the_bad_flag(generator, tmp_path, capsys, flags, message):
    out = tmp_path / "bad"
    base = {"--generator": generator, "--dataset": "digits", "--m": "20"}
    argv = ["tune"] + [t for k, v in base.items() if k != flags[0] for t in (k, v)]
    assert main([*argv, *flags, "--no-progress", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_default_grid_searches_steps_unless_steps_is_given(monkeypatch, generator, tmp_path):
    grids = []
    monkeypatch.setattr(
        "ganinverse.cli.tune.tune",
        lambda *a, grid, **k: grids.append(grid) or {"by_m": [], "representation_error": 0},
    )
    argv = ["tune", "--generator", generator, "--dataset", "digits", "--m", "20"]
    argv += ["--lambda-z-grid", "0.1", "--init-grid", "normal", "--out", str(tmp_path / "o")]
    main([*argv])
    main([*argv, "--steps", "40"])
    main([*argv, "--steps", "40", "--steps-grid", "50,60"])
    assert [{c.get("steps") for c in g} for g in grids] == [{300, 1000}, {None}, {50, 60}]


def test_default_grid_is_the_product_of_its_axes_and_checks_them():
    grid = default_grid((1.0, 0.1), ("normal",), (300, 1000))
    assert len(grid) == 4 and {c["steps"] for c in grid} == {300, 1000}
    assert {c["lambda_z"] for c in grid} == {1.0, 0.1}
    with pytest.raises(ValueError, match="lambda_z_grid must be a non-empty list"):
        default_grid(())
    with pytest.raises(TypeError, match="steps_grid\\[0\\] must be an int"):
        default_grid(steps=(2.5,))
    with pytest.raises(ValueError, match=r"^init_grid\[1\] must be one of"):
        default_grid(init=("normal", "gauss"))
    flags = {"lambda_z_grid": "-L", "init_grid": "-I", "steps_grid": "-S"}
    with pytest.raises(TypeError, match=r"^-S: entry 1 of 2 \(2\.5\): steps must be an int"):
        default_grid(steps=(2.5, 3), flags=flags)


def test_reconstruct_says_which_settings_it_used(generator, tmp_path, capsys):
    write_card(generator, run_tune(generator, tmp_path / "t"))
    argv = ["reconstruct", "--dataset", "digits", "--generator", generator, "--m", "80"]
    argv += ["--noise-std", "0.1", "--no-progress", "--out", str(tmp_path / "r")]
    assert main(argv) == 0, capsys.readouterr().err
    assert "engine settings: recommended by the generator's card" in capsys.readouterr().out
    assert main([*argv[:-1], str(tmp_path / "r2"), "--steps", "5"]) == 0
    assert "set on the command line: steps" in capsys.readouterr().out


def _search(mses: dict[float, float]) -> list:
    return [({"lambda_z": lam, "init": "normal"}, v) for lam, v in mses.items()]


def test_monotone_choice_keeps_argmins_that_already_fall_with_m():
    searches = {10: _search({1.0: 0.5, 0.1: 0.7}), 100: _search({1.0: 0.3, 0.1: 0.2})}
    chosen = monotone_choice(searches)
    assert [chosen[m]["lambda_z"] for m in (10, 100)] == [1.0, 0.1]


def test_monotone_choice_smooths_a_zig_zag_of_near_ties():
    searches = {
        10: _search({1.0: 0.0696, 0.3: 0.0674, 0.1: 0.0721}),
        25: _search({1.0: 0.0306, 0.3: 0.0310, 0.1: 0.0307}),
        50: _search({1.0: 0.02, 0.3: 0.015, 0.1: 0.0115}),
    }
    lams = [monotone_choice(searches)[m]["lambda_z"] for m in (10, 25, 50)]
    assert lams == sorted(lams, reverse=True) and lams[0] == 0.3


def _cost(searches, path):
    """Σ_m log(MSE_m / best MSE_m) of a path of λ_z values (m in increasing order)."""
    total = 0.0
    for (_, search), lam in zip(sorted(searches.items()), path, strict=True):
        mses = {c["lambda_z"]: v for c, v in search}
        total += math.log(mses[lam] / min(mses.values()))
    return total


def test_monotone_choice_is_the_exact_optimum():
    gen = torch.Generator().manual_seed(0)
    lams = (1.0, 0.3, 0.1, 0.03)
    for _ in range(20):
        searches = {
            m: _search(dict(zip(lams, (torch.rand(4, generator=gen) + 0.1).tolist(), strict=True)))
            for m in (10, 30, 90)
        }
        paths = [p for p in itertools.product(lams, repeat=3) if p[0] >= p[1] >= p[2]]
        chosen = monotone_choice(searches)
        got = tuple(chosen[m]["lambda_z"] for m in (10, 30, 90))
        assert got[0] >= got[1] >= got[2]
        assert _cost(searches, got) == pytest.approx(min(_cost(searches, p) for p in paths))


def test_monotone_choice_never_picks_a_diverged_candidate():
    searches = {10: _search({1.0: None, 0.1: 0.5}), 20: _search({1.0: 0.1, 0.1: None})}
    with pytest.raises(ValueError, match="no non-increasing"):
        monotone_choice(searches)
    with pytest.raises(ValueError, match="every candidate diverged at m = 5"):
        monotone_choice({5: _search({1.0: None})})


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--write-card"], "--write-card: 'digits' is a bundled generator"),
        (["--bundled-card"], "--bundled-card only applies with --write-card"),
    ],
)
def test_a_bundled_card_is_never_overwritten_by_accident(tmp_path, capsys, flags, message):
    """The shipped card sets every default of gi.csgm on that generator: replacing it needs
    --bundled-card, and the refusal comes before any search or file."""
    from ganinverse.models.registry import resolve

    card = resolve("digits", "generator").with_suffix(".json")
    before = card.read_bytes()
    out = tmp_path / "t"
    argv = ["tune", "--generator", "digits", "--dataset", "digits", "--m", "20", "--n-val", "2"]
    assert main([*argv, *flags, "--steps", "2", "--no-progress", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert card.read_bytes() == before and not out.exists()


def test_a_setting_whose_runs_no_step_improved_is_flagged_in_the_recommendation(tmp_path, capsys):
    """User trial: tune's recommendation carried no status: a setting chosen although no step
    improved the start of its validation images looked like any other."""
    import warnings

    from ganinverse.exceptions import ConvergenceWarning

    out = tmp_path / "t"
    argv = ["tune", "--generator", "digits", "--dataset", "digits", "--m", "20", "--n-val", "2"]
    argv += ["--steps", "1", "--restarts", "1", "--lr", "1e5", "--lambda-z-grid", "0.1"]
    argv += ["--init-grid", "normal", "--refine-top", "0", "--no-progress", "--out", str(out)]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert main(argv) == 0
    assert any(issubclass(w.category, ConvergenceWarning) for w in seen)
    text = capsys.readouterr().out
    assert "FLAGGED: not_improved on 2 of 2 validation images" in text
    block = json.loads((out / "recommended.json").read_text())
    assert block["by_m"][0]["flagged"] == {"not_improved": 2}
    # helper-49: ρ² (which sets λ_z on every later call) came from the same non-improved
    # projection and was written without a flag
    k = block["representation_error_flagged"]["not_improved"]  # (λ_z = 0 there: 1 of 2)
    assert k >= 1 and f"ρ² = {block['representation_error']:.5f}" in text
    assert f"per pixel ([-1, 1]) (FLAGGED: not_improved on {k} of 2 validation images" in text
    rho = json.loads((out / "representation_error.json").read_text())
    assert rho["flagged"] == {"not_improved": k}
    G = gi.load_generator("digits")
    G.checkpoint_config = {**G.checkpoint_config, "recommended": {"csgm": block}}
    from ganinverse.recommended import recommended_config

    _, source = recommended_config(G, gi.GaussianCS((1, 28, 28), 20), gi.LatentConfig())
    assert f"ρ² is FLAGGED (not_improved on {k} validation images)" in source
    entry = json.loads((out / "weights.json").read_text())["csgm@20"]
    assert entry["flagged"] == [[{"init": "normal", "lambda_z": 0.1}, {"not_improved": 2}]]


def test_refine_top_beyond_the_grid_is_refused_and_its_default_fits_a_small_grid(tmp_path, capsys):
    """User trial: --refine-top 100 with 14 candidates was accepted."""
    argv = ["tune", "--generator", "digits", "--dataset", "digits", "--m", "20", "--n-val", "1"]
    argv += ["--steps", "2", "--restarts", "1", "--lambda-z-grid", "0.1,0.01", "--init-grid"]
    argv += ["normal", "--no-progress", "--out", str(tmp_path / "new" / "t")]
    assert main([*argv, "--refine-top", "3"]) == 2
    err = capsys.readouterr().err
    assert "refine_top = 3 (--refine-top) exceeds the 2 candidates" in err
    assert not (tmp_path / "new").exists()


def test_a_generator_of_another_dataset_is_refused_and_named_before_the_folder(
    generator, tmp_path, capsys
):
    """User trial (helper-40): tune --generator mnist-dcgan --dataset digits ran (its card
    would record settings for the wrong data); a missing generator with --out an existing
    tune folder of other settings was reported as "other settings" instead of missing."""
    out = tmp_path / "bad"
    argv = ["tune", "--dataset", "digits", "--m", "20", "--no-progress", "--out", str(out)]
    assert main([*argv, "--generator", "mnist-dcgan"]) == 2
    assert "generator mnist-dcgan was trained on mnist, but --dataset is digits" in (
        capsys.readouterr().err
    )
    assert not out.exists()
    run_tune(generator, tmp_path / "done", m_values=(20,))
    missing = str(tmp_path / "nothing")
    argv[-1] = str(tmp_path / "done")
    assert main([*argv, "--generator", missing]) == 2
    assert f"no generator named {missing!r}" in capsys.readouterr().err


def test_a_representation_error_from_a_projection_still_descending_is_flagged(tmp_path, capsys):
    """helper-50: tune --steps 1 printed ρ² = 0.36 (the card's, from 1000 steps: 0.0074) with
    no flag, since one step improved the start; running the projection's steps once more from
    ẑ now tells a projection still descending from a converged one."""
    argv = ["tune", "--generator", "digits", "--dataset", "digits", "--m", "20", "--n-val", "2"]
    argv += ["--restarts", "1", "--init-grid", "normal"]
    argv += ["--refine-top", "0", "--no-progress", "--device", "cpu"]
    short = ["--steps", "1", "--lambda-z-grid", "0.01,0.001", "--out", str(tmp_path / "short")]
    assert main([*argv, *short]) == 0
    text = capsys.readouterr().out
    assert "(FLAGGED: not_converged on 2 of 2 validation images" in text, text
    # helper-50: one Adam step ignores λ_z's scale: both candidates scored the same, and the
    # printout named one as the choice without saying so
    assert 'TIED with 1 other candidate(s) ({"init": "normal", "lambda_z": 0.001})' in text
    block = json.loads((tmp_path / "short" / "recommended.json").read_text())
    assert block["representation_error_flagged"] == {"not_converged": 2}
    long = ["--steps", "1000", "--lambda-z-grid", "0.01", "--out", str(tmp_path / "long")]
    assert main([*argv, *long]) == 0
    text = capsys.readouterr().out
    assert "ρ² = " in text and "FLAGGED" not in text.split("ρ² = ")[1].split("\n")[0], text
    long = json.loads((tmp_path / "long" / "recommended.json").read_text())
    assert "representation_error_flagged" not in long
    assert long["representation_error"] < block["representation_error"] / 5


def test_a_tie_in_the_first_stage_is_said_when_the_second_rescored_one(tmp_path, capsys):
    """helper-53: with --refine-top 1 the tie check saw one refined candidate and missed that
    the first stage had tied λ_z = 1e-12 and 2e-12."""
    argv = ["tune", "--generator", "digits", "--dataset", "digits", "--m", "25", "--n-val", "2"]
    argv += ["--lambda-z-grid", "1e-12,2e-12", "--init-grid", "normal", "--steps", "3"]
    argv += ["--restarts", "1", "--refine-top", "1", "--refine-n-val", "3", "--no-progress"]
    assert main([*argv, "--device", "cpu", "--out", str(tmp_path / "t")]) == 0
    assert "TIED with 1 other candidate(s)" in capsys.readouterr().out


def test_settings_tuned_on_a_generator_that_learned_nothing_are_flagged(tmp_path, capsys):
    """helper-56 (left in session 24): tune warned when it loaded such a generator, but its
    recommended.json (and so the card block and csgm's line) kept no trace of it."""
    from ganinverse.exceptions import ConvergenceWarning
    from ganinverse.models import MLPGenerator
    from ganinverse.recommended import recommended_config

    torch.manual_seed(0)
    G = MLPGenerator(latent_dim=4, image_shape=(1, 28, 28), hidden=(16,)).eval()
    why = "the losses diverged (g_loss = 1e4 at the last step)"
    bad = str(
        save_model(G, tmp_path / "bad" / "generator", {"dataset": "digits", "training_status": why})
    )
    argv = ["tune", "--dataset", "digits", "--m", "20", "--n-val", "2", "--steps", "3"]
    argv += ["--restarts", "1", "--lambda-z-grid", "0.01", "--init-grid", "normal"]
    argv += ["--refine-top", "0", "--no-progress", "--device", "cpu"]
    with pytest.warns(ConvergenceWarning, match="learned nothing"):
        assert main([*argv, "--generator", bad, "--out", str(tmp_path / "t")]) == 0
    assert f"FLAGGED: the generator was recorded as having learned nothing ({why})" in (
        capsys.readouterr().out
    )
    block = json.loads((tmp_path / "t" / "recommended.json").read_text())
    assert block["generator_training_status"] == why
    config = recommended_config(G, gi.GaussianCS((1, 28, 28), 20), gi.LatentConfig())
    assert config is None  # (G itself has no card block; one from the block:)
    G.checkpoint_config = {"recommended": {"csgm": block}}
    _, source = recommended_config(G, gi.GaussianCS((1, 28, 28), 20), gi.LatentConfig())
    assert f"FLAGGED: tuned on a generator recorded as having learned nothing ({why})" in source
    ok = str(
        save_model(G, tmp_path / "ok" / "generator", {"dataset": "digits", "training_status": "ok"})
    )
    assert main([*argv, "--generator", ok, "--out", str(tmp_path / "t2")]) == 0
    assert "learned nothing" not in capsys.readouterr().out
    block = json.loads((tmp_path / "t2" / "recommended.json").read_text())
    assert block["generator_training_status"] == "ok"
