"""IAGAN (solvers/adaptive.py): the image-adaptive fine-tuning of z and a copy of G's weights."""

import copy
import warnings

import pytest
import torch
from sklearn.datasets import load_digits

from ganinverse.exceptions import ConvergenceWarning
from ganinverse.latent import LatentConfig
from ganinverse.methods import METHODS, choose_weight, reconstruct_result
from ganinverse.models import DCGANGenerator
from ganinverse.operators import GaussianCS, Inpainting
from ganinverse.solvers.adaptive import (
    AdaptiveResult,
    _stacked,
    back_project,
    iagan,
    render,
    total_variation,
)
from ganinverse.solvers.csgm import csgm

FAST = dict(restarts=2, steps=150, lr=0.05, lambda_z=0.0, progress=False)
#: CSGM's engine for iagan's start (``steps`` of iagan's own are ``adapt_steps``)
CONFIG = LatentConfig(**FAST)
#: The toy MLP's weights are O(0.1-1), so it adapts at a larger lr than a DCGAN's defaults.
TOY = dict(lr_theta=1e-2, lr_z=1e-2)


def digits(n: int) -> torch.Tensor:
    """n of scikit-learn's 8x8 digits on [-0.9, 0.9]: images no toy generator was made for."""
    d = torch.tensor(load_digits().images[:n], dtype=torch.float32)[:, None] / 16
    return d * 1.8 - 0.9


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).mean())


def test_acceptance_adapting_beats_csgm_tenfold_outside_the_range(toy_generator):
    """THE acceptance test: the truth is not G(z) for any z (a digit, G an untrained toy MLP),
    noiseless GaussianCS with m = n, no back-projection: IAGAN's per-pixel MSE is at least 10x
    below CSGM's on the same problem."""
    G = toy_generator  # an untrained MLP, latent_dim 4, 1x8x8 images
    x = digits(3)
    op = GaussianCS(G.image_shape, 64, seed=1)  # m = n
    y = op.measure(x)
    start = csgm(G, op, y, **FAST, image_ids=[0, 1, 2])
    res = iagan(G, op, y, start=start, adapt_steps=300, back_projection=False, **TOY)
    assert mse(start.x_hat, x) > 0.1  # the truth is far from G's range
    assert mse(res.x_hat, x) * 10 <= mse(start.x_hat, x)
    assert isinstance(res, AdaptiveResult) and res.x_hat.shape == x.shape
    assert bool((res.data_loss_adapted < res.data_loss_start).all()) and bool(res.adapted.all())
    assert res.steps_run.tolist() == [300] * 3 and not bool(res.stopped.any())  # σ = 0
    assert res.seconds > start.seconds and res.start is start
    assert torch.equal(res.data_loss, res.data_loss_adapted)  # no back-projection


def test_the_generator_is_never_modified():
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=4, image_shape=(1, 28, 28), ngf=2).train()  # BatchNorm inside
    before = copy.deepcopy(G.state_dict())
    op = GaussianCS(G.image_shape, 100, seed=0)
    y = op.measure(torch.rand(2, 1, 28, 28) * 1.6 - 0.8)
    res = iagan(G, op, y, CONFIG.updated(restarts=1, steps=3), adapt_steps=3, **TOY)
    assert res.steps_run.tolist() == [3, 3]
    after = G.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and running stats
    assert G.training and all(p.requires_grad for p in G.parameters())  # mode restored


def test_works_on_every_operator(any_operator, toy_rgb_generator):
    G = toy_rgb_generator
    x = (torch.rand(2, *G.image_shape, generator=torch.Generator().manual_seed(3)) * 1.6) - 0.8
    y = any_operator.measure(x)
    res = iagan(G, any_operator, y, CONFIG, adapt_steps=40, **TOY)
    assert res.x_hat.shape == x.shape and torch.isfinite(res.x_hat).all()
    assert bool((res.data_loss_adapted < res.data_loss_start).all())
    bp = iagan(G, any_operator, y, start=res.start, adapt_steps=40, back_projection=True, **TOY)
    assert torch.allclose(bp.data_loss_adapted, res.data_loss_adapted)
    assert float(bp.data_loss.max()) < 1e-8 and bool(bp.bp_converged.all())


