"""THE registry of reconstruction methods: one ``Method`` record per method.

``reconstruct(method, G, operator, y, **options)``, ``choose_weight``, the sweep, the CLI's
``--method`` / ``--methods`` choices and flags, and the summary tables all read this table, so a
method is added by writing its solver (a callable ``solver(G, operator, y, **options)`` whose
result has ``x_hat``, (B, C, H, W) on the library's [-1, 1] scale) and one
``register_method(Method(...))`` call — here for the bundled methods, or in the user's own code.

A record says which weight is tuned per m on validation images (``Tuned``: the option it sets,
its grid's CLI flag and default candidates), whether the method needs G or D, which operators it
applies to, and which method's result it starts from (csgm-sparse refines CSGM's ẑ, so its
sweep takes CSGM's engine setting and reuses CSGM's result of the same images).

Lasso works on the [0, 1] image scale, as in CSGM's experiments, where the background of a digit
is 0 and so sparse in the pixel basis. With x = 2x₀ − 1 the library's measurements
y = A x + η give exactly y₀ = (y + A1)/2 = A x₀ + η/2; x̂ = 2x̂₀ − 1 maps back.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from . import baselines, metrics
from . import inpaint_baselines as baselines_inpaint
from ._validation import (
    check_bool,
    check_choice,
    check_count,
    check_distinct,
    check_int,
    check_learning_rate,
    check_number,
    check_weight,
    closest_name,
)
from .blending import BIHARMONIC_WEIGHT, blend_option, blend_spec, blend_value
from .exceptions import (
    ConvergenceWarning,
    IdleOptionWarning,
    SolverIdleOptionWarning,
    user_stacklevel,
    warn_grid_edge,
)
from .latent import (
    LatentConfig,
    LatentResult,
    check_image_ids,
    configured,
    warn_idle_options,
)
from .models.mirrored import Mirrored
from .operators import Inpainting, LinearOperator, check_measured_from, check_operator
from .recommended import recommended_config
from .solvers import adaptive as _adaptive
from .solvers.csgm import (
    CSGM_PRESETS,
    check_discriminator_prior,
    csgm,
    csgm_sparse,
    settings_line,
)
from .solvers.gaussian import N_SAMPLES as GAUSSIAN_SAMPLES
from .solvers.gaussian import check_gaussian_options, gaussian
from .solvers.ilo import ILO_LAYERS, RADIUS_IS, ilo
from .solvers.ilo import LR as ILO_LR
from .solvers.ilo import RADIUS as ILO_RADIUS
from .solvers.ilo import STEPS as ILO_STEPS
from .solvers.inpainting import INPAINT_CONFIG, PRIORS, importance_weights, inpaint_operator
from .solvers.untrained import (
    UNTRAINED_STEPS,
    check_steps,
    deep_decoder,
    deep_decoder_network,
    deep_image_prior,
    dip_network,
)
from .status import image_status

#: LatentConfig fields: engine options a latent method takes as keywords.
LATENT_FIELDS = frozenset(f.name for f in dataclasses.fields(LatentConfig))
#: A tuned weight: a number, or (the latent engine) a dict of LatentConfig overrides.
Weight = float | Mapping[str, Any]
#: Default λ grid searched on validation images ([0, 1] image scale).
LASSO_LAMBDAS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class Flag:
    """A command-line flag of a method option (``ganinverse reconstruct`` / ``sweep``)."""

    flag: str
    type: Callable[[str], Any]
    help: str
    choices: tuple | None = None
    #: (predicate on the method's full options, what it needs in words): the option acts only
    #: where the predicate holds; a flag set where it does not would be ignored: refused. The
    #: words may be a function of the runs' options (a condition of several parts: the failing)
    acts_when: (
        tuple[Callable[[Mapping[str, Any]], bool], str | Callable[[Sequence[Mapping]], str]] | None
    ) = None
    #: how to make the option act where ``acts_when`` does not hold, in words ("set that": set
    #: the condition; gaussian's --gaussian-n-samples: "drop --gaussian-images"), or a function
    #: of the runs' options (a condition of several parts: the fixes of the failing ones only,
    #: ``_fix_all_of``); ``fix_for`` says it
    fix: str | Callable[[Sequence[Mapping]], str] = "set that"

    def fix_for(self, runs: Sequence[Mapping[str, Any]]) -> str:
        """``fix`` in words for ``runs`` (the full options of each run checked)."""
        return self.fix(runs) if callable(self.fix) else self.fix


@dataclass(frozen=True)
class Tuned:
    """The weight a method tunes per m on validation images (lowest MSE, never test images).

    ``key`` names the grid (methods with the same key share one grid, e.g. the three Lasso
    bases); ``option`` is the solver option it sets (``"config"``: the value is a dict of
    latent-engine overrides, or a number meaning λ_z); ``flag`` is the sweep's grid flag;
    ``grid`` the default candidates (empty: the option's fixed value, no search). ``warm_start``:
    solve the candidates from the largest down, each started at the previous result's
    ``coefficients`` (passed as ``init=``; Lasso's λ path). ``positive``: why a candidate must
    be > 0 (Lasso: λ = 0 is least squares), or "" where 0 is a candidate: one rule for every
    search (``choose_weight`` through ``Method.validate``, the sweep's grids).
    """

    key: str
    option: str
    flag: str
    help: str
    grid: tuple = ()
    warm_start: bool = False
    positive: str = ""

    def check_candidate(self, value: Weight) -> None:
        """A ValueError for a candidate this search cannot take (0 where ``positive``)."""
        if self.positive and not isinstance(value, Mapping) and value == 0:
            raise ValueError(f"a {self.key} candidate must be > 0: {self.positive}; drop 0")

    def apply(self, options: dict, value: Weight) -> dict:
        """``options`` with this weight set to ``value``."""
        if self.option == "config":
            overrides = dict(value) if isinstance(value, Mapping) else {"lambda_z": float(value)}
            return {**options, "config": options["config"].updated(**overrides)}
        if isinstance(value, Mapping):
            raise TypeError(f"the weight {self.key!r} is a number, got {value!r}")
        return {**options, self.option: value}


def is_search(grid: Sequence) -> bool:
    """Whether a weight grid is searched on validation images: two or more candidates. A grid
    of one candidate is that value, set without a search (no validation image is fitted), and
    an empty grid is the option's fixed value. The one rule the sweep, its flags (``--n-val``)
    and its memory checks share."""
    return len(grid) > 1


@dataclass(frozen=True)
class Method:
    """One reconstruction method.

    ``solve(G, operator, y, **options)`` returns a result with ``x_hat`` (B, C, H, W) in
    [-1, 1] (and ``seconds`` when it times itself). ``defaults`` are its options (a latent
    method has ``config``, a ``LatentConfig``; ``reconstruct`` adds the seed and ``image_ids``).
    ``flags``: option -> command-line flag. ``operators``: the operator classes it applies to
    (None: every one). ``starts_from``: a method whose result is passed as ``start=`` (its tuned
    weight is chosen first and its options are shared). ``check``: an early check of options
    against G and D. ``seeded``: a method that is not latent but draws random numbers (an
    untrained network's weights and input) is passed ``seed`` and ``image_ids``, as the latent
    engine is, to seed each image by its identity. ``check_options``: the solver's own checks of
    its options, cheap and without solving, run by ``validate`` before any work.
    """

    name: str
    solve: Callable[..., Any]
    summary: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    tuned: Tuned | None = None
    needs_generator: bool = True
    #: with ``needs_generator``: a predicate on the full options where the solver uses G only
    #: under some (gaussian: G's samples, not a samples file), what it needs in words beside
    #: it; elsewhere G would be unused, so it is neither passed nor loaded (``uses_generator``)
    generator_acts_when: tuple[Callable[[Mapping[str, Any]], bool], str] | None = None
    #: the solver takes a discriminator (``D=``); with ``discriminator_acts_when``, only where
    #: that predicate on its full options holds (csgm's prior: ``d_weight > 0``), what it needs
    #: in words beside it: elsewhere D would be unused, so it is neither passed nor loaded
    uses_discriminator: bool = False
    discriminator_acts_when: tuple[Callable[[Mapping[str, Any]], bool], str] | None = None
    operators: tuple[type, ...] | None = None
    starts_from: str | None = None
    flags: Mapping[str, Flag] = field(default_factory=dict)
    #: check(G, D, options): raise for options that cannot run with this G / D, before any work
    #: (the sweep calls it when it validates; the solver checks again when it runs)
    check: Callable[..., Any] | None = None
    #: True, or a predicate on the full options where it draws only under some (gaussian:
    #: G's samples, none with a samples file): see ``draws_at_random``
    seeded: bool | Callable[[Mapping[str, Any]], bool] = False
    #: the family of recommended settings in G's card (``ganinverse.recommended``) this latent
    #: method's search takes when the caller passes no ``config``; None: always its defaults
    recommended: str | None = None
    #: check_options(options, shape): raise ValueError/TypeError for options the solver would
    #: refuse, with the solver's own checks but cheaply (no solve: networks are built on the
    #: meta device); ``shape`` is the images' (C, H, W), None when not known yet (the checks
    #: that need it are skipped). ``validate`` runs it (and ``check`` with G). A check that
    #: takes them is also passed the keywords ``d`` (the measurements per image, where known:
    #: gaussian's memory grows with them), ``device`` (where the solve runs) and ``names``
    #: ({option: its name in the messages}: the CLI's flags), each only where known
    #: (``check_options_with``)
    check_options: Callable[..., Any] | None = None
    #: networks(options, shape) -> (build, what, fix): the network an untrained prior trains per
    #: image for images of ``shape``; ``validate`` builds it on the meta device (its own checks
    #: of channels and depth run) and checks that ``batch`` of them train within the memory
    #: (``models.cost.check_training_memory``)
    networks: Callable[..., tuple] | None = None
    #: {option: the operator classes it applies to, or (those classes, acts)}: set away from
    #: its default with another operator it is refused (iagan's ``blend`` blends into known
    #: pixels: Inpainting only); ``acts(value)``, where given, says whether a value does
    #: something (``blend=None`` is no blend as ``False`` is)
    option_operators: Mapping[str, Any] = field(default_factory=dict)
    #: {option: its one spelling}: ``spell(value)`` -> the canonical value (checked), which the
    #: sweep stores so that two spellings of one setting resume one folder (iagan's and yeh's
    #: ``blend``: ``"biharmonic"`` is ``"biharmonic:0.5"``, None is False)
    spellings: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    #: options that name a file whose contents the results depend on (gaussian's ``samples``):
    #: a sweep records each one's fingerprint and refuses a resume with the file rewritten
    file_options: tuple[str, ...] = ()
    #: {another method's option name: this method's option that sets the same}: an unknown
    #: option of that name is pointed to its own here (iagan's averaged Gaussian: gaussian's
    #: ``mirror_samples`` is iagan's ``gaussian_mirror``, not its ``mirror``)
    known_as: Mapping[str, str] = field(default_factory=dict)
    #: samples_drawn(full options) -> how many samples of G the solver draws for a Gaussian
    #: prior's moments (gaussian with G's samples; iagan's averaged Gaussian), None for none:
    #: a sweep draws them once before its units (``Method.draws_samples``)
    samples_drawn: Callable[[Mapping[str, Any]], int | None] | None = None

    def spelled(self, options: Mapping[str, Any]) -> dict:
        """``options`` with each option of ``spellings`` in its one spelling."""
        return {k: self.spellings[k](v) if k in self.spellings else v for k, v in options.items()}

    @property
    def latent(self) -> bool:
        """Whether the method runs the latent engine (it has a ``config`` option)."""
        return "config" in self.defaults

    def idle_options(
        self,
        options: Mapping[str, Any],
        *,
        noise_std: float | None = None,
        operator: LinearOperator | type | None = None,
        grid: Sequence[Weight] = (),
    ) -> set[str]:
        """The options (of ``options`` over the defaults) that change nothing in a run with
        them: those whose flag's ``acts_when`` holds under none of the runs (the options, or
        with ``grid`` each candidate of the tuned weight searched; an engine grid sets no
        option a flag's rule reads), the rules that need the operator's noise seeing
        ``noise_std`` (None: unknown, taken to act: iagan's ``discrepancy`` at σ = 0), and
        with ``operator`` (an operator or its class) those that apply to other operators
        only (``option_operators``: iagan's ``blend`` without Inpainting)."""
        full = {**self.defaults, **options}
        runs = self.runs(full, grid, noise_std)
        idle = set(idle_method_options(self, [k for k in full if k in self.flags], runs))
        if operator is not None:
            cls = operator if isinstance(operator, type) else type(operator)
            for option, scope in self.option_operators.items():
                classes, _ = _option_scope(scope)
                if option in full and not issubclass(cls, classes):
                    idle.add(option)
        return idle

    def runs(
        self, full: Mapping[str, Any], grid: Sequence[Weight] = (), noise_std: float | None = None
    ) -> list[dict]:
        """The full options of each run of a search of ``grid`` (each candidate of the tuned
        weight set in ``full``; no grid: ``full`` alone), with the operator's ``noise_std``
        where known (the ``Flag.acts_when`` rules that need it read it as an option)."""
        runs = [self.tuned.apply(full, v) for v in grid] if grid and self.tuned else [dict(full)]
        return runs if noise_std is None else [{**run, "noise_std": noise_std} for run in runs]

    def recorded(
        self,
        options: Mapping[str, Any],
        *,
        noise_std: float | None = None,
        operator: LinearOperator | type | None = None,
    ) -> tuple[dict, dict]:
        """What a run's summary records of its full ``options``: (the options without
        ``progress`` and those idle in the run, ``idle_options`` with the operator's
        ``noise_std`` and ``operator``: gaussian's ``n_samples`` with a samples file, iagan's
        ``discrepancy`` without noise, its ``blend`` without Inpainting; each file option's
        path in its one spelling), and {option: the SHA-256 of the file's bytes (16 hex
        digits, ``io.file_fingerprint``)} for each file option set."""
        from .io import file_fingerprint

        idle = self.idle_options(options, noise_std=noise_std, operator=operator)
        kept = {  # (progress: a display setting, as the sweep does not record it)
            k: v for k, v in self.spelled(options).items() if k != "progress" and k not in idle
        }
        files = {k: file_fingerprint(kept[k]) for k in self.file_options if kept.get(k)}
        return kept, files

    def draws_at_random(self, options: Mapping[str, Any] | None = None) -> bool:
        """Whether a seed changes what the method computes with ``options`` (given ones on its
        defaults; None: under some options): a latent search, or ``seeded`` (its predicate
        where it is one)."""
        if self.latent or not callable(self.seeded):
            return self.latent or bool(self.seeded)
        return options is None or bool(self.seeded({**self.defaults, **options}))

    def options(self, given: Mapping[str, Any] | None = None) -> dict:
        """The defaults with ``given`` on top; unknown options raise a TypeError."""
        given = dict(given or {})
        if "config" in given and not isinstance(given["config"], LatentConfig):
            raise TypeError(
                f"method {self.name!r}: config must be a LatentConfig (e.g. "
                f"get_method({self.name!r}).defaults['config'].updated(steps=...)), got "
                f"{type(given['config']).__name__}; or pass engine options as keywords"
            )
        if self.latent:  # engine options as keywords (steps=..., restarts=...), as in csgm()
            engine = {
                k: given.pop(k) for k in list(given) if k in LATENT_FIELDS - set(self.defaults)
            }
            if engine:
                given["config"] = configured(given.get("config"), self.defaults["config"], engine)
        unknown = set(given) - set(self.defaults)
        if unknown:
            known = sorted(set(self.defaults) | (LATENT_FIELDS if self.latent else set()))
            close = [  # (ILO_steps: ilo_steps; gaussian's mirror_samples: iagan's own)
                self.known_as.get(k) or closest_name(k, known)[0] for k in sorted(unknown)
            ]
            hint = "; did you mean " + ", ".join(c for c in close if c) + "?"
            raise TypeError(
                f"method {self.name!r} has no option(s) {', '.join(sorted(unknown))}"
                + (hint if any(close) else "")
                + f"; its options are {', '.join(sorted(self.defaults)) or 'none'}"
                + (" and the latent-engine keywords (LatentConfig fields)" if self.latent else "")
            )
        return {**self.defaults, **given}

    def validate(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        shape: Sequence[int] | None = None,
        G: nn.Module | None = None,
        D: nn.Module | None = None,
        grid: Sequence[Weight] = (),
        operator: LinearOperator | type | None = None,
        batch: int = 2,
        d: int | None = None,
        device: str | torch.device | None = None,
        flags: bool = False,
    ) -> dict:
        """``options`` over the defaults (``options()``) once the checks the solver runs on them
        passed, without solving (the CLI and the sweep call it before any work or file):
        ``check_options(options, shape)`` (``shape``: the images' (C, H, W); None skips what
        needs it; with ``d``, the measurements per image, by default an operator instance's,
        and ``device``, the checks that need them: gaussian's memory; ``flags``: the messages
        name the options by their flags, the CLI's words: ``check_options_with``), with
        ``shape`` the memory of the ``networks`` trained for ``batch`` images
        side by side (at least two, as ``fit_untrained``), with ``operator`` (an operator or
        its class) ``check_operator(operator, options)``, and, with G, ``check(G, D,
        options)``; then every candidate of ``grid`` (the tuned weight's values,
        ``Tuned.apply``) checked the same way.

        Raises the check's ValueError/TypeError (an unknown option: TypeError) with two
        attributes that say what to fix: ``option``, the option of ``options`` to blame (the
        one whose value the options, given in order, fail from on), ``"grid"`` for a candidate
        of ``grid`` (``candidate``: its value), or None when the options fail without any given
        one (e.g. a check that needs D); ``candidate`` is None unless ``option`` is "grid"
        (then ``index``: its place in ``grid``). The message is that of the options up to the
        one blamed (the others at their defaults), or, for an error marked ``joint`` (a bound
        of the options together: gaussian's memory), that of all the options given, with
        ``option`` None (its message names the options; fewer are not re-checked, which could
        read the file the bound refuses).
        """
        given = dict(options or {})
        shape = None if shape is None else tuple(shape)
        if d is None and isinstance(operator, LinearOperator):
            d = math.prod(operator.out_shape)  # (A's output per image, as the solvers hold it)
        words = {k: f.flag for k, f in self.flags.items()} if flags else None

        def own(full: dict) -> None:  # the options alone (and against the operator's kind)
            self.check_options_with(full, shape, d=d, device=device, names=words)
            if self.networks is not None and shape is not None:
                from .models.cost import check_training_memory

                check_training_memory(*self.networks(full, shape), copies=max(batch, 2))
            if operator is not None:
                self.check_operator(operator, full)

        def with_models(full: dict) -> None:  # the options against G and D
            if self.check is not None and G is not None:
                self.check(G, D if self.takes_discriminator(full) else None, full)

        def attempt(check: Callable, names: Sequence[str]) -> Exception | None:
            try:
                check(self.options({k: given[k] for k in names}))
            except (ValueError, TypeError) as err:
                return err
            return None

        names = list(given)
        for check in (own, with_models):  # an option's own fault before a missing D
            error = attempt(check, names)
            if error is None:
                continue
            if getattr(error, "joint", False):  # (a bound of the options together, said of
                # all those given; no re-check of fewer: it could read the file refused)
                error.option, error.candidate = None, None
                raise error
            blamed, k = None, len(names)
            while k > 0:  # the option from which on every prefix of the given ones fails
                before = attempt(check, names[: k - 1])
                if before is None:
                    blamed = names[k - 1]
                    break
                error, k = before, k - 1
            if blamed is None:
                error = attempt(check, names)
            error.option, error.candidate = blamed, None
            raise error
        full = self.options(given)
        if grid and self.tuned is None:
            raise ValueError(f"method {self.name!r} tunes no weight, so it takes no grid")
        for i, value in enumerate(grid):
            try:
                self.tuned.check_candidate(value)
                candidate = self.tuned.apply(full, value)
                own(candidate)
                with_models(candidate)
            except (ValueError, TypeError) as err:
                err.option, err.candidate, err.index = "grid", value, i
                raise
        return full

    def uses_generator(self, options: Mapping[str, Any] | None = None) -> bool:
        """Whether the solver uses G with ``options`` (given ones over its defaults):
        ``needs_generator`` and, if set, ``generator_acts_when``'s predicate."""
        if not self.needs_generator:
            return False
        acts = self.generator_acts_when
        return acts is None or bool(acts[0](self.options(options)))

    def check_options_with(
        self,
        options: Mapping[str, Any],
        shape: tuple | None,
        *,
        d: int | None = None,
        device: str | torch.device | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        """``check_options(options, shape)`` (none: nothing), passed each of ``d``,
        ``device`` and ``names`` that is known (not None) and that it takes (a keyword of its
        signature, or ``**kwargs``): a plug-in's check of (options, shape) alone runs as
        before."""
        if self.check_options is None:
            return
        takes = _keywords(self.check_options)
        context = {"d": d, "device": device, "names": names}
        self.check_options(
            options,
            shape,
            **{k: v for k, v in context.items() if v is not None and (k in takes or "**" in takes)},
        )

    def draws_samples(self, options: Mapping[str, Any] | None = None) -> int | None:
        """How many samples of G a solve with ``options`` (given ones over its defaults)
        draws for a Gaussian prior (``samples_drawn``), None where it draws none."""
        if self.samples_drawn is None:
            return None
        return self.samples_drawn(self.options(options))

    def takes_discriminator(self, options: Mapping[str, Any] | None = None) -> bool:
        """Whether the solver uses D with ``options`` (over the defaults): ``uses_discriminator``
        and, if set, ``discriminator_acts_when``'s predicate."""
        if not self.uses_discriminator:
            return False
        acts = self.discriminator_acts_when
        return acts is None or bool(acts[0](self.options(options)))

    def check_operator(
        self, operator: LinearOperator | type, options: Mapping[str, Any] | None = None
    ) -> None:
        """Raise a ValueError unless the method, and each of ``options`` set away from its
        default (``option_operators``), applies to ``operator`` (an operator or its class)."""
        cls = operator if isinstance(operator, type) else type(operator)
        if self.operators is not None and not issubclass(cls, self.operators):
            raise ValueError(
                f"method {self.name!r} applies to {_operators(self.operators)} only, got "
                f"{_operators((cls,), noun='')}; pick another method"
            )
        for option, scope in self.option_operators.items():
            classes, acts = _option_scope(scope)
            value = (options or {}).get(option, self.defaults.get(option))
            used = acts(value) if acts is not None else value != self.defaults.get(option)
            if used and not issubclass(cls, classes):
                raise ValueError(
                    f"{option}={value!r} applies to {_operators(classes)} only, got "
                    f"{_operators((cls,), noun='')}, method {self.name!r}; drop it"
                )


def _option_scope(scope: Any) -> tuple[tuple, Callable | None]:
    """An ``option_operators`` entry as (its operator classes, its ``acts`` or None)."""
    return scope if isinstance(scope[0], tuple) else (scope, None)


def _keywords(check: Callable) -> frozenset:
    """The keywords ``check`` takes ("**" where it takes any), from its signature."""
    import inspect

    try:
        params = inspect.signature(check).parameters.values()
    except (TypeError, ValueError):  # (a builtin without a signature: the two arguments)
        return frozenset()
    return frozenset("**" if p.kind is p.VAR_KEYWORD else p.name for p in params)


def _operators(classes, noun: str = " operators") -> str:
    """Operator classes by class and registered name (the API's class, the CLI's --operator
    and ``make_operator``'s name): "Inpainting operators ('inpainting')"."""
    names = [repr(c.name) for c in classes if getattr(c, "name", None)]
    spelled = ", ".join(c.__name__ for c in classes) + noun
    return f"{spelled} ({', '.join(names)})" if names else spelled


#: name -> record, in the order registered (the CLI lists them in this order).
METHODS: dict[str, Method] = {}


NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
FLAG = re.compile(r"--[a-z0-9][a-z0-9-]*")


def register_method(record: Method) -> Method:
    """Add a method; returns the record. A name may be registered once.

    Raises TypeError/ValueError, registering nothing, for a record that the CLI, the sweep or
    ``reconstruct`` could not use: a name that is not lower-case letters, digits and '-'; a
    ``solve`` or ``check`` that is not callable; ``defaults`` that is not a mapping; a ``tuned``
    that is not a ``Tuned`` or whose option is not in ``defaults``; a latent method's option
    named as a latent-engine keyword (``steps``, ``lr``: those mean the engine's for every
    latent method, e.g. ILO's own are ``ilo_steps``, ``ilo_lr``); ``operators`` that are not
    LinearOperator classes; a flag that is not ``--lower-case``, whose option is not in
    ``defaults``, or that another method uses for another option (or another weight's grid).
    """
    if not isinstance(record, Method):
        raise TypeError(f"register_method needs a Method record, got {type(record).__name__}")
    name = record.name
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(
            f"a method name is lower-case letters, digits and '-' (e.g. 'my-method'), got {name!r}"
        )
    if name in METHODS:
        raise ValueError(f"method {name!r} is already registered")
    if not callable(record.solve) or any(
        f is not None and not callable(f) for f in (record.check, record.check_options)
    ):
        raise TypeError(f"method {name!r}: solve (and check, check_options) must be callables")
    if not isinstance(record.defaults, Mapping):
        raise TypeError(f"method {name!r}: defaults must be a mapping of option -> value")
    shadowed = sorted((set(record.defaults) - {"config"}) & LATENT_FIELDS)
    if "config" in record.defaults and shadowed:  # (steps= must mean one thing everywhere)
        raise ValueError(
            f"method {name!r}: its option(s) {', '.join(shadowed)} take the name of the "
            "latent engine's keyword(s), which a latent method's callers pass for its search "
            f"(csgm's steps=...): name them for the method (e.g. {name.replace('-', '_')}_"
            f"{shadowed[0]})"
        )
    if record.starts_from is not None and record.starts_from not in METHODS:
        raise ValueError(
            f"method {name!r} starts from {record.starts_from!r}, which is not registered"
        )
    if record.operators is not None and not (
        isinstance(record.operators, tuple)
        and all(isinstance(c, type) and issubclass(c, LinearOperator) for c in record.operators)
    ):
        raise TypeError(f"method {name!r}: operators must be a tuple of LinearOperator classes")
    flags = {}  # flag -> (method, option) of the registered records
    for other in METHODS.values():
        flags.update({f.flag: (other.name, o) for o, f in other.flags.items()})
        if other.tuned is not None:
            flags[other.tuned.flag] = (other.name, f"grid {other.tuned.key}")
    tuned = record.tuned
    if tuned is not None:
        if not isinstance(tuned, Tuned):
            raise TypeError(f"method {name!r}: tuned must be a Tuned record or None")
        if tuned.option not in record.defaults:
            raise ValueError(
                f"method {name!r}: its tuned option {tuned.option!r} is not in defaults"
            )
        _check_flag(name, tuned.flag, f"grid {tuned.key}", flags)
    for option, flag in record.flags.items():
        if not isinstance(flag, Flag) or not callable(flag.type):
            raise TypeError(
                f"method {name!r}: flags[{option!r}] must be a Flag with a type callable"
            )
        if option not in record.defaults:
            raise ValueError(
                f"method {name!r}: the flag {flag.flag} sets {option!r}, not an option"
            )
        _check_flag(name, flag.flag, option, flags)
    METHODS[name] = record
    return record


def _check_flag(name: str, flag: str, meaning: str, flags: dict) -> None:
    if not isinstance(flag, str) or not FLAG.fullmatch(flag):
        raise ValueError(f"method {name!r}: a flag looks like --lower-case, got {flag!r}")
    if flag in flags and flags[flag][1] != meaning:
        owner, other = flags[flag]
        raise ValueError(
            f"method {name!r}: the flag {flag} already sets {other!r} of method {owner!r}; "
            "pick another flag"
        )


def get_method(name: str) -> Method:
    """The record of ``name``, else a ValueError listing the registered methods (a TypeError
    for a name that is no str)."""
    return METHODS[check_choice(name, "method", METHODS)]


def check_method(method: str) -> str:
    """Raise unless ``method`` is a registered method name."""
    return get_method(method).name


def default_config(record: Method, G: nn.Module, operator: LinearOperator) -> tuple[Any, str]:
    """The latent configuration ``record`` runs when the caller passes none, and where it comes
    from: the settings G's card recommends for this operator's m and noise level
    (:func:`ganinverse.recommended.recommended_config`, written by ``ganinverse tune``) when the
    method reads a card family and the card has it, else the method's defaults."""
    base = record.defaults["config"]
    if record.recommended is not None:
        found = recommended_config(G, operator, base, record.recommended)
        if found is not None:
            return found
    return base, f"the defaults of method {record.name!r} (G's card recommends none)"


def reconstruct_result(
    method: str,
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    *,
    D: nn.Module | None = None,
    seed: int = 0,
    image_ids: Sequence[int] | None = None,
    start: Any = None,
    _warn_idle: bool = True,
    **options: Any,
) -> Any:
    """The whole result of ``method`` (``x_hat`` on [-1, 1] and the solver's own fields).

    ``options`` are the method's options (``get_method(method).defaults``); a latent method's
    ``config`` is seeded with ``seed`` and its restarts with ``image_ids`` (the images'
    identities, see ``optimize_latent``). ``start``: the result of ``starts_from`` for the
    same problem (computed here when not given). ``D``: the discriminator, for methods that
    use one. Raises ValueError for a method that needs G without one, or that does not apply
    to ``operator``; TypeError for an unknown option.
    """
    record = get_method(method)
    check_operator(operator)  # a ganinverse operator (a deepinv physics: the adapter named)
    source = "the config passed" if "config" in options else ""
    given = {  # engine keywords; a name that is also the method's own option is its own
        k: v
        for k, v in options.items()
        if k in LatentConfig.__dataclass_fields__ and k not in record.defaults
    }
    if "config" not in options and G is not None and record.recommended is not None:
        config, source = default_config(record, G, operator)  # the caller's options on top
        rest = {k: v for k, v in options.items() if k not in given}
        options = {"config": config.overridden(**given), **rest}
    options_given = options
    options = record.options(options)
    if record.check_options is not None:  # the solver's own checks, before the start it needs
        record.check_options_with(  # (with d: gaussian's memory, iagan's averaged Gaussian's)
            options,
            tuple(operator.in_shape),
            d=math.prod(operator.out_shape),  # (A's output per image: masked pixels included)
            device=getattr(y, "device", None),
        )
    caller = _set_options(record, options_given)
    if _warn_idle:  # (False: a search checked them over all its candidates)
        _idle_warnings(record, caller, [options], "here")
    uses_G = record.uses_generator(options)
    only_with = record.generator_acts_when  # (gaussian: G's samples, not a samples file)
    if uses_G and G is None:
        raise ValueError(
            f"method {method!r} needs a generator (G)"
            + (f" when {api_words(record, only_with[1])}" if only_with else "")
        )
    if not uses_G and G is not None:
        why = f" (only when {api_words(record, only_with[1])})" if only_with else ""
        warnings.warn(
            f"method {method!r} uses no generator"
            + (f" with these options{why}" if why else "")
            + ": G changes nothing; pass G=None",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )
        G = None  # (neither checked against the operator nor passed)
    if record.latent:  # an engine keyword set to its default where it cannot act
        warn_idle_options(options["config"], given, defaults=False)
    record.check_operator(operator, options)
    if record.check is not None and G is not None:
        record.check(G, D if record.takes_discriminator(options) else None, options)
    extra: dict[str, Any] = {}
    if record.latent:
        options["config"] = options["config"].updated(seed=seed)
        extra["image_ids"] = image_ids
    elif record.seeded:
        extra.update(seed=seed, image_ids=image_ids)
    if record.takes_discriminator(options):
        extra["D"] = D
    elif D is not None and record.uses_discriminator:  # (e.g. csgm with d_weight = 0)
        warnings.warn(
            f"method {method!r} ignores D with these options: it uses a discriminator only with "
            f"{api_words(record, record.discriminator_acts_when[1])}; pass that or drop D",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )
    elif D is not None:  # (iagan, ilo, a Lasso, ...: D would be ignored in silence)
        warnings.warn(
            f"method {method!r} uses no discriminator: D changes nothing; pass D=None (the "
            "discriminator prior is csgm's d_weight)",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )
    if record.starts_from is not None:
        if start is None:
            parent = get_method(record.starts_from)
            shared = {k: v for k, v in options.items() if k in parent.defaults}
            start = reconstruct_result(
                parent.name,
                G,
                operator,
                y,
                D=extra.get("D"),
                seed=seed,
                image_ids=image_ids,
                **shared,
            )
            if "image_ids" in extra:  # (they seeded the restarts of the start just run)
                extra["image_ids"] = None
        extra["start"] = start
    elif start is not None:
        raise ValueError(f"method {method!r} starts from nothing: start must be None")
    solve_with = G  # (None where it changes nothing: warned above)
    mirror = bool(options.pop(MIRROR, False))
    prior_weight = float(options.pop(GAUSSIAN_WEIGHT, 0.0))
    prior_images = options.pop(GAUSSIAN_IMAGES, None)
    prior_mirror = bool(options.pop(GAUSSIAN_MIRROR, False))
    prior_n = options.pop(GAUSSIAN_N_SAMPLES, GAUSSIAN_SAMPLES)
    result = record.solve(solve_with, operator, y, **options, **extra)
    if mirror:  # the same problem with G's mirror image, its own start, the two x̂ averaged
        if image_ids is None and start is not None:  # (the ids that seeded the start given)
            image_ids = getattr(getattr(start, "start", start), "image_ids", None)
        with warnings.catch_warnings(record=True) as said:  # (said again as the mirror's)
            warnings.simplefilter("always")
            mirrored = reconstruct_result(
                method,
                Mirrored(G),
                operator,
                y,
                D=extra.get("D"),
                seed=seed,
                image_ids=image_ids,
                _warn_idle=False,
                **options,
            )
        for w in said:
            warnings.warn(
                f"(the run with G's mirror image, result.mirrored) {w.message}",
                w.category,
                stacklevel=user_stacklevel(),
            )
        result = averaged(result, mirrored, operator, y, weight=0.5, name="mirrored")
    if prior_weight > 0:  # (after the mirror: the Gaussian's x̂ is the same for both)
        prior = gaussian(
            G,
            operator,
            y,
            n_samples=prior_n,
            samples=prior_images,
            mirror=prior_mirror,
            seed=seed,
            progress=bool(getattr(options.get("config"), "progress", False)),  # (the engine's)
        )
        result = averaged(result, prior, operator, y, weight=prior_weight, name="gaussian")
    if source and isinstance(result, LatentResult):
        result.settings = settings_line(source, given)
    inner = getattr(result, "start", None)  # a start the solver ran on the config given it
    if source and isinstance(inner, LatentResult) and inner.settings.startswith("the config"):
        inner.settings = settings_line(source, given)  # (ilo: the card's, not "passed")
    return result


#: The option of a method record that averages its x̂ with that of G's mirror image
#: (``models.Mirrored``): a record opts in by listing it in its defaults (iagan's ``mirror``);
#: ``reconstruct_result`` runs the method twice, the solver never sees the option.
MIRROR = "mirror"
#: The options of a method record that average its x̂ with the Gaussian prior's posterior mean
#: (``solvers.gaussian``), x̂ = (1 − w) x̂ + w x̂_gaussian, w = ``gaussian_weight`` (0: none),
#: the Gaussian's moments from G's samples or from the images of ``gaussian_images``; a record
#: opts in by listing both in its defaults (iagan's), ``reconstruct_result`` runs it.
GAUSSIAN_WEIGHT = "gaussian_weight"
GAUSSIAN_IMAGES = "gaussian_images"
#: ... and its samples with their mirror images (``solvers.gaussian``'s ``mirror``), and the
#: number of G's samples (``n_samples``)
GAUSSIAN_MIRROR = "gaussian_mirror"
GAUSSIAN_N_SAMPLES = "gaussian_n_samples"
#: gaussian's options -> iagan's averaged Gaussian's names for them
GAUSSIAN_AS_IAGAN = {
    "n_samples": GAUSSIAN_N_SAMPLES,
    "samples": GAUSSIAN_IMAGES,
    "mirror_samples": GAUSSIAN_MIRROR,
}


def averaged(
    result: Any, other: Any, operator: LinearOperator, y: Tensor, *, weight: float, name: str
) -> Any:
    """``result`` with x̂ = (1 − weight)·x̂ + weight·x̂_other, two reconstructions of one
    problem (y (B, *out_shape) -> x̂ (B, C, H, W)) averaged, its data misfit recomputed, the
    seconds of both and ``other`` as the field ``name`` (``mirrored``: G's mirror image's own
    result, its statuses included in ``result.status``; ``gaussian``). Back-projection and
    blending act on each x̂ before the average: the average of two back-projected x̂ meets
    A x = y as each does, that of two blends keeps the measured pixels as each does."""
    x_hat = (1 - weight) * result.x_hat + weight * other.x_hat
    with torch.no_grad():
        rows = torch.arange(len(y), device=y.device)
        data = operator.data_misfit(y, operator.A_rows(x_hat, rows), rows)
    return dataclasses.replace(
        result,
        x_hat=x_hat,
        data_loss=data,
        seconds=result.seconds + other.seconds,
        **{name: other},
    )


def _set_options(record: Method, options: Mapping[str, Any]) -> set[str]:
    """The options of ``record``'s flags set away from their defaults (a search passes every
    option, its defaults included)."""

    def differs(value: Any, default: Any) -> bool:
        try:
            return bool(value != default)
        except (TypeError, RuntimeError):  # (e.g. a tensor of several values: checked later)
            return True

    return {
        k for k, v in options.items() if k in record.flags and differs(v, record.defaults.get(k))
    }


def idle_method_options(
    record: Method, given: Iterable[str], runs: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """{option: what it needs to act} for each option in ``given`` whose flag's ``acts_when``
    (``Flag.acts_when``) holds under none of ``runs`` (the full options of each run: one, or a
    search's candidates). The API warns about each (``reconstruct_result``, ``choose_weight``);
    the CLI refuses the flag (``cli._common.validate_methods``)."""
    idle: dict[str, str] = {}
    for name in sorted(given):
        flag = record.flags.get(name)
        if flag is None or flag.acts_when is None:
            continue
        acts, needs = flag.acts_when
        if not any(acts(options) for options in runs):
            idle[name] = needs(runs) if callable(needs) else needs
    return idle


def _warn_idle_seed(record: Method, seed: object, options: Mapping[str, Any]) -> None:
    """An IdleOptionWarning for a seed other than 0 given to a method that draws nothing at
    random with ``options`` (``Method.draws_at_random``: a Lasso, a fixed inpainting
    baseline, gaussian with a samples file)."""
    if seed != 0 and not record.draws_at_random(options):
        warnings.warn(
            f"method {record.name!r} draws nothing at random"
            + (" with these options" if callable(record.seeded) else "")
            + f": seed={seed!r} changes nothing; drop it",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )


def api_words(record: Method, text: str) -> str:
    """``text`` with the record's flags (and --noise-std) as the API's option names
    ("--d-weight > 0" -> "d_weight > 0"): a rule's words said to an API caller."""
    by_flag = {f.flag: name for name, f in record.flags.items()}
    for flag, option in {**by_flag, "--noise-std": "noise_std"}.items():
        text = re.sub(rf"{re.escape(flag)}(?![\w-])", option, text)
    return text


def _idle_warnings(
    record: Method,
    given: Iterable[str],
    runs: Sequence[Mapping],
    where: str,
    *,
    solver_warns: bool = True,
):
    """``idle_method_options`` as IdleOptionWarnings, the needed flag named by its option.
    ``solver_warns``: the options whose solver warns itself (``SOLVER_WARNS``) are left to it;
    False warns of them too (a sweep spec, before any file: the solver runs later)."""
    for name, needs in idle_method_options(record, given, runs).items():
        rule = record.flags[name].acts_when
        if solver_warns and any(rule is solver_rule for solver_rule in SOLVER_WARNS):
            continue  # (those solvers warn themselves)
        needs, fix = api_words(record, needs), api_words(record, record.flags[name].fix_for(runs))
        warnings.warn(
            f"method {record.name!r}: {name}={runs[0][name]!r} changes nothing {where}: it "
            f"acts only when {needs}; drop it or {fix}",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )


def reconstruct(
    method: str, G: nn.Module | None, operator: LinearOperator, y: Tensor, **kwargs: Any
) -> Tensor:
    """x̂ (B, C, H, W) on the library's [-1, 1] scale: ``reconstruct_result(...).x_hat``.

    Only the image: the per-image ``status`` ("ok", ``not_improved``, ``not_converged``, ...),
    the loss and the solver's other fields are on :func:`reconstruct_result`'s result, which
    takes the same arguments. A solve that did not stand by an image still warns here
    (``ConvergenceWarning``). A seed other than 0 for a method that draws nothing at random
    warns (``IdleOptionWarning``; the operator, built before, holds its own draws)."""
    options = {k: v for k, v in kwargs.items() if k not in ("seed", "D", "image_ids", "start")}
    _warn_idle_seed(get_method(method), kwargs.get("seed", 0), options)
    return reconstruct_result(method, G, operator, y, **kwargs).x_hat


def choose_weight(
    method: str,
    G: nn.Module | None,
    operator: LinearOperator,
    x_val: Tensor,
    y_val: Tensor,
    values: Sequence[Weight],
    options: Mapping[str, Any] | None = None,
    seed: int = 0,
    *,
    image_ids: Sequence[int] | None = None,
    D: nn.Module | None = None,
    return_status: bool = False,
) -> tuple[Weight, list[tuple[Weight, float]]] | tuple[Weight, list, list[dict[str, int]]]:
    """The weight with the lowest per-pixel MSE on validation images (never test images).

    The weight is the method's ``Tuned`` option (csgm's λ_z or engine overrides, the ℓ1 weight
    of csgm-sparse's deviation, Lasso's λ). Returns (best value, [(value, validation MSE on
    [0, 1])]); a candidate whose reconstruction is not finite scores NaN and never wins.

    ``ConvergenceWarning``s of the candidates are collected, and those of the chosen one are
    raised again once the search ends: a candidate that loses is not a result, but the chosen
    weight's solves must be trusted (e.g. a tiny λ whose Lasso stopped on max_iter). A method
    that starts from another (csgm-sparse) runs that one once for all candidates; Lasso walks
    the λ path from the largest λ down, each solve warm-started at the previous solution
    (several times faster; every solve is still certified by its duality gap).
    With ``return_status`` a third item gives, per candidate (in ``values``' order), how many
    validation images its solver did not stand by, by reason (``result.status``, e.g.
    ``{"not_improved": 2}``; ``{}``: every image "ok").

    x_val (B, C, H, W) on [-1, 1] and y_val (B, *operator.out_shape) must be image i and its
    measurements, in order: y_val farther from A x_val than the operator's noise allows
    (``operators.MISFIT_SIGMAS`` σ per measurement, RMS) is a ValueError before any solve (x_val on
    [0, 1], or y_val of other images or in another order, would score each candidate against
    the wrong images).
    """
    record = get_method(method)
    if record.tuned is None:
        raise ValueError(f"method {method!r} tunes no weight")
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(
            f"values must be a sequence of candidate weights (e.g. [0.1, 0.01]), got "
            f"{type(values).__name__} {values!r}"
        )
    if not values:
        raise ValueError("values must hold at least one candidate weight")
    for value in values:  # (a bool is an int to Python: True would run as weight 1)
        if isinstance(value, bool):
            raise TypeError(
                f"values holds {value!r}, a bool, not a candidate weight: pass numbers (or "
                "engine settings for csgm), e.g. [0.1, 0.01]"
            )
    check_distinct(values, "values", what="candidate weight")
    check_int(seed, "seed", low=0)  # (checked whatever the method: not only where it draws)
    check_operator(operator)
    x_val = operator.check_images(x_val, "x_val")
    y_val = operator.check_measurements(y_val, "y_val")
    if len(x_val) != len(y_val):
        raise ValueError(
            f"x_val holds {len(x_val)} images but y_val {len(y_val)} measurement vectors: "
            "y_val must be the measurements of x_val, one per image (operator.measure(x_val))"
        )
    check_measured_from(operator, x_val, y_val, "x_val", "y_val")
    check_image_ids(image_ids, len(x_val))
    given_options = _set_options(record, options or {})
    try:  # each candidate by the solver's own checks, before any work (named by its place)
        record.validate(options, grid=tuple(values), operator=operator)
    except (ValueError, TypeError) as err:
        if getattr(err, "option", None) != "grid":
            raise
        raise type(err)(f"values[{err.index}] ({err.candidate!r}): {err}") from None
    options = record.options(options)
    runs = [record.tuned.apply(options, v) for v in values]
    _idle_warnings(record, given_options, runs, "under any candidate")
    return _choose(
        record,
        method,
        G,
        operator,
        x_val,
        y_val,
        values,
        options,
        seed,
        image_ids,
        D,
        return_status,
    )


def _choose(
    record, method, G, operator, x_val, y_val, values, options, seed, image_ids, D, return_status
):
    """``choose_weight``'s search, its options checked."""
    common = {"D": D, "seed": seed, "image_ids": image_ids}
    start = None
    if record.starts_from is not None:  # the weight changes only the refinement: one start
        parent = get_method(record.starts_from)
        shared = {k: v for k, v in options.items() if k in parent.defaults}
        start = reconstruct_result(
            parent.name, G, operator, y_val, _warn_idle=False, **common, **shared
        )
    given = {"image_ids": None} if start is not None else {}  # (start holds their restarts)
    order: Sequence[int] = range(len(values))
    warm = record.tuned.warm_start
    if warm:  # largest first: each solution warm-starts the next
        order = sorted(order, key=lambda i: -float(values[i]))
    scores: list = [None] * len(values)
    flags: list[dict[str, int]] = [{} for _ in values]
    caught: list = [[] for _ in values]
    idle: list[dict] = []  # per candidate run: {text: warning} of the solver's IdleOptionWarnings
    previous = None
    for i in order:
        tuned = record.tuned.apply(options, values[i])
        if warm and previous is not None:
            tuned["init"] = previous.coefficients
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ConvergenceWarning)
            result = reconstruct_result(
                method,
                G,
                operator,
                y_val,
                start=start,
                _warn_idle=False,
                **{**common, **given},
                **tuned,
            )
        previous = result
        idle.append({str(w.message): w for w in seen if issubclass(w.category, IdleOptionWarning)})
        for w in seen:  # other warnings pass through untouched
            if not issubclass(w.category, (ConvergenceWarning, IdleOptionWarning)):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        caught[i] = [w for w in seen if issubclass(w.category, ConvergenceWarning)]
        for reasons in getattr(result, "status", ()):
            for reason in reasons.split("+"):
                if reason != "ok":
                    flags[i][reason] = flags[i].get(reason, 0) + 1
        x_hat = result.x_hat
        finite = bool(torch.isfinite(x_hat).all())  # a diverged candidate scores NaN
        scores[i] = (values[i], float(metrics.mse(x_hat, x_val).mean()) if finite else math.nan)
    # a solver's idle option, once, where it is idle under every candidate (lr_theta is not
    # idle in a search of adapt_steps over 0 and 5: the candidate 5 uses it)
    for text, w in (idle[0] if idle else {}).items():
        if all(text in d for d in idle):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    best = min(range(len(scores)), key=lambda i: (not math.isfinite(scores[i][1]), scores[i][1]))
    warn_grid_edge(f"choose_weight({method})", scores, best)
    for w in caught[best]:
        warnings.warn(
            f"choose_weight({method}): the chosen weight {scores[best][0]!r} on the validation "
            f"images: {w.message}",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    if return_status:
        return scores[best][0], scores, flags
    return scores[best][0], scores


# -- the checks of the bundled methods' options (``Method.check_options``) ---------------------
def _on_meta(build: Callable[[], Any]) -> Any:
    """``build()`` on the meta device: a network's or a frame's own checks of its options
    (channels, depth, levels against the image size) without allocating its weights."""
    with torch.device("meta"):
        return build()


def _check_basis(basis: Any, shape: tuple | None) -> None:
    """A basis name that ``bases.make_basis`` builds for images of ``shape`` (a Basis passes)."""
    from .bases import Dictionary

    if shape is None or isinstance(basis, Dictionary):
        return
    if not isinstance(basis, str):
        raise TypeError(f"basis must be a basis name or a Basis, got {type(basis).__name__}")
    _basis_builds(basis, shape)


@functools.lru_cache(maxsize=32)
def _basis_builds(name: str, shape: tuple) -> bool:
    """make_basis(name, shape) succeeds (cached: grid candidates check one basis many times)."""
    from .bases import make_basis

    make_basis(name, shape)
    return True


# -- the bundled methods ---------------------------------------------------------------------
@dataclass
class LassoResult:
    """A Lasso method's result: x̂ (B, C, H, W) on [-1, 1], the coefficients c on the [0, 1]
    scale (B, C, H, W), the solver's per-image fields (``baselines.SparseResult``) and
    ``seconds`` (wall time of the whole batch)."""

    x_hat: Tensor
    coefficients: Tensor
    solver: baselines.SparseResult
    seconds: float

    @property
    def status(self) -> list[str]:
        """Per image: the solver's (``ganinverse.status``)."""
        return self.solver.status


def lasso(
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    *,
    basis: str = "dct",
    lam: float = 0.03,
    solver: str = "fista",
    init: Tensor | None = None,
) -> LassoResult:
    """min_c ½||y₀ − A Ψᵀc||² + λ||c||₁ on the [0, 1] image scale (y₀ = (y + A1)/2), x̂ = 2Ψᵀĉ − 1
    (``baselines.lasso``: GaussianCS's stored matrix, matrix-free A and Aᵀ for other operators,
    one mask per image for per-image masks).

    ``solver``: "fista" (``baselines.lasso_fista``, certified by its duality gap) or "sklearn"
    (coordinate descent on ``operator.dense()``); ``init``: coefficients (B, C, H, W) that
    warm-start FISTA along a λ path (``choose_weight``; scikit-learn solves cold).
    Shapes: y (B, *operator.out_shape) -> x̂ (B, C, H, W).
    """
    start = time.perf_counter()
    warm = {"init": init} if init is not None and solver == "fista" else {}
    res = baselines.lasso(operator, y, basis, lam, solver=solver, **warm)
    return LassoResult(res.x_hat, res.coefficients, res, time.perf_counter() - start)


def _check_lasso_options(options: Mapping[str, Any], shape: tuple | None) -> None:
    """``baselines.lasso``'s checks of λ, the solver and the basis."""
    baselines._check_lam(options["lam"])
    baselines._check_solver(options["solver"])
    _check_basis(options["basis"], shape)


def _csgm(G, operator, y, *, config, d_weight, d_prior, D=None, image_ids=None):
    prior = {"D": D, "d_weight": d_weight, "d_prior": d_prior}
    return csgm(G, operator, y, config, **prior, image_ids=image_ids)


def _csgm_sparse(
    G, operator, y, *, config, basis, l1, d_weight, d_prior, start, D=None, image_ids=None
):
    # the D-prior options are csgm's, shared so that the start (csgm's result, computed by the
    # registry with them) is the CSGM this refines; here they only enter the reported loss
    prior = {"D": D, "d_weight": d_weight, "d_prior": d_prior}
    return csgm_sparse(G, operator, y, basis, l1, config, start=start, **prior, image_ids=image_ids)


def _check_d_prior(G, D, options):
    check_discriminator_prior(G, D, options["d_weight"], options["d_prior"])


def _check_csgm_options(options: Mapping[str, Any], shape: tuple | None) -> None:
    """``check_discriminator_prior``'s checks of γ and the prior's form (those that need G and
    D run in ``check``)."""
    check_weight(options["d_weight"], "d_weight")
    check_choice(options["d_prior"], "d_prior", PRIORS)


def _check_sparse_options(options: Mapping[str, Any], shape: tuple | None) -> None:
    """csgm-sparse's: CSGM's, the ℓ1 weight μ ≥ 0 and the deviation's basis."""
    _check_csgm_options(options, shape)
    check_weight(options["l1"], "l1")
    _check_basis(options["basis"], shape)


ENGINE = Tuned(
    key="engine",
    option="config",
    flag="--engine-grid",
    help="engine candidates for every latent method, ';'-separated, each KEY=VALUE,...: e.g. "
    "'lambda_z=0.3,steps=300;lambda_z=0.001,steps=1000'; prune fractions '/'-separated: "
    "'prune_at=0.1/0.3' ('prune_at=none': no pruning); words as typed: 'init=uniform;"
    "init=normal' (default: the fixed engine options)",
)
SPARSE_BASIS = Flag("--sparse-basis", str, "basis of the sparse deviation ν (dct, wavelet, pixel)")
#: CSGM's discriminator prior γ · prior(D(G(z))) (Bora et al. 2017): off (γ = 0) by default.
#: γ is a fixed option, not searched: csgm's tuned weight is the engine (λ_z, steps, ...).
D_PRIOR = {"d_weight": 0.0, "d_prior": "nonsat"}
#: the prior (and so D) acts only with γ > 0
D_PRIOR_ACTS = (lambda options: options["d_weight"] > 0, "--d-weight > 0")


def _acts_all_of(parts: Mapping[str, Callable[[Mapping[str, Any]], bool]]) -> tuple:
    """A ``Flag.acts_when`` of several parts ({words: predicate}) that must all hold; its
    words name only the parts no run meets (not --noise-std when it is set)."""
    return (
        lambda options: all(part(options) for part in parts.values()),
        lambda runs: " and ".join(
            [text for text, part in parts.items() if not any(part(o) for o in runs)] or parts
        ),
    )


def _fix_all_of(parts: Mapping[str, tuple[Callable[[Mapping[str, Any]], bool], str]]) -> Callable:
    """The ``Flag.fix`` of an ``_acts_all_of`` rule of the same parts ({words: (predicate,
    fix)}): the fixes of the parts no run meets, joined by "and" (every fix where each part is
    met by some run, but not all by one)."""
    return lambda runs: " and ".join(
        [fix for part, fix in parts.values() if not any(part(o) for o in runs)]
        or [fix for _, fix in parts.values()]
    )


#: ILO's radius and lr act only when it takes steps; iagan's lrs and stopping rule only when it
#: fine-tunes (its step cap > 0)
ILO_STEPS_ACT = (lambda options: options["ilo_steps"] > 0, "--ilo-steps > 0")
#: ILO's steps move h only within a radius > 0 (radius 0: h stays h₀, x̂ is CSGM's); its lr
#: needs both
ILO_RADIUS_ACT = (lambda options: options["radius"] > 0, "--ilo-radius > 0")
ILO_LR_ACT = _acts_all_of({words: when for when, words in (ILO_STEPS_ACT, ILO_RADIUS_ACT)})
IAGAN_ADAPTS = (lambda options: options["adapt_steps"] > 0, "--iagan-steps > 0")
#: iagan's discrepancy stop compares the misfit with τσ²: it needs steps and the operator's noise
#: (``noise_std`` in the options checked: the CLI's --noise-std; unknown: taken to act)
IAGAN_GAUSSIAN = (lambda options: options["gaussian_weight"] > 0, "--iagan-gaussian-weight > 0")
#: ... and draws G's samples (no file of images): {words: (predicate, the fix)}
IAGAN_GAUSSIAN_SAMPLED_PARTS = {
    IAGAN_GAUSSIAN[1]: (IAGAN_GAUSSIAN[0], "set --iagan-gaussian-weight > 0"),
    "G's samples are drawn (no --iagan-gaussian-images)": (
        lambda options: options["gaussian_images"] is None,
        "drop --iagan-gaussian-images",
    ),
}
IAGAN_GAUSSIAN_SAMPLED = _acts_all_of(
    {words: when for words, (when, _) in IAGAN_GAUSSIAN_SAMPLED_PARTS.items()}
)
IAGAN_STOPS = _acts_all_of(
    {
        "--iagan-steps > 0": IAGAN_ADAPTS[0],
        "--noise-std > 0": lambda options: options.get("noise_std", 1.0) > 0,
    }
)
D_PRIOR_FLAGS = {
    "d_weight": Flag(
        "--d-weight",
        float,
        "γ of CSGM's discriminator prior γ·(−log σ(D(G(z)))) (csgm, csgm-sparse; needs "
        "--discriminator; default 0: off)",
    ),
    "d_prior": Flag(
        "--d-prior",
        str,
        f"form of CSGM's discriminator prior: {', '.join(PRIORS)} (nonsat = −log σ(l), "
        "wgan = −l for a WGAN critic)",
        acts_when=D_PRIOR_ACTS,
    ),
}

register_method(
    Method(
        "csgm",
        _csgm,
        "CSGM: min_z (1/m)||y − A G(z)||² + λ_z||z||² [+ γ·(−log D(G(z)))] over restarts "
        "(Bora et al. 2017)",
        defaults={"config": CSGM_PRESETS["mnist"], **D_PRIOR},
        tuned=ENGINE,
        uses_discriminator=True,
        discriminator_acts_when=D_PRIOR_ACTS,
        flags=D_PRIOR_FLAGS,
        check=_check_d_prior,
        recommended="csgm",
        check_options=_check_csgm_options,
    )
)
register_method(
    Method(
        "csgm-sparse",
        _csgm_sparse,
        "CSGM + a sparse deviation Ψᵀν solved exactly by FISTA on CSGM's ẑ (Dhar et al. 2018)",
        defaults={"config": CSGM_PRESETS["mnist"], "basis": "dct", "l1": 0.01, **D_PRIOR},
        tuned=Tuned(
            key="sparse_l1",
            option="l1",
            flag="--sparse-l1-grid",
            help="ℓ1 candidates μ for csgm-sparse's deviation (default: --sparse-l1)",
        ),
        uses_discriminator=True,
        discriminator_acts_when=D_PRIOR_ACTS,
        starts_from="csgm",
        recommended="csgm",
        check=_check_d_prior,
        flags={
            "basis": SPARSE_BASIS,
            "l1": Flag("--sparse-l1", float, "ℓ1 weight μ of the sparse deviation"),
            **D_PRIOR_FLAGS,
        },
        check_options=_check_sparse_options,
    )
)
LASSO = Tuned(
    key="lam",
    option="lam",
    flag="--lasso-lambdas",
    help=f"λ candidates for Lasso ([0, 1] image scale; default: {','.join(map(str, LASSO_LAMBDAS))})",
    grid=LASSO_LAMBDAS,
    warm_start=True,
    positive=baselines.LASSO_POSITIVE,
)
for _name, _basis in (("lasso", "pixel"), ("lasso-dct", "dct"), ("lasso-wavelet", "wavelet")):
    register_method(
        Method(
            _name,
            lasso,
            f"Lasso in the {_basis} basis, min_c ½||y₀ − AΨᵀc||² + λ||c||₁ on [0, 1] images",
            defaults={"basis": _basis, "lam": 0.03, "solver": "fista", "init": None},
            tuned=LASSO,
            needs_generator=False,
            flags={"lam": Flag("--lam", float, "Lasso's λ ([0, 1] image scale)")},
            check_options=_check_lasso_options,
        )
    )


#: Yeh et al.'s prior term (and so D and its form) acts only with a positive weight
YEH_PRIOR_ACTS = (lambda options: options["prior_weight"] > 0, "--prior-weight > 0")


def _check_yeh_prior(G, D, options):
    """Yeh et al.'s prior term needs D: without one it would be dropped silently."""
    if D is None and options["prior_weight"] > 0:
        raise ValueError(
            f"yeh's prior term (prior_weight={options['prior_weight']:g}) needs a discriminator: "
            "pass D= (--discriminator, e.g. the generator's own), or prior_weight=0 "
            "(--prior-weight 0) for the context loss only"
        )


def _check_yeh_options(options: Mapping[str, Any], shape: tuple | None) -> None:
    """Yeh et al.'s: the prior's weight and form, and the window of the importance weights
    (``importance_weights``' own check, on a one-pixel mask)."""
    check_weight(options["prior_weight"], "prior_weight")
    check_choice(options["prior"], "prior", PRIORS)
    blend_spec(options["blend"])
    importance_weights(torch.ones(1, 1, 1, 1), options["window"])


register_method(
    Method(
        "yeh",
        inpaint_operator,
        "semantic inpainting: weighted context loss + discriminator prior, Poisson-blended "
        "(Yeh et al. 2017)",
        defaults={
            "config": INPAINT_CONFIG,
            "prior_weight": 0.003,
            "prior": "log1m",
            "window": 7,
            "blend": True,
        },
        uses_discriminator=True,
        discriminator_acts_when=YEH_PRIOR_ACTS,
        operators=(Inpainting,),
        check=_check_yeh_prior,
        check_options=_check_yeh_options,
        spellings={"blend": blend_value},
        flags={
            "prior_weight": Flag("--prior-weight", float, "λ of the discriminator prior (yeh)"),
            "prior": Flag(
                "--prior",
                str,
                "form of the prior term (yeh)",
                choices=PRIORS,
                acts_when=YEH_PRIOR_ACTS,
            ),
            "window": Flag("--window", int, "window of the importance weights (yeh)"),
            "blend": Flag(
                "--yeh-blend",
                blend_option,
                "yeh's completion blended into the known pixels: true (= poisson, the paper's), "
                "poisson[:α], biharmonic[:α] or false / none (as --iagan-blend)",
            ),
        },
    )
)


# -- ilo: intermediate layer optimisation (Daras et al. 2021) --------------------------------


def _ilo(G, operator, y, *, config, layer, radius, ilo_steps, ilo_lr, start, image_ids=None):
    with warnings.catch_warnings():  # its idle radius / lr: warned in the method's words
        warnings.simplefilter("ignore", SolverIdleOptionWarning)
        return ilo(
            G,
            operator,
            y,
            layer,
            radius,
            config,
            start=start,
            steps=ilo_steps,
            lr=ilo_lr,
            image_ids=image_ids,
        )


def _check_ilo_options(options: Mapping[str, Any], shape: tuple | None) -> None:
    """``ilo``'s checks of the radius, steps and learning rate (the layer, which needs G, is
    checked by ``_check_ilo_layer``)."""
    check_weight(options["radius"], "radius", what=RADIUS_IS)
    check_count(options["ilo_steps"], "ilo_steps", "steps", low=0)
    check_learning_rate(options["ilo_lr"], "ilo_lr")


def _check_ilo_layer(G, D, options):
    """The layer is one of G's split points (``models.layers.check_layer``, as ``ilo``)."""
    from .models.layers import check_layer

    check_layer(G, options["layer"])


register_method(
    Method(
        "ilo",
        _ilo,
        "ILO: from CSGM's ẑ, min_h (1/m)||y − A G_after(h)||² over layer k's features h in an "
        "ℓ1 ball around G_before(ẑ) (Daras et al. 2021)",
        defaults={
            "config": CSGM_PRESETS["mnist"],
            "layer": 1,
            "radius": ILO_RADIUS,  # (the solver's own defaults, named for the method)
            "ilo_steps": ILO_STEPS,
            "ilo_lr": ILO_LR,
        },
        tuned=Tuned(
            key="ilo_layer",
            option="layer",
            flag="--ilo-layer-grid",
            help="layers k (hidden block indices of G) searched for ilo's split "
            f"(default: {','.join(map(str, ILO_LAYERS))})",
            grid=ILO_LAYERS,
        ),
        starts_from="csgm",
        recommended="csgm",
        check=_check_ilo_layer,
        check_options=_check_ilo_options,
        flags={
            "layer": Flag("--ilo-layer", int, "ilo's layer k: G is split after hidden block k"),
            "radius": Flag(
                "--ilo-radius",
                float,
                "ilo's ℓ1 radius per feature: ||h − h₀||₁ ≤ r·(entries)",
                acts_when=ILO_STEPS_ACT,
            ),
            "ilo_steps": Flag(
                "--ilo-steps", int, "ilo's projected Adam steps on h", acts_when=ILO_RADIUS_ACT
            ),
            "ilo_lr": Flag(
                "--ilo-lr", float, "ilo's Adam learning rate on h", acts_when=ILO_LR_ACT
            ),
        },
    )
)

# -- iagan: the image-adaptive GAN (appended block) -------------------------------------------


def _boolean(text: str) -> bool:
    """``true/yes/on/1`` -> True, ``false/no/off/0`` -> False (a command-line bool)."""
    value = {"true": True, "yes": True, "on": True, "1": True}.get(text.strip().lower())
    if value is None and text.strip().lower() not in ("false", "no", "off", "0"):
        raise ValueError(f"expected true or false, got {text!r}")
    return bool(value)


def _absolute_path(value: Any) -> Any:
    """A file option's one spelling: its absolute path (a resume from another folder, or the
    same file named otherwise, is the same setting); None and non-paths as they are (checked
    by the record's ``check_options``)."""
    from pathlib import Path

    return str(Path(value).resolve()) if isinstance(value, str) and value.strip() else value


def _check_iagan_options(
    options: Mapping[str, Any],
    shape: tuple | None,
    *,
    d: int = 0,
    device: str | torch.device = "cpu",
    names: Mapping[str, str] | None = None,
) -> None:
    """``iagan``'s checks of its options (``solvers.adaptive``); with a Gaussian to average,
    its options' (``check_gaussian_options``: with ``d`` measurements per image, the solve
    within ``device``'s memory). ``names``: {option: its name in the messages} (the CLI's
    flags; the API's option names where absent)."""
    _adaptive._check_options(
        options["lr_theta"],
        options["lr_z"],
        options["adapt_steps"],
        options["discrepancy"],
        options["back_projection"],
        options["chunk"],
        options["tv_weight"],
    )
    blend_spec(options["blend"])
    check_bool(options[MIRROR], MIRROR)
    check_bool(options[GAUSSIAN_MIRROR], GAUSSIAN_MIRROR)
    weight = check_number(options[GAUSSIAN_WEIGHT], GAUSSIAN_WEIGHT, low=0.0)
    if weight >= 1:  # (helper-78: 1 was accepted, the whole search thrown away)
        raise ValueError(
            f"{GAUSSIAN_WEIGHT} must be < 1, got {weight:g}: it is the Gaussian's share of the "
            "average, and 1 keeps none of iagan's x̂ (the result would be the gaussian "
            "method's alone: run method gaussian); pass a weight in [0, 1)"
        )
    if weight > 0 and blend_spec(options["blend"]) is not None:
        blend = options["blend"]
        if names and GAUSSIAN_WEIGHT in names and "blend" in names:  # the CLI's flags
            typed = "true" if blend_value(blend) is True else blend_value(blend)
            said = (
                f"an averaged Gaussian ({names[GAUSSIAN_WEIGHT]} {weight:g}) with a blend "
                f"({names['blend']} {typed})"
            )
        else:
            said = f"{GAUSSIAN_WEIGHT}={weight:g} with blend={blend!r}"
        raise ValueError(
            f"{said}: the Gaussian's x̂ would be averaged in after the blend, and the average "
            "would no longer keep the known pixels; drop one of them (ganinverse inpaint runs "
            "the pair: it blends the averaged completion after the solver)"
        )
    if weight > 0:  # (images without a weight: refused as idle, IAGAN_GAUSSIAN)
        _check_prior(options, GAUSSIAN_AS_IAGAN, shape, d=d, device=device, names=names)


def _check_prior(
    options: Mapping[str, Any],
    keys: Mapping[str, str],
    shape: tuple | None,
    *,
    d: int,
    device: str | torch.device,
    names: Mapping[str, str] | None,
) -> None:
    """``check_gaussian_options`` of a Gaussian prior's options, held in ``options`` under
    ``keys`` ({gaussian's option: its key here}: gaussian's own, or iagan's
    ``GAUSSIAN_AS_IAGAN``); ``names``: {key: its name in the messages} (the CLI's flags; the
    keys where absent)."""
    key = {k: keys.get(k, k) for k in ("n_samples", "samples", "mirror_samples")}
    name = {k: (names or {}).get(v, v) for k, v in key.items()}
    check_gaussian_options(
        options[key["n_samples"]],
        options[key["samples"]],
        shape,
        name=name["samples"],
        mirror=options[key["mirror_samples"]],
        mirror_name=name["mirror_samples"],
        n_name=name["n_samples"],
        d=d,
        device=device,
    )


register_method(
    Method(
        "iagan",
        _adaptive.iagan,
        "IAGAN: CSGM's ẑ, then z and a copy of G's weights θ fine-tuned per image, "
        "min_{z,θ} (1/m)||y − A G_θ(z)||², early-stopped (Abu Hussein, Tirer, Giryes, AAAI 2020)",
        defaults={
            "config": CSGM_PRESETS["mnist"],
            "lr_theta": _adaptive.LR_THETA,
            "lr_z": _adaptive.LR_Z,
            "adapt_steps": _adaptive.STEPS,
            "discrepancy": _adaptive.DISCREPANCY,
            "tv_weight": _adaptive.TV_WEIGHT,
            "back_projection": False,
            "blend": False,
            "chunk": _adaptive.CHUNK,
            MIRROR: False,
            GAUSSIAN_WEIGHT: 0.0,
            GAUSSIAN_IMAGES: None,
            GAUSSIAN_MIRROR: False,
            GAUSSIAN_N_SAMPLES: GAUSSIAN_SAMPLES,
        },
        tuned=Tuned(
            key="iagan_steps",
            option="adapt_steps",
            flag="--iagan-steps-grid",
            help="fine-tuning step caps for iagan (default: "
            f"{','.join(map(str, _adaptive.STEPS_GRID))})",
            grid=_adaptive.STEPS_GRID,
        ),
        starts_from="csgm",
        recommended="csgm",
        check_options=_check_iagan_options,
        option_operators={"blend": ((Inpainting,), lambda v: blend_spec(v) is not None)},
        spellings={"blend": blend_value, GAUSSIAN_IMAGES: _absolute_path},
        file_options=(GAUSSIAN_IMAGES,),
        samples_drawn=lambda o: (  # (its averaged Gaussian of G's samples)
            int(o[GAUSSIAN_N_SAMPLES]) if IAGAN_GAUSSIAN_SAMPLED[0](o) else None
        ),
        known_as=GAUSSIAN_AS_IAGAN,  # (gaussian's options, as iagan's averaged Gaussian names them)
        flags={
            "lr_theta": Flag(
                "--iagan-lr-theta", float, "Adam's lr for iagan's weights θ", acts_when=IAGAN_ADAPTS
            ),
            "lr_z": Flag(
                "--iagan-lr-z", float, "Adam's lr for iagan's latent z", acts_when=IAGAN_ADAPTS
            ),
            "adapt_steps": Flag("--iagan-steps", int, "iagan's fine-tuning steps (at most)"),
            "discrepancy": Flag(
                "--iagan-discrepancy",
                float,
                "iagan stops an image once its data misfit <= this x noise variance "
                "(0: the steps alone)",
                acts_when=IAGAN_STOPS,
            ),
            "tv_weight": Flag(
                "--iagan-tv",
                float,
                "weight λ of a total-variation term λ·TV(x) in iagan's fine-tuning (0: none, "
                "the paper's; choose it on validation images: too large and the misfit never "
                "reaches the noise level)",
                acts_when=IAGAN_ADAPTS,
            ),
            "back_projection": Flag(
                "--iagan-back-projection",
                _boolean,
                "true: iagan's x̂ projected onto {x : Ax = y} (low noise)",
            ),
            MIRROR: Flag(
                "--iagan-mirror",
                _boolean,
                "true: iagan run again with G's mirror image F∘G (F the left-right flip; its "
                "own CSGM start) and the two x̂ averaged: twice the time; +0.38 dB on 8 "
                "validation faces at m = 500 (benchmarks/iagan_ensemble.py). For data as likely "
                "mirrored as not (faces), not digits",
            ),
            GAUSSIAN_WEIGHT: Flag(
                "--iagan-gaussian-weight",
                float,
                "w in [0, 1): iagan's x̂ averaged with the gaussian method's, (1 − w)·x̂ + "
                "w·x̂_gaussian (the Gaussian prior's posterior mean; 0: none). Faces, m = 500, "
                "8 held-out faces: +0.26 dB at w = 0.3 with G's moments, +0.53 at w = 0.4 with "
                "the training images' (--iagan-gaussian-images)",
            ),
            GAUSSIAN_IMAGES: Flag(
                "--iagan-gaussian-images",
                str,
                "a safetensors file of images (N, C, H, W) on [-1, 1] under the key 'images' "
                "(ganinverse.solvers.gaussian.save_samples; benchmarks/gaussian_images.py "
                "writes a dataset's) whose moments the averaged Gaussian takes instead of G's "
                "samples",
                acts_when=IAGAN_GAUSSIAN,
            ),
            GAUSSIAN_MIRROR: Flag(
                "--iagan-gaussian-mirror",
                _boolean,
                "true: the averaged Gaussian's moments from its samples and their mirror "
                "images (gaussian's --gaussian-mirror), for data as likely mirrored as not "
                "(faces), not digits",
                acts_when=IAGAN_GAUSSIAN,
            ),
            GAUSSIAN_N_SAMPLES: Flag(
                "--iagan-gaussian-n-samples",
                int,
                f"samples of G behind the averaged Gaussian's moments (default "
                f"{GAUSSIAN_SAMPLES:,}; gaussian's --gaussian-n-samples)",
                acts_when=IAGAN_GAUSSIAN_SAMPLED,
                fix=_fix_all_of(IAGAN_GAUSSIAN_SAMPLED_PARTS),
            ),
            "blend": Flag(
                "--iagan-blend",
                blend_option,
                "inpainting: iagan's x̂ blended into the known pixels: true (= poisson, "
                "Pérez et al.'s; poisson[:α] keeps the share α of x̂'s gradients), biharmonic[:α] "
                "(x = αx̂ + B(y − αx̂), B biharmonic interpolation, α default "
                f"{BIHARMONIC_WEIGHT:g}: better on scattered masks), false / none",
            ),
        },
    )
)


# -- Lasso on the wavelet details (the approximation band unpenalised) -------------------------
def lasso_wavelet_detail(
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    *,
    basis: str = "wavelet",
    lam: float = 0.03,
    init: Tensor | None = None,
) -> LassoResult:
    """Wavelet Lasso that penalises the detail coefficients only, on the [0, 1] image scale:

        ĉ = argmin_c ½||y₀ − A Ψᵀc||² + λ Σ_{j ∉ approx} |c_j|,   y₀ = (y + A1)/2,  x̂ = 2Ψᵀĉ − 1,

    Ψ the orthonormal periodized wavelet transform (``basis``: "wavelet" = Haar at the largest
    level, or "wavelet:<pywt name>", ``bases.make_basis``) and "approx" its coarsest
    approximation (scaling) band (``WaveletBasis.approximation_mask``: 7x7 per channel for
    28x28 Haar, 1x1 for 64x64). As in wavelet shrinkage (Donoho & Johnstone) and deepinv's
    ``WaveletPrior`` / ``WaveletDenoiser``, the coarse scaling coefficients, which carry the
    image's local means and are not sparse, are left unshrunk; the plain ``lasso-wavelet``
    shrinks them too. Solved by ``baselines.lasso_fista`` with weights w = 0 on the band and 1
    elsewhere (the band is eliminated exactly by least squares; certified by the weighted
    duality gap). The band is fitted by least squares whatever λ: with m near its size (49 per
    channel for 28x28) that fit amplifies the noise (MNIST, σ = 0.1: MSE 2.5 at m = 50 against
    0.10 for lasso-wavelet), and for m at or below it the band interpolates y₀ (min = 0, the
    details stay 0). ``init`` (B, C, H, W): FISTA's starting coefficients (``choose_weight``'s λ
    path). Shapes: y (B, *operator.out_shape) -> x̂ (B, C, H, W). Raises ValueError for a basis
    that is not a wavelet, and the errors of ``baselines.lasso``; its ConvergenceWarning passes.
    """
    from .bases import make_basis

    start = time.perf_counter()
    _check_detail_basis(basis)
    check_operator(operator)
    psi = make_basis(basis, operator.in_shape)
    weights = (~psi.approximation_mask()).float()[None]  # (1, H, W): every channel alike
    res = baselines.lasso(operator, y, psi, lam, init=init, weights=weights)
    return LassoResult(res.x_hat, res.coefficients, res, time.perf_counter() - start)


def _check_detail_basis(basis: object) -> None:
    if not isinstance(basis, str) or basis.partition(":")[0] != "wavelet":
        raise ValueError(
            f"basis must be 'wavelet' or 'wavelet:<pywt name>' (the approximation band is a "
            f"wavelet's), got {basis!r}; for other bases use the lasso / lasso-dct methods"
        )


def _check_detail_options(options: Mapping[str, Any], shape: tuple | None) -> None:
    """``lasso_wavelet_detail``'s: a wavelet basis (built for ``shape``) and λ."""
    _check_detail_basis(options["basis"])
    _check_basis(options["basis"], shape)
    baselines._check_lam(options["lam"])


register_method(
    Method(
        "lasso-wavelet-detail",
        lasso_wavelet_detail,
        "Lasso on the wavelet details, min_c ½||y₀ − AΨᵀc||² + λ Σ_{j∉approx}|c_j| on [0, 1] "
        "images (the approximation band unpenalised, as in wavelet shrinkage)",
        defaults={"basis": "wavelet", "lam": 0.03, "init": None},
        tuned=LASSO,
        needs_generator=False,
        flags={"lam": Flag("--lam", float, "Lasso's λ ([0, 1] image scale)")},
        check_options=_check_detail_options,
    )
)


# -- untrained-network priors (solvers/untrained.py) ------------------------------------------

UNTRAINED = Tuned(
    key="untrained_steps",
    option="steps",
    flag="--untrained-steps-grid",
    help="candidates of the number of Adam steps T of the untrained-network priors (early "
    f"stopping; each method picks its own; default: {','.join(map(str, UNTRAINED_STEPS))})",
    grid=UNTRAINED_STEPS,
)


def _check_untrained(options: Mapping[str, Any], shape: tuple | None = None) -> None:
    """``fit_untrained``'s checks of the steps T and the learning rate (the network's are its
    record's ``networks``)."""
    check_steps(options["steps"])
    check_learning_rate(options["lr"], "lr")


UNTRAINED_FLAGS = {
    "steps": Flag("--untrained-steps", int, "Adam steps T of deep-decoder / dip (early stopping)"),
    "lr": Flag("--untrained-lr", float, "Adam's learning rate of deep-decoder / dip"),
}
register_method(
    Method(
        "deep-decoder",
        deep_decoder,
        "Deep Decoder: an untrained 1x1-conv decoder f_θ(z) fitted to y by T Adam steps on "
        "(1/m)||y − A f_θ(z)||², T chosen per m (Heckel & Hand 2019)",
        defaults={
            "steps": 500,
            "lr": 0.01,
            "channels": 16,
            "depth": None,
            "device": None,
            "progress": True,
        },
        tuned=UNTRAINED,
        needs_generator=False,
        seeded=True,
        check_options=_check_untrained,
        networks=deep_decoder_network,
        flags={
            **UNTRAINED_FLAGS,
            "channels": Flag("--dd-channels", int, "channels k of every Deep Decoder layer"),
            "depth": Flag(
                "--dd-depth", int, "layers d of the Deep Decoder (d − 1 upsamplings; default 4)"
            ),
        },
    )
)
register_method(
    Method(
        "dip",
        deep_image_prior,
        "Deep Image Prior: an untrained skip encoder-decoder fitted like deep-decoder, about "
        "15x its cost per step (Ulyanov et al. 2018; Van Veen et al. 2018)",
        defaults={
            "steps": 100,
            "lr": 0.01,
            "channels": 32,
            "levels": None,
            "skip_channels": 4,
            "input_channels": 32,
            "device": None,
            "progress": True,
        },
        tuned=UNTRAINED,
        needs_generator=False,
        seeded=True,
        check_options=_check_untrained,
        networks=dip_network,
        flags={
            **UNTRAINED_FLAGS,
            "channels": Flag("--dip-channels", int, "channels of every DIP level"),
            "levels": Flag("--dip-levels", int, "levels (halvings) of the DIP network (default 3)"),
        },
    )
)


# -- Lasso in a redundant wavelet frame (db wavelets, zero-padded, the coarse band weighted) --
#: The frame's defaults, chosen on validation images (MNIST train 0-19, σ = 0.1, m = 25 and 100:
#: benchmarks/wavelet_frame_defaults.py, benchmarks/results/wavelet_frame_defaults/).
FRAME_WAVELET = "db4"
FRAME_LEVEL = 3
FRAME_BAND_WEIGHT = 0.3
#: Above this many bytes (float64) the frame's A S is not stored: FISTA applies A and S in turn.
FRAME_DENSE_BYTES = 256 << 20


def lasso_wavelet_frame(
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    *,
    wavelet: str = FRAME_WAVELET,
    level: int = FRAME_LEVEL,
    band_weight: float = FRAME_BAND_WEIGHT,
    lam: float = 0.03,
    init: Tensor | None = None,
) -> LassoResult:
    """Synthesis Lasso in the zero-padded wavelet frame, the coarse band weighted by
    ``band_weight`` (0: unpenalised), on the [0, 1] image scale:

        ĉ = argmin_c ½||y₀ − A S c||² + λ (Σ_{j ∉ approx} |c_j| + β Σ_{j ∈ approx} |c_j|),
        y₀ = (y + A1)/2,  x̂ = 2Sĉ − 1,  β = ``band_weight``,

    S = Wᵀ the synthesis of the non-periodic 2-D DWT W (``bases.WaveletFrame``: PyWavelets'
    ``wavedec2(mode="zero")`` / ``waverec2``, ``wavelet`` an orthogonal pywt name, ``level``
    levels), a redundant Parseval frame (K > HW coefficients per channel; 1,623 for 28x28 with
    db4 at level 3, 3,319 with db8), applied matrix-free by conv2d / conv_transpose2d; "approx" its coarsest
    approximation band. β = 0 leaves it unshrunk as in wavelet shrinkage (Donoho & Johnstone
    1994) and deepinv's ``WaveletPrior`` (db8, level 3, zero padding); the band (9x9 per
    channel for 28x28 with db4 at level 3, 16x16 with db8) is then eliminated by least squares (of least image
    energy where underdetermined, ``Dictionary.least_energy_gauge``): with m at or below its
    rank it interpolates y₀, the details stay 0 and λ changes nothing, and with m a little above
    it its fit amplifies the noise (validation MSE 0.09 / 0.21 at m = 25 / 100 for db4 at level
    3). The defaults, db4 at level 3 with β = 0.3 (a light ℓ1 weight on the band), won on
    validation images (benchmarks/results/wavelet_frame_defaults: MNIST train 0-19, σ = 0.1,
    λ tuned per m; mean MSE over m = 25, 100: 0.0592, against 0.0603 for db8 at level 3 with
    β = 0.1 and 0.083 for db8 with the band free). Solved by ``baselines.lasso_fista`` (step 1/L, L by
    power iteration on (AS)ᵀ(AS); certified by the weighted duality gap, ``tol`` 1e-4; a solve
    that stops on ``max_iter`` warns ConvergenceWarning and has ``converged`` False in
    ``.solver``). A stored matrix A (GaussianCS) is multiplied into A S while that takes at most
    FRAME_DENSE_BYTES (MNIST), else A and S are applied in turn (64x64x3 faces at m = 2500: A S
    would be 0.5 GB). ``init`` (B, C, K): FISTA's starting coefficients (``choose_weight``'s λ path).
    Shapes: y (B, *operator.out_shape) -> x̂ (B, C, H, W); ``coefficients`` (B, C, K).

    Raises ValueError, before any work, for a ``wavelet`` that is not an orthogonal pywt name, a
    ``level`` < 1 or at which a band no longer shrinks (n ≤ F − 1, F the filter length), a
    ``lam`` or ``band_weight`` that is not a finite number ≥ 0; then the errors of
    ``baselines.lasso``.
    """
    from .bases import WaveletFrame

    start = time.perf_counter()
    check_operator(operator)
    lam, beta = _frame_weights(lam, band_weight)
    frame = WaveletFrame(operator.in_shape, wavelet, level)  # checks wavelet and level
    band = frame.approximation_mask()
    weights = torch.where(band, beta, 1.0)[None]  # (1, K): every channel alike
    # a stored A (GaussianCS) becomes the matrix A S only while that is small (m x C K floats)
    small = math.prod(operator.out_shape) * math.prod(frame.coefficient_shape(operator.in_shape[0]))
    dense = None if small * 8 <= FRAME_DENSE_BYTES else False
    res = baselines.lasso(operator, y, frame, lam, init=init, weights=weights, dense=dense)
    return LassoResult(res.x_hat, res.coefficients, res, time.perf_counter() - start)


def _frame_weights(lam: object, band_weight: object) -> tuple[float, float]:
    """(λ, β) of ``lasso_wavelet_frame`` as finite numbers ≥ 0, else a named error."""
    lam = check_weight(lam, "lam")
    beta = check_weight(band_weight, "band_weight")  # (the coarse band's: 0 free .. 1)
    return lam, beta


def _check_frame_options(options: Mapping[str, Any], shape: tuple | None) -> None:
    """``lasso_wavelet_frame``'s: λ, β and the frame (wavelet, level for this image size)."""
    from .bases import WaveletFrame

    _frame_weights(options["lam"], options["band_weight"])
    if shape is not None:
        _on_meta(lambda: WaveletFrame(shape, options["wavelet"], options["level"]))


register_method(
    Method(
        "lasso-wavelet-frame",
        lasso_wavelet_frame,
        "Lasso in the zero-padded (redundant) wavelet frame, min_c ½||y₀ − ASc||² + "
        "λ(Σ_{j∉approx}|c_j| + β Σ_{j∈approx}|c_j|) on [0, 1] images (db, levels, β on validation)",
        defaults={
            "wavelet": FRAME_WAVELET,
            "level": FRAME_LEVEL,
            "band_weight": FRAME_BAND_WEIGHT,
            "lam": 0.03,
            "init": None,
        },
        tuned=LASSO,
        needs_generator=False,
        check_options=_check_frame_options,
        flags={
            "lam": Flag("--lam", float, "Lasso's λ ([0, 1] image scale)"),
            "wavelet": Flag(
                "--frame-wavelet", str, "orthogonal pywt wavelet of lasso-wavelet-frame"
            ),
            "level": Flag("--frame-level", int, "decomposition levels of lasso-wavelet-frame"),
            "band_weight": Flag(
                "--frame-band-weight",
                float,
                "ℓ1 weight β of lasso-wavelet-frame's coarse band (0: unpenalised)",
            ),
        },
    )
)


# -- inpainting baselines without a generative prior (inpaint_baselines.py) -------------------


@dataclass
class FillResult:
    """An inpainting baseline's result: x̂ (B, C, H, W) on [-1, 1], y's known pixels kept;
    ``converged`` (B,) False where an iterative fill (TV) stopped on its iteration cap."""

    x_hat: Tensor
    converged: Tensor | None = None

    @property
    def status(self) -> list[str]:
        """Per image: "ok" or "not_converged" (``ganinverse.status``)."""
        flags = {"not_converged": self.converged}
        return image_status(flags) if self.converged is not None else ["ok"] * len(self.x_hat)


def _fill_mask(operator: Inpainting, name: str) -> Tensor:
    """The operator's mask as (B|1, 1, H, W): the baselines fill pixels, all channels at once."""
    mask = operator.mask
    if mask.shape[1] > 1 and not bool((mask == mask[:, :1]).all()):
        raise ValueError(
            f"{name} fills whole pixels: the mask must be the same in every channel, got a "
            "mask that differs between channels; pass a (H, W) or (B, 1, H, W) mask"
        )
    return mask[:, :1]


def _biharmonic(G, operator, y):
    return FillResult(baselines_inpaint.biharmonic_inpaint(y, _fill_mask(operator, "biharmonic")))


def _check_tv_options(options: Mapping[str, Any], shape: tuple | None) -> None:
    """``inpaint_baselines.tv_inpaint``'s checks of its iterations and tolerance."""
    check_count(options["iters"], "iters", "steps")
    check_number(options["tol"], "tol", low=0.0, low_open=True)


def _tv(G, operator, y, *, iters, tol):
    mask = _fill_mask(operator, "tv")
    return FillResult(*baselines_inpaint.tv_inpaint(y, mask, iters, tol=tol, return_converged=True))


register_method(
    Method(
        "biharmonic",
        _biharmonic,
        "biharmonic inpainting, Δ²x = 0 on the missing pixels (scikit-image; no prior)",
        needs_generator=False,
        operators=(Inpainting,),
    )
)
register_method(
    Method(
        "tv",
        _tv,
        "total-variation inpainting, min TV(x) s.t. x = y on the known pixels (Chambolle–Pock; "
        "no prior)",
        defaults={"iters": 1000, "tol": 1e-4},
        needs_generator=False,
        operators=(Inpainting,),
        check_options=_check_tv_options,
        flags={"iters": Flag("--tv-iters", int, "TV inpainting's maximum iterations (tv)")},
    )
)


# -- the Gaussian prior of G's (or the training images') moments (solvers/gaussian.py) --------


def _gaussian(
    G, operator, y, *, n_samples, samples, mirror_samples, progress, seed=0, image_ids=None
):
    """``solvers.gaussian.gaussian`` (``image_ids`` unused: every image shares the moments;
    ``mirror_samples`` is its ``mirror``)."""
    return gaussian(
        G,
        operator,
        y,
        n_samples=n_samples,
        samples=samples,
        mirror=mirror_samples,
        seed=seed,
        progress=progress,
    )


GAUSSIAN_SAMPLED = (
    lambda options: options["samples"] is None,
    "G's samples are drawn (no --gaussian-images)",
)


def _check_gaussian(
    options: Mapping[str, Any],
    shape: tuple | None = None,
    *,
    d: int = 0,
    device: str | torch.device = "cpu",
    names: Mapping[str, str] | None = None,
) -> None:
    """``check_gaussian_options`` of gaussian's options: with ``d`` measurements per image
    (0: not known) the solve within ``device``'s memory; ``names``: {option: its name in the
    messages} (the CLI's flags; the API's option names where absent)."""
    _check_prior(options, {}, shape, d=d, device=device, names=names)


register_method(
    Method(
        "gaussian",
        _gaussian,
        "the Gaussian prior's posterior mean (LMMSE), x̂ = μ + ΣAᵀ(AΣAᵀ + σ²I)⁻¹(y − Aμ), μ and Σ "
        "the moments of G's samples (or of --gaussian-images); no search (Yu & Sapiro 2011)",
        defaults={
            "n_samples": GAUSSIAN_SAMPLES,
            "samples": None,
            "mirror_samples": False,  # (not MIRROR: that runs a method twice, with G's mirror)
            "progress": True,
        },
        seeded=GAUSSIAN_SAMPLED[0],
        generator_acts_when=GAUSSIAN_SAMPLED,
        samples_drawn=lambda o: int(o["n_samples"]) if GAUSSIAN_SAMPLED[0](o) else None,
        known_as={v: k for k, v in GAUSSIAN_AS_IAGAN.items()},  # (iagan's names for them)
        check_options=_check_gaussian,
        spellings={"samples": _absolute_path},
        file_options=("samples",),
        flags={
            "n_samples": Flag(
                "--gaussian-n-samples",
                int,
                "samples of G behind gaussian's mean and covariance (iagan's averaged "
                "Gaussian: --iagan-gaussian-n-samples)",
                acts_when=GAUSSIAN_SAMPLED,
                fix="drop --gaussian-images",
            ),
            "samples": Flag(
                "--gaussian-images",
                str,
                "a safetensors file of images (N, C, H, W) on [-1, 1] under 'images' (e.g. the "
                "generator's training images) whose moments gaussian uses instead of G's",
            ),
            "mirror_samples": Flag(
                "--gaussian-mirror",
                _boolean,
                "true: the moments of the samples and their left-right mirror images (2N "
                "samples): +0.39 dB with G's samples, +0.17 with the training faces' on 8 "
                "held-out faces at m = 500 (benchmarks/gaussian_probe.py). For data as likely "
                "mirrored as not (faces), not digits",
            ),
        },
    )
)


#: The methods this package registers: each one's result reports a per-image ``status``, so a
#: sweep row of one of them never holds ``status.UNREPORTED`` (a plug-in's may).
BUNDLED_METHODS = frozenset(METHODS)

#: The ``Flag.acts_when`` rules whose solvers warn themselves in the API (they see the operator
#: and their own keywords): ``reconstruct_result`` leaves those to them; the CLI refuses all.
#: (ILO's are warned here: its solver's ``steps`` / ``lr`` are the method's ``ilo_steps`` /
#: ``ilo_lr``, so ``_ilo`` silences the solver's words.)
SOLVER_WARNS = (D_PRIOR_ACTS, YEH_PRIOR_ACTS, IAGAN_ADAPTS, IAGAN_STOPS)
