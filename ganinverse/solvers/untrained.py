"""Untrained-network priors: the Deep Decoder (Heckel & Hand, ICLR 2019) and the Deep Image
Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018; for compressed sensing: Van Veen et al. 2018).

No generator is trained: for every image i an untrained network f_θ (``models/untrained.py``)
with a fixed random input z_i is fitted to that image's measurements alone,

    θ̂_i = θ after T Adam steps on  (1/m_i)||M_i ⊙ (y_i − A_i f_θ(z_i))||²,   x̂_i = f_θ̂_i(z_i),

from a random θ⁰_i (the data term is ``operator.data_misfit``: averaged over the m_i measurements
of image i, M_i marking them for masked operators). The architecture is the prior, and the
number of steps T is the regulariser (early stopping): fitted long enough, the over-parameterised
DIP reproduces the noise, and even the Deep Decoder fits more of it. T is the weight each
method tunes per m on validation images (``Tuned`` key ``untrained_steps``, one grid for both
methods, each choosing its own T). On 28x28 digits with noise σ = 0.1 ([0, 1] scale) the
search chose T = 2000 (m = 100) and 100 (m = 300) for the Deep Decoder, 50 for the DIP.

Randomness: θ⁰_i and z_i are drawn from ``seeds.rng(seed, method, id_i)`` (``method`` is
"deep-decoder" or "dip", ``id_i`` the image's identity, ``image_ids``), or from
``rng(seed, method)`` for every image when no identity is given.

Batching: the B networks are one batch: their weights are stacked and the network is evaluated
by ``torch.func.vmap`` over ``functional_call`` (grouped convolutions underneath), and one Adam
acts on the stacked weights. Adam is elementwise and the loss a sum of per-image terms, so each
image's trajectory is its own: a result does not depend on the other images of its batch, up to
floating-point rounding (on the CPU, to the bit across batches of 2 or more images). A single
image would run other kernels (ungrouped convolutions, a matrix-vector product for A) whose
rounding differs, and rounding differences grow over a long non-convex fit (to 0.03 RMS after
1000 steps on a digit), so a batch of one is fitted as two copies of the image (twice the
work of one image alone). Measured on 28x28 images, m = 200, 1 CPU thread, per image and step:
the Deep Decoder 1.1-1.4 ms batched (4-16 images) against 2.4-4.6 ms in a Python loop of one
network and one Adam per image; the DIP 18-21 ms against 23-30 ms. On a GPU a loop is bound by
kernel launches, so the batch should gain more there (not measured).
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from .._validation import check_count, check_int, check_learning_rate
from ..device import resolve_device
from ..exceptions import (
    STALL_RTOL,
    ConvergenceWarning,
    IdleOptionWarning,
    no_progress_advice,
    user_stacklevel,
)
from ..latent import check_image_ids
from ..models.cost import check_training_memory
from ..models.untrained import DeepDecoder, SkipNet, UntrainedNetwork
from ..operators import LinearOperator, check_operator
from ..seeds import rng
from ..status import image_status

#: Default candidates of the number of Adam steps T (the tuned weight of both methods).
UNTRAINED_STEPS = (50, 100, 250, 500, 1000, 2000)


@dataclass
class UntrainedResult:
    """An untrained-network fit of B images.

    ``x_hat`` (B, C, H, W) in (-1, 1): each network's output after ``steps`` steps;
    ``data_loss`` (B,): its (1/m_i)||M_i ⊙ (y_i − A_i x̂_i)||²; ``history`` (steps + 1, B): the
    data term at every step (row 0: the random start, the last row: ``data_loss``);
    ``improved`` (B,): False where the fit ended no lower than its start or not finite (a
    ``ConvergenceWarning`` was raised); ``n_parameters``: weights of one image's network;
    ``seconds``: wall time of the batch.
    """

    x_hat: Tensor
    data_loss: Tensor
    history: Tensor
    improved: Tensor
    steps: int
    n_parameters: int
    seconds: float
    method: str
    options: dict = field(default_factory=dict)

    @property
    def status(self) -> list[str]:
        """Per image: "ok" or "not_improved" (``ganinverse.status``)."""
        return image_status({"not_improved": self.improved})


def check_steps(steps: object) -> int:
    """The number of steps as an int >= 1; an integral float (a grid read from the command
    line, e.g. 500.0) is accepted, anything else raises TypeError/ValueError."""
    if isinstance(steps, float) and steps.is_integer():
        steps = int(steps)
    return check_count(steps, "steps", "steps")


def _prepare(
    operator: LinearOperator, y: object, device: str | torch.device | None
) -> tuple[LinearOperator, Tensor]:
    check_operator(operator)
    y = operator.check_measurements(y)
    k = operator.n_matrices
    if k > 1 and k != len(y):
        raise ValueError(f"the operator holds {k} per-image masks but y has {len(y)} images")
    device = y.device if device is None else resolve_device(device)
    return operator.to(device), y.to(device)


#: (build, what, fix) of an untrained prior's network: ``build()`` makes it, ``what`` names it
#: with its sizes and ``fix`` says which flag lowers them (the memory check's message).
Network = tuple[Callable[[], UntrainedNetwork], str, str]


def deep_decoder_network(options: Mapping[str, Any], shape: Sequence[int]) -> Network:
    """``deep_decoder``'s network for images of ``shape`` (C, H, W) with ``options``'
    ``channels`` and ``depth`` (the method record's ``networks``, checked before any work)."""
    k, d = options["channels"], options["depth"]
    shape = tuple(shape)
    return (
        lambda: DeepDecoder(shape, k, d),
        f"the Deep Decoder of channels={k}, depth={'auto' if d is None else d}",
        "lower channels (--dd-channels; Heckel & Hand use 64 at most)",
    )


DIP_SIZES = ("channels", "levels", "skip_channels", "input_channels")


def dip_network(options: Mapping[str, Any], shape: Sequence[int]) -> Network:
    """``deep_image_prior``'s network for images of ``shape`` (C, H, W) with ``options``'
    sizes (``DIP_SIZES``; the method record's ``networks``)."""
    sizes = [options[k] for k in DIP_SIZES]
    shape = tuple(shape)
    return (
        lambda: SkipNet(shape, *sizes),
        "the DIP network of "
        + ", ".join(
            f"{k}={'auto' if v is None else v}" for k, v in zip(DIP_SIZES, sizes, strict=True)
        ),
        "lower channels (--dip-channels; Ulyanov et al. use 128 at most)",
    )


def fit_untrained(
    network: Network,
    operator: LinearOperator,
    y: Tensor,
    *,
    steps: int,
    lr: float,
    seed: int,
    key: str,
    image_ids: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    options: dict | None = None,
    progress: bool = True,
) -> UntrainedResult:
    """Fit one network ``build()`` per image (``network`` = (build, what, fix), e.g.
    ``deep_decoder_network(options, shape)``) to its measurements y (B, *operator.out_shape)
    by ``steps`` Adam steps of learning rate ``lr`` on Σ_i (1/m_i)||M_i ⊙ (y_i − A_i f_θ_i(z_i))||²
    (see the module docstring); θ⁰_i and z_i from ``rng(seed, key, id_i)``.

    Runs on ``device`` (default: y's; "auto": CUDA when present), with a progress bar over the
    steps unless ``progress`` is False. Raises TypeError/ValueError, before any
    work, for a wrong operator, y, steps, lr, seed or image_ids; warns ``ConvergenceWarning``
    for images whose data term ended no lower than it started, or not finite.
    """
    steps = check_steps(steps)
    lr = check_learning_rate(lr, "lr")
    check_int(seed, "seed", low=0)
    operator, y = _prepare(operator, y, device)
    B = len(y)
    ids = check_image_ids(image_ids, B)
    start = time.perf_counter()

    build, what, fix = network
    check_training_memory(  # (one network per image, trained side by side: at least two)
        build,
        what,
        fix + (", or pass fewer images per call" if B > 2 else ""),
        copies=max(B, 2),
        device=y.device,
    )
    nets, inputs = [], []
    for i in range(B):
        gen = rng(seed, key) if ids is None else rng(seed, key, ids[i])
        net = build().reset(gen)
        nets.append(net)
        inputs.append(net.draw_input(gen))
    if tuple(nets[0].image_shape) != operator.in_shape:
        raise ValueError(
            f"the network makes images of shape {nets[0].image_shape} but the operator "
            f"expects {operator.in_shape}"
        )
    n_parameters = nets[0].n_parameters()
    rows = torch.arange(B, device=y.device)
    if B == 1:  # a batch of one as two copies: the batched kernels run (see above)
        nets.append(copy.deepcopy(nets[0]))
        inputs.append(inputs[0])
        rows = rows.repeat(2)
    params, buffers = stack_module_state(nets)
    params = {k: v.to(y.device).detach().requires_grad_(True) for k, v in params.items()}
    buffers = {k: v.to(y.device) for k, v in buffers.items()}
    z = torch.stack(inputs).to(y.device)  # (B', 1, *input_shape)
    base = copy.deepcopy(nets[0]).to("meta")
    network = vmap(lambda p, b, zi: functional_call(base, (p, b), (zi,)))

    def fit() -> tuple[Tensor, Tensor]:
        """(x, its data term per image) at the current weights."""
        x = network(params, buffers, z).squeeze(1)
        return x, operator.data_misfit(y[rows], operator.A_rows(x, rows), rows)

    optimizer = torch.optim.Adam(list(params.values()), lr=lr)
    history = []
    for _ in tqdm(range(steps), desc=key, unit="step", disable=not progress, leave=False):
        data = fit()[1]
        history.append(data.detach()[:B])
        optimizer.zero_grad(set_to_none=True)
        data.sum().backward()
        optimizer.step()
    with torch.no_grad():
        x_hat, data = (v[:B] for v in fit())
    history.append(data)
    history_t = torch.stack(history).cpu()
    first, last = history_t[0], history_t[-1]  # (random weights are a random start: a fit
    improved = torch.isfinite(last) & (first - last > STALL_RTOL * first.abs())  # must move)
    if not bool(improved.all()):
        bad = int((~improved).sum())
        warnings.warn(
            f"{key}: for {bad} of {B} image(s) the data term after {steps} steps is not below "
            f"its start by more than {STALL_RTOL:.1%}"
            f"{'' if bool(torch.isfinite(history_t).all()) else ' (non-finite losses)'}"
            f" (lr={lr:g}); their x_hat is no fit (result.improved is False): "
            + no_progress_advice(first[~improved], last[~improved]),
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return UntrainedResult(
        x_hat=x_hat.detach(),
        data_loss=data.detach(),
        history=history_t,
        improved=improved,
        steps=steps,
        n_parameters=n_parameters,
        seconds=time.perf_counter() - start,
        method=key,
        options=dict(options or {}),
    )


def _check_shape(operator: object, G: object = None, name: str = "") -> tuple[int, int, int]:
    """The operator's image shape (C, H, W); an IdleOptionWarning for a G given to a prior
    that uses none (its signature takes one for the methods' registry)."""
    check_operator(operator)
    if G is not None:
        warnings.warn(
            f"{name} uses no generator: G changes nothing; pass G=None",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )
    return operator.in_shape


def deep_decoder(
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    *,
    steps: int = 500,
    lr: float = 0.01,
    channels: int = 16,
    depth: int | None = None,
    seed: int = 0,
    image_ids: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> UntrainedResult:
    """The Deep Decoder (Heckel & Hand, ICLR 2019) as a prior: x̂_i = f_θ̂_i(z_i) with θ̂_i after
    ``steps`` Adam steps (learning rate ``lr``) on (1/m_i)||M_i ⊙ (y_i − A_i f_θ(z_i))||².

    f is ``models.untrained.DeepDecoder(operator.in_shape, channels, depth)``: ``depth`` layers
    (None: 4, fewer for images too small for a 2x2 input, e.g. 3 at 8x8) of ``channels``
    channels of 1x1 convolutions, bilinear upsampling, ReLU and channel norm, x = 2σ(·) − 1,
    in (-1, 1). It has depth·k² + 2·depth·k + k·C weights (k = channels; the defaults: 1,200
    on 64x64x3 images, a tenth of n; 1,168 on 28x28x1, above n = 784, where early stopping
    regularises). ``G`` is ignored (no generator: the shape is the operator's).
    y (B, *operator.out_shape) -> ``UntrainedResult`` with x̂ (B, C, H, W).
    θ⁰_i and z_i are drawn from ``seeds.rng(seed, "deep-decoder", image_ids[i])``; the fit
    runs on ``device`` (default: y's; "auto": CUDA when present); ``progress``: a bar over the steps. Raises
    TypeError/ValueError before any work for a wrong operator, y, option or image_ids (e.g. a depth that halves the image
    below 2x2); warns ``ConvergenceWarning`` when an image's data term did not decrease.
    """
    shape = _check_shape(operator, G, "deep_decoder")
    with torch.device("meta"):  # validates the options before any work, allocating nothing
        depth = DeepDecoder(shape, channels, depth).depth
    return fit_untrained(
        deep_decoder_network({"channels": channels, "depth": depth}, shape),
        operator,
        y,
        steps=steps,
        lr=lr,
        seed=seed,
        key="deep-decoder",
        image_ids=image_ids,
        device=device,
        progress=progress,
        options={"channels": channels, "depth": depth, "lr": lr},
    )


def deep_image_prior(
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    *,
    steps: int = 100,
    lr: float = 0.01,
    channels: int = 32,
    levels: int | None = None,
    skip_channels: int = 4,
    input_channels: int = 32,
    seed: int = 0,
    image_ids: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> UntrainedResult:
    """The Deep Image Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018; compressed sensing: Van Veen
    et al. 2018): x̂_i = f_θ̂_i(z_i) with θ̂_i after ``steps`` Adam steps (learning rate ``lr``)
    on (1/m_i)||M_i ⊙ (y_i − A_i f_θ(z_i))||², stopped early (``steps`` is the regulariser).

    f is ``models.untrained.SkipNet(operator.in_shape, channels, levels, skip_channels,
    input_channels)``, an encoder-decoder with skip connections of ``levels`` levels (None: 3,
    fewer for images too small, e.g. 2 at 8x8; 91,293 weights for the defaults at 28x28x1),
    x = 2σ(·) − 1 in (-1, 1); z_i is ``input_channels`` x H x W, uniform on [0, 0.1). About 15x
    the Deep Decoder's time per step. ``G`` is ignored. y (B, *operator.out_shape) ->
    ``UntrainedResult`` with x̂ (B, C, H, W). θ⁰_i and z_i from ``seeds.rng(seed, "dip",
    image_ids[i])``; runs on ``device`` (default: y's; "auto": CUDA when present); ``progress``: a bar
    over the steps. Raises TypeError/ValueError
    before any work for a wrong operator, y, option or image_ids (e.g. levels that halve the
    image below 2x2); warns ``ConvergenceWarning`` when an image's data term did not decrease.
    """
    shape = _check_shape(operator, G, "deep_image_prior")
    with torch.device("meta"):  # validates the options before any work, allocating nothing
        levels = SkipNet(shape, channels, levels, skip_channels, input_channels).levels
    sizes = dict(zip(DIP_SIZES, (channels, levels, skip_channels, input_channels), strict=True))
    return fit_untrained(
        dip_network(sizes, shape),
        operator,
        y,
        steps=steps,
        lr=lr,
        seed=seed,
        key="dip",
        image_ids=image_ids,
        device=device,
        progress=progress,
        options={**sizes, "lr": lr},
    )


__all__ = [
    "DIP_SIZES",
    "UNTRAINED_STEPS",
    "Network",
    "deep_decoder_network",
    "dip_network",
    "UntrainedResult",
    "check_steps",
    "deep_decoder",
    "deep_image_prior",
    "fit_untrained",
]
