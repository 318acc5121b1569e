"""Summaries of a sweep folder: per (method, x) means with 95% CIs, the chosen weights, plots."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from scipy import stats

from ..exceptions import (
    ConvergenceWarning,
    DatasetMismatchWarning,
    IncompleteSweepWarning,
    user_stacklevel,
)
from ..io import atomic_write_csv, atomic_write_text
from ..operators import M_AXIS, REGISTRY, Axis
from ..status import OK, REASONS
from .rows import expected_rows, merge, setting_order
from .search import WEIGHTS, WeightSearches, edge_of, search_key, value_of
from .spec import SweepSpec


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% Student-t confidence interval."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def axis_of(rows: Sequence[dict]) -> Axis:
    """The sweep axis of rows (all of one operator): m for Gaussian rows and older files."""
    names = {r.get("operator", "gaussian") for r in rows}
    if len(names) > 1:
        raise ValueError(f"the rows mix operators {sorted(names)}; one sweep has one operator")
    cls = REGISTRY.get(names.pop()) if names else None
    return cls.axis if cls is not None and cls.axis is not None else M_AXIS


def summarize(rows: list[dict]) -> list[dict]:
    """Per (method, x): count, mean and 95% CI of MSE and PSNR, mean SSIM, seconds per image.

    The x column is named by the axis (``m``, ``factor``, ``mask``); other axes also report the
    mean measurement count ``m``.
    """
    axis = axis_of(rows)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["method"], row.get("setting", row["m"]))].append(row)
    table = []
    for (method, setting), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], setting_order(kv[0][1]))
    ):
        mse_mean, mse_ci = mean_ci95([float(r["mse"]) for r in group])
        psnr_mean, psnr_ci = mean_ci95([float(r["psnr"]) for r in group])
        x = {axis.name: axis.parse(setting)}
        if axis.name != "m":
            x["m"] = sum(float(r["m"]) for r in group) / len(group)
        table.append(
            {
                "method": method,
                **x,
                "n": len(group),
                "mse": mse_mean,
                "mse_ci95": mse_ci,
                "psnr": psnr_mean,
                "psnr_ci95": psnr_ci,
                "ssim": sum(float(r["ssim"]) for r in group) / len(group),
                "seconds_per_image": sum(float(r["seconds"]) for r in group) / len(group),
            }
        )
    return table


def format_table(table: list[dict]) -> str:
    """Markdown table of a summary (MSE per pixel on the [0, 1] scale)."""
    axis = next((k for k in table[0] if k != "method"), "m") if table else "m"
    extra = axis != "m"
    lines = [
        f"| method | {axis} | {'mean m | ' if extra else ''}n | MSE/pixel [0,1] (±95% CI) | "
        "PSNR dB (±95% CI) | SSIM | s/image |",
        "|---|---:|" + ("---:|" if extra else "") + "---:|---:|---:|---:|---:|",
    ]
    for r in table:
        mean_m = f"{r['m']:.0f} | " if extra else ""
        lines.append(
            f"| {r['method']} | {r[axis]} | {mean_m}{r['n']} | {_mse_cell(r)} | "
            f"{_psnr_cell(r)} | {_fixed(r['ssim'], 3)} | {_fixed(r['seconds_per_image'], 3)} |"
        )
    return "\n".join(lines) + "\n"


def _fixed(value: float, decimals: int) -> str:
    """``value`` to ``decimals`` decimals, or to 3 significant digits where those decimals
    would print a value that is not zero as 0 (an SSIM of 1e-4, 4 µs per image, a CI of
    0.0004 dB)."""
    if value == 0 or abs(value) >= 0.5 * 10.0**-decimals or not math.isfinite(value):
        return f"{value:.{decimals}f}"
    return f"{value:.2e}"


def _number(value: float) -> str:
    """An MSE per pixel to 4 decimals, or to 3 significant digits below 0.001 (where 4
    decimals would print a reconstruction's error, or its CI, as 0.0000)."""
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.2e}"


