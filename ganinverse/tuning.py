"""``tune``: choose a generator's recommended latent-search settings on validation images and
write them to its card (:mod:`ganinverse.recommended` reads them).

The search is a sweep's weight search (:class:`ganinverse.sweep.Sweep`, method ``csgm``, Gaussian
A with N(0, 1/m) entries, the first ``n_val`` images of the train split, never test images): at
each m every candidate of ``grid`` (engine overrides such as λ_z and the latent init) runs on
the same measurements. The recommended settings are chosen jointly over m with λ_z
non-increasing in m (more measurements never call for a stronger prior; the MAP weight of
CSGM falls as 1/m, Bora et al. 2017): among all such assignments, the one with the least
Σ_m log(MSE_m / best MSE_m) (each m counted alike). Where the per-m argmins already fall with m
they are the choice; where validation noise makes near-ties zig-zag (e.g. 0.3 then 1.0 then 0.03)
the rule smooths them (:func:`monotone_choice`). Near-ties on few images are often noise, so a
second stage re-scores the ``refine_top`` best candidates at each m (and the first stage's
choice) on ``refine_n_val`` validation images, a superset of the first ``n_val``, and the
choice is made again on those scores alone (successive halving, Jamieson & Talwalkar 2016):
on mnist-wgangp at m = 25, λ_z = 1.0 and 0.3 (300 steps) were 0.0292 and 0.0304 on 20
images, 0.0290 and 0.0280 on 100. The folder ``out`` is a sweep folder
(``sweep.json``, ``weights.json`` with every candidate's validation MSE, resumable) plus
``representation_error.json``, ``recommended.json`` (the card block) and ``refine/m<m>/``
(the second stage's sweep folders). The representation
error ρ² = mean over the validation images of min_z ||G(z) − x||²/n ([-1, 1] scale) is the
projection of each image onto range(G) with the base engine and λ_z = 0.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ._validation import check_choice, check_count, check_int, check_unit_noise_std, check_weight
from .data import check_trained_on, load_images, load_validation_images
from .exceptions import ConvergenceWarning
from .io import atomic_write_text, read_json
from .latent import INITS, optimize_latent
from .operators import Identity
from .recommended import CARD_KEY, make_block
from .seeds import derive_seed
from .solvers.csgm import MeasurementObjective, csgm
from .status import OK
from .sweep import Sweep
from .sweep.search import flags_of
from .sweep.spec import make_spec

#: Subfolder of the second stage's searches (one sweep folder per m).
REFINE = "refine"
#: λ_z candidates of the default grid (log-spaced over the range the recorded sweeps chose from).
LAMBDA_Z_GRID = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
#: Latent inits of the default grid.
INIT_GRID = INITS
#: Steps per restart of the default grid: at small m a short search with a strong prior is the
#: best recorded setting (the tuned MNIST sweep chose 300 steps at m <= 25), more steps at large m.
STEPS_GRID = (300, 1000)
#: Candidates per m re-scored on more validation images (successive halving: near-ties on the
#: first ``n_val`` images are often noise; the README generator's m = 25 was one).
REFINE_TOP = 3
#: Validation images of that second stage, as a multiple of ``n_val`` (20 -> 100).
REFINE_FACTOR = 5
#: The base engine of the search (the settings of the recorded tuned sweeps).
ENGINE = {"restarts": 10, "steps": 1000, "lr": 0.1, "prune_at": (0.1, 0.3)}


def default_grid(
    lambda_z: Sequence[float] = LAMBDA_Z_GRID,
    init: Sequence[str] = INIT_GRID,
    steps: Sequence[int] | None = STEPS_GRID,
    *,
    flags: Mapping[str, str] | None = None,
) -> tuple[dict, ...]:
    """Every (λ_z, init, steps) triple as engine overrides, the sweep's ``engine_grid`` layout;
    ``steps=None`` searches none (every candidate runs the engine's steps).

    Raises ValueError for an empty axis, a negative or non-finite λ_z, an unknown init or
    steps < 1, naming the axis and entry (``lambda_z_grid[1]``, ``init_grid[0]``,
    ``steps_grid[2]``); ``flags`` ({axis: flag}, the command line's): named as the flag's
    entry instead (``--steps-grid: entry 3 of 3 (0): steps must be >= 1``)."""
    axes = {"lambda_z_grid": lambda_z, "init_grid": init, "steps_grid": steps}
    for name, values in axes.items():
        if values is not None and (isinstance(values, str) or not len(values)):
            raise ValueError(f"{name} must be a non-empty list of candidates, got {values!r}")

    def checked(axis: str, setting: str, check) -> list:
        values, out = axes[axis], []
        for i, value in enumerate(values):
            if flags is None:
                out.append(check(value, f"{axis}[{i}]"))
                continue
            try:
                out.append(check(value, setting))
            except (TypeError, ValueError) as err:
                from .sweep.spec import typed_value

                where = f"{flags[axis]}: entry {i + 1} of {len(values)} ({typed_value(value)})"
                raise type(err)(f"{where}: {err}") from err
        return out

    lams = checked("lambda_z_grid", "lambda_z", check_weight)
    inits = checked("init_grid", "init", lambda v, name: check_choice(v, name, INITS))
    if steps is None:
        return tuple({"lambda_z": lam, "init": i} for i, lam in itertools.product(inits, lams))
    steps = checked("steps_grid", "steps", lambda v, name: check_count(v, name, "steps"))
    return tuple(
        {"lambda_z": lam, "init": i, "steps": n}
        for i, n, lam in itertools.product(inits, steps, lams)
    )


def tune(
    generator: str | os.PathLike,
    *,
    dataset: str,
    m_values: Sequence[int],
    out: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    noise_std: float = 0.1,
    n_val: int = 20,
    val_start: int = 0,
    engine: Mapping[str, Any] | None = None,
    grid: Sequence[Mapping[str, Any]] | None = None,
    seed: int = 0,
    refine_top: int | None = None,
    refine_n_val: int | None = None,
    device: str = "auto",
    progress: bool = True,
) -> dict:
    """Search the engine settings of ``generator`` at each m of ``m_values``; return the card
    block (also written to ``out/recommended.json``).

    ``noise_std``: σ per measurement on the [0, 1] image scale (the sweep's convention; the block
    records it on G's [-1, 1] scale, 2σ). ``engine``: the fixed engine settings (default
    :data:`ENGINE`); ``grid``: candidate overrides per m (default :func:`default_grid`).
    ``val_start``: the first train-split index of the validation images (default 0; e.g.
    images held out of the generator's training); both stages start there.
    ``refine_top``, ``refine_n_val`` (default ``REFINE_FACTOR * n_val``; it must exceed
    ``n_val``): the second stage (module docstring); ``refine_top=0`` skips it, None (default)
    re-scores ``min(REFINE_TOP, candidates)``; more than the grid's candidates is a ValueError.
    Raises ValueError/TypeError for bad arguments (before any work) and whatever
    :class:`~ganinverse.sweep.Sweep` raises for the data, generator or ``out``.
    """
    m_values = tuple(check_int(m, "m_values", low=1) for m in m_values)
    if not m_values:
        raise ValueError("m_values must hold at least one measurement count, e.g. (25, 100)")
    check_unit_noise_std(noise_std, "noise_std")
    check_int(n_val, "n_val", low=1)
    check_int(val_start, "val_start", low=0)
    grid = default_grid() if grid is None else tuple(dict(g) for g in grid)
    if refine_top is None:  # the default: at most every candidate
        refine_top = min(REFINE_TOP, len(grid))
    check_int(refine_top, "refine_top", low=0)
    if refine_top > len(grid):
        raise ValueError(
            f"refine_top = {refine_top} (--refine-top) exceeds the {len(grid)} candidates of the "
            f"grid: the second stage re-scores at most all of them; pass at most {len(grid)}"
        )
    if refine_top == 0 and refine_n_val is not None:  # it would be ignored
        raise ValueError(
            f"refine_n_val (--refine-n-val) = {refine_n_val} sets the images of the second stage, "
            "but refine_top=0 (--refine-top 0) runs none: drop refine_n_val, or pass refine_top "
            f"> 0 (default {REFINE_TOP})"
        )
    if refine_n_val is None:
        refine_n_val = REFINE_FACTOR * n_val
    if refine_top:
        check_int(refine_n_val, "refine_n_val", low=n_val + 1)
    engine = dict(ENGINE if engine is None else engine)
    fields = dict(
        dataset=dataset,
        data_root=None if data_root is None else str(data_root),
        generator=str(generator),
        methods=("csgm",),
        n_images=1,
        batch_size=1,
        noise_std=float(noise_std),
        engine=engine,
        seed=seed,
        val_start=val_start,
    )
    spec = make_spec(**fields, x_values=m_values, n_val=n_val, grids={"engine": grid})
    if refine_top:  # the second stage's images must exist before the first stage starts
        try:
            load_images(
                dataset, data_root, "train", n=refine_n_val, start=val_start,
                n_flag="--refine-n-val", start_flag="--val-start",
            )  # fmt: skip
        except ValueError as err:
            _first_stage_images(dataset, data_root, n_val, val_start)  # its own error first
            raise ValueError(
                f"refine_n_val = {refine_n_val} validation images from the train "
                f"split: {err}; lower it, or pass refine_top=0 (--refine-top 0) for one stage"
            ) from err
    from .models import load_generator, recorded_training_status

    G = load_generator(generator)  # (G first: a folder of other settings names it)
    check_trained_on(G, "generator", str(generator), dataset, "generator")
    trained = recorded_training_status(G)  # pretrain's verdict, kept in the block
    _check_tune_folder(spec, Path(out))
    if refine_top:  # (before the first stage writes: a second stage of other settings)
        _check_refine_folders(fields, refine_n_val, Path(out))
    sweep = Sweep(spec, out, device=device)  # checks everything before any work
    folder = Path(out)
    bar = tqdm(m_values, desc="tune", unit="m", disable=not progress)
    for m in bar:
        bar.set_postfix(m=m, candidates=len(grid))
        sweep.unit_options("csgm", m, score_all=True)  # runs (or reads back) the search at m
    sweep.searches.cleanup()
    table = json.loads((folder / "weights.json").read_text())
    rho2, rho2_flags = representation_error(sweep, folder, seed)
    searches = {m: table[f"csgm@{m}"]["validation_mse"] for m in m_values}
    entries = {m: table[f"csgm@{m}"] for m in m_values}  # (the refined ones replace them)
    refined = {}
    if refine_top:
        first = monotone_choice(searches)
        bar = tqdm(sorted(m_values), desc="tune: refine", unit="m", disable=not progress)
        for m in bar:
            top = finalists(searches[m], refine_top, first[m])
            bar.set_postfix(m=m, candidates=len(top))
            spec_m = make_spec(**fields, x_values=(m,), n_val=refine_n_val, grids={"engine": top})
            sub = Sweep(spec_m, folder / REFINE / f"m{m}", device=device)
            sub.unit_options("csgm", m, score_all=True)
            sub.searches.cleanup()
            sub_table = json.loads((folder / REFINE / f"m{m}" / "weights.json").read_text())
            refined[m] = sub_table[f"csgm@{m}"]["validation_mse"]
            entries[m] = sub_table[f"csgm@{m}"]
    chosen = monotone_choice(refined or searches)
    by_m = [
        {
            "m": m,
            "settings": dict(chosen[m]),
            "best_on_validation": dict(_argmin(refined.get(m) or searches[m])),
            "validation_mse": searches[m],
            **({"refined_mse": refined[m]} if m in refined else {}),
            **_flagged(entries[m], chosen[m]),
        }
        for m in sorted(m_values)
    ]
    block = make_block(
        dataset=dataset,
        n_val=n_val,
        noise_std=2 * float(noise_std),
        representation_error=rho2,
        engine=engine,
        by_m=by_m,
        seed=seed,
        refine={"top": refine_top, "n_val": refine_n_val} if refined else None,
        representation_error_flagged=rho2_flags,
        generator_training_status=trained,
        val_start=val_start,
    )
    atomic_write_text(folder / "recommended.json", json.dumps(block, indent=2) + "\n")
    return block


def _flagged(entry: dict, settings: Mapping) -> dict:
    """``{"flagged": {reason: images}}`` when the search's runs of ``settings`` did not stand by
    some validation images (``ganinverse.status``: e.g. no step improved their start), else {}."""
    flags = flags_of(entry, json.loads(json.dumps(settings)))
    return {"flagged": flags} if flags else {}


#: the tune flags that set each field of its sweep spec (for a folder's differences)
TUNE_FLAGS = {
    "x_values": "--m",
    "n_val": "--n-val",
    "val_start": "--val-start",
    "noise_std": "--noise-std",
    "engine": "--steps / --restarts / --lr / --prune-at",
    "engine_grid": "--lambda-z-grid / --init-grid / --steps-grid",
    "resolved engine": "--steps / --restarts / --lr / --prune-at",
}


def _check_tune_folder(spec: Any, out: Path) -> None:
    """A ValueError, in tune's own words, for an ``out`` that holds another command's sweep or
    a tune with other settings (a tune resumes, or grows by more m values, in its own folder)."""
    saved_path = out / "sweep.json"
    if not saved_path.is_file():
        return
    saved = read_json(saved_path, "sweep spec")  # a corrupt file: the error Sweep would give
    try:
        own = saved["methods"] == ["csgm"] and saved["n_images"] == saved["batch_size"] == 1
    except (KeyError, TypeError):
        own = False
    if not own:
        raise ValueError(
            f"out {str(out)!r} holds a `ganinverse sweep` result (sweep.json), not a tune's: "
            "pass a new folder for the tune"
        )
    spec = spec.in_saved_order(saved)  # (a grid re-ordered: the same search; Sweep agrees)
    if not spec.matches(saved) and not spec.grows(saved):
        raise ValueError(
            f"out {str(out)!r} holds a tune with other settings "
            f"({'; '.join(_tune_differences(spec, saved))}); pass its settings to resume it "
            "(more --m values grow it), or another --out"
        )


def _tune_differences(spec: Any, saved: Mapping) -> list[str]:
    """What keeps ``spec`` from resuming the folder of ``saved``, once each, in tune's words:
    each field by tune's flags (``_in_tune_words``), a changed grid as its three flags
    (``_grid_words``), not as a JSON diff of its candidates."""
    said = dict.fromkeys(map(_in_tune_words, spec.blocking_differences(saved)))
    grid = (
        f"the grid ({TUNE_FLAGS['engine_grid']}): saved "
        f"{_grid_words(saved.get('engine_grid') or [])}, now {_grid_words(spec.engine_grid)}"
    )
    now = {"engine": spec.engine, "engine_grid": spec.engine_grid}
    prune = f"{PRUNE_FLAG}: saved {_prune_words(saved)}, now {_prune_words(now)}"
    return [
        grid
        if d.startswith(("engine_grid (", "--engine-grid:"))
        else prune
        if d.startswith(f"{PRUNE_FLAG}:")
        else d
        for d in said
    ]


PRUNE_FLAG = "--prune-at"


def _prune_words(fields: Mapping) -> str:
    """A tune's prune fractions as --prune-at writes them, marked where they are the default
    that follows --restarts and the fewest steps searched (``cli.tune``: those of
    ``ENGINE['prune_at']`` that can act; none at one restart): ``0.1 (the default at
    --restarts 2)``, so a refusal of a changed --restarts does not read as a --prune-at given."""
    from .latent import acting_prunes
    from .sweep.spec import typed_value

    engine = fields.get("engine") or {}
    prunes = tuple(engine.get("prune_at") or ())
    words = ",".join(map(typed_value, prunes)) or "none"
    restarts = engine.get("restarts", ENGINE["restarts"])
    steps = [c["steps"] for c in fields.get("engine_grid") or () if "steps" in c]
    fewest = min(steps or [engine.get("steps", ENGINE["steps"])])
    default = acting_prunes(ENGINE["prune_at"], restarts, fewest) if restarts > 1 else ()
    return f"{words} (the default at --restarts {restarts})" if prunes == default else words


def _grid_words(grid: Sequence[Mapping]) -> str:
    """A tune grid as its flags: ``--lambda-z-grid 0.1,0.01 --init-grid normal --steps-grid 20``
    (each option's values in the grid's order)."""
    from .sweep.spec import typed_value

    flags = {"lambda_z": "--lambda-z-grid", "init": "--init-grid", "steps": "--steps-grid"}
    words = []
    for key, flag in flags.items():
        values = dict.fromkeys(typed_value(c[key]) for c in grid if key in c)
        if values:
            words.append(f"{flag} {','.join(values)}")
    return " ".join(words) or "none"


def _check_refine_folders(fields: Mapping, refine_n_val: int, out: Path) -> None:
    """A ValueError, in tune's words, for a second-stage folder (``refine/m<m>``) that this
    tune would find of other settings once its first stage had run: each is compared with its
    own saved candidates (they follow from the first stage), so nothing is written first."""
    for path in sorted((out / REFINE).glob("m*/sweep.json")):
        saved = read_json(path, "sweep spec")
        try:
            m = int(path.parent.name[1:])
            top = [dict(c) for c in saved.get("engine_grid") or []]
            spec = make_spec(**fields, x_values=(m,), n_val=refine_n_val, grids={"engine": top})
        except (TypeError, ValueError):
            continue  # (not a second stage this code wrote: Sweep names what is wrong there)
        if not spec.matches(saved):
            words = [  # (a second stage's n_val is tune's refine_n_val)
                "--refine-n-val:" + d[len("--n-val:") :] if d.startswith("--n-val:") else d
                for d in _tune_differences(spec, saved)
            ]
            raise ValueError(
                f"out {str(out)!r} holds a second stage at m = {m} ({path.parent}) with other "
                f"settings ({'; '.join(words)}); pass its settings to resume it, or another "
                "--out"
            )


def _in_tune_words(difference: str) -> str:
    """One of ``SweepSpec.blocking_differences`` ("field (sweep's flags): saved X, now Y") with
    tune's flags for the field (``TUNE_FLAGS``): what the folder holds and what was asked."""
    label, sep, values = difference.partition(": ")
    field = label.split(" (")[0]
    if field not in TUNE_FLAGS:
        return difference
    values = values.replace("a resumed sweep may add x values", "a resumed tune may add m values")
    return f"{field.replace('resolved ', '')} ({TUNE_FLAGS[field]}){sep}{values}"


def _first_stage_images(dataset: str, data_root, n_val: int, val_start: int = 0) -> None:
    """Load the first stage's validation images (``load_validation_images``): its errors name
    ``--n-val`` and ``--val-start`` as the sweep's do."""
    load_validation_images(dataset, data_root, n_val, val_start)


def finalists(search: Sequence, top: int, keep: Mapping) -> list[dict]:
    """The ``top`` candidates of lowest validation MSE in ``search`` ([(candidate, MSE or
    None)]) and ``keep`` (the first stage's choice, so the second stage always holds a
    non-increasing path), in the search's order."""
    finite = [c for c, v in search if v is not None and math.isfinite(v)]
    scores = {json.dumps(c, sort_keys=True): v for c, v in search}
    best = sorted(finite, key=lambda c: scores[json.dumps(c, sort_keys=True)])[:top]
    picked = {json.dumps(c, sort_keys=True) for c in [*best, keep]}
    return [dict(c) for c in finite if json.dumps(c, sort_keys=True) in picked]


def _argmin(search: Sequence) -> dict:
    finite = [(c, v) for c, v in search if v is not None and math.isfinite(v)]
    return min(finite, key=lambda pair: pair[1])[0]


def monotone_choice(searches: Mapping[int, Sequence]) -> dict[int, dict]:
    """m -> the chosen candidate: the assignment with λ_z non-increasing in m that minimises
    Σ_m log(MSE_m(candidate) / min MSE_m) (module docstring). ``searches``: m -> [(candidate,
    validation MSE or None)], candidates dicts with ``lambda_z``; a None (diverged) MSE is never
    chosen. Dynamic programming over m in increasing order (exact; candidates x m² work)."""
    ms = sorted(searches)
    scored = {}
    for m in ms:
        finite = [(dict(c), float(v)) for c, v in searches[m] if v is not None and math.isfinite(v)]
        if not finite:
            raise ValueError(f"every candidate diverged at m = {m}: no setting to recommend")
        best = min(v for _, v in finite)
        scored[m] = [(c, math.log(v / best) if best > 0 else 0.0) for c, v in finite]
    # cost[j]: least total over the m so far with the last m's candidate j
    cost = [score for _, score in scored[ms[0]]]
    back: list[list[int]] = []
    for prev_m, m in zip(ms, ms[1:], strict=False):
        prev = scored[prev_m]
        row, links = [], []
        for c, score in scored[m]:
            allowed = [
                (cost[i], i) for i, (p, _) in enumerate(prev) if c["lambda_z"] <= p["lambda_z"]
            ]
            if not allowed:  # no earlier λ at least this large: not a non-increasing path
                row.append(math.inf)
                links.append(-1)
                continue
            total, i = min(allowed)
            row.append(total + score)
            links.append(i)
        cost, back = row, [*back, links]
    j = min(range(len(cost)), key=cost.__getitem__)
    if not math.isfinite(cost[j]):
        raise ValueError("no non-increasing λ_z path through the candidates")
    picks = [j]
    for links in reversed(back):
        j = links[j]
        picks.append(j)
    picks.reverse()
    return {m: scored[m][j][0] for m, j in zip(ms, picks, strict=True)}


#: A warm continuation of the ρ² projection (its own budget again, from ẑ) that lowers an
#: image's error by more than this fraction shows the projection had not converged.
RHO_CONTINUATION_RTOL = 0.05


def representation_error(sweep: Sweep, folder: Path, seed: int) -> tuple[float, dict]:
    """(ρ² of the module docstring on the sweep's validation images, flags) (cached in the
    folder). ``flags``: {reason: images} for the validation images whose projection cannot be
    trusted as min_z (``ganinverse.status``): ``not_improved``, no step lowered the loss (the
    error is G(z_start)'s); ``not_converged``, running the projection's steps once more from
    its ẑ lowered the image's error by more than ``RHO_CONTINUATION_RTOL`` (e.g. ``--steps 1``).
    ρ² is the mean over images of the lower of the two errors; {} when all are ok."""
    path = folder / "representation_error.json"
    if path.is_file():
        record = json.loads(path.read_text())
        return float(record["representation_error"]), dict(record.get("flagged", {}))
    G = sweep.generator()
    x = sweep.validation_images()
    config = sweep.spec.method_options("csgm")["config"].updated(
        lambda_z=0.0, seed=derive_seed(seed, "representation_error")
    )
    op = Identity(tuple(x.shape[1:]))
    result = csgm(G, op, x, config, image_ids=list(range(len(x))))
    first = ((result.x_hat.cpu() - x) ** 2).flatten(1).mean(1)
    with warnings.catch_warnings():  # (from a converged ẑ no step may improve: expected here)
        warnings.simplefilter("ignore", ConvergenceWarning)
        more = optimize_latent(
            G,
            MeasurementObjective(op, x.to(result.z.device)),
            len(x),
            config.updated(restarts=1, prune_at=()),
            z_init=result.z,
            desc="ρ² check",
        )
    second = ((more.x_hat.cpu() - x) ** 2).flatten(1).mean(1)
    rho2 = float(torch.minimum(first, second).mean())
    moved = (first - second) > RHO_CONTINUATION_RTOL * first
    reasons = [
        [r for r in status.split("+") if r != OK] or (["not_converged"] if m else [])
        for status, m in zip(result.status, moved.tolist(), strict=True)
    ]
    flagged = dict(Counter(r for rs in reasons for r in rs))
    record = {"representation_error": rho2, "n_val": len(x), "scale": "[-1, 1]"}
    record.update({"flagged": flagged} if flagged else {})
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    return rho2, flagged


def write_card(generator: str | os.PathLike, block: Mapping, family: str = "csgm") -> dict:
    """Put ``block`` into the generator checkpoint's JSON (one atomic write that keeps the pair
    tied to its weights); other families already in the card are kept."""
    from .models.checkpoint import read_config, update_config
    from .models.registry import resolve

    stem = resolve(generator, "generator")
    current = dict(read_config(stem).get(CARD_KEY) or {})
    return update_config(stem, {CARD_KEY: {**current, family: dict(block)}})


__all__ = [
    "ENGINE",
    "INIT_GRID",
    "LAMBDA_Z_GRID",
    "STEPS_GRID",
    "default_grid",
    "tune",
    "write_card",
]
