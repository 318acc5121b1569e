"""Optimistic Adam (Daskalakis, Ilyas, Syrgkanis, Zeng 2018, "Training GANs with Optimism").

With Adam's direction h_t = m̂_t / (sqrt(v̂_t) + eps), the optimistic update is
    w_{t+1} = w_t - 2 lr h_t + lr h_{t-1}        (h_0 = 0),
i.e. a step along the current direction plus a correction that undoes half of the last one;
this damps the cycling of simultaneous gradient play.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer


class OptimisticAdam(Optimizer):
    """Adam moments with the optimistic (extrapolated) update above."""

    def __init__(
        self,
        params,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if lr <= 0 or eps <= 0 or weight_decay < 0:
            raise ValueError(
                f"need lr > 0, eps > 0, weight_decay >= 0; got {lr}, {eps}, {weight_decay}"
            )
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        super().__init__(
            params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    state["prev_direction"] = torch.zeros_like(p)
                state["step"] += 1
                t = float(state["step"])
                state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                direction = m_hat / (v_hat.sqrt() + group["eps"])
                p.add_(direction, alpha=-2 * group["lr"]).add_(
                    state["prev_direction"], alpha=group["lr"]
                )
                state["prev_direction"].copy_(direction)
        return loss
