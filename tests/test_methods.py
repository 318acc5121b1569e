import math
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from ganinverse import metrics
from ganinverse.bases import make_basis
from ganinverse.methods import METHODS, choose_weight, get_method, reconstruct
from ganinverse.operators import GaussianCS, Inpainting

LASSO_BASES = {"lasso": "pixel", "lasso-dct": "dct", "lasso-wavelet": "wavelet"}


@pytest.mark.parametrize("method", sorted(LASSO_BASES))
def test_lasso_recovers_an_image_sparse_in_its_basis_on_the_unit_scale(method):
    # x₀ ∈ [0, 1]-scale is 3-sparse in the method's basis; on [-1, 1] (x = 2x₀ - 1) it is not,
    # so exact recovery shows the solve happens on the [0, 1] scale as documented.
    basis = make_basis(LASSO_BASES[method], (1, 8, 8))
    c = torch.zeros(2, 1, 8, 8)
    c[:, 0, 0, 1], c[:, 0, 2, 3], c[:, 0, 5, 4] = 1.0, -0.8, 0.6
    x = 2 * basis.synthesis(c) - 1
    op = GaussianCS((1, 8, 8), 40, seed=3)
    # noiseless y = A x (x leaves [-1, 1], which measure() refuses; the point is the scale)
    x_hat = reconstruct(method, None, op, op.A(x), lam=1e-4)
    assert x_hat.shape == x.shape and x_hat.dtype == torch.float32
    assert float((x_hat - x).abs().max()) < 1e-2


def test_lambda_is_chosen_on_the_given_images_and_reported_on_the_unit_scale():
    x0 = torch.zeros(3, 1, 8, 8)
    x0[:, 0, 1, 1] = 1.0
    op = GaussianCS((1, 8, 8), 30, seed=1, noise_std=0.05)
    x = 2 * x0 - 1
    lam, scores = choose_weight("lasso", None, op, x, op.measure(x), (1e-3, 0.1, 100.0))
    assert [s[0] for s in scores] == [1e-3, 0.1, 100.0]
    assert lam == min(scores, key=lambda s: s[1])[0]
    # a huge λ gives x̂₀ = 0: the error is the truth's own energy (1/64 on the [0, 1] scale)
    assert abs(scores[2][1] - 1 / 64) < 1e-4


def test_each_record_sets_the_weight_it_tunes():
    def tuned(method, value):
        record = get_method(method)
        base = record.options()
        return base, record.tuned.apply(base, value)

    base, csgm = tuned("csgm", 0.5)
    assert csgm["config"].lambda_z == 0.5 and base["config"].lambda_z != 0.5
    base, sparse = tuned("csgm-sparse", 0.2)
    assert sparse["l1"] == 0.2 and base["l1"] != 0.2 and sparse["config"] == base["config"]
    assert tuned("lasso-dct", 0.3)[1]["lam"] == 0.3
    engine = tuned("csgm", {"lambda_z": 0.2, "steps": 7})[1]["config"]
    assert (engine.lambda_z, engine.steps) == (0.2, 7)
    with pytest.raises(TypeError, match="is a number"):
        tuned("lasso-dct", {"lambda_z": 0.2})


def test_every_record_is_complete():
    """What reconstruct, the sweep and the CLI read from each record."""
    for name, record in METHODS.items():
        assert record.name == name and record.summary
        assert callable(record.solve)
        if record.tuned is not None:
            assert record.tuned.flag.startswith("--")
            assert record.tuned.option in record.defaults
        if record.starts_from is not None:
            assert record.starts_from in METHODS
        for option, flag in record.flags.items():
            assert option in record.defaults and flag.flag.startswith("--")


