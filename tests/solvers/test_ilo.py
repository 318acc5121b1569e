"""ILO (Daras et al. 2021): the ℓ1-ball projection, known answers, images outside the range of
G, every operator, batch independence, bad input, and its method record."""

import warnings

import pytest
import torch
from torch import nn

from ganinverse.exceptions import ConvergenceWarning
from ganinverse.latent import LatentConfig
from ganinverse.methods import choose_weight, get_method, reconstruct_result
from ganinverse.models import DCGANGenerator
from ganinverse.models.layers import split_generator
from ganinverse.operators import GaussianCS, Inpainting
from ganinverse.solvers.csgm import csgm
from ganinverse.solvers.ilo import IloResult, ilo, project_l1_ball

CSGM = LatentConfig(restarts=2, steps=200, lr=0.05, progress=False)
QUICK = LatentConfig(restarts=1, steps=20, lr=0.05, progress=False)


def smooth_dcgan(seed: int = 0) -> DCGANGenerator:
    """A tiny untrained DCGAN (28 px, ngf 4, 4 latents) whose upsampling ConvTs are bilinear
    kernels with random channel mixing and whose first ConvT draws smooth bumps: its images are
    smooth, its range a 4-dimensional manifold (default DCGAN init gives images ≈ 0)."""
    g = torch.Generator().manual_seed(seed)
    G = DCGANGenerator(latent_dim=4, image_shape=(1, 28, 28), ngf=4)
    k1 = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 4
    with torch.no_grad():
        for conv in (m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)):
            cin, cout, kh, kw = conv.weight.shape
            mix = torch.randn(cin, cout, 1, 1, generator=g) / cin**0.5
            if kh == 4:
                conv.weight.copy_(mix * k1[:, None] * k1[None, :])
            else:
                t = torch.linspace(-1, 1, kh)
                yy, xx = torch.meshgrid(t, t, indexing="ij")
                c = torch.randn(cin, cout, 2, 1, 1, generator=g) * 0.5
                conv.weight.copy_(
                    2 * mix * torch.exp(-((xx - c[:, :, 0]) ** 2 + (yy - c[:, :, 1]) ** 2) / 0.5)
                )
    return G.eval()


def blobs(n: int = 2) -> torch.Tensor:
    """Smooth images (n, 1, 28, 28) in [-0.3, 0.4]: a Gaussian blob each, not in G's range."""
    t = torch.linspace(-1, 1, 28)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    centres = torch.linspace(-0.3, 0.3, n)
    return torch.stack(
        [0.7 * torch.exp(-((xx - c) ** 2 + (yy + c) ** 2) / 0.2) - 0.3 for c in centres]
    )[:, None]


def mse(a, b) -> float:
    return float((a - b).pow(2).mean())


# -- the projection --------------------------------------------------------------------------
def bisection_projection(v: torch.Tensor, r: float) -> torch.Tensor:
    """An independent answer: θ ≥ 0 with Σ max(|v| − θ, 0) = r found by bisection (float64)."""
    v = v.double()
    if v.abs().sum() <= r:
        return v
    lo, hi = 0.0, float(v.abs().max())
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (v.abs() - mid).clamp_min(0).sum() > r else (lo, mid)
    return v.sign() * (v.abs() - hi).clamp_min(0)


def test_the_projection_of_a_known_vector():
    # sorted |v| = (3, 2, 1): ρ = 2, θ = (3 + 2 − 2)/2 = 1.5
    w = project_l1_ball(torch.tensor([[3.0, 1.0, -2.0]]), 2.0)
    assert torch.allclose(w, torch.tensor([[1.5, 0.0, -0.5]]))


def test_the_projection_against_bisection_and_random_feasible_points():
    g = torch.Generator().manual_seed(0)
    v = (
        torch.randn(6, 2, 5, 5, generator=g)
        * torch.tensor([0.1, 1, 3, 10, 0.5, 2])[:, None, None, None]
    )
    radii = torch.tensor([0.5, 3.0, 0.0, 100.0, 1e-3, 7.0])
    w = project_l1_ball(v, radii)
    assert w.shape == v.shape
    for i in range(len(v)):
        want = bisection_projection(v[i], float(radii[i]))
        assert torch.allclose(w[i].double(), want, atol=1e-5), i
        assert float(w[i].abs().sum()) <= float(radii[i]) * (1 + 1e-5) + 1e-6
        # no feasible point is closer to v (brute force over random points of the ball)
        p = torch.randn(2000, v[i].numel(), generator=g).sign() * torch.rand(
            2000, v[i].numel(), generator=g
        )
        p = project_l1_ball(p, float(radii[i]))
        dist = (p - v[i].flatten()).norm(dim=1)
        assert float((w[i] - v[i]).norm()) <= float(dist.min()) + 1e-5


