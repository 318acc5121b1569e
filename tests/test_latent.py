import math
import re

import numpy as np
import pytest
import torch

from ganinverse.exceptions import ConvergenceWarning
from ganinverse.latent import LatentConfig, LatentObjective, frozen, optimize_latent


class Fit(LatentObjective):
    """data(x) = mean((x - target_i)²): projection of targets onto the range of G."""

    def __init__(self, target):
        self.target = target

    def data_loss(self, x, rows):
        return (x - self.target[rows]).pow(2).flatten(1).mean(1)


def truth(G, n=3, seed=7):
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G(z)


def test_recovers_a_point_in_the_range(toy_generator):
    x = truth(toy_generator)
    res = optimize_latent(toy_generator, Fit(x), 3, restarts=4, steps=600, lr=0.05, progress=False)
    assert res.x_hat.shape == x.shape and res.x_hat.dtype == torch.float32
    assert res.z.shape == (3, toy_generator.latent_dim)
    assert float((res.x_hat - x).pow(2).mean()) < 1e-5
    assert torch.allclose(res.data_loss, res.loss, atol=1e-7)


def test_best_restart_is_the_argmin_and_its_image_is_returned(toy_generator):
    x = truth(toy_generator, n=2)
    res = optimize_latent(toy_generator, Fit(x), 2, restarts=5, steps=20, lr=0.05, progress=False)
    assert torch.equal(res.best_restart, res.restart_losses.argmin(1))
    assert torch.equal(res.loss, res.restart_losses.min(1).values)
    with torch.no_grad():
        assert torch.allclose(res.x_hat, toy_generator(res.z))
    assert res.restart_losses.shape == (2, 5) and res.history.shape == (2, 2, 5)


def test_more_restarts_are_never_worse(toy_generator):
    x = truth(toy_generator, n=1, seed=3)
    kw = dict(steps=60, lr=0.05, progress=False, seed=11)
    one = optimize_latent(toy_generator, Fit(x), 1, restarts=1, **kw)
    many = optimize_latent(toy_generator, Fit(x), 1, restarts=8, **kw)
    # restart 0 of the 8 starts where the single run starts, so the best of 8 is at most as bad
    # (batched matmuls round differently from single ones: compare to 1e-3)
    assert torch.allclose(many.restart_losses[0, 0], one.loss[0], rtol=1e-3)
    assert many.loss[0] <= one.loss[0] * (1 + 1e-3)


def test_same_seed_same_numbers(toy_generator):
    x = truth(toy_generator)
    kw = dict(restarts=3, steps=30, lr=0.05, progress=False, seed=4)
    a = optimize_latent(toy_generator, Fit(x), 3, **kw)
    b = optimize_latent(toy_generator, Fit(x), 3, **kw)
    assert torch.equal(a.z, b.z)
    assert torch.equal(a.history.nan_to_num(-1), b.history.nan_to_num(-1))


def test_successive_halving_prunes_restarts(toy_generator):
    x = truth(toy_generator, n=2)
    res = optimize_latent(
        toy_generator,
        Fit(x),
        2,
        restarts=8,
        steps=40,
        lr=0.05,
        prune_at=(0.25, 0.5),
        progress=False,
    )
    # 8 -> 4 after step 10 -> 2 after step 20, per image
    for row in res.steps_run:
        assert sorted(row.tolist()) == [10] * 4 + [20] * 2 + [40] * 2
    assert res.latent_steps == 2 * (8 * 10 + 4 * 10 + 2 * 20)
    # pruned latents show NaN in the history once they left
    assert math.isnan(res.history[-1][res.steps_run == 10][0])
    # the survivors were the best at pruning time, and one of them is chosen
    chosen = res.steps_run.gather(1, res.best_restart[:, None])
    assert (chosen == 40).all()


def test_early_stopping_stops_converged_latents(toy_generator):
    x = truth(toy_generator, n=2)
    res = optimize_latent(
        toy_generator,
        Fit(x),
        2,
        restarts=2,
        steps=2000,
        lr=0.05,
        tol=1e-2,
        patience=20,
        progress=False,
    )
    assert (res.steps_run < 2000).all()
    assert res.latent_steps == int(res.steps_run.sum())


