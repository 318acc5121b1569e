"""A run that learned nothing says so (ConvergenceWarning + ``training_status``), a run whose
losses became non-finite is one clear error that leaves ``out`` as it was, and healthy tiny runs
pass unflagged."""

import json
import os
import re
import signal
import sys
import warnings

import pytest
import torch

from ganinverse.exceptions import ConvergenceWarning
from pretrain.cli import main
from pretrain.trainer import TrainConfig, Trainer, TrainingDiverged, load_training_data, train
from pretrain.verdict import (
    COLLAPSE_RATIO,
    LOSS_LIMIT,
    TRAINING_OK,
    elbo_problem,
    generator_problems,
    sample_stats,
)

GAN = dict(dataset="digits", n_train=64, latent_dim=8, ngf=4, ndf=4, batch_size=16)
MLP_GAN = dict(dataset="digits", n_train=64, latent_dim=8, arch="mlp", hidden=[16], ndf=4)
VAE = dict(dataset="digits", n_train=64, loss="vae", arch="mlp", latent_dim=4, hidden=[16])
COMMON = dict(device="cpu", progress=False, log_every=1)


def _cfg(out, **kw):
    return TrainConfig(out=str(out), **{**COMMON, **kw})


def _flags(**kw):
    args = []
    for key, value in kw.items():
        args += [
            f"--{key.replace('_', '-')}",
            *map(str, value if isinstance(value, list) else [value]),
        ]
    return [*args, "--device", "cpu", "--no-progress"]


def _json(path):
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- the rules
def test_sample_stats_reads_saturation_spread_and_non_finite_samples():
    x = torch.tensor([[-1.0, 0.0], [1.0, 0.5]]).view(2, 1, 1, 2)
    assert sample_stats(x) == {"finite": True, "saturated": 0.5, "spread": 0.625}
    assert sample_stats(torch.full((2, 1, 1, 2), float("nan")))["finite"] is False


DATA = {"finite": True, "saturated": 0.3, "spread": 0.4}
FRESH = {"finite": True, "saturated": 0.0, "spread": 0.05}


@pytest.mark.parametrize(
    "end,data,losses,match",
    [
        ({"finite": False, "saturated": None, "spread": None}, DATA, None, "not finite"),
        (FRESH, DATA, {"d_loss": 0.0, "g_loss": 1.2e13}, r"losses diverged \(g_loss = 1.2e\+13"),
        (FRESH, DATA, {"d_loss": float("nan"), "g_loss": 1.0}, "losses diverged"),
        ({**FRESH, "saturated": 1.0}, DATA, None, r"saturated \(100.0% .* images 30.0%"),
        ({**FRESH, "spread": 0.0}, DATA, None, "identical across z"),
    ],
    ids=["non-finite", "exploded", "nan loss", "saturated", "collapsed"],
)
def test_each_rule_fires_on_a_broken_generator(end, data, losses, match):
    problems = generator_problems(end, FRESH, data, losses)
    assert len(problems) == 1 and re.search(match, problems[0]), problems


@pytest.mark.parametrize(
    "loss, limit", [("gan", 1e3), ("lsgan", 1e3), ("wgan", 1e6), ("wgan-gp", 1e6)]
)
def test_a_loss_diverges_at_its_own_limit(loss, limit):
    """helper-55: --lr-d 5 for 10 steps ended "ok" with d_loss 0.0 and g_loss 1.36e4 (the one
    limit, 1e6, was the Wasserstein critics'); the GAN losses' healthy values stay within ~30
    (digits, lr 0.05: g_loss 30.9), the critics' have no scale of their own."""
    from pretrain.losses import LOSSES

    assert LOSSES[loss].loss_limit == limit
    losses = {"d_loss": 0.0, "g_loss": 1.36e4}
    flagged = generator_problems(FRESH, FRESH, DATA, losses, LOSSES[loss].loss_limit)
    assert bool(flagged) == (limit < 1.36e4)
    assert generator_problems(FRESH, FRESH, DATA, {"d_loss": 0.36, "g_loss": 30.9}, limit) == []


