"""Accuracy table: models (rows) × attacks (columns), resumable cell by cell.

Rows: a classifier f alone, or the projection defense in front of it (f ∘ D). Columns:
``clean`` and one per attack ``name:eps`` (eps on the [0, 1] scale; a ``2`` suffix, e.g.
``pgd2:4.0``, means the L2 ball). The attacks are the records of
:mod:`ganinverse.defense.registry` (fgsm, pgd, bpda, eot, latent, bpda_tangent, eot_restarts,
unrolled, ...): a non-adaptive one is computed on f and its images pass through D on a
defended row; an adaptive one (bpda, eot, ...)
attacks f ∘ D and is its ``undefended`` attack (pgd) on a row without D.

Each cell is the accuracy on the same n test images; a cell's seconds include making the
attack and classifying. Finished cells are kept in ``cells.json`` so a rerun resumes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import check_choice, check_count, check_int
from ..io import atomic_write_csv, atomic_write_json, atomic_write_text, check_output_dir, read_json
from ..models import accuracy
from ..models.classifier import check_labels, num_classes_of
from .adaptive import check_generator
from .attacks import NORMS, Attack, check_attack_inputs, check_budget
from .projection import ProjectionDefense
from .registry import AttackContext, AttackRecord, attack_record, registered_attacks

_BALLS = {"inf": "L∞", "2": "L2"}


@dataclass(frozen=True)
class AttackSpec:
    """One column: a registered attack ``name`` (:func:`registered_attacks`), radius ``eps``,
    ``norm`` "inf" or "2" (one the attack supports)."""

    name: str
    eps: float
    norm: str = "inf"

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
        object.__setattr__(self, "eps", check_budget(self.eps, f"eps of {self.token}", self.norm))

    @property
    def record(self) -> AttackRecord:
        """The registry's record of this attack."""
        return attack_record(self.name)

    @property
    def token(self) -> str:
        """How the spec is written on the command line, e.g. ``pgd2:4``."""
        return f"{self.name}{'2' if self.norm == '2' else ''}:{self.eps:g}"

    def check_image_size(self, n: int) -> None:
        """An L2 budget is at most √n, the diameter of [0, 1]^n (an L∞ one was checked)."""
        check_budget(self.eps, f"eps of {self.token}", self.norm, n)

    @property
    def column(self) -> str:
        """The column label, e.g. ``PGD L2 ε=4``."""
        norm = "" if self.norm == "inf" else " L2"
        return f"{self.record.label}{norm} ε={self.eps:g}"


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

    Each eps is checked finite and in range (L∞: ≤ 1 on the [0, 1] scale; the L2 bound √n
    needs the image size: :meth:`AttackSpec.check_image_size`).
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
        if not sep:
            raise ValueError(f"attack {item!r} must be written name:eps, e.g. pgd:0.3")
        norm = "2" if name.endswith("2") else "inf"
        name = name[:-1] if norm == "2" else name
        try:
            value = float(eps)
        except ValueError as err:
            raise ValueError(f"attack {item!r}: eps must be a number") from err
        attack = AttackSpec(name, value, norm)
        if any(a.column == attack.column for a in out):
            raise ValueError(
                f"attack {item!r} is listed twice (column {attack.column}); list each attack once"
            )
        out.append(attack)
    if not out:
        raise ValueError("attacks must name at least one attack, e.g. fgsm:0.3,pgd:0.3")
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

    def __post_init__(self) -> None:
        for name in ("pgd_steps", "bpda_steps", "latent_steps", "unroll_steps"):
            check_count(getattr(self, name), name, "steps")
        for name in ("eot_samples", "latent_restarts"):
            check_count(getattr(self, name), name, "draws")
        check_int(self.batch_size, "batch_size", low=1)
        if self.bpda_projection is not None:
            steps, restarts = self.bpda_projection
            check_count(steps, "bpda_projection steps", "steps")
            check_count(restarts, "bpda_projection restarts", "draws")