def test_lambda_z_is_chosen_by_validation_error(toy_generator):
    # truth in the range of G at ||z|| ≈ 3: a huge λ_z pulls ẑ to 0 and must lose
    G = toy_generator
    z = torch.randn(2, G.latent_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        x = G(z)
    op = GaussianCS(G.image_shape, 30, seed=2)
    config = get_method("csgm").defaults["config"].updated(restarts=2, steps=60, lr=0.05)
    best, scores = choose_weight("csgm", G, op, x, op.measure(x), (0.0, 1e3), {"config": config})
    assert [s[0] for s in scores] == [0.0, 1e3]
    assert best == 0.0 and scores[0][1] < scores[1][1]


def test_choose_weight_needs_candidates():
    with pytest.raises(ValueError, match="at least one"):
        choose_weight(
            "lasso", None, GaussianCS((1, 4, 4), 5), torch.zeros(1, 1, 4, 4), torch.zeros(1, 5), ()
        )


def test_unknown_options_missing_generator_or_unknown_method_raise():
    op = GaussianCS((1, 8, 8), 10)
    with pytest.raises(TypeError, match="no option.*lamda.*options are"):
        reconstruct("lasso-dct", None, op, torch.zeros(1, 10), lamda=0.1)
    with pytest.raises(ValueError, match="needs a generator"):
        reconstruct("csgm", None, op, torch.zeros(1, 10))
    with pytest.raises(ValueError, match="method must be one of"):
        reconstruct("magic", None, op, torch.zeros(1, 10))


def test_the_sparse_weight_search_runs_the_latent_engine_once(toy_generator, csgm_calls):
    z = torch.randn(2, toy_generator.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = toy_generator(z) + 0.1
    op = GaussianCS(toy_generator.image_shape, 30, seed=0)
    config = get_method("csgm").defaults["config"].updated(steps=50, progress=False)
    best, scores = choose_weight(
        "csgm-sparse", toy_generator, op, x, op.measure(x), (1e-4, 1e-2, 10.0), {"config": config}
    )
    assert len(csgm_calls) == 1 and len(scores) == 3
    assert best == min(scores, key=lambda s: s[1])[0]


def test_a_weight_search_warns_only_about_the_chosen_candidate(monkeypatch):
    """Candidates that lose are no result: their ConvergenceWarnings are not passed on; the
    chosen one's are (once, naming the weight)."""
    import warnings

    from ganinverse import methods
    from ganinverse.exceptions import ConvergenceWarning

    def fake(G, operator, y, *, lam, init=None, **options):
        if lam in (1e-3, 0.1):
            warnings.warn(f"not converged at {lam}", ConvergenceWarning, stacklevel=2)
        x_hat = torch.full((len(y), 1, 8, 8), -1.0 if lam == 0.1 else 1.0)
        return SimpleNamespace(x_hat=x_hat, coefficients=x_hat)

    monkeypatch.setitem(methods.METHODS, "lasso", replace(methods.METHODS["lasso"], solve=fake))
    op = GaussianCS((1, 8, 8), 10, seed=0)
    x = -torch.ones(2, 1, 8, 8)  # lam = 0.1 reconstructs it exactly
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        best, _ = methods.choose_weight("lasso", None, op, x, op.A(x), [1e-3, 0.1, 1.0])
    assert best == 0.1
    messages = [str(w.message) for w in seen if issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == 1 and "chosen weight 0.1" in messages[0] and "at 0.1" in messages[0]


def test_a_candidate_with_a_non_finite_reconstruction_never_wins(monkeypatch):
    from ganinverse import methods

    def fake(G, operator, y, *, lam, init=None, **options):
        x_hat = torch.full((len(y), 1, 8, 8), float("nan") if lam == 0.1 else 0.5)
        return SimpleNamespace(x_hat=x_hat, coefficients=x_hat)

    monkeypatch.setitem(methods.METHODS, "lasso", replace(methods.METHODS["lasso"], solve=fake))
    op = GaussianCS((1, 8, 8), 10, seed=0)
    x = -torch.ones(2, 1, 8, 8)
    best, scores = methods.choose_weight("lasso", None, op, x, op.A(x), [0.1, 1.0])
    assert best == 1.0 and math.isnan(scores[0][1])


def test_the_lasso_lambda_search_walks_the_path_with_warm_starts(monkeypatch):
    """Largest λ first, each solve started at the previous solution; the scores keep the order
    of the candidates and equal cold-started solves to the certified accuracy."""
    from ganinverse import baselines, methods

    starts = []
    fista = baselines.lasso_fista

    def spy(A, y, basis, image_shape, lam, **kw):
        starts.append((lam, kw.get("init") is not None))
        return fista(A, y, basis, image_shape, lam, **kw)

    monkeypatch.setitem(baselines.SOLVERS, "fista", spy)
    basis = make_basis("dct", (1, 8, 8))
    c = torch.zeros(3, 1, 8, 8)
    c[:, 0, 0, 1], c[:, 0, 2, 3] = 0.4, -0.3
    x = (2 * basis.synthesis(c) - 1).clamp(-1, 1)
    op = GaussianCS((1, 8, 8), 30, seed=3)
    lams = [0.01, 1.0, 0.1]
    best, scores = methods.choose_weight("lasso-dct", None, op, x, op.A(x), lams)
    assert starts == [(1.0, False), (0.1, True), (0.01, True)]
    assert [v for v, _ in scores] == lams
    for lam, score in scores:  # a cold solve of each candidate scores the same
        cold = metrics.mse(reconstruct("lasso-dct", None, op, op.A(x), lam=lam), x).mean()
        assert abs(score - float(cold)) <= 1e-3 * float(cold) + 1e-7
    assert best == min(scores, key=lambda s: s[1])[0]


def test_a_cards_setting_the_callers_options_make_idle_is_reset_not_warned(recwarn):
    """G's card recommends prune_at; the caller's restarts=1 makes it idle. The caller never set
    prune_at, so it goes back to its default instead of warning (IdleOptionWarning is for
    what the caller set)."""
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.models import load_generator

    G = load_generator("digits", device="cpu")
    op = GaussianCS(G.image_shape, 20, seed=0)
    y = op.measure(torch.zeros(1, *G.image_shape), seed=1)
    from ganinverse.methods import default_config, reconstruct_result

    assert default_config(get_method("csgm"), G, op)[0].prune_at  # the card sets it
    res = reconstruct_result("csgm", G, op, y, steps=2, restarts=1, progress=False)
    assert res.steps_run.shape == (1, 1)
    assert not [w for w in recwarn if issubclass(w.category, IdleOptionWarning)]
    with pytest.warns(IdleOptionWarning, match="prune_at"):  # set by the caller: warned
        reconstruct("csgm", G, op, y, steps=2, restarts=1, prune_at=(0.5,), progress=False)


def test_an_unknown_option_suggests_the_close_one_and_names_the_engine_keywords():
    """gi.reconstruct('csgm', ..., lamda_z=0.1) listed config, d_prior, d_weight as its options
    although it takes every engine keyword (user trial): the typo gets its suggestion."""
    with pytest.raises(TypeError, match="lamda_z; did you mean lambda_z\\?.*latent-engine"):
        get_method("csgm").options({"lamda_z": 0.1})


def test_python_m_ganinverse_runs_the_command(monkeypatch, capsys):
    """``python -m ganinverse --help`` (the ``__main__`` module run as ``-m`` runs it, in this
    interpreter: a new one would spend its seconds importing torch)."""
    import runpy

    monkeypatch.setattr("sys.argv", ["ganinverse", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("ganinverse", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 0 and "usage: ganinverse" in capsys.readouterr().out


@pytest.mark.parametrize(
    "method, options, match",
    [
        (
            "ilo",
            {"ilo_steps": 0, "ilo_lr": 0.05},
            "ilo_lr=0.05 changes nothing here: it acts only when ilo_steps > 0",
        ),
        ("ilo", {"ilo_steps": 0, "radius": 0.5}, "radius=0.5 changes nothing"),
        ("ilo", {"radius": 0, "ilo_steps": 20}, "ilo_steps=20 changes nothing.* radius > 0"),
        ("iagan", {"adapt_steps": 0, "lr_theta": 1e-3}, "acts only when adapt_steps > 0"),
        ("iagan", {"adapt_steps": 0, "discrepancy": 2.0}, "discrepancy=2.0 changes nothing"),
    ],
)
def test_a_method_option_that_cannot_act_warns_in_the_api(method, options, match):
    """User trial: iagan(adapt_steps=0, lr_theta=...) and ilo(steps=0, lr=...) ran without a
    word (the CLI refuses those flags: Flag.acts_when)."""
    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning

    G = gi.load_generator("digits")
    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 50, seed=0)
    config = gi.LatentConfig(steps=2, restarts=1, progress=False)
    with pytest.warns(IdleOptionWarning, match=match):
        gi.reconstruct(method, G, A, A.measure(x), config=config, **options)


def test_a_seed_given_to_a_method_that_draws_nothing_warns():
    """helper-38 #13: gi.reconstruct('lasso-dct', ..., seed=3) said nothing (the CLI refuses)."""
    import warnings

    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning

    x, _ = gi.load_images("digits", split="test", n=1)
    A = gi.GaussianCS((1, 28, 28), 30, seed=0)
    with pytest.warns(IdleOptionWarning, match="draws nothing at random: seed=3"):
        gi.reconstruct("lasso-dct", None, A, A.measure(x), seed=3, lam=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdleOptionWarning)
        gi.reconstruct("lasso-dct", None, A, A.measure(x), seed=0, lam=0.3)


def test_an_engine_keyword_means_the_engine_for_every_latent_method():
    """helper-40 / helper-68: ilo's own options were named steps / lr, so steps= meant ILO's
    steps for ilo and the engine's for csgm and iagan (each helper expected the other). They
    are ilo_steps / ilo_lr now: steps= is the engine's (the CSGM start's) for every latent
    method, and a method cannot be registered with an option named as an engine keyword."""
    from ganinverse.methods import Method, reconstruct_result, register_method
    from ganinverse.models import DCGANGenerator

    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, image_shape=(1, 28, 28), ngf=4).eval()
    A = GaussianCS((1, 28, 28), 25, seed=0)
    y = A.measure(torch.rand(1, 1, 28, 28) * 2 - 1)
    config = get_method("csgm").defaults["config"].updated(steps=2, restarts=1)
    r = reconstruct_result("ilo", G, A, y, ilo_steps=1, ilo_lr=0.01, config=config)
    assert (r.steps, r.start.config.steps) == (1, 2)
    r = reconstruct_result("ilo", G, A, y, steps=3, restarts=1, ilo_steps=2)  # card + keywords
    assert r.steps == 2 and (r.start.config.steps, r.start.config.restarts) == (3, 1)
    with pytest.raises(ValueError, match=r"its option\(s\) lr, steps take the name of the la"):
        register_method(Method("shadows", lambda **k: None, "x", defaults={
            "config": config, "steps": 3, "lr": 0.1}))  # fmt: skip
    assert "shadows" not in METHODS


def test_choose_weight_checks_its_validation_pair_before_any_solve():
    """User trial (helper-40): 2 images and 3 measurement vectors failed after the searches,
    in the metric ("x_hat and x must have the same shape"), naming neither argument."""
    A = GaussianCS((1, 8, 8), 10, seed=0)
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    with pytest.raises(ValueError, match=r"x_val holds 2 images but y_val 3 measurement"):
        choose_weight("lasso-dct", None, A, x[:2], A.measure(x), [0.1])
    with pytest.raises(ValueError, match=r"x_val"):
        choose_weight("lasso-dct", None, A, x * 255, A.measure(x), [0.1])


@pytest.mark.parametrize("noise_std", [0.0, 0.1])
def test_choose_weight_refuses_y_val_that_is_not_the_measurements_of_x_val(noise_std):
    """Helper-41: x_val on [0, 1] with y_val measured on [-1, 1], or y_val of the same images
    in another order, were searched in silence (each candidate scored against other images).
    y_val within the operator's noise of A x_val is accepted; the rest is a ValueError."""
    A = GaussianCS((1, 8, 8), 20, seed=0, noise_std=noise_std)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    y = A.measure(x, seed=3)
    lam, _ = choose_weight("lasso-dct", None, A, x, y, [0.1, 1.0])  # its own measurements
    with pytest.raises(ValueError, match=r"y_val is not the measurements of x_val.*2 x_val − 1"):
        choose_weight("lasso-dct", None, A, (x + 1) / 2, y, [0.1, 1.0])
    with pytest.raises(ValueError, match=r"for 4 of 4 images \(first: image 0\)"):
        choose_weight("lasso-dct", None, A, x, y.flip(0), [0.1, 1.0])
    masked = Inpainting(torch.rand(4, 1, 8, 8) > 0.5, (1, 8, 8), noise_std=noise_std)
    y = masked.measure(x, seed=1)
    choose_weight("lasso-dct", None, masked, x, y, [0.1])  # per-image masks, own measurements
    with pytest.raises(ValueError, match="y_val is not the measurements"):
        choose_weight("lasso-dct", None, masked, x.flip(0), y, [0.1])


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"values": [True, 0.1]}, TypeError, r"values holds True, a bool, not a candidate"),
        ({"seed": 1.5}, TypeError, r"seed must be an int"),
        ({"seed": -1}, ValueError, r"seed must be >= 0"),
        ({"image_ids": [0]}, ValueError, r"image_ids must hold one id per image \(3\)"),
    ],
)
def test_choose_weight_checks_every_argument_whatever_the_method(kw, error, match):
    """Helper-42: a bool candidate ran as weight 1; seed=1.5 / -1 and image_ids for another
    number of images passed unchecked where the method draws nothing (lasso-dct)."""
    A = GaussianCS((1, 8, 8), 20, seed=0)
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    args = {"values": [0.1, 1.0], **kw}
    with pytest.raises(error, match=match):
        choose_weight("lasso-dct", None, A, x, A.measure(x), args.pop("values"), **args)