def test_an_image_alone_equals_its_result_in_a_batch(toy_generator):
    G = toy_generator
    x = digits(3)
    op = GaussianCS(G.image_shape, 40, seed=2)
    y = op.measure(x)
    ids = [7, 11, 13]
    batch = iagan(G, op, y, CONFIG, adapt_steps=50, image_ids=ids, **TOY)
    alone = iagan(G, op, y[1:2], CONFIG, adapt_steps=50, image_ids=ids[1:2], **TOY)
    torch.testing.assert_close(alone.x_hat[0], batch.x_hat[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(alone.z[0], batch.z[1], atol=1e-5, rtol=0)
    chunked = iagan(
        G, op, y, start=batch.start, adapt_steps=50, chunk=1, **TOY
    )  # one image at a time
    torch.testing.assert_close(chunked.x_hat, batch.x_hat, atol=1e-5, rtol=0)


def test_seeds_reproduce_and_differ(toy_generator):
    G = toy_generator
    x = digits(2)
    op = GaussianCS(G.image_shape, 30, seed=0)
    y = op.measure(x)
    config = METHODS["iagan"].defaults["config"].updated(**FAST)

    def run(seed):
        return reconstruct_result(
            "iagan", G, op, y, seed=seed, image_ids=[0, 1], config=config, adapt_steps=20, **TOY
        )

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a.x_hat, b.x_hat) and torch.equal(a.z, b.z)
    assert not torch.allclose(a.start.z, c.start.z)  # another seed: other CSGM restarts


def test_the_vmap_path_has_the_per_image_loop_gradients(toy_generator):
    """render (functional_call under vmap, θ stacked per image) differentiates like a loop over
    images, each with its own copy of G."""
    G = toy_generator.requires_grad_(False)
    op = Inpainting(_masks(), (1, 8, 8))  # per-image operator: each image its own A_i
    y = op.measure(digits(2))
    params = _stacked(G, 2)
    with torch.no_grad():  # make the two copies differ
        for p in params.values():
            p[1].add_(0.05 * torch.randn_like(p[1]))
    z = torch.randn(2, G.latent_dim, requires_grad=True)
    rows = torch.arange(2)
    op.data_misfit(y, op.A_rows(render(G, params, z), rows), rows).sum().backward()
    for i in range(2):
        Gi = copy.deepcopy(G).requires_grad_(True)
        with torch.no_grad():
            for name, p in Gi.named_parameters():
                p.copy_(params[name][i])
        zi = z.detach()[i : i + 1].clone().requires_grad_(True)
        row = torch.tensor([i])
        op.data_misfit(y[i : i + 1], op.A_rows(Gi(zi), row), row).sum().backward()
        for name, p in Gi.named_parameters():
            torch.testing.assert_close(params[name].grad[i], p.grad, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(z.grad[i], zi.grad[0], atol=1e-6, rtol=1e-5)


def _masks() -> torch.Tensor:
    masks = torch.zeros(2, 1, 8, 8)
    masks[0, :, :3] = 1
    masks[1, :, :, 2:] = 1
    return masks


def test_back_projection_meets_the_measurements(operator_factory):
    op = operator_factory(noise_std=0.05)
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(2, *op.in_shape, generator=gen) * 2 - 1
    y = op.measure(x, seed=2)
    guess = torch.rand(2, *op.in_shape, generator=gen) * 2 - 1
    x_bp, converged = back_project(op, guess, y)
    assert bool(converged.all())
    rel = (op.A(x_bp) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)
    assert float(rel.max()) < 1e-4
    # the nearest such point: the correction lies in the range of A^T (orthogonal to null(A))
    twice, _ = back_project(op, x_bp, y)
    torch.testing.assert_close(twice, x_bp, atol=1e-5, rtol=0)


def test_back_projection_is_the_closed_form_pseudo_inverse():
    op = GaussianCS((1, 4, 4), 10, seed=3)
    x, guess = torch.rand(2, 1, 4, 4) - 0.5, torch.rand(2, 1, 4, 4) - 0.5
    y = op.measure(x)
    A = op.matrix.double()
    r = y.double() - guess.flatten(1).double() @ A.T
    want = guess.flatten(1).double() + r @ torch.linalg.pinv(A).T
    x_bp, _ = back_project(op, guess, y)
    torch.testing.assert_close(x_bp.flatten(1).double(), want, atol=1e-5, rtol=0)


def test_back_projection_warns_when_cg_stalls():
    op = GaussianCS((1, 8, 8), 64, seed=1)  # square Gaussian A: AA^T ill-conditioned
    y = op.measure(digits(1))
    with pytest.warns(ConvergenceWarning, match="conjugate gradients"):
        _, converged = back_project(op, torch.zeros(1, 1, 8, 8), y, max_iter=3)
    assert not bool(converged.any())


def test_the_discrepancy_principle_stops_at_the_noise_level(toy_generator):
    G = toy_generator
    sigma = 0.1
    op = GaussianCS(G.image_shape, 32, seed=5, noise_std=sigma)
    y = op.measure(digits(3))
    start = csgm(G, op, y, **FAST)
    res = iagan(G, op, y, start=start, adapt_steps=400, discrepancy=1.0, **TOY)
    assert bool(res.stopped.all()) and int(res.steps_run.max()) < 400
    assert float(res.data_loss_adapted.max()) <= sigma**2
    full = iagan(G, op, y, start=start, adapt_steps=400, discrepancy=0.0, **TOY)
    assert full.steps_run.tolist() == [400] * 3 and not bool(full.stopped.any())
    assert float(full.data_loss_adapted.max()) < sigma**2 / 2  # θ goes on to fit the noise


def test_zero_steps_return_the_start(toy_generator):
    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0)
    y = op.measure(digits(2))
    res = iagan(G, op, y, CONFIG, adapt_steps=0)
    torch.testing.assert_close(res.x_hat, res.start.x_hat, atol=1e-6, rtol=0)
    assert res.steps_run.tolist() == [0, 0] and bool(res.adapted.all())


def test_a_diverging_learning_rate_warns_and_keeps_the_start(toy_generator):
    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0)
    y = op.measure(digits(2))
    start = csgm(G, op, y, **FAST)
    with pytest.warns(ConvergenceWarning, match="lower the learning rates"):
        res = iagan(G, op, y, start=start, adapt_steps=5, lr_theta=50.0, lr_z=50.0)
    assert not bool(res.adapted.any())
    assert torch.equal(res.x_hat, start.x_hat) and torch.equal(res.z, start.z)