def _mse_cell(r: Mapping) -> str:
    """Mean MSE ± its CI; "(one image: no CI)" rather than "± nan"."""
    if math.isnan(r["mse_ci95"]):
        return f"{_number(r['mse'])} (one image: no CI)"
    return f"{_number(r['mse'])} ± {_number(r['mse_ci95'])}"


def _psnr_cell(r: Mapping) -> str:
    """Mean PSNR ± its CI; infinite where an image was reconstructed exactly (MSE 0: PSNR
    inf), said so rather than "inf ± nan" (the MSE column holds the finite mean)."""
    if math.isinf(r["psnr"]):
        return "inf (an exact x̂, MSE 0, among the images: see the MSE)"
    if math.isnan(r["psnr_ci95"]):
        return f"{_fixed(r['psnr'], 2)} (one image: no CI)"
    return f"{_fixed(r['psnr'], 2)} ± {_fixed(r['psnr_ci95'], 2)}"


def _format_weight(value) -> str:
    if isinstance(value, dict):
        return ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()
        )
    return f"{value:g}"


def format_weights(out: Path, axis: str = "m") -> str:
    """Markdown table of the weights chosen per (method, x) on validation images, if any."""
    table = WeightSearches(Path(out)).table()
    if not table:
        return ""
    chosen: dict = defaultdict(dict)
    edges = []  # (method, x, value, edge) of each weight chosen at an edge of its grid
    for key, entry in table.items():
        method, x = key.rsplit("@", 1)
        chosen[(method, entry.get("weight", "lam"))][x] = value_of(entry)
        if edge_of(entry):
            edges.append((method, x, value_of(entry), edge_of(entry)))
    marked = {(method, x) for method, x, _, _ in edges}
    xs = sorted({x for by_x in chosen.values() for x in by_x}, key=setting_order)
    name = axis
    lines = [
        "",
        f"Weights chosen per {axis} on validation images (lowest MSE; "
        f"{WeightSearches(Path(out)).path().name}):",
        "",
        "| method | weight | " + " | ".join(f"{name}={x}" for x in xs) + " |",
        "|---|---|" + "---:|" * len(xs),
    ]
    for (method, weight), by_x in sorted(chosen.items()):
        cells = " | ".join(
            _format_weight(by_x[x]) + (EDGE_MARK if (method, x) in marked else "")
            if x in by_x
            else ""
            for x in xs
        )
        lines.append(f"| {method} | {weight} | {cells} |")
    if edges:
        lines += ["", _edge_note(edges, axis)]
    return "\n".join(lines) + "\n"


def seconds_note(rows: Sequence[dict], out: str | os.PathLike | None = None) -> str:
    """The note under the table on its s/image where a row's method solves with a Gaussian
    prior of G's samples (gaussian without --gaussian-images; iagan with
    --iagan-gaussian-weight and no --iagan-gaussian-images, by the options in ``out``'s
    sweep.json, ``Method.draws_samples``): the sweep draws those samples once, before its
    units (``Sweep._draw_samples``), so s/image leaves the draw out; "" for other runs."""
    from ..methods import METHODS

    try:
        saved = json.loads((Path(out) / "sweep.json").read_text()) if out is not None else None
    except (OSError, ValueError):
        saved = None
    options = saved.get("options") if isinstance(saved, Mapping) else None

    def draws(name: str) -> bool:
        if name not in METHODS:
            return False
        if isinstance(options, Mapping):  # (the options the sweep ran: a samples file draws none)
            try:
                return METHODS[name].draws_samples(dict(options.get(name) or {})) is not None
            except (TypeError, ValueError):
                pass
        return METHODS[name].samples_drawn is not None  # (no sweep.json: it may draw)

    if not any(draws(name) for name in {r["method"] for r in rows}):
        return ""
    return (
        "\ns/image: each image's share of its solve's seconds, without the weight searches "
        "(weights.json) and without the one-off draw of G's samples behind the Gaussian "
        "prior's moments (gaussian; iagan with --iagan-gaussian-weight), which the sweep makes "
        "once, before its units.\n"
    )


