"""Tiny training data and configs shared by the pretrain tests."""

import torch

from pretrain.trainer import TrainConfig


def tiny_data(n=48, seed=0):
    """``n`` random 1x28x28 images in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1


def tiny_config(out, **kw):
    """A 4-step run of 4-wide networks writing to ``out``; ``kw`` overrides. Only the options
    the run reads (others warn IdleOptionWarning): no ngf for an MLP, no ndf for a VAE."""
    base = dict(
        latent_dim=4,
        ngf=4,
        ndf=4,
        batch_size=16,
        steps=4,
        seed=3,
        save_every=100,
        sample_every=100,
        log_every=1,
        device="cpu",
        progress=False,
        out=str(out),
    )
    if kw.get("arch") == "mlp":
        base.pop("ngf")
    if kw.get("loss") == "vae":
        base.pop("ndf")
    return TrainConfig(**{**base, **kw})
