"""The shared checks (``ganinverse._validation``) and the values they refuse by name."""

import re
import warnings

import pytest
import torch

import ganinverse as gi
from ganinverse._validation import FLOAT32_MAX, check_int, check_number
from ganinverse.latent import LatentConfig
from ganinverse.solvers.adaptive import iagan
from ganinverse.solvers.ilo import ilo
from ganinverse.solvers.untrained import deep_decoder


@pytest.mark.parametrize("value", [1e39, -1e39, 1e308, FLOAT32_MAX * 1.0000001])
def test_a_number_no_float32_holds_is_refused_by_name(value):
    """lr=1e39 passed the finiteness check, then crashed inside torch's Adam (user trial)."""
    with pytest.raises(ValueError, match="lr must be a finite float32 number"):
        check_number(value, "lr")
    assert check_number(FLOAT32_MAX, "lr") == FLOAT32_MAX


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda G, A, y: gi.csgm(G, A, y, lr=3e38, steps=2, restarts=1), "lr must be <= 1e"),
        (lambda G, A, y: ilo(G, A, y, lr=3e38), "lr must be <= 1e"),
        (lambda G, A, y: iagan(G, A, y, lr_z=3e38), "lr_z must be <= 1e"),
        (lambda G, A, y: deep_decoder(None, A, y, lr=1e7), "lr must be <= 1e"),
        (lambda G, A, y: gi.GaussianCS((1, 28, 28), 10, noise_std=1e19), "noise_std must be <="),
        (lambda G, A, y: gi.csgm(G, A, y, box=3e38, init="uniform"), "box must be <= 1000"),
        (
            lambda G, A, y: gi.baselines.lasso(
                A.matrix, y, "dct", 0.1, image_shape=(1, 28, 28), noise_std=3e38
            ),
            "noise_std must be <= 2000",
        ),
    ],
)
def test_a_step_size_noise_or_box_beyond_its_domain_is_refused_by_name(call, match):
    """lr just under float32's largest number overflowed inside Adam; σ = 1e19 gave an inf y;
    box = 3e38 a NaN x̂ (user trial)."""
    G = gi.load_generator("digits")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 50, seed=0)
    with pytest.raises(ValueError, match=match):
        call(G, A, A.measure(x, seed=1))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda G, A, y: gi.csgm(G, A, y, lambda_z=3e38, steps=2), "lambda_z must be <= 1e"),
        (lambda G, A, y: gi.csgm_sparse(G, A, y, l1=3e38, steps=2), "l1 must be <= 1e"),
        (lambda G, A, y: ilo(G, A, y, radius=3e38), "radius must be <= 1e.*ℓ1 norm"),
        (lambda G, A, y: iagan(G, A, y, discrepancy=2e6), "discrepancy must be <= 1e"),
        (lambda G, A, y: gi.baselines.lasso(A, y, "dct", 2e6), "lam must be <= 1e"),
        (
            lambda G, A, y: gi.reconstruct("lasso-wavelet-frame", None, A, y, band_weight=3e38),
            "band_weight must be <= 1e",
        ),
    ],
)
def test_a_weight_beyond_its_domain_is_refused_before_any_work(call, match, monkeypatch):
    """User trial: λ_z, μ, an ILO radius of 3e38 ran (non-finite losses, exit 0), or failed
    inside the solver after the engine had run (μ: "lam ... got 7.5e+39")."""

    def no_work(*args, **kwargs):
        raise AssertionError("the engine ran before the check")

    monkeypatch.setattr("ganinverse.solvers.csgm.optimize_latent", no_work)
    G = gi.load_generator("digits")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 50, seed=0)
    with pytest.raises(ValueError, match=match):
        call(G, A, A.measure(x, seed=1))


def test_the_domain_bounds_themselves_are_accepted():
    from ganinverse._validation import check_learning_rate, check_noise_std

    assert check_learning_rate(1e6, "lr") == 1e6
    assert check_noise_std(1000, "noise_std", unit_scale=True) == 1000
    assert check_noise_std(2000, "noise_std") == 2000
    with pytest.raises(ValueError, match=r"noise_std must be <= 1000, got 1001; noise_std is σ"):
        check_noise_std(1001, "noise_std", unit_scale=True)
    assert LatentConfig(box=1000.0).box == 1000.0
    assert LatentConfig(lambda_z=1e6).lambda_z == 1e6


