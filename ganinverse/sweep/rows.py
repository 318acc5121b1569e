"""The rows of a sweep: one CSV line per (image, x, method), appended as it goes.

Columns: ``image`` (dataset index), ``m`` (measurements of that image), ``method``, the scores,
``seconds`` (per image), ``operator`` and ``setting`` (the sweep axis value: m, the factor or
the mask spec, so two masks with the same m never collide) and ``status`` (the solver's verdict
on the image, ``ganinverse.status``: "ok", or why x̂ is not a reconstruction it stands by, e.g.
"not_improved"). Files written before the operator axis existed lack the last three columns;
they are read as Gaussian rows with setting = m. Files written before the status column read
``status = ""`` (not recorded). Older files are brought to today's columns before rows are
appended to them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

from ..io import atomic_write, atomic_write_csv
from ..methods import BUNDLED_METHODS
from ..operators import REGISTRY
from ..status import UNREPORTED, is_status

#: Columns before the operator axis (still read; upgraded in place before rows are appended).
LEGACY_FIELDS = ("image", "m", "method", "mse", "psnr", "ssim", "meas_error", "seconds")
#: Columns before the status column (still read, as status "").
OPERATOR_FIELDS = (*LEGACY_FIELDS, "operator", "setting")
FIELDS = (*OPERATOR_FIELDS, "status")
#: Every header a rows file may have, oldest first.
HEADERS = (LEGACY_FIELDS, OPERATOR_FIELDS, FIELDS)
ROWS = "rows.csv"
#: The mark in ``sweep.json`` of a folder made since the status column existed: every row of
#: it carries its solver's status, so a row without one (an empty cell, or a file without the
#: column) was not written by this sweep. Older folders, grown by today's code, keep rows of
#: both kinds and no mark. Not a setting: two specs are compared without it.
STATUS_MARK = "rows_carry_status"
#: The identities of the files a sweep reads besides its settings, recorded in ``sweep.json``
#: ({"generator": fingerprint, "discriminator": ..., "mask <file>": ...}): a checkpoint
#: retrained or a mask file rewritten at the same path makes other rows. Not a setting either.
INPUTS = "inputs"
#: Fields of ``sweep.json`` that are not settings (two specs are compared without them).
NOT_SETTINGS = (STATUS_MARK, INPUTS)


def rows_path(out: Path, shard: tuple[int, int]) -> Path:
    """The rows file of shard K/N: ``rows.csv`` for a single process."""
    return out / (ROWS if shard[1] == 1 else f"rows.shard-{shard[0]}-of-{shard[1]}.csv")


def _complete(row: dict, header: tuple) -> dict | None:
    """The row in today's columns, or None for a torn line."""
    if None in row.values() or len(row) != len(header):
        return None
    if header == LEGACY_FIELDS:
        row = {**row, "operator": "gaussian", "setting": row["m"]}
    return row if "status" in row else {**row, "status": ""}


def read_rows(paths: Iterable[Path]) -> list[dict]:
    """Complete rows of the given CSV files. A torn last line (no newline after it: a kill
    while it was written) is ignored; anywhere else a line of too few or too many columns,
    or whose image index is not an int (e.g. a header repeated by joining files), is a
    ValueError naming the file and row (a hand-edited or damaged file)."""
    rows = []
    for path in paths:
        if not path.is_file():
            continue
        text = path.read_text()
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = tuple(reader.fieldnames or ())
        if header not in HEADERS:
            if ",".join(FIELDS).startswith(",".join(header)) and "\n" not in text:
                continue  # a file another shard has just opened (no complete header yet)
            raise ValueError(
                f"{path} has the columns {list(header)}, not a sweep's rows file; move it "
                "out of the sweep folder"
            )
        read = list(reader)
        for number, raw in enumerate(read):
            row = _complete(raw, header)
            if row is not None and row["image"].isdigit():
                rows.append(row)
            elif row is not None or number < len(read) - 1 or text.endswith("\n"):
                cells = [v for k, v in raw.items() if k is not None and v is not None]
                line = ",".join(cells + list(raw.get(None) or ()))
                raise ValueError(
                    f"{path}: row {number + 1} ({line!r}) "
                    f"is not a row a sweep writes ({len(header)} columns, an image index in "
                    "the first; a hand-edited or damaged file, or a header repeated by joining "
                    "files?); remove that line and run the sweep again to redo its unit"
                )
    return rows