def test_is_search_is_the_one_rule_for_a_searched_grid():
    """Helper-42 review: the rule "a grid of two or more candidates is searched" was written
    out in four places (sweep spec, --n-val checks, memory checks, flag errors)."""
    from ganinverse.methods import is_search
    from ganinverse.sweep import SweepSpec

    assert not is_search(()) and not is_search((0.1,)) and is_search((0.1, 1.0))
    base = dict(dataset="digits", generator="g", x_values=(20,), methods=("lasso-dct",), n_images=1)
    assert SweepSpec(**base, lasso_lambdas=(0.3,)).search_chain("lasso-dct") == []
    assert SweepSpec(**base, lasso_lambdas=(0.3, 1.0)).search_chain("lasso-dct") == ["lasso-dct"]


def test_a_weight_chosen_at_the_edge_of_its_grid_while_the_error_still_falls_warns():
    """helper-50: a sweep chose lasso-dct λ = 3, the top of its grid, while the validation MSE
    still fell toward it, without a note."""
    import warnings

    from ganinverse.exceptions import GridEdgeWarning, warn_grid_edge

    falling = [(0.1, 0.5), (1.0, 0.4), (3.0, 0.3)]
    with pytest.warns(GridEdgeWarning, match=r"3.0 is the largest of the 3 candidates.*1.0: 0.4"):
        warn_grid_edge("choose_lambda", falling, 2)
    with pytest.warns(GridEdgeWarning, match="0.1 is the smallest"):
        warn_grid_edge("x", [(1.0, 0.5), (0.1, 0.2), (0.3, 0.4)], 1)  # (any order)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GridEdgeWarning)
        warn_grid_edge("x", falling, 1)  # an interior choice
        warn_grid_edge("x", [(0.1, 0.3), (3.0, 0.3)], 0)  # two tied candidates: no trend
        warn_grid_edge("x", [(0.1, 0.3), (1.0, float("nan")), (3.0, 0.5)], 0)  # NaN neighbour
        warn_grid_edge("x", [({"lambda_z": 0.1}, 0.3)] * 3, 0)  # engine settings: not ordered


