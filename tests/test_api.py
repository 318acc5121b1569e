import torch

import ganinverse as gi


def test_readme_quickstart_runs_on_the_bundled_digits_generator():
    assert "digits" in gi.list_generators()
    G = gi.load_generator("digits", device="cpu")
    assert G.latent_dim > 0 and tuple(G.image_shape) == (1, 28, 28) and not G.training
    x, labels = gi.load_images("digits", split="test", n=2)
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32 and labels.shape == (2,)
    A = gi.GaussianCS(G.image_shape, m=100, seed=0, noise_std=0.02)
    res = gi.csgm(G, A, A.measure(x, seed=1), restarts=2, steps=30, lr=0.1, progress=False)
    assert res.x_hat.shape == x.shape
    assert gi.metrics.mse(res.x_hat, x).shape == (2,)


def test_public_names_exist():
    for name in gi.__all__:
        assert hasattr(gi, name), name