def test_the_rules_pass_generators_like_healthy_ones():
    # an untrained generator, and the bundled MNIST generators' statistics (80% of pixels at
    # ±1: the data's background) with losses as large as any bundled run logged
    assert generator_problems(FRESH, FRESH, DATA, {"d_loss": 1.4, "g_loss": 0.7}) == []
    mnist = {"finite": True, "saturated": 0.85, "spread": 0.3}
    trained = {"finite": True, "saturated": 0.8, "spread": 0.37}
    assert generator_problems(trained, FRESH, mnist, {"d_loss": -16.3, "g_loss": -19.0}) == []
    assert generator_problems(trained, FRESH, DATA, {"g_loss": 0.99 * LOSS_LIMIT}) == []
    # all pixels at ±1 is no fault when the training images are (nearly) binary themselves
    binary = {"finite": True, "saturated": 0.95, "spread": 0.9}
    assert generator_problems({**trained, "saturated": 1.0}, FRESH, binary, None) == []
    # a spread just above the collapse line, and data all alike (nothing to spread over)
    low = {**trained, "spread": 1.01 * COLLAPSE_RATIO * DATA["spread"]}
    assert generator_problems(low, FRESH, DATA, None) == []
    assert (
        generator_problems({**trained, "spread": 0.0}, FRESH, {**DATA, "spread": 0.0}, None) == []
    )


@pytest.mark.parametrize(
    "end,data",
    [
        (0.9315, 0.3114),  # measured: digits, dcgan, --loss gan --lr 0.5, 10 steps
        (0.965, 0.3114),  # helper-54: mlp, --loss gan --lr 0.5, 10 steps
        (0.97, 0.85),  # MNIST-like data: a quarter of its 15% in-between pixels is 3.75%
    ],
)
def test_a_generator_with_few_pixels_between_plus_and_minus_one_is_saturated(end, data):
    problems = generator_problems(
        {**FRESH, "saturated": end, "spread": 0.5}, FRESH, {**DATA, "saturated": data}, None
    )
    assert len(problems) == 1 and "tanh output saturated" in problems[0], problems


@pytest.mark.parametrize(
    "end,data",
    [
        (0.7969, 0.8285),  # the bundled generators, 128 latents, against their training images
        (0.6761, 0.8285),
        (0.4667, 0.5357),
        (0.0141, 0.0157),
        (0.0091, 0.3114),
        (0.82, 0.3114),  # digits: just above a quarter of the data's in-between pixels
        (0.955, 0.85),
    ],
)
def test_a_generator_with_in_between_pixels_like_its_data_is_not_saturated(end, data):
    stats = {**FRESH, "saturated": end, "spread": 0.5}
    assert generator_problems(stats, FRESH, {**DATA, "saturated": data}, None) == []


def test_the_elbo_must_fall():
    assert elbo_problem(565.4, 561.5) == ("", False)  # a healthy first step
    clause, rose = elbo_problem(565.4, 8.5e30)
    assert rose and "rose (565.4 nats at step 0, 8.5e+30 now)" in clause
    assert elbo_problem(565.4, float("nan"))[1]
    clause, rose = elbo_problem(565.4, 565.3, 64)
    assert not rose and "of 64 training images did not fall by more than 0.1%" in clause


