"""The attacks of ``ganinverse defend eval``: one :class:`AttackRecord` per column kind.

A record says everything the evaluation and the command line need about an attack: its token
(``pgd`` in ``--attacks pgd:0.3``), its column label, the balls it supports, whether it attacks
the defense itself (adaptive), what it is on a row without a defense, and a factory that builds
the :class:`~ganinverse.defense.attacks.Attack` for one row. Adding an attack is its class and
one :func:`register_attack` call::

    def _my_attack(c: AttackContext) -> Attack:
        return MyAttack(c.classifier, c.eps, norm=c.norm, steps=c.settings.pgd_steps)

    register_attack(AttackRecord("mine", "Mine", _my_attack))

The built-in records are at the end of this module, in the order of the CLI help:

- ``fgsm``, ``pgd``: white-box on the classifier f. For a defended row they are computed on f
  and then pass through the defense D (the defense-oblivious threat model of Defense-GAN).
- ``bpda``: BPDA-PGD through D (Athalye et al.); ``eot``: the same with a resampling D and
  ``eot_samples`` projections per gradient. Adaptive; without a defense both are ``pgd``.
- ``latent``: :class:`~ganinverse.defense.LatentAttack` on f (an image near a misclassified
  G(z)).
- ``bpda_tangent``: PGD through D with the tangent-space backward ∂D/∂x ≈ J (JᵀJ)⁻¹Jᵀ at ẑ
  (``ProjectionDefense(gradient="tangent")``) instead of BPDA's identity. Adaptive; without a
  defense it is ``pgd``.
- ``eot_restarts``: PGD whose gradient is Expectation over Transformation over the R restarts
  of ONE projection, (1/R) Σ_r P_r ∇ℓ(f)|_{D_r(x)}, P_r the tangent projection at restart r's
  ẑ_r (:class:`~ganinverse.defense.adaptive.RestartEOTPGD`; Athalye, Engstrom, Ilyas, Kwok
  2018). One projection per step, like ``bpda``. Adaptive; without a defense it is ``pgd``.
- ``unrolled``: PGD through the projection with its last ``settings.unroll_steps`` optimiser
  updates differentiated exactly by autograd (:func:`~ganinverse.defense.adaptive
  .unrolled_pgd`; Athalye, Carlini, Wagner 2018, §4.3). Adaptive; without a defense it is
  ``pgd``.

Every adaptive attack runs on the attacker's copy of the defense (the same config, or the
cheaper ``settings.bpda_projection``); its cell is scored with the full defense.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

from .._validation import check_choice
from .adaptive import LatentAttack, RestartEOTPGD, bpda_pgd, unrolled_pgd
from .attacks import FGSM, NORMS, PGD, Attack
from .projection import ProjectionDefense

if TYPE_CHECKING:
    from .evaluate import EvalSettings

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class AttackContext:
    """What a factory builds one row's attack from.

    ``defense`` is the row's projection defense for an adaptive record and None otherwise (a
    non-adaptive attack must not depend on it: its images are shared by the rows with and
    without the defense). ``G`` is the evaluation's generator (None if it has none).
    """

    classifier: nn.Module
    defense: ProjectionDefense | None
    G: nn.Module | None
    eps: float
    norm: str
    settings: EvalSettings


@dataclass(frozen=True)
class AttackRecord:
    """One attack of the evaluation.

    - ``name``: the token of ``--attacks`` (lower case, not ending in ``2``: a trailing ``2``
      selects the L2 ball, as in ``pgd2:4``).
    - ``label``: the column label (``PGD`` -> column ``PGD L2 ε=4``); unique among records.
    - ``factory``: :class:`AttackContext` -> :class:`Attack`.
    - ``adaptive``: the attack differentiates through or queries the defense, so a defended row
      gets its own adversarial images (a non-adaptive attack is computed on the classifier alone
      and its images pass through the defense: the defense-oblivious threat model).
    - ``undefended``: for an adaptive record, the registered non-adaptive attack it equals on a
      row without a defense (BPDA through no defense is PGD); None for a non-adaptive record.
    - ``norms``: the balls it supports, among "inf" and "2".
    - ``needs_generator``: its factory uses ``context.G``.
    - ``settings``: the budget fields of :class:`~ganinverse.defense.evaluate.EvalSettings` its
      factory reads (``("pgd_steps",)``); ``defend eval`` refuses a budget flag that no attack
      of ``--attacks`` reads (an adaptive record's ``undefended`` attack counts: it runs on the
      undefended rows). ``seed``, ``progress`` and ``batch_size`` serve every attack.
    """

    name: str
    label: str
    factory: Callable[[AttackContext], Attack]
    adaptive: bool = False
    undefended: str | None = None
    norms: tuple[str, ...] = NORMS
    needs_generator: bool = False
    settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str (the --attacks token), got {self.name!r}")
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"name must be lower-case letters, digits and '_', starting with a letter, got "
                f"{self.name!r}; e.g. 'pgd'"
            )
        if self.name.endswith("2"):
            raise ValueError(
                f"name {self.name!r} must not end in '2' (pgd2:4 means pgd in the L2 ball); "
                "drop or spell out the final 2"
            )
        if not isinstance(self.label, str):
            raise TypeError(f"label must be a str (the column label), got {self.label!r}")
        if not self.label.strip():
            raise ValueError(f"label of attack {self.name!r} must not be blank, e.g. 'PGD'")
        if not callable(self.factory):
            raise TypeError(
                f"factory of attack {self.name!r} must be callable (AttackContext -> Attack), "
                f"got {type(self.factory).__name__}"
            )
        for flag in ("adaptive", "needs_generator"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} of attack {self.name!r} must be a bool")
        if self.adaptive != isinstance(self.undefended, str):
            raise ValueError(
                f"attack {self.name!r}: an adaptive record must name the attack it is without a "
                "defense (undefended='pgd'), and a non-adaptive one must leave undefended=None; "
                f"got adaptive={self.adaptive}, undefended={self.undefended!r}"
            )
        norms = tuple(self.norms) if isinstance(self.norms, (list, tuple)) else ()
        if not norms or not set(norms) <= set(NORMS):
            raise ValueError(
                f"norms of attack {self.name!r} must be a non-empty tuple of {NORMS}, "
                f"got {self.norms!r}"
            )
        object.__setattr__(self, "norms", norms)
        settings = self.settings
        if isinstance(settings, str) or not all(isinstance(k, str) for k in settings):
            raise TypeError(
                f"settings of attack {self.name!r} must be a tuple of EvalSettings field names "
                f"(e.g. ('pgd_steps',)), got {settings!r}"
            )
        object.__setattr__(self, "settings", tuple(settings))

    def budget_fields(self) -> set[str]:
        """The EvalSettings fields this attack reads on some row: its ``settings`` and (for an
        adaptive record) those of its ``undefended`` attack."""
        fields = set(self.settings)
        if self.adaptive:
            fields |= set(attack_record(self.undefended).settings)
        return fields

    def for_row(self, defended: bool) -> AttackRecord:
        """The record that runs on a row with or without the defense (the one place of the rule
        "an adaptive attack on an undefended row is its ``undefended`` attack")."""
        return self if defended or not self.adaptive else attack_record(self.undefended)

    def build(self, context: AttackContext) -> Attack:
        """The factory's attack for one row; a factory that returns no Attack is a TypeError."""
        attack = self.factory(context)
        if not isinstance(attack, Attack):
            raise TypeError(
                f"the factory of attack {self.name!r} must return an Attack, got "
                f"{type(attack).__name__}; subclass ganinverse.defense.Attack"
            )
        return attack


