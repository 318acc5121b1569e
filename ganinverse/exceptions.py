"""Warning categories of ganinverse, so users can filter them (``warnings.simplefilter``).

``ConvergenceWarning`` subclasses scikit-learn's, so a filter set for either silences both.
``InterruptedWriteWarning`` says a checkpoint was found torn by a kill and its previous complete
version was loaded.
"""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning


class ConvergenceWarning(_SklearnConvergenceWarning):
    """A solver stopped before its stopping rule held (max_iter reached, no step improved the
    start, non-finite losses). The result says so too (e.g. ``converged`` / ``improved`` fields)."""


class InterruptedWriteWarning(UserWarning):
    """A weights + JSON pair was found half written (a process was killed while saving it); the
    previous complete pair (``<stem>.prev.*``) was loaded instead."""


__all__ = ["ConvergenceWarning", "InterruptedWriteWarning"]
