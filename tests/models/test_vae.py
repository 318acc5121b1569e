import pytest
import torch

from ganinverse.models import VAEDecoder, VAEEncoder, load_model, save_model


def test_decoder_is_the_bernoulli_mean_on_the_signed_scale():
    torch.manual_seed(0)
    G = VAEDecoder(latent_dim=3, image_shape=(1, 4, 5), hidden=(7,))
    z = torch.randn(6, 3)
    x = G(z)
    assert x.shape == (6, 1, 4, 5) and x.dtype == torch.float32
    torch.testing.assert_close(x, 2 * torch.sigmoid(G.logits(z)) - 1)


def test_encoder_shapes_and_input_check():
    E = VAEEncoder(latent_dim=3, image_shape=(2, 4, 4), hidden=(8, 8))
    mu, logvar = E(torch.zeros(5, 2, 4, 4))
    assert mu.shape == logvar.shape == (5, 3)
    with pytest.raises(ValueError, match="x"):
        E(torch.zeros(5, 1, 4, 4))
    with pytest.raises(ValueError, match="x"):
        E(torch.full((1, 2, 4, 4), float("nan")))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="image_shape"):
        VAEDecoder(image_shape=(28, 28))
    with pytest.raises(ValueError, match="latent_dim"):
        VAEEncoder(latent_dim=0)


def test_checkpoint_round_trip_and_kinds(tmp_path):
    G, E = VAEDecoder(4, (1, 6, 6), (5,)), VAEEncoder(4, (1, 6, 6), (5,))
    save_model(G, tmp_path / "generator")
    save_model(E, tmp_path / "encoder")
    G2 = load_model(tmp_path / "generator", kind="generator")
    z = torch.randn(3, 4)
    torch.testing.assert_close(G2(z), G(z))
    assert load_model(tmp_path / "encoder", kind="encoder").config() == E.config()
    with pytest.raises(ValueError, match="encoder, expected a generator"):
        load_model(tmp_path / "encoder", kind="generator")