def test_a_search_warns_a_solvers_idle_option_only_where_every_candidate_leaves_it_idle(
    toy_generator,
):
    """helper-68: a search of iagan's steps over 0 and 3 warned "lr_theta changes nothing" from
    the candidate 0, though the candidate 3 uses it; an option idle under every candidate (the
    discrepancy stop without noise) is warned once, not once per candidate."""
    import warnings

    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.methods import choose_weight

    G = toy_generator
    A = gi.GaussianCS(G.image_shape, 20)
    with torch.no_grad():
        x = G(torch.randn(2, G.latent_dim))
    kw = dict(steps=2, restarts=1, progress=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        choose_weight("iagan", G, A, x, A.measure(x), [0, 3], {"lr_theta": 1e-3, **kw})
    assert not [w for w in seen if issubclass(w.category, IdleOptionWarning)]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        choose_weight("iagan", G, A, x, A.measure(x), [2, 3], {"discrepancy": 2.0, **kw})
    idle = [str(w.message) for w in seen if issubclass(w.category, IdleOptionWarning)]
    assert len(idle) == 1 and "discrepancy=2 changes nothing" in idle[0], idle


def test_ilo_names_its_own_steps_and_lr_and_its_start_the_cards_settings(toy_generator):
    """helper-68: ilo's options named steps / lr shadowed the engine's keywords (now ilo_steps /
    ilo_lr, in its option list), and the start it ran on the card's settings said "the config
    passed"."""
    import ganinverse as gi
    from ganinverse.methods import get_method

    with pytest.raises(TypeError, match=r"did you mean ilo_steps\?; its options are .*ilo_lr"):
        get_method("ilo").options({"ilo_stps": 3})
    G = toy_generator
    A = gi.GaussianCS(G.image_shape, 20)
    with torch.no_grad():
        y = A(G(torch.randn(1, G.latent_dim)))
    r = gi.reconstruct_result("ilo", G, A, y, steps=2, restarts=1, progress=False)
    assert not r.start.settings.startswith("the config passed"), r.start.settings


@pytest.mark.parametrize(
    "option, own",
    [("mirror_samples", "gaussian_mirror"), ("samples", "gaussian_images"),
     ("n_samples", "gaussian_n_samples")],
)  # fmt: skip
def test_gaussians_option_names_given_to_iagan_point_to_iagans_own(option, own):
    """helper-78: iagan's did-you-mean for gaussian's mirror_samples named iagan's other
    mirror (``mirror``: G's mirror image), not the averaged Gaussian's."""
    with pytest.raises(TypeError, match=rf"no option\(s\) {option}; did you mean {own}\?"):
        get_method("iagan").options({option: 1})


def test_recorded_options_leave_out_those_idle_under_the_noise_and_the_operator():
    """User trial: reconstruct / inpaint summaries recorded iagan's discrepancy without noise
    (it compares the misfit with τσ²) and its blend with a Gaussian operator (it blends into
    known pixels): ``recorded`` judged the flags' rules without the noise or the operator."""
    record = get_method("iagan")
    options = record.options()
    silent, _ = record.recorded(options, noise_std=0.0, operator=GaussianCS)
    assert "discrepancy" not in silent and "blend" not in silent
    assert "lr_theta" in silent and "back_projection" in silent  # (these act)
    noisy, _ = record.recorded(options, noise_std=0.1, operator=Inpainting)
    assert noisy["discrepancy"] == options["discrepancy"] and noisy["blend"] is False
    unknown, _ = record.recorded(options)  # (noise and operator unknown: taken to act)
    assert "discrepancy" in unknown and "blend" in unknown
    mask = Inpainting(torch.ones(1, 1, 4, 4), (1, 4, 4))  # (an operator, not its class)
    idle = record.idle_options(options, noise_std=0.0, operator=mask)
    assert "discrepancy" in idle and "blend" not in idle and "gaussian_images" in idle
    # a search: an option idle at the default steps acts under a candidate of the grid
    steady = {**options, "adapt_steps": 0}
    assert {"lr_theta", "discrepancy"} <= record.idle_options(steady, noise_std=0.1)
    assert "lr_theta" not in record.idle_options(steady, noise_std=0.1, grid=(0, 5))


@pytest.mark.parametrize(
    "option, own",
    [("gaussian_mirror", "mirror_samples"), ("gaussian_images", "samples"),
     ("gaussian_n_samples", "n_samples")],
)  # fmt: skip
def test_iagans_gaussian_option_names_given_to_gaussian_point_to_its_own(option, own):
    with pytest.raises(TypeError, match=rf"no option\(s\) {option}; did you mean {own}\?"):
        get_method("gaussian").options({option: 1})


def test_the_samples_of_g_a_method_draws_are_its_records_to_say(tmp_path):
    """The sweep draws G's samples once before its units where a record says its solver
    draws them (``Method.draws_samples``), not by the method's name."""
    gaussian, iagan = get_method("gaussian"), get_method("iagan")
    assert gaussian.draws_samples() == gaussian.defaults["n_samples"]
    assert gaussian.draws_samples({"samples": "f.safetensors"}) is None
    assert iagan.draws_samples() is None  # (no averaged Gaussian: weight 0)
    assert iagan.draws_samples({"gaussian_weight": 0.3, "gaussian_n_samples": 77}) == 77
    assert iagan.draws_samples({"gaussian_weight": 0.3, "gaussian_images": "f"}) is None
    assert get_method("csgm").draws_samples() is None
