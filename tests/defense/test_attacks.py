import pytest
import torch
from torch import nn

from ganinverse.defense import FGSM, PGD, CarliniWagnerL2, ProjectionDefense, margin_loss
from ganinverse.models import accuracy


@pytest.mark.parametrize(
    "make, norm",
    [
        (lambda m: FGSM(m, eps=0.2), "inf"),
        (lambda m: PGD(m, eps=0.2, steps=10), "inf"),
        (lambda m: PGD(m, eps=1.0, steps=10, norm="2"), "2"),
    ],
)
def test_attacks_stay_in_the_ball_and_range_and_fool_the_classifier(
    toy_classifier, toy_test_set, make, norm
):
    x, y = toy_test_set
    attack = make(toy_classifier)
    adv = attack(x, y)
    assert adv.shape == x.shape and not adv.requires_grad
    assert adv.min() >= 0 and adv.max() <= 1
    d = (adv - x).flatten(1)
    size = d.abs().amax(1) if norm == "inf" else d.norm(dim=1)
    assert float(size.max()) <= attack.eps + 1e-5
    assert accuracy(toy_classifier, x, y) >= 0.95
    assert accuracy(toy_classifier, adv, y) <= 0.3


def test_pgd_is_at_least_as_strong_as_fgsm_and_seeded(toy_classifier, toy_test_set):
    x, y = toy_test_set
    fgsm = accuracy(toy_classifier, FGSM(toy_classifier, 0.1)(x, y), y)
    a = PGD(toy_classifier, 0.1, steps=20, seed=3)(x, y)
    assert accuracy(toy_classifier, a, y) <= fgsm
    assert torch.equal(a, PGD(toy_classifier, 0.1, steps=20, seed=3)(x, y))


def test_zero_eps_changes_nothing(toy_classifier, toy_test_set):
    x, y = toy_test_set
    assert torch.equal(FGSM(toy_classifier, 0.0)(x, y), x)


def test_eot_averages_identical_gradients_for_a_deterministic_model(toy_classifier, toy_test_set):
    x, y = toy_test_set
    g1 = PGD(toy_classifier, 0.1).gradient(x, y)
    g3 = PGD(toy_classifier, 0.1, eot_samples=3).gradient(x, y)
    assert torch.allclose(g1, g3, atol=1e-6) and g1.abs().sum() > 0


def test_carlini_wagner_finds_small_adversarials(toy_classifier, toy_test_set):
    x, y = toy_test_set
    cw = CarliniWagnerL2(toy_classifier, c=10.0, steps=100, lr=0.05)
    adv = cw(x, y)
    fooled = torch.isfinite(cw.last_distance)
    assert fooled.float().mean() > 0.8
    assert (toy_classifier(adv).argmax(1)[fooled] != y[fooled]).all()
    d = (adv - x).flatten(1).norm(dim=1)
    assert torch.allclose(d[fooled], cw.last_distance[fooled], atol=1e-4)


def test_margin_loss():
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 5.0]])
    labels = torch.tensor([0, 1])
    assert torch.allclose(margin_loss(logits, labels), torch.tensor([2.0, 0.0]))
    assert torch.allclose(margin_loss(logits, labels, kappa=10), torch.tensor([2.0, -3.0]))
    assert torch.allclose(margin_loss(logits, labels, targeted=True), torch.tensor([0.0, 3.0]))


def test_bad_inputs_raise_named_errors(toy_classifier, toy_test_set):
    x, y = toy_test_set
    with pytest.raises(ValueError, match="eps"):
        FGSM(toy_classifier, eps=-0.1)
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\].*to_unit\(images\)"):
        PGD(toy_classifier, 0.1)(x * 2 - 1, y)
    with pytest.raises(ValueError, match=r"images in \[0, 255\]\? pass images / 255"):
        FGSM(toy_classifier, 0.1)(x * 255, y)  # (helper-47: no hint before)
    with pytest.raises(ValueError, match="images must have 4 dimensions"):
        FGSM(toy_classifier, 0.1)(x[:, 0], y)
    with pytest.raises(ValueError, match=r"images must have shape \(B, 1, 8, 8\)"):
        FGSM(toy_classifier, 0.1)(torch.rand(3, 1, 6, 6), y[:3])
    with pytest.raises(ValueError, match="labels must have shape"):
        FGSM(toy_classifier, 0.1)(x, y[:5])
    with pytest.raises(TypeError, match="labels must be an integer"):
        FGSM(toy_classifier, 0.1)(x, y.float())
    with pytest.raises(ValueError, match="norm"):
        PGD(toy_classifier, 0.1, norm="1")
    with pytest.raises(TypeError, match="model"):
        FGSM(lambda v: v, 0.1)