#: The mark beside a weight chosen at an edge of its grid (weights.json ``grid_edge``).
EDGE_MARK = " †"


def _edge_note(edges: Sequence[tuple], axis: str) -> str:
    """The footnote of the weights chosen at an edge of their grid (``EDGE_MARK``): which, at
    which edge, and the grid flag to widen."""
    from ..methods import METHODS

    parts = []
    for method, x, value, edge in sorted(edges, key=lambda e: (e[0], setting_order(e[1]))):
        tuned = getattr(METHODS.get(method), "tuned", None)
        flag = tuned.flag if tuned is not None else "its grid"
        beyond = "above" if edge == "largest" else "below"
        parts.append(
            f"{method} at {axis}={x}: {_format_weight(value)} is the {edge} candidate "
            f"(widen {flag} {beyond} {_format_weight(value)})"
        )
    return (
        f"{EDGE_MARK.strip()} chosen at an edge of its grid while the validation MSE still fell "
        "toward it (weights.json `grid_edge`): the best weight may lie beyond the grid, and the "
        "row's error may be higher than the method's with a wider one; rerun with the grid "
        f"widened in a new --out folder: {'; '.join(parts)}."
    )


def flagged_rows(rows: Sequence[dict]) -> str:
    """ "" when every row's solver stood by its x̂ (status "ok", or "" where not recorded; a
    plug-in's "unreported" is flagged too: nothing says it did); else
    how many did not, per (method, x) and reason (``ganinverse.status``), as one sentence."""
    counts: dict[tuple, int] = defaultdict(int)
    for r in rows:
        if r.get("status", "") not in ("", OK):
            counts[(r["method"], setting_order(r["setting"]), r["setting"], r["status"])] += 1
    if not counts:
        return ""
    parts = [f"{n} {method} at {x} ({why})" for (method, _, x, why), n in sorted(counts.items())]
    reasons = dict.fromkeys(r for key in sorted(counts) for r in key[3].split("+"))
    meanings = [
        f"{r}: {REASONS.get(r, 'a plug-in solver that reports no status')}" for r in reasons
    ]
    fixes = [FIXES[r] for r in reasons if r in FIXES]
    return (
        f"{sum(counts.values())} of {len(rows)} rows are images whose solver did not stand by its "
        f"reconstruction: {', '.join(parts)} (status column of rows.csv; {'; '.join(meanings)}); "
        f"they are in the means: {'; '.join(dict.fromkeys(fixes)) or 'check the settings'}, and "
        "rerun those units in a new --out folder"
    )


#: {status reason: what to change}, for the Flagged line of summary.md (``flagged_rows``)
FIXES = {
    "not_improved": "check the latent search's settings (steps and lr)",
    "not_adapted": "check iagan's fine-tuning (its lrs and steps)",
    "not_converged": "a larger ℓ1 weight or more iterations for not_converged",
    "bp_not_converged": "more conjugate-gradient iterations for bp_not_converged",
    "degenerate_prior": (
        "for degenerate_prior, a Gaussian of samples that differ (another --gaussian-images, "
        "or G's samples)"
    ),
}


def missing_rows(out: str | os.PathLike, rows: Sequence[dict]) -> str:
    """ "" when ``rows`` hold every (image, x, method) of the folder's ``sweep.json``; else what
    is missing (how many rows, which shards have no rows file) as one sentence."""
    out = Path(out)
    expected = expected_rows(out)
    if expected is None:  # no (or an unreadable) spec: not checked
        return ""
    have = {(r["setting"], r["method"], int(r["image"])) for r in rows}
    lacking = expected - have
    if not lacking:
        return ""
    shards = [re.fullmatch(r"rows\.shard-(\d+)-of-(\d+)\.csv", p.name) for p in out.iterdir()]
    found = {(int(g[1]), int(g[2])) for g in shards if g}
    absent = sorted(
        f"{k}/{n}" for n in {n for _, n in found} for k in range(n) if (k, n) not in found
    )
    return (
        f"{len(lacking)} of {len(expected)} rows of this sweep are missing"
        + (f" (no rows file of shard {', '.join(absent)})" if absent else "")
        + "; the summary covers the finished rows only: rerun the sweep (or its missing shards) "
        "with the same command to finish it"
    )