@pytest.mark.parametrize(
    "projection, check",
    [
        ("box", lambda z: z.abs().max() <= 0.5 + 1e-6),
        (
            "sphere",
            lambda z: torch.allclose(z.norm(dim=1), torch.full((z.shape[0],), 2.0), atol=1e-4),
        ),
    ],
)
def test_projection_keeps_z_on_its_set(toy_generator, projection, check):
    x = truth(toy_generator, n=2)
    res = optimize_latent(
        toy_generator,
        Fit(x),
        2,
        restarts=2,
        steps=15,
        lr=0.5,
        projection=projection,
        box=0.5,
        init="uniform",
        progress=False,
    )
    assert check(res.z)


@pytest.mark.parametrize(
    "optimizer, schedule", [("sgd", "step"), ("lbfgs", "constant"), ("adam", "cosine")]
)
def test_other_optimizers_reduce_the_loss(toy_generator, optimizer, schedule):
    x = truth(toy_generator, n=2)
    lr = {"sgd": 5.0, "lbfgs": 0.5, "adam": 0.05}[optimizer]
    kw = dict(restarts=2, lr=lr, optimizer=optimizer, schedule=schedule, progress=False)
    with pytest.warns(ConvergenceWarning, match="no step improved"):
        start = optimize_latent(toy_generator, Fit(x), 2, steps=0, **kw)
    end = optimize_latent(toy_generator, Fit(x), 2, steps=40, **kw)
    assert (end.loss < 0.5 * start.loss).all()
    assert not start.improved.any() and end.improved.all()


def test_lambda_z_shrinks_the_latent(toy_generator):
    x = truth(toy_generator, n=2)
    kw = dict(restarts=2, steps=200, lr=0.05, progress=False, select="total")
    free = optimize_latent(toy_generator, Fit(x), 2, **kw)
    shrunk = optimize_latent(toy_generator, Fit(x), 2, lambda_z=1.0, **kw)
    assert (shrunk.z.norm(dim=1) < free.z.norm(dim=1)).all()


def test_generator_is_frozen_during_and_restored_after(toy_generator):
    toy_generator.train()
    seen = {}

    class Spy(Fit):
        def data_loss(self, x, rows):
            seen["grad"] = any(p.requires_grad for p in toy_generator.parameters())
            seen["training"] = toy_generator.training
            return super().data_loss(x, rows)

    optimize_latent(
        toy_generator, Spy(truth(toy_generator)), 3, restarts=1, steps=2, progress=False
    )
    assert seen == {"grad": False, "training": False}
    assert toy_generator.training and all(p.requires_grad for p in toy_generator.parameters())
    with frozen(toy_generator):
        assert not toy_generator.training


def test_frozen_restores_each_submodules_own_mode():
    """An eval-mode module inside a fresh (training-mode) container stays in eval mode, and a
    training-mode one in training mode: the container's flag is not pushed down on exit."""
    inner_eval = torch.nn.Dropout(0.5).eval()
    inner_train = torch.nn.Linear(2, 2)
    outer = torch.nn.Sequential(inner_eval, inner_train)  # training mode by default
    with frozen(outer):
        assert not any(m.training for m in outer.modules())
        assert not any(p.requires_grad for p in outer.parameters())
    assert outer.training and not inner_eval.training and inner_train.training
    assert all(p.requires_grad for p in outer.parameters())


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"restarts": 0}, "restarts must be >= 1"),
        ({"lr": -1.0}, "lr must be > 0"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"prune_at": (1.5,)}, "prune_at"),
        ({"optimizer": "lbfgs", "tol": 0.1}, "lbfgs"),
        ({"lambda_z": -0.1}, "lambda_z must be >= 0"),
    ],
)
def test_bad_config_raises(kw, match):
    with pytest.raises(ValueError, match=match):
        LatentConfig(**kw)


def test_unknown_option_raises(toy_generator):
    with pytest.raises(TypeError, match="unknown latent-engine option"):
        optimize_latent(toy_generator, Fit(truth(toy_generator)), 3, stepz=3)


def test_z_init_sets_the_starts_and_is_validated(toy_generator):
    x = truth(toy_generator, n=1)
    z0 = torch.zeros(2, toy_generator.latent_dim)
    with pytest.warns(ConvergenceWarning):
        res = optimize_latent(
            toy_generator, Fit(x), 1, restarts=2, steps=0, z_init=z0, progress=False
        )
    assert torch.equal(res.z, z0[:1])
    with pytest.raises(ValueError, match="z_init must have shape"):
        optimize_latent(toy_generator, Fit(x), 1, restarts=3, steps=1, z_init=z0, progress=False)


