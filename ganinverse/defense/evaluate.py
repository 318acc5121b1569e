"""Accuracy table: models (rows) × attacks (columns), resumable cell by cell.

Rows: a classifier f alone, or the projection defense in front of it (f ∘ D). Columns:
``clean`` and one per attack ``name:eps`` (eps on the [0, 1] scale; a ``2`` suffix, e.g.
``pgd2:4.0``, means the L2 ball). The attacks are the records of
:mod:`ganinverse.defense.registry` (fgsm, pgd, bpda, eot, latent, bpda_tangent, eot_restarts,
unrolled, ...): a non-adaptive one is computed on f and its images pass through D on a
defended row; an adaptive one (bpda, eot, ...)
attacks f ∘ D and is its ``undefended`` attack (pgd) on a row without D.

Each cell is the accuracy on the same n test images, with a per-image record of which were
classified right (``"correct"``: a string of 0/1 in image order); where two or more attacks
share a ball (norm and ε), a ``worst case <ball>`` column gives the fraction classified right
clean and under every one of them (:func:`worst_case_columns`). A cell's seconds include making
the attack and classifying. Finished cells are kept in ``cells.json`` so a rerun resumes (and may
add attacks): its ``meta`` records what the cells depend on, the settings and the identity
(fingerprint) of every model, and a rerun that differs in any of them is refused, naming what
differs (:func:`evaluate_defense`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import (
    NumberTextError,
    check_bool,
    check_choice,
    check_count,
    check_int,
    check_number,
    read_number,
)
from ..exceptions import ConvergenceWarning, user_stacklevel
from ..io import atomic_write_csv, atomic_write_json, atomic_write_text, check_output_dir, read_json
from ..models import classifier as classifier_module
from ..models import correct_predictions
from ..models.classifier import (
    TRAINING_OK,
    check_labels,
    constant_guess_accuracy,
    num_classes_of,
    training_status,
)
from .adaptive import check_generator
from .attacks import (
    ATTACK_LOSSES,
    NORMS,
    Attack,
    check_attack_inputs,
    check_budget,
    check_not_generator,
)
from .projection import ProjectionDefense
from .registry import AttackContext, AttackRecord, attack_record, registered_attacks

_BALLS = {"inf": "L∞", "2": "L2"}


def eps_text(eps: float) -> str:
    """A budget as labels and tokens show it: Python's shortest text that reads back as the same
    float (``0.3``, ``1.98``, ``0.0313725``), so two budgets never share a label and a label
    never hides the budget that ran (``%g`` kept 6 digits: 0.1000001 read ``0.1``)."""
    text = repr(float(eps))
    return text[:-2] if text.endswith(".0") else text  # (4, not 4.0: as %g wrote whole numbers)


@dataclass(frozen=True)
class AttackSpec:
    """One column: a registered attack ``name`` (:func:`registered_attacks`), radius ``eps``,
    ``norm`` "inf" or "2" (one the attack supports)."""

    name: str
    eps: float
    norm: str = "inf"
    #: the entry as the user typed it (``parse_attacks``: "pgd2:1e9"), for messages; no part of
    #: the column's identity
    typed: str | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        record = self.record
        check_choice(self.norm, "norm", NORMS)
        if self.norm not in record.norms:
            suffix = "2" if self.norm == "2" else ""
            others = [r.name + suffix for r in registered_attacks() if self.norm in r.norms]
            raise ValueError(
                f"{self.name} is an {'/'.join(_BALLS[n] for n in record.norms)} attack, not "
                f"{_BALLS[self.norm]}; use one of {', '.join(others)}"
            )
        try:  # (eps no number, True included: name the attack alone)
            token = self.token if not isinstance(self.eps, bool) else None
        except (TypeError, ValueError):
            token = None
        token = token or f"{self.name}{'2' if self.norm == '2' else ''}"
        if check_number(self.eps, f"eps of {token}") == 0:  # (an empty ball: a clean column)
            raise ValueError(
                f"eps of {token} must be > 0: a radius of 0 leaves every image as it is, "
                "so its column would repeat the clean one (always measured); drop it"
            )
        eps = check_budget(self.eps, f"eps of {self.token}", self.norm, strict=True)
        object.__setattr__(self, "eps", eps)

    @property
    def record(self) -> AttackRecord:
        """The registry's record of this attack."""
        return attack_record(self.name)

    @property
    def token(self) -> str:
        """How the spec is written on the command line, e.g. ``pgd2:4``."""
        return f"{self.name}{'2' if self.norm == '2' else ''}:{eps_text(self.eps)}"

    def check_image_size(self, n: int) -> None:
        """An L2 budget is at most √n, the diameter of [0, 1]^n (an L∞ one was checked)."""
        check_budget(self.eps, f"eps of {self.token}", self.norm, n, strict=True)

    @property
    def column(self) -> str:
        """The column label, e.g. ``PGD L2 ε=4``."""
        norm = "" if self.norm == "inf" else " L2"
        return f"{self.record.label}{norm} ε={eps_text(self.eps)}"


#: the files an evaluation writes in its ``out`` folder (anything else there is refused)
EVALUATION_FILES = ("cells.json", "results.csv", "results.md")
#: the evaluation's state: a folder is an evaluation's own only if it holds this file
STATE_FILE = EVALUATION_FILES[0]


def _write_temp_of(name: str) -> bool:
    """Whether ``name`` is what a killed atomic write of an evaluation file leaves behind
    (``.<file>.<random>.tmp``, see :func:`ganinverse.io.atomic_write`)."""
    return any(name.startswith(f".{f}.") and name.endswith(".tmp") for f in EVALUATION_FILES)


def check_evaluation_dir(out: str | Path, name: str = "out") -> Path:
    """``out`` as a Path if an evaluation may write there; else a ValueError naming ``name``
    (the CLI passes ``"--out"``). Nothing is written (see :func:`ganinverse.io
    .check_output_dir`).

    A folder is new, empty, or an evaluation's own: it holds the state file ``cells.json`` and
    nothing but :data:`EVALUATION_FILES` (and the temp files of a killed write). Any other file,
    and also a ``results.csv`` or ``results.md`` without a ``cells.json`` (a user's own table of
    that name), makes the folder another's: refused, never overwritten. Whether a
    ``cells.json`` is one of *this* evaluation is checked by :func:`evaluate_defense`.
    """
    path = check_output_dir(out, name)
    if not path.is_dir():
        return path
    present = sorted(p.name for p in path.iterdir() if not _write_temp_of(p.name))
    others = [f for f in present if f not in EVALUATION_FILES]
    if not others and present and STATE_FILE not in present:
        others = present  # an evaluation's file names without its state: not ours
    if others:  # another command's or the user's files: never overwrite or mix into them
        listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ValueError(
            f"{name} {str(out)!r} holds files that are not an evaluation's ({listed}): an "
            f"evaluation's own folder holds its {STATE_FILE}, with at most "
            f"{' and '.join(EVALUATION_FILES[1:])} beside it; pass a new or empty folder as "
            f"{name}, or move those files away"
        )
    return path


