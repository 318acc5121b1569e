"""What a network costs: MFLOPs per image and CPU milliseconds per latent per optimisation step of
a generator; the memory that training a network of given sizes needs, checked before it is built.

The latent engine's inner loop is ``z -> G(z) -> loss -> d loss / d z`` with G frozen, so the
relevant timing is one forward + backward to z for a batch of latents, divided by the batch size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

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


#: Bytes per weight while a network trains with Adam in float32: the weight, its gradient and
#: Adam's two moment estimates (4 x 4 bytes). Activations come on top: a lower bound.
TRAINING_BYTES_PER_WEIGHT = 16


def device_memory(device: str | torch.device) -> int:
    """The memory of ``device`` in bytes: a CUDA device's total memory, else the machine's
    physical memory (``os.sysconf``; 2**40 where the platform does not say)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # (no sysconf, e.g. Windows)
        return 2**40


def available_memory(device: str | torch.device) -> int:
    """The memory of ``device`` free now, in bytes: a CUDA device's free memory
    (``torch.cuda.mem_get_info``), else the machine's available memory (Linux
    ``/proc/meminfo`` MemAvailable), else ``device_memory`` where the platform does not say."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return device_memory(device)


def built_on_meta(build: Callable[[], nn.Module | tuple | list]) -> tuple[nn.Module, ...]:
    """The network(s) ``build()`` returns, built on the meta device: shapes only, nothing
    allocated, the networks' own checks of their options (channels, depth against the image
    size) run."""
    with torch.device("meta"):
        built = build()
    return tuple(built) if isinstance(built, (tuple, list)) else (built,)


def count_weights(build: Callable[[], nn.Module | tuple | list]) -> int:
    """The number of weights of the network(s) ``build()`` returns (``built_on_meta``)."""
    return sum(p.numel() for net in built_on_meta(build) for p in net.parameters())


def count_activations(net: nn.Module, input_shape: tuple[int, ...]) -> int:
    """The number of values every module of ``net`` outputs for one input of ``input_shape``
    (a forward on the meta device: shapes only; training keeps about these for backward)."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor):
            total[0] += output.numel()

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    try:
        with torch.no_grad():
            net(torch.empty((1, *input_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()
    return total[0]


def check_training_memory(
    build: Callable[[], nn.Module | tuple | list],
    what: str,
    fix: str,
    *,
    copies: int = 1,
    device: str | torch.device = "cpu",
) -> int:
    """The weights of ``build()``'s network(s) (built on the meta device, ``built_on_meta``),
    unless training ``copies`` of them with Adam needs more than ``device``'s memory
    (``device_memory``): at least ``TRAINING_BYTES_PER_WEIGHT`` (16) bytes per weight and,
    where the first network says its input's shape (``input_shape``, without the batch: the
    untrained networks), 8 bytes per activation (value + gradient, ``count_activations``).
    Then a ValueError naming ``what`` (e.g. "the Deep Decoder of channels=1000") with the bytes
    needed and had, and ``fix``; raised before any weight is allocated (building such a
    network ends in an allocation traceback or the OOM killer)."""
    nets = built_on_meta(build)
    n = sum(p.numel() for net in nets for p in net.parameters())
    input_shape = getattr(nets[0], "input_shape", None)
    acts = 0 if input_shape is None else count_activations(nets[0], tuple(input_shape))
    need = (n * TRAINING_BYTES_PER_WEIGHT + acts * 2 * 4) * copies
    have = device_memory(device)
    if need > have:
        many = f" x {copies} copies" if copies > 1 else ""
        kept = f" and {acts:,} activations (value + gradient, 4 bytes each)" if acts else ""
        raise ValueError(
            f"{what} has {n:,} weights{many}: training needs at least {need / 2**30:,.1f} GiB "
            f"(weights, gradients and Adam's two moments, 16 bytes each{kept}) but {device} "
            f"has {have / 2**30:,.1f} GiB; {fix}"
        )
    return n