def test_a_tiny_learning_rate_warns_that_the_misfit_barely_moved(toy_generator):
    """helper-68: lr_theta = lr_z = 1e-12 reported adapted=True with the misfit unchanged and
    no word (CSGM and ILO say when no step improved their start)."""
    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0)
    y = op.measure(digits(2))
    start = csgm(G, op, y, **FAST)
    with pytest.warns(ConvergenceWarning, match=r"by less than 0.001 .*raise the learning rates"):
        res = iagan(G, op, y, start=start, adapt_steps=5, lr_theta=1e-12, lr_z=1e-12)
    assert bool(res.adapted.all()) and not bool(res.improved.any())
    assert res.status == ["not_improved", "not_improved"]
    with warnings.catch_warnings():  # the learning rates that adapt: improved, no word
        warnings.simplefilter("error", ConvergenceWarning)
        res = iagan(G, op, y, start=start, adapt_steps=50, **TOY)
    assert bool(res.improved.all()) and res.status == ["ok", "ok"]
    none = iagan(G, op, y, start=start, adapt_steps=0)  # (asked for none: nothing flagged)
    assert bool(none.improved.all())


def test_reaching_the_noise_level_in_a_small_step_is_no_stall():
    """The stall rule (improved False below a 1e-3 relative drop) must not flag an image that
    the discrepancy principle stopped at τσ²: reaching the noise level is success, however
    little the misfit had to fall."""
    import ganinverse as gi
    from ganinverse.exceptions import STALL_RTOL

    G = gi.load_generator("digits", device="cpu")
    x, _ = gi.load_images("digits", split="test", n=2)
    sigma, slow = 0.05, dict(lr_theta=1e-7, lr_z=1e-6)
    op = GaussianCS(G.image_shape, 100, seed=0, noise_std=sigma)
    y = op.measure(x, seed=1)
    start = csgm(G, op, y, steps=50, restarts=1, progress=False)
    one = iagan(G, op, y, start=start, adapt_steps=1, discrepancy=0.0, **slow)
    drop = 1 - one.data_loss_adapted / one.data_loss_start
    assert bool((drop > 0).all() and (drop < STALL_RTOL).all()), drop  # (one step: a small drop)
    tau = float(one.data_loss_start.min() * (1 - float(drop.min()) / 2)) / sigma**2
    with pytest.warns(ConvergenceWarning, match="for 1 of 2 image") as seen:
        res = iagan(G, op, y, start=start, adapt_steps=1, discrepancy=tau, **slow)
    low = int(one.data_loss_start.argmin())  # (its first step crosses τσ²; the other's stalls)
    assert float(res.data_loss_adapted[low]) <= tau * sigma**2
    assert bool(res.improved[low]) and res.status[low] == "ok"
    assert not bool(res.improved[1 - low]) and f"indices [{1 - low}]" in str(seen[0].message)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"lr_theta": -1e-4}, ValueError, "lr_theta must be > 0"),
        ({"lr_z": 0.0}, ValueError, "lr_z must be > 0"),
        ({"adapt_steps": -1}, ValueError, "adapt_steps must be >= 0"),
        ({"adapt_steps": 2.5}, TypeError, "adapt_steps must be an int"),
        (
            {"discrepancy": -1.0},
            ValueError,
            "discrepancy must be >= 0.*stops an image once its data misfit",
        ),
        ({"tv_weight": -0.1}, ValueError, "tv_weight must be >= 0"),
        ({"tv_weight": float("nan")}, ValueError, "tv_weight must be a finite number"),
        ({"tv_weight": "0.3"}, TypeError, "tv_weight must be a real number"),
        ({"back_projection": "yes"}, TypeError, "back_projection must be a bool"),
        ({"chunk": 0}, ValueError, "chunk must be >= 1"),
    ],
)
def test_bad_options_fail_before_any_work(toy_generator, csgm_calls, options, error, match):
    op = GaussianCS(toy_generator.image_shape, 30, seed=0)
    y = op.measure(digits(2))
    with pytest.raises(error, match=match):
        iagan(toy_generator, op, y, CONFIG, **options)
    assert csgm_calls == []


