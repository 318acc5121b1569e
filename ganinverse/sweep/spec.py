"""What a sweep measures (``SweepSpec``, saved as ``sweep.json``) and how two specs relate.

A folder is defined by its resolved settings (``SweepSpec.resolved``), not by the options the
user typed, so a change of defaults can never mix rows made under different settings.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .._validation import (
    check_choice,
    check_distinct,
    check_int,
    check_name,
    check_unit_noise_std,
    check_weight,
    plain_number,
    read_number,
)
from ..exceptions import IdleOptionWarning, user_stacklevel
from ..io import file_fingerprint
from ..latent import LatentConfig, configured
from ..methods import LASSO_LAMBDAS, METHODS, _idle_warnings, _set_options, get_method, is_search
from ..operators import REGISTRY, LinearOperator

#: Bumped whenever the meaning of a row changes for the same spec (seeding, data terms): a folder
#: written under another protocol is not resumed or grown.
PROTOCOL = 2

#: Grids and options of the first methods have fields of their own (the names sweep.json has
#: used since before the registry); every other method's live in ``grids`` / ``options``.
LEGACY_GRIDS = {"engine": "engine_grid", "sparse_l1": "sparse_l1_grid", "lam": "lasso_lambdas"}
LEGACY_OPTIONS = {"csgm-sparse": {"basis": "sparse_basis", "l1": "sparse_l1"}}
#: Method options renamed since folders were recorded: {method: {old: new}}, read by
#: ``upgrade`` (ILO's own steps and lr, once named as the engine's keywords they shadowed).
RENAMED_OPTIONS = {"ilo": {"steps": "ilo_steps", "lr": "ilo_lr"}}
#: The fields that hold several values, each with an example of its form.
SEQUENCES = {
    "x_values": "(100, 500)",
    "methods": "('csgm', 'lasso-dct')",
    "lasso_lambdas": "(0.01, 0.1)",
    "engine_grid": "({'lambda_z': 0.1}, {'lambda_z': 0.01})",
    "sparse_l1_grid": "(1e-4, 1e-3)",
}
#: Methods whose resolved settings are the top-level entries of ``resolved`` (others: "methods").
LEGACY_METHODS = ("csgm", "csgm-sparse", "lasso", "lasso-dct", "lasso-wavelet")
#: The fields a sweep may grow by (every finished row stays valid).
GROWN = ("x_values", "methods", "n_images")


def _each_method(options: Mapping, change: Callable[[Any, Mapping], Any]) -> dict:
    """{method: change(its record, its options)} for the registered methods' option mappings;
    entries of unknown methods or of another form as given."""
    return {
        method: change(METHODS[method], given)
        if method in METHODS and isinstance(given, Mapping)
        else given
        for method, given in options.items()
    }


def _without_defaults(options: Mapping) -> dict:
    """{method: its options} without the options equal to the method's defaults (in their one
    spelling, ``Method.spellings``), and without methods left with none: ``--iagan-tv 0`` and
    no flag are one setting. Entries of unknown methods or of another form are kept as given."""

    def kept(record: Any, given: Mapping) -> dict:
        out = {}
        for k, v in given.items():
            try:
                default = record.spelled({k: record.defaults[k]})[k]
                same = isinstance(v, bool) == isinstance(default, bool) and bool(v == default)
            except (KeyError, TypeError, ValueError):
                same = False
            if not same:
                out[k] = v
        return out

    cut = _each_method(options, kept)
    return {
        m: v for m, v in cut.items() if v or not (m in METHODS and isinstance(options[m], Mapping))
    }


def _json(value: Any) -> Any:
    """A JSON round trip (tuples -> lists, configs -> dicts), as read back from a file."""
    return json.loads(json.dumps(value, allow_nan=False, default=_encode))


def _encode(value: Any) -> Any:
    if isinstance(value, LatentConfig):
        return {k: v for k, v in dataclasses.asdict(value).items() if k != "progress"}
    raise TypeError(f"cannot record {type(value).__name__} in sweep.json")


def upgrade(saved: Mapping) -> dict:
    """A ``sweep.json`` written by earlier code in today's layout (``m_values`` -> ``x_values``;
    options renamed since, ``RENAMED_OPTIONS``: a folder whose resolved settings hold the old
    name was written before the rename), without the fields that are not settings
    (``rows.NOT_SETTINGS``)."""
    from .rows import NOT_SETTINGS

    saved = {k: v for k, v in saved.items() if k not in NOT_SETTINGS}  # marks, not settings
    if "m_values" in saved and "x_values" not in saved:
        saved["x_values"] = saved.pop("m_values")
    resolved = saved.get("resolved")
    methods = resolved.get("methods") if isinstance(resolved, Mapping) else None
    if not isinstance(methods, Mapping):
        return saved
    for method, names in RENAMED_OPTIONS.items():
        full = methods.get(method)  # (resolved: every option, so an old name marks old code)
        if not isinstance(full, Mapping) or not set(full) & set(names):
            continue
        methods = {**methods, method: {names.get(k, k): v for k, v in full.items()}}
        given = (saved.get("options") or {}).get(method)
        if isinstance(given, Mapping):
            renamed = {names.get(k, k): v for k, v in given.items()}
            saved["options"] = {**saved["options"], method: renamed}
    saved["resolved"] = {**resolved, "methods": methods}
    return saved


#: engine options that change what a run prints, not its reconstruction (refused in a grid)
DISPLAY_ONLY = ("log_every", "progress")


def typed_value(value: Any) -> str:
    """A grid value as the command line takes it: 0.1, 300, uniform, a tuple as 0.1/0.3."""
    value = plain_number(value)
    if isinstance(value, (tuple, list)):
        return "/".join(map(typed_value, value)) if value else "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def typed_candidate(candidate: Mapping) -> str:
    """An ``engine_grid`` candidate as ``--engine-grid`` takes it: ``lambda_z=0.1,steps=300``,
    ``prune_at=0.1/0.3``."""
    return ",".join(f"{k}={typed_value(v)}" for k, v in candidate.items())


def engine_grid_entry(i: int, candidate: Mapping) -> str:
    """An ``engine_grid`` entry as the API and the command line write it, for messages:
    ``engine_grid[1] (--engine-grid steps=0)`` (the CLI leads its error with the flag part)."""
    return f"engine_grid[{i}] (--engine-grid {typed_candidate(candidate)})"


def _check_searches(config: LatentConfig, where: str) -> None:
    """A ValueError for engine settings under which no latent searches (steps = 0): every row
    would score the random start as a reconstruction."""
    if config.steps == 0:
        raise ValueError(
            f"{where}: steps = 0 runs no search, so every latent method's row would score its "
            "random start; pass steps >= 1"
        )


#: validation images of a weight search, by default
N_VAL = 10


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep measures. Saved as ``sweep.json``; a resumed run must match it or grow it
    (``grows``: more x values, methods or images, finished rows kept).

    ``operator``: a registered operator with a sweep axis (``operators.REGISTRY``: gaussian,
    subsample, superres, inpainting); ``x_values`` its axis values (m for gaussian and
    subsample, the factor for superres, mask specs for inpainting). ``methods``: registered
    methods (``methods.METHODS``). ``engine``: LatentConfig overrides for every latent method.
    ``grids``: candidates searched per x on validation images, by the tuned weight's key
    (``Tuned.key``; csgm's engine, csgm-sparse's ℓ1 and Lasso's λ have the named fields
    ``engine_grid``, ``sparse_l1_grid``, ``lasso_lambdas``); empty = the fixed option.
    ``options``: fixed solver options per method (csgm-sparse's basis and μ: ``sparse_basis``,
    ``sparse_l1``). ``noise_std`` is σ on the [0, 1] image scale.
    """

    dataset: str
    x_values: tuple
    methods: tuple[str, ...]
    operator: str = "gaussian"
    generator: str | None = None
    discriminator: str | None = None
    data_root: str | None = None
    split: str = "test"
    start: int = 0
    n_images: int = 300
    noise_std: float = 0.1
    batch_size: int = 25
    n_val: int = N_VAL
    #: first train-split index of the validation images (e.g. faces held out of G's training)
    val_start: int = 0
    seed: int = 0
    grid_images: int = 8
    engine: dict = field(default_factory=dict)  #: LatentConfig overrides for latent methods
    sparse_basis: str = "dct"
    sparse_l1: float = 0.01
    lasso_lambdas: tuple[float, ...] = LASSO_LAMBDAS  #: λ grid searched on validation images
    #: Engine candidates for the latent methods (each a dict of LatentConfig overrides on top
    #: of ``engine``, e.g. {"lambda_z": 0.3, "steps": 300}) and ℓ1 candidates for csgm-sparse,
    #: searched per x on validation images; empty = the fixed setting.
    engine_grid: tuple[dict, ...] = ()
    sparse_l1_grid: tuple[float, ...] = ()
    grids: dict = field(default_factory=dict)  #: other methods' grids, by ``Tuned.key``
    options: dict = field(default_factory=dict)  #: other fixed options, by method name

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # (a 0-d tensor or numpy number: its Python value)
            object.__setattr__(self, f.name, _plain(getattr(self, f.name)))
        for name, example in SEQUENCES.items():  # (a text would be read letter by letter)
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
                raise TypeError(
                    f"{name} must be a tuple (e.g. {name}={example}), got "
                    f"{type(value).__name__} {value!r}"
                )
            object.__setattr__(self, name, tuple(value))
        cls = self.operator_class()
        if not self.x_values:
            raise ValueError(f"x_values ({cls.axis.flag}) must hold at least one value")
        if not cls.axis.numeric:  # one spelling per setting (random:.5 is random:0.5), as the CLI
            object.__setattr__(self, "x_values", tuple(map(self._spelled, self.x_values)))
        for value in self.x_values:
            self._check_value(cls, value)
        if not self.methods:
            raise ValueError("methods must hold at least one method")
        for method in self.methods:  # (a name that is no str: a TypeError, before it is hashed)
            check_name(method, "method", list(METHODS))
        for name, values in (
            (f"x_values ({cls.axis.flag})", self.x_values),
            ("methods", self.methods),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must not repeat a value, got {list(values)}")
        for method in self.methods:
            record = get_method(method)
            if record.operators is not None and not issubclass(cls, record.operators):
                names = ", ".join(c.name or c.__name__ for c in record.operators)
                raise ValueError(
                    f"method {method!r} applies to the {names} operator only, not "
                    f"{self.operator!r}; drop it from --methods"
                )
        check_int(self.n_images, "n_images", low=1)
        check_int(self.batch_size, "batch_size", low=1)
        check_int(self.n_val, "n_val", low=1)
        check_int(self.val_start, "val_start", low=0)
        check_unit_noise_std(self.noise_std, "noise_std")
        check_weight(self.sparse_l1, "sparse_l1")
        check_int(self.start, "start", low=0)
        check_int(self.seed, "seed", low=0)
        check_int(self.grid_images, "grid_images", low=0)
        for name in ("lasso_lambdas", "sparse_l1_grid"):
            for i, value in enumerate(getattr(self, name)):
                check_weight(value, f"{name}[{i}]")
        for name in ("lasso_lambdas", "sparse_l1_grid"):  # (engine_grid: below, as run)
            check_distinct(getattr(self, name), name, what="candidate")
        tuned = {r.tuned.key: r.tuned for r in METHODS.values() if r.tuned is not None}
        named = {f: (k, getattr(self, f)) for k, f in LEGACY_GRIDS.items()}
        named.update({f"grids[{k!r}]": (k, v) for k, v in self.grids.items() if k in tuned})
        for name, (key, values) in named.items():  # (Tuned.positive: Lasso's λ = 0)
            for i, value in enumerate(values if isinstance(values, (tuple, list)) else ()):
                try:
                    tuned[key].check_candidate(value)
                except ValueError as err:
                    raise ValueError(f"{name}[{i}] ({value!r}): {err}") from None
        if not self.lasso_lambdas:
            raise ValueError("lasso_lambdas must hold at least one λ")
        _check_searches(LatentConfig().updated(**self.engine), "engine (--steps)")
        for candidate in self.engine_grid:
            if not isinstance(candidate, dict) or not candidate:
                raise TypeError(f"engine_grid entries must be non-empty dicts, got {candidate!r}")
        for i, candidate in enumerate(self.engine_grid):
            chance = sorted(set(candidate) & {"seed"})
            if chance:  # (the luckiest seed on validation images is chance reported as a setting)
                raise ValueError(
                    f"{engine_grid_entry(i, candidate)}: sets {', '.join(chance)}, which is no "
                    "setting to choose on validation images (the best of several seeds is luck, "
                    "not a better method); set the seed once for the whole sweep (--seed)"
                )
            shown = sorted(set(candidate) & set(DISPLAY_ONLY))
            if shown:  # (what the run prints: every candidate gives the same reconstruction)
                raise ValueError(
                    f"{engine_grid_entry(i, candidate)}: sets {', '.join(shown)}, which changes "
                    "what the run prints, not its result, so there is nothing to choose on "
                    "validation images; drop it from the candidate"
                )
        runs: dict[str, int] = {}  # each candidate's engine as it runs -> its first index
        for i, candidate in enumerate(self.engine_grid):  # (over the engine, as the sweep runs)
            config = LatentConfig().updated(**{**self.engine, **candidate})
            _check_searches(config, engine_grid_entry(i, candidate))
            run = json.dumps(
                {k: v for k, v in dataclasses.asdict(config).items() if k not in DISPLAY_ONLY},
                sort_keys=True,
                default=str,
            )
            if run in runs:  # (steps=10 and steps=10,lambda_z=0 where λ_z is 0 anyway)
                j = runs[run]
                raise ValueError(
                    f"{engine_grid_entry(i, candidate)}: runs the same engine as the candidate "
                    f"{typed_candidate(self.engine_grid[j])!r} (entry {j}; what one sets beyond "
                    "the other is already so), so it would run, and be reported, twice; list it "
                    "once"
                )
            runs[run] = i
        self._check_generic()
        self._warn_idle_engine()
        searched = [m for m in self.methods if self.search_chain(m)]
        val_end = self.val_start + self.n_val  # (validation: train images val_start..val_end-1)
        if (
            self.split == "train"
            and searched
            and self.start < val_end
            and self.val_start < self.start + self.n_images
        ):
            fix = f"--start {val_end} or more" + (
                f", --val-start {self.start + self.n_images} or more" if self.val_start else ""
            )
            raise ValueError(
                f"split='train' with start={self.start}: the reconstructed images "
                f"{self.start}..{self.start + self.n_images - 1} include train images of "
                f"{self.val_start}..{val_end - 1}, the n_val={self.n_val} validation images on "
                f"which the weights of {', '.join(searched)} are chosen, so a weight would be "
                f"scored on the images it was chosen on: pass {fix}, or --split test"
            )

    def _warn_idle_engine(self) -> None:
        """An ``IdleOptionWarning`` for ``engine`` / ``engine_grid`` / ``sparse_l1_grid`` /
        ``sparse_basis`` set
        while no method of the sweep runs what they set (the CLI refuses such flags; the API
        warns, as for every option it ignores)."""
        runs = set()  # the methods run, those they start from included (iagan runs csgm)
        for name in self.methods:
            while name is not None and name not in runs:
                runs.add(name)
                name = get_method(name).starts_from
        latent = any(get_method(name).latent for name in runs)
        idle = {"engine": bool(self.engine), "engine_grid": bool(self.engine_grid)}
        idle = {k: v for k, v in idle.items() if v and not latent}
        if self.sparse_l1_grid and "csgm-sparse" not in self.methods:
            idle["sparse_l1_grid"] = True
        default_basis = next(f.default for f in fields(self) if f.name == "sparse_basis")
        if self.sparse_basis != default_basis and "csgm-sparse" not in self.methods:
            idle["sparse_basis"] = True  # (helper-73: 'nope' was written to sweep.json)
        for name in idle:
            warnings.warn(
                f"SweepSpec: {name}={getattr(self, name)!r} changes nothing here: no method of "
                f"{list(self.methods)} runs "
                + ("csgm-sparse" if name.startswith("sparse_") else "the latent engine")
                + f"; drop {name}",
                IdleOptionWarning,
                stacklevel=user_stacklevel(),
            )

    def _spelled(self, value: Any) -> Any:
        """A text setting in its axis's one spelling; anything else as given (refused by
        ``_check_value`` with its message)."""
        try:
            return self.operator_class().axis.parse(value) if isinstance(value, str) else value
        except (TypeError, ValueError):
            return value

    def _check_value(self, cls: type[LinearOperator], value: Any) -> None:
        axis = cls.axis
        try:
            ok = type(value) is type(axis.parse(str(value))) and axis.parse(str(value)) == value
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise TypeError(
                f"x_values ({axis.flag}) of the {self.operator!r} operator must be {axis.name} "
                f"values like {axis.flag} {'100' if axis.numeric else 'center'}, got {value!r}"
            )
        if axis.numeric:
            check_int(value, f"{axis.name} ({axis.flag})", low=1)

    def _check_generic(self) -> None:
        keys = {r.tuned.key for r in map(get_method, self.methods) if r.tuned is not None}
        for key, values in self.grids.items():
            if key in LEGACY_GRIDS:
                raise ValueError(f"grids: the {key!r} grid is the field {LEGACY_GRIDS[key]}")
            if key not in keys:
                raise ValueError(
                    f"grids: no method of this sweep tunes {key!r} (tuned: {sorted(keys)})"
                )
            if isinstance(values, (str, bytes)) or not isinstance(values, (tuple, list)):
                raise TypeError(
                    f"grids[{key!r}] must be a tuple of candidates (e.g. grids={{{key!r}: "
                    f"(30, 100)}}), got {type(values).__name__} {values!r}"
                )
            for value in values:
                check_weight(value, f"grids[{key!r}]")
        spelled = {}  # each option in its one spelling (Method.spellings), as stored
        for method, given in self.options.items():
            if not isinstance(given, Mapping):
                raise TypeError(
                    f"options[{method!r}] must be a dict of {method}'s options (e.g. "
                    f"options={{{method!r}: {{...}}}}), got {type(given).__name__}"
                )
            if method not in self.methods:
                raise ValueError(f"options: {method!r} is not one of the sweep's methods")
            legacy = LEGACY_OPTIONS.get(method, {})
            clash = set(given) & set(legacy)
            if clash:
                raise ValueError(f"options[{method!r}]: set {sorted(clash)} by their own fields")
            record = get_method(method)
            record.options(given)
            try:  # the solver's own checks (iagan's blend: its text, its operator), no work
                record.validate(given, operator=self.operator_class())
            except (TypeError, ValueError) as err:
                raise type(err)(f"options[{method!r}]: {err}") from None
            spelled[method] = record.spelled(given)
            full, grid = record.options(given), self.grid(method)
            if record.latent:  # engine keywords among its options: the engine / grid replace them
                own = (set(given) & ENGINE_OPTIONS) - set(record.defaults)  # (ilo's own steps)
                replaced = own & set(self.engine)
                if grid and record.tuned.option == "config":
                    replaced |= own & set_by_every(grid)
                if replaced:
                    raise ValueError(
                        f"options[{method!r}] sets {sorted(replaced)}, which the sweep's engine "
                        f"(or every candidate of its engine grid) sets for every latent method "
                        f"and so replaces: set each once, in engine / engine_grid"
                    )
            if grid and record.tuned.option in given:  # (the search would set it per m)
                raise ValueError(
                    f"options[{method!r}][{record.tuned.option!r}] is the weight the sweep "
                    f"searches on validation images (grids[{record.tuned.key!r}], now "
                    f"{list(grid)}): pass grids={{{record.tuned.key!r}: "
                    f"({given[record.tuned.option]!r},)}} for that one value, or drop it"
                )
            runs = record.runs(full, grid, self.noise_std)  # (as the CLI checks)
            where = "under any candidate of its grid" if grid else "here"
            _idle_warnings(record, _set_options(record, given), runs, where, solver_warns=False)
        object.__setattr__(self, "options", _without_defaults(spelled))
        users = _generator_users(self.methods, self.options)  # (gaussian's file needs no G)
        if users and not self.generator:
            only = users[0].generator_acts_when
            raise ValueError(
                f"method {users[0].name!r} needs a generator (--generator)"
                + (f" when {only[1]}" if only else "")
            )

    # -- what the runner reads ----------------------------------------------------------------
    def operator_class(self) -> type[LinearOperator]:
        """The operator class named ``operator`` (it must have a sweep axis)."""
        sweepable = [n for n, c in REGISTRY.items() if c.axis is not None]
        known = isinstance(self.operator, str) and self.operator in REGISTRY
        hint = f"({self.operator!r} is an operator with no axis a sweep can vary)" if known else ""
        return REGISTRY[check_choice(self.operator, "operator", sweepable, hint=hint)]

    def grid(self, method: str) -> tuple:
        """The candidates searched for ``method``'s tuned weight (empty: no search)."""
        tuned = get_method(method).tuned
        if tuned is None:
            return ()
        if tuned.key in LEGACY_GRIDS:
            return tuple(getattr(self, LEGACY_GRIDS[tuned.key]))
        return tuple(self.grids.get(tuned.key, tuned.grid))

    def weight_chain(self, method: str) -> list[str]:
        """The methods whose tuned weight a unit of ``method`` takes from a grid, in order: the
        method it starts from first (csgm-sparse takes csgm's engine setting), then its own."""
        record = get_method(method)
        chain = self.weight_chain(record.starts_from) if record.starts_from else []
        return chain + ([method] if self.grid(method) else [])

    def search_chain(self, method: str) -> list[str]:
        """The methods of ``weight_chain`` whose grid holds two or more candidates: the weight
        searches (on validation images) a unit of ``method`` needs. A one-candidate grid is
        that value, set without a search (no validation image is fitted for it)."""
        return [m for m in self.weight_chain(method) if is_search(self.grid(m))]

    @classmethod
    def from_saved(cls, saved: Mapping) -> SweepSpec:
        """The spec a ``sweep.json`` (``to_json()``, any protocol ``upgrade`` reads) records."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in upgrade(saved).items() if k in names})

    def method_options(self, method: str) -> dict:
        """The fixed options of ``method`` in this sweep: its defaults, the engine overrides
        on its ``config`` (no progress bars) and the sweep's options for it."""
        record = get_method(method)
        given = {k: getattr(self, f) for k, f in LEGACY_OPTIONS.get(method, {}).items()}
        own = {**given, **self.options.get(method, {})}
        options = record.options(own)
        if record.latent:  # the sweep's engine options over the caller's config or the default
            engine = {"progress": False, **self.engine}
            own_config = own.get("config")
            options["config"] = configured(own_config, options["config"], engine)
        if "progress" in options:  # a solver's own bar (the sweep shows one over its units)
            options["progress"] = False
        return options

    def fixed_options(self, method: str) -> dict:
        """``method_options`` with the value of every one-candidate grid of ``weight_chain``
        set (a grid of one value is that value, without a search): the options a unit runs
        with before its searched weights are chosen, and what ``resolved`` records."""
        options = self.method_options(method)
        for name in self.weight_chain(method):
            grid = self.grid(name)
            if grid and not is_search(grid):  # one candidate: set, not searched
                options = get_method(name).tuned.apply(options, grid[0])
        return options

    def idle_options(self, method: str) -> set[str]:
        """The options of ``method`` that change nothing in this sweep (``Method.idle_options``
        of its ``fixed_options`` under every candidate of its grid, with the sweep's noise and
        operator: iagan's ``discrepancy`` at noise_std 0, its ``blend`` without Inpainting):
        ``resolved`` leaves them out, and ``differences`` a saved sweep's too."""
        return get_method(method).idle_options(
            self.fixed_options(method),
            noise_std=self.noise_std,
            operator=self.operator_class(),
            grid=self.grid(method),
        )

    def units(self) -> list[tuple[Any, str, int]]:
        """All (x, method, first image) work units, in a fixed order."""
        return [
            (x, method, b)
            for x in self.x_values
            for method in self.methods
            for b in range(0, self.n_images, self.batch_size)
        ]

    # -- recorded form ------------------------------------------------------------------------
    def resolved(self) -> dict:
        """Every setting a row depends on, defaults included: the full engine configuration,
        the method and solver defaults and the seeding protocol (recorded in ``sweep.json``)."""
        from ..baselines import lasso_fista
        from ..solvers.csgm import csgm_sparse

        def defaults(fn, **names: str) -> dict:
            params = inspect.signature(fn).parameters
            return {key: params[name].default for key, name in names.items()}

        resolved = {
            "protocol": PROTOCOL,
            "engine": self.fixed_options("csgm")["config"],
            "sparse_basis": self.sparse_basis,
            "sparse_l1": self.sparse_l1,
            "lasso_solver": get_method("lasso").defaults["solver"],
            "lasso_fista": defaults(lasso_fista, max_iter="max_iter", tol="tol"),
            "csgm_sparse": defaults(csgm_sparse, max_iter="lasso_max_iter", tol="lasso_tol"),
        }
        # progress bars are no setting (as LatentConfig's progress is not recorded), nor is an
        # option idle in this sweep (recorded as if it acted)
        dropped = {
            m: {"progress", *self.idle_options(m)} for m in self.methods if m not in LEGACY_METHODS
        }
        others = {
            m: {k: v for k, v in self.fixed_options(m).items() if k not in drop}
            for m, drop in dropped.items()
        }
        if others:
            resolved["methods"] = others
        return _json(resolved)

    def to_json(self) -> dict:
        """The spec as saved in ``sweep.json``, with its ``resolved`` settings."""
        return {**_json(dataclasses.asdict(self)), "resolved": self.resolved()}

    def differences(self, saved: Mapping, *, explain: bool = False) -> list[str]:
        """The settings in which a saved ``sweep.json`` differs from this spec (fields it
        predates count as defaults; settings of methods the sweep does not run are ignored).
        ``explain``: each as ``"field (the flags that set it): saved X, now Y"``."""
        moved = _moved_files(saved, self.to_json())  # (before upgrade drops the inputs)
        saved = upgrade(saved)
        now = self.to_json()
        if not set(saved) <= set(now):
            return sorted(set(saved) - set(now))
        defaults = _json(
            {
                f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(self)
                if f.default is not dataclasses.MISSING
                or f.default_factory is not dataclasses.MISSING
            }
        )
        full = {k: saved.get(k, defaults.get(k)) for k in now}
        if isinstance(full.get("options"), dict):  # (an option at its default is no setting)
            full["options"] = _json(_without_defaults(_respelled(full["options"])))
        full["resolved"] = _with_predated_options(full.get("resolved") or {})
        if isinstance(full["resolved"].get("methods"), dict):
            full["resolved"]["methods"] = _json(_respelled(full["resolved"]["methods"]))
            # an option idle in this sweep is no setting (``resolved`` leaves it out): a folder
            # that recorded it (written before, or at another noise: that field differs) is
            # compared without it
            for method, given in full["resolved"]["methods"].items():
                if method in self.methods and isinstance(given, dict):
                    idle = self.idle_options(method)
                    full["resolved"]["methods"][method] = {
                        k: v for k, v in given.items() if k not in idle
                    }
        for part in (full.get("options"), full["resolved"].get("methods")):
            for (method, option), path in moved.items():
                if isinstance(part, dict) and isinstance(part.get(method), dict):
                    if part[method].get(option) in _moved_from(saved, method, option):
                        part[method][option] = path
        a, b = _relevant(now, now["methods"]), _relevant(full, full.get("methods") or [])
        ra, rb = a.get("resolved") or {}, b.get("resolved") or {}
        a["engine"], b["engine"] = _without_resolved_engine(
            a.get("engine"), b.get("engine"), ra, rb
        )
        diff = [k for k in now if k != "resolved" and a.get(k) != b.get(k)]
        diff += [f"resolved {k}" for k in sorted(set(ra) | set(rb)) if ra.get(k) != rb.get(k)]
        if explain:
            parts = {k: _explained(k, b, a, ra, rb) for k in diff}  # (label, saved, now)
            for key, resolved in (("options", "resolved methods"), ("engine", "resolved engine")):
                if key in parts and resolved in parts:  # a flag left out: the default it ran
                    _, old, new = parts[key]
                    _, rold, rnew = parts[resolved]
                    old, new = _filled(old, rold, new), _filled(new, rnew, old)
                    parts[key] = (_label(key, old, new), old, new)
                    if _covers(old, rold) and _covers(new, rnew):
                        del parts[resolved]  # (it would say the same again)
            if "engine" in parts:  # (the engine again, as each latent method's config)
                _, eold, enew = parts["engine"]
                _prune_resolved_methods(
                    parts,
                    lambda method, key, v: key == "config" and _covers(eold, v),
                    lambda method, key, v: key == "config" and _covers(enew, v),
                )
            if "grids" in parts:  # (a grid sets its option: that option's default never runs)
                changed = {
                    k for side in parts["grids"][1:] if isinstance(side, Mapping) for k in side
                }
                tuned = {r.name: r.tuned.option for r in _grid_records(changed)}

                def gridded(method: str, key: str, value: Any) -> bool:
                    return tuned.get(method) == key

                _prune_resolved_methods(parts, gridded, gridded)
            told = [p[1:] for k, p in parts.items() if not k.startswith("resolved ")]
            diff = [  # (a resolved default that changed as a field above did: said once)
                line
                for k, (label, old, new) in parts.items()
                if not (k.startswith("resolved ") and (old, new) in told)
                for line in _per_flag(k, old, new, b, a)
                or [f"{label}: saved {_short(old)}, now {_short(new)}"]
            ]
        return diff

    def matches(self, saved: Mapping) -> bool:
        """Whether a saved ``sweep.json`` is this spec (fields it predates must be defaults)."""
        return not self.differences(saved)

    def grows(self, saved: Mapping) -> bool:
        """Whether this spec is a saved one with more x values, methods or images (and nothing
        else changed), so every finished row stays valid: a row depends only on its image, x,
        method and the unchanged fields (its seeds derive from the image's identity, so any
        number of images may be added). A method added brings its own settings."""
        inputs = _inputs_of(saved)
        saved = upgrade(saved)
        if not all(k in saved for k in GROWN):
            return False
        if not self.matches({**self._grown(saved), **inputs}):
            return False
        return not self._shrunk(saved)

    def _shrunk(self, saved: Mapping) -> list[str]:
        """The fields of GROWN in which this spec does not grow ``saved`` (fewer x values,
        methods or images than it holds)."""
        out = []
        if not set(saved["x_values"]) <= set(self.x_values):
            out.append("x_values")
        if not set(saved["methods"]) <= set(self.methods):
            out.append("methods")
        if not saved["n_images"] <= self.n_images:
            out.append("n_images")
        return out

    def blocking_differences(self, saved: Mapping) -> list[str]:
        """Why this spec cannot resume or grow a saved ``sweep.json``, explained
        (``differences(explain=True)``): the settings that differ once the allowed growth (more
        x values, methods with their settings, images) is set aside, and a GROWN field only where
        it shrinks."""
        inputs = _inputs_of(saved)
        saved = upgrade(saved)
        if not all(k in saved for k in GROWN):
            return self.differences(saved, explain=True)
        return [self._explain_shrunk(k, saved) for k in self._shrunk(saved)] + (
            self.differences({**self._grown(saved), **inputs}, explain=True)
        )

    def _explain_shrunk(self, key: str, saved: Mapping) -> str:
        """A GROWN field this spec shrinks, as what the folder holds that this run drops and
        how to keep it (a resumed sweep keeps every row it holds and may only add)."""
        flag = FIELD_FLAGS.get(key, key)
        axis = getattr(REGISTRY.get(self.operator), "axis", None)
        if key == "x_values" and axis is not None:  # (this operator's own flag: --m)
            flag = axis.flag
        if key == "n_images":
            return (
                f"n_images ({flag}): the folder holds {saved['n_images']} images, this run asks "
                f"{self.n_images}; a resumed sweep may add images, not drop them: pass at least "
                f"n_images={saved['n_images']} ({flag} {saved['n_images']})"
            )
        asked = list(_json(list(getattr(self, key))))
        dropped = [v for v in saved[key] if v not in asked]
        keep = ",".join(  # (the folder's values in its order, then those this run adds)
            str(v) for v in list(saved[key]) + [v for v in asked if v not in saved[key]]
        )
        return (
            f"{key} ({flag}): the folder holds {', '.join(map(str, dropped))} too, which this "
            f"run drops; a resumed sweep may add {key.replace('_', ' ')}, not drop them: pass "
            f"all of them (e.g. {keep})"
        )

    def in_saved_order(self, saved: Mapping) -> SweepSpec:
        """This spec with each grid that holds a saved grid's candidates in another order
        taken in the saved order: the candidates are the same search (the order only breaks
        exact ties, first listed first), so a resumed sweep keeps the order its weight
        searches ran in rather than being refused as another sweep."""
        saved = upgrade(saved)

        def ordered(now: tuple, before: Any) -> tuple:
            if not isinstance(before, list) or len(before) != len(now):
                return now
            keys = [json.dumps(v, sort_keys=True) for v in _json(list(now))]
            want = [json.dumps(v, sort_keys=True) for v in before]
            if sorted(keys) != sorted(want) or keys == want:
                return now
            return tuple(now[keys.index(k)] for k in want)

        changes = {
            name: ordered(getattr(self, name), saved.get(name)) for name in LEGACY_GRIDS.values()
        }
        grids = saved.get("grids") if isinstance(saved.get("grids"), Mapping) else {}
        changes["grids"] = {k: ordered(v, grids.get(k)) for k, v in self.grids.items()}
        return dataclasses.replace(self, **changes)

    def _grown(self, saved: Mapping) -> dict:
        """``saved`` grown into this spec: its GROWN fields and the settings of the methods
        this spec adds taken from this spec, everything else as saved."""
        now = self.to_json()
        grown = {**saved, **{k: now[k] for k in GROWN}}
        old = set(saved["methods"])
        new = set(self.methods) - old
        res = dict(saved.get("resolved", {}))
        added = {m: v for m, v in now["resolved"].get("methods", {}).items() if m in new}
        if added:
            res["methods"] = {**res.get("methods", {}), **added}
        grown["options"] = {
            **saved.get("options", {}),
            **{m: v for m, v in now["options"].items() if m in new},
        }
        kept = _tuned_keys(old)  # a grid only the added methods tune comes with them
        grown["grids"] = {
            **saved.get("grids", {}),
            **{k: v for k, v in now["grids"].items() if k not in kept},
        }
        for name, used in _USED_BY.items():  # named fields only the added methods use
            if used(self.methods, now.get("options")) and not used(old, saved.get("options")):
                if name in now:
                    grown[name] = now[name]
                if name in now["resolved"]:
                    res[name] = now["resolved"][name]
        # a method this spec drops (refused: _shrunk) brings no settings to compare: the refusal
        # names it once, not again as each of its options, grids and resolved defaults
        runs = set(self.methods)
        grown["options"] = {m: v for m, v in grown["options"].items() if m in runs}
        if isinstance(res.get("methods"), Mapping):
            res["methods"] = {m: v for m, v in res["methods"].items() if m in runs}
            if not res["methods"]:  # (as a spec of methods with no resolved defaults says it)
                res["methods"] = now["resolved"].get("methods")
        dropped = _tuned_keys(old - runs) - _tuned_keys(runs)
        grown["grids"] = {k: v for k, v in grown["grids"].items() if k not in dropped}
        grown["resolved"] = res
        return grown


def _with_predated_options(resolved: Mapping) -> dict:
    """Saved resolved settings with each method option they predate at its registered default:
    an option is only ever added with a default that reproduces the earlier behaviour, so a
    folder written before it existed was made with that default."""
    methods = resolved.get("methods")
    if not methods:
        return dict(resolved)
    filled = {}
    for name, options in methods.items():
        defaults = _json(METHODS[name].defaults) if name in METHODS else {}
        defaults.pop("progress", None)
        filled[name] = {**{k: v for k, v in defaults.items() if k not in options}, **options}
    return {**resolved, "methods": filled}


def _chain(method: str) -> list:
    """A method's record and those it starts from."""
    record = get_method(method)
    return [record] + (_chain(record.starts_from) if record.starts_from else [])


def _tuned_keys(methods) -> set[str]:
    """The grids (tuned keys) the weight searches of ``methods`` read."""
    return {r.tuned.key for m in methods for r in _chain(m) if r.tuned is not None}


def _uses_key(key: str):
    return lambda methods, options=None: key in _tuned_keys(methods)


def _runs(*names: str):
    return lambda methods, options=None: any(m in names for m in methods)


def _generator_users(methods, options: Mapping | None = None) -> list:
    """The records of ``methods`` (and of the methods they start from) that use G with
    ``options`` ({method: its options}; gaussian with a samples file uses none), in order."""
    options = options if isinstance(options, Mapping) else {}

    def uses(record, given) -> bool:
        try:
            return record.uses_generator(given if isinstance(given, Mapping) else None)
        except (TypeError, ValueError):  # (a saved option no longer known: it may use G)
            return True

    return [
        r
        for m in methods
        if m in METHODS
        for r in _chain(m)
        if uses(r, options.get(m) if r.name == m else None)
    ]


def _needs_generator(methods, options: Mapping | None = None) -> bool:
    """Whether any of ``methods`` (or a method it starts from) uses G with ``options``."""
    return bool(_generator_users(methods, options))


def _runs_latent(methods, options=None) -> bool:
    """Whether any of ``methods`` (or a method it starts from) runs the latent engine."""
    return any(r.latent for m in methods if m in METHODS for r in _chain(m))


#: The named fields (and ``resolved`` entries) that only some methods read, and which: a
#: setting of a method the sweep does not run is no difference, and comes with the method.
_USED_BY = {
    **{field: _uses_key(key) for key, field in LEGACY_GRIDS.items() if key != "engine"},
    **{f: _runs(m) for m, fields in LEGACY_OPTIONS.items() for f in fields.values()},
    "generator": _needs_generator,  # (a folder of Lasso alone grows by csgm with its G)
    "engine": _runs_latent,  # (a folder of gaussian / lasso alone grows with csgm's engine)
    "engine_grid": _runs_latent,
    "csgm_sparse": _runs("csgm-sparse"),
    "lasso_solver": _uses_key("lam"),
    "lasso_fista": _uses_key("lam"),
}


def _without_resolved_engine(now: Any, saved: Any, ra: Mapping, rb: Mapping) -> tuple[Any, Any]:
    """The two ``engine`` fields without the settings given on one side only at the value
    every latent configuration of both resolved records holds (``--lr 0.01`` where the saved
    sweep ran lr = 0.01 unset): the same engine, as an option at its default is no setting."""
    if not isinstance(now, Mapping) or not isinstance(saved, Mapping):
        return now, saved
    configs = [r.get("engine") for r in (ra, rb)]
    for r in (ra, rb):
        methods = r.get("methods") or {}
        configs += [m.get("config") for m in methods.values() if isinstance(m, Mapping)]
    configs = [c for c in configs if isinstance(c, Mapping)]
    now, saved = dict(now), dict(saved)
    for key in set(now) ^ set(saved):
        value = now.get(key, saved.get(key))
        if configs and all(key in c and c[key] == value for c in configs):
            now.pop(key, None)
            saved.pop(key, None)
    return now, saved


def _relevant(spec: Mapping, methods) -> dict:
    """``spec`` (a sweep.json) with the named fields its methods do not read set to None."""
    methods = [m for m in methods if m in METHODS]  # a saved method no longer registered
    out = dict(spec)
    resolved = dict(out.get("resolved") or {})
    for name, used in _USED_BY.items():
        if not used(methods, spec.get("options")):
            if name in out:
                out[name] = None
            if name in resolved:
                resolved[name] = None
    out["resolved"] = resolved
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 0 <= K < N."""
    try:
        k, n = (read_number(v, int) for v in text.split("/"))
    except ValueError as err:
        raise ValueError(f"shard must look like K/N (e.g. 0/2), got {text!r}") from err
    if not 0 <= k < n:
        raise ValueError(f"shard K/N needs 0 <= K < N, got {text!r}")
    return k, n


__all__ = ["PROTOCOL", "SweepSpec", "make_spec", "parse_shard", "upgrade"]


def make_spec(
    *, grids: Mapping[str, tuple] | None = None, options: Mapping[str, dict] | None = None, **fields
) -> SweepSpec:
    """A ``SweepSpec`` from grids by tuned-weight key and options by method, each placed in its
    field (the named fields for the first methods, ``grids`` / ``options`` for the rest)."""
    generic_grids, generic_options = {}, {}
    for key, values in (grids or {}).items():
        if key in LEGACY_GRIDS:
            fields[LEGACY_GRIDS[key]] = tuple(values)
        else:
            generic_grids[key] = tuple(values)
    for method, given in (options or {}).items():
        legacy = LEGACY_OPTIONS.get(method, {})
        rest = {}
        for option, value in given.items():
            if option in legacy:
                fields[legacy[option]] = value
            else:
                rest[option] = value
        if rest:
            generic_options[method] = rest
    return SweepSpec(**fields, grids=generic_grids, options=generic_options)


#: The command-line flags that set each field of a sweep's settings (for error messages).
FIELD_FLAGS = {
    "x_values": "--m / --factor / --mask ...",
    "methods": "--methods",
    "operator": "--operator",
    "generator": "--generator",
    "discriminator": "--discriminator",
    "dataset": "--dataset",
    "data_root": "--data-root",
    "split": "--split",
    "start": "--start",
    "n_images": "--n-images",
    "noise_std": "--noise-std",
    "batch_size": "--batch-size",
    "n_val": "--n-val",
    "val_start": "--val-start",
    "seed": "--seed",
    "engine": "--steps, --restarts, --lr, --lambda-z, --tol, --prune-at",
    "sparse_basis": "--sparse-basis",
    "lasso_lambdas": "--lasso-lambdas",
    "engine_grid": "--lambda-z-grid / --engine-grid",
    "grids": "the weight grid flags",
    "options": "the method option flags",
}


def _plain(value: Any) -> Any:
    """``value`` with every 0-d tensor and numpy scalar in it (in tuples, lists and dicts) as
    its Python number (``plain_number``), as ``LatentConfig`` takes them: sweep.json records
    numbers (a tensor of another shape is left to the field's own check, which names it)."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return plain_number(value)


#: The latent engine's settings (``LatentConfig``'s fields): a latent method's options may
#: hold them as keywords (``gi.csgm(G, A, y, lambda_z=0.01)``).
ENGINE_OPTIONS = {f.name for f in fields(LatentConfig)}


def set_by_every(candidates) -> set:
    """The engine settings every candidate of an engine grid sets (a number sets lambda_z)."""
    sets = [set(c) if isinstance(c, Mapping) else {"lambda_z"} for c in candidates]
    return set.intersection(*sets) if sets else set()


def _short(value: Any) -> str:
    """``value`` as JSON, cut to 160 characters."""
    return _cut(json.dumps(value, sort_keys=True, default=str))


def _cut(text: str) -> str:
    return text if len(text) <= 160 else text[:157] + "..."


def _option_flags(changed: Any) -> str | None:
    """The flags of the method options in ``changed`` (method -> {option: value}), e.g.
    ``--iagan-tv``; None where one has none (the field's own label is used then)."""
    flags = []
    for method, options in (changed if isinstance(changed, Mapping) else {}).items():
        record = METHODS.get(method)
        for option in options if isinstance(options, Mapping) else ():
            flag = record.flags.get(option) if record is not None else None
            if flag is None:
                return None
            flags.append(flag.flag)
    return ", ".join(dict.fromkeys(flags)) or None


def _grid_records(keys: Any = None) -> list:
    """The method records with a weight grid (``Tuned``), those whose grid key is in ``keys``
    when given: each grid's flag, default grid and option from one place."""
    return [r for r in METHODS.values() if r.tuned and (keys is None or r.tuned.key in keys)]


def _prune_resolved_methods(parts: dict, drop_saved: Callable, drop_now: Callable) -> None:
    """``parts["resolved methods"]`` (label, saved, now) without each method's setting that
    ``drop_saved`` / ``drop_now``(method, key, value) says another part already tells; the part
    removed once nothing is left."""
    if "resolved methods" not in parts:
        return
    label, old, new = parts["resolved methods"]
    old, new = _without(old, drop_saved), _without(new, drop_now)
    if old or new:
        parts["resolved methods"] = (label, old, new)
    else:
        del parts["resolved methods"]


def _filled(value: Any, resolved: Any, like: Any = None) -> Any:
    """``value`` (a difference of a field as given) with each setting left out (None) replaced
    by the one it resolved to: the default the run used. ``like``: the other side; a method left
    out takes the settings it names (the rest of what it resolved to: the resolved line's)."""
    if value is None and isinstance(like, Mapping) and isinstance(resolved, Mapping):
        return {k: _filled(None, resolved.get(k), v) for k, v in like.items()}
    if value is None:
        return resolved
    if isinstance(value, Mapping):
        other = resolved if isinstance(resolved, Mapping) else {}
        like = like if isinstance(like, Mapping) else {}
        return {k: _filled(v, other.get(k), like.get(k)) for k, v in value.items()}
    return value


def _covers(value: Any, resolved: Any) -> bool:
    """Whether every setting of ``resolved`` appears in ``value`` with the same value."""
    if isinstance(resolved, Mapping):
        return isinstance(value, Mapping) and all(
            k in value and _covers(value[k], v) for k, v in resolved.items()
        )
    return value == resolved


def _without(methods: Any, drop: Callable) -> Any:
    """A difference of the resolved methods ({method: {setting: value}}) without each setting
    for which ``drop(method, setting, value)`` holds, and without methods left empty."""
    if not isinstance(methods, Mapping):
        return methods
    out = {}
    for name, value in methods.items():
        if isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if not drop(name, k, v)}
        if value:
            out[name] = value
    return out


#: The engine settings' flags (a changed engine names those of the settings that changed).
ENGINE_FLAGS = {
    "steps": "--steps",
    "restarts": "--restarts",
    "lr": "--lr",
    "lambda_z": "--lambda-z",
    "tol": "--tol",
    "prune_at": "--prune-at",
}


def _respelled(options: Mapping) -> dict:
    """Saved {method: options} with each option in its one spelling of today
    (``Method.spellings``): a folder written before a spelling existed (a samples file saved
    as the relative path it was given, now its absolute path) resumes with the same setting."""

    def spelled(record: Any, given: Mapping) -> dict:
        try:
            return {
                **given,
                **record.spelled({k: given[k] for k in record.spellings if k in given}),
            }
        except (TypeError, ValueError):  # (a saved value the spelling refuses: compared as is)
            return dict(given)

    return _each_method(options, spelled)


def _inputs_of(saved: Mapping) -> dict:
    """A saved sweep.json's record of its input files (``rows.INPUTS``), which ``upgrade``
    drops with the other marks: a grown spec's comparison still needs it (``_moved_files``)."""
    from .rows import INPUTS

    return {INPUTS: saved[INPUTS]} if INPUTS in saved else {}


def _moved_from(saved: Mapping, method: str, option: str) -> set:
    """The paths a saved spec gives ``method``'s file option (its options and resolved ones)."""
    found = set()
    for part in (saved.get("options"), (saved.get("resolved") or {}).get("methods")):
        if isinstance(part, Mapping) and isinstance(part.get(method), Mapping):
            value = part[method].get(option)
            if isinstance(value, str):
                found.add(value)
                found.add(_respelled({method: {option: value}})[method][option])
    return found


def _moved_files(saved: Mapping, now: Mapping) -> dict:
    """{(method, option): the path now} for each file option (``Method.file_options``) whose
    file now lies at another path but holds the bytes the saved sweep recorded (its
    ``inputs`` fingerprint): a project moved or a file renamed resumes; a folder without a
    fingerprint compares the paths."""
    recorded = saved.get("inputs") or {}
    moved = {}
    for method, given in (now.get("options") or {}).items():
        record = METHODS.get(method)
        for option in record.file_options if record and isinstance(given, Mapping) else ():
            path, key = given.get(option), f"file {method} {option}"
            if (
                not isinstance(path, str)
                or key not in recorded
                or path in _moved_from(saved, method, option)
            ):
                continue
            try:
                if file_fingerprint(path) == recorded[key]:
                    moved[(method, option)] = path
            except OSError:
                continue
    return moved


def _label(key: str, old: Any, new: Any) -> str:
    """``key`` as "key (the flags that set what changed in it)": a method option's, a weight
    grid's or an engine setting's own flag where each changed one has one, else the field's."""
    both = {
        **(old if isinstance(old, Mapping) else {}),
        **(new if isinstance(new, Mapping) else {}),
    }
    flags = None
    if key == "options":
        flags = _option_flags(both)
    elif key == "grids" and both:
        grid_flags = {r.tuned.key: r.tuned.flag for r in _grid_records()}
        if all(k in grid_flags for k in both):
            flags = ", ".join(dict.fromkeys(grid_flags[k] for k in both))
    elif key == "engine" and both and all(k in ENGINE_FLAGS for k in both):
        flags = ", ".join(ENGINE_FLAGS[k] for k in both)
    flags = flags or FIELD_FLAGS.get(key)
    return f"{key} ({flags})" if flags else key


#: Fields whose default is not the spec's everywhere, so a value equal to the spec's is not
#: marked "(the default)" in a refusal: the split (a folder's is "all"), n_val (tune's is 20).
UNMARKED_DEFAULTS = ("split", "n_val")


def _per_flag(key: str, old: Any, new: Any, saved: Mapping, now: Mapping) -> list[str] | None:
    """A difference of a method option, engine setting or weight grid as the command line says
    it, one "flag: saved X, now Y" per flag (``--iagan-tv: saved 0.3, now 0.2``; a long grid's
    entries as ``--lambda-z-grid entry 26``); None where a setting in it has no flag of its own or
    no typed form (then the field's JSON is shown). ``saved`` / ``now``: the two specs."""
    flag = FIELD_FLAGS.get(key, "")
    if key not in LEGACY_GRIDS.values() and re.fullmatch(r"--[a-z0-9-]+", flag):
        words = [_typed(v) for v in (old, new)]  # (a field of its own flag: --noise-std)
        if None in words:
            return None
        spec_field = {f.name: f for f in dataclasses.fields(SweepSpec)}.get(key)
        if key not in UNMARKED_DEFAULTS and spec_field is not None:
            words = [  # (marked as the options' defaults are: --noise-std: saved 0.1 (the default))
                w + " (the default)" if v is not None and v == spec_field.default else w
                for w, v in zip(words, (old, new), strict=True)
            ]
        return [f"{flag}: saved {words[0]}, now {words[1]}"]
    if key == "engine_grid":  # (as --lambda-z-grid only: the field's line is what tune rewrites
        # in its own flags, tuning._tune_differences, and tune has no --engine-grid)
        grids = [*(saved.get(key) or []), *(now.get(key) or [])]
        if not all(isinstance(c, Mapping) for c in grids):
            return None
        if not all(set(c) == {"lambda_z"} for c in grids):  # (as --engine-grid takes them)
            words = [
                ";".join(map(typed_candidate, side.get(key) or [])) or "none (the default)"
                for side in (saved, now)
            ]
            return [f"--engine-grid: saved {words[0]}, now {words[1]}"]
        old, new = _lambda_z(old), _lambda_z(new)
    methods = [*(saved.get("methods") or []), *(now.get("methods") or [])]
    said: dict[str, str] = {}
    for path, a, b in _leaves(old, new):
        flag = _flag(key, path)
        words = [_typed(v) for v in (a, b)]
        if flag is None or None in words:
            return None
        for i, v in enumerate((a, b)):
            if _is_default(key, path, v, methods):
                words[i] += " (the default)"
            elif v is None and key == "grids" and len(path) == 1:  # (its default grid searched)
                for r in _grid_records({path[0]}):
                    if r.tuned.grid:
                        words[i] = f"not given (the default grid {_typed(list(r.tuned.grid))})"
            elif v is None:
                words[i] = _not_given(key, path, methods)
            elif key == "engine_grid" and not path and v == []:  # (no search: the default)
                words[i] += " (the default)"
        line = f"{flag}: saved {words[0]}, now {words[1]}"
        if said.setdefault(flag, line) != line:  # (one flag, two values: two methods' options)
            return None
    return list(said.values()) or None


def _leaves(old: Any, new: Any, path: tuple = ()) -> list[tuple[tuple, Any, Any]]:
    """Two sides of a difference as (path, saved, now) of each setting in them, through every
    dict (a dict against None: its settings against None, not given)."""
    if old is new is None or not all(v is None or isinstance(v, Mapping) for v in (old, new)):
        return [(path, old, new)]
    old, new = old or {}, new or {}
    return [leaf for k in {**old, **new} for leaf in _leaves(old.get(k), new.get(k), (*path, k))]


def _flag(key: str, path: tuple) -> str | None:
    """The flag that sets the setting at ``path`` of field ``key``'s difference (a method
    option's, an engine setting's, a weight grid's with the entry: ``--iagan-steps-grid entry
    3``), or None."""
    if key == "options":
        record = METHODS.get(path[0]) if len(path) == 2 else None
        flag = record.flags.get(path[1]) if record is not None else None
        return flag.flag if flag is not None else None
    if key == "engine":
        return ENGINE_FLAGS.get(path[0]) if len(path) == 1 else None
    if key == "grids" and path:  # ({tuned key: grid}; the named fields: the grid itself)
        key, path = path[0], path[1:]
    else:
        key = {name: k for k, name in LEGACY_GRIDS.items()}.get(key)
    flags = {r.tuned.key: r.tuned.flag for r in _grid_records()}
    flags["engine"] = "--lambda-z-grid"  # (an engine grid of λ_z alone: _per_flag)
    entry = re.fullmatch(r"\[(\d+)(:?)\]", path[0]) if len(path) == 1 else None
    if key not in flags or len(path) > 1 or (path and entry is None):
        return None
    if entry is None:
        return flags[key]
    first = int(entry[1]) + 1  # (1-based, as the CLI's "entry 2 of 2"; "[12:]": 13 on)
    return f"{flags[key]} entries {first} on" if entry[2] else f"{flags[key]} entry {first}"


def _lambda_z(value: Any) -> Any:
    """An engine grid's difference with each candidate {"lambda_z": v} as v (``--lambda-z-grid``
    takes the values alone)."""
    if isinstance(value, list):
        return [_lambda_z(v) for v in value]
    if isinstance(value, Mapping):
        if set(value) == {"lambda_z"}:
            return value["lambda_z"]
        return {k: _lambda_z(v) for k, v in value.items()}
    return value


def _typed(value: Any) -> str | None:
    """A setting as its flag takes it: 0.3, 1e-05, 500, true, text, a list as 1,2 (empty: none);
    None (left out) as "not given"; None where it has no such form (a dict, a nested list)."""
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list) and all(isinstance(v, (int, float, str)) for v in value):
        return _cut(",".join(map(_typed, value)) or "none")
    return None


