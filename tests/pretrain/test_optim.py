import math

import pytest
import torch

from pretrain.optim import OptimisticAdam


def test_two_steps_match_the_optimistic_update_by_hand():
    w = torch.nn.Parameter(torch.tensor([2.0, -1.0]))
    lr, b1, b2, eps = 0.1, 0.5, 0.9, 1e-8
    opt = OptimisticAdam([w], lr=lr, betas=(b1, b2), eps=eps)
    # f(w) = ½||w||², gradient = w
    m = v = torch.zeros(2)
    h_prev = torch.zeros(2)
    expected = w.detach().clone()
    for t in (1, 2):
        g = expected.clone()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        h = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
        expected = expected - 2 * lr * h + lr * h_prev
        h_prev = h
        opt.zero_grad()
        (0.5 * w.square().sum()).backward()
        opt.step()
        assert torch.allclose(w.detach(), expected, atol=1e-6)


def test_converges_on_a_quadratic():
    torch.manual_seed(0)
    A = torch.randn(6, 3)
    b = torch.randn(6)
    w_star = torch.linalg.lstsq(A, b[:, None]).solution[:, 0]
    w = torch.nn.Parameter(torch.zeros(3))
    opt = OptimisticAdam([w], lr=0.01, betas=(0.9, 0.999))
    for _ in range(3000):
        opt.zero_grad()
        (A @ w - b).square().sum().backward()
        opt.step()
    assert torch.allclose(w.detach(), w_star, atol=1e-2)


def test_bilinear_game_is_not_divergent():
    # min_x max_y x*y: simultaneous gradient descent-ascent spirals out; optimism contracts.
    x = torch.nn.Parameter(torch.tensor([1.0]))
    y = torch.nn.Parameter(torch.tensor([1.0]))
    ox, oy = (
        OptimisticAdam([x], lr=0.05, betas=(0.0, 0.9)),
        OptimisticAdam([y], lr=0.05, betas=(0.0, 0.9)),
    )
    for _ in range(500):
        ox.zero_grad(), oy.zero_grad()
        (x * y).sum().backward()
        y.grad.neg_()  # y ascends
        ox.step(), oy.step()
    assert math.hypot(x.item(), y.item()) < 0.5


def test_bad_arguments():
    p = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError):
        OptimisticAdam(p, lr=-1)
    with pytest.raises(ValueError):
        OptimisticAdam(p, betas=(1.0, 0.9))