def parse_attacks(spec: str) -> list[AttackSpec]:
    """``"fgsm:0.3,pgd:0.3,bpda2:4"`` -> AttackSpecs (a trailing ``2`` selects the L2 ball).

    Each eps is checked finite and in range: L∞ in (0, 1) on the [0, 1] scale; L2 in (0, √n),
    which needs the image size (:meth:`AttackSpec.check_image_size`).
    """
    if not isinstance(spec, str):
        raise TypeError(f"attacks must be a str such as 'fgsm:0.3,pgd:0.3', got {spec!r}")
    out = []
    items = [s.strip() for s in spec.split(",")]
    if any(items) and not all(items):
        raise ValueError(
            f"attacks {spec!r} has an empty entry; remove the extra comma (e.g. 'fgsm:0.3,pgd:0.3')"
        )
    for item in (s for s in items if s):
        name, sep, eps = item.partition(":")
        name = name.strip()  # (blanks around ':' as around ',')
        if not sep or not eps.strip():
            raise ValueError(f"attack {item!r} must be written name:eps, e.g. pgd:0.3")
        norm = "2" if name.endswith("2") else "inf"
        name = name[:-1] if norm == "2" else name
        try:
            value = read_number(eps, float)
        except ValueError as err:
            why = str(err) if isinstance(err, NumberTextError) else f"got {eps.strip()!r}"
            raise ValueError(
                f"attack {item!r}: eps must be a number, e.g. {item.partition(':')[0].strip()}:0.3 ({why})"
            ) from err
        try:
            attack = AttackSpec(name, value, norm, typed=item)
        except ValueError as err:  # (e.g. an unknown name: say how the entry was read)
            read = (
                f" (read as {name!r} in the L2 ball: a trailing 2 selects it)"
                if norm == "2"
                else ""
            )
            raise ValueError(f"attack {item!r}{read}: {err}") from err
        if any(a.column == attack.column for a in out):
            raise ValueError(
                f"attack {item!r} is listed twice (column {attack.column}); list each attack once"
            )
        out.append(attack)
    if not out:
        raise ValueError(  # (the wording of every other empty value)
            f"attacks is empty ({spec!r}): name at least one attack, e.g. fgsm:0.3,pgd:0.3"
        )
    return out


@dataclass(frozen=True)
class EvalSettings:
    """Attack budgets. BPDA steps each run a full projection, so they are the expensive knob."""

    pgd_steps: int = 40
    bpda_steps: int = 40
    eot_samples: int = 4
    latent_steps: int = 200
    latent_restarts: int = 4
    #: (steps, restarts) of the projection BPDA differentiates through; None = the defense's own.
    #: A cheaper one is the attacker's choice; the cell is still scored with the full defense.
    bpda_projection: tuple[int, int] | None = None
    #: optimiser updates the ``unrolled`` attack differentiates through (the last K of L)
    unroll_steps: int = 10
    batch_size: int = 100
    seed: int = 0
    progress: bool = False
    #: the PGD-family attacks (pgd, bpda, bpda_tangent, eot, eot_restarts, unrolled) return per
    #: image their first misclassified iterate instead of the last (``PGD(keep_best=True)``)
    keep_best: bool = False
    #: the loss the PGD-family attacks ascend (``ATTACK_LOSSES``: "ce", "margin")
    attack_loss: str = "ce"

    def __post_init__(self) -> None:
        check_bool(self.keep_best, "keep_best")
        check_choice(self.attack_loss, "attack_loss", tuple(ATTACK_LOSSES))
        for name in ("pgd_steps", "bpda_steps", "latent_steps", "unroll_steps"):
            check_count(getattr(self, name), name, "steps")
        for name in ("eot_samples", "latent_restarts"):
            check_count(getattr(self, name), name, "draws")
        check_int(self.batch_size, "batch_size", low=1)
        check_int(self.seed, "seed", low=0)
        check_bool(self.progress, "progress")
        if self.bpda_projection is not None:
            if (
                not isinstance(self.bpda_projection, (tuple, list))
                or len(self.bpda_projection) != 2
            ):
                raise TypeError(
                    "bpda_projection must be None or a (steps, restarts) pair of ints, e.g. "
                    f"(50, 2), got {self.bpda_projection!r}"
                )
            steps, restarts = self.bpda_projection
            steps = check_count(steps, "bpda_projection steps", "steps")
            restarts = check_count(restarts, "bpda_projection restarts", "draws")
            # (a list kept as given would leave the settings unhashable and compare unequal to
            # the same pair as a tuple; cells.json records either as a JSON list)
            object.__setattr__(self, "bpda_projection", (steps, restarts))


@dataclass
class Row:
    """A model to evaluate: ``classifier`` alone or behind the projection defense."""

    name: str
    classifier: nn.Module
    defended: bool

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Row name must be a str, got {type(self.name).__name__}")
        if not self.name.strip() or "|" in self.name:
            raise ValueError(
                "Row name must be a non-empty str without '|' (it names the row in the table and "
                f"keys its cells), got {self.name!r}"
            )
        if not isinstance(self.classifier, nn.Module):
            raise TypeError(
                f"Row {self.name!r}: classifier must be an nn.Module, got "
                f"{type(self.classifier).__name__}"
            )
        check_not_generator(self.classifier, f"Row {self.name!r}: classifier", "a classifier")
        check_bool(self.defended, f"Row {self.name!r}: defended")


def _make_attack(
    spec: AttackSpec,
    row: Row,
    defense: ProjectionDefense | None,
    G: nn.Module | None,
    s: EvalSettings,
) -> Attack:
    """The attack of one cell: the record that runs on this row (:meth:`AttackRecord.for_row`)
    built for the row's classifier; only an adaptive record is given the defense."""
    record = spec.record.for_row(row.defended)
    defense = defense if record.adaptive else None
    return record.build(AttackContext(row.classifier, defense, G, spec.eps, spec.norm, s))


