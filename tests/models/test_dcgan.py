import pytest
import torch

from ganinverse.models import DCGANDiscriminator, DCGANGenerator, MLPGenerator


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes(size, channels):
    G = DCGANGenerator(latent_dim=8, image_shape=(channels, size, size), ngf=4)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, channels, size, size)
    assert G.latent_dim == 8 and G.image_shape == (channels, size, size)
    assert x.abs().max() <= 1.0
    for norm in ("batch", "layer", "none"):
        D = DCGANDiscriminator((channels, size, size), ndf=4, norm=norm)
        assert D(x).shape == (3,)


def test_layer_and_no_norm_critic_have_no_batchnorm():
    for norm in ("layer", "none"):
        D = DCGANDiscriminator((1, 28, 28), ndf=4, norm=norm)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    # per-sample independence: a critic without batch norm scores each image on its own
    D = DCGANDiscriminator((1, 28, 28), ndf=4, norm="layer").train()
    x = torch.randn(4, 1, 28, 28)
    assert torch.allclose(D(x)[:2], D(x[:2]), atol=1e-6)


def test_dcgan_init_statistics():
    G = DCGANGenerator(100, (1, 64, 64), ngf=64)
    w = G.main[0].weight
    assert abs(float(w.detach().mean())) < 2e-3 and abs(float(w.detach().std()) - 0.02) < 2e-3
    bn = G.main[1].weight
    assert abs(float(bn.detach().mean()) - 1.0) < 0.01


def test_mlp_generator_shape():
    G = MLPGenerator(20, (1, 28, 28), (50, 50))
    assert G(torch.randn(5, 20)).shape == (5, 1, 28, 28)


@pytest.mark.parametrize(
    "kwargs", [{"image_shape": (1, 30, 30)}, {"image_shape": (1, 28, 32)}, {"latent_dim": 0}]
)
def test_bad_generator_arguments(kwargs):
    with pytest.raises(ValueError):
        DCGANGenerator(**kwargs)


def test_wrong_latent_shape_is_a_named_error():
    G = DCGANGenerator(8, (1, 28, 28), 4)
    with pytest.raises(ValueError, match="z"):
        G(torch.randn(2, 9))


def test_bad_norm():
    with pytest.raises(ValueError, match="norm"):
        DCGANDiscriminator((1, 28, 28), norm="instance")


# ----------------------------------------------------------------------------- dtypes / devices
def _every_model():
    from ganinverse.models import VAEDecoder, VAEEncoder

    return {
        "DCGANGenerator": (lambda: DCGANGenerator(8, (1, 28, 28), ngf=4), (2, 8)),
        "DCGANDiscriminator": (lambda: DCGANDiscriminator((1, 28, 28), ndf=4), (2, 1, 28, 28)),
        "MLPGenerator": (lambda: MLPGenerator(8, (1, 28, 28), hidden=(16,)), (2, 8)),
        "VAEDecoder": (lambda: VAEDecoder(8, (1, 28, 28), hidden=(16,)), (2, 8)),
        "VAEEncoder": (lambda: VAEEncoder(8, (1, 28, 28), hidden=(16,)), (2, 1, 28, 28)),
    }


MODELS = list(_every_model())


@pytest.mark.parametrize("name", MODELS)
def test_models_are_float32_whatever_the_default_dtype(name):
    build, _ = _every_model()[name]
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = build()
    finally:
        torch.set_default_dtype(before)
    floats = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float32 for t in floats)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_inputs_of_another_dtype_are_named_not_failed_inside_a_layer(name, dtype):
    build, shape = _every_model()[name]
    model = build().eval()
    arg = "z" if len(shape) == 2 else "x"
    with pytest.raises(TypeError, match=rf"{arg} must be torch.float32 .*got {dtype}.*\.float\(\)"):
        model(torch.zeros(shape, dtype=dtype))
    model(torch.zeros(shape))  # float32 passes


@pytest.mark.parametrize("name", MODELS)
def test_inputs_on_another_device_are_named(name):
    build, shape = _every_model()[name]
    model = build().eval()
    arg = "z" if len(shape) == 2 else "x"
    with pytest.raises(ValueError, match=rf"{arg} is on the meta device: it has a shape but no"):
        model(torch.zeros(shape, device="meta"))