def test_an_int_beyond_64_bits_and_a_negative_zero():
    with pytest.raises(ValueError, match="max_iter must fit in 64 bits"):
        check_int(2**70, "max_iter", low=1)
    assert str(check_number(-0.0, "eps")) == "0.0"  # ("-0" in a table's header otherwise)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda G, A, y: gi.csgm(G, A, y, lr=1e39, steps=2, restarts=1),
            "lr must be a finite float32",
        ),
        (
            lambda G, A, y: gi.csgm(G, A, y, box=1e308, init="uniform"),
            "box must be a finite float32",
        ),
        (
            lambda G, A, y: gi.GaussianCS((1, 28, 28), 10, noise_std=1e308),
            "noise_std must be a finite float32",
        ),
        (
            lambda G, A, y: gi.baselines.lasso(A, y, "dct", 0.1, max_iter=2**70),
            "max_iter must fit in 64 bits",
        ),
        (
            lambda G, A, y: gi.csgm(G, A, y, prune_at=(0.5, 0.5), restarts=4),
            "prune_at has a repeated",
        ),
    ],
)
def test_the_api_refuses_them_before_any_work(call, match):
    G = gi.load_generator("digits")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 50, seed=0, noise_std=0.1)
    with pytest.raises(ValueError, match=match):
        call(G, A, A.measure(x, seed=1))


def test_lbfgs_over_a_cards_settings_drops_their_prune_at_and_tol():
    """gi.csgm(G, A, y, optimizer='lbfgs') on a generator whose card sets prune_at was refused
    as "use it without prune_at and tol", which the user never set (user trial)."""
    G = gi.load_generator("digits")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 50, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a two-step search: its improvement is not the point)
        res = gi.csgm(G, A, A.measure(x), optimizer="lbfgs", steps=2, restarts=1, progress=False)
    assert res.config.optimizer == "lbfgs" and res.config.prune_at == () and res.config.tol is None
    with pytest.raises(ValueError, match="lbfgs"):
        LatentConfig(optimizer="lbfgs", prune_at=(0.5,), restarts=2)  # the caller's own: refused


def test_an_eps_just_above_one_gets_no_255_hint_and_its_value_unrounded():
    from ganinverse.defense.attacks import check_budget

    with pytest.raises(ValueError, match=r"got 1\.0000001; images are on the \[0, 1\] scale$"):
        check_budget(1.0000001, "eps", "inf")
    with pytest.raises(ValueError, match=r"did you mean 8/255 = 0\.031"):
        check_budget(8, "eps", "inf")
    assert torch.tensor(check_budget(-0.0, "eps", "inf")).item() == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"c": 3e38}, r"c must be <= 1e\+06"),
        ({"c": 0.0}, "c must be > 0"),
        ({"kappa": 2e6}, r"kappa must be <= 1e\+06.*logit margin"),
    ],
)
def test_carlini_wagner_constants_beyond_their_domain_are_refused(kwargs, match):
    """User trial: CW's c = 3e38 was accepted (its loss overflowed)."""
    from ganinverse.defense.attacks import CarliniWagnerL2

    with pytest.raises(ValueError, match=match):
        CarliniWagnerL2(gi.load_classifier("digits"), **kwargs)


def test_more_domain_and_idle_refusals_of_the_second_trial():
    """User trial (helper-38): csgm_sparse's l1 within its bound failed as 'lam' after the
    engine ran; choose_weight took a repeated candidate and a string; max_bytes=-1 printed
    '-0.00 GiB'; tangent_eps was unbounded; lr with steps=0 was not called idle."""
    from ganinverse.defense import ProjectionDefense
    from ganinverse.exceptions import IdleOptionWarning

    G = gi.load_generator("digits")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 50, seed=0)
    y = A.measure(x)
    with pytest.raises(ValueError, match=r"l1 = 100000 makes the ν-step's Lasso weight"):
        gi.csgm_sparse(G, A, y, l1=1e5, steps=2, restarts=1)
    with pytest.raises(ValueError, match="candidate weight 0.1 is listed twice"):
        gi.choose_weight("lasso-dct", None, A, x, y, [0.1, 0.1])
    with pytest.raises(TypeError, match="values must be a sequence"):
        gi.choose_weight("lasso-dct", None, A, x, y, "0.1")
    with pytest.raises(ValueError, match="max_bytes must be >= 1"):
        gi.GaussianCS((1, 28, 28), 10, max_bytes=-1)
    with pytest.raises(ValueError, match=r"tangent_eps must be <= 1e\+06"):
        ProjectionDefense(G, tangent_eps=1e9)
    assert "lr" in LatentConfig(steps=0, lr=0.5).idle_options()
    with pytest.warns(IdleOptionWarning, match="lr=0.5 changes nothing here"):
        gi.csgm(G, A, y, steps=0, lr=0.5, restarts=1, progress=False)


