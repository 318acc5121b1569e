"""The latent engine: one optimisation loop behind every solver.

For images i = 1..B and restarts r = 1..R it minimises, independently per latent,

    L(z_ir, v_ir) = data_i(x_ir) + prior_i(G(z_ir), v_ir) + λ_z ||z_ir||²,   x_ir = compose(G(z_ir), v_ir)

where ``v`` are optional extra variables of the objective (e.g. the second latent of the
overpowered attack). All B·R latents form one batch, so one forward/backward of G serves them all; G's
weights are frozen. Restarts can be pruned by successive halving and latents stop early on
relative change; pruned or stopped latents leave the batch, so later steps cost less. The best
iterate of every latent is kept, and the best restart per image is chosen by the data term
(``select="data"``) or the whole objective (``select="total"``).

Randomness: the start of restart r of image i is drawn from ``seeds.rng(seed, "restart", id_i, r)``
where ``id_i`` is the image's identity (``image_ids``, e.g. its dataset index), or from
``rng(seed, "restart", r)`` (the same starts for every image) when no identity is given. So an
image's result never depends on its position in the batch or on the other images: with Adam or
SGD every latent's trajectory is independent of the rest of the batch. L-BFGS is the exception:
its line search acts on the summed loss of the batch, so its iterates are coupled.

A latent whose best iterate is its start (``steps=0``, a diverging learning rate, NaN losses) is
no reconstruction: ``LatentResult.improved`` says so per image, and a ``ConvergenceWarning`` is
raised. From a random start, a loss lowered by no more than ``exceptions.STALL_RTOL`` (0.1%) of
its starting value counts as not improved too (a learning rate so small that the search stood
still, e.g. lr=1e-8); from a warm start (``z_init``) any decrease counts.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ._validation import (
    BOX_MAX,
    check_choice,
    check_count,
    check_int,
    check_learning_rate,
    check_number,
    check_positive,
    check_tensor,
    check_weight,
    closest,
    plain_number,
)
from .exceptions import (
    STALL_RTOL,
    ConvergenceWarning,
    EngineIdleOptionWarning,
    no_progress_advice,
    user_stacklevel,
)
from .seeds import rng
from .status import image_status

OPTIMIZERS = ("adam", "sgd", "lbfgs")
SCHEDULES = ("constant", "cosine", "step")
PROJECTIONS = ("none", "box", "sphere")
INITS = ("normal", "uniform")
SELECTIONS = ("data", "total")


class LatentObjective:
    """What a solver optimises. Subclasses implement ``data_loss``; the rest is optional.

    All methods act on N active latents at once; ``rows`` (N,) says which image each belongs to.
    """

    #: Modules (besides G) the objective evaluates, e.g. a discriminator; frozen during the run.
    modules: tuple[nn.Module, ...] = ()

    def init_variables(self, rows: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        """Extra variables optimised with z, one slice per latent (first dimension N)."""
        return {}

    def compose(self, g: Tensor, variables: dict[str, Tensor]) -> Tensor:
        """The image a latent explains; G(z) unless the objective adds something."""
        return g

    def data_loss(self, x: Tensor, rows: Tensor) -> Tensor:
        """Measurement misfit per latent, shape (N,)."""
        raise NotImplementedError

    def prior_loss(self, g: Tensor, variables: dict[str, Tensor], rows: Tensor) -> Tensor | None:
        """Extra penalty per latent, shape (N,), or None."""
        return None


#: Options L-BFGS cannot take (it couples the latents): a preset's are reset under it.
LBFGS_EXCLUDES = ("prune_at", "tol")


@dataclass(frozen=True)
class LatentConfig:
    """Settings of the engine. Every solver takes these as keyword overrides."""

    restarts: int = 10
    steps: int = 1000
    lr: float = 0.01
    optimizer: str = "adam"
    momentum: float = 0.9
    lambda_z: float = 0.0
    schedule: str = "constant"
    #: For ``schedule="step"``: multiply the lr by ``step_gamma`` after this fraction of steps.
    step_at: float = 0.8
    step_gamma: float = 0.1
    projection: str = "none"
    #: Half-width of the box for ``projection="box"`` and of the uniform init.
    box: float = 1.0
    init: str = "normal"
    #: Fractions of ``steps`` at which each image keeps only the better half of its restarts.
    prune_at: tuple[float, ...] = ()
    #: Stop a latent once its loss improved by less than ``tol`` (relative) over ``patience`` steps.
    tol: float | None = None
    patience: int = 50
    select: str = "data"
    log_every: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        keep = functools.partial(object.__setattr__, self)  # (a 0-d tensor or numpy scalar
        keep("restarts", check_count(self.restarts, "restarts", "draws"))  # is kept as the
        keep("steps", check_count(self.steps, "steps", "steps", low=0))  # number it was checked as)
        keep("lr", check_learning_rate(self.lr, "lr"))
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_choice(self.projection, "projection", PROJECTIONS)
        check_choice(self.init, "init", INITS)
        check_choice(self.select, "select", SELECTIONS)
        keep("lambda_z", check_weight(self.lambda_z, "lambda_z"))
        keep("momentum", check_number(self.momentum, "momentum", low=0.0, high=1.0, high_open=True))
        keep("step_at", check_number(self.step_at, "step_at", low=0.0, high=1.0, low_open=True))
        keep(
            "step_gamma",
            check_number(self.step_gamma, "step_gamma", low=0.0, high=1.0, low_open=True),
        )
        box = check_number(
            self.box,
            "box",
            low=0.0,
            low_open=True,
            high=BOX_MAX,
            hint="box is the half-width of the latent box [-box, box]^d (projection='box', "
            "init='uniform'); latents are N(0, I), so 1000 never binds: use projection='none' "
            "for no box",
        )
        keep("box", box)
        if not isinstance(self.progress, bool):
            raise TypeError(f"progress must be a bool, got {type(self.progress).__name__}")
        keep("seed", check_int(self.seed, "seed", low=0))
        if isinstance(self.prune_at, list):  # e.g. read back from JSON; kept hashable
            object.__setattr__(self, "prune_at", tuple(self.prune_at))
        if not isinstance(self.prune_at, tuple):
            raise TypeError(
                f"prune_at must be a tuple of fractions in (0, 1) (e.g. prune_at=(0.1, 0.3); () "
                f"prunes nothing), got {type(self.prune_at).__name__}"
            )
        keep(
            "prune_at",
            tuple(
                check_number(f, f"prune_at[{i}]", low=0.0, high=1.0, low_open=True, high_open=True)
                for i, f in enumerate(self.prune_at)
            ),
        )
        keep("patience", check_int(self.patience, "patience", low=1))
        keep("log_every", check_int(self.log_every, "log_every", low=1))
        if self.tol is not None:
            keep("tol", check_positive(self.tol, "tol", strict=False))
        if not all(0 < f < 1 for f in self.prune_at):
            raise ValueError(f"prune_at must hold fractions in (0, 1), got {self.prune_at}")
        if len(set(self.prune_at)) != len(self.prune_at):
            raise ValueError(
                f"prune_at has a repeated fraction ({self.prune_at}): each prunes once at its "
                "step; drop the repeat"
            )
        if self.restarts > 1:
            reason = _idle_prunes(self.prune_at, self.restarts, self.steps)
            if reason:  # (prune_at may come from a preset or G's card, not from the caller)
                raise ValueError(
                    f"{reason}; prune_at={self.prune_at} (pass prune_at=(), on the command line --prune-at none, for no pruning)"
                )
        if self.optimizer == "lbfgs" and any(
            getattr(self, k) != getattr(LatentConfig, k) for k in LBFGS_EXCLUDES
        ):
            raise ValueError(
                "optimizer='lbfgs' couples the latents: use it without prune_at and tol"
            )

    def idle_options(self, given: Iterable[str] | None = None) -> dict[str, str]:
        """{option that cannot act here: what it needs to act}, by ``ACTS_WHEN`` (e.g.
        ``momentum`` with Adam: it needs ``optimizer='sgd'``), among the options set away from
        their defaults and the names in ``given`` (options the caller set, whatever their value).
        """
        defaults = {f.name: f.default for f in fields(self)}
        given = set(given or ())
        return {
            name: rule.needs
            for name, rule in ACTS_WHEN.items()
            if (name in given or getattr(self, name) != defaults[name]) and not rule.when(self)
        }

    def overridden(self, **overrides: object) -> LatentConfig:
        """``updated(**overrides)`` for a config that is not the caller's own (a card's
        recommended settings, a preset) with the caller's options on top: a setting of this
        config that the overrides leave idle (a card's ``prune_at`` under ``restarts=1``) goes
        back to its default, so ``optimize_latent`` does not warn about what the caller never set.
        """
        base = self
        if overrides.get("optimizer") == "lbfgs":  # L-BFGS takes no prune_at / tol: a preset's
            base = replace(self, **{k: getattr(LatentConfig, k) for k in LBFGS_EXCLUDES})
        restarts, steps = (overrides.get(k, getattr(base, k)) for k in ("restarts", "steps"))
        if "prune_at" not in overrides:  # a preset's fractions that the overrides idle: dropped
            base = replace(base, prune_at=acting_prunes(base.prune_at, restarts, steps))
        config = base.updated(**overrides)
        defaults = {f.name: f.default for f in fields(self)}
        while idle := set(config.idle_options()) - set(overrides):  # (resetting tol idles patience)
            config = config.updated(**{k: defaults[k] for k in idle})
        return config

    def updated(self, **overrides: object) -> LatentConfig:
        """A copy with some fields replaced (validated again)."""
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            names = sorted(self.__dataclass_fields__)
            hints = "".join(closest(k, names) for k in sorted(unknown))
            raise TypeError(f"unknown latent-engine option(s): {', '.join(sorted(unknown))}{hints}")
        return replace(self, **overrides)


def _idle_prunes(prune_at: tuple, restarts: object, steps: object) -> str:
    """Why some fractions of ``prune_at`` cannot act with ``restarts`` (> 1) latents per image
    over ``steps`` steps ("" when each one prunes): each halving keeps the better ceil(k/2) of k,
    so only ceil(log2(restarts)) halvings leave something to drop, and a fraction must prune on a
    step of its own before the last (``max(1, round(f * steps))``). With steps = 0 nothing runs
    (already warned as not improved): ""."""
    restarts, steps = plain_number(restarts), plain_number(steps)  # (a numpy / 0-d tensor int)
    if not (isinstance(restarts, int) and isinstance(steps, int)) or restarts < 2 or steps < 1:
        return ""
    halvings = math.ceil(math.log2(restarts))
    if len(prune_at) > halvings:
        return (
            f"prune_at has {len(prune_at)} fractions but restarts={restarts} can be halved only "
            f"{halvings} time(s) before one latent per image is left: the rest prune nothing; "
            f"keep at most {halvings} fraction{'s' if halvings > 1 else ''} or raise restarts"
        )
    at: dict[int, float] = {}
    for f in sorted(prune_at):
        step = max(1, round(f * steps))
        if step >= steps:
            return (
                f"prune_at fraction {f:g} prunes at step {step}, the last of steps={steps}: no "
                "step runs after it, so it prunes nothing; use a smaller fraction or more steps"
            )
        if step in at:
            return (
                f"prune_at fractions {at[step]:g} and {f:g} both prune at step {step} of "
                f"steps={steps}: the second prunes nothing; drop one or use more steps"
            )
        at[step] = f
    return ""


def acting_prunes(prune_at: Sequence[float], restarts: int, steps: int) -> tuple[float, ...]:
    """The fractions of ``prune_at`` (in order) that can prune with ``restarts`` latents per
    image over ``steps`` steps: the first each on a step of its own before the last, at most
    ceil(log2(restarts)) of them (``_idle_prunes`` says why the others cannot act). For a
    preset's or a default's fractions under the caller's restarts / steps."""
    kept: tuple[float, ...] = ()
    for f in prune_at:
        if not _idle_prunes((*kept, f), restarts, steps):
            kept = (*kept, f)
    return kept


def warn_idle_options(
    config: LatentConfig, given: Iterable[str] = (), *, defaults: bool = True
) -> None:
    """An IdleOptionWarning for each engine option of ``config`` that cannot act
    (``LatentConfig.idle_options``): those in ``given`` (set by the caller, even to their
    default value) and those set away from their default; with ``defaults=False`` only those
    in ``given`` at their default value (a solver's own keywords, before ``optimize_latent``
    warns for the rest)."""
    idle = config.idle_options(given=given)
    if not defaults:
        fresh = LatentConfig()
        idle = {
            k: v
            for k, v in idle.items()
            if k in set(given) and getattr(config, k) == getattr(fresh, k)
        }
    for name, needs in idle.items():
        warnings.warn(
            f"the engine option {name}={getattr(config, name)!r} changes nothing here: it acts "
            f"only with {needs}; drop it or set that",
            EngineIdleOptionWarning,
            stacklevel=user_stacklevel(),
        )


def check_config(config: object, name: str = "config") -> LatentConfig | None:
    """``config`` if it is a ``LatentConfig`` or None, else a TypeError naming ``name`` (a dict
    of engine options failed later as "'dict' object has no attribute 'updated'")."""
    if config is not None and not isinstance(config, LatentConfig):
        raise TypeError(
            f"{name} must be a LatentConfig or None, got {type(config).__name__} {config!r}: "
            "pass LatentConfig(steps=...) (or a preset's .updated(...)), or the engine options "
            "as keywords (steps=..., restarts=...)"
        )
    return config


def configured(
    config: LatentConfig | None,
    preset: LatentConfig,
    overrides: dict[str, object],
    *,
    min_steps: int = 0,
) -> LatentConfig:
    """The caller's ``config`` with ``overrides`` on top, or without one the solver's ``preset``
    with them on top (``LatentConfig.overridden``: a preset's setting they make idle is reset).
    A ``config`` that is not a LatentConfig: TypeError (``check_config``). ``min_steps``: the
    fewest steps the caller's search means anything with (1 for a projection or an attack, whose
    0 steps would return the random start): a ValueError naming ``steps`` otherwise, checked
    first so a negative count is told the same bound."""
    if "steps" in overrides:
        check_count(overrides["steps"], "steps", "steps", low=min_steps)
    out = (
        preset.overridden(**overrides)
        if check_config(config) is None
        else config.updated(**overrides)
    )
    check_count(out.steps, "steps", "steps", low=min_steps)
    return out


@dataclass(frozen=True)
class Acts:
    """When an engine option acts: ``when(config)`` is True; ``needs`` says it in words;
    ``deciding`` names the fields ``when`` reads (what a user changes to make it act)."""

    when: Callable[[LatentConfig], bool]
    needs: str
    deciding: tuple[str, ...]
    #: for a condition of several parts that must all hold: {field: its part}, so that
    #: ``blocking`` names only the fields whose part fails (not restarts when only steps is 0)
    parts: dict[str, Callable[[LatentConfig], bool]] | None = None

    @classmethod
    def all_of(cls, needs: str, **parts: Callable[[LatentConfig], bool]) -> Acts:
        """An option that acts where every part holds ({deciding field: its part})."""
        return cls(lambda c: all(p(c) for p in parts.values()), needs, tuple(parts), parts)

    def blocking(self, config: LatentConfig) -> tuple[str, ...]:
        """The fields of ``deciding`` to change so that the option acts under ``config``."""
        if self.parts is None:
            return self.deciding
        return tuple(f for f, holds in self.parts.items() if not holds(config)) or self.deciding


#: When an engine option acts: {option: Acts}. Elsewhere the option changes nothing;
#: ``optimize_latent`` warns ``IdleOptionWarning`` for one set away from its default or by the
#: caller, and the CLI refuses such a flag (``cli._common.engine_flag_owners``).
ACTS_WHEN: dict[str, Acts] = {
    "momentum": Acts(lambda c: c.optimizer == "sgd", "optimizer='sgd'", ("optimizer",)),
    "step_at": Acts(lambda c: c.schedule == "step", "schedule='step'", ("schedule",)),
    "step_gamma": Acts(lambda c: c.schedule == "step", "schedule='step'", ("schedule",)),
    "box": Acts(
        lambda c: c.projection == "box" or c.init == "uniform",
        "projection='box' or init='uniform'",
        ("projection", "init"),
    ),
    "patience": Acts(lambda c: c.tol is not None, "tol (early stopping)", ("tol",)),
    "lr": Acts(lambda c: c.steps > 0, "steps > 0 (no step is taken)", ("steps",)),
    "lambda_z": Acts(
        lambda c: c.steps > 0 or c.select == "total",
        "steps > 0 or select='total' (no step is taken, and restarts are chosen by the data "
        "term alone)",
        ("steps", "select"),
    ),
    "tol": Acts(
        lambda c: c.steps > 2 * c.patience,
        "steps > 2 * patience (losses patience steps apart are first compared at step "
        "2 * patience, and a stop at the last step saves nothing)",
        ("steps", "patience"),
    ),
    "prune_at": Acts.all_of(
        "restarts > 1 and steps > 0 (it drops the worse restarts at fractions of the steps)",
        restarts=lambda c: c.restarts > 1,
        steps=lambda c: c.steps > 0,
    ),
}


@dataclass
class LatentResult:
    """Outcome of ``optimize_latent`` for B images and R restarts."""

    x_hat: Tensor  #: (B, C, H, W) image of the best restart per image
    z: Tensor  #: (B, latent_dim) its latent
    variables: dict[str, Tensor]  #: its extra variables, each (B, ...)
    loss: Tensor  #: (B,) selection loss of the best restart
    data_loss: Tensor  #: (B,) data term of the best restart
    restart_losses: Tensor  #: (B, R) selection loss of every restart's best iterate
    best_restart: Tensor  #: (B,) index of the chosen restart
    steps_run: Tensor  #: (B, R) steps each latent ran before it finished, was pruned or stopped
    history: Tensor  #: (T, B, R) total loss every ``log_every`` steps; NaN once a latent left
    #: (B,) False where the chosen restart's best iterate is its start: no step improved it
    #: (steps=0, divergence or NaN losses; from a random start, by more than STALL_RTOL of its
    #: loss); x_hat is then G(z_start), not a reconstruction
    improved: Tensor
    selected_by: str  #: "data" or "total"
    seconds: float
    latent_steps: int  #: Σ over latents of steps run: the work done, in G forward/backwards
    config: LatentConfig = field(repr=False)
    #: (B, R, latent_dim) the best iterate of every restart; ``z[b]`` is
    #: ``restart_z[b, best_restart[b]]`` (what EOT over the restarts of one run averages over)
    restart_z: Tensor | None = field(default=None, repr=False)
    #: where ``config`` came from (set by the solvers that choose it: the generator's card, a
    #: method's defaults, or the caller's), e.g. "recommended by the generator's card (...)"
    settings: str = ""
    #: (B,) for a solver that adds an inner solve with a stopping rule (csgm-sparse's ν-step):
    #: False where it stopped on max_iter; None where there is none
    converged: Tensor | None = field(default=None, repr=False)
    #: the discriminator prior γ · prior(D(G(z))) the engine ran with, as ``{"D": D, "d_weight":
    #: γ, "d_prior": name}`` (``csgm`` with γ > 0); None: none. A refinement given this result as
    #: ``start=`` (csgm_sparse) reports its loss with it.
    discriminator_prior: dict | None = field(default=None, repr=False)
    #: the ids that seeded each image's restarts (``image_ids``); None: every image got the
    #: same starts. A method run again on these measurements from its own start (``mirror``)
    #: seeds by them, as this run did.
    image_ids: list[int] | None = field(default=None, repr=False)

    @property
    def status(self) -> list[str]:
        """Per image: "ok", "not_improved" and/or "not_converged" (``ganinverse.status``)."""
        return image_status({"not_improved": self.improved, "not_converged": self.converged})


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` for the modules' parameters; restored afterwards.

    Every submodule's own training flag is restored (not the top module's, recursively): an
    eval-mode classifier inside a fresh ``nn.Sequential`` (training mode by default) stays in
    eval mode after an attack on the Sequential.
    """
    saved = [
        ([(s, s.training) for s in m.modules()], [p.requires_grad for p in m.parameters()])
        for m in modules
    ]
    try:
        for m in modules:
            m.eval()
            m.requires_grad_(False)
        yield
    finally:
        for m, (flags_by_module, flags) in zip(modules, saved, strict=True):
            for sub, training in flags_by_module:
                sub.training = training
            for p, flag in zip(m.parameters(), flags, strict=True):
                p.requires_grad_(flag)


def generator_device(G: nn.Module) -> torch.device:
    """Where G's parameters live: the engine runs there."""
    param = next(G.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _lr_factor(config: LatentConfig, step: int) -> float:
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * step / max(config.steps, 1)))
    if config.schedule == "step":
        return config.step_gamma if step >= config.step_at * config.steps else 1.0
    return 1.0


def _init_latents(
    latent_dim: int, n_images: int, image_ids: Sequence[int] | None, config: LatentConfig
) -> Tensor:
    """(B·R, latent_dim), image-major: restart r of image i from rng(seed, "restart", id_i, r)
    (or rng(seed, "restart", r) for every image when there are no ids)."""

    def draw(*key: int | str) -> Tensor:
        gen = rng(config.seed, "restart", *key)
        if config.init == "uniform":
            return (torch.rand(latent_dim, generator=gen) * 2 - 1) * config.box
        return torch.randn(latent_dim, generator=gen)

    R = config.restarts
    if image_ids is None:
        return torch.stack([draw(r) for r in range(R)]).repeat(n_images, 1)
    return torch.stack([draw(int(i), r) for i in image_ids for r in range(R)])


def check_image_ids(image_ids: object, n_images: int) -> list[int] | None:
    """``image_ids`` as a list of ``n_images`` distinct ints >= 0 (or None), else a named error."""
    if image_ids is None:
        return None
    if isinstance(image_ids, Tensor):
        image_ids = image_ids.tolist()
    if isinstance(image_ids, (str, bytes)) or not isinstance(image_ids, Sequence | range):
        raise TypeError(f"image_ids must be a sequence of ints, got {type(image_ids).__name__}")
    ids = [check_int(i, "image_ids", low=0) for i in image_ids]
    if len(ids) != n_images:
        raise ValueError(f"image_ids must hold one id per image ({n_images}), got {len(ids)}")
    if len(set(ids)) != len(ids):
        raise ValueError("image_ids must be distinct (one identity per image)")
    return ids


def check_generator_fits(G: object, operator: object) -> nn.Module:
    """``check_generator(G)``, and a ValueError unless its images have the shape the operator
    measures (``operator.in_shape``)."""
    check_generator(G)
    if tuple(G.image_shape) != tuple(operator.in_shape):
        raise ValueError(
            f"the generator makes images of shape {tuple(G.image_shape)} but the operator expects "
            f"{tuple(operator.in_shape)}; build the operator for G.image_shape (or use a "
            "generator of the images' size)"
        )
    return G


def check_generator(G: object, name: str = "G") -> nn.Module:
    """A generator: an nn.Module with an int ``latent_dim``, an ``image_shape`` (C, H, W) and
    float32 parameters (the engine runs in float32), else a named error with the fix."""
    if not isinstance(G, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module generator, got {type(G).__name__}")
    latent_dim = getattr(G, "latent_dim", None)
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise TypeError(f"{name} must have an int attribute latent_dim >= 1, got {latent_dim!r}")
    shape = getattr(G, "image_shape", None)
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise TypeError(f"{name} must have an attribute image_shape = (C, H, W), got {shape!r}")
    dtypes = {p.dtype for p in G.parameters()}
    if dtypes - {torch.float32}:
        found = ", ".join(sorted(str(d) for d in dtypes))
        raise TypeError(
            f"{name} has parameters of dtype {found}; the solvers run in float32: "
            f"pass {name}.float()"
        )
    if any(p.is_meta for p in G.parameters()):
        raise ValueError(
            f"{name} is on the meta device: its layers have shapes but no weights; load them "
            f"(ganinverse.load_generator, or {name}.to_empty(device=...) then load_state_dict)"
        )
    return G


def _project(z: Tensor, config: LatentConfig) -> None:
    if config.projection == "box":
        z.clamp_(-config.box, config.box)
    elif config.projection == "sphere":
        z.mul_(math.sqrt(z.shape[1]) / z.norm(dim=1, keepdim=True).clamp_min(1e-12))


def _make_optimizer(params: list[Tensor], config: LatentConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    # one L-BFGS iteration per step, with a strong-Wolfe line search of up to 25 evaluations
    return torch.optim.LBFGS(
        params, lr=config.lr, max_iter=1, max_eval=25, line_search_fn="strong_wolfe"
    )


class _Batch:
    """The active latents: leaf tensors being optimised plus bookkeeping to shrink them."""

    def __init__(self, tensors: dict[str, Tensor], ids: Tensor, config: LatentConfig) -> None:
        self.config = config
        self.ids = ids  # (N,) positions in the full B*R table
        self.tensors = {k: v.detach().clone().requires_grad_(True) for k, v in tensors.items()}
        self.optimizer = _make_optimizer(list(self.tensors.values()), config)

    def keep(self, mask: Tensor) -> None:
        """Drop the latents where ``mask`` is False, carrying optimiser state over."""
        old = self.tensors
        self.tensors = {k: v.detach()[mask].clone().requires_grad_(True) for k, v in old.items()}
        self.ids = self.ids[mask]
        state = self.optimizer.state
        new_opt = _make_optimizer(list(self.tensors.values()), self.config)
        for key, p in old.items():
            if p in state:
                new_opt.state[self.tensors[key]] = {
                    name: (
                        s[mask] if torch.is_tensor(s) and s.ndim and s.shape[0] == len(mask) else s
                    )
                    for name, s in state[p].items()
                }
        self.optimizer = new_opt  # its lr is set at the start of every step


def optimize_latent(
    G: nn.Module,
    objective: LatentObjective,
    n_images: int,
    config: LatentConfig | None = None,
    *,
    z_init: Tensor | None = None,
    image_ids: Sequence[int] | None = None,
    desc: str = "latent",
    **overrides: object,
) -> LatentResult:
    """Minimise the objective over z for ``n_images`` images × ``config.restarts`` restarts.

    G must have ``latent_dim``; it runs on its own device and is frozen during the call.
    ``z_init`` (B·R, latent_dim), image-major, replaces the random starts (e.g. warm starts).
    ``image_ids`` (B distinct ints, e.g. dataset indices) seed each image's restarts by its
    identity; without them every image gets the same starts. Warns ``ConvergenceWarning`` when
    no step improved the start of an image's chosen restart (``LatentResult.improved``).
    """
    config = (check_config(config) or LatentConfig()).updated(**overrides)
    check_generator(G)
    warn_idle_options(config, overrides)
    check_int(n_images, "n_images", low=1)
    image_ids = check_image_ids(image_ids, n_images)
    device = generator_device(G)
    B, R, T = n_images, config.restarts, config.steps
    total = B * R
    rows_all = torch.arange(B, device=device).repeat_interleave(R)

    gen = rng(config.seed, "variables")
    random_start = z_init is None  # (a warm start is a reconstruction already: any gain counts)
    if z_init is None:
        z_init = _init_latents(G.latent_dim, B, image_ids, config)
    else:
        check_tensor(z_init, "z_init", shape=(total, G.latent_dim))
    init = {"z": z_init.detach().to(device, torch.float32)}
    init.update(objective.init_variables(rows_all, gen))
    best = {k: v.detach().clone() for k, v in init.items()}
    best_total = torch.full((total,), math.inf, device=device)
    improved = torch.zeros(total, dtype=torch.bool, device=device)  # best iterate after the start
    best_select = torch.full((total,), math.inf, device=device)
    start_total = torch.full((total,), math.nan, device=device)  # for the no-progress advice
    last_total = torch.full((total,), math.nan, device=device)
    steps_run = torch.full((total,), T, dtype=torch.long, device=device)
    history: list[Tensor] = []

    batch = _Batch(init, torch.arange(total, device=device), config)
    prune_steps = sorted({max(1, round(f * T)) for f in config.prune_at})
    ref_loss = torch.full((total,), math.inf, device=device)

    def evaluate() -> tuple[Tensor, Tensor]:
        z = batch.tensors["z"]
        rows = rows_all[batch.ids]
        g = G(z)
        variables = {k: v for k, v in batch.tensors.items() if k != "z"}
        x = objective.compose(g, variables)
        data = objective.data_loss(x, rows)
        tot = data
        prior = objective.prior_loss(g, variables, rows)
        if prior is not None:
            tot = tot + prior
        if config.lambda_z:
            tot = tot + config.lambda_z * z.pow(2).sum(1)
        return tot, data

    def record(tot: Tensor, data: Tensor, initial: bool = False) -> None:
        """Keep each latent's best iterate so far (the iterate the losses were computed at)."""
        sel = data if config.select == "data" else tot
        ids = batch.ids
        better = tot.detach() < best_total[ids]
        last_total[ids] = tot.detach()
        if initial:
            start_total[ids] = tot.detach()
        idx = ids[better]
        improved[idx] = not initial
        best_total[idx] = tot.detach()[better]
        best_select[idx] = sel.detach()[better]
        for k, v in batch.tensors.items():
            best[k][idx] = v.detach()[better]

    last: dict[str, Tensor] = {}  # losses at the iterate a step starts from

    def closure() -> Tensor:
        batch.optimizer.zero_grad(set_to_none=True)
        tot, data = evaluate()
        if not last:  # the first evaluation of a step is at the current iterate
            last["tot"], last["data"] = tot.detach(), data.detach()
            record(tot, data, initial=step_now[0] == 0)
        loss = tot.sum()
        loss.backward()
        return loss

    start = time.perf_counter()
    latent_steps = 0
    step_now = [0]  # the step the closure evaluates (step 0's first evaluation is the start)
    bar = tqdm(total=T, desc=desc, disable=not config.progress)
    with frozen(G, *objective.modules), bar:
        for step in range(T):
            step_now[0] = step
            lr = config.lr * _lr_factor(config, step)
            for group in batch.optimizer.param_groups:
                group["lr"] = lr
            last.clear()
            batch.optimizer.step(closure)
            latent_steps += len(batch.ids)
            with torch.no_grad():
                _project(batch.tensors["z"], config)

            if step % config.log_every == 0:
                row = torch.full((total,), math.nan, device=device)
                row[batch.ids] = last["tot"]
                history.append(row.view(B, R).cpu())
            bar.update(1)
            if config.progress and step % 10 == 0:
                bar.set_postfix(active=len(batch.ids), loss=f"{float(last['data'].mean()):.4g}")

            keep = torch.ones(len(batch.ids), dtype=torch.bool, device=device)
            if step + 1 in prune_steps:
                keep &= _halving_mask(best_select, batch.ids, rows_all, B)
            if config.tol is not None and (step + 1) % config.patience == 0:
                current = best_total[batch.ids]
                rel = (ref_loss[batch.ids] - current) / current.abs().clamp_min(1e-12)
                keep &= ~(rel < config.tol)
                ref_loss[batch.ids] = current
            if not bool(keep.all()):
                steps_run[batch.ids[~keep]] = step + 1
                batch.keep(keep)
                if len(batch.ids) == 0:
                    break

        # the last step's update has not been evaluated yet (with steps=0: the start itself)
        if len(batch.ids):
            with torch.no_grad():
                record(*evaluate(), initial=T == 0)

        with torch.no_grad():
            restart_losses = best_select.view(B, R)
            best_restart = restart_losses.argmin(1)
            pick = torch.arange(B, device=device) * R + best_restart
            z = best["z"][pick]
            variables = {k: v[pick] for k, v in best.items() if k != "z"}
            x_hat = objective.compose(G(z), variables)
            data_loss = objective.data_loss(x_hat, torch.arange(B, device=device))
            if random_start:  # a gain within float rounding of a random start is no search
                improved &= (start_total - best_total) > STALL_RTOL * start_total.abs()
            improved_image = improved[pick].cpu()

    if not bool(improved_image.all()):
        bad = int((~improved_image).sum())
        idle = ~improved_image.to(device)  # the images no step improved
        finite = "" if bool(torch.isfinite(best_total).all()) else ", non-finite losses"
        ran = f"steps={T}, lr={config.lr:g}{finite}" if T else "steps=0"
        by = f" by more than {STALL_RTOL:.1%} of its loss" if random_start else ""
        advice = (
            no_progress_advice(start_total[pick][idle], last_total[pick][idle])
            if T
            else "steps=0 takes no step: pass steps >= 1"
        )
        warnings.warn(
            f"{desc}: for {bad} of {B} image(s) no step improved on the starting latent{by} "
            f"({ran}); their x_hat is G(z_start), not a reconstruction (result.improved is "
            f"False): {advice}",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return LatentResult(
        x_hat=x_hat,
        z=z,
        variables=variables,
        loss=restart_losses.gather(1, best_restart[:, None]).squeeze(1),
        data_loss=data_loss,
        restart_losses=restart_losses,
        best_restart=best_restart,
        steps_run=steps_run.view(B, R),
        history=torch.stack(history) if history else torch.empty(0, B, R),
        improved=improved_image,
        selected_by=config.select,
        seconds=time.perf_counter() - start,
        latent_steps=latent_steps,
        config=config,
        restart_z=best["z"].view(B, R, -1),
        image_ids=image_ids if random_start else None,
    )


def _halving_mask(scores: Tensor, ids: Tensor, rows_all: Tensor, n_images: int) -> Tensor:
    """For each image keep the better ceil(k/2) of its k active latents (by ``scores``)."""
    rows = rows_all[ids]
    s = scores[ids]
    keep = torch.zeros(len(ids), dtype=torch.bool, device=ids.device)
    # rank within image: sort by (row, score) and count position inside each row group
    order = torch.argsort(s, stable=True)
    order = order[torch.argsort(rows[order], stable=True)]
    counts = torch.bincount(rows, minlength=n_images)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(ids), device=ids.device) - starts[rows[order]]
    keep[order] = rank < (counts[rows[order]] + 1) // 2
    return keep
