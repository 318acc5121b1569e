import pytest
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


def test_the_public_api_has_one_shape():
    """What a user imports: the operator base class, the result classes, the conversions, the
    classifier loader and the defense package, from ``ganinverse`` itself."""
    for name in ("LinearOperator", "LatentResult", "InpaintingResult", "SparseResult"):
        assert name in gi.__all__
    assert gi.from_unit(torch.ones(1)).item() == 1.0 and gi.load_classifier is not None
    assert gi.defense.PGD is not None and gi.sweep.Sweep is not None


def test_every_registered_method_solves_through_one_call(toy_generator):
    """solver(G, operator, y, **options) -> result with x_hat, for every method."""
    G = toy_generator
    x = G(torch.randn(2, G.latent_dim, generator=torch.Generator().manual_seed(0))).detach()
    for name, record in gi.METHODS.items():
        if record.operators is None:
            op = gi.GaussianCS(G.image_shape, 20, seed=0)
        else:
            mask = torch.ones(1, 1, *G.image_shape[1:])
            mask[..., :3, :] = 0
            op = gi.Inpainting(mask, G.image_shape)
        options = (
            {"config": record.defaults["config"].updated(steps=3, restarts=1)}
            if record.latent
            else {"steps": 3}  # the untrained-network priors: a few steps
            if "steps" in record.defaults
            else {}
        )
        if "prior_weight" in record.defaults:  # yeh: no D here, so its prior term off
            options["prior_weight"] = 0.0
        if name == "lasso-wavelet-frame":  # db4 at level 3 needs sides >= 11: the toy G's are 8x8
            options.update(wavelet="db2", level=2)
        x_hat = gi.reconstruct(name, G, op, op.measure(x), **options)
        assert x_hat.shape == x.shape and torch.isfinite(x_hat).all(), name


def test_yeh_inpainting_is_the_solver_of_an_inpainting_operator(toy_generator):
    G = toy_generator
    x = G(torch.randn(2, G.latent_dim, generator=torch.Generator().manual_seed(1))).detach()
    mask = torch.ones(2, 1, *G.image_shape[1:])
    mask[0, ..., :4, :] = 0
    mask[1, ..., :, :4] = 0
    op = gi.Inpainting(mask, G.image_shape)
    kw = dict(steps=5, restarts=2, progress=False, image_ids=[3, 4])
    via_operator = gi.inpaint_operator(G, op, op.measure(x), **kw)
    via_mask = gi.inpaint(G, x, mask, **kw)
    assert torch.equal(via_operator.x_hat, via_mask.x_hat)
    with pytest.raises(TypeError, match="Inpainting operator"):
        gi.inpaint_operator(G, gi.GaussianCS(G.image_shape, 10), torch.zeros(2, 10))


def test_csgm_sparse_refuses_engine_options_it_would_ignore(toy_generator):
    G = toy_generator
    x = G(torch.randn(1, G.latent_dim, generator=torch.Generator().manual_seed(2))).detach()
    op = gi.GaussianCS(G.image_shape, 20, seed=0)
    y = op.measure(x)
    start = gi.csgm(G, op, y, steps=3, restarts=1, progress=False)
    with pytest.raises(ValueError, match="would be ignored"):
        gi.csgm_sparse(G, op, y, start=start, steps=50)
    with pytest.raises(ValueError, match="would be ignored"):
        gi.csgm_sparse(G, op, y, start=start, config=start.config.updated(lr=0.5))
    # tol is the engine's tolerance, as in every solver; FISTA's is lasso_tol
    res = gi.csgm_sparse(
        G, op, y, steps=3, restarts=1, tol=1e-3, patience=1, progress=False, lasso_tol=1e-3
    )
    assert res.config.tol == 1e-3


def test_engine_options_are_keywords_of_every_latent_method(toy_generator):
    G = toy_generator
    x = G(torch.randn(1, G.latent_dim, generator=torch.Generator().manual_seed(3))).detach()
    op = gi.GaussianCS(G.image_shape, 20, seed=0)
    res = gi.reconstruct_result("csgm", G, op, op.measure(x), steps=4, restarts=2, progress=False)
    assert (res.config.steps, res.config.restarts) == (4, 2)
    with pytest.raises(TypeError, match="config must be a LatentConfig"):
        gi.reconstruct("csgm", G, op, op.measure(x), config={"steps": 5})
    with pytest.raises(ValueError, match="needs a discriminator"):
        mask = torch.ones(1, 1, *G.image_shape[1:])
        mask[..., :2, :] = 0
        inp = gi.Inpainting(mask, G.image_shape)
        gi.reconstruct("yeh", G, inp, inp.measure(x), steps=2)


def test_a_bundled_name_that_is_also_a_path_here_warns(tmp_path, monkeypatch):
    """``load_generator("digits")`` with the user's own ./digits.json here loads the bundled
    one (names come first): it says so and how to load the file (helper-61)."""
    import ganinverse as gi

    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits.json").write_text("{}")
    with pytest.warns(UserWarning, match=r"the bundled generator is loaded, but a path \./digits"):
        gi.load_generator("digits")