def test_every_iteration_count_is_bounded(tmp_path):
    """helper-39: TV's iters, the Lasso's max_iter, csgm-sparse's lasso_max_iter and the power
    iteration's n_iter ran for hours at 1e12 instead of being refused."""
    from ganinverse import baselines
    from ganinverse.bases import make_basis
    from ganinverse.inpaint_baselines import tv_inpaint

    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 20, seed=0)
    y = A.measure(x)
    with pytest.raises(ValueError, match="max_iter must be <= 1,000,000"):
        baselines.lasso_fista(A, y, make_basis("dct", (1, 28, 28)), lam=0.1, max_iter=10**12)
    with pytest.raises(ValueError, match="n_iter must be <= 1,000,000"):
        A.norm(n_iter=10**12)
    mask = torch.ones(1, 1, 28, 28, dtype=torch.bool)
    with pytest.raises(ValueError, match="iters must be <= 1,000,000"):
        tv_inpaint(x, mask, iters=10**12)
    G = gi.load_generator("digits")
    with pytest.raises(ValueError, match="lasso_max_iter must be <= 1,000,000"):
        gi.csgm_sparse(G, A, y, lasso_max_iter=10**12, steps=1, restarts=1)


def test_a_number_below_float32s_normal_range_is_refused_through_the_api():
    """lambda_z=1e-39 was accepted by the API while every flag refused it (helper-63)."""
    import ganinverse as gi
    from ganinverse._validation import check_number

    assert check_number(0.0, "x") == 0.0 and check_number(2e-38, "x") == 2e-38
    with pytest.raises(ValueError, match="x must be 0 or at least float32's smallest normal"):
        check_number(1e-39, "x")
    with pytest.raises(ValueError, match="lambda_z must be 0 or at least"):
        gi.LatentConfig(lambda_z=1e-39)
    # helper-64: where 0 itself is refused (lr > 0), no "pass 0 if 0 is meant"
    with pytest.raises(
        ValueError, match=r"lr must be at least float32.s .*; pass a larger number;"
    ):
        gi.LatentConfig(lr=1e-320)
    with pytest.raises(ValueError, match="x must be at least .*pass a larger number"):
        check_number(-1e-39, "x", high=0, high_open=True)


def test_a_number_may_be_a_0d_tensor_but_not_a_shape_1_one():
    import numpy as np

    assert check_number(torch.tensor(0.25), "lr", low=0) == 0.25
    assert check_number(np.float32(0.5), "lr", low=0) == 0.5
    for value in (torch.tensor([0.1]), torch.tensor([[0.1]]), torch.zeros(0)):
        with pytest.raises(TypeError, match=r"prune_at\[0\] must be a real number.*shape"):
            check_number(value, "prune_at[0]")
    with pytest.raises(TypeError, match=r"prune_at\[0\].*shape \(1,\)"):
        LatentConfig(prune_at=(torch.tensor([0.1]),))


def test_plain_number_reads_a_low_precision_number_as_typed():
    """One unwrapping for check_number and a sweep's settings: a 0-d tensor or numpy number as
    its Python value, a float32 / float16 / bfloat16 one as the shortest decimal of its own type
    (a bfloat16 70000 went through float16, where it is inf, and was refused as non-finite)."""
    import numpy as np

    from ganinverse._validation import plain_number

    assert plain_number(torch.tensor(0.02)) == 0.02
    assert plain_number(torch.tensor(70000.0, dtype=torch.bfloat16)) == 70000.0
    assert plain_number(torch.tensor(1e-5, dtype=torch.float16)) == 1e-5
    assert plain_number(np.float32(0.1)) == 0.1 and plain_number(np.array(0.3, np.float32)) == 0.3
    assert plain_number(torch.tensor(0.1, dtype=torch.float64)) == 0.1
    assert plain_number(np.int64(3)) == 3 and type(plain_number(torch.tensor(3))) is int
    ones = torch.ones(2)
    assert plain_number(ones) is ones  # (not a number: left to the caller's check)
    assert check_number(torch.tensor(70000.0, dtype=torch.bfloat16), "w") == 70000.0