_REGISTRY: dict[str, AttackRecord] = {}


def register_attack(record: AttackRecord) -> AttackRecord:
    """Add ``record`` as a column kind of :func:`~ganinverse.defense.evaluate_defense` and of
    ``ganinverse defend eval --attacks``; returns it. Names and labels are unique; an adaptive
    record's ``undefended`` must be registered first, non-adaptive, with its norms."""
    if not isinstance(record, AttackRecord):
        raise TypeError(f"record must be an AttackRecord, got {type(record).__name__}")
    if record.name in _REGISTRY:
        raise ValueError(
            f"attack {record.name!r} is already registered; pick another name or call "
            f"unregister_attack({record.name!r}) first"
        )
    clash = [r.name for r in _REGISTRY.values() if r.label == record.label]
    if clash:
        raise ValueError(
            f"label {record.label!r} of attack {record.name!r} is already the label of "
            f"{clash[0]!r}; columns must differ: pick another label"
        )
    if record.adaptive:
        plain = _REGISTRY.get(record.undefended)
        if plain is None or plain.adaptive or not set(record.norms) <= set(plain.norms):
            raise ValueError(
                f"undefended of attack {record.name!r} must be a registered non-adaptive attack "
                f"with norms {record.norms}, got {record.undefended!r}; register it first "
                f"(registered: {', '.join(_REGISTRY)})"
            )
    _REGISTRY[record.name] = record
    return record