def test_the_projection_keeps_points_of_the_ball_and_maps_radius_zero_to_zero():
    v = torch.tensor([[0.1, -0.2, 0.3], [1.0, 2.0, -3.0]])
    assert torch.equal(project_l1_ball(v, 10.0), v)
    assert torch.equal(project_l1_ball(v, 0.0), torch.zeros_like(v))
    assert torch.equal(project_l1_ball(v, torch.tensor([0.6, 6.0])), v)  # exactly on the sphere
    with pytest.raises(ValueError, match="radius must be >= 0"):
        project_l1_ball(v, -1.0)
    with pytest.raises(ValueError, match="radius must be >= 0"):
        project_l1_ball(v, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"radius must be a number or \(2,\)"):
        project_l1_ball(v, torch.ones(3))


# -- the solver --------------------------------------------------------------------------------
def test_ilo_leaves_the_range_of_g_and_beats_csgm():
    """A smooth truth outside the 4-dimensional range of G, m = 200 of 784 noiseless Gaussian
    measurements: CSGM stays in the range (MSE ≈ 0.035); ILO at layer 1 fits the measurements
    with G_after and recovers the blobs (MSE ≈ 0.0015)."""
    G, x = smooth_dcgan(), blobs()
    op = GaussianCS(G.image_shape, 200, seed=0)
    y = op.measure(x)
    start = csgm(G, op, y, CSGM, image_ids=[0, 1])
    res = ilo(G, op, y, layer=1, radius=0.3, start=start, steps=200, lr=0.03)
    assert isinstance(res, IloResult) and res.layer == 1
    assert mse(res.x_hat, x) < 0.2 * mse(start.x_hat, x)
    assert bool((res.data_loss < 0.2 * res.start_data_loss).all()) and bool(res.improved.all())
    assert res.h.shape == (2, 8, 7, 7) and torch.equal(res.z, start.z)
    assert bool((res.deviation <= 0.3 + 1e-5).all())
    assert float(res.x_hat.abs().max()) <= 1 and res.seconds >= start.seconds
    # the returned features explain the returned image, and the data term is x̂'s
    _, after = split_generator(G, 1)
    with torch.no_grad():
        assert torch.allclose(after(res.h), res.x_hat)
    want = (y - op.A(res.x_hat)).pow(2).mean(1)
    assert torch.allclose(res.data_loss, want, rtol=1e-4, atol=1e-8)


