"""The per-x weight searches of a sweep: ``weights.json`` and the shard rule around it.

Each search (key ``method@x``) picks a method's tuned weight on validation images once, records
every candidate's validation MSE in ``weights.json`` (earlier code called the file
``lambdas.json``; it is read, and replaced by ``weights.json`` on the next write), and is never
repeated. While a search runs, ``searching/<key>.lock`` tells other shards to do other units
first; nothing ever waits on a mark, so a killed shard's leftover never blocks the sweep.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import grid_edge
from ..io import atomic_write_json, read_json

WEIGHTS = "weights.json"
LEGACY_WEIGHTS = "lambdas.json"  #: the name before it held engine settings and ℓ1 weights too
SEARCHING = "searching"  #: folder of marks for searches in progress


def search_key(method: str, x: Any) -> str:
    return f"{method}@{x}"


class WeightSearches:
    """The finished searches of a sweep folder, and the marks of running ones."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def path(self) -> Path:
        """The file holding the table (the legacy name while only that exists)."""
        new, old = self.out / WEIGHTS, self.out / LEGACY_WEIGHTS
        return old if old.is_file() and not new.is_file() else new

    def table(self) -> dict:
        """``{method@x: entry}`` of every finished search."""
        path = self.path()
        return read_json(path, "weight table") if path.is_file() else {}

    def chosen(self, key: str, search: Callable[[], dict]) -> Any:
        """The weight chosen for ``key``, running ``search`` (-> the entry) once if needed."""
        table = self.table()
        if key not in table:
            with self._claim(key):
                entry = search()
            table = self.table()  # another shard may have written entries meanwhile
            table[key] = entry
            atomic_write_json(self.out / WEIGHTS, table)
            (self.out / LEGACY_WEIGHTS).unlink(missing_ok=True)
        return value_of(table[key])

    def waits(self, keys: Sequence[str]) -> bool:
        """Whether one of ``keys`` is being searched by another process right now."""
        table = self.table()
        return any(k not in table and self._mark(k).exists() for k in keys)

    def cleanup(self) -> None:
        """Remove the marks of finished searches (a killed process leaves its mark behind),
        then the marks' folder once no search runs."""
        if (self.out / SEARCHING).is_dir():
            for key in self.table():
                self._mark(key).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (self.out / SEARCHING).rmdir()

    def _mark(self, key: str) -> Path:
        """The mark's file: the key made a safe file name (a mask path has '/'), plus a hash of
        the key so two keys never share a mark."""
        safe = re.sub(r"[^A-Za-z0-9_.@:-]", "-", key)[:80]
        return self.out / SEARCHING / f"{safe}-{zlib.crc32(key.encode()):08x}.lock"

    @contextlib.contextmanager
    def _claim(self, key: str) -> Iterator[None]:
        """Mark a search as running (for ``next_unit``'s ordering only)."""
        lock = self._mark(key)
        lock.parent.mkdir(exist_ok=True)
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # another shard, or a killed run's leftover: search anyway
            yield
            return
        os.close(fd)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def value_of(entry: dict) -> Any:
    """The chosen value of an entry (``lambda`` in files of earlier code)."""
    return entry["value"] if "value" in entry else entry["lambda"]


def entry(
    weight: str,
    best: Any,
    scores: list,
    n_val: int,
    seconds: float,
    flags: Sequence[dict] | None = None,
) -> dict:
    """A table entry: the weight's key, the chosen value and every candidate's MSE
    (a diverged candidate's NaN / Inf recorded as null: JSON has no NaN), ``"grid_edge"``:
    "largest" / "smallest" where the chosen value is that edge of its grid with the
    validation MSE still falling toward it (``exceptions.grid_edge``: the best weight may lie
    beyond; the search warned GridEdgeWarning), else null; with ``flags``
    (``choose_weight(return_status=True)``) ``"flagged"``: [value, {reason: images}] of each
    candidate whose solver did not stand by some validation images (absent when none)."""
    out = {
        "weight": weight,
        "value": best,
        "validation_mse": [(v, mse if math.isfinite(mse) else None) for v, mse in scores],
        "grid_edge": grid_edge(scores, _chosen_index(scores, best)),
        "n_val": n_val,
        "seconds": round(seconds, 2),
    }
    flags = [{}] * len(scores) if flags is None else flags
    flagged = [(v, f) for (v, _), f in zip(scores, flags, strict=True) if f]
    if flagged:
        out["flagged"] = flagged
    return out


def _chosen_index(scores: Sequence, value: Any) -> int:
    """The place of the chosen ``value`` among the candidates of ``scores`` ([(value, MSE)])."""
    return next((i for i, (v, _) in enumerate(scores) if v == value), -1)


def edge_of(entry: dict) -> str | None:
    """An entry's ``grid_edge`` ("largest", "smallest" or None); for an entry written before
    the field, found from its ``validation_mse`` as the search found it."""
    if "grid_edge" in entry:
        return entry["grid_edge"]
    scores = [tuple(pair) for pair in entry.get("validation_mse") or ()]
    best = _chosen_index(scores, value_of(entry))
    return grid_edge(scores, best) if best >= 0 else None


def flags_of(entry: dict, value: Any) -> dict:
    """{reason: images} of candidate ``value`` in a table entry ({}: every image "ok", or not
    recorded)."""
    return next((f for v, f in entry.get("flagged", ()) if v == value), {})