def test_a_non_differentiable_defense_points_to_bpda(toy_generator, toy_classifier, toy_test_set):
    x, y = toy_test_set
    projection = ProjectionDefense(toy_generator, steps=2, restarts=1, gradient="none")
    defended = nn.Sequential(projection, toy_classifier)
    with pytest.raises(TypeError, match="BPDA"):
        FGSM(defended, 0.1)(x[:4], y[:4])


@pytest.mark.parametrize("eps, steps", [(0.99, 2), (0.9, 1), (0.3, 1)])
def test_the_default_step_never_exceeds_the_budget(eps, steps):
    """Few steps with a large ε: Madry's 2.5 ε / steps would exceed ε (and the L∞ bound 1)."""
    from ganinverse.defense.attacks import PGD

    attack = PGD(
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)), eps=eps, steps=steps
    )
    assert attack.alpha == min(2.5 * eps / steps, eps)


@pytest.mark.parametrize("attack", [FGSM, PGD, CarliniWagnerL2])
def test_an_attack_leaves_a_wrapped_classifier_in_its_own_mode(attack, toy_test_set):
    """Attacking ``nn.Sequential(..., classifier)`` (a fresh Sequential is in training mode)
    must not switch an eval-mode classifier with dropout into training mode: its accuracy
    afterwards would be measured with dropout on."""
    x, y = toy_test_set
    clf = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(x[0].numel(), 10)).eval()
    wrapped = nn.Sequential(nn.Identity(), clf)
    kwargs = {"steps": 2} if attack is not FGSM else {}
    if attack is CarliniWagnerL2:
        attack(wrapped, steps=2)(x, y)
    else:
        attack(wrapped, eps=0.1, **kwargs)(x, y)
    assert wrapped.training and not clf.training and not clf[1].training