def test_a_wrong_start_is_refused(toy_generator):
    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0)
    y = op.measure(digits(3))
    start = csgm(G, op, y[:2], **FAST)
    with pytest.raises(ValueError, match="start must be the csgm result for these 3"):
        iagan(G, op, y, start=start)
    start = csgm(G, op, y, **FAST)
    with pytest.raises(ValueError, match="differ from start.config"):
        iagan(G, op, y, start=start, lr=0.5)
    bad = copy.copy(start)
    bad.z = start.z[:, :2]
    with pytest.raises(ValueError, match=r"start has latents of shape \(2,\) but G takes \(4,\)"):
        iagan(G, op, y, start=bad)
    with pytest.raises(ValueError, match="y must have shape"):
        iagan(G, op, y[:, :10], start=start)


def test_the_record_tunes_the_steps_from_one_csgm_start(toy_generator, csgm_calls):
    record = METHODS["iagan"]
    assert record.starts_from == "csgm" and record.tuned.key == "iagan_steps"
    assert record.tuned.option == "adapt_steps" and record.tuned.flag == "--iagan-steps-grid"
    assert record.defaults["back_projection"] is False
    G = toy_generator
    x = digits(2)
    op = GaussianCS(G.image_shape, 40, seed=0)
    config = record.defaults["config"].updated(**FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        best, scores = choose_weight(
            "iagan", G, op, x, op.measure(x), (0, 200.0), {"config": config, **TOY}
        )
    assert csgm_calls == [1]  # one CSGM start for every candidate
    assert best == 200.0 and scores[1][1] < scores[0][1]  # adapting beats CSGM's start


def test_render_with_unchanged_copies_is_g_for_every_architecture():
    """functional_call under vmap runs the bundled architectures (BatchNorm 1d/2d on running
    statistics) and, with θ copied unchanged, gives G(z) itself."""
    from ganinverse.latent import frozen
    from ganinverse.models import MLPGenerator, VAEDecoder

    torch.manual_seed(0)
    for G in (
        MLPGenerator(4, (1, 28, 28), (16, 16)),
        VAEDecoder(4, (1, 28, 28), (16,)),
        DCGANGenerator(4, (3, 32, 32), ngf=2),
    ):
        z = torch.randn(3, 4)
        with frozen(G), torch.no_grad():
            torch.testing.assert_close(render(G, _stacked(G, 3), z), G(z), atol=1e-6, rtol=0)


def _inpainting_case(G, rows: slice):
    """Two images of G's range, a hole of ``rows`` x columns 2-4, its operator and y."""
    import ganinverse as gi

    x = G(torch.randn(2, G.latent_dim, generator=torch.Generator().manual_seed(4))).detach()
    mask = torch.ones(1, 1, *G.image_shape[1:])
    mask[..., rows, 2:5] = 0
    op = gi.Inpainting(mask, G.image_shape)
    return x, mask, op, op.measure(x)


def test_blend_keeps_the_known_pixels_of_an_inpainting_operator(toy_generator):
    """blend=True: the completion is Poisson-blended, so the known pixels are the measured ones;
    refused for another operator."""
    import ganinverse as gi

    G = toy_generator
    x, mask, op, y = _inpainting_case(G, slice(2, 5))
    res = gi.reconstruct_result(
        "iagan", G, op, y, blend=True, adapt_steps=3, steps=3, restarts=1, progress=False
    )
    known = mask.expand_as(x).bool()
    assert torch.allclose(res.x_hat[known], y[known], atol=1e-5)
    with pytest.raises(
        ValueError,
        match=r"blend=True applies to Inpainting operators \('inpainting'\) only",
    ):
        gi.reconstruct("iagan", G, gi.GaussianCS(G.image_shape, 10), torch.zeros(2, 10), blend=True)


@pytest.mark.parametrize("off", [False, None])
def test_no_blend_is_accepted_with_any_operator(toy_generator, off):
    """blend=None means no blend, as False does (it was refused as "set away from the default"
    with a GaussianCS): both run and give the same x̂."""
    import ganinverse as gi

    G = toy_generator
    op = gi.GaussianCS(G.image_shape, 10, seed=0)
    y = op.measure(G(torch.randn(2, G.latent_dim)).detach().clamp(-1, 1), seed=1)
    kw = dict(adapt_steps=2, steps=2, restarts=1, progress=False, image_ids=[0, 1])
    out = gi.reconstruct("iagan", G, op, y, blend=off, **kw)
    torch.testing.assert_close(out, gi.reconstruct("iagan", G, op, y, **kw))


def test_a_biharmonic_blend_is_the_blend_of_the_raw_completion(toy_generator):
    """blend="biharmonic:0.7": the known pixels are the measured ones and the result is
    ``biharmonic_blend`` of the unblended x̂ (same seeds) with α = 0.7; refused for another
    operator with the value named."""
    import ganinverse as gi
    from ganinverse.blending import biharmonic_blend

    G = toy_generator
    x, mask, op, y = _inpainting_case(G, slice(1, 6))
    kw = dict(adapt_steps=3, steps=3, restarts=1, progress=False)
    raw = gi.reconstruct("iagan", G, op, y, blend=False, **kw)
    out = gi.reconstruct("iagan", G, op, y, blend="biharmonic:0.7", **kw)
    torch.testing.assert_close(out, biharmonic_blend(raw, y, mask.expand(2, -1, -1, -1), 0.7))
    known = mask.expand_as(x).bool()
    assert torch.equal(out[known], y[known])
    with pytest.raises(ValueError, match="blend='biharmonic' applies to Inpainting operators"):
        gi.reconstruct(
            "iagan", G, gi.GaussianCS(G.image_shape, 10), torch.zeros(2, 10), blend="biharmonic"
        )
    with pytest.raises(ValueError, match="blend must be True, False, .poisson"):
        gi.reconstruct("iagan", G, op, y, blend="bilinear", **kw)


def test_a_discrepancy_rule_without_noise_warns_idle():
    """User trial: iagan(discrepancy=5.0) on a noiseless operator ran without a word (the rule
    compares the misfit with discrepancy x σ², 0 here)."""
    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.solvers.adaptive import iagan as run_iagan

    G = gi.load_generator("digits")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 30, seed=0)
    start = gi.csgm(G, A, A.measure(x), steps=2, restarts=1, progress=False)
    with pytest.warns(IdleOptionWarning, match="discrepancy=5 changes nothing"):
        run_iagan(G, A, A.measure(x), start=start, discrepancy=5.0, adapt_steps=1)


