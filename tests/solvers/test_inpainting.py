import math

import pytest
import torch
from torch import nn

from ganinverse.exceptions import IdleOptionWarning
from ganinverse.masks import center_mask, random_mask
from ganinverse.solvers.inpainting import (
    InpaintingObjective,
    importance_weights,
    inpaint,
    prior_from_logits,
)

FAST = dict(restarts=4, steps=300, lr=0.05, progress=False)
QUICK = dict(restarts=1, steps=2, progress=False)


class ToyDiscriminator(nn.Module):
    """A linear critic on the flattened image, l = w·x + b: it prefers bright images."""

    def __init__(self, image_shape=(1, 8, 8)):
        super().__init__()
        self.net = nn.Linear(math.prod(image_shape), 1)
        nn.init.constant_(self.net.weight, 0.5)
        nn.init.constant_(self.net.bias, -1.0)

    def forward(self, x):
        return self.net(x.flatten(1)).view(-1)


def in_range(G, n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return G(torch.rand(n, G.latent_dim, generator=gen) * 1.6 - 0.8)


def brute_force_weights(mask, window):
    b, _, h, w = mask.shape
    r = window // 2
    out = torch.zeros_like(mask)
    for n in range(b):
        for i in range(h):
            for j in range(w):
                if mask[n, 0, i, j] == 0:
                    continue
                block = mask[n, 0, max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1]
                out[n, 0, i, j] = (1 - block).sum() / block.numel()
    return out


@pytest.mark.parametrize("window", [1, 3, 7])
def test_importance_weights_match_brute_force(window):
    mask = random_mask(2, (9, 7), missing=0.4, seed=1)
    mask[1] = center_mask(1, (9, 7), fraction=0.4)[0]
    W = importance_weights(mask, window)
    assert torch.allclose(W, brute_force_weights(mask, window), atol=1e-6)
    assert float(W[mask == 0].abs().max()) == 0
    if window == 1:
        assert float(W.abs().max()) == 0  # a 1x1 window sees no missing neighbour


def test_importance_weights_reject_even_windows():
    with pytest.raises(ValueError, match="window must be odd"):
        importance_weights(torch.ones(1, 1, 4, 4), 4)


@pytest.mark.parametrize("spec", ["center", "random"])
def test_recovers_truth_in_the_range(toy_generator, spec):
    G = toy_generator
    x = in_range(G, 3)
    if spec == "center":
        mask = center_mask(3, G.image_shape, fraction=0.5)
    else:
        mask = random_mask(3, G.image_shape, missing=0.7, seed=2)
    y = torch.where(mask.bool(), x, torch.nan)  # the missing pixels are never read
    res = inpaint(G, y, mask, prior_weight=0.0, **FAST)
    assert res.x_raw.shape == x.shape and res.latent.z.shape == (3, G.latent_dim)
    assert float((res.x_raw - x).abs().max()) < 5e-3
    assert float((res.x_blended - x).abs().max()) < 5e-3
    known = mask.bool().expand_as(x)
    assert torch.equal(res.x_blended[known], x[known])
    assert torch.equal(res.y_masked, torch.where(known, x, 0.0))
    assert float(res.latent.z.abs().max()) <= 1.0  # projected to the box


def test_rgb_generator_and_shared_mask(toy_rgb_generator):
    G = toy_rgb_generator
    x = in_range(G, 2, seed=4)
    res = inpaint(G, x, center_mask(1, (8, 8))[0, 0], prior_weight=0.0, **FAST)
    assert res.mask.shape == (2, 1, 8, 8)
    assert float((res.x_blended - x).abs().max()) < 1e-2


def test_prior_terms_equal_their_formulas():
    logits = torch.tensor([-8.0, -2.0, 0.0, 1.5, 8.0], dtype=torch.float64)
    s = torch.sigmoid(logits)
    assert torch.allclose(prior_from_logits(logits, "log1m"), torch.log(1 - s))
    assert torch.allclose(prior_from_logits(logits, "nonsat"), -torch.log(s))
    assert torch.equal(prior_from_logits(logits, "wgan"), -logits)
    # stable where the naive formulas overflow: log(1 - σ(l)) -> -l and -log σ(-l) -> l
    extreme = torch.tensor([200.0, -200.0])
    assert torch.allclose(prior_from_logits(extreme, "log1m"), torch.tensor([-200.0, 0.0]))
    assert torch.allclose(prior_from_logits(-extreme, "nonsat"), torch.tensor([200.0, 0.0]))
    with pytest.raises(ValueError, match="prior must be one of"):
        prior_from_logits(logits, "hinge")


def test_objective_adds_the_weighted_prior(toy_generator):
    D = ToyDiscriminator()
    y = torch.zeros(2, 1, 8, 8)
    W = importance_weights(center_mask(2, (8, 8)))
    objective = InpaintingObjective(y, W, D, prior_weight=0.5, prior="log1m")
    g = in_range(toy_generator, 4)
    rows = torch.tensor([0, 0, 1, 1])
    with torch.no_grad():
        expected_prior = 0.5 * torch.log1p(-torch.sigmoid(D(g)))
        assert torch.allclose(objective.prior_loss(g, {}, rows), expected_prior, atol=1e-6)
        assert torch.allclose(objective.data_loss(g, rows), (W[rows] * g).abs().sum((1, 2, 3)))
    assert objective.modules == (D,)
    assert InpaintingObjective(y, W, None).prior_loss(g, {}, rows) is None


def test_discriminator_prior_raises_the_score_and_stays_frozen(toy_generator):
    G, D = toy_generator, ToyDiscriminator()
    x = in_range(G, 2, seed=6)
    mask = center_mask(2, G.image_shape, fraction=0.75)
    before = [p.clone() for p in D.parameters()]
    with pytest.warns(IdleOptionWarning, match="D was given but prior_weight=0"):
        plain = inpaint(G, x, mask, D=D, prior_weight=0.0, blend=False, **FAST)
    strong = inpaint(G, x, mask, D=D, prior_weight=10.0, blend=False, **FAST)
    assert strong.x_blended is None
    with torch.no_grad():
        assert bool((D(strong.x_raw) > D(plain.x_raw)).all())
    assert all(torch.equal(a, b) for a, b in zip(before, D.parameters(), strict=True))
    assert all(p.requires_grad for p in D.parameters()) and D.training


def test_bad_inputs_name_the_argument(toy_generator):
    G = toy_generator
    x = in_range(G, 2)
    mask = center_mask(2, G.image_shape)
    with pytest.raises(ValueError, match="y must have shape"):
        inpaint(G, torch.zeros(2, 1, 7, 7), mask, **FAST)
    with pytest.raises(ValueError, match="mask must be"):
        inpaint(G, x, torch.ones(2, 1, 7, 7), **FAST)
    with pytest.raises(ValueError, match="mask must be binary"):
        inpaint(G, x, mask * 0.5 + 0.25, **FAST)
    with pytest.raises(ValueError, match="no known pixel"):
        inpaint(G, x, torch.zeros(8, 8), **FAST)
    with pytest.raises(
        ValueError, match=r"y \(known pixels\) must hold images on the library.s \[-1, 1\] scale"
    ):
        inpaint(G, x * 3, mask, **FAST)
    with pytest.raises(ValueError, match="prior must be one of"):
        inpaint(G, x, mask, prior="hinge", **FAST)
    with pytest.raises(ValueError, match="prior_weight must be >= 0"):
        inpaint(G, x, mask, prior_weight=-1.0, **FAST)
    with pytest.raises(TypeError, match="unknown latent-engine option"):
        inpaint(G, x, mask, stepz=3)


def test_an_image_alone_and_in_a_batch_gives_the_same_completion(toy_generator):
    """Issue 14 kind 8: restarts seeded by the image's identity, not its batch position."""
    G = toy_generator
    z = torch.randn(3, G.latent_dim, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        x = G(z)
    mask = torch.ones(3, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 0
    kw = dict(restarts=3, steps=300, lr=0.05, seed=2, progress=False, blend=False)
    batch = inpaint(G, x, mask, image_ids=[5, 6, 7], **kw)
    alone = inpaint(G, x[2:], mask[2:], image_ids=[7], **kw)
    assert int(alone.latent.best_restart[0]) == int(batch.latent.best_restart[2])
    assert float((alone.x_raw[0] - batch.x_raw[2]).abs().max()) < 1e-4


@pytest.mark.parametrize("scale, fix", [(255.0, "127.5"), (1.5, "from_unit")])
def test_images_on_the_wrong_scale_are_refused(toy_generator, scale, fix):
    x = torch.rand(2, *toy_generator.image_shape) * scale
    mask = torch.ones(2, 1, 8, 8)
    mask[:, :, 3:5, 3:5] = 0
    with pytest.raises(ValueError, match=fix):
        inpaint(toy_generator, x, mask, steps=1, progress=False)


def test_a_mask_with_nothing_missing_is_refused(toy_generator):
    x = in_range(toy_generator, 2)
    with pytest.raises(ValueError, match=r"no missing pixel for image\(s\) \[1\]"):
        mask = center_mask(2, toy_generator.image_shape)
        mask[1] = 1
        inpaint(toy_generator, x, mask, **FAST)


def test_float64_images_are_converted(toy_generator):
    x = in_range(toy_generator, 1)
    mask = center_mask(1, toy_generator.image_shape)
    res = inpaint(toy_generator, x.double(), mask, **FAST)
    assert res.x_raw.dtype == torch.float32


@pytest.mark.parametrize(
    "given, match",
    [
        (dict(prior_weight=0.1), "prior_weight=0.1 changes nothing without D"),
        # helper-68: Yeh's own λ given without D was dropped in silence (it was the default)
        (dict(prior_weight=0.003), "prior_weight=0.003 changes nothing without D"),
        (dict(prior="wgan"), "prior='wgan' changes nothing"),
        (dict(D="toy", prior_weight=0.0), "D was given but prior_weight=0"),
        (dict(D="toy", prior_weight=0.0, prior="nonsat"), "prior='nonsat' changes nothing"),
    ],
)
def test_a_prior_option_that_cannot_act_warns(toy_generator, given, match):
    """inpaint(G, y, mask, prior_weight=0.1) without D, or D with prior_weight=0, ran in
    silence (user trial): the CLI refuses these, the API warns."""
    import warnings

    G = toy_generator
    x = in_range(G, 1)
    mask = center_mask(1, G.image_shape, fraction=0.5)
    given = {**given, **({"D": ToyDiscriminator()} if given.get("D") else {})}
    with pytest.warns(IdleOptionWarning, match=match):
        inpaint(G, x, mask, **given, **QUICK)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdleOptionWarning)
        inpaint(G, x, mask, **QUICK)  # the defaults: no D, the prior term dropped
        inpaint(G, x, mask, D=ToyDiscriminator(), prior_weight=0.1, **QUICK)


def test_yeh_takes_the_biharmonic_blend(toy_generator):
    """blend="biharmonic": x_blended is ``biharmonic_blend`` of the raw completion (α = 0.5);
    a bad blend is refused before the search."""
    from ganinverse.blending import biharmonic_blend

    G = toy_generator
    x = in_range(G, 2, seed=3)
    mask = random_mask(2, G.image_shape, missing=0.6, seed=1)
    res = inpaint(G, x, mask, prior_weight=0.0, blend="biharmonic", **FAST)
    want = biharmonic_blend(res.x_raw, res.y_masked, res.mask, 0.5)
    torch.testing.assert_close(res.x_blended, want)
    with pytest.raises(ValueError, match="blend must be True, False, .poisson"):
        inpaint(G, x, mask, prior_weight=0.0, blend="nearest", **FAST)


def test_the_default_prior_weight_is_yehs_with_d_and_zero_without_it(toy_generator):
    """prior_weight=None (the default): Yeh et al.'s λ where a D weighs the prior, the context
    loss alone without D; the result records which (it was dropped in silence, helper-68)."""
    from ganinverse.solvers.inpainting import PRIOR_WEIGHT

    G = toy_generator
    x = in_range(G, 1)
    mask = center_mask(1, G.image_shape, fraction=0.5)
    assert inpaint(G, x, mask, **QUICK).prior_weight == 0.0
    assert inpaint(G, x, mask, D=ToyDiscriminator(), **QUICK).prior_weight == PRIOR_WEIGHT
    assert inpaint(G, x, mask, D=ToyDiscriminator(), prior_weight=0.5, **QUICK).prior_weight == 0.5