def expected_rows(out: str | os.PathLike) -> set[tuple[str, str, int]] | None:
    """(setting, method, image) of every row the folder's ``sweep.json`` asks for; None when
    the folder has no readable ``sweep.json``."""
    from .spec import upgrade

    try:
        saved = upgrade(json.loads((Path(out) / "sweep.json").read_text()))
        images = range(saved.get("start", 0), saved.get("start", 0) + saved["n_images"])
        return {(str(x), m, i) for x in saved["x_values"] for m in saved["methods"] for i in images}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def status_required(out: str | os.PathLike) -> bool:
    """Whether the folder's ``sweep.json`` holds ``STATUS_MARK`` (every row has a status)."""
    try:
        saved = json.loads((Path(out) / "sweep.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and saved.get(STATUS_MARK) is True


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
    if header != FIELDS:
        write_rows(path, read_rows([path]))


def setting_order(setting: str) -> tuple:
    """Sort key of an axis value as text: numbers by value, then other settings by name."""
    return (0, int(setting), "") if setting.isdigit() else (1, 0, setting)


#: the scores of a row: what two rows of the same (setting, method, image) must agree on
SCORES = ("mse", "psnr", "ssim", "meas_error")


#: How far a row's PSNR may lie from 10 log10(1 / its MSE), in dB (both written to 6 digits).
PSNR_TOLERANCE_DB = 0.01


def bad_score(row: dict) -> str | None:
    """The first score of ``row`` (or its seconds, or its status) that is not a value a sweep
    writes: NaN, text, infinite other than the PSNR of an exact reconstruction, a negative
    squared error or time, an SSIM outside [−1, 1], a PSNR that is not 10 log10(1 / MSE)
    (within ``PSNR_TOLERANCE_DB``), a status no solver writes (``status.is_status``;
    ``UNREPORTED`` for a bundled method, which always reports one), an m
    other than the setting where the operator's axis is m; None if all are."""
    values = {}
    for key in (*SCORES, "seconds"):
        try:
            value = float(row[key])
        except (TypeError, ValueError):
            value = math.nan
        if math.isnan(value) or (math.isinf(value) and not (key == "psnr" and value > 0)):
            return key
        if value < 0 and key in ("mse", "meas_error", "seconds"):  # (squared errors, time)
            return key
        values[key] = value
    if not -1 <= values["ssim"] <= 1:
        return "ssim"
    mse, psnr = values["mse"], values["psnr"]
    expected = math.inf if mse == 0 else -10 * math.log10(mse)
    if not (psnr == expected or abs(psnr - expected) <= PSNR_TOLERANCE_DB):
        return "psnr"
    if not is_status(row.get("status", "")) or (
        row.get("status") == UNREPORTED and row.get("method") in BUNDLED_METHODS
    ):
        return "status"
    cls = REGISTRY.get(row.get("operator", "gaussian"))
    if cls is not None and cls.axis is not None and cls.axis.name == "m":  # setting = its m
        if str(row.get("m")) != str(row.get("setting", row.get("m"))):
            return "m"
    return None


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except (TypeError, ValueError):
        return False


def _checked_scores(row: dict, path: Path) -> tuple[float, ...]:
    """The row's scores as floats; a ValueError for one that is not a number a sweep writes
    (``bad_score``)."""
    key = bad_score(row)
    if key is not None:
        why = {
            "psnr": f"not 10 log10(1 / mse) of its mse = {row['mse']}",
            "ssim": "outside [-1, 1]",
            "status": (
                f"but {row['method']} always reports its status"
                if row.get("status") == UNREPORTED
                else "no status a solver writes (ganinverse.status.REASONS)"
            ),
            "m": f"but its setting (the m measured) is {row.get('setting')}",
        }.get(
            key if key in ("status", "m") or _finite(row[key]) else "", "not a score a sweep writes"
        )
        raise ValueError(
            f"{path}: the row of image {row['image']}, {row['method']} at "
            f"{row['setting']} has {key} = {row[key]!r}, {why} (a hand-edited or damaged "
            "file?); remove that row and run the sweep again to redo its unit"
        )
    return tuple(float(row[k]) for k in SCORES)


def merge(out: str | os.PathLike) -> list[dict]:
    """Combine every rows file of a folder into ``rows.csv`` (deduplicated, sorted); returns rows.

    Two rows of the same (setting, method, image), from a unit run twice, are one row when
    their scores agree; scores that differ mean the files come from different runs (other
    settings or code) and raise a ValueError naming both files, as does a score that is not a
    finite number (an exact reconstruction's PSNR = inf excepted), and, in a folder whose
    ``sweep.json`` holds ``STATUS_MARK``, a row without a status. A single-process sweep
    appends to ``rows.csv`` itself, so without shard files the file is left in place:
    replacing it under a running sweep would send its next rows to a deleted file.
    """
    out = Path(out)
    files = sorted(out.glob("rows*.csv"))
    unique: dict = {}
    where: dict = {}
    first: tuple[str, Path] | None = None  # (the operator of the first row, its file)
    required = status_required(out)
    for path in files:
        for row in read_rows([path]):
            if required and not row["status"]:
                raise ValueError(
                    f"{path}: the row of image {row['image']}, {row['method']} at "
                    f"{row['setting']} has no status (an empty cell, or a file without the "
                    f"status column), but every row of this sweep records its solver's status "
                    f"({STATUS_MARK} in sweep.json): a row of older code or a hand-edited file; "
                    "remove that row (or file) and run the sweep again to redo its unit"
                )
            first = first or (row["operator"], path)
            if row["operator"] != first[0]:
                other = "other rows of it are" if first[1] == path else f"{first[1]} holds rows"
                raise ValueError(
                    f"{path} holds rows of the {row['operator']!r} operator (image "
                    f"{row['image']}, {row['method']} at {row['setting']}) but {other} of "
                    f"{first[0]!r}: one sweep has one operator; move the other run's rows out "
                    "of the folder and merge again"
                )
            key = (setting_order(row["setting"]), row["method"], int(row["image"]))
            scores = _checked_scores(row, path)
            before = _checked_scores(unique[key], where[key]) if key in unique else scores
            statuses = {row["status"], unique[key]["status"] if key in unique else row["status"]}
            if len(statuses - {""}) > 1 or not all(  # ("": a row of older code, not recorded)
                math.isclose(a, b, rel_tol=1e-5) for a, b in zip(before, scores, strict=True)
            ):
                places = (
                    f"differ between {where[key]} and {path}"
                    if where[key] != path
                    else f"appear twice in {path}, with other scores"
                )
                raise ValueError(
                    f"the rows of image {row['image']}, {row['method']} at {row['setting']} "
                    f"{places} ("
                    + ", ".join(
                        f"{k} {unique[key][k] or '(none)'} vs {row[k] or '(none)'}"
                        for k in (*SCORES, "status")
                        if unique[key][k] != row[k]
                    )
                    + "): the files come from different runs; keep the files of one run "
                    "in the folder (move the other out) and merge again"
                )
            unique.setdefault(key, row)
            where.setdefault(key, path)
    rows = [unique[k] for k in sorted(unique)]
    expected = expected_rows(out)
    stray = [
        r
        for r in rows
        if expected is not None and (r["setting"], r["method"], int(r["image"])) not in expected
    ]
    if stray:
        shown = ", ".join(f"image {r['image']} {r['method']} at {r['setting']}" for r in stray[:3])
        raise ValueError(
            f"{out}: {len(stray)} row(s) are not of this sweep's images, settings and methods "
            f"(sweep.json): {shown}{', ...' if len(stray) > 3 else ''} (a hand-edited file, or "
            "rows of another sweep?); remove them and merge again"
        )
    if any(p.name != ROWS for p in files):
        write_rows(out / ROWS, rows)
    return rows
