"""Warning categories of ganinverse, so users can filter them (``warnings.simplefilter``).

``ConvergenceWarning`` subclasses scikit-learn's, so a filter set for either silences both.
"""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning


class ConvergenceWarning(_SklearnConvergenceWarning):
    """A solver stopped before its stopping rule held (max_iter reached, no step improved the
    start, non-finite losses). The result says so too (e.g. ``converged`` / ``improved`` fields)."""


__all__ = ["ConvergenceWarning"]
