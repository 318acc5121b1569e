"""benchmarks/iagan_null_space.py: one iagan start per CSGM restart, each a start iagan accepts
(x̂ = G(z) of that restart, its own data term), the chosen restart's equal to csgm's."""

import torch

from ganinverse.operators import GaussianCS
from ganinverse.solvers.adaptive import iagan
from ganinverse.solvers.csgm import csgm


def test_each_restart_is_a_start_and_the_best_is_csgms(load_script, toy_generator):
    probe = load_script("iagan_null_space")
    G = toy_generator
    op = GaussianCS(G.image_shape, 20, seed=0, noise_std=0.02)
    y = op.measure(torch.rand(2, *G.image_shape) * 1.6 - 0.8, seed=1)
    start = csgm(G, op, y, restarts=3, steps=20, lr=0.05, progress=False, image_ids=[0, 1])
    starts = list(probe.restart_starts(G, op, y, start))
    assert len(starts) == 3
    for i, best in enumerate(start.best_restart.tolist()):
        torch.testing.assert_close(starts[best].x_hat[i], start.x_hat[i])
    for s in starts:  # iagan's own start checks (x̂ = G(z), the data term of y) pass
        assert iagan(G, op, y, start=s, adapt_steps=2).x_hat.shape == y.shape[:1] + G.image_shape
    row = probe.scored("tv", "tv_weight=0", start.x_hat, start.x_hat, None, 20)
    assert set(row) == set(probe.FIELDS) and float(row["mse"]) == 0
