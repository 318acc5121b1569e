import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from tiny_runs import tiny_config, tiny_data  # (tests/pretrain/tiny_runs.py)

from ganinverse.models import load_generator, load_model
from pretrain.logs import LossLog
from pretrain.trainer import (
    BatchSampler,
    TrainConfig,
    Trainer,
    VAETrainer,
    _rng,
    augment_batch,
    train,
)

_data, _cfg = tiny_data, tiny_config


def _states(trainer):
    out = {}
    for name, m in trainer._modules().items():
        out.update({f"{name}.{k}": v.clone() for k, v in m.state_dict().items()})
    for name, opt in trainer._optimizers().items():
        for i, st in opt.state_dict()["state"].items():
            out.update({f"{name}.{i}.{k}": v.clone() for k, v in st.items() if torch.is_tensor(v)})
    return out


@pytest.mark.parametrize(
    "loss,optimizer,arch",
    [
        ("gan", None, "dcgan"),
        ("wgan-gp", None, "dcgan"),
        ("wgan", "oadam", "dcgan"),
        ("lsgan", None, "mlp"),
        ("vae", None, "mlp"),
    ],
)
def test_resume_gives_the_same_weights_as_one_run(tmp_path, loss, optimizer, arch):
    data = _data()
    kw = dict(
        loss=loss, optimizer=optimizer, arch=arch, **({"hidden": [8]} if arch == "mlp" else {})
    )
    straight = train(_cfg(tmp_path / "a", steps=4, **kw), data)
    train(_cfg(tmp_path / "b", steps=2, **kw), data)
    resumed = train(_cfg(tmp_path / "b", steps=4, **kw), data, resume=True)
    assert resumed.step == 4
    a, b = _states(straight), _states(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows = (tmp_path / "b" / "losses.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["step", "1", "2", "3", "4"]
    seconds = [float(r.split(",")[3]) for r in rows[1:]]
    assert seconds == sorted(seconds)  # the resumed rows continue the first run's clock


def test_loss_rows_past_the_saved_step_are_dropped_on_resume(tmp_path):
    # a kill after the losses were written but before the state: rows 3-4 outlive step 2
    log = LossLog(tmp_path / "losses.csv")
    for step in range(1, 5):
        log.append(step, 0.5, 1.0, seconds=10.0 * step)
    log.write()
    resumed = LossLog(tmp_path / "losses.csv", resume_step=2)
    assert [r["step"] for r in resumed.rows] == [1, 2]
    resumed.append(3, 0.5, 1.0, seconds=1.0)
    assert resumed.rows[-1]["seconds"] == 21.0


def test_channels_last_trains_the_same_model_and_may_change_on_resume(tmp_path):
    data = _data()
    nchw = train(_cfg(tmp_path / "a", steps=3), data)
    train(_cfg(tmp_path / "b", steps=2, channels_last=True), data)
    nhwc = train(_cfg(tmp_path / "b", steps=3), data, resume=True)  # switched back: allowed
    a, b = _states(nchw), _states(nhwc)
    for k in a:  # same maths, other kernels: equal up to float rounding
        assert torch.allclose(a[k].float(), b[k].float(), rtol=1e-3, atol=1e-4), k
    fresh = Trainer(_cfg(tmp_path / "c", channels_last=True), data)
    conv = next(p for p in fresh.G.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert fresh._local(data[:16]).is_contiguous(memory_format=torch.channels_last)


def test_outputs_and_loadable_generator(tmp_path):
    trainer = train(_cfg(tmp_path, steps=2, sample_every=1), _data())
    for name in (
        "checkpoint.safetensors",
        "checkpoint.json",
        "generator.json",
        "losses.csv",
        "losses.png",
        "samples/latest.png",
        "samples/step_0000001.png",
    ):
        assert (tmp_path / name).is_file(), name
    G = load_generator(tmp_path, device="cpu")
    assert G.image_shape == (1, 28, 28) and G.latent_dim == 4
    cfg = json.loads((tmp_path / "generator.json").read_text())
    assert cfg["steps"] == 2 and cfg["loss"] == "gan" and cfg["cost"]["mflops_per_image"] > 0
    assert not trainer.G.training or trainer.G.training  # module is intact
    assert torch.equal(G.main[0].weight, trainer.export_generator().main[0].weight)


def test_interrupt_saves_a_step_boundary_checkpoint(tmp_path, monkeypatch):
    original = Trainer.train_step

    def interrupting(self, s):
        out = original(self, s)
        if s == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(Trainer, "train_step", interrupting)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path, steps=10), _data())
    assert json.loads((tmp_path / "checkpoint.json").read_text())["step"] == 2


def test_resume_refuses_a_changed_experiment(tmp_path):
    train(_cfg(tmp_path, steps=1), _data())
    with pytest.raises(ValueError, match="resume"):
        train(_cfg(tmp_path, steps=2), _data())
    with pytest.raises(ValueError, match="loss"):
        train(_cfg(tmp_path, steps=2, loss="lsgan"), _data(), resume=True)
    # a changed network size is named as such, not as a shape mismatch of the weights
    with pytest.raises(ValueError, match=r"cannot resume .* different latent_dim"):
        train(_cfg(tmp_path, steps=2, latent_dim=3), _data(), resume=True)
    train(_cfg(tmp_path, steps=3), _data(), resume=True)
    with pytest.raises(ValueError, match=r"steps \(--steps\) = 2 is below the checkpoint's step 3"):
        train(_cfg(tmp_path, steps=2), _data(), resume=True)


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="d_norm"):
        Trainer(_cfg(tmp_path, loss="wgan-gp", d_norm="batch"), _data())
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(_cfg(tmp_path, batch_size=100), _data())
    with pytest.raises(ValueError, match="CUDA"):
        Trainer(_cfg(tmp_path, amp=True), _data())
    for key in ("optimizer", "d_norm"):  # helper-71: '' ran the loss's default (None is it)
        with pytest.raises(ValueError, match=rf"{key} is empty \(''\): pass one of '"):
            Trainer(_cfg(tmp_path, **{key: ""}), _data())


