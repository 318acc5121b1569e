"""The training rules of each loss live in its class (pretrain/losses.py): TrainConfig.resolved,
make_loss, the trainer and --help read them, and a new loss is one registered class."""

import dataclasses
import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import pretrain
from pretrain.cli import build_parser
from pretrain.losses import (
    LOSSES,
    GANLoss,
    LossDefaults,
    WGANLoss,
    gradient_penalty,
    make_loss,
    register,
)
from pretrain.optim import OptimisticAdam
from pretrain.trainer import TrainConfig, build_loss, train

# What TrainConfig(loss=...).resolved() gave before the rules moved into the loss classes
# (computed on that code): the loss-dependent fields; every other field is the config's own.
KNOWN = {
    "gan": dict(arch="dcgan", optimizer="adam", lr=2e-4, lr_d=2e-4, betas=[0.5, 0.999],
                n_critic=1, d_norm="batch", clip=0.01, gp_lambda=10.0),
    "lsgan": dict(arch="dcgan", optimizer="adam", lr=2e-4, lr_d=2e-4, betas=[0.5, 0.999],
                  n_critic=1, d_norm="batch", clip=0.01, gp_lambda=10.0),
    "wgan": dict(arch="dcgan", optimizer="rmsprop", lr=5e-5, lr_d=5e-5, betas=[0.0, 0.0],
                 n_critic=5, d_norm="batch", clip=0.01, gp_lambda=10.0),
    "wgan-gp": dict(arch="dcgan", optimizer="adam", lr=1e-4, lr_d=1e-4, betas=[0.5, 0.9],
                    n_critic=5, d_norm="layer", clip=0.01, gp_lambda=10.0),
    "vae": dict(arch="mlp", optimizer="adam", lr=1e-3, lr_d=1e-3, betas=[0.9, 0.999],
                n_critic=1, d_norm="batch", clip=0.01, gp_lambda=10.0),
}  # fmt: skip

# The refusals, word for word (the flags named beside the options since helper-68).
REFUSED = {
    "vae with dcgan": (
        dict(loss="vae"),
        "loss='vae' trains the fully connected VAE: it needs arch='mlp' (--arch mlp) and no "
        "amp/compile (--amp, --compile)",
    ),
    "vae with amp": (
        dict(loss="vae", arch="mlp", amp=True),
        "loss='vae' trains the fully connected VAE: it needs arch='mlp' (--arch mlp) and no "
        "amp/compile (--amp, --compile)",
    ),
    "vae with compile": (
        dict(loss="vae", arch="mlp", compile=True),
        "loss='vae' trains the fully connected VAE: it needs arch='mlp' (--arch mlp) and no "
        "amp/compile (--amp, --compile)",
    ),
    "wgan-gp with batch norm": (
        dict(loss="wgan-gp", d_norm="batch"),
        "d_norm='batch' is invalid with loss='wgan-gp': the gradient penalty is per sample; "
        "use d_norm='layer' or 'none'",
    ),
}


def test_the_registry_holds_the_losses_in_order():
    assert list(LOSSES) == list(KNOWN)


@pytest.mark.parametrize("name", KNOWN)
def test_resolved_config_of_each_loss_is_unchanged(tmp_path, name):
    cfg = TrainConfig(loss=name, arch=KNOWN[name]["arch"], out=str(tmp_path / "run"))
    expected = {**dataclasses.asdict(cfg), **KNOWN[name]}
    assert dataclasses.asdict(cfg.resolved()) == expected
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", KNOWN)
def test_explicit_settings_win_over_the_loss_defaults(tmp_path, name):
    mine = dict(optimizer="oadam", lr=3e-3, lr_d=1e-3, betas=[0.1, 0.2], n_critic=2, d_norm="none")
    cfg = TrainConfig(loss=name, arch=KNOWN[name]["arch"], out=str(tmp_path), **mine).resolved()
    assert {k: getattr(cfg, k) for k in mine} == mine


@pytest.mark.parametrize("kw,message", REFUSED.values(), ids=REFUSED.keys())
def test_refusals_are_the_same_value_errors(tmp_path, kw, message):
    with pytest.raises(ValueError) as err:
        TrainConfig(out=str(tmp_path / "run"), **kw).resolved()
    assert str(err.value) == message
    assert not (tmp_path / "run").exists()