def missing_searches(out: str | os.PathLike, rows: Sequence[dict]) -> str:
    """ "" when the weight table holds every search the rows' (method, x) ran with (by the
    folder's ``sweep.json``); else which are missing, as one sentence (the table of chosen
    weights would otherwise lack them without a word: e.g. weights.json deleted)."""
    out = Path(out)
    try:
        spec = SweepSpec.from_saved(json.loads((out / "sweep.json").read_text()))
        wanted = {search_key(t, r["setting"]) for r in rows for t in spec.search_chain(r["method"])}
    except (OSError, ValueError, KeyError, TypeError):  # no (or an unreadable) spec: not checked
        return ""
    table = WeightSearches(out).table()
    lacking = sorted(k for k in wanted if k not in table)
    if not lacking:
        return ""
    return (
        f"the weight table ({WEIGHTS}) lacks {len(lacking)} search(es) the rows ran with "
        f"({', '.join(lacking[:6])}{', ...' if len(lacking) > 6 else ''}): the chosen weights "
        "are not shown; restore the file from a copy (the rows and their means are unaffected)"
    )


def generator_verdict(out: Path) -> tuple[str, str]:
    """(untrained, other data): each "" unless the generator named in ``out/sweep.json`` is
    recorded (its card) as having learned nothing (``training_status``, written by
    ganinverse-pretrain), resp. as trained on another dataset than the sweep's images; else a
    sentence saying so, for the top of summary.md. A generator that cannot be found or read
    here (a folder merged on another machine) is not judged."""
    from ..data import other_dataset
    from ..io import read_json
    from ..models import read_config
    from ..models.registry import resolve

    try:
        spec = read_json(out / "sweep.json", "sweep spec")
        name, dataset = spec.get("generator"), spec.get("dataset")
        card = read_config(resolve(name, "generator")) if name else {}
    except (OSError, ValueError, TypeError, AttributeError):
        return "", ""
    untrained = other = ""
    status = card.get("training_status")
    if status not in (None, "ok"):
        untrained = (
            f"the generator {name!r} was recorded by its training as having learned nothing "
            f"({status}): no row of a method that uses it measures a trained prior"
        )
    trained = card.get("dataset")
    if other_dataset(trained, dataset):
        other = (
            f"the generator {name!r} was trained on {trained}, the images come from {dataset}: "
            "the rows of the methods that use it measure images outside its training data"
        )
    return untrained, other