def test_a_zero_gradient_everywhere_is_a_warning_not_silence(toy_classifier, toy_test_set):
    """The released Defense-GAN evaluation's FGSM returned the clean images because the input
    gradient was zero; our attacks say so (and stay silent on an ordinary model)."""
    import warnings

    from ganinverse.exceptions import ZeroGradientWarning

    x, y = toy_test_set

    class Hidden(torch.autograd.Function):
        @staticmethod
        def forward(ctx, images):
            return images.clone()

        @staticmethod
        def backward(ctx, grad):
            return torch.zeros_like(grad)

    hidden = nn.Sequential(nn.Identity(), toy_classifier)
    hidden.forward = lambda images: toy_classifier(Hidden.apply(images))
    with pytest.warns(ZeroGradientWarning, match="exactly zero for all"):
        adv = FGSM(hidden, eps=0.3)(x, y)
    assert torch.equal(adv, x.clamp(0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroGradientWarning)
        FGSM(toy_classifier, eps=0.3)(x, y)
        PGD(toy_classifier, eps=0.3, steps=2)(x, y)


@pytest.mark.parametrize(
    "attack",
    [lambda m: FGSM(m, eps=0.1), lambda m: PGD(m, eps=0.1, steps=2), CarliniWagnerL2],
    ids=["fgsm", "pgd", "cw"],
)
def test_images_a_model_cannot_take_are_named_not_torchs_error(attack):
    """A classifier that declares no image shape, given images of another size, failed with
    torch's 'mat1 and mat2 shapes cannot be multiplied' (user trial): a ValueError naming the
    images' (C, H, W) and the fix."""
    clf = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x, y = torch.rand(2, 1, 32, 32), torch.tensor([1, 2])
    with pytest.raises(
        ValueError, match=r"cannot run on images of shape \(C, H, W\) = \(1, 32, 32\)"
    ):
        attack(clf)(x, y)


def test_meta_tensors_and_models_are_refused_by_name(toy_generator):
    """Tensors and generators on the meta device (shapes, no values) failed inside torch."""
    import ganinverse as gi
    from ganinverse import metrics
    from ganinverse.operators import GaussianCS

    meta = torch.empty(1, 1, 28, 28, device="meta")
    with pytest.raises(ValueError, match="x_hat is on the meta device"):
        metrics.psnr(meta, torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="x is on the meta device"):
        GaussianCS((1, 28, 28), 10).measure(meta)
    op = GaussianCS(tuple(toy_generator.image_shape), 5)
    y = torch.zeros(1, 5)
    import copy

    G = copy.deepcopy(toy_generator).to("meta")
    with pytest.raises(ValueError, match="G is on the meta device"):
        gi.csgm(G, op, y, steps=1, restarts=1)


def test_a_flag_that_is_no_bool_and_a_seed_that_draws_nothing(toy_classifier, toy_generator):
    """PGD(random_start="no") started at random (bool("no") is True) and PGD's seed without a
    random start, like ProjectionDefense's tangent_eps with another gradient, changed nothing
    in silence (user trial)."""
    from ganinverse.defense.projection import TANGENT_EPS
    from ganinverse.exceptions import IdleOptionWarning

    with pytest.raises(TypeError, match="random_start must be a bool"):
        PGD(toy_classifier, 0.1, steps=1, random_start="no")
    with pytest.warns(IdleOptionWarning, match="seed=5 changes nothing"):
        PGD(toy_classifier, 0.1, steps=1, random_start=False, seed=5)
    with pytest.warns(IdleOptionWarning, match="tangent_eps=0.5 changes nothing"):
        ProjectionDefense(toy_generator, gradient="identity", tangent_eps=0.5)
    with pytest.raises(TypeError, match="resample must be a bool"):
        ProjectionDefense(toy_generator, resample="yes")
    ProjectionDefense(toy_generator, gradient="identity", tangent_eps=TANGENT_EPS)  # the default


def test_eot_samples_on_a_defense_that_does_not_resample_warn(toy_generator, toy_classifier):
    """helper-38 #11: EOT over a deterministic projection averages one gradient N times."""
    from ganinverse.defense import BPDA
    from ganinverse.exceptions import IdleOptionWarning

    def model(resample):
        defense = ProjectionDefense(toy_generator, steps=2, restarts=1, resample=resample)
        return nn.Sequential(BPDA(defense), toy_classifier)

    with pytest.warns(IdleOptionWarning, match="does not resample"):
        PGD(model(False), 0.1, eot_samples=4)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", IdleOptionWarning)
        PGD(model(True), 0.1, eot_samples=4)
        PGD(toy_classifier, 0.1, eot_samples=1)


def test_pgd_budget_at_eps_0_and_an_unroll_beyond_the_steps_warn(toy_generator, toy_classifier):
    """helper-39: the CLI refused them; the API said nothing."""
    from ganinverse.defense import UnrolledProjection
    from ganinverse.exceptions import IdleOptionWarning

    with pytest.warns(IdleOptionWarning, match="change nothing at eps=0"):
        PGD(toy_classifier, 0.0, steps=5)
    defense = ProjectionDefense(toy_generator, steps=2, restarts=1, optimizer="sgd", prune_at=())
    with pytest.warns(IdleOptionWarning, match="unroll_steps=5 is beyond the projection's steps=2"):
        UnrolledProjection(defense, unroll_steps=5)


class _FooledOnce(torch.nn.Module):
    """A 2-class model that misclassifies (class 1 for label 0) only at the first iterate PGD
    differentiates at; every later iterate, the last included, is classified correctly."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))
        self.gradient_calls = 0

    def forward(self, x):
        if x.requires_grad:
            self.gradient_calls += 1
        bias = 1.0 if self.gradient_calls == 1 and x.requires_grad else -1.0
        score = 1e-3 * x.flatten(1).sum(1, keepdim=True) * self.w + bias
        return torch.cat([-score, score], 1)


@pytest.mark.parametrize("norm, eps", [("inf", 0.1), ("2", 0.5)])
def test_keep_best_returns_the_first_misclassified_iterate(norm, eps):
    """PGD(keep_best=True) returns per image an iterate the model misclassified (here the
    random start, the first iterate) where the last one is classified correctly; without
    keep_best, the last iterate."""
    x, y = torch.rand(3, 1, 4, 4), torch.zeros(3, dtype=torch.long)
    last = PGD(_FooledOnce(), eps, steps=4, norm=norm, seed=1)(x, y)
    attack = PGD(_FooledOnce(), eps, steps=4, norm=norm, seed=1, keep_best=True)
    best = attack(x, y)
    start = (x + attack._start(x)).clamp(0, 1)
    assert torch.equal(best, start) and not torch.equal(last, start)


def test_keep_best_can_only_fool_more_images(toy_classifier, toy_test_set):
    x, y = toy_test_set
    last = PGD(toy_classifier, 0.1, steps=10, seed=0)(x, y)
    best = PGD(toy_classifier, 0.1, steps=10, seed=0, keep_best=True)(x, y)
    with torch.no_grad():
        fooled_last = toy_classifier(last).argmax(1) != y
        fooled_best = toy_classifier(best).argmax(1) != y
    assert (fooled_best | ~fooled_last).all()  # every image fooled at the end is fooled here
    assert (best - x).abs().max() <= 0.1 + 1e-6
    with pytest.raises(TypeError, match="keep_best"):
        PGD(toy_classifier, 0.1, keep_best="yes")


def test_the_margin_loss_is_the_logit_gap_and_its_gradient_is_closed_form():
    """loss="margin" ascends max_{j≠y} Z_j − Z_y; on a linear model Z = W x its input gradient
    is W_{j*} − W_y (j* the runner-up), checked against that closed form."""
    from ganinverse.defense.attacks import ATTACK_LOSSES

    logits = torch.tensor([[2.0, 5.0, 1.0], [0.0, -1.0, 3.0]])
    labels = torch.tensor([1, 0])
    assert torch.equal(ATTACK_LOSSES["margin"](logits, labels), torch.tensor([-3.0, 3.0]))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3, bias=False))
    x, y = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    attack = PGD(model, 0.1, loss="margin")
    g = attack.gradient(x, y)
    W = model[1].weight.detach()
    z = model(x).detach()
    runner_up = z.masked_fill(torch.nn.functional.one_hot(y, 3).bool(), -1e9).argmax(1)
    assert torch.allclose(g.flatten(1), W[runner_up] - W[y], atol=1e-6)
    assert "loss='margin'" in repr(attack) and "loss" not in repr(PGD(model, 0.1))
    with pytest.raises(ValueError, match="loss must be one of 'ce', 'margin'"):
        PGD(model, 0.1, loss="hinge")


def test_the_margin_loss_moves_images_where_the_cross_entropy_saturates():
    """A confident model (logits × 1e4): the float32 softmax is exactly one-hot, so the
    cross-entropy's input gradient is exactly zero (ZeroGradientWarning, nothing moves); the
    margin's is not, and PGD with it fools the model."""
    from ganinverse.exceptions import ZeroGradientWarning

    torch.manual_seed(0)
    x = torch.rand(8, 1, 4, 4) * 0.2
    y = torch.zeros(8, dtype=torch.long)

    class Confident(nn.Module):  # class 0 below a mean intensity of 0.5, class 1 above
        def forward(self, x):
            s = 1e4 * (x.flatten(1).mean(1, keepdim=True) - 0.5)
            return torch.cat([-s, s], 1)

    with pytest.warns(ZeroGradientWarning):
        ce = PGD(Confident(), 0.5, steps=10, random_start=False)(x, y)
    assert torch.equal(ce, x)
    margin = PGD(Confident(), 0.5, steps=10, random_start=False, loss="margin")(x, y)
    assert (Confident()(margin).argmax(1) == 1).all()


def test_a_budget_whose_zero_is_checked_later_passes_zero_and_tells_the_open_range():
    """One rule for train-classifier --eps and AdversarialTraining(eps=): 0 passes (refused
    later as plain training), any other radius outside (0, 1) is told that range."""
    from ganinverse.defense.attacks import check_budget

    assert check_budget(0, "eps", "inf", strict=True, zero_checked_later=True) == 0.0
    assert check_budget(0.3, "eps", "inf", strict=True, zero_checked_later=True) == 0.3
    with pytest.raises(ValueError, match=r"eps must be >= 0|eps must be > 0"):
        check_budget(-0.1, "eps", "inf", strict=True, zero_checked_later=True)
    with pytest.raises(ValueError, match=r"eps must be in \(0, 1\)"):
        check_budget(1.5, "eps", "inf", strict=True, zero_checked_later=True)
    with pytest.raises(TypeError, match="eps"):
        check_budget(False, "eps", "inf", strict=True, zero_checked_later=True)
    with pytest.raises(ValueError, match=r"eps must be > 0"):  # (no later check: refused)
        check_budget(0, "eps", "inf", strict=True)