# -- kind 3: every float option finite and in its domain ------------------------------------
@pytest.mark.parametrize(
    "option, value",
    [
        ("lr", math.inf),
        ("lr", math.nan),
        ("lr", 0.0),
        ("lambda_z", math.nan),
        ("lambda_z", -1.0),
        ("momentum", math.nan),
        ("momentum", 1.0),
        ("step_at", 0.0),
        ("step_gamma", math.inf),
        ("box", math.nan),
        ("tol", math.nan),
        ("prune_at", (math.nan,)),
        ("prune_at", (1.5,)),
        ("restarts", 0),
        ("steps", -1),
        ("seed", -1),
    ],
)
def test_non_finite_or_out_of_domain_options_are_refused_by_name(option, value):
    with pytest.raises((ValueError, TypeError), match=option):
        LatentConfig().updated(**{option: value})


def test_a_generator_in_another_dtype_is_refused_with_the_fix(toy_generator):
    x = truth(toy_generator, n=1)
    G = toy_generator.double()
    try:
        with pytest.raises(TypeError, match=r"float64.*G\.float\(\)"):
            optimize_latent(G, Fit(x), 1, steps=1, progress=False)
    finally:
        toy_generator.float()


# -- kind 5: no silent fallback to the random start -----------------------------------------
class NaNFit(Fit):
    def data_loss(self, x, rows):
        return super().data_loss(x, rows) * math.nan


@pytest.mark.parametrize(
    "objective, options, advice",
    [
        ("fit", {"steps": 0}, r"steps=0 takes no step: pass steps >= 1"),
        ("nan", {"steps": 20}, r"lower lr \(the loss rose above its start or became non-finite"),
        ("fit", {"steps": 20, "lr": 1e6, "optimizer": "sgd"}, r"lower lr \("),  # diverges at once
        ("fit", {"steps": 20, "lr": 1e-12}, r"raise lr or steps \(the loss barely moved"),
    ],
)
def test_a_search_that_never_improves_the_start_warns_and_says_so(
    toy_generator, objective, options, advice
):
    """(issue 14, U9) the advice follows the cause: a step too small to move the loss (lr 1e-12,
    steps 0) is not cured by lowering lr, an overshooting one is."""
    x = truth(toy_generator, n=2)
    obj = Fit(x) if objective == "fit" else NaNFit(x)
    with pytest.warns(ConvergenceWarning, match="no step improved") as seen:
        res = optimize_latent(toy_generator, obj, 2, restarts=2, progress=False, **options)
    assert res.improved.shape == (2,) and not res.improved.any()
    message = " ".join(str(w.message) for w in seen if issubclass(w.category, ConvergenceWarning))
    assert re.search(advice, message), message
    opposite = "lower lr" if advice.startswith("raise") else "raise lr"
    assert opposite not in message


