import json

import pytest
import torch

import ganinverse.models as gm
from ganinverse.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPGenerator,
    load_model,
    read_config,
    save_model,
)


def _trained_like(module):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return module


@pytest.mark.parametrize(
    "module",
    [
        DCGANGenerator(8, (3, 32, 32), 4),
        MLPGenerator(8, (1, 28, 28), (16,)),
        DCGANDiscriminator((1, 28, 28), 4, "layer"),
    ],
)
def test_round_trip_is_bitwise(tmp_path, module):
    module = _trained_like(module).eval()
    stem = save_model(module, tmp_path / "m", {"loss": "gan", "steps": 3})
    loaded = load_model(stem)
    shape = (2, module.latent_dim) if hasattr(module, "latent_dim") else (2, *module.image_shape)
    x = torch.randn(shape)
    assert torch.equal(module(x), loaded(x))
    cfg = read_config(tmp_path / "m.json")
    assert cfg["loss"] == "gan" and cfg["architecture"] == type(module).__name__
    assert cfg["image_shape"] == list(module.image_shape)
    assert not list(tmp_path.glob("*.tmp"))


def test_ema_weights_are_selectable(tmp_path):
    G, ema = DCGANGenerator(8, (1, 28, 28), 4), DCGANGenerator(8, (1, 28, 28), 4)
    _trained_like(ema)
    save_model(G, tmp_path / "g", ema=ema)
    z = torch.randn(2, 8)
    assert torch.equal(load_model(tmp_path / "g", ema=True)(z), ema.eval()(z))
    assert torch.equal(load_model(tmp_path / "g", ema=False)(z), G.eval()(z))


def test_load_generator_public_api(tmp_path):
    G = _trained_like(DCGANGenerator(8, (1, 28, 28), 4))
    save_model(G, tmp_path / "run" / "generator", {"dataset": "x"})
    for ref in (
        tmp_path / "run",
        tmp_path / "run" / "generator.safetensors",
        str(tmp_path / "run" / "generator"),
    ):
        loaded = gm.load_generator(ref, device="cpu")
        assert not loaded.training and loaded.latent_dim == 8 and loaded.image_shape == (1, 28, 28)
        assert not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(ValueError, match="discriminator|generator"):
        save_model(DCGANDiscriminator((1, 28, 28), 4), tmp_path / "d" / "generator")
        gm.load_generator(tmp_path / "d")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        load_model(tmp_path / "nothere")
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "g")
    (tmp_path / "g.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="g.safetensors"):
        load_model(tmp_path / "g")
    with pytest.raises(FileNotFoundError, match="no generator named"):
        gm.load_generator("no-such-generator")


def test_corrupt_files_raise_value_error(tmp_path):
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "g")
    (tmp_path / "g.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        load_model(tmp_path / "g")
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "h")
    (tmp_path / "h.json").write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        load_model(tmp_path / "h")


def test_weights_for_another_architecture_name_the_mismatch(tmp_path):
    save_model(DCGANGenerator(8, (1, 28, 28), 4), tmp_path / "g")
    cfg = json.loads((tmp_path / "g.json").read_text())
    cfg["kwargs"]["ngf"] = 8
    (tmp_path / "g.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="shape mismatch"):
        load_model(tmp_path / "g")
    cfg["architecture"] = "MLPGenerator"
    cfg["kwargs"] = {"latent_dim": 8, "image_shape": [1, 28, 28], "hidden": [16]}
    (tmp_path / "g.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="missing"):
        load_model(tmp_path / "g")
    cfg["architecture"] = "Unknown"
    (tmp_path / "g.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="architecture"):
        load_model(tmp_path / "g")


def test_cost_fields():
    cost = gm.generator_cost(DCGANGenerator(8, (1, 28, 28), 4), batch=16, repeats=1)
    # hand count (ngf=4 -> 8 channels at 7x7): ConvT(8,8,7x7) on 1x1, ConvT(8,4,4x4) on 7x7,
    # ConvT(4,1,4x4) on 14x14; MACs = C_in * C_out * k * k * H_in * W_in
    macs = 8 * 8 * 49 + 8 * 4 * 16 * 49 + 4 * 1 * 16 * 196
    assert cost["mflops_per_image"] == pytest.approx(2 * macs / 1e6, abs=1e-3)
    assert cost["ms_per_latent_step"] > 0