def test_make_loss_passes_each_loss_its_options_only():
    assert make_loss("wgan", clip=0.05).clip == 0.05
    assert make_loss("wgan-gp", clip=0.05, gp_lambda=2.0).gp_lambda == 2.0
    assert make_loss("wgan").clip == 0.01 and make_loss("wgan-gp").gp_lambda == 10.0
    assert type(make_loss("gan", clip=0.05, gp_lambda=2.0)) is GANLoss
    with pytest.raises(TypeError, match="unknown options"):
        make_loss("gan", clip_value=0.05)
    cfg = TrainConfig(loss="wgan", clip=0.02, out="unused").resolved()
    assert build_loss(cfg).clip == 0.02


def test_no_loss_is_named_outside_its_class():
    """The rules are read from the classes: no quoted loss name in the rest of pretrain/."""
    for path in Path(pretrain.__file__).parent.glob("*.py"):
        if path.name == "losses.py":
            continue
        source = path.read_text()
        for name in LOSSES:
            assert f'"{name}"' not in source and f"'{name}'" not in source, (path.name, name)


# ----------------------------------------------------------------------------- a new loss
class ToyHingeGPLoss(GANLoss):
    """A loss added the way the brief says: one class with its rules, registered; no other file.

    Hinge loss (Lim & Ye 2017) plus the WGAN-GP penalty, with defaults no other loss has.
    """

    name = "toy-hinge-gp"
    summary = "toy hinge loss with a gradient penalty"
    defaults = LossDefaults("oadam", 3e-4, (0.0, 0.9), 3, d_norm="none")
    options = {"gp_lambda": "toy penalty weight"}
    refused_d_norms = {"batch": "the toy penalty is per sample"}
    needs_eps = True
    calls = 0

    def __init__(self, gp_lambda: float = 10.0) -> None:
        self.gp_lambda = gp_lambda

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        ToyHingeGPLoss.calls += 1
        hinge = F.relu(1 - D(real)).mean() + F.relu(1 + D(fake)).mean()
        return hinge + self.gp_lambda * gradient_penalty(D, real, fake, eps)

    def g_loss(self, D: nn.Module, fake: Tensor) -> Tensor:
        return -D(fake).mean()


@pytest.fixture
def toy_loss():
    register(ToyHingeGPLoss)
    ToyHingeGPLoss.calls = 0
    try:
        yield ToyHingeGPLoss
    finally:
        LOSSES.pop(ToyHingeGPLoss.name)


def test_a_registered_loss_trains_with_its_own_defaults(tmp_path, toy_loss):
    data = torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    kw = dict(loss=toy_loss.name, latent_dim=4, ngf=4, ndf=4, batch_size=16,
              seed=1, gp_lambda=2.5, save_every=100, sample_every=100, log_every=1,
              device="cpu", progress=False, out=str(tmp_path))  # fmt: skip
    trainer = train(TrainConfig(steps=2, **kw), data)
    cfg = trainer.cfg
    assert (cfg.optimizer, cfg.lr, cfg.lr_d, cfg.betas) == ("oadam", 3e-4, 3e-4, [0.0, 0.9])
    assert (cfg.n_critic, cfg.d_norm) == (3, "none")
    assert isinstance(trainer.loss, toy_loss) and trainer.loss.gp_lambda == 2.5
    assert isinstance(trainer.opt_g, OptimisticAdam) and isinstance(trainer.opt_d, OptimisticAdam)
    assert trainer.opt_d.param_groups[0]["lr"] == 3e-4
    assert trainer.opt_d.param_groups[0]["betas"] == (0.0, 0.9)
    assert trainer.D.norm == "none"
    assert toy_loss.calls == 2 * 3  # n_critic D steps per G step
    saved = json.loads((tmp_path / "checkpoint.json").read_text())["config"]
    assert (saved["loss"], saved["n_critic"], saved["optimizer"]) == (toy_loss.name, 3, "oadam")
    # and it resumes like any loss
    assert train(TrainConfig(steps=3, **kw), data, resume=True).step == 3
    assert toy_loss.calls == 3 * 3