def test_a_shape_error_names_the_batch_and_the_fix_for_one_item():
    """helper-68: y of shape (50,) was told "must have shape ('*', 50)"."""
    from ganinverse._validation import check_tensor

    with pytest.raises(
        ValueError,
        match=r"^y must have shape \(B, 50\), got \(50,\); for one item pass y.unsqueeze\(0\)",
    ):
        check_tensor(torch.zeros(50), "y", shape=(None, 50))
    with pytest.raises(ValueError, match=r"^y must have shape \(B, 50\), got \(2, 49\)$"):
        check_tensor(torch.zeros(2, 49), "y", shape=(None, 50))


def test_check_int_takes_a_0d_integer_array_and_names_a_float_value():
    """helper-68: steps=np.array(2) was refused as "got ndarray" (a 0-d tensor was taken)."""
    import numpy as np

    assert check_int(np.array(2), "steps") == 2 and type(check_int(torch.tensor(3), "s")) is int
    with pytest.raises(TypeError, match=r"^steps must be an int, got float 2\.5; pass an int$"):
        check_int(2.5, "steps")
    with pytest.raises(TypeError, match=r"^steps must be an int, got bool$"):
        check_int(np.bool_(True), "steps")


@pytest.mark.parametrize(
    "call, meant",
    [
        (lambda: gi.make_operator("Gaussian", (1, 8, 8), 3), "gaussian"),
        (lambda: gi.methods.get_method("CSGM"), "csgm"),
        (lambda: gi.methods.get_method("lasso_dct"), "lasso-dct"),
        (lambda: gi.bases.make_basis("DCT", (1, 8, 8)), "dct"),
        (lambda: gi.bases.make_basis("wavelet:Haar", (1, 8, 8)), "haar"),
        (lambda: gi.bases.WaveletFrame((8, 8), "DB4", 1), "db4"),
        (lambda: gi.load_images("Digits", n=1), "digits"),
        (lambda: gi.load_images("digits", split="Test", n=1), "test"),
        (lambda: gi.defense.attack_record("PGD"), "pgd"),
        (lambda: gi.masks.parse_mask("cen ter", 1, (8, 8)), "center"),
        (lambda: gi.bases.make_basis("wavelet:Haar", (1, 8, 8)), "haar"),
    ],
)
def test_a_name_in_another_case_or_misspelt_is_refused_naming_the_one_meant(call, meant):
    """helper-68: names are exact (as the CLI's choices), so 'Center', 'DCT', 'Gaussian' were
    refused with the whole list and no word of which was meant."""
    with pytest.raises(ValueError, match=rf"did you mean '{meant}'\?"):
        call()


def test_a_misspelt_engine_keyword_or_method_option_names_the_one_meant():
    """helper-69: gi.csgm(stesp=2) named no option (gi.reconstruct did), ILO_steps suggested
    steps, and 'wavelet:' was read as haar in silence."""
    with pytest.raises(TypeError, match=r"unknown latent-engine option\(s\): stesp; did you mean"):
        LatentConfig().updated(stesp=2)
    with pytest.raises(TypeError, match=r"has no option\(s\) ILO_steps; did you mean ilo_steps\?"):
        gi.methods.get_method("ilo").options({"ILO_steps": 2})
    with pytest.raises(ValueError, match=r"basis 'wavelet:' has a ':' and no wavelet after it"):
        gi.bases.make_basis("wavelet:", (1, 8, 8))


def test_a_generator_name_in_another_case_names_the_bundled_one():
    with pytest.raises(FileNotFoundError, match=r"did you mean 'mnist-wgangp'\?"):
        gi.load_generator("mnist-WGANGP")


def test_closest_names_nothing_for_a_name_far_from_every_choice():
    from ganinverse._validation import closest

    assert closest("zzz", ("gaussian", "subsample")) == ""
    assert closest(3, ("gaussian",)) == ""
    assert "exact" in closest("GAUSSIAN", ("gaussian",))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: LatentConfig(optimizer=1), "optimizer"),
        (lambda: LatentConfig(init=None), "init"),
        (
            lambda: __import__("pretrain.trainer").trainer.TrainConfig(augment=1).resolved(),
            "augment",
        ),
        (
            lambda: __import__("pretrain.trainer").trainer.TrainConfig(loss=b"gan").resolved(),
            "loss",
        ),
    ],
)
def test_a_name_of_another_type_is_a_type_error_naming_the_setting(call, name):
    """helper-71: ``augment=1`` got a ValueError ("must be one of ...; got 1"): a value of the
    wrong type is a TypeError, as every other setting's (check_choice, package-wide)."""
    with pytest.raises(TypeError, match=rf"{name} must be a str, one of .*; got \w+ "):
        call()