# ----------------------------------------------------------------------------- healthy runs
@pytest.mark.parametrize(
    "kw",
    [
        dict(GAN, loss="gan", steps=1),
        dict(GAN, loss="wgan-gp", steps=3),
        dict(MLP_GAN, loss="lsgan", steps=3),
        dict(VAE, steps=2),
    ],
    ids=["gan 1 step", "wgan-gp", "lsgan mlp", "vae"],
)
def test_a_healthy_tiny_run_is_recorded_ok_and_does_not_warn(tmp_path, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        trainer = train(_cfg(tmp_path, **kw))
    assert trainer.training_status == TRAINING_OK
    card, state = _json(tmp_path / "generator.json"), _json(tmp_path / "checkpoint.json")
    assert card["training_status"] == state["training_status"] == TRAINING_OK
    check = card["training_check"]
    assert check["step"] == kw["steps"] and check["samples"]["saturated"] < 0.5
    assert check["samples"]["spread"] > 10 * COLLAPSE_RATIO * check["training_images"]["spread"]
    if kw.get("loss") == "vae":
        assert check["neg_elbo"]["now"] < check["neg_elbo"]["step_0"]


def test_an_intermediate_save_is_not_judged(tmp_path):
    train(_cfg(tmp_path, **GAN, steps=2))
    card = _json(tmp_path / "generator.json")
    assert card["training_status"] == TRAINING_OK
    cfg = _cfg(tmp_path, **GAN, steps=3)
    trainer = Trainer(cfg, load_training_data(cfg), resume=True)
    trainer.step = 3
    trainer.save()  # a periodic save: no verdict, so none recorded (not a stale one)
    assert "training_status" not in _json(tmp_path / "generator.json")


# ----------------------------------------------------------------------------- A: learned nothing
def test_a_diverged_gan_warns_and_records_why(tmp_path):
    """The trial's run (--lr 1e5) printed "trained to step 20" with d_loss 0, g_loss 1e13."""
    with pytest.warns(ConvergenceWarning, match=r"learned nothing by step 6: the losses diverged"):
        trainer = train(_cfg(tmp_path, **GAN, steps=6, lr=1e5))
    status = trainer.training_status
    assert "saturated (100.0% of the pixels" in status
    assert status.endswith(
        "start a new run with a lower lr (--lr, now 1e+05; the gan default is 0.0002)"
    )
    card = _json(tmp_path / "generator.json")
    assert (
        card["training_status"] == status == _json(tmp_path / "checkpoint.json")["training_status"]
    )
    check = card["training_check"]
    assert check["samples"]["saturated"] == 1.0 and check["samples_at_step_0"]["saturated"] == 0.0
    assert check["last_losses"]["g_loss"] > LOSS_LIMIT
    # the run is still a run: the generator loads and a resume judges it again
    with pytest.warns(ConvergenceWarning):
        assert train(_cfg(tmp_path, **GAN, steps=7, lr=1e5), resume=True).step == 7
    assert _json(tmp_path / "generator.json")["training_check"]["step"] == 7


def test_a_gan_whose_discriminator_ran_away_warns(tmp_path):
    """helper-55: the discriminator's lr 5 (d_loss 0.0, g_loss 1.36e4 after 10 steps) was "ok";
    the fix names --lr-d."""
    with pytest.warns(ConvergenceWarning, match=r"the losses diverged \(g_loss = .*or lr_d"):
        trainer = train(_cfg(tmp_path, **GAN, steps=10, lr_d=5.0))
    assert abs(trainer.training_check["last_losses"]["g_loss"]) >= 1e3


def test_a_gan_whose_large_lr_saturated_most_pixels_warns(tmp_path):
    """helper-54: --loss gan --lr 0.5 for 10 steps ended "ok" with 96.5% of its pixels at ±1
    (the old rule asked 98%), d_loss 0 and g_loss 795."""
    big = dict(GAN, n_train=None, ngf=16, ndf=16, latent_dim=16, batch_size=32)
    with pytest.warns(ConvergenceWarning, match=r"tanh output saturated"):
        trainer = train(_cfg(tmp_path, **big, steps=10, lr=0.5))
    check = _json(tmp_path / "generator.json")["training_check"]
    assert trainer.training_status != TRAINING_OK
    assert 1 - check["samples"]["saturated"] < 0.25 * (1 - check["training_images"]["saturated"])


def test_a_gan_with_a_diverged_discriminator_lr_names_lr_d(tmp_path):
    with pytest.warns(ConvergenceWarning, match=r"or lr_d \(--lr-d, now 1e\+05\)"):
        train(_cfg(tmp_path, **GAN, loss="lsgan", steps=4, lr_d=1e5))


def test_a_vae_whose_elbo_did_not_fall_says_raise_lr_or_steps(tmp_path):
    with pytest.warns(ConvergenceWarning, match="did not fall by more than 0.1%") as caught:
        train(_cfg(tmp_path, **VAE, steps=3, lr=1e-9))
    assert "resume with more steps (--resume --steps, now 3)" in str(caught[0].message)
    assert "higher lr (--lr, now 1e-09)" in str(caught[0].message)
    check = _json(tmp_path / "generator.json")["training_check"]
    assert check["neg_elbo"]["now"] == pytest.approx(check["neg_elbo"]["step_0"], rel=1e-3)


def test_an_interrupted_run_is_judged_too(tmp_path, monkeypatch):
    original = Trainer.train_step

    def interrupting(self, s):
        out = original(self, s)
        if s == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(Trainer, "train_step", interrupting)
    with pytest.raises(KeyboardInterrupt), pytest.warns(ConvergenceWarning, match="by step 3"):
        train(_cfg(tmp_path, **GAN, steps=10, lr=1e5))
    card = _json(tmp_path / "generator.json")
    assert card["steps"] == 3 and "diverged" in card["training_status"]


def test_the_cli_prints_the_verdict_of_a_run_that_learned_nothing(tmp_path, capsys, monkeypatch):
    def show(message, category, filename, lineno, file=None, line=None):  # (pytest records them)
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "showwarning", show)
        assert main([*_flags(**GAN, steps=6, lr="1e5"), "--out", str(out)]) == 0
    std = capsys.readouterr()
    assert std.err.startswith("ganinverse-pretrain: warning (ConvergenceWarning): the generator ")
    assert std.err.count("\n") == 1 and "lower lr (--lr, now 1e+05" in std.err
    assert std.out.startswith("trained to step 6;") and "it learned nothing" in std.out
    assert "diverged" in _json(out / "generator.json")["training_status"]


# ----------------------------------------------------------------------------- B: diverged
DIVERGING = dict(VAE, steps=20, lr=1e6)  # the trial's run: recon / kl NaN at step 4