def _defaults(key: str, path: tuple, methods) -> list:
    """Today's defaults of the method option or engine setting at ``path`` (an engine
    setting's: one per latent method of ``methods``); [] where it has none."""
    try:
        if key == "options":
            record = METHODS[path[0]]
            return [_json(record.spelled({path[1]: record.defaults[path[1]]}))[path[1]]]
        if key == "engine":
            records = [METHODS[m] for m in dict.fromkeys(methods) if m in METHODS]
            return [_json(r.defaults["config"])[path[0]] for r in records if r.latent]
    except (KeyError, TypeError, ValueError):
        pass
    return []


def _is_default(key: str, path: tuple, value: Any, methods) -> bool:
    """Whether ``value`` is today's default of the method option or engine setting at ``path``
    (an engine setting's: in every latent method of ``methods``; a left-out setting is shown as
    the value it ran, ``_filled``, which is then "the default" only where this says so)."""
    defaults = _defaults(key, path, methods)
    return (
        value is not None
        and bool(defaults)
        and all(isinstance(d, bool) == isinstance(value, bool) and d == value for d in defaults)
    )


def _not_given(key: str, path: tuple, methods) -> str:
    """A setting the spec holds as None: its default where it has one, as a default given is
    written too (``--d-weight: saved 0.0 (the default), now 0.1``: a spec stores a default,
    given or not, as nothing), else "not given"."""
    defaults = [_typed(d) for d in _defaults(key, path, methods)]
    if defaults and None not in defaults and len(set(defaults)) == 1:
        return f"{defaults[0]} (the default)"
    return "not given"