def test_fine_tuning_options_without_fine_tuning_warn_in_the_api():
    """helper-38 #4: iagan(adapt_steps=0, lr_z=...) said nothing (only the CLI refused it)."""
    import warnings

    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.latent import LatentConfig
    from ganinverse.solvers.adaptive import iagan

    G = gi.load_generator("digits", device="cpu")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 30, seed=0)
    config = LatentConfig(steps=2, restarts=1, progress=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        iagan(G, A, A.measure(x), config, adapt_steps=0, lr_z=0.5, discrepancy=2.0)
    idle = sorted(
        str(w.message).split("=")[0] for w in seen if issubclass(w.category, IdleOptionWarning)
    )
    assert idle == ["iagan: discrepancy", "iagan: lr_z"]


def test_total_variation_of_a_ramp_is_its_slopes():
    """Known answer: x[i, j] = a·i + b·j has TV |a| + |b| (every difference is a or b); a
    constant image has 0; per image over a batch."""
    i = torch.arange(6.0)[:, None]
    j = torch.arange(5.0)[None, :]
    ramp = (0.1 * i - 0.03 * j).expand(2, 6, 5)[None].repeat(3, 1, 1, 1)  # (3, 2, 6, 5)
    ramp[1] *= -2
    ramp[2] = 0.7
    torch.testing.assert_close(total_variation(ramp), torch.tensor([0.13, 0.26, 0.0]))


def test_a_tv_weight_smooths_the_null_space_and_zero_is_the_paper(toy_generator):
    """tv_weight = 0 is the unregularised fine-tuning (same x̂); > 0 lowers TV(x̂) from the same
    start and steps (m < n: the measurements leave a null space the term decides), while the
    discrepancy stop still looks at the data misfit alone."""
    G = toy_generator
    x = digits(2)
    op = GaussianCS(G.image_shape, 20, seed=3)
    y = op.measure(x)
    start = csgm(G, op, y, **FAST, image_ids=[0, 1])
    kw = dict(start=start, adapt_steps=200, **TOY)
    plain = iagan(G, op, y, **kw)
    torch.testing.assert_close(iagan(G, op, y, tv_weight=0.0, **kw).x_hat, plain.x_hat)
    smooth = iagan(G, op, y, tv_weight=0.05, **kw)
    assert bool((total_variation(smooth.x_hat) < total_variation(plain.x_hat)).all())
    assert bool(smooth.adapted.all())


@pytest.mark.parametrize("bad", [{"tv_weight": -1.0}, {"chunk": 0}, {"lr_theta": -1e-4}])
def test_reconstruct_checks_the_options_before_the_csgm_start(toy_generator, csgm_calls, bad):
    """helper-65: gi.reconstruct("iagan", ..., tv_weight=-1) ran the whole CSGM start (1000
    steps x 10 restarts with the card's settings) before refusing the option."""
    import ganinverse as gi

    op = GaussianCS(toy_generator.image_shape, 30, seed=0)
    y = op.measure(digits(2))
    with pytest.raises(ValueError):
        gi.reconstruct("iagan", toy_generator, op, y, steps=5, restarts=1, progress=False, **bad)
    assert csgm_calls == []


def test_mirror_averages_the_reconstructions_with_g_and_its_mirror_image(toy_generator):
    """mirror=True (``methods.reconstruct_result``): x̂ = (x̂ with G + x̂ with F∘G)/2, each from
    its own CSGM start seeded by the same image ids; the misfit is the average's, the seconds
    both runs', the mirror image's result kept (its status in the status)."""
    from ganinverse.models.mirrored import Mirrored

    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0, noise_std=0.02)
    y = op.measure(digits(3), seed=1)
    kw = dict(adapt_steps=20, image_ids=[4, 5, 6], **FAST, **TOY)
    plain = reconstruct_result("iagan", G, op, y, **kw)
    flipped = reconstruct_result("iagan", Mirrored(G), op, y, **kw)
    both = reconstruct_result("iagan", G, op, y, mirror=True, **kw)
    assert not torch.allclose(plain.x_hat, flipped.x_hat, atol=1e-2)  # two estimates
    torch.testing.assert_close(both.x_hat, (plain.x_hat + flipped.x_hat) / 2)
    torch.testing.assert_close(both.mirrored.x_hat, flipped.x_hat)
    rows = torch.arange(3)
    torch.testing.assert_close(both.data_loss, op.data_misfit(y, op.A_rows(both.x_hat, rows), rows))
    assert both.seconds > both.mirrored.seconds > 0  # (the two runs' together)
    torch.testing.assert_close(both.start.x_hat, plain.start.x_hat)  # G's own start
    assert both.status == ["ok"] * 3 and plain.mirrored is None


