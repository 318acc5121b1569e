"""Device selection: ``"auto"`` means CUDA when present, else CPU. Nothing assumes a GPU.

Every entry point that takes a device (``device=`` in the API, ``--device`` on the command line)
goes through :func:`resolve_device`, which refuses a device this machine does not have at once,
with the fix, instead of letting torch fail later deep inside a model ("Found no NVIDIA driver").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ._validation import closest

FORMS = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
FIX = (
    "use device='auto' (CUDA when present, else CPU) or 'cpu' (CLI: --device auto or --device cpu)"
)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _check_available(dev: torch.device, asked: object) -> torch.device:
    """Raise a ValueError naming ``asked`` unless ``dev`` exists on this machine."""
    if dev.type == "cpu":
        if dev.index not in (None, 0):  # torch has one CPU device (its index is ignored or fails)
            raise ValueError(f"device {asked!r}: torch has one CPU device; pass 'cpu'")
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {asked!r} was asked for, but torch.cuda.is_available() is False (no "
                f"NVIDIA GPU or driver visible to this torch {torch.__version__}); {FIX}"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and not 0 <= dev.index < count:
            raise ValueError(
                f"device {asked!r} was asked for, but this machine has {count} CUDA device(s) "
                f"(cuda:0 .. cuda:{count - 1}); pick one of those or {FIX}"
            )
        return dev
    if dev.type == "mps":
        if not _mps_available():
            raise ValueError(
                f"device {asked!r} was asked for, but torch.backends.mps.is_available() is False "
                f"(Apple-silicon GPUs only); {FIX}"
            )
        return dev
    raise ValueError(f"device must be {FORMS}; got {asked!r} (device type {dev.type!r})")


#: the device names (besides cuda:N), for the hint of one typed in another case ('CPU')
NAMES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` for ``device``; a device this machine lacks raises a ValueError at once.

    ``"auto"``: ``cuda`` if ``torch.cuda.is_available()``, else ``cpu``. ``"cuda"`` / ``"cuda:N"``
    need CUDA (and N < ``torch.cuda.device_count()``), ``"mps"`` needs Apple's MPS backend.
    A ``torch.device`` is checked the same way.
    """
    if isinstance(device, torch.device):
        return _check_available(device, str(device))
    if not isinstance(device, str):
        raise TypeError(
            f"device must be a str or torch.device ({FORMS}), got {type(device).__name__}"
        )
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"device must be {FORMS}; got {device!r}"
            + (closest(device, NAMES) if device.strip().lower() in NAMES else "")  # ('gpu': none)
        ) from err
    return _check_available(dev, device)


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Temporarily use ``n`` intra-op CPU threads (``None`` leaves the setting alone).

    Iterative solvers on small matrices issue thousands of tiny ops; with several threads each
    op pays a synchronisation, and on a busy machine that cost explodes (FISTA on a 10x784
    problem: 8.8 s on one thread, 225 s on two while other processes ran).
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