def test_a_warm_start_counts_any_decrease_a_random_start_more_than_rounding(toy_generator):
    """helper-47: lr=1e-8 from a random start moved the loss in its 5th digit and was reported
    "ok"; from a random start a gain must exceed STALL_RTOL of the loss, from a warm start
    (z_init: a reconstruction already) any gain counts."""
    import warnings

    from ganinverse.exceptions import STALL_RTOL

    x = truth(toy_generator, n=2) + 0.05
    first = optimize_latent(
        toy_generator, Fit(x), 2, restarts=1, steps=300, lr=0.05, progress=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = optimize_latent(
            toy_generator, Fit(x), 2, restarts=1, steps=20, lr=1e-5, progress=False, z_init=first.z
        )
    gain = (first.loss - warm.loss) / first.loss
    assert (gain < STALL_RTOL).all() and (warm.improved == (gain > 0)).all()
    with pytest.warns(ConvergenceWarning, match=r"by more than 0\.1% of its loss.*raise lr"):
        cold = optimize_latent(toy_generator, Fit(x), 2, steps=20, lr=1e-7, progress=False)
    assert not cold.improved.any()


def test_no_progress_advice_names_each_cause_present():
    from ganinverse.exceptions import no_progress_advice

    start = torch.tensor([1.0, 1.0, 1.0])
    assert no_progress_advice(start, torch.tensor([1.0, 1.0, 1.0 + 1e-6])).startswith("raise lr")
    assert no_progress_advice(start, torch.tensor([2.0, 1.5, 1.01])).startswith("lower lr (the")
    both = no_progress_advice(start, torch.tensor([1.0, math.inf, 1.0]))
    assert "became non-finite" in both and "raise lr or steps" in both


def test_an_improving_search_does_not_warn(toy_generator, recwarn):
    res = optimize_latent(toy_generator, Fit(truth(toy_generator, 2)), 2, steps=5, progress=False)
    assert res.improved.all()
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


# -- kind 8: a result depends on its own identity, never on its batch position --------------
@pytest.mark.filterwarnings("ignore::ganinverse.exceptions.ConvergenceWarning")  # steps=0 below
@pytest.mark.parametrize("init", ["normal", "uniform"])
def test_an_image_alone_and_inside_a_batch_gives_the_same_result(toy_generator, init):
    x = truth(toy_generator, n=3, seed=11)
    kw = dict(restarts=4, steps=300, lr=0.05, init=init, seed=3, progress=False)
    batch = optimize_latent(toy_generator, Fit(x), 3, image_ids=[10, 11, 12], **kw)
    alone = optimize_latent(toy_generator, Fit(x[1:2]), 1, image_ids=[11], **kw)
    assert int(alone.best_restart[0]) == int(batch.best_restart[1])
    assert float((alone.x_hat[0] - batch.x_hat[1]).abs().max()) < 1e-4
    # the id, not the position, sets the starts: another id gives other starts
    other = optimize_latent(toy_generator, Fit(x[1:2]), 1, image_ids=[99], **{**kw, "steps": 0})
    same = optimize_latent(toy_generator, Fit(x[1:2]), 1, image_ids=[11], **{**kw, "steps": 0})
    assert not torch.equal(other.z, same.z)


def test_without_ids_every_image_gets_the_same_starts(toy_generator):
    x = truth(toy_generator, n=3)
    with pytest.warns(ConvergenceWarning):
        res = optimize_latent(toy_generator, Fit(x), 3, restarts=1, steps=0, progress=False)
    assert torch.equal(res.z[0], res.z[1]) and torch.equal(res.z[1], res.z[2])


@pytest.mark.parametrize("ids", [[1, 1], [0], [-1, 2], "ab", [0.5, 1]])
def test_bad_image_ids_are_refused(toy_generator, ids):
    with pytest.raises((ValueError, TypeError), match="image_ids"):
        optimize_latent(toy_generator, Fit(truth(toy_generator, 2)), 2, image_ids=ids, steps=1)


def test_prune_at_as_a_list_is_kept_hashable():
    config = LatentConfig(prune_at=[0.1, 0.3])  # e.g. read back from JSON
    assert config.prune_at == (0.1, 0.3) and hash(config) == hash(LatentConfig(prune_at=(0.1, 0.3)))


@pytest.mark.parametrize(
    "kw, needs",
    [
        ({"momentum": 0.5}, "optimizer='sgd'"),
        ({"step_gamma": 0.5}, "schedule='step'"),
        ({"step_at": 0.5, "schedule": "cosine"}, "schedule='step'"),
        ({"box": 2.0}, "projection='box' or init='uniform'"),
        ({"patience": 5}, "tol"),
        ({"prune_at": (0.5,), "restarts": 1}, "restarts > 1"),
    ],
)
def test_an_engine_option_that_cannot_act_warns(toy_generator, kw, needs):
    """An option set away from its default where it changes nothing (momentum with Adam, ...)
    is named with what it needs (user trial: accepted in silence)."""
    from ganinverse.exceptions import IdleOptionWarning

    x = truth(toy_generator, n=1)
    config = LatentConfig(steps=3, restarts=2, progress=False).updated(**kw)
    assert needs in next(iter(config.idle_options().values()))
    with pytest.warns(IdleOptionWarning, match=rf"{next(iter(config.idle_options()))}=.*{needs}"):
        optimize_latent(toy_generator, Fit(x), 1, config)


@pytest.mark.parametrize(
    "kw",
    [
        {"momentum": 0.5, "optimizer": "sgd"},
        {"step_gamma": 0.5, "schedule": "step"},
        {"box": 2.0, "init": "uniform"},
        {"box": 2.0, "projection": "box"},
        {"patience": 1, "tol": 1e-4},
        {"prune_at": (0.5,), "restarts": 2},
    ],
)
def test_an_engine_option_that_acts_does_not_warn(toy_generator, kw, recwarn):
    from ganinverse.exceptions import IdleOptionWarning

    x = truth(toy_generator, n=1)
    config = LatentConfig(steps=3, restarts=2, lr=0.05, progress=False).updated(**kw)
    assert config.idle_options() == {}
    optimize_latent(toy_generator, Fit(x), 1, config)
    assert not [w for w in recwarn if issubclass(w.category, IdleOptionWarning)]


def test_an_idle_engine_option_set_to_its_default_value_still_warns(toy_generator):
    """momentum=0.9 (its default) passed with Adam changed nothing and was not said (user
    trial): an option the caller set is judged whatever its value; csgm and reconstruct too."""
    import ganinverse as gi
    from ganinverse.exceptions import IdleOptionWarning
    from ganinverse.operators import GaussianCS

    x = truth(toy_generator, n=1)
    with pytest.warns(IdleOptionWarning, match="momentum=0.9"):
        optimize_latent(toy_generator, Fit(x), 1, steps=2, restarts=1, momentum=0.9, progress=False)
    op = GaussianCS(tuple(toy_generator.image_shape), 5)
    y = op.measure(x)
    with pytest.warns(IdleOptionWarning, match="momentum=0.9"):
        gi.csgm(toy_generator, op, y, momentum=0.9, steps=2, restarts=1, progress=False)
    with pytest.warns(IdleOptionWarning, match="patience=50 .* tol"):
        gi.reconstruct(
            "csgm", toy_generator, op, y, patience=50, steps=2, restarts=1, progress=False
        )
    with pytest.warns(IdleOptionWarning, match="method 'lasso-dct' uses no generator"):
        gi.reconstruct("lasso-dct", toy_generator, op, y, lam=0.1)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"restarts": 4, "prune_at": (0.1, 0.3, 0.5)}, "restarts=4 can be halved only 2 time"),
        ({"restarts": 2, "prune_at": (0.2, 0.4)}, "restarts=2 can be halved only 1 time"),
        ({"steps": 10, "prune_at": (0.1, 0.12)}, "0.1 and 0.12 both prune at step 1 of steps=10"),
        ({"steps": 3, "prune_at": (0.9,)}, "prunes at step 3, the last of steps=3"),
    ],
)
def test_prune_fractions_that_cannot_act_are_refused(kw, match):
    """User trial: more fractions than halvings of the restarts, two on one step, or one on the
    last step were accepted and pruned nothing."""
    with pytest.raises(ValueError, match=match):
        LatentConfig(**{"restarts": 10, **kw})
    # each halving keeps ceil(k/2) of k: 10 -> 5 -> 3 -> 2 -> 1, four that act
    assert LatentConfig(restarts=10, steps=100, prune_at=(0.1, 0.2, 0.3, 0.4)).prune_at[3] == 0.4
    with pytest.raises(ValueError, match="only 4 time"):
        LatentConfig(restarts=10, steps=100, prune_at=(0.1, 0.2, 0.3, 0.4, 0.5))