def test_mirror_with_back_projection_meets_the_measurements_and_with_a_blend_the_pixels():
    import ganinverse as gi
    from tests.conftest import ToyGenerator

    G = ToyGenerator()
    op = GaussianCS(G.image_shape, 20, seed=2, noise_std=0.01)
    y = op.measure(digits(2), seed=3)
    kw = dict(adapt_steps=5, steps=5, restarts=1, progress=False, mirror=True)
    x_bp = gi.reconstruct("iagan", G, op, y, back_projection=True, **kw)
    rel = (op.A(x_bp) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)
    assert float(rel.max()) < 1e-4
    x, mask, op, y = _inpainting_case(G, slice(2, 5))
    out = gi.reconstruct("iagan", G, op, y, blend=True, **kw)
    known = mask.expand_as(x).bool()
    assert torch.allclose(out[known], y[known], atol=1e-5)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_mirror_that_is_no_bool_is_refused_before_any_work(toy_generator, csgm_calls, value):
    op = GaussianCS(toy_generator.image_shape, 30, seed=0)
    y = op.measure(digits(2))
    with pytest.raises(TypeError, match="mirror must be a bool"):
        reconstruct_result("iagan", toy_generator, op, y, mirror=value, **FAST)
    assert csgm_calls == []


def test_mirror_from_a_start_given_seeds_as_without_one(toy_generator):
    """The sweep passes iagan the csgm start it ran (image ids then None): the mirror image's
    own start is seeded by the ids that seeded the start given (``LatentResult.image_ids``), so
    a row is the API's result for the same image ids."""
    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0, noise_std=0.02)
    y = op.measure(digits(2), seed=1)
    kw = dict(adapt_steps=10, **TOY)
    start = reconstruct_result("csgm", G, op, y, image_ids=[7, 9], **FAST)
    assert start.image_ids == [7, 9]
    given = reconstruct_result("iagan", G, op, y, start=start, mirror=True, **FAST, **kw)
    direct = reconstruct_result("iagan", G, op, y, image_ids=[7, 9], mirror=True, **FAST, **kw)
    torch.testing.assert_close(given.x_hat, direct.x_hat)
    other = reconstruct_result("iagan", G, op, y, image_ids=[1, 2], mirror=True, **FAST, **kw)
    assert not torch.allclose(other.mirrored.start.z, direct.mirrored.start.z)