def test_radius_zero_or_no_steps_is_the_csgm_result():
    G, x = smooth_dcgan(), blobs()
    op = GaussianCS(G.image_shape, 100, seed=1)
    y = op.measure(x)
    start = csgm(G, op, y, QUICK, image_ids=[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for kw in ({"radius": 0.0}, {"steps": 0}):
            res = ilo(G, op, y, layer=2, start=start, **kw)
            assert torch.equal(res.x_hat, start.x_hat), kw
            assert torch.equal(res.data_loss, res.start_data_loss) and not res.improved.any()
            assert float(res.deviation.abs().max()) == 0.0
            # no stage asked: CSGM's status alone, as iagan with adapt_steps=0 (helper-39 #11)
            assert res.status == start.status, kw


def test_ilo_runs_csgm_itself_and_matches_a_given_start():
    G, x = smooth_dcgan(), blobs()
    op = GaussianCS(G.image_shape, 100, seed=1)
    y = op.measure(x)
    start = csgm(G, op, y, QUICK, image_ids=[3, 4])
    given = ilo(G, op, y, 1, 0.1, start=start, steps=20)
    alone = ilo(G, op, y, 1, 0.1, QUICK, steps=20, image_ids=[3, 4])
    assert torch.allclose(given.x_hat, alone.x_hat, atol=1e-6)
    with pytest.raises(ValueError, match="ilo got start= .* differ from start.config"):
        ilo(G, op, y, 1, 0.1, QUICK.updated(steps=5), start=start)
    with pytest.raises(ValueError, match="start must be the csgm result"):
        ilo(G, op, y[:1], 1, 0.1, start=start)


def test_every_operator(toy_rgb_generator, any_operator):
    """Shared and per-image masks, subsampling, super-resolution, identity and Gaussian: each
    image's data term is (1/m_i)||M ⊙ (y − A x̂)||² and never worse than CSGM's."""
    G, op = toy_rgb_generator, any_operator
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        x = (
            G(torch.randn(2, G.latent_dim, generator=g))
            + 0.3 * torch.randn(2, *G.image_shape, generator=g)
        ).clamp(-1, 1)
    y = op.measure(x)
    res = ilo(G, op, y, layer=1, radius=0.3, config=QUICK, steps=30, image_ids=[0, 1])
    assert res.x_hat.shape == x.shape and torch.isfinite(res.x_hat).all()
    assert bool((res.data_loss <= res.start_data_loss).all()) and bool(res.improved.all())
    rows = torch.arange(2)
    assert torch.allclose(
        res.data_loss, op.data_misfit(y, op.A_rows(res.x_hat, rows), rows), rtol=1e-5
    )


def test_an_images_result_does_not_depend_on_its_batch():
    G, x = smooth_dcgan(), blobs(3)
    op = GaussianCS(G.image_shape, 100, seed=2)
    y = op.measure(x)
    both = ilo(G, op, y, 2, 0.3, QUICK, steps=30, image_ids=[7, 8, 9])
    for i in range(3):
        alone = ilo(G, op, y[i : i + 1], 2, 0.3, QUICK, steps=30, image_ids=[7 + i])
        assert torch.allclose(alone.x_hat[0], both.x_hat[i], atol=1e-5), i
        assert torch.allclose(alone.h[0], both.h[i], atol=1e-5), i


def test_per_image_masks_are_independent_too(toy_rgb_generator):
    G = toy_rgb_generator
    masks = torch.zeros(2, 1, 8, 8)
    masks[0, :, :3] = 1
    masks[1, :, :, :6] = 1
    x = G(torch.randn(2, G.latent_dim, generator=torch.Generator().manual_seed(3))).detach()
    op = Inpainting(masks, G.image_shape)
    y = op.measure(x + 0.2)
    both = ilo(G, op, y, 1, 0.3, QUICK, steps=30, image_ids=[0, 1])
    for i in range(2):
        alone = ilo(
            G,
            Inpainting(masks[i], G.image_shape),
            y[i : i + 1],
            1,
            0.3,
            QUICK,
            steps=30,
            image_ids=[i],
        )
        assert torch.allclose(alone.x_hat[0], both.x_hat[i], atol=1e-5), i


def test_a_diverging_run_warns_and_keeps_csgm():
    G, x = smooth_dcgan(), blobs()
    op = GaussianCS(G.image_shape, 100, seed=1)
    y = op.measure(x)
    start = csgm(G, op, y, QUICK, image_ids=[0, 1])
    with pytest.warns(ConvergenceWarning, match="no step within the ℓ1 ball"):
        res = ilo(G, op, y, 2, radius=1e6, start=start, steps=3, lr=1e6)
    assert not res.improved.any() and torch.equal(res.x_hat, start.x_hat)


class Plain(nn.Module):
    latent_dim = 2
    image_shape = (1, 8, 8)

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(2, 64)

    def forward(self, z):
        return self.net(z).tanh().view(-1, 1, 8, 8)


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"layer": 3}, ValueError, r"split points \(1, 2\)"),
        ({"layer": 0}, ValueError, r"split points \(1, 2\)"),
        ({"layer": "1"}, TypeError, "layer must be an int"),
        ({"radius": -0.1}, ValueError, "radius must be >= 0"),
        ({"radius": float("nan")}, ValueError, "radius must be a finite"),
        ({"steps": -1}, ValueError, "steps must be >= 0"),
        ({"lr": 0.0}, ValueError, "lr must be > 0"),
    ],
)
def test_bad_input_raises_before_any_work(csgm_calls, kw, error, match):
    G = smooth_dcgan()
    op = GaussianCS(G.image_shape, 20, seed=0)
    with pytest.raises(error, match=match):
        ilo(G, op, torch.zeros(2, 20), config=QUICK, **kw)
    assert not csgm_calls