def test_a_presets_fractions_the_callers_restarts_or_steps_idle_are_dropped_not_refused():
    from ganinverse.latent import acting_prunes

    preset = LatentConfig(restarts=10, steps=1000, prune_at=(0.1, 0.3), tol=0.01, patience=40)
    assert preset.overridden(restarts=2).prune_at == (0.1,)
    assert preset.overridden(steps=5).prune_at == (0.1, 0.3)  # steps 1 and 2 of 5
    assert preset.overridden(steps=3).prune_at == (0.1,)  # 0.3 would share step 1
    # tol idles under steps <= 2 * patience: reset with it, then patience (which needs tol)
    short = preset.overridden(steps=80)
    assert short.tol is None and short.patience == LatentConfig().patience
    assert acting_prunes((0.5, 0.5001, 0.9, 0.7), 4, 10) == (0.5, 0.9)


@pytest.mark.parametrize(
    "steps, patience, acts", [(0, 50, False), (100, 50, False), (101, 50, True)]
)
def test_tol_acts_only_with_more_than_two_patience_windows_of_steps(
    toy_generator, steps, patience, acts
):
    """User trial: tol with fewer steps than the patience window (or steps=0) stopped nothing
    and was not called idle. The first comparison is at step 2 * patience (the one at
    step patience compares with no earlier loss); a stop at the last step saves nothing."""
    config = LatentConfig(steps=steps, patience=patience, tol=0.5, restarts=1)
    assert ("tol" in config.idle_options()) is not acts
    if acts:  # a huge tol stops every latent at the first comparison
        from ganinverse.operators import GaussianCS
        from ganinverse.solvers.csgm import csgm

        x = truth(toy_generator, n=1)
        op = GaussianCS(toy_generator.image_shape, 12, seed=0)
        res = csgm(toy_generator, op, op.measure(x), config.updated(progress=False, lr=1e-4))
        assert res.steps_run.max().item() == 2 * patience < steps