def test_the_mirror_runs_warnings_say_whose_they_are_and_a_numpy_bool_is_a_bool(toy_generator):
    """helper-73: with a diverging lr both runs warned the same words (the second is the mirror
    image's, whose flags are on result.mirrored); mirror=np.bool_(True) was refused."""
    import numpy as np

    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0, noise_std=0.02)
    y = op.measure(digits(2), seed=1)
    with pytest.warns(ConvergenceWarning) as seen:
        res = reconstruct_result(
            "iagan", G, op, y, mirror=np.bool_(True), adapt_steps=5, lr_theta=1.0, lr_z=1.0, **FAST
        )
    texts = [str(w.message) for w in seen if "iagan:" in str(w.message)]
    mirrored = [
        t for t in texts if t.startswith("(the run with G's mirror image, result.mirrored)")
    ]
    assert mirrored and len(mirrored) < len(texts), texts
    assert res.mirrored is not None


def test_a_discriminator_given_to_a_method_without_one_warns(toy_generator):
    """helper-73: D passed to iagan (or ilo, a Lasso) was dropped in silence; csgm with
    d_weight = 0 warned."""
    from ganinverse.exceptions import IdleOptionWarning

    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0)
    y = op.measure(digits(2), seed=1)
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1))
    with pytest.warns(IdleOptionWarning, match="method 'iagan' uses no discriminator"):
        reconstruct_result("iagan", G, op, y, D=D, adapt_steps=2, **FAST)
    with pytest.warns(IdleOptionWarning, match="method 'lasso-dct' uses no discriminator"):
        reconstruct_result("lasso-dct", None, op, y, D=D)


def test_gaussian_weight_averages_with_the_gaussian_priors_posterior_mean(toy_generator, tmp_path):
    """gaussian_weight=w: x̂ = (1 − w)·x̂_iagan + w·x̂_gaussian (``solvers.gaussian``, G's
    moments or a file's), after the mirror's average; its result kept, seconds added, the
    misfit the average's; w = 0 is iagan."""
    from ganinverse.solvers.gaussian import gaussian, save_samples

    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0, noise_std=0.02)
    y = op.measure(digits(3), seed=1)
    kw = dict(adapt_steps=20, image_ids=[4, 5, 6], **FAST, **TOY)
    plain = reconstruct_result("iagan", G, op, y, **kw)
    prior = gaussian(G, op, y)
    mixed = reconstruct_result("iagan", G, op, y, gaussian_weight=0.3, **kw)
    torch.testing.assert_close(mixed.x_hat, 0.7 * plain.x_hat + 0.3 * prior.x_hat)
    torch.testing.assert_close(mixed.gaussian.x_hat, prior.x_hat)
    rows = torch.arange(3)
    torch.testing.assert_close(
        mixed.data_loss, op.data_misfit(y, op.A_rows(mixed.x_hat, rows), rows)
    )
    assert mixed.seconds > mixed.gaussian.seconds > 0 and plain.gaussian is None
    zero = reconstruct_result("iagan", G, op, y, gaussian_weight=0.0, **kw)
    torch.testing.assert_close(zero.x_hat, plain.x_hat)
    both = reconstruct_result("iagan", G, op, y, mirror=True, gaussian_weight=0.5, **kw)
    mirror = reconstruct_result("iagan", G, op, y, mirror=True, **kw)
    torch.testing.assert_close(both.x_hat, 0.5 * mirror.x_hat + 0.5 * prior.x_hat)
    images = save_samples(digits(8) * 0.9, tmp_path / "faces.safetensors")
    given = reconstruct_result(
        "iagan", G, op, y, gaussian_weight=0.5, gaussian_images=str(images), **kw
    )
    want = 0.5 * plain.x_hat + 0.5 * gaussian(G, op, y, samples=images).x_hat
    torch.testing.assert_close(given.x_hat, want)
    flipped = reconstruct_result(
        "iagan",
        G,
        op,
        y,
        gaussian_weight=0.5,
        gaussian_mirror=True,
        gaussian_images=str(images),
        **kw,
    )  # (gaussian_mirror: the averaged Gaussian's samples with their mirror images)
    mirrored = gaussian(G, op, y, samples=images, mirror=True).x_hat
    torch.testing.assert_close(flipped.x_hat, 0.5 * plain.x_hat + 0.5 * mirrored)
    assert flipped.gaussian.n_samples == 16


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ({"gaussian_weight": 1.5}, ValueError, "gaussian_weight must be < 1, got 1.5"),
        ({"gaussian_weight": 1.0}, ValueError, "keeps none of iagan's x̂.*run method gaussian"),
        ({"gaussian_weight": "half"}, TypeError, "gaussian_weight"),
        ({"gaussian_weight": 0.2, "gaussian_mirror": "yes"}, TypeError, "gaussian_mirror"),
        (
            {"gaussian_weight": 0.2, "gaussian_images": "no.safetensors"},
            ValueError,
            "gaussian_images: no file 'no.safetensors'",
        ),
    ],
)
def test_a_bad_gaussian_average_is_refused_before_any_work(
    toy_generator, csgm_calls, bad, error, match
):
    op = GaussianCS(toy_generator.image_shape, 30, seed=0)
    y = op.measure(digits(2))
    with pytest.raises(error, match=match):
        reconstruct_result("iagan", toy_generator, op, y, **bad, **FAST)
    assert csgm_calls == []