def _explained(
    key: str, saved: Mapping, now: Mapping, ra: Mapping, rb: Mapping
) -> tuple[str, Any, Any]:
    """``key`` of ``differences`` as (label "key (its flags)", saved, now): the values as only
    what differs in them (a short grid whole; a long one as the entries that changed)."""

    def changed(x: Any, y: Any) -> tuple[Any, Any]:
        """Two dicts as only the keys that differ, at every depth (options → method → option:
        the option that changed is named, not cut off inside its method's settings)."""
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            pairs = {
                k: changed(x.get(k), y.get(k))
                for k in sorted(set(x) | set(y), key=str)
                if x.get(k) != y.get(k)
            }
            return {k: a for k, (a, _) in pairs.items()}, {k: b for k, (_, b) in pairs.items()}
        if isinstance(x, list) and isinstance(y, list) and len(_short(x)) + len(_short(y)) <= 160:
            return x, y  # (a short grid whole: "saved [0.1, 0.01], now [0.1, 0.001]")
        if isinstance(x, list) and isinstance(y, list) and len(x) == len(y) and len(x) > 1:
            # (a long grid: only its entries that differ, by index, e.g. {"[25]": 0.008})
            pairs = {
                f"[{i}]": changed(a, b) for i, (a, b) in enumerate(zip(x, y, strict=True)) if a != b
            }
            return {k: a for k, (a, _) in pairs.items()}, {k: b for k, (_, b) in pairs.items()}
        if isinstance(x, list) and isinstance(y, list) and len(x) != len(y):
            # (a grid grown or cut: from the first entry that differs on)
            i = next(
                i
                for i in range(min(len(x), len(y)) + 1)
                if i >= min(len(x), len(y)) or x[i] != y[i]
            )
            if i:
                return {f"[{i}:]": x[i:]}, {f"[{i}:]": y[i:]}
        return x, y

    if key.startswith("resolved "):
        old, new = changed(rb.get(key[len("resolved ") :]), ra.get(key[len("resolved ") :]))
        return f"{key} (the defaults the flags left)", old, new
    old, new = changed(saved.get(key), now.get(key))
    return _label(key, old, new), old, new
