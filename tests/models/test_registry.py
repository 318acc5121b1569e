import pytest
import torch

from ganinverse.models import (
    list_classifiers,
    list_generators,
    load_classifier,
    load_discriminator,
    load_generator,
)


def test_bundled_digits_generator_loads_and_is_documented():
    assert "digits" in list_generators()
    G = load_generator("digits", device="cpu")
    assert G.image_shape == (1, 28, 28) and not G.training
    x = G(torch.randn(3, G.latent_dim))
    assert x.shape == (3, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    cfg = G.checkpoint_config
    assert cfg["dataset"] == "digits" and cfg["has_ema"]
    for key in ("mflops_per_image", "ms_per_latent_step"):
        assert cfg["cost"][key] > 0
    assert 0 < cfg["quality"]["label_entropy"] <= cfg["quality"]["max_label_entropy"]


def test_bundled_digits_classifier_is_accurate():
    assert "digits" in list_classifiers()
    clf = load_classifier("digits", device="cpu")
    assert clf.checkpoint_config["test_accuracy"] > 0.95


def test_unknown_name_lists_the_bundled_ones():
    with pytest.raises(FileNotFoundError, match="digits"):
        load_generator("celeba-9000", device="cpu")
    with pytest.raises(TypeError):
        load_generator(3)


@pytest.mark.parametrize(
    "load", [load_generator, load_classifier, lambda n, device: load_discriminator(n, device)]
)
def test_loaded_models_are_float32_on_the_requested_device(load):
    from ganinverse.models import list_generators

    assert "digits" in list_generators()
    model = load("digits", device="cpu")
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    assert tensors and all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)


def test_check_loaded_refuses_other_dtypes_and_devices():
    from ganinverse.models import DCGANGenerator, check_loaded

    G = DCGANGenerator(8, (1, 28, 28), ngf=4)
    assert check_loaded(G, torch.device("cpu"), "G") is G
    with pytest.raises(TypeError, match=r"G: main\.0\.weight is torch\.float64, expected float32"):
        check_loaded(G.double(), torch.device("cpu"), "G")
    with pytest.raises(TypeError, match="float16"):
        check_loaded(G.half(), torch.device("cpu"), "G")
    with pytest.raises(ValueError, match="is on meta, expected cpu"):
        check_loaded(G.float().to("meta"), torch.device("cpu"), "G")


def test_device_is_checked_before_the_checkpoint_is_read(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        load_generator("no-such-generator", device="cuda")
