"""What a generator costs: MFLOPs per image and CPU milliseconds per latent per optimisation step.

The latent engine's inner loop is ``z -> G(z) -> loss -> d loss / d z`` with G frozen, so the
relevant timing is one forward + backward to z for a batch of latents, divided by the batch size.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def mflops_per_image(generator: nn.Module) -> float:
    """Forward FLOPs of one image in millions (one multiply-accumulate = 2 FLOPs)."""
    was_training = generator.training
    z = torch.zeros(2, generator.latent_dim, device=next(generator.parameters()).device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        generator.eval()(z)
    generator.train(was_training)
    return counter.get_total_flops() / 2 / 1e6


def ms_per_latent_step(
    generator: nn.Module, batch: int = 640, repeats: int = 3, threads: int | None = None
) -> float:
    """Median wall time (ms) of one forward+backward-to-z on ``batch`` latents, per latent.

    G is frozen (eval mode, no parameter gradients) while timing; its flags are restored after.
    """
    was_training = generator.training
    flags = [p.requires_grad for p in generator.parameters()]
    generator.eval().requires_grad_(False)
    dev = next(generator.parameters()).device
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        z = torch.randn(batch, generator.latent_dim, device=dev, requires_grad=True)
        times = []
        for _ in range(repeats + 1):  # first run warms up allocators
            start = time.perf_counter()
            generator(z).square().sum().backward()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
            z.grad = None
    finally:
        torch.set_num_threads(old_threads)
        generator.train(was_training)
        for p, flag in zip(generator.parameters(), flags, strict=True):
            p.requires_grad_(flag)
    return 1000.0 * sorted(times[1:])[len(times[1:]) // 2] / batch


def generator_cost(generator: nn.Module, batch: int = 640, repeats: int = 3) -> dict:
    """{"mflops_per_image", "ms_per_latent_step", "timing_batch", "timing_device", "threads"}."""
    dev = next(generator.parameters()).device
    return {
        "mflops_per_image": round(mflops_per_image(generator), 3),
        "ms_per_latent_step": round(ms_per_latent_step(generator, batch, repeats), 4),
        "timing_batch": batch,
        "timing_device": str(dev)
        if dev.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
    }
