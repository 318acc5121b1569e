"""Per-image status of a solver's result: whether its x̂ is a reconstruction the solver stands by.

Each image is ``"ok"``, or the reasons it is not, joined by ``"+"``:

- ``not_improved``: no step improved on the start (steps = 0, divergence, NaN losses); x̂ is the
  start (CSGM: G(z_start); ILO: CSGM's; an untrained prior: its random network's output).
- ``not_adapted``: IAGAN's fine-tuning ended above CSGM's misfit; x̂ is CSGM's.
- ``not_converged``: an iterative solver with a stopping rule (the Lasso's duality gap,
  csgm-sparse's ν-step) stopped on ``max_iter`` before its tolerance.
- ``bp_not_converged``: the back-projection's conjugate gradients stopped before theirs.
- ``degenerate_prior``: the Gaussian prior's samples (``gaussian``, iagan's averaged Gaussian)
  have zero or rank-one spread, so y moves x̂ little or not at all.

Each case also raised a ``ConvergenceWarning`` (``degenerate_prior``: a
``DegeneratePriorWarning``) when it happened. Results expose the list as
their ``status`` property; a sweep records it per row (``rows.csv`` column ``status``; ``""``
in rows written before the column existed: not recorded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor

OK = "ok"
#: The status a sweep records for a solver whose result reports none (a plug-in's result
#: without a ``status``): the solver neither stood by x̂ nor flagged it. (``""``: rows written
#: before the status column existed, not recorded.)
UNREPORTED = "unreported"
#: {reason: what it means}: why an image's x̂ is not a reconstruction its solver stands by
#: (see above); a plug-in solver adds its own with ``register_reason``.
REASONS = {
    "not_improved": "no step improved on the start; x̂ is the start",
    "not_adapted": "IAGAN's fine-tuning ended above CSGM's misfit; x̂ is CSGM's",
    "not_converged": "stopped on max_iter before the tolerance",
    "bp_not_converged": "the back-projection's conjugate gradients stopped before theirs",
    "degenerate_prior": (
        "the Gaussian prior's samples have zero or rank-one spread: x̂ is their mean (plus a "
        "multiple of one image) whatever y"
    ),
}


def register_reason(name: str, meaning: str) -> None:
    """Add a reason a plug-in solver writes in its ``status`` (a sweep refuses rows whose
    status holds a reason not registered: a damaged or hand-edited file)."""
    if not isinstance(name, str) or not name.isidentifier() or name in (OK, UNREPORTED):
        raise ValueError(
            f"name: expected an identifier other than {OK!r} and {UNREPORTED!r}, got {name!r}"
        )
    if name in REASONS and REASONS[name] != meaning:
        raise ValueError(f"the reason {name!r} is registered already, meaning {REASONS[name]!r}")
    REASONS[name] = str(meaning)


def is_status(text: str) -> bool:
    """Whether ``text`` is a status a sweep writes: "ok", ``UNREPORTED``, "" (not recorded),
    or registered reasons (``REASONS``) joined by "+" (each once)."""
    if text in (OK, UNREPORTED, ""):
        return True
    parts = text.split("+")
    return len(set(parts)) == len(parts) and all(p in REASONS for p in parts)


def image_status(flags: Mapping[str, Tensor | None], *starts: Sequence[str]) -> list[str]:
    """Per image: ``"ok"``, or the reasons (keys of ``flags``, {reason: (B,) bool, True where
    the image is fine; None: not applicable}) that are False, after those of the results it
    started from (``starts``: their ``status`` lists), joined by ``"+"``."""
    given = [f for f in flags.values() if f is not None]
    n = len(given[0]) if given else len(starts[0])
    reasons: list[list[str]] = [[] for _ in range(n)]
    for start in starts:
        for i, status in enumerate(start):
            reasons[i] += [r for r in status.split("+") if r not in (OK, "")]
    for reason, fine in flags.items():
        if fine is None:
            continue
        for i, ok in enumerate(fine.detach().cpu().tolist()):
            if not ok:
                reasons[i].append(reason)
    return ["+".join(dict.fromkeys(r)) or OK for r in reasons]