@dataclass
class Row:
    """A model to evaluate: ``classifier`` alone or behind the projection defense."""

    name: str
    classifier: nn.Module
    defended: bool


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
) -> list[dict]:
    """Accuracy of every row under every attack; returns one dict per row (see module doc).

    images (n, C, H, W) in [0, 1], labels (n,). With ``out``, finished cells go to
    ``out/cells.json`` (reused on a rerun with the same settings) and the table to
    ``out/results.csv`` and ``out/results.md`` after every cell. ``tag`` (JSON-able, e.g. the
    generator and classifier names) is part of what a rerun must match to reuse cells; a
    ``cells.json`` of another evaluation in ``out``, and a folder holding anything but an
    evaluation's files (:func:`check_evaluation_dir`), are refused rather than overwritten. A
    cell whose attack saw an input gradient of exactly zero for every image of a batch (it
    warned ``ZeroGradientWarning``) is marked ``"zero_gradient": true`` in ``cells.json`` and
    named below the table of ``results.md``; so is a defended cell where k images' projections
    were not improved by any step (``"not_improved": k``, the projection's status).

    Everything is checked before the first cell: rows, attacks and their budgets against the
    image size, images in [0, 1] of the shape every model takes, labels in [0, classes) of every
    classifier, and that ``out`` can be created.
    """
    s = settings or EvalSettings()
    if not isinstance(s, EvalSettings):
        raise TypeError(f"settings must be an EvalSettings, got {type(s).__name__}")
    G = G if G is not None else (defense.G if defense is not None else None)
    images, labels = _check_evaluation(rows, images, labels, attacks, defense, G)
    n = len(images)
    meta = {  # what a rerun must match to reuse cells (JSON round trip: tuples become lists)
        "n": n,
        "settings": asdict(s),
        "defense": None if defense is None else defense.extra_repr(),
        "rows": [[r.name, r.defended] for r in rows],
        "tag": tag,
    }
    meta = json.loads(json.dumps(meta))
    cells: dict[str, dict] = {}
    cells_path = check_evaluation_dir(out, "out") / STATE_FILE if out is not None else None
    if cells_path is not None and cells_path.is_file():
        saved = read_json(cells_path, "cells file")
        if saved.get("meta") != meta or not isinstance(saved.get("cells"), dict):
            old = saved.get("meta") if isinstance(saved.get("meta"), dict) else {}
            differ = sorted(k for k in meta if old.get(k) != meta[k]) or ["format"]
            raise ValueError(
                f"out {str(out)!r} holds the cells.json of a different evaluation (it differs "
                f"in {', '.join(differ)}); pass another out folder, or delete its "
                f"{', '.join(EVALUATION_FILES)} to start over"
            )
        cells = saved["cells"]
    cache: dict[tuple, tuple[Tensor, float, bool]] = {}
    columns = ["clean", *(a.column for a in attacks)]
    todo = [(r, c) for r in rows for c in [None, *attacks]]
    # every attack still to run is built (and so validated: step sizes, budgets) before the
    # first cell is written
    built = {
        _cache_key(c, r): _make_attack(c, r, defense, G, s)
        for r, c in todo
        if c is not None and f"{r.name}|{c.column}" not in cells
    }
    bar = tqdm(todo, desc="defense eval", disable=not s.progress)
    for row, spec in bar:
        key = f"{row.name}|{'clean' if spec is None else spec.column}"
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
        acc = accuracy(model, adv, labels, batch_size=s.batch_size)
        seconds = time.perf_counter() - start + reused
        cells[key] = {"accuracy": acc, "seconds": seconds}
        if zero:  # the warning said so; the result says so too
            cells[key]["zero_gradient"] = True
        if row.defended and defense.not_improved:  # (the engine warned ConvergenceWarning)
            cells[key]["not_improved"] = defense.not_improved
        if out is not None:  # cells.json is the state; the tables are views of it
            atomic_write_json(cells_path, {"meta": meta, "cells": cells})
            write_table(table_rows(rows, columns, cells, n), out, cell_notes(cells))
    table = table_rows(rows, columns, cells, n)
    if out is not None:  # also when every cell was already done (a kill before the tables)
        write_table(table, out, cell_notes(cells))
    return table


def cell_notes(cells: dict) -> str:
    """The lines below the table of ``results.md``: ``zero_gradient_note`` and
    ``not_improved_note`` ("" when every cell is clean)."""
    return zero_gradient_note(cells) + not_improved_note(cells)


def not_improved_note(cells: dict) -> str:
    """A line naming the cells where the defense's projection of some images was not improved by
    any step (``"not_improved": k`` in ``cells.json``: k images were classified as G(z_start),
    not as their projection; the engine warned ``ConvergenceWarning``). "" if none."""
    flagged = [
        f"{key} ({cell['not_improved']})" for key, cell in cells.items() if cell.get("not_improved")
    ]
    if not flagged:
        return ""
    return (
        "Projections that no step improved (images classified as G(z_start); check the "
        f"projection's steps and lr): {'; '.join(flagged)}\n"
    )


def zero_gradient_note(cells: dict) -> str:
    """A line for ``results.md`` naming the cells whose attack saw an input gradient of exactly
    zero for every image of a batch (``"zero_gradient"`` in ``cells.json``; the attack warned
    ``ZeroGradientWarning``): their accuracy is not that of a working attack. "" if none."""
    zero = [key for key, cell in cells.items() if cell.get("zero_gradient")]
    if not zero:
        return ""
    return (
        "Input gradient exactly zero for every image of a batch (ZeroGradientWarning; the "
        f"attack could not move them, its accuracy overstates robustness): {'; '.join(zero)}\n"
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


def table_rows(rows: Sequence[Row], columns: list[str], cells: dict, n: int) -> list[dict]:
    """One dict per row: model, n, accuracy per column (None if not run), seconds per image."""
    table = []
    for row in rows:
        entry: dict = {"model": row.name, "n": n}
        seconds = 0.0
        for col in columns:
            cell = cells.get(f"{row.name}|{col}")
            entry[col] = None if cell is None else cell["accuracy"]
            seconds += 0.0 if cell is None else cell["seconds"]
        entry["s/image"] = seconds / n
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
