"""Accuracy table: models (rows) × attacks (columns), resumable cell by cell.

Rows: a classifier f alone, or the projection defense in front of it (f ∘ D). Columns:
``clean`` and one per attack ``name:eps`` (eps on the [0, 1] scale; a ``2`` suffix, e.g.
``pgd2:4.0``, means the L2 ball):

- ``fgsm``, ``pgd``: white-box on f. For a defended row they are computed on f and then pass
  through D (the defense-oblivious threat model of the Defense-GAN paper).
- ``bpda``: BPDA-PGD through D (Athalye et al.); ``eot``: the same with a resampling D and
  ``eot_samples`` projections per gradient. Without a defense both equal PGD on f.
- ``latent``: :class:`LatentAttack` on f (an image near a misclassified G(z)).

Each cell is the accuracy on the same n test images; a cell's seconds include making the
attack and classifying. Finished cells are kept in ``cells.json`` so a rerun resumes.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import check_choice, check_int
from ..io import atomic_write_json, atomic_write_text, check_output_dir, read_json
from ..models import accuracy
from ..models.classifier import check_labels, num_classes_of
from .adaptive import LatentAttack, bpda_pgd, check_generator
from .attacks import FGSM, NORMS, PGD, Attack, check_attack_inputs, check_budget
from .projection import ProjectionDefense

ATTACKS = ("fgsm", "pgd", "bpda", "eot", "latent")
LABELS = {"fgsm": "FGSM", "pgd": "PGD", "bpda": "BPDA", "eot": "BPDA+EOT", "latent": "latent"}


@dataclass(frozen=True)
class AttackSpec:
    """One column: attack ``name`` in :data:`ATTACKS`, radius ``eps``, ``norm`` "inf" or "2"."""

    name: str
    eps: float
    norm: str = "inf"

    def __post_init__(self) -> None:
        check_choice(self.name, "attack", ATTACKS)
        check_choice(self.norm, "norm", NORMS)
        if self.name == "fgsm" and self.norm == "2":
            raise ValueError("fgsm is an L∞ attack; use pgd2 for L2")
        object.__setattr__(self, "eps", check_budget(self.eps, f"eps of {self.token}", self.norm))

    @property
    def token(self) -> str:
        """How the spec is written on the command line, e.g. ``pgd2:4``."""
        return f"{self.name}{'2' if self.norm == '2' else ''}:{self.eps:g}"

    def check_image_size(self, n: int) -> None:
        """An L2 budget is at most √n, the diameter of [0, 1]^n (an L∞ one was checked)."""
        check_budget(self.eps, f"eps of {self.token}", self.norm, n)

    @property
    def column(self) -> str:
        norm = "" if self.norm == "inf" else " L2"
        return f"{LABELS[self.name]}{norm} ε={self.eps:g}"


def parse_attacks(spec: str) -> list[AttackSpec]:
    """``"fgsm:0.3,pgd:0.3,bpda2:4"`` -> AttackSpecs (a trailing ``2`` selects the L2 ball).

    Each eps is checked finite and in range (L∞: ≤ 1 on the [0, 1] scale; the L2 bound √n
    needs the image size: :meth:`AttackSpec.check_image_size`).
    """
    if not isinstance(spec, str):
        raise TypeError(f"attacks must be a str such as 'fgsm:0.3,pgd:0.3', got {spec!r}")
    out = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        name, sep, eps = item.partition(":")
        if not sep:
            raise ValueError(f"attack {item!r} must be written name:eps, e.g. pgd:0.3")
        norm = "2" if name.endswith("2") else "inf"
        name = name[:-1] if norm == "2" else name
        try:
            value = float(eps)
        except ValueError as err:
            raise ValueError(f"attack {item!r}: eps must be a number") from err
        out.append(AttackSpec(name, value, norm))
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
    batch_size: int = 100
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        for name in ("pgd_steps", "bpda_steps", "eot_samples", "latent_steps"):
            check_int(getattr(self, name), name, low=1)
        check_int(self.latent_restarts, "latent_restarts", low=1)
        check_int(self.batch_size, "batch_size", low=1)
        if self.bpda_projection is not None:
            steps, restarts = self.bpda_projection
            check_int(steps, "bpda_projection steps", low=1)
            check_int(restarts, "bpda_projection restarts", low=1)


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
    f = row.classifier
    name = spec.name if row.defended else {"bpda": "pgd", "eot": "pgd"}.get(spec.name, spec.name)
    if name == "fgsm":
        return FGSM(f, spec.eps)
    if name == "pgd":
        return PGD(f, spec.eps, steps=s.pgd_steps, norm=spec.norm, seed=s.seed)
    if name in ("bpda", "eot"):
        config = defense.config
        if s.bpda_projection is not None:
            config = config.updated(steps=s.bpda_projection[0], restarts=s.bpda_projection[1])
        d = ProjectionDefense(defense.G, config, resample=name == "eot")
        eot = s.eot_samples if name == "eot" else 1
        return bpda_pgd(d, f, spec.eps, steps=s.bpda_steps, norm=spec.norm, eot_samples=eot)
    return LatentAttack(
        G,
        f,
        spec.eps,
        norm=spec.norm,
        steps=s.latent_steps,
        restarts=s.latent_restarts,
        seed=s.seed,
        progress=s.progress,
    )


def _cache_key(spec: AttackSpec, row: Row) -> tuple:
    """Attacks that do not depend on the defense give the same images for f and f ∘ D."""
    name = spec.name if row.defended else {"bpda": "pgd", "eot": "pgd"}.get(spec.name, spec.name)
    if name in ("bpda", "eot"):
        return (id(row.classifier), row.defended, name, spec.eps, spec.norm)
    return (id(row.classifier), name, spec.eps, spec.norm)


def _batched(attack: Attack, images: Tensor, labels: Tensor, batch_size: int) -> Tensor:
    return torch.cat(
        [
            attack(images[i : i + batch_size], labels[i : i + batch_size])
            for i in range(0, len(images), batch_size)
        ]
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
) -> list[dict]:
    """Accuracy of every row under every attack; returns one dict per row (see module doc).

    images (n, C, H, W) in [0, 1], labels (n,). With ``out``, finished cells go to
    ``out/cells.json`` (reused on a rerun with the same settings) and the table to
    ``out/results.csv`` and ``out/results.md`` after every cell. ``tag`` (JSON-able, e.g. the
    generator and classifier names) is part of what a rerun must match to reuse cells; a
    ``cells.json`` of another evaluation in ``out`` is refused rather than overwritten.

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
    cells_path = check_output_dir(out, "out") / "cells.json" if out is not None else None
    if cells_path is not None and cells_path.is_file():
        saved = read_json(cells_path, "cells file")
        if saved.get("meta") != meta or not isinstance(saved.get("cells"), dict):
            old = saved.get("meta") if isinstance(saved.get("meta"), dict) else {}
            differ = sorted(k for k in meta if old.get(k) != meta[k]) or ["format"]
            raise ValueError(
                f"out {str(out)!r} holds the cells.json of a different evaluation (it differs "
                f"in {', '.join(differ)}); pass another out folder, or delete {cells_path} to "
                "start over"
            )
        cells = saved["cells"]
    cache: dict[tuple, tuple[Tensor, float]] = {}
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
        if spec is not None:
            ck = _cache_key(spec, row)
            if ck in cache:
                adv, reused = cache[ck]
            else:
                adv = _batched(built[ck], images, labels, s.batch_size)
                cache[ck] = (adv, time.perf_counter() - start)
        model = nn.Sequential(defense, row.classifier) if row.defended else row.classifier
        acc = accuracy(model, adv, labels, batch_size=s.batch_size)
        seconds = time.perf_counter() - start + reused
        cells[key] = {"accuracy": acc, "seconds": seconds}
        if out is not None:  # cells.json is the state; the tables are views of it
            atomic_write_json(cells_path, {"meta": meta, "cells": cells})
            write_table(table_rows(rows, columns, cells, n), out)
    table = table_rows(rows, columns, cells, n)
    if out is not None:  # also when every cell was already done (a kill before the tables)
        write_table(table, out)
    return table


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
    if G is None and any(a.name == "latent" for a in attacks):
        raise ValueError("the latent attack needs a generator: pass G= or defense=")
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


def write_table(table: list[dict], out: str | Path) -> tuple[Path, Path]:
    """``out/results.csv`` and ``out/results.md``, written atomically."""
    out = Path(out)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    csv_path = atomic_write_text(out / "results.csv", buf.getvalue())
    md_path = atomic_write_text(out / "results.md", format_markdown(table))
    return csv_path, md_path