def test_check_choice_still_names_the_closest_name_of_the_right_type():
    from ganinverse._validation import check_choice

    with pytest.raises(ValueError, match="did you mean 'adam'"):
        check_choice("Adam", "optimizer", ("adam", "lbfgs"))
    assert check_choice("adam", "optimizer", ("adam", "lbfgs")) == "adam"


def _lasso_with_solver(solver):
    op = gi.GaussianCS((1, 8, 8), 10, seed=0)
    return gi.reconstruct("lasso-dct", None, op, torch.zeros(1, 10), solver=solver)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: gi.reconstruct(1, None, None, None), "method"),
        (lambda: gi.make_operator(1, (1, 8, 8)), "operator"),
        (lambda: gi.load_images(1), r"dataset"),
        (lambda: gi.load_images("digits", split=1), "split for 'digits'"),
        (lambda: _lasso_with_solver(1), "solver"),
        (
            lambda: __import__("ganinverse.defense.registry").defense.registry.attack_record(2),
            "attack",
        ),
        (
            lambda: __import__("ganinverse.sweep.spec").sweep.spec.SweepSpec(
                dataset="digits", x_values=(20,), methods=("lasso-dct",), operator=1
            ),
            "operator",
        ),
    ],
)
def test_a_name_that_is_no_str_is_a_type_error_at_every_lookup(call, name):
    """helper-73: reconstruct(1, ...), make_operator(1), load_images(1) / split=1, solver=1,
    SweepSpec(operator=1) got ValueErrors ("must be one of ...; got 1"): a wrong type."""
    with pytest.raises(TypeError, match=rf"^{name} must be a str, one of .*; got int "):
        call()


def _lookups():
    """Every lookup of a name in a registry, as a function of the name."""
    from ganinverse.baselines import _check_solver
    from ganinverse.data import load_images
    from ganinverse.defense.registry import attack_record
    from ganinverse.methods import get_method
    from ganinverse.operators import make_operator
    from ganinverse.plots import error_vs_m
    from ganinverse.sweep.spec import SweepSpec
    from pretrain.losses import make_loss

    return {
        "method": (get_method, "csgm"),
        "operator": (lambda n: make_operator(n, (1, 8, 8), m=4), "gaussian"),
        "dataset": (lambda n: load_images(n, n=1), "digits"),
        "split for 'digits'": (lambda n: load_images("digits", split=n, n=1), "test"),
        "solver": (_check_solver, "fista"),
        "attack": (attack_record, "pgd"),
        "loss": (make_loss, "lsgan"),
        "metric": (lambda n: error_vs_m([], "/nonexistent/x.png", metric=n), "psnr"),
        "sweep operator": (
            lambda n: SweepSpec("digits", (4,), ("csgm",), operator=n).operator_class(),
            "gaussian",
        ),
    }


@pytest.mark.parametrize("what", list(_lookups()))
def test_every_name_lookup_refuses_alike(what):
    """One wording at every registry: the choices quoted, the near one named, a TypeError for a
    name that is no str."""
    lookup, known = _lookups()[what]
    name = "operator" if what == "sweep operator" else what
    with pytest.raises(
        ValueError,
        match=rf"^{re.escape(name)} must be one of '.*'; got 'zzqq'( \(a new one .*\))?$",
    ):
        lookup("zzqq")
    with pytest.raises(ValueError, match=rf"did you mean '{re.escape(known)}'"):
        lookup(known.upper())
    with pytest.raises(TypeError, match=rf"^{re.escape(name)} must be a str, one of '"):
        lookup(1)


@pytest.mark.parametrize("what", list(_lookups()))
def test_an_empty_name_is_refused_as_empty_at_every_lookup(what):
    lookup, known = _lookups()[what]
    name = "operator" if what == "sweep operator" else what
    with pytest.raises(ValueError, match=rf"^{re.escape(name)} is empty \(' '\): pass one of '"):
        lookup(" ")


def test_the_sweep_says_an_operator_without_an_axis_is_one():
    from ganinverse.sweep.spec import SweepSpec

    with pytest.raises(
        ValueError, match=r"got 'identity' \('identity' is an operator with no axis"
    ):
        SweepSpec("digits", (4,), ("csgm",), operator="identity").operator_class()
