"""Per-image status of a solver's result: whether its x̂ is a reconstruction the solver stands by.

Each image is ``"ok"``, or the reasons it is not, joined by ``"+"``:

- ``not_improved``: no step improved on the start (steps = 0, divergence, NaN losses); x̂ is the
  start (CSGM: G(z_start); ILO: CSGM's; an untrained prior: its random network's output).
- ``not_adapted``: IAGAN's fine-tuning ended above CSGM's misfit; x̂ is CSGM's.
- ``not_converged``: an iterative solver with a stopping rule (the Lasso's duality gap,
  csgm-sparse's ν-step) stopped on ``max_iter`` before its tolerance.
- ``bp_not_converged``: the back-projection's conjugate gradients stopped before theirs.

Each case also raised a ``ConvergenceWarning`` when it happened. Results expose the list as
their ``status`` property; a sweep records it per row (``rows.csv`` column ``status``; ``""``
in rows written before the column existed: not recorded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor

OK = "ok"


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