def _cache_key(spec: AttackSpec, row: Row) -> tuple:
    """Cells with the same key have the same adversarial images: a non-adaptive attack gives
    the same images for f and f ∘ D; an adaptive one runs only on defended rows (one defense)."""
    record = spec.record.for_row(row.defended)
    return (id(row.classifier), record.name, spec.eps, spec.norm)


def _cell_key(row: Row, spec: AttackSpec | None) -> str:
    """A cell's key in ``cells.json``: ``"row name|column"`` (``clean`` for ``spec`` None)."""
    return f"{row.name}|{'clean' if spec is None else spec.column}"


def _check_names(value: Mapping[str, str] | None, name: str) -> dict[str, str]:
    """``value`` (None: {}) as a dict of str to str, else a TypeError naming ``name``."""
    value = {} if value is None else value
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TypeError(f"{name} must be a mapping of str to str, got {value!r}")
    return dict(value)


def _batched(
    attack: Attack, images: Tensor, labels: Tensor, batch_size: int
) -> tuple[Tensor, bool]:
    """The adversarial images, batch by batch, and whether any batch's input gradient was
    exactly zero for every image (the attack warned ``ZeroGradientWarning``)."""
    parts, zero = [], False
    for i in range(0, len(images), batch_size):
        parts.append(attack(images[i : i + batch_size], labels[i : i + batch_size]))
        zero |= bool(getattr(attack, "last_zero_gradient", False))
    return torch.cat(parts), zero


def module_fingerprint(module: nn.Module) -> str:
    """The identity of a module's weights where no checkpoint path is known: the SHA-256 (first
    16 hex digits) of its ``state_dict`` (each tensor's name, dtype, shape and bytes, in name
    order). The same weights give the same fingerprint on any device and in any module instance
    (a checkpoint loaded again, a deep copy); one changed value changes it. It hashes the tensors
    in memory, so it is not the checkpoint file's :func:`ganinverse.models.model_fingerprint`."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module_fingerprint needs an nn.Module, got {type(module).__name__}")
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _module_fingerprints(
    rows: Sequence[Row], G: nn.Module | None, defense: ProjectionDefense | None
) -> dict[str, str]:
    """:func:`module_fingerprint` of every model the cells depend on, by how a refusal names it:
    each row's classifier, the generator (the attacks' and the defense's)."""
    memo: dict[int, str] = {}

    def fp(module: nn.Module) -> str:
        if id(module) not in memo:
            memo[id(module)] = module_fingerprint(module)
        return memo[id(module)]

    out = {f"the classifier of row {r.name!r}": fp(r.classifier) for r in rows}
    if G is not None:
        out["the generator"] = fp(G)
    if defense is not None and defense.G is not G:
        out["the defense's generator"] = fp(defense.G)
    return out


#: EvalSettings fields that change no cell: a rerun may differ in them (not compared)
_NOT_COMPARED = ("progress",)
_ABSENT = object()  # an entry one of two metas does not have


def _defense_entries(text: object) -> object:
    """A defense's ``extra_repr`` ("steps=200, restarts=10, lr=10, ...") as a dict of its
    values (numbers as numbers), so a difference names the entry; else ``text`` as it is."""
    if not isinstance(text, str):
        return text
    out: dict[str, object] = {}
    for part in text.split(", "):
        key, sep, value = part.partition("=")
        if not sep or key in out:
            return text
        out[key] = value
        for kind in (int, float):  # ("10" -> 10, "0.01" -> 0.01, "sgd" stays)
            try:
                out[key] = kind(value)
                break
            except ValueError:
                continue
    return out


def _compared(meta: Mapping) -> dict[str, object]:
    """The entries of a ``cells.json`` meta a rerun must match (not the fingerprints, compared
    on their own): settings a record predates count as their defaults (they came with attacks
    no recorded cell ran), ``progress`` is left out, the defense's string is split and each
    row is its name (``" (defended)"`` added behind the projection)."""
    out = {k: v for k, v in meta.items() if k != "fingerprints"}
    if isinstance(out.get("settings"), dict):
        defaults = json.loads(json.dumps(asdict(EvalSettings())))
        out["settings"] = {
            k: v for k, v in {**defaults, **out["settings"]}.items() if k not in _NOT_COMPARED
        }
    if "defense" in out:
        out["defense"] = _defense_entries(out["defense"])
    rows = out.get("rows")
    if isinstance(rows, list) and all(isinstance(r, list) and len(r) == 2 for r in rows):
        out["rows"] = [f"{name}{' (defended)' if defended else ''}" for name, defended in rows]
    return out