@pytest.mark.parametrize("nested", [False, True])
def test_a_run_that_diverges_before_saving_is_one_line_exit_2_and_leaves_no_folder(
    tmp_path, capsys, nested
):
    out = tmp_path / "a" / "b" / "run" if nested else tmp_path / "run"
    # (a sample grid every step: written before the losses diverge, removed with the folder)
    assert main([*_flags(**DIVERGING, sample_every=1), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("ganinverse-pretrain: error: the losses became non-finite at step 4 (")
    assert "lower lr (--lr, now 1e+06; the vae default is 0.001)" in err
    assert "nothing was saved" in err
    assert list(tmp_path.iterdir()) == []  # not even the parents it made


def test_an_empty_folder_given_as_out_is_kept_empty(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with pytest.raises(TrainingDiverged, match="at step 4"):
        train(_cfg(out, **DIVERGING, sample_every=1))
    assert out.is_dir() and list(out.iterdir()) == []


def test_a_divergence_keeps_the_checkpoints_saved_before_and_resume_works(tmp_path, capsys):
    out = tmp_path / "run"
    # a run saved at step 2, then diverges at step 4 (after a grid of step 3)
    with pytest.raises(TrainingDiverged, match=rf"{out.name} keeps its checkpoint of step 2"):
        train(_cfg(out, **DIVERGING, save_every=2, sample_every=3))
    assert _json(out / "checkpoint.json")["step"] == 2
    # a resumed run that diverges before its first save leaves the folder as it was
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["--out", str(out), "--resume", "--no-progress"]) == 2
    assert "keeps its checkpoint of step 2" in capsys.readouterr().err
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    # and the checkpoint still resumes (to its own step: nothing left to train)
    with pytest.warns(ConvergenceWarning, match="negative ELBO .* rose"):
        assert main(["--out", str(out), "--resume", "--steps", "2", "--no-progress"]) == 0


@pytest.mark.parametrize("kw", [GAN, VAE], ids=["gan", "vae"])
def test_nan_weights_are_judged_not_finite_and_recorded_as_strict_json(tmp_path, kw):
    """Finite losses, then an update that made the weights NaN: the save still judges."""
    trainer = train(_cfg(tmp_path, **kw, steps=1))
    with torch.no_grad():
        for module in trainer._modules().values():
            for p in module.parameters():
                p.fill_(float("nan"))
    with pytest.warns(ConvergenceWarning, match="its samples are not finite"):
        trainer.save(final=True)

    def refuse(constant):
        raise AssertionError(f"{constant} in generator.json")

    card = json.loads((tmp_path / "generator.json").read_text(), parse_constant=refuse)
    assert card["training_check"]["samples"] == {"finite": False, "saturated": None, "spread": None}
    if kw is VAE:
        assert card["training_check"]["neg_elbo"]["now"] is None


def test_loading_a_generator_that_learned_nothing_warns(tmp_path):
    """helper-51: load_generator said nothing of a checkpoint whose pretraining recorded
    that it learned nothing; every command that loads it (reconstruct, sweep, ...) now warns."""
    from ganinverse.models import MLPGenerator, load_generator, save_model

    torch.manual_seed(0)
    G = MLPGenerator(latent_dim=4, image_shape=(1, 8, 8), hidden=(8,))
    stem = save_model(G, tmp_path / "g" / "generator", {"training_status": "ok"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        load_generator(stem, device="cpu")
    card = json.loads(stem.with_suffix(".json").read_text())
    card["training_status"] = "its samples are not finite"
    stem.with_suffix(".json").write_text(json.dumps(card))
    with pytest.warns(ConvergenceWarning, match="learned nothing.*samples are not finite"):
        load_generator(stem, device="cpu")


def test_a_gan_whose_weights_barely_moved_learned_nothing(tmp_path, capsys):
    """helper-53: --loss gan --lr 1e-9 recorded training_status "ok": the GAN rules caught
    only broken generators, not one left at its initial weights."""
    args = ["--dataset", "digits", "--arch", "mlp", "--latent-dim", "8", "--hidden", "32"]
    args += ["--steps", "20", "--batch-size", "8", "--n-train", "64", "--device", "cpu"]
    args += ["--no-progress"]
    with pytest.warns(ConvergenceWarning, match="weights barely moved .*after 20 steps"):
        assert main([*args, "--lr", "1e-9", "--out", str(tmp_path / "tiny")]) == 0
    card = json.loads((tmp_path / "tiny" / "generator.json").read_text())
    assert "barely moved" in card["training_status"]
    assert card["training_check"]["weights_moved"] < 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert main([*args, "--out", str(tmp_path / "ok")]) == 0  # the default lr moves them
    card = json.loads((tmp_path / "ok" / "generator.json").read_text())
    assert card["training_status"] == "ok" and card["training_check"]["weights_moved"] > 1e-3
