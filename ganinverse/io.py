"""Atomic file writes: a killed process never leaves a half-written checkpoint or result file,
and a multi-file result appears as one unit (``staged_output``)."""

from __future__ import annotations

import contextlib
import csv
import functools
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


def file_fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 (16 hex digits) of a file's bytes, hashed once per version of the file (path,
    mtime, size): a sweep records it for a file a method's options name and compares it on
    every resume (``sweep.Sweep.inputs``, ``sweep.spec``)."""
    stat = Path(path).stat()
    return _file_sha16(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _file_sha16(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path`` (same directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 & ~umask)
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_text(text))


def atomic_write_csv(
    path: str | os.PathLike, fields: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> Path:
    """Write the header ``fields`` and ``rows`` (dicts keyed by them) as CSV, atomically."""

    def write(p: Path) -> None:
        with p.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(fields))
            writer.writeheader()
            writer.writerows(rows)

    return atomic_write(path, write)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically. NaN and ±Inf are refused
    (ValueError): they are not JSON, and no reader of ours could load the file."""
    return atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    )


def read_json(path: str | os.PathLike, what: str = "file") -> dict:
    """Read a JSON object, turning a missing or corrupt file into a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} {path} is not valid JSON ({err})") from err
    if not isinstance(obj, dict):
        raise ValueError(f"{what} {path} must hold a JSON object, got {type(obj).__name__}")
    return obj


#: The file that marks a folder as a result written by ``staged_output`` (holds the writer's name).
OUTPUT_MARKER = ".ganinverse-output"


def check_output_dir(
    out: str | os.PathLike, name: str = "out", *, owner: str | None = None
) -> Path:
    """``out`` as a Path if it is, or can be created as, a directory; else a ValueError naming
    ``name``. Leaves nothing behind (it probes that the disk takes new entries by creating and
    removing an empty folder): call it before any work starts.

    With ``owner`` (the writer, e.g. ``"ganinverse inpaint"``) an existing folder must be empty or
    an earlier result of that writer (``staged_output`` replaces it as a whole): other files are
    never overwritten or mixed with the new result.
    """
    if isinstance(out, str) and out.strip() == "":
        raise ValueError(f"{name} is empty: pass the path of a new (or empty) folder")
    path = Path(out)
    if path.is_symlink():  # publish into the folder it points to (a rename would replace the link)
        path = path.resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"{name} {str(path)!r} is an existing file, expected a folder; pass a folder path"
        )
    parent = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise ValueError(f"{name} {str(path)!r} lies under {str(parent)!r}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {str(path)!r} cannot be created: {str(parent)!r} is not writable")
    _probe_writable(path if path.is_dir() else parent, path, name)
    if path.parent.is_dir() and path.parent != parent:  # results are staged beside ``out``
        _probe_writable(path.parent, path, name)
    if owner is not None and path.is_dir() and any(path.iterdir()):
        if not _is_result_of(path, owner):
            raise ValueError(
                f"{name} {str(path)!r} holds other files; pass a new or empty folder (a folder "
                f"written by an earlier `{owner}`, with nothing added to it, is replaced as a whole)"
            )
    return path


def _probe_writable(folder: Path, out: Path, name: str) -> None:
    """Create and remove an empty folder in ``folder``: permission bits do not tell whether a
    file system takes new entries (root passes ``os.access`` on /sys and /proc; a read-only
    mount), and a result must not be computed first and then fail to be written. The folder's
    times are restored: a refused run leaves an existing folder as it was, mtime included."""
    try:
        times = os.stat(folder)
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".ganinverse-probe-"))
        with contextlib.suppress(OSError):  # (not the owner: the times stay as the probe left)
            os.utime(folder, ns=(times.st_atime_ns, times.st_mtime_ns))
    except OSError as err:
        raise ValueError(
            f"{name} {str(out)!r} cannot be created: {str(folder)!r} takes no new files "
            f"({err.strerror or err}); pass a folder on a writable disk"
        ) from err


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}


def _is_result_of(folder: Path, owner: str) -> bool:
    """Whether ``folder`` holds exactly an earlier result of ``owner`` (its marker names the
    owner and lists every file in it: nothing was added since)."""
    try:
        marker = json.loads((folder / OUTPUT_MARKER).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("owner") != owner:
        return False
    return _files(folder) <= {*marker.get("files", []), OUTPUT_MARKER}


def _leftovers(out: Path, kind: str) -> list[Path]:
    """What a kill left beside ``out`` (``.<name>.<kind>-<token>``), oldest first; the name is
    matched literally (``*``, ``?`` and ``[`` in it are no wildcards)."""
    prefix = f".{out.name}.{kind}-"
    found = [p for p in out.parent.glob(f"{glob.escape(prefix)}*") if p.name.startswith(prefix)]
    return sorted(found, key=lambda p: p.stat().st_mtime)


@contextlib.contextmanager
def staged_output(out: str | os.PathLike, owner: str) -> Iterator[Path]:
    """Write a multi-file result into a hidden staging folder beside ``out``; publish it whole.

    ``out`` must be new, empty, or exactly an earlier result of the same ``owner`` (checked first,
    see ``check_output_dir``; a marker file lists the result's files, so a folder the user added
    files to is refused, never deleted). A new or empty ``out`` is replaced by the staging folder
    in one rename; an earlier result is moved aside, the new one renamed in, and the old one
    deleted, so ``out`` never mixes two results. What a kill -9 leaves behind (a staging folder;
    the earlier result moved aside between the two renames) is cleaned up, or restored as ``out``,
    by the next call. On an error the staging folder is removed and ``out`` is left as it was.
    """
    out = check_output_dir(out, owner=owner)
    out.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _leftovers(out, "staging"):  # a killed run's partial result
        shutil.rmtree(leftover, ignore_errors=True)
    olds = _leftovers(out, "old")
    if olds and not out.exists():  # killed between the two renames: the result was moved aside
        os.replace(olds.pop(), out)
    for leftover in olds:
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-"))
    try:
        yield staging
        files = sorted(_files(staging))
        (staging / OUTPUT_MARKER).write_text(json.dumps({"owner": owner, "files": files}) + "\n")
        os.chmod(staging, 0o777 & ~_umask())
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.replace(out, old)  # onto the empty folder just made
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