def test_gaussian_images_without_a_weight_warn_that_they_change_nothing(toy_generator):
    from ganinverse.exceptions import IdleOptionWarning

    op = GaussianCS(toy_generator.image_shape, 30, seed=0)
    y = op.measure(digits(2))
    with pytest.warns(IdleOptionWarning, match="gaussian_images.*gaussian_weight"):
        reconstruct_result("iagan", toy_generator, op, y, gaussian_images="x", **FAST, **TOY)


def test_the_averaged_gaussian_draws_gs_samples_with_the_calls_seed(toy_generator):
    """helper-76: iagan's averaged Gaussian always drew with seed 0."""
    from ganinverse.solvers.gaussian import gaussian

    op = GaussianCS(toy_generator.image_shape, 30, seed=0, noise_std=0.02)
    y = op.measure(digits(2), seed=1)
    res = reconstruct_result(
        "iagan", toy_generator, op, y, gaussian_weight=0.5, seed=4, adapt_steps=5, **FAST, **TOY
    )
    torch.testing.assert_close(res.gaussian.x_hat, gaussian(toy_generator, op, y, seed=4).x_hat)
    assert not torch.allclose(res.gaussian.x_hat, gaussian(toy_generator, op, y, seed=0).x_hat)


def test_gaussian_n_samples_sets_the_averaged_gaussians_draws(toy_generator, capsys, tmp_path):
    """helper-77: iagan's averaged Gaussian always drew 10,000 samples of G."""
    from ganinverse.cli import main
    from ganinverse.solvers.gaussian import gaussian

    G = toy_generator
    op = GaussianCS(G.image_shape, 30, seed=0, noise_std=0.02)
    y = op.measure(digits(2), seed=1)
    kw = dict(adapt_steps=2, image_ids=[0, 1], **FAST, **TOY)
    res = reconstruct_result("iagan", G, op, y, gaussian_weight=0.5, gaussian_n_samples=40, **kw)
    assert res.gaussian.n_samples == 40
    torch.testing.assert_close(res.gaussian.x_hat, gaussian(G, op, y, n_samples=40).x_hat)
    with pytest.raises(ValueError, match="gaussian_n_samples must be >= 2"):
        reconstruct_result("iagan", G, op, y, gaussian_weight=0.5, gaussian_n_samples=1, **kw)
    argv = ["reconstruct", "--dataset", "digits", "--method", "iagan", "--m", "20"]
    out = tmp_path / "out"
    assert main([*argv, "--iagan-gaussian-n-samples", "50", "--out", str(out)]) == 2
    assert not out.exists()
    assert (
        "--iagan-gaussian-n-samples has no effect unless --iagan-gaussian-weight > 0 (iagan): "
        "set --iagan-gaussian-weight > 0, or drop --iagan-gaussian-n-samples"  # (the unmet part)
    ) in capsys.readouterr().err