def test_a_generator_without_known_layers_raises_naming_the_fix(csgm_calls):
    op = GaussianCS((1, 8, 8), 20, seed=0)
    with pytest.raises(TypeError, match="register_split"):
        ilo(Plain(), op, torch.zeros(2, 20), config=QUICK)
    assert not csgm_calls


# -- the record --------------------------------------------------------------------------------
def test_the_record_and_its_layer_search_run_csgm_once(csgm_calls):
    record = get_method("ilo")
    assert record.starts_from == "csgm" and record.tuned.key == "ilo_layer"
    assert record.tuned.flag == "--ilo-layer-grid" and record.tuned.grid == (1, 2)
    assert set(record.flags) == {"layer", "radius", "ilo_steps", "ilo_lr"}
    assert record.tuned.apply(record.options(), 2.0)["layer"] == 2.0
    G, x = smooth_dcgan(), blobs()
    op = GaussianCS(G.image_shape, 150, seed=3)
    options = {"config": QUICK, "ilo_steps": 30}
    best, scores = choose_weight(
        "ilo", G, op, x, op.measure(x), (1.0, 2.0), options, image_ids=[0, 1]
    )
    assert best in (1.0, 2.0) and [v for v, _ in scores] == [1.0, 2.0]
    assert len(csgm_calls) == 1  # the start is shared by the candidates
    res = reconstruct_result("ilo", G, op, op.measure(x), image_ids=[0, 1], layer=2, **options)
    assert isinstance(res, IloResult) and res.layer == 2 and res.start.config.seed == 0


def test_the_projection_needs_rows():
    with pytest.raises(ValueError, match=r"v must be \(B, ...\) rows"):
        project_l1_ball(torch.ones(3), 1.0)


def test_options_of_steps_that_do_not_run_warn_once_in_the_api():
    """helper-38 #4: ilo(steps=0, lr=...) said nothing (only the CLI refused it)."""
    import warnings

    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.latent import LatentConfig
    from ganinverse.solvers.ilo import ilo

    G = gi.load_generator("digits", device="cpu")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 30, seed=0)
    y = A.measure(x)
    config = LatentConfig(steps=2, restarts=1, progress=False)
    for call, words in (
        (lambda: ilo(G, A, y, config=config, steps=0, lr=0.1), "ilo: lr=0.1"),
        (  # (the method's options: its words, once)
            lambda: gi.reconstruct("ilo", G, A, y, config=config, ilo_steps=0, ilo_lr=0.1),
            "method 'ilo': ilo_lr=0.1",
        ),
    ):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            call()
        idle = [str(w.message) for w in seen if issubclass(w.category, IdleOptionWarning)]
        needs = "ilo_steps" if "method" in words else "steps"
        assert idle == [
            f"{words} changes nothing here: it acts only when {needs} > 0; drop it or set that"
        ], idle


def test_steps_with_radius_0_warn_that_h_cannot_move():
    """helper-68: ilo(radius=0, steps=50) ran 50 steps that each returned h₀, without a word."""
    import warnings

    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.solvers.ilo import ilo

    G = gi.load_generator("digits", device="cpu")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 30, seed=0)
    config = gi.LatentConfig(steps=2, restarts=1, progress=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ilo(G, A, A.measure(x), radius=0, steps=50, lr=0.1, config=config)
        ilo(G, A, A.measure(x), radius=0, config=config)  # (radius 0 alone: CSGM's x̂ asked)
    idle = [str(w.message) for w in seen if issubclass(w.category, IdleOptionWarning)]
    assert idle == [
        f"ilo: {o} changes nothing here: it acts only when radius > 0; drop it or set that"
        for o in ("steps=50", "lr=0.1")
    ], idle


def test_an_engine_keyword_given_to_ilo_names_where_it_goes(csgm_calls):
    """Helper-41: ``ilo(G, A, y, restarts=1)`` was Python's bare "unexpected keyword
    argument"; the CSGM start's engine settings go in ``config``."""
    G = smooth_dcgan()
    op = GaussianCS(G.image_shape, 20, seed=0)
    y = torch.zeros(2, 20)
    with pytest.raises(TypeError, match=r"ilo\(\) has no option restarts; restarts set\(s\) the "
                       r"CSGM start's engine: pass config=LatentConfig\(restarts=1\)"):  # fmt: skip
        ilo(G, op, y, restarts=1)
    with pytest.raises(TypeError, match=r"ilo\(\) has no option radiu; its options are layer"):
        ilo(G, op, y, radiu=1.0)
    assert not csgm_calls