def test_batch_order_is_a_function_of_seed_and_batch_index():
    a, b = BatchSampler(10, 3, seed=1), BatchSampler(10, 3, seed=1)
    first = [a.indices(i).tolist() for i in range(6)]
    assert [b.indices(i).tolist() for i in reversed(range(6))][::-1] == first
    epoch0 = sum(first[:3], [])
    assert len(set(epoch0)) == 9  # drop-last epoch of 3 batches, no repeats
    other = BatchSampler(10, 3, seed=2)
    assert [other.indices(i).tolist() for i in range(6)] != first  # the seed matters


def test_noise_streams_depend_on_seed_stream_and_index():
    draws = {
        key: torch.randn(4, generator=_rng(*key)).tolist()
        for key in [(0, 2, 0), (1, 2, 0), (0, 1, 0), (0, 2, 1), (2**40, 2, 0)]
    }
    assert len({tuple(v) for v in draws.values()}) == len(draws)
    assert torch.equal(torch.randn(4, generator=_rng(0, 2, 0)), torch.tensor(draws[(0, 2, 0)]))


def test_vae_trains_an_encoder_and_a_loadable_decoder(tmp_path):
    from ganinverse.models import VAEDecoder, VAEEncoder, load_model

    data = _data(n=64)
    cfg = _cfg(tmp_path, loss="vae", arch="mlp", hidden=[32], batch_size=16, steps=60)
    trainer = train(cfg, data)
    assert isinstance(trainer, VAETrainer)
    rows = (tmp_path / "losses.csv").read_text().splitlines()
    assert rows[0] == "step,recon,kl,seconds"
    elbo = [float(r.split(",")[1]) + float(r.split(",")[2]) for r in rows[1:]]
    assert sum(elbo[-10:]) < sum(elbo[:10])  # the negative ELBO falls
    G = load_generator(tmp_path, device="cpu")
    assert isinstance(G, VAEDecoder) and G.checkpoint_config["loss"] == "vae"
    x = G(torch.randn(5, 4))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() < 1
    assert isinstance(load_model(tmp_path / "encoder", kind="encoder"), VAEEncoder)
    assert not (tmp_path / "discriminator.json").exists()