def test_a_registered_loss_refuses_what_it_says(tmp_path, toy_loss):
    with pytest.raises(ValueError) as err:
        TrainConfig(loss=toy_loss.name, d_norm="batch", out=str(tmp_path / "run")).resolved()
    assert str(err.value) == (
        "d_norm='batch' is invalid with loss='toy-hinge-gp': the toy penalty is per sample; "
        "use d_norm='layer' or 'none'"
    )
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="already registered"):
        register(toy_loss)


def test_registering_needs_a_fresh_name():
    class Again(WGANLoss):
        pass  # name "wgan", inherited

    with pytest.raises(ValueError, match="'wgan' is already registered"):
        register(Again)
    assert LOSSES["wgan"] is WGANLoss


# ----------------------------------------------------------------------------- --help
def _option_help(monkeypatch) -> dict[str, str]:
    """--help as {flag: help text}, one line each (a wide terminal: no wrapping)."""
    monkeypatch.setenv("COLUMNS", "100000")
    lines = build_parser().format_help().splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = re.match(r"  (--[a-z-]+)(?: [A-Z_]+)*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip() or lines[i + 1].strip()
    return out


def _defaults(text: str) -> dict[str, str]:
    """ "... (default: a for x, y; b for z)" -> {"x": "a", "y": "a", "z": "b"}."""
    out = {}
    for group in re.search(r"\(default: (.*)\)", text).group(1).split("; "):
        m = re.fullmatch(r"(.+) for (.+)", group)
        if m:
            out.update(dict.fromkeys(m.group(2).split(", "), m.group(1)))
    return out


@pytest.mark.parametrize("with_toy", [False, True], ids=["builtin", "with a registered loss"])
def test_help_lists_each_loss_defaults_from_its_class(monkeypatch, request, with_toy):
    if with_toy:
        request.getfixturevalue("toy_loss")
    shown = _option_help(monkeypatch)
    critics = [n for n, c in LOSSES.items() if issubclass(c, GANLoss)]
    optimizer, lr = _defaults(shown["--optimizer"]), _defaults(shown["--lr"])
    betas, n_critic = _defaults(shown["--betas"]), _defaults(shown["--n-critic"])
    d_norm = _defaults(shown["--d-norm"])
    assert set(optimizer) == set(lr) == set(betas) == set(LOSSES)
    assert set(n_critic) == set(d_norm) == set(critics)  # the VAE has no critic
    for name, cls in LOSSES.items():
        d = cls.defaults
        assert f"{name} = {cls.summary}" in shown["--loss"]
        assert optimizer[name] == d.optimizer and float(lr[name]) == d.lr
        assert tuple(map(float, betas[name].split())) == d.betas
        if name in critics:
            assert int(n_critic[name]) == d.n_critic and d_norm[name] == d.d_norm
        for norm, why in cls.refused_d_norms.items():
            assert f"not {norm} with {name}: {why}" in shown["--d-norm"]
        for option, line in cls.options.items():
            text = shown["--" + option.replace("_", "-")]
            assert line in text and name in re.search(r"\(used by ([^)]*)\)", text).group(1)
    assert (
        "vae = " in shown["--loss"] and "needs --arch mlp and no --amp/--compile" in shown["--loss"]
    )
    assert ("toy-hinge-gp" in shown["--loss"]) == with_toy


def test_the_api_warns_of_options_its_run_ignores():
    """TrainConfig fields set away from their defaults that the run ignores warn (the command
    line refuses them: tests/cli/test_method_flags.py); the fields it uses do not."""
    import warnings

    from ganinverse.exceptions import IdleOptionWarning
    from pretrain.trainer import warn_idle_options

    cases = {
        "ndf is an option of loss in \\('gan'": dict(loss="vae", arch="mlp", ndf=8),
        "ngf is an option of arch='dcgan', not of arch='mlp'": dict(arch="mlp", ngf=8),
        "hidden is an option of arch='mlp'": dict(hidden=[8]),
        "betas .* not of optimizer='rmsprop' \\(the default of loss='wgan'\\)": dict(
            loss="wgan", betas=[0.5, 0.9]
        ),
        "clip is an option of loss='wgan'": dict(clip=0.05),
    }
    for match, fields in cases.items():
        with pytest.warns(IdleOptionWarning, match=match):
            warn_idle_options(TrainConfig(**fields))
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdleOptionWarning)
        warn_idle_options(TrainConfig(arch="mlp", hidden=[8], loss="wgan", clip=0.05, ndf=8))