def _entries(path: str, value: object, out: dict[str, object]) -> dict[str, object]:
    """``out[path] = value`` and the same for every entry nested in it (``tag.data[2]``)."""
    out[path] = value
    if isinstance(value, dict):
        for k, v in value.items():
            _entries(f"{path}.{k}", v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _entries(f"{path}[{i}]", v, out)
    return out


def _shown(value: object) -> str:
    """A recorded value in a message: strings as they are, None as ``none``, else JSON."""
    if value is _ABSENT:
        return "nothing"
    if value is None:
        return "none"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        text = f"[{', '.join(value)}]"
    else:
        text = value if isinstance(value, str) and value else json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _typed(value: object) -> str:
    """A recorded value in a message with its JSON type, for two that :func:`_shown` writes
    alike (the text ``"4"`` and the number 4)."""
    kind = {str: "text", bool: "true/false", int: "number", float: "number"}.get(type(value))
    return _shown(value) if value is _ABSENT else f"{json.dumps(value)} ({kind or 'JSON'})"


def meta_differences(
    saved: Mapping, meta: Mapping, names: Mapping[str, str] | None = None
) -> list[str]:
    """The entries in which a recorded ``cells.json`` meta (``saved``) differs from this run's
    (``meta``), each as ``"name: recorded X, now Y"``; [] when a rerun may reuse the cells.

    Compared: ``n``, each EvalSettings field but ``progress`` (one a record predates counts as
    its default), each entry of the defense (``steps``, ``lr``, ...), ``rows`` and each entry
    of ``tag``. An entry is named by its path (``settings.pgd_steps``, ``defense.steps``,
    ``tag.generator``) or by what ``names`` maps that path, or a path nested in it
    (``tag.data[2]``), to: the CLI passes its flags (``--pgd-steps``, ``--start``). The models'
    fingerprints are not compared here (:func:`evaluate_defense` checks them).
    """
    names = names or {}
    old, new = _compared(saved), _compared(meta)
    units: list[tuple[str, object, object]] = []  # (path, recorded, now)
    for key in dict.fromkeys([*new, *old]):
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if isinstance(a, dict) and isinstance(b, dict):
            units += [(f"{key}.{k}", a.get(k, _ABSENT), b.get(k, _ABSENT)) for k in {**b, **a}]
        else:
            units.append((key, a, b))
    out = []
    for path, a, b in units:
        if a == b:
            continue
        ea, eb = _entries(path, a, {}), _entries(path, b, {})
        named = [
            p
            for p in names
            if p.startswith((f"{path}.", f"{path}[")) and ea.get(p, _ABSENT) != eb.get(p, _ABSENT)
        ]
        for p in named or [path]:
            then, now = _shown(ea.get(p, _ABSENT)), _shown(eb.get(p, _ABSENT))
            if then == now:  # (values of other types that read alike: "4" and 4)
                then, now = (_typed(e.get(p, _ABSENT)) for e in (ea, eb))
            out.append(f"{names.get(p, p)}: recorded {then}, now {now}")
    return out


def _is_cell(cell: object, n: int) -> bool:
    """Whether a recorded cell is one :func:`evaluate_defense` writes for ``n`` images: an
    accuracy k/n in [0, 1], seconds >= 0 and, where recorded (cells from before it was are
    kept without), a :data:`CORRECT` string of n '0'/'1' with k '1's (a damaged one would
    enter the worst-case columns: "1111" showed a worst case above both its attacks)."""
    if not isinstance(cell, dict):
        return False
    acc, seconds = cell.get("accuracy"), cell.get("seconds")
    numbers = all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in (acc, seconds)
    )
    if not (numbers and 0 <= acc <= 1 and seconds >= 0 and abs(acc * n - round(acc * n)) < 1e-6):
        return False
    if CORRECT not in cell:
        return True
    bits = cell[CORRECT]
    return (
        isinstance(bits, str)
        and len(bits) == n
        and set(bits) <= {"0", "1"}
        and bits.count("1") == round(acc * n)
    )


def _damaged_meta(meta: Mapping) -> str | None:
    """Why a recorded ``cells.json`` meta is not one :func:`evaluate_defense` writes, or None:
    its ``n`` an int >= 1 and its ``settings`` the fields of an :class:`EvalSettings` (a field
    it does not know is left to :func:`meta_differences`). A value of another type (the text
    "4" for n) is a damaged file, not a setting to compare ("--n: recorded 4, now 4")."""
    try:
        if "n" in meta:
            check_int(meta["n"], "n", low=1)
        rows = meta.get("rows", [])
        if not isinstance(rows, list) or not all(
            isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) for r in rows
        ):
            raise TypeError(f"rows must be a list of [name, defended] pairs, got {rows!r}")
        if not isinstance(meta.get("fingerprints") or {}, dict):
            raise TypeError(
                "fingerprints must be a JSON object of the models' fingerprints, got "
                f"{type(meta['fingerprints']).__name__}"
            )
        if "settings" in meta:
            settings = meta["settings"]
            if not isinstance(settings, dict):
                raise TypeError(f"settings must be a JSON object, got {settings!r}")
            known = {f.name for f in fields(EvalSettings)}
            EvalSettings(**{k: v for k, v in settings.items() if k in known})
    except (TypeError, ValueError) as err:
        return str(err)
    return None


def _column_budget_fields(column: str) -> set[str] | None:
    """The budgets the attack of a recorded column read (None: not an attack's column; every
    budget for a column no registered attack makes, to be safe)."""
    if column == "clean" or column.startswith("worst case"):
        return None
    label = column.rsplit(" ε=", 1)[0].removesuffix(" L2")
    for record in registered_attacks():
        if record.label == label:
            return record.budget_fields()
    return set().union(*(r.budget_fields() for r in registered_attacks()))


def inherit_unread_budgets(
    saved: Mapping, meta: dict, attacks: Sequence[AttackSpec], cells: Mapping | None = None
) -> dict:
    """The recorded meta ``saved`` as this run compares it with its own ``meta``, for the
    attack budgets (EvalSettings fields some registered attack reads: ``AttackRecord
    .budget_fields``):

    - one no attack of this run reads keeps its recorded value, in ``meta`` too (the cells this
      run reuses were made with it; no cell of this run depends on it): a rerun of a subset of
      the attacks is not refused for a budget it cannot set (helper-59);
    - one no recorded cell's attack read (``cells``' columns) takes this run's value (nothing
      recorded depends on it): adding ``pgd`` with ``--pgd-steps 3`` to a folder of ``fgsm``
      cells is not refused as "recorded 40, now 3" (helper-60).
    Only a budget that both a recorded cell and this run read is compared."""
    read = set().union(*(a.record.budget_fields() for a in attacks))
    budgets = set().union(*(r.budget_fields() for r in registered_attacks()))
    recorded = dict(saved.get("settings") or {}) if isinstance(saved.get("settings"), dict) else {}
    used: set[str] = set()
    for key in cells or {}:
        fields = _column_budget_fields(str(key).split("|", 1)[-1])
        used |= fields or set()
    for field in sorted(budgets):
        if field not in read and field in recorded:
            meta["settings"][field] = recorded[field]
        elif field in read and field not in used and field in meta["settings"]:
            recorded[field] = meta["settings"][field]
    return {**saved, "settings": recorded} if isinstance(saved.get("settings"), dict) else saved


def _fingerprint_refusal(saved: Mapping, now: Mapping, where: str, out_name: str) -> str | None:
    """Why the recorded models' fingerprints ``saved`` do not admit this run's ``now``, or None."""
    if dict(saved) == dict(now):
        return None
    changed = [k for k in now if k in saved and saved[k] != now[k]]
    if changed and set(saved) == set(now):
        which = "; ".join(
            f"{k} was retrained or replaced since the cells were computed (weights fingerprint "
            f"recorded {saved[k]}, now {now[k]})"
            for k in changed
        )
        return (
            f"{which}: {where} holds cells of the recorded model{'s' if len(changed) > 1 else ''}"
            f", which would be mixed with the new one's in one table; pass another {out_name} "
            "for the new model, or restore the recorded one to resume"
        )
    return (
        f"{where} holds cells of other models (recorded: {', '.join(saved) or 'none'}; now: "
        f"{', '.join(now) or 'none'}): pass another {out_name}, or restore the recorded models"
    )