@pytest.mark.parametrize("solver", ["csgm", "csgm_sparse", "ilo", "iagan", "optimize_latent"])
def test_a_config_that_is_not_a_latent_config_is_a_type_error_naming_it(toy_generator, solver):
    """User trial (helper-40): gi.csgm(G, A, y, config={'steps': 2}) raised "AttributeError:
    'dict' object has no attribute 'updated'" from inside the solver."""
    from ganinverse.operators import GaussianCS
    from ganinverse.solvers.adaptive import iagan
    from ganinverse.solvers.csgm import csgm, csgm_sparse
    from ganinverse.solvers.ilo import ilo

    G = toy_generator
    A = GaussianCS(tuple(G.image_shape), 5, seed=0)
    y = A(truth(G, n=1))
    call = {
        "csgm": lambda c: csgm(G, A, y, c),
        "csgm_sparse": lambda c: csgm_sparse(G, A, y, config=c),
        "ilo": lambda c: ilo(G, A, y, config=c),
        "iagan": lambda c: iagan(G, A, y, config=c),
        "optimize_latent": lambda c: optimize_latent(G, LatentObjective(), 1, c),
    }[solver]
    with pytest.raises(TypeError, match=r"config must be a LatentConfig or None, got dict"):
        call({"steps": 2})


def test_a_0d_tensor_or_numpy_setting_is_kept_as_the_float_it_was_checked_as():
    """gi.csgm(..., lambda_z=torch.tensor(0.1)) kept the tensor in the config (user trial):
    settings printed 'tensor(0...' and the config was no longer JSON-serialisable."""
    import dataclasses
    import json

    import numpy as np

    config = LatentConfig(
        lr=torch.tensor(0.1, requires_grad=True), lambda_z=np.float64(0.01), box=torch.tensor(2)
    )
    assert type(config.lr) is float and type(config.lambda_z) is float and config.box == 2.0
    json.dumps(dataclasses.asdict(config))


def test_numpy_integer_settings_are_kept_as_ints():
    """steps=np.int64(2) stayed numpy in the config, which JSON then refused (helper-63)."""
    import dataclasses
    import json

    import numpy as np

    config = LatentConfig(steps=np.int64(2), restarts=np.int32(1), seed=np.int64(3))
    assert type(config.steps) is int and type(config.restarts) is int and type(config.seed) is int
    json.dumps(dataclasses.asdict(config))


def test_prune_at_entries_are_checked_numbers_named_by_their_index():
    """prune_at=(tensor(0.1),) kept the tensor (not JSON-serialisable); an array was refused
    with a bare repr and a bad entry without its index (session 27's open items)."""
    import dataclasses
    import json

    import numpy as np

    config = LatentConfig(prune_at=(torch.tensor(0.25), np.float64(0.5)))
    assert config.prune_at == (0.25, 0.5) and all(type(f) is float for f in config.prune_at)
    json.dumps(dataclasses.asdict(config))
    for value in (torch.tensor([0.1, 0.3]), np.array([0.1])):
        with pytest.raises(TypeError, match=r"prune_at must be a tuple .*e\.g\. prune_at=\(0\.1"):
            LatentConfig(prune_at=value)
    with pytest.raises(TypeError, match=r"prune_at\[1\] must be a real number, got str"):
        LatentConfig(prune_at=(0.1, "a"))
    with pytest.raises(ValueError, match=r"prune_at\[1\] must be < 1"):
        LatentConfig(prune_at=(0.1, 1.0))


@pytest.mark.parametrize("restarts", [np.int64(2), np.int32(3), torch.tensor(2)])
def test_a_numpy_or_tensor_restart_count_trims_a_presets_prunes_as_an_int_does(restarts):
    """helper-68: restarts=np.int64(2) kept a card's two prune fractions (the trimming read only
    a Python int), then refused them as unable to act: the numpy / 0-d tensor int is the int."""
    preset = LatentConfig(restarts=10, steps=500, prune_at=(0.1, 0.3))
    got = preset.overridden(restarts=restarts, steps=4)
    want = preset.overridden(restarts=int(restarts), steps=4)
    assert got == want and type(got.restarts) is int