def unregister_attack(name: str) -> AttackRecord:
    """Remove the attack ``name`` (e.g. a test's); refused while an adaptive record uses it."""
    attack_record(name)  # an unknown name lists the registered ones
    users = [r.name for r in _REGISTRY.values() if r.undefended == name]
    if users:
        raise ValueError(
            f"attack {name!r} is the undefended form of {', '.join(users)}; unregister those first"
        )
    return _REGISTRY.pop(name)


def attack_record(name: object) -> AttackRecord:
    """The record of a registered attack; an unknown name lists the registered ones (a
    TypeError for a name that is no str)."""
    check_choice(
        name,
        "attack",
        _REGISTRY,
        hint="(a new one is added with ganinverse.defense.register_attack)",
    )
    return _REGISTRY[name]


def registered_attacks() -> tuple[AttackRecord, ...]:
    """Every registered record, in registration order."""
    return tuple(_REGISTRY.values())


# ------------------------------------------------------------------ the built-in attacks
def _fgsm(c: AttackContext) -> Attack:
    return FGSM(c.classifier, c.eps, norm=c.norm)


def _pgd_options(c: AttackContext, steps: int) -> dict:
    """The PGD options every PGD-family record passes: its steps, the row's norm and the
    settings' ``keep_best`` and ``attack_loss`` (one place, so a new PGD option reaches all)."""
    s = c.settings
    return dict(steps=steps, norm=c.norm, keep_best=s.keep_best, loss=s.attack_loss)


def _pgd(c: AttackContext) -> Attack:
    s = c.settings
    return PGD(c.classifier, c.eps, seed=s.seed, **_pgd_options(c, s.pgd_steps))


def _attacker_defense(c: AttackContext, **options: object) -> ProjectionDefense:
    """The attacker's copy of the row's defense: its config, or with ``settings.bpda_projection``
    a cheaper projection (steps, restarts); ``options`` are ProjectionDefense's (resample, ...)."""
    s, config = c.settings, c.defense.config
    if s.bpda_projection is not None:
        config = config.updated(steps=s.bpda_projection[0], restarts=s.bpda_projection[1])
    return ProjectionDefense(c.defense.G, config, **options)


def _bpda(c: AttackContext, *, eot: bool) -> Attack:
    """BPDA-PGD through the attacker's copy of the defense (``settings.bpda_projection``, if
    set, is a cheaper projection); with ``eot`` a resampling one and ``eot_samples`` per step."""
    s = c.settings
    if eot and s.eot_samples == 1:  # (helper-60: the column would say EOT over plain BPDA)
        raise ValueError(
            "eot_samples=1 makes BPDA+EOT the BPDA attack (one projection per gradient, "
            "nothing averaged): pass eot_samples >= 2, or list bpda instead of eot"
        )
    d = _attacker_defense(c, resample=eot)
    samples = s.eot_samples if eot else 1
    return bpda_pgd(d, c.classifier, c.eps, eot_samples=samples, **_pgd_options(c, s.bpda_steps))


