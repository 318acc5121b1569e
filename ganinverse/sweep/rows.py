"""The rows of a sweep: one CSV line per (image, x, method), appended as it goes.

Columns: ``image`` (dataset index), ``m`` (measurements of that image), ``method``, the scores,
``seconds`` (per image), ``operator`` and ``setting`` (the sweep axis value: m, the factor or
the mask spec, so two masks with the same m never collide). Files written before the operator
axis existed lack the last two columns; they are read as Gaussian rows with setting = m.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from ..io import atomic_write, atomic_write_csv

#: Columns before the operator axis (still read; upgraded in place before rows are appended).
LEGACY_FIELDS = ("image", "m", "method", "mse", "psnr", "ssim", "meas_error", "seconds")
FIELDS = (*LEGACY_FIELDS, "operator", "setting")
ROWS = "rows.csv"


def rows_path(out: Path, shard: tuple[int, int]) -> Path:
    """The rows file of shard K/N: ``rows.csv`` for a single process."""
    return out / (ROWS if shard[1] == 1 else f"rows.shard-{shard[0]}-of-{shard[1]}.csv")


def _complete(row: dict, header: tuple) -> dict | None:
    """The row in today's columns, or None for a torn line."""
    if None in row.values() or len(row) != len(header):
        return None
    if header == LEGACY_FIELDS:
        return {**row, "operator": "gaussian", "setting": row["m"]}
    return row


def read_rows(paths: Iterable[Path]) -> list[dict]:
    """Complete rows of the given CSV files (a torn last line from a kill is ignored)."""
    rows = []
    for path in paths:
        if not path.is_file():
            continue
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            header = tuple(reader.fieldnames or ())
            if header not in (FIELDS, LEGACY_FIELDS):
                if ",".join(FIELDS).startswith(",".join(header)) and not f.read(1):
                    continue  # a file another shard has just opened (no complete header yet)
                raise ValueError(
                    f"{path} has the columns {list(header)}, not a sweep's rows file; move it "
                    "out of the sweep folder"
                )
            rows.extend(r for r in map(lambda r: _complete(r, header), reader) if r is not None)
    return rows


def write_rows(path: Path, rows: list[dict]) -> None:
    """Replace ``path`` by ``rows`` (today's columns), atomically."""
    atomic_write_csv(path, FIELDS, rows)


def prepare_for_append(path: Path) -> None:
    """Cut a torn last line (no trailing newline) and bring a file of older columns to today's
    columns, so appended rows line up."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        atomic_write(path, lambda p: p.write_bytes(data))
    with path.open(newline="") as f:
        header = tuple(next(csv.reader(f), ()))
    if header == LEGACY_FIELDS:
        write_rows(path, read_rows([path]))


def setting_order(setting: str) -> tuple:
    """Sort key of an axis value as text: numbers by value, then other settings by name."""
    return (0, int(setting), "") if setting.isdigit() else (1, 0, setting)


def merge(out: str | os.PathLike) -> list[dict]:
    """Combine every rows file of a folder into ``rows.csv`` (deduplicated, sorted); returns rows.

    A single-process sweep appends to ``rows.csv`` itself, so without shard files the file is
    left in place: replacing it under a running sweep would send its next rows to a deleted file.
    """
    out = Path(out)
    files = sorted(out.glob("rows*.csv"))
    unique = {}
    for row in read_rows(files):
        unique[(setting_order(row["setting"]), row["method"], int(row["image"]))] = row
    rows = [unique[k] for k in sorted(unique)]
    if any(p.name != ROWS for p in files):
        write_rows(out / ROWS, rows)
    return rows
