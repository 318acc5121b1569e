"""The benchmark scripts' CSV files: read the complete rows, append rows, rewrite atomically.

A run killed while appending can leave a torn last line (no line end): ``read_rows`` skips it and
``append_rows`` cuts it off before it appends, so a resumed run redoes what it lost and the file
stays whole. The scripts import this module by name (``python benchmarks/X.py`` puts benchmarks/
first on sys.path).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from ganinverse.io import atomic_write, atomic_write_csv


def _whole_lines(data: bytes) -> bytes:
    """``data`` without a torn last line (one without its line end)."""
    return data if data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]


def read_rows(path: Path) -> list[dict]:
    """The complete rows of ``path`` ([] when there is no file): a torn last line, and any row with
    missing or extra fields, is skipped."""
    if not path.is_file():
        return []
    text = _whole_lines(path.read_bytes()).decode()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    width = len(reader.fieldnames or ())
    return [r for r in rows if len(r) == width and None not in r.values()]


def append_rows(path: Path, fields: Sequence[str], rows: Iterable[dict]) -> None:
    """Append ``rows`` (columns ``fields``) to ``path``: a torn last line is cut off first, and a
    new or empty file gets the header."""
    if path.is_file():
        data = path.read_bytes()
        whole = _whole_lines(data)
        if whole != data:
            atomic_write(path, lambda p: p.write_bytes(whole))
        new = not whole
    else:
        new = True
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerows(rows)
        f.flush()


def write_rows(path: Path, fields: Sequence[str], rows: Iterable[dict]) -> None:
    """Replace ``path`` by the header and ``rows``, atomically."""
    atomic_write_csv(path, fields, rows)


def new_results(out: str | Path, fields: Sequence[str]) -> Path:
    """``out``/results.csv started anew (the folder made, the header alone written): a probe
    that reruns from scratch. Returns the file's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.csv"
    write_rows(path, fields, [])
    return path
