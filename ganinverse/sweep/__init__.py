"""Measurement sweeps over any forward operator: one CSV row per (image, x, method).

``spec`` says what is measured (``SweepSpec`` / sweep.json), ``runner`` does the work
(``Sweep``: resumable, shardable), ``search`` holds the per-x weight searches (weights.json),
``rows`` the CSV rows and ``report`` the summaries, tables and plots.
"""

from .report import format_table, format_weights, mean_ci95, report, summarize
from .rows import FIELDS, LEGACY_FIELDS, merge, read_rows, rows_path
from .runner import TEST, VALIDATION, Sweep, measure
from .search import WEIGHTS, WeightSearches
from .spec import PROTOCOL, SweepSpec, parse_shard

__all__ = [
    "FIELDS",
    "LEGACY_FIELDS",
    "PROTOCOL",
    "TEST",
    "VALIDATION",
    "WEIGHTS",
    "Sweep",
    "SweepSpec",
    "WeightSearches",
    "format_table",
    "format_weights",
    "mean_ci95",
    "measure",
    "merge",
    "parse_shard",
    "read_rows",
    "report",
    "rows_path",
    "summarize",
]
