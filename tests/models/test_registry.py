import pytest
import torch

from ganinverse.models import list_classifiers, list_generators, load_classifier, load_generator


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