def _cli_value(value: object) -> str:
    """A saved option's value as its flag takes it (true, 0.3, a path)."""
    if isinstance(value, bool):
        return json.dumps(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


#: The sweep-wide settings (SweepSpec fields) that change what its rows measure, listed by
#: ``format_options`` where set away from their defaults: the test images (split, start), the
#: noise, the validation images of the weight searches (n_val, val_start) and the seed of
#: every random draw. (The dataset, generator and operator name the sweep: the title; the
#: x values, methods and image count are the table's columns; batch_size and grid_images
#: change how it runs and what it plots, not its numbers.)
SWEEP_SETTINGS = ("split", "start", "noise_std", "n_val", "val_start", "seed")


def format_options(out: Path) -> str:
    """The settings a sweep set away from their defaults, one line each: the sweep-wide ones
    of ``SWEEP_SETTINGS`` (by their flags: --seed 3, --noise-std 0.05), the latent engine's
    (sweep.json's ``engine``, as its keys) and each method's options (``options``, by their
    flags): a row labelled ``iagan`` says which iagan it is (with --iagan-tv 0.3
    --iagan-mirror true ...). "" where none is set or there is no sweep.json."""
    from ..data import default_split
    from ..methods import METHODS
    from .spec import FIELD_FLAGS

    try:
        saved = json.loads((Path(out) / "sweep.json").read_text())
        options = saved.get("options") or {}
        engine = saved.get("engine") or {}
    except (OSError, ValueError, AttributeError):
        return ""
    lines = []
    defaults = {f.name: f.default for f in dataclasses.fields(SweepSpec)}
    defaults["split"] = default_split(saved.get("dataset"))  # (a folder's: "all")
    away = [  # (a field the file predates is at its default)
        f"{FIELD_FLAGS.get(k, k)} {_cli_value(saved[k])}"
        for k in SWEEP_SETTINGS
        if k in saved and saved[k] != defaults[k]
    ]
    if away:
        lines.append(f"- the sweep: {', '.join(away)}")
    if isinstance(engine, Mapping) and engine:
        words = ", ".join(f"{k}={_cli_value(v)}" for k, v in sorted(engine.items()))
        lines.append(f"- the latent engine (every method that searches z): {words}")
    for method, given in sorted(options.items()):
        if not isinstance(given, Mapping) or not given:
            continue
        flags = getattr(METHODS.get(method), "flags", {})
        words = ", ".join(
            f"{flags[k].flag if k in flags else k} {_cli_value(v)}"
            for k, v in sorted(given.items())
        )
        lines.append(f"- {method}: {words}")
    if not lines:
        return ""
    head = "\nSettings set away from their defaults (sweep.json holds every setting):\n\n"
    return head + "\n".join(lines) + "\n"


def report(out: str | os.PathLike, title: str = "") -> str:
    """Merge, then write summary.csv, summary.md, error_vs_m.png and image grids; returns the table."""
    from .. import plots

    out = Path(out)
    rows = merge(out)
    if not rows:
        raise ValueError(
            f"no result rows in {str(out)!r}: pass the --out folder of a sweep that has run "
            "(ganinverse sweep ... --out FOLDER), or run the sweep first"
        )
    table = summarize(rows)
    axis = axis_of(rows)
    unchecked = (
        ""
        if (out / "sweep.json").is_file()
        else f"no sweep.json in {out}: the rows are not checked against the sweep's images, "
        "settings, methods and operator, nor for missing rows; restore sweep.json from a copy "
        "(or rerun the sweep's command, which writes it)"
    )
    parts = (unchecked, missing_rows(out, rows), missing_searches(out, rows))
    missing = "; ".join(filter(None, parts))
    text = format_table(table) + seconds_note(rows, out)
    text += format_options(out) + format_weights(out, axis.name)
    if missing:
        warnings.warn(missing, IncompleteSweepWarning, stacklevel=user_stacklevel())
        text = f"**Incomplete:** {missing}\n\n" + text
    flagged = flagged_rows(rows)
    untrained, other_data = generator_verdict(out)
    converged = "; ".join(filter(None, (untrained, flagged)))
    if converged:
        warnings.warn(converged, ConvergenceWarning, stacklevel=user_stacklevel())
    if other_data:
        warnings.warn(other_data, DatasetMismatchWarning, stacklevel=user_stacklevel())
    flagged = "; ".join(filter(None, (untrained, other_data, flagged)))
    if flagged:
        text = f"**Flagged:** {flagged}\n\n" + text
    no_nan = [  # a CI of one image is no number: an empty cell, not "nan"
        {k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in table
    ]
    atomic_write_csv(out / "summary.csv", list(table[0]), no_nan)
    atomic_write_text(out / "summary.md", (f"# {title}\n\n" if title else "") + text)
    plots.error_vs_m(table, out / "error_vs_m.png", title=title, axis=axis)
    plots.sweep_grids(out, axis=axis)
    return text