def evaluate_defense(
    rows: Sequence[Row],
    images: Tensor,
    labels: Tensor,
    attacks: Sequence[AttackSpec],
    *,
    defense: ProjectionDefense | None = None,
    G: nn.Module | None = None,
    settings: EvalSettings | None = None,
    out: str | Path | None = None,
    tag: dict | None = None,
    fingerprints: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> list[dict]:
    """Accuracy of every row under every attack; returns one dict per row (see module doc).

    images (n, C, H, W) in [0, 1], labels (n,). With ``out``, finished cells go to
    ``out/cells.json`` (reused on a rerun of the same evaluation, which may add attacks) and the
    table to ``out/results.csv`` and ``out/results.md`` after every cell.

    What a rerun must match is recorded as the ``meta`` of ``cells.json``: n, the settings
    (all but ``progress``), the defense's parameters, the rows' names, ``tag`` (JSON-able, e.g.
    the generator and classifier names and the data) and ``"fingerprints"``, the identity of
    every model the cells depend on. ``fingerprints`` maps how a refusal should name each model
    to its identity (the CLI: ``{"--classifier PATH": model_fingerprint(PATH)}``, one per
    checkpoint it loads; it must cover every row's classifier and the generator); None records
    :func:`module_fingerprint` (a hash of the tensors of the ``state_dict``, taken when the call
    starts) of each row's classifier (``"the classifier of row 'NAME'"``) and of the generator.

    Refused with a ValueError before any cell is computed or any file written: a ``cells.json``
    in ``out`` whose meta differs (every difference named as ``"settings.pgd_steps: recorded
    40, now 4"``, see :func:`meta_differences`; ``names`` maps ``"out"`` and those paths to
    the caller's names, e.g. the CLI's flags), one whose models' fingerprints differ (the model
    was retrained or replaced at its path since the cells were computed: its cells and the new
    model's would mix in one table; pass another ``out``, or restore the model), and a folder
    holding anything but an evaluation's files (:func:`check_evaluation_dir`), and a damaged
    ``cells.json``: a meta ``n`` or setting of another type than this evaluation writes, or a
    cell that is not an accuracy k/n with its ``"correct"`` record of n '0'/'1' holding k
    '1's (judged by the recorded n; a rerun with another n is named as a setting). A ``cells.json``
    written before fingerprints were recorded resumes (what its cells were computed with is not
    known): when this run adds a cell, the fingerprints are recorded from then on (a later
    retrain is refused) and the cells already there are marked ``"models_unverified": true``
    and named below the table of ``results.md``, so the record never claims they came from the
    recorded models; a run that adds no cell leaves such a ``cells.json`` as it is.

    A cell whose attack saw an input gradient of exactly zero for every image of a batch (it
    warned ``ZeroGradientWarning``) is marked ``"zero_gradient": true`` in ``cells.json`` and
    named below the table of ``results.md``; so is a defended cell where k images' projections
    were not improved by any step (``"not_improved": k``, the projection's status).

    A classifier that learned nothing (:func:`untrained_classifiers`: its training status, from
    ``train_classifier`` or its checkpoint card, is not ok, or its clean accuracy on these
    images, without the projection, is no better than a constant guess of their most frequent
    label) makes every accuracy of its rows meaningless: a ConvergenceWarning says so, the
    clean cell of each of its rows is marked ``"untrained_classifier": "<why>"`` in
    ``cells.json`` (also a recorded cell, on a rerun) and the rows are named first below the
    table of ``results.md``.

    Everything is checked before the first cell: rows, attacks and their budgets against the
    image size, images in [0, 1] of the shape every model takes, labels in [0, classes) of every
    classifier, that ``out`` can be created, and that its cells are this evaluation's.
    """
    s = settings or EvalSettings()
    if not isinstance(s, EvalSettings):
        raise TypeError(f"settings must be an EvalSettings, got {type(s).__name__}")
    G = G if G is not None else (defense.G if defense is not None else None)
    images, labels = _check_evaluation(rows, images, labels, attacks, defense, G)
    n = len(images)
    names = _check_names(names, "names")
    if fingerprints is None:
        fingerprints = _module_fingerprints(rows, G, defense)
    fingerprints = _check_names(fingerprints, "fingerprints")
    meta = {  # what a rerun must match to reuse cells (JSON round trip: tuples become lists)
        "n": n,
        "settings": asdict(s),
        "defense": None if defense is None else defense.extra_repr(),
        "rows": [[r.name, r.defended] for r in rows],
        "tag": tag,
        "fingerprints": fingerprints,
    }
    meta = json.loads(json.dumps(meta))
    cells: dict[str, dict] = {}
    out_name = names.get("out", "out")
    cells_path = check_evaluation_dir(out, out_name) / STATE_FILE if out is not None else None
    unverified = False  # a cells.json from before fingerprints: its cells' models are unknown
    saved = None  # the cells.json found in out
    if cells_path is not None and cells_path.is_file():
        try:
            saved = read_json(cells_path, "cells file")
        except ValueError as err:  # (a corrupt state: say how to go on)
            raise ValueError(
                f"{err}; pass another {out_name} folder, or delete its "
                f"{', '.join(EVALUATION_FILES)} to start over"
            ) from err
        where = f"{out_name} {str(out)!r}"
        old = saved.get("meta")
        if not isinstance(old, dict) or not isinstance(saved.get("cells"), dict):
            raise ValueError(
                f"{where} holds a cells.json that is not an evaluation's (its meta and cells "
                f"must be JSON objects); pass another {out_name} folder, or delete its "
                f"{', '.join(EVALUATION_FILES)} to start over"
            )
        damaged = _damaged_meta(old)
        if damaged:  # (a value of another type would be compared as text, or judge the cells)
            raise ValueError(
                f"{where} holds a cells.json whose meta is not one this evaluation writes "
                f"({damaged}); pass another {out_name} folder, or delete its "
                f"{', '.join(EVALUATION_FILES)} to start over"
            )
        # cells are judged by the n they were made for (another n is named below, as --n)
        m = old.get("n", n)
        broken = [k for k, cell in saved["cells"].items() if not _is_cell(cell, m)]
        if broken:  # (a hand-edited or damaged file: its numbers would enter the tables)
            also = (
                f" (its images differ too: {names.get('n', 'n')} recorded {m}, now {n})"
                if m != n
                else ""
            )
            raise ValueError(
                f"{where} holds a cells.json whose cell {broken[0]!r} is not one this evaluation "
                f"writes (an accuracy k/{m} in [0, 1], seconds >= 0 and a {CORRECT!r} string of "
                f"{m} 0s and 1s, k of them 1){also}; pass another {out_name} folder, or delete "
                f"its {', '.join(EVALUATION_FILES)} to start over"
            )
        compared = inherit_unread_budgets(old, meta, attacks, saved["cells"])
        differ = meta_differences(compared, meta, names)
        if differ:
            raise ValueError(
                f"{where} holds the cells.json of a different evaluation (its settings differ: "
                f"{'; '.join(differ)}); pass another {out_name} folder, rerun with the recorded "
                f"settings, or delete its {', '.join(EVALUATION_FILES)} to start over"
            )
        recorded = old.get("fingerprints")
        unverified = recorded is None  # (written before fingerprints were: accepted)
        if not unverified and (
            refusal := _fingerprint_refusal(recorded, fingerprints, where, out_name)
        ):
            raise ValueError(refusal)
        cells = saved["cells"]
    cache: dict[tuple, tuple[Tensor, float, bool]] = {}
    columns = ["clean", *(a.column for a in attacks), *worst_case_columns(attacks)]
    todo = [(r, c) for r in rows for c in [None, *attacks]]
    # every attack still to run is built (and so validated: step sizes, budgets) before the
    # first cell is written
    built = {
        _cache_key(c, r): _make_attack(c, r, defense, G, s)
        for r, c in todo
        if c is not None and _cell_key(r, c) not in cells
    }
    if unverified and any(_cell_key(r, c) not in cells for r, c in todo):
        for cell in cells.values():  # (this run's fingerprints are recorded with its cells)
            cell["models_unverified"] = True
    untrained = untrained_classifiers(rows, images, labels, s.batch_size)
    for why, flagged in _by_reason(untrained).items():
        several = len(flagged) > 1
        warnings.warn(
            f"evaluate_defense: the classifier of row{'s' if several else ''} "
            f"{', '.join(repr(r) for r in flagged)} learned nothing ({why}): no accuracy of "
            f"{'those rows' if several else 'that row'} measures a defense"
            + (" (named below the table of results.md)" if out is not None else "")
            + "; retrain the classifier",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    # (after every check: a refused run writes nothing)
    if _mark_untrained(rows, cells, untrained) and saved is not None:
        atomic_write_json(cells_path, {**saved, "cells": cells})  # (recorded cells, same meta)
    bar = tqdm(todo, desc="defense eval", disable=not s.progress)
    for row, spec in bar:
        key = _cell_key(row, spec)
        if key in cells:
            continue
        bar.set_postfix_str(key)
        start = time.perf_counter()
        adv, reused = images, 0.0  # reused: seconds it took to make cached adversarial images
        zero = False  # the attack's input gradient was exactly zero for a whole batch
        if spec is not None:
            ck = _cache_key(spec, row)
            if ck in cache:
                adv, reused, zero = cache[ck]
            else:
                adv, zero = _batched(built[ck], images, labels, s.batch_size)
                cache[ck] = (adv, time.perf_counter() - start, zero)
        model = nn.Sequential(defense, row.classifier) if row.defended else row.classifier
        if row.defended:  # count the projections of this cell's classification only
            defense.not_improved = 0
        ok = correct_predictions(model, adv, labels, batch_size=s.batch_size)
        seconds = time.perf_counter() - start + reused
        cells[key] = {"accuracy": int(ok.sum()) / n, "seconds": seconds, CORRECT: _bits(ok)}
        if zero:  # the warning said so; the result says so too
            cells[key]["zero_gradient"] = True
        if row.defended and defense.not_improved:  # (the engine warned ConvergenceWarning)
            cells[key]["not_improved"] = defense.not_improved
        if spec is None and row.name in untrained:  # (warned above)
            cells[key][UNTRAINED] = untrained[row.name]
        elif spec is None and row.defended:  # a projection that leaves nothing to classify
            blind = projection_blind(row, images, labels, ok, s.batch_size)
            if blind:
                cells[key][PROJECTION_BLIND] = blind
        if out is not None:  # cells.json is the state; the tables are views of it
            atomic_write_json(cells_path, {"meta": meta, "cells": cells})
            write_table(table_rows(rows, columns, cells, n, attacks), out, cell_notes(cells))
    table = table_rows(rows, columns, cells, n, attacks)
    if out is not None:  # also when every cell was already done (a kill before the tables)
        write_table(table, out, cell_notes(cells))
    return table


def cell_notes(cells: dict) -> str:
    """The lines below the table of ``results.md``: ``untrained_note``, ``blind_note``,
    ``zero_gradient_note``, ``not_improved_note`` and ``unverified_note`` ("" when every cell
    is clean)."""
    notes = zero_gradient_note(cells) + not_improved_note(cells) + unverified_note(cells)
    return untrained_note(cells) + blind_note(cells) + notes


#: the field of a defended row's clean cell in ``cells.json`` that says the classifier is no
#: better than a constant guess behind the projection while it is better without it
#: (:func:`projection_blind`): the projection does not reach the images' neighbourhood
PROJECTION_BLIND = "projection_blind"


def projection_blind(
    row: Row, images: Tensor, labels: Tensor, ok: Tensor, batch_size: int = 100
) -> str:
    """Why the defended ``row``'s clean accuracy (``ok``: its per-image correctness behind the
    projection) measures no defense, or "": it is no better than a constant guess of the most
    frequent label of ``labels`` while the classifier alone is (too few projection steps or
    restarts, or a generator of other images: helper-58, ``defend eval --steps 2`` gave 0.00
    clean accuracy with no flag). Warns ConvergenceWarning when it finds one."""
    guess = constant_guess_accuracy(labels)
    behind = float(ok.float().mean())
    if guess >= 1 or behind > guess:
        return ""
    alone = _clean_accuracy(row.classifier, images, labels, batch_size)
    if alone <= guess:  # (the classifier itself: untrained_classifiers says so)
        return ""
    why = (
        f"clean accuracy {behind:.3g} behind the projection, {alone:.3g} without it, "
        f"{guess:.3g} for a constant guess of the most frequent label"
    )
    warnings.warn(
        f"evaluate_defense: behind the projection the classifier of row {row.name!r} is no "
        f"better than a constant guess ({why}): the projection does not bring the images near "
        "themselves, so no accuracy of that row measures the defense; raise the projection's "
        "steps or restarts (defend eval --steps / --restarts) or check the generator",
        ConvergenceWarning,
        stacklevel=user_stacklevel(),
    )
    return why


def blind_note(cells: dict) -> str:
    """A line for ``results.md`` naming the defended rows whose projection left the classifier
    no better than a constant guess on clean images (:data:`PROJECTION_BLIND`). "" if none."""
    return _note(
        cells,
        PROJECTION_BLIND,
        "Projections that leave the classifier no better than a constant guess on clean images "
        "(ConvergenceWarning; no accuracy of these rows measures the defense: raise the "
        "projection's steps or restarts)",
    )


#: the field of a row's clean cell in ``cells.json`` that says why the row's classifier learned
#: nothing (:func:`untrained_classifiers`)
UNTRAINED = "untrained_classifier"


def _clean_accuracy(f: nn.Module, images: Tensor, labels: Tensor, batch_size: int) -> float:
    """``models.accuracy`` of ``f`` alone on ``images``, keeping its train/eval mode (accuracy
    leaves it in eval mode). Not a cell: it is called from the classifier module, apart from
    the ``accuracy`` the cells are computed with."""
    mode = f.training
    try:
        return classifier_module.accuracy(f, images, labels, batch_size)
    finally:
        f.train(mode)


def untrained_classifiers(
    rows: Sequence[Row], images: Tensor, labels: Tensor, batch_size: int = 100
) -> dict[str, str]:
    """Row name -> why the row's classifier learned nothing, for each row whose classifier
    either carries a training status other than ``"ok"`` (:func:`ganinverse.models.classifier
    .training_status`: set by ``train_classifier``, recorded in ``train-classifier``'s card)
    or has a clean accuracy on ``images`` (the classifier alone, without the projection) no
    better than a constant guess of the most frequent label of ``labels``. The accuracy test is
    skipped when the images hold one class only (a constant guess is then always right).
    A classifier of several rows is judged once; the reasons name the numbers."""
    memo: dict[int, str] = {}
    n = len(images)
    guess = constant_guess_accuracy(labels)
    out = {}
    for row in rows:
        f = row.classifier
        if id(f) not in memo:
            status = training_status(f)
            acc = _clean_accuracy(f, images, labels, batch_size)
            blind = guess < 1 and acc <= guess
            parts = [] if status in (None, TRAINING_OK) else [f"training status {status!r}"]
            if parts or blind:
                numbers = f"{guess:.3g} for a constant guess of the most frequent label"
                parts.append(
                    f"clean accuracy {acc:.3g} on the {n} images, "
                    + (f"no better than {numbers}" if blind else f"{numbers}")
                )
            memo[id(f)] = "; ".join(parts)
        if memo[id(f)]:
            out[row.name] = memo[id(f)]
    return out


def _by_reason(untrained: Mapping[str, str]) -> dict[str, list[str]]:
    """Reason -> the rows (names) it was given for, in row order."""
    out: dict[str, list[str]] = {}
    for name, why in untrained.items():
        out.setdefault(why, []).append(name)
    return out


def _mark_untrained(rows: Sequence[Row], cells: dict, untrained: Mapping[str, str]) -> bool:
    """Set (or drop) the :data:`UNTRAINED` field of every recorded clean cell of ``rows`` to
    this run's verdict; whether any cell changed."""
    changed = False
    for row in rows:
        cell = cells.get(_cell_key(row, None))
        if not isinstance(cell, dict) or cell.get(UNTRAINED) == untrained.get(row.name):
            continue
        if row.name in untrained:
            cell[UNTRAINED] = untrained[row.name]
        else:
            cell.pop(UNTRAINED, None)
        changed = True
    return changed


def untrained_note(cells: dict) -> str:
    """A line for ``results.md`` naming the rows whose classifier learned nothing (the
    ``"untrained_classifier"`` field of their clean cell in ``cells.json``, with why; the
    evaluation warned ``ConvergenceWarning``): none of their accuracies measures a defense.
    "" if none."""
    reasons = {
        key.rsplit("|", 1)[0]: str(cell[UNTRAINED])
        for key, cell in cells.items()
        if isinstance(cell, dict) and cell.get(UNTRAINED)
    }
    if not reasons:
        return ""
    listed = "; ".join(f"{', '.join(r)} ({why})" for why, r in _by_reason(reasons).items())
    return (
        "Classifiers that learned nothing (ConvergenceWarning; no accuracy of these rows "
        f"measures a defense, retrain the classifier): {listed}\n"
    )


def _note(cells: dict, field: str, lead: str) -> str:
    """``lead``: the cells whose ``field`` is set in ``cells.json`` (with its count where it is
    one), as one line for ``results.md``; "" if none."""
    flagged = [
        key if cell[field] is True else f"{key} ({cell[field]})"
        for key, cell in cells.items()
        if cell.get(field)
    ]
    return f"{lead}: {'; '.join(flagged)}\n" if flagged else ""


def unverified_note(cells: dict) -> str:
    """A line naming the cells computed before ``cells.json`` recorded the models' fingerprints
    (``"models_unverified": true``): nothing shows they came from the recorded models (a model
    retrained before the fingerprints were recorded went unnoticed). "" if none."""
    return _note(
        cells,
        "models_unverified",
        "Computed before cells.json recorded the models' fingerprints (not known to be of the "
        "recorded models; delete the folder and rerun to be sure)",
    )


def not_improved_note(cells: dict) -> str:
    """A line naming the cells where the defense's projection of some images was not improved by
    any step (``"not_improved": k`` in ``cells.json``: k images were classified as G(z_start),
    not as their projection; the engine warned ``ConvergenceWarning``). "" if none."""
    return _note(
        cells,
        "not_improved",
        "Projections that no step improved (images classified as G(z_start); check the "
        "projection's steps and lr)",
    )


def zero_gradient_note(cells: dict) -> str:
    """A line for ``results.md`` naming the cells whose attack saw an input gradient of exactly
    zero for every image of a batch (``"zero_gradient"`` in ``cells.json``; the attack warned
    ``ZeroGradientWarning``): their accuracy is not that of a working attack. "" if none."""
    return _note(
        cells,
        "zero_gradient",
        "Input gradient exactly zero for every image of a batch (ZeroGradientWarning; the "
        "attack could not move them, its accuracy overstates robustness)",
    )


def _check_evaluation(
    rows: Sequence[Row],
    images: object,
    labels: object,
    attacks: Sequence[AttackSpec],
    defense: ProjectionDefense | None,
    G: nn.Module | None,
) -> tuple[Tensor, Tensor]:
    """The checks of :func:`evaluate_defense`, in the order a user would fix them."""
    if isinstance(rows, Row) or not all(isinstance(r, Row) for r in rows) or not rows:
        raise TypeError("rows must be a non-empty list of Row(name, classifier, defended)")
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"rows must have distinct names, got {names}")
    if isinstance(attacks, (str, AttackSpec)) or not all(
        isinstance(a, AttackSpec) for a in attacks
    ):
        raise TypeError("attacks must be a list of AttackSpec; parse_attacks('pgd:0.3') makes one")
    if not attacks:
        raise ValueError("attacks must name at least one attack, e.g. parse_attacks('pgd:0.3')")
    if any(r.defended for r in rows) and not isinstance(defense, ProjectionDefense):
        raise ValueError("a defended row needs defense=ProjectionDefense(G, ...)")
    for spec in attacks:
        if G is None and any(spec.record.for_row(r.defended).needs_generator for r in rows):
            raise ValueError(f"the {spec.name} attack needs a generator: pass G= or defense=")
    shape = None if defense is None else defense.image_shape
    images, labels = check_attack_inputs(images, labels, shape)
    for spec in attacks:
        spec.check_image_size(images[0].numel())
    for row in rows:
        f = row.classifier
        if not isinstance(f, nn.Module):
            raise TypeError(f"the classifier of row {row.name!r} must be an nn.Module")
        if G is not None:
            check_generator(G, f, "the generator")
        check_attack_inputs(images[:1], labels[:1], getattr(f, "image_shape", None))
        k = num_classes_of(f, images, f"the classifier of row {row.name!r}")
        check_labels(labels, k, model=f"the classifier of row {row.name!r}")
    return images, labels


#: the fields of a cell in ``cells.json`` that qualify its accuracy, as the ``flags`` column
#: of the table names them (the notes below ``results.md`` say what each means)
CELL_FLAGS = (UNTRAINED, PROJECTION_BLIND, "zero_gradient", "not_improved", "models_unverified")


#: the field of a cell in ``cells.json`` that records, per image in order, whether it was
#: classified as its label ("1") or not ("0"), for the worst case over attacks
CORRECT = "correct"


def _bits(ok: Tensor) -> str:
    return "".join("1" if v else "0" for v in ok.tolist())


def _threat(spec: AttackSpec) -> str:
    """The threat model of a column: its ball, e.g. ``ε=0.3`` or ``L2 ε=1.98``."""
    return f"{'' if spec.norm == 'inf' else 'L2 '}ε={eps_text(spec.eps)}"


def worst_case_columns(attacks: Sequence[AttackSpec]) -> dict[str, list[str]]:
    """``worst case <ball>`` -> the columns it combines, for every ball (norm and ε) that two or
    more of ``attacks`` share: ``clean`` (the unperturbed image lies in every ball) and those
    attacks' columns. An image counts as robust there only if it is classified right clean and
    under every one of them: the per-image worst case over attacks, the robust accuracy that
    AutoAttack reports for its ensemble (Croce & Hein, ICML 2020), never above the lowest of
    its columns."""
    groups: dict[str, list[str]] = {}
    for spec in attacks:
        groups.setdefault(f"worst case {_threat(spec)}", []).append(spec.column)
    return {name: ["clean", *cols] for name, cols in groups.items() if len(cols) > 1}


def worst_case_accuracy(cells: Sequence[dict | None]) -> float | None:
    """The fraction of images classified right in every one of ``cells`` (their
    :data:`CORRECT` records); None when a cell is missing or has no per-image record (computed
    before they were recorded) or the records differ in length."""
    bits = [None if c is None else c.get(CORRECT) for c in cells]
    if not bits or any(not isinstance(b, str) for b in bits) or len({len(b) for b in bits}) != 1:
        return None
    return sum(all(b[i] == "1" for b in bits) for i in range(len(bits[0]))) / len(bits[0])


def table_rows(
    rows: Sequence[Row],
    columns: list[str],
    cells: dict,
    n: int,
    attacks: Sequence[AttackSpec] = (),
) -> list[dict]:
    """One dict per row: model, n, accuracy per column (None if not run), the worst case over
    the attacks of each shared ball (:func:`worst_case_columns` of ``attacks``; None until
    every one of its cells has a per-image record), seconds per image, and ``flags``: the
    :data:`CELL_FLAGS` set on the row's cells, each with the columns it is set on
    ("zero_gradient: PGD ε=0.3; untrained_classifier: clean"), "" when none (so a results.csv
    read without results.md's notes still shows which numbers are qualified)."""
    table = []
    worst = worst_case_columns(attacks)
    for row in rows:
        entry: dict = {"model": row.name, "n": n}
        seconds = 0.0
        flagged: dict[str, list[str]] = {}
        for col in columns:
            if col in worst:
                parts = [cells.get(f"{row.name}|{c}") for c in worst[col]]
                entry[col] = worst_case_accuracy(parts)
                continue
            cell = cells.get(f"{row.name}|{col}")
            entry[col] = None if cell is None else cell["accuracy"]
            seconds += 0.0 if cell is None else cell["seconds"]
            for field in CELL_FLAGS if cell is not None else ():
                if cell.get(field):
                    flagged.setdefault(field, []).append(col)
        for col, parts in worst.items():  # (a worst case is as qualified as its parts)
            for cols in flagged.values():
                if any(p in cols for p in parts) and col not in cols:
                    cols.append(col)
        for field in (UNTRAINED, PROJECTION_BLIND):  # (on the clean cell: void the whole row)
            if field in flagged:
                flagged[field] = ["every column"]
        entry["s/image"] = seconds / n
        entry["flags"] = "; ".join(f"{f}: {', '.join(c)}" for f, c in flagged.items())
        table.append(entry)
    return table


def format_markdown(table: list[dict]) -> str:
    """A markdown table; accuracies with 3 decimals, missing cells as '—'."""
    if not table:
        return ""
    keys = list(table[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for entry in table:
        cells = []
        for k in keys:
            v = entry[k]
            if v is None:
                cells.append("—")
            elif k == "s/image":
                cells.append(f"{v:.2f}")
            elif isinstance(v, float):
                cells.append(f"{v:.3f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(table: list[dict], out: str | Path, note: str = "") -> tuple[Path, Path]:
    """``out/results.csv`` and ``out/results.md`` (the table, then ``note`` if any), written
    atomically."""
    out = Path(out)
    csv_path = atomic_write_csv(out / "results.csv", list(table[0]), table)
    md_path = atomic_write_text(
        out / "results.md", format_markdown(table) + (f"\n{note}" if note else "")
    )
    return csv_path, md_path