def _latent(c: AttackContext) -> Attack:
    s = c.settings
    return LatentAttack(
        c.G,
        c.classifier,
        c.eps,
        norm=c.norm,
        steps=s.latent_steps,
        restarts=s.latent_restarts,
        seed=s.seed,
        progress=s.progress,
    )


def _bpda_tangent(c: AttackContext) -> Attack:
    """PGD on ``Sequential(D, f)`` with D's tangent-space backward (the attacker's copy of the
    defense, ``settings.bpda_projection`` as in :func:`_bpda`)."""
    d = _attacker_defense(c, gradient="tangent")
    model = nn.Sequential(d, c.classifier)
    return PGD(model, c.eps, **_pgd_options(c, c.settings.bpda_steps))


def _eot_restarts(c: AttackContext) -> Attack:
    """:class:`RestartEOTPGD`: the tangent backward averaged over the R restarts of one
    projection of the attacker's copy (``settings.bpda_projection`` as in :func:`_bpda`)."""
    d = _attacker_defense(c, gradient="tangent")
    return RestartEOTPGD(d, c.classifier, c.eps, **_pgd_options(c, c.settings.bpda_steps))


def _unrolled(c: AttackContext) -> Attack:
    """:func:`unrolled_pgd`: autograd through the last ``settings.unroll_steps`` updates of the
    attacker's copy of the projection (``settings.bpda_projection`` as in :func:`_bpda`)."""
    s = c.settings
    d = _attacker_defense(c)
    return unrolled_pgd(
        d,
        c.classifier,
        c.eps,
        unroll_steps=min(s.unroll_steps, d.config.steps),  # (the default 10 may exceed a short
        **_pgd_options(c, s.bpda_steps),  # projection's steps: the whole run, as the CLI
    )  # refuses beyond it)


#: The settings of every attack that runs the defense's projection through BPDA.
BPDA_SETTINGS = ("bpda_steps", "bpda_projection", "keep_best", "attack_loss")


register_attack(AttackRecord("fgsm", "FGSM", _fgsm))
register_attack(
    AttackRecord("pgd", "PGD", _pgd, settings=("pgd_steps", "keep_best", "attack_loss"))
)
register_attack(
    AttackRecord(
        "bpda",
        "BPDA",
        lambda c: _bpda(c, eot=False),
        adaptive=True,
        undefended="pgd",
        settings=BPDA_SETTINGS,
    )
)
register_attack(
    AttackRecord(
        "eot",
        "BPDA+EOT",
        lambda c: _bpda(c, eot=True),
        adaptive=True,
        undefended="pgd",
        settings=(*BPDA_SETTINGS, "eot_samples"),
    )
)
register_attack(
    AttackRecord(
        "latent",
        "latent",
        _latent,
        needs_generator=True,
        settings=("latent_steps", "latent_restarts"),
    )
)
register_attack(
    AttackRecord(
        "bpda_tangent",
        "BPDA (tangent)",
        _bpda_tangent,
        adaptive=True,
        undefended="pgd",
        settings=BPDA_SETTINGS,
    )
)
register_attack(
    AttackRecord(
        "eot_restarts",
        "EOT (restarts)",
        _eot_restarts,
        adaptive=True,
        undefended="pgd",
        settings=BPDA_SETTINGS,
    )
)
register_attack(
    AttackRecord(
        "unrolled",
        "unrolled",
        _unrolled,
        adaptive=True,
        undefended="pgd",
        settings=(*BPDA_SETTINGS, "unroll_steps"),
    )
)
