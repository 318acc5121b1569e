"""Warnings name the user's line: ``exceptions.user_stacklevel``."""

import warnings

import pytest
import torch

import ganinverse as gi
from ganinverse.exceptions import ConvergenceWarning, IdleOptionWarning, user_stacklevel
from ganinverse.solvers.adaptive import iagan


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, IdleOptionWarning)]


@pytest.mark.parametrize(
    "how",
    [
        # a solver's own warning two calls below the user (gi.reconstruct -> methods -> iagan)
        lambda G, A, y: gi.reconstruct(
            "iagan", G, A, y, adapt_steps=0, lr_theta=0.5, steps=2, restarts=1, progress=False
        ),
        # the same solver called directly
        lambda G, A, y: iagan(
            G, A, y, adapt_steps=0, lr_theta=0.5, steps=2, restarts=1, progress=False
        ),
        # the latent engine's, under csgm
        lambda G, A, y: gi.csgm(G, A, y, steps=2, restarts=1, momentum=0.5, progress=False),
    ],
)
def test_a_warning_names_the_users_line_however_deep_it_is_raised(toy_generator, how):
    """A solver's IdleOptionWarning under gi.reconstruct named methods.py (a fixed stacklevel
    counted from the solver): it names this file, where the user's call is."""
    G = toy_generator
    A = gi.GaussianCS(G.image_shape, 10)
    with torch.no_grad():
        y = A(G(torch.randn(1, G.latent_dim)))
    caught = _caught(lambda: how(G, A, y))
    assert caught, "the idle option was not warned"
    assert {w.filename for w in caught} == {__file__}


def test_a_warning_under_a_modules_call_or_a_dataclass_init_names_the_users_line(
    toy_generator,
):
    """helper-68: a defense's warning (raised in forward, under nn.Module.__call__) named
    torch's module.py, and a SweepSpec's named "<string>" (the dataclass's __init__)."""
    from ganinverse.defense import ProjectionDefense
    from ganinverse.sweep.spec import SweepSpec

    built = _caught(lambda: ProjectionDefense(toy_generator, steps=2, restarts=1, prune_at=(0.5,)))
    assert built and {w.filename for w in built} == {__file__}  # (idle: warned when built)
    defense = ProjectionDefense(toy_generator, steps=2, restarts=1, lr=1e-12)
    x = torch.zeros(1, *toy_generator.image_shape)
    with warnings.catch_warnings(record=True) as seen:  # (no step improved: warned in forward)
        warnings.simplefilter("always")
        defense(x)
    caught = [w for w in seen if issubclass(w.category, ConvergenceWarning)]
    assert caught and {w.filename for w in caught} == {__file__}
    options = {"iagan": {"discrepancy": 2.0}}
    kw = dict(dataset="digits", generator="digits", methods=("iagan",), x_values=(10,))
    caught = _caught(lambda: SweepSpec(**kw, noise_std=0.0, options=options))
    assert caught and {w.filename for w in caught} == {__file__}


def test_user_stacklevel_counts_to_the_first_frame_outside_the_package():
    assert user_stacklevel() == 1  # (called from here: this frame is the user's)


def test_idle_option_warnings_have_a_category_per_source():
    """The engine's and a solver's own idle-option warnings are categories of their own (both
    IdleOptionWarning): a caller that says them in its own words filters the category, not the
    message text (the ilo record and ProjectionDefense matched "ilo: lr=" / "the engine option")."""
    import warnings

    from ganinverse.exceptions import (
        EngineIdleOptionWarning,
        IdleOptionWarning,
        SolverIdleOptionWarning,
        warn_idle,
    )
    from ganinverse.latent import LatentConfig, warn_idle_options

    assert issubclass(EngineIdleOptionWarning, IdleOptionWarning)
    assert issubclass(SolverIdleOptionWarning, IdleOptionWarning)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warn_idle("ilo", {"lr": (0.5, 0.1)}, "steps > 0")
        warn_idle_options(LatentConfig(restarts=1, prune_at=(0.5,)), {"prune_at": (0.5,)})
    assert [w.category for w in seen] == [SolverIdleOptionWarning, EngineIdleOptionWarning], [
        str(w.message) for w in seen
    ]


def test_grid_edge_names_the_edge_the_warning_is_about():
    """User trial: a grid-edge choice was warned on the searching run only; ``grid_edge``
    says which edge, for the sweep's weights.json and summary.md (a diverged neighbour,
    recorded null in weights.json, is no trend)."""
    from ganinverse.exceptions import grid_edge

    assert grid_edge([(0.1, 0.5), (1.0, 0.4), (3.0, 0.3)], 2) == "largest"
    assert grid_edge([(1.0, 0.5), (0.1, 0.2), (0.3, 0.4)], 1) == "smallest"
    assert grid_edge([(0.1, 0.5), (1.0, 0.4), (3.0, 0.3)], 1) is None  # interior
    assert grid_edge([(0.1, 0.3), (1.0, None), (3.0, 0.5)], 0) is None
    assert grid_edge([(0.1, 0.3), (3.0, 0.3)], 0) is None  # two tied candidates: no trend
    assert grid_edge([({"lambda_z": 0.1}, 0.3)] * 3, 0) is None  # engine settings: unordered


def test_a_grid_of_two_candidates_is_chosen_at_an_edge_and_warned():
    """User trial: ``--lasso-lambdas 1e-6,1e-5`` chose 1e-6, the smaller, with the other's
    validation MSE higher, yet weights.json said "grid_edge": null and summary.md had no †:
    only grids of three or more were judged. Of two candidates the choice is always at an
    edge (tied MSEs or a diverged other: no trend)."""
    import warnings

    from ganinverse.exceptions import GridEdgeWarning, grid_edge, warn_grid_edge

    two = [(1e-6, 0.0959), (1e-5, 0.1008)]
    assert grid_edge(two, 0) == "smallest"
    assert grid_edge([(1e-6, 0.2), (1e-5, 0.1)], 1) == "largest"
    assert grid_edge([(1e-5, 0.1008), (1e-6, 0.0959)], 1) == "smallest"  # (any order)
    assert grid_edge([(1e-6, 0.1), (1e-5, None)], 0) is None  # (a diverged other)
    assert grid_edge([(1e-6, 0.1)], 0) is None  # (one candidate: no search)
    with pytest.warns(GridEdgeWarning, match=r"1e-06 is the smallest of the 2 candidates"):
        warn_grid_edge("choose_weight(lasso-dct)", two, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GridEdgeWarning)
        warn_grid_edge("x", [(1e-6, 0.1), (1e-5, 0.1)], 0)  # (tied)
