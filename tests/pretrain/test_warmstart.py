"""Fine-tuning a saved generator (``TrainConfig.init`` / ``--init``): the weights it starts from,
resuming it, and the refusals (checked before any file is written)."""

import json
import re
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from tiny_runs import tiny_config, tiny_data  # (tests/pretrain/tiny_runs.py)

from ganinverse.exceptions import ConvergenceWarning
from ganinverse.models import load_model, model_fingerprint
from pretrain.cli import main
from pretrain.trainer import TrainConfig, Trainer, VAETrainer, train


def _cfg(out, **kw):
    if kw.get("loss") == "vae":
        kw = {"arch": "mlp", "hidden": [8], **kw}
    return tiny_config(out, **kw)


_data = tiny_data


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A 4-step GAN run and a 4-step VAE run to start from."""
    root = tmp_path_factory.mktemp("saved")
    train(_cfg(root / "gan"), _data())
    train(_cfg(root / "vae", loss="vae"), _data())
    return root


def _equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("loss,companion", [("gan", "discriminator"), ("vae", "encoder")])
def test_a_run_starts_from_the_saved_weights_and_records_them(tmp_path, saved, loss, companion):
    src = saved / loss
    kw = {"loss": loss} if loss == "vae" else {}
    cls = VAETrainer if loss == "vae" else Trainer
    trainer = cls(_cfg(tmp_path / "ft", init=str(src), seed=7, **kw), _data(seed=1))
    assert _equal(trainer.G, load_model(src / "generator"))  # the raw weights into G
    assert _equal(trainer.ema, load_model(src / "generator", ema=True))  # the EMA into the EMA
    assert _equal(trainer._companions()[companion], load_model(src / companion))
    fresh = cls(_cfg(tmp_path / "scratch", seed=7, **kw), _data(seed=1))
    assert not _equal(fresh.G, trainer.G)  # (the same seed from scratch: other weights)
    assert trainer.step == 0
    trainer.run()
    card = json.loads((tmp_path / "ft" / "generator.json").read_text())
    assert card["steps"] == 4 and card["train"]["init"] == str(src)
    assert card["init"] == {
        "from": str(src),
        "fingerprint": model_fingerprint(src),
        "steps": 4,
    }
    assert not _equal(load_model(tmp_path / "ft" / "generator"), load_model(src / "generator"))


def test_a_resumed_fine_tuning_gives_the_one_run_weights_and_keeps_its_record(tmp_path, saved):
    src = str(saved / "gan")
    straight = train(_cfg(tmp_path / "a", init=src), _data(seed=1))
    train(_cfg(tmp_path / "b", init=src, steps=2), _data(seed=1))
    resumed = train(_cfg(tmp_path / "b", init=src, steps=4), _data(seed=1), resume=True)
    for name in ("G", "D", "ema"):
        assert _equal(getattr(straight, name), getattr(resumed, name)), name
    card = json.loads((tmp_path / "b" / "generator.json").read_text())
    assert card["init"]["fingerprint"] == model_fingerprint(src)
    with pytest.raises(ValueError, match="init"):  # another start is another experiment
        train(_cfg(tmp_path / "b", init=None, steps=6), _data(seed=1), resume=True)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"ngf": 8}, r"ngf=4, this run builds ngf=8: pass ngf=4 \(--ngf 4\)"),
        ({"ndf": 8}, r"its discriminator was built with ndf=4.*pass ndf=4 \(--ndf 4\)"),
        ({"latent_dim": 6}, r"pass latent_dim=4 \(--latent-dim 4\)"),
        ({"d_norm": "layer"}, r"pass d_norm='batch' \(--d-norm batch\)"),
        ({"arch": "mlp", "hidden": [8], "ngf": None}, r"is a DCGANGenerator.*MLPGenerator"),
    ],
)
def test_a_network_of_other_sizes_is_refused_by_setting_before_any_file(tmp_path, saved, kw, match):
    kw = {k: v for k, v in kw.items() if v is not None}
    cfg = _cfg(tmp_path / "out", init=str(saved / "gan"), **kw)
    if kw.get("arch") == "mlp":
        cfg = TrainConfig(**{**cfg.__dict__, "ngf": 64})
    with pytest.raises(ValueError, match=match):
        train(cfg, _data(seed=1))
    assert not (tmp_path / "out").exists()


def test_images_of_another_shape_are_refused(tmp_path, saved):
    data = torch.rand(48, 1, 32, 32) * 2 - 1
    with pytest.raises(ValueError, match=r"images of shape \(1, 28, 28\)"):
        train(_cfg(tmp_path / "out", init=str(saved / "gan")), data)


def test_a_generator_without_its_discriminator_is_refused_before_the_images_are_read(
    tmp_path, saved, monkeypatch
):
    lone = tmp_path / "lone"
    lone.mkdir()
    for suffix in (".json", ".safetensors"):
        shutil.copy(saved / "gan" / f"generator{suffix}", lone / f"generator{suffix}")

    def no_reading(cfg):
        raise AssertionError("the images were read")

    monkeypatch.setattr("pretrain.trainer.load_training_data", no_reading)
    with pytest.raises(FileNotFoundError, match="has no discriminator next to its generator"):
        train(_cfg(tmp_path / "out", init=str(lone), dataset="digits"))
    with pytest.raises(FileNotFoundError, match="no generator named 'nope'"):
        train(_cfg(tmp_path / "out", init="nope", dataset="digits"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "init,error,match",
    [
        (3, TypeError, "init must be a generator's bundled name"),
        ("  ", ValueError, "init is empty"),
    ],
)
def test_an_init_of_another_type_or_empty_is_refused_by_name(tmp_path, init, error, match):
    with pytest.raises(error, match=match):
        _cfg(tmp_path / "out", init=init).resolved()


def test_the_cli_fine_tunes_a_bundled_generator_and_names_the_flag_of_a_mismatch(tmp_path, capsys):
    # the bundled digits GAN: DCGAN, latent_dim 20, ngf = ndf = 32, on 28x28 digits
    common = ["--dataset", "digits", "--init", "digits", "--latent-dim", "20", "--ndf", "32"]
    common += ["--batch-size", "16", "--steps", "1", "--device", "cpu", "--no-progress"]
    assert main([*common, "--ngf", "16", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganinverse-pretrain: error: --init: init 'digits': its generator")
    assert "pass ngf=32 (--ngf 32)" in err and "\n" not in err
    assert not (tmp_path / "bad").exists()
    assert main([*common, "--ngf", "32", "--out", str(tmp_path / "ok")]) == 0
    card = json.loads((tmp_path / "ok" / "generator.json").read_text())
    assert card["init"]["from"] == "digits" and card["init"]["steps"] > 1


def test_the_end_of_run_check_compares_with_the_init_not_with_random_weights(tmp_path, saved):
    # a fine-tuning whose steps move nothing learned nothing, however far the init is from
    # random weights (compared with those, the weights "moved" by all of their training)
    with pytest.warns(ConvergenceWarning, match="barely moved from their initial values"):
        stuck = train(_cfg(tmp_path / "stuck", init=str(saved / "gan"), lr=1e-12), _data(seed=1))
    assert stuck.training_check["start"] == "init"
    ok = train(_cfg(tmp_path / "ok", init=str(saved / "gan"), lr=1e-3), _data(seed=1))
    assert ok.training_status == "ok" and ok.training_check["start"] == "init"


def test_a_resume_whose_init_is_gone_warns_and_records_a_random_start(tmp_path, saved):
    src = tmp_path / "src"
    shutil.copytree(saved / "gan", src)
    train(_cfg(tmp_path / "run", init=str(src), steps=2), _data(seed=1))
    shutil.rmtree(src)
    with pytest.warns(UserWarning, match="cannot be read.*compares the generator with random"):
        run = train(_cfg(tmp_path / "run", init=str(src)), _data(seed=1), resume=True)
    assert run.step == 4 and run.training_check["start"] == "random"
    assert "weights_moved" not in run.training_check
    card = json.loads((tmp_path / "run" / "generator.json").read_text())
    assert card["init"]["from"] == str(src)  # (the record of the start is kept)


# -- helper-74's trial ------------------------------------------------------------------------


def test_a_path_init_is_recorded_as_an_absolute_text_and_resumes_from_another_folder(
    tmp_path, saved, monkeypatch
):
    monkeypatch.chdir(saved)
    trainer = train(_cfg(tmp_path / "run", init=Path("gan"), steps=2), _data(seed=1))
    assert trainer.cfg.init == str(saved / "gan")  # (a Path crashed the first save's JSON)
    card = json.loads((tmp_path / "run" / "generator.json").read_text())
    assert card["init"]["from"] == str(saved / "gan") == card["train"]["init"]
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no "cannot be read": the record finds the files)
        run = train(_cfg(tmp_path / "run", init=str(saved / "gan")), _data(seed=1), resume=True)
    assert run.training_check["start"] == "init"
    monkeypatch.chdir(saved)  # (the init as first typed, relative: the same start)
    run = train(_cfg(tmp_path / "run", init="gan", steps=5), _data(seed=1), resume=True)
    assert run.step == 5


def test_sizes_are_checked_before_the_training_images_are_read(tmp_path, saved, monkeypatch):
    def no_reading(cfg):
        raise AssertionError("the images were read")

    monkeypatch.setattr("pretrain.trainer.load_training_data", no_reading)
    with pytest.raises(ValueError, match=r"pass ngf=4 \(--ngf 4\)"):
        train(_cfg(tmp_path / "out", init=str(saved / "gan"), ngf=8, dataset="digits"))
    assert not (tmp_path / "out").exists()


def test_a_saved_norm_the_loss_refuses_names_the_losses_that_take_it(tmp_path, saved):
    # (passing --d-norm batch, as a plain size mismatch would advise, wgan-gp refuses)
    cfg = _cfg(tmp_path / "out", init=str(saved / "gan"), loss="wgan-gp")
    with pytest.raises(
        ValueError,
        match=r"norm='batch', which loss='wgan-gp' refuses .*: "
        r"fine-tune it with a loss that takes it: gan, lsgan, wgan \(--loss\)",
    ):
        train(cfg, _data(seed=1))


@pytest.mark.parametrize(
    "init,match",
    [
        ("{src}/discriminator.json", r"holds a discriminator, not a generator; pass a bundled"),
        ("{src}/checkpoint.json", r"is not a ganinverse model config.*; pass a bundled"),
        ("{src}/missing", r"no generator named .*; pass a bundled generator's name or"),
        ("digit", r"no generator named 'digit'.*did you mean|no generator named 'digit'"),
    ],
)
def test_the_cli_leads_every_init_refusal_with_the_flag(tmp_path, saved, capsys, init, match):
    init = init.format(src=saved / "gan")
    args = ["--dataset", "digits", "--init", init, "--steps", "1", "--device", "cpu"]
    assert main([*args, "--no-progress", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"ganinverse-pretrain: error: --init: init '{Path(init).absolute()}'"
    ) or (err.startswith(f"ganinverse-pretrain: error: --init: init '{init}'")), err
    assert re.search(match, err), err
    assert not (tmp_path / "out").exists()


def test_a_generator_of_another_loss_kind_names_the_loss_not_a_missing_file(tmp_path, saved):
    with pytest.raises(
        FileNotFoundError,
        match=r"has no discriminator .*\(it was trained with "
        r"loss='vae': fine-tune it with --loss vae, not gan\)",
    ):
        train(_cfg(tmp_path / "out", init=str(saved / "vae"), arch="mlp", hidden=[8]), _data())


def test_a_generator_and_discriminator_of_different_saves_are_refused(tmp_path, saved):
    mixed = tmp_path / "mixed"
    shutil.copytree(saved / "gan", mixed)
    train(_cfg(tmp_path / "longer", steps=6), _data())
    for suffix in (".json", ".safetensors"):
        shutil.copy(tmp_path / "longer" / f"discriminator{suffix}", mixed)
    with pytest.raises(
        ValueError,
        match=r"its generator and discriminator come from different "
        r"saves \(steps 4 vs 6, ",
    ):
        train(_cfg(tmp_path / "out", init=str(mixed)), _data(seed=1))


def test_fine_tuning_with_another_loss_warns(tmp_path, saved):
    with pytest.warns(
        UserWarning,
        match=r"was trained with loss='gan'; this run fine-tunes it "
        r"with loss='lsgan'.*Pass --loss gan",
    ):
        train(_cfg(tmp_path / "out", init=str(saved / "gan"), loss="lsgan"), _data(seed=1))


def test_a_resume_that_adds_an_init_says_the_checkpoint_has_none(tmp_path, saved, capsys):
    train(_cfg(tmp_path / "run", steps=2), _data())
    with pytest.raises(ValueError, match=r"init: the checkpoint has none, this run asks '"):
        train(_cfg(tmp_path / "run", init=str(saved / "gan")), _data(), resume=True)


# -- helper-75's trial ------------------------------------------------------------------------


def test_a_generator_and_discriminator_of_runs_that_differ_in_one_setting_are_refused(
    tmp_path, saved
):
    mixed = tmp_path / "mixed"
    shutil.copytree(saved / "gan", mixed)
    train(_cfg(tmp_path / "other", lr=1e-3), _data())  # (same steps, seed, loss, data)
    for suffix in (".json", ".safetensors"):
        shutil.copy(tmp_path / "other" / f"discriminator{suffix}", mixed)
    with pytest.raises(ValueError, match=r"different saves \(train.lr 0.0002 vs 0.001, "):
        train(_cfg(tmp_path / "out", init=str(mixed)), _data(seed=1))


def test_every_network_size_mismatch_is_named_at_once(tmp_path, saved):
    with pytest.raises(ValueError) as err:
        train(_cfg(tmp_path / "out", init=str(saved / "gan"), ngf=8, ndf=8), _data(seed=1))
    assert "pass ngf=4 (--ngf 4)" in str(err.value) and "pass ndf=4 (--ndf 4)" in str(err.value)
    assert str(err.value).count("init '") == 1


def test_the_generator_files_of_a_run_are_the_run(tmp_path, saved):
    src = saved / "gan"
    train(_cfg(tmp_path / "run", init=str(src), steps=2), _data(seed=1))
    for typed in (src / "generator.json", src / "generator.safetensors", src / "generator"):
        assert _cfg(tmp_path / "x", init=typed).resolved().init == str(src)
    run = train(_cfg(tmp_path / "run", init=src / "generator.json"), _data(seed=1), resume=True)
    assert run.step == 4