def test_vae_needs_the_mlp_arch(tmp_path):
    with pytest.raises(ValueError, match="arch='mlp'"):
        train(_cfg(tmp_path, loss="vae", arch="dcgan"), _data())


# ----------------------------------------------------------------------------- crash safety
ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--dataset", "digits", "--n-train", "64", "--latent-dim", "4", "--ngf", "4", "--ndf", "4",
    "--batch-size", "16", "--steps", "6", "--save-every", "2", "--sample-every", "100",
    "--log-every", "1", "--seed", "5", "--device", "cpu", "--no-progress",
]  # fmt: skip
#: a child process runs the CLI and dies (os._exit: no cleanup) in its n-th write of one file
KILLER = """
import os, sys
import ganinverse.models.checkpoint as ck
from pretrain.cli import main
target, nth = sys.argv[1], int(sys.argv[2])
seen = [0]
def dying(write):
    def wrapped(path, *args):
        if path.name.startswith("." + target + "."):
            seen[0] += 1
            if seen[0] == nth:
                os._exit(9)
        return write(path, *args)
    return wrapped
ck._write_json, ck._write_weights = dying(ck._write_json), dying(ck._write_weights)
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    from pretrain.cli import main

    out = tmp_path_factory.mktemp("straight")
    assert main([*TINY, "--out", str(out)]) == 0
    return out


def _tensors(stem):
    from ganinverse.models.checkpoint import read_tensors

    return read_tensors(f"{stem}.safetensors")


def _losses(out):
    return [r.split(",")[:3] for r in (out / "losses.csv").read_text().splitlines()]


# the second save (step 4) of a 6-step run is killed: between the training state's two files,
# between the generator's, or while the discriminator's weights are written (still in a temp
# file: its step-2 pair stays in place, one save behind the state and the generator)
@pytest.mark.parametrize(
    "target,state_step,torn",
    [
        ("checkpoint.json", 2, True),
        ("generator.json", 4, True),
        ("discriminator.safetensors", 4, False),
    ],
)
def test_a_kill_during_a_save_resumes_bit_for_bit(tmp_path, straight_run, target, state_step, torn):
    from ganinverse.models.checkpoint import InterruptedWriteWarning
    from pretrain.cli import main
    from pretrain.state import read_state_info

    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, target, "2", *TINY, "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert proc.returncode == 9  # died mid-save, as kill -9 would
    stem = target.split(".")[0]
    assert (out / f"{stem}.prev.json").is_file()  # the complete pair of step 2 was kept
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if stem == "checkpoint":  # a torn pair falls back to step 2
            assert read_state_info(out / "checkpoint")["step"] == 2
        else:
            assert load_model(out / stem).checkpoint_config["steps"] == 2
        assert read_state_info(out / "checkpoint")["step"] == state_step
    warned = {w.category for w in caught}
    assert warned == ({InterruptedWriteWarning} if torn else set())
    # --resume continues from the loaded state and ends where the uninterrupted run ended
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InterruptedWriteWarning)
        assert main(["--out", str(out), "--resume", "--no-progress"]) == 0
    for stem in ("checkpoint", "generator", "discriminator"):
        a, b = _tensors(straight_run / stem), _tensors(out / stem)
        assert a.keys() == b.keys(), stem
        for k in a:
            assert torch.equal(a[k], b[k]), f"{stem}: {k}"
    assert _losses(out) == _losses(straight_run)
    assert [r[0] for r in _losses(out)] == ["step", "1", "2", "3", "4", "5", "6"]
    left = sorted(p.name for p in out.iterdir() if p.is_file())
    assert not [n for n in left if ".prev." in n or n.endswith(".tmp")], left
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # everything loads without falling back
        assert load_generator(out, device="cpu").checkpoint_config["steps"] == 6


def test_training_data_of_another_float_dtype_or_empty(tmp_path):
    """float64 images train as float32 (as everywhere in the library; torch's dtype error from
    inside the generator before); an empty tensor is our ValueError, nothing written."""
    data = _data().double()
    trainer = train(_cfg(tmp_path / "a", steps=1), data)
    assert trainer.step == 1 and trainer.data.dtype == torch.float32
    with pytest.raises(ValueError, match="data holds no images"):
        train(_cfg(tmp_path / "b", steps=1), torch.zeros(0, *data.shape[1:]))
    assert not (tmp_path / "b").exists()


def test_given_data_is_recorded_as_given_not_as_the_default_dataset(tmp_path):
    """train(cfg, data) recorded cfg.dataset ('digits', the default) in the card, a provenance
    the run does not have (user trial): the card says 'given'; a dataset-choosing field set
    beside data warns, as it selects nothing; dataset='given' without data is refused."""
    from ganinverse.exceptions import IdleOptionWarning
    from pretrain.trainer import GIVEN_DATA

    train(_cfg(tmp_path / "a", steps=1), _data())
    card = json.loads((tmp_path / "a" / "generator.json").read_text())
    assert card["dataset"] == GIVEN_DATA and card["train"]["dataset"] == GIVEN_DATA
    with pytest.warns(IdleOptionWarning, match="data_root='/data' selects nothing"):
        train(_cfg(tmp_path / "b", steps=1, dataset="mnist", data_root="/data"), _data())
    with pytest.raises(ValueError, match="names images passed to train"):
        train(_cfg(tmp_path / "c", steps=1, dataset=GIVEN_DATA))
    assert not (tmp_path / "c").exists()
    # a resume with the same data continues (its saved config records 'given')
    assert train(_cfg(tmp_path / "a", steps=2), _data(), resume=True).step == 2


def test_resume_refuses_other_training_images(tmp_path):
    """(issue 14, S3) the checkpoint records its images' fingerprint; resuming on other images is
    refused before anything is written, the same images resume as before."""
    train(_cfg(tmp_path, steps=1), _data())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    other = _data()
    other[5, 0, 3, 3] = -other[5, 0, 3, 3]
    with pytest.raises(ValueError, match=r"cannot resume .* on other training images.*fingerprint"):
        train(_cfg(tmp_path, steps=2), other, resume=True)
    with pytest.raises(ValueError, match="other training images"):
        train(_cfg(tmp_path, steps=2), _data(n=40), resume=True)  # an image fewer
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    train(_cfg(tmp_path, steps=2), _data().double(), resume=True)  # the same values: accepted
    assert json.loads((tmp_path / "checkpoint.json").read_text())["step"] == 2


def test_a_checkpoint_without_a_data_record_resumes_with_a_warning(tmp_path):
    from ganinverse.models.checkpoint import read_pair, write_pair

    train(_cfg(tmp_path, steps=1), _data())
    info, tensors, _ = read_pair(tmp_path / "checkpoint", "training checkpoint")
    del info["data"]  # as saved before data fingerprints were recorded
    write_pair(tmp_path / "checkpoint", tensors, info)
    with pytest.warns(UserWarning, match="does not record its training images"):
        train(_cfg(tmp_path, steps=2), _data(), resume=True)
    assert "data" in json.loads((tmp_path / "checkpoint.json").read_text())


def test_hflip_mirrors_about_half_of_each_batch_as_a_function_of_seed_and_batch():
    real = torch.rand(256, 3, 8, 8)
    assert augment_batch(real, "none", 0, 5) is real
    out = augment_batch(real, "hflip", 0, 5)
    same = (out == real).flatten(1).all(1)
    mirrored = (out == real.flip(-1)).flatten(1).all(1)
    assert bool((same ^ mirrored).all())  # each image kept or mirrored whole, nothing else
    assert 90 < int(mirrored.sum()) < 166  # p = 1/2 (binomial 256: ±4.6 sd)
    assert torch.equal(out, augment_batch(real, "hflip", 0, 5))  # a pure function of (seed, b)
    assert not torch.equal(out, augment_batch(real, "hflip", 0, 6))
    assert not torch.equal(out, augment_batch(real, "hflip", 1, 5))


@pytest.mark.parametrize("loss", ["gan", "vae"])
def test_hflip_changes_training_and_resumes_bit_for_bit(tmp_path, loss):
    kw = dict(loss=loss, **({"arch": "mlp", "hidden": [8]} if loss == "vae" else {}))
    data = _data()
    plain = train(_cfg(tmp_path / "plain", steps=3, **kw), data)
    straight = train(_cfg(tmp_path / "a", steps=3, augment="hflip", **kw), data)
    train(_cfg(tmp_path / "b", steps=2, augment="hflip", **kw), data)
    resumed = train(_cfg(tmp_path / "b", steps=3, augment="hflip", **kw), data, resume=True)
    a, b, p = _states(straight), _states(resumed), _states(plain)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], p[k]) for k in a)  # the flips reached the networks
    recorded = json.loads((tmp_path / "a" / "checkpoint.json").read_text())["config"]
    assert recorded["augment"] == "hflip"
    # (the API names the setting as TrainConfig does; the CLI its flag: --augment)
    with pytest.raises(ValueError, match=r"\(augment: the checkpoint has 'hflip', this run asks"):
        train(_cfg(tmp_path / "a", steps=4, **kw), data, resume=True)


def test_an_unknown_augment_is_refused_before_any_file(tmp_path):
    with pytest.raises(ValueError, match="augment"):
        Trainer(_cfg(tmp_path / "x", augment="flip"), _data())
    assert not (tmp_path / "x").exists()


def test_a_checkpoint_saved_before_augment_existed_resumes_as_none(tmp_path):
    from ganinverse.models.checkpoint import read_pair, write_pair

    train(_cfg(tmp_path, steps=1), _data())
    info, tensors, _ = read_pair(tmp_path / "checkpoint", "training checkpoint")
    del info["config"]["augment"]  # as saved before the option existed
    write_pair(tmp_path / "checkpoint", tensors, info)
    assert train(_cfg(tmp_path, steps=2), _data(), resume=True).step == 2
    with pytest.raises(ValueError, match=r"\(augment: the checkpoint has 'none'"):
        train(_cfg(tmp_path, steps=3, augment="hflip"), _data(), resume=True)


def test_hflip_on_digits_warns_and_none_is_the_default(tmp_path):
    """helper-71: the help says hflip is not for digits, but a run on them said nothing;
    augment=None (as the other None-defaulted settings) is the default, not an unknown name."""
    with pytest.warns(UserWarning, match=r"augment='hflip' mirrors the 'digits' images"):
        train(_cfg(tmp_path / "d", steps=1, dataset="digits", n_train=32, augment="hflip"))
    assert _cfg(tmp_path / "n", augment=None).resolved().augment == "none"


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"amp": "false"}, TypeError, "amp must be a bool"),
        ({"progress": 1}, TypeError, "progress must be a bool"),
        ({"channels_last": None}, TypeError, "channels_last must be a bool"),
        (
            {"hidden": 500},
            TypeError,
            r"hidden must be a list of numbers, e.g. \[500, 500\]; got int",
        ),
        ({"betas": "0.5,0.999"}, TypeError, "betas must be a list of numbers.*got str"),
        ({"dataset": 1}, TypeError, "dataset must be a str"),
        ({"dataset": ""}, ValueError, "dataset is empty"),
        ({"device": ["cpu"]}, TypeError, "device must be a str"),
        ({"device": " "}, ValueError, "device is empty"),
        ({"data_root": 3}, TypeError, "data_root must be a folder path or None"),
    ],
)
def test_settings_of_another_type_are_refused_by_name(tmp_path, kw, error, match):
    """helper-73: resolved() said "every argument checked" but took amp='false' (truthy: autocast
    on), hidden=500 ("'int' object is not iterable"), betas='0.5,0.999' (read letter by letter),
    dataset=1, device=''."""
    with pytest.raises(error, match=match):
        TrainConfig(out=str(tmp_path / "x"), **kw).resolved()
    assert not (tmp_path / "x").exists()
