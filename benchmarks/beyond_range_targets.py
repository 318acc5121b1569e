"""Issue 16's targets, judged from sweep folders: per setting (m, or an inpainting mask), the
best GAN-prior method and the best baseline, each chosen on the VALIDATION images (the lowest
validation MSE of its own weight search in ``weights.json``), then their paired difference on
the test images. The baseline is the best Lasso for compressed sensing (a numeric setting: m)
and biharmonic inpainting (a fixed method, no weight) for a mask.

    python benchmarks/beyond_range_targets.py benchmarks/results/beyond_range/faces \
        benchmarks/results/beyond_range/faces_frame benchmarks/results/reruns/celeba_sweep_full
    python benchmarks/beyond_range_targets.py benchmarks/results/beyond_range/face_inpainting

Rows of several folders are paired by image identity (the sweeps seed A, the noise and the
images by seed, m and image, so folders with the same data settings share them); where two
folders have a row of the same method, m and image, the first folder's is used. A folder
written ``FOLDER:SUFFIX`` has its methods renamed ``<method>+SUFFIX`` (only those whose
options its sweep.json sets, where it sets any: the folder's other methods are the same methods
as elsewhere, their rows used where no earlier folder has one; every method of a folder whose
generator is not the first folder's) (e.g.
``faces_bp:bp``: iagan with back-projection becomes ``iagan+bp``, a candidate of its own). A
method's
validation score is the minimum of its ``validation_mse`` grid (the weight it uses on the test
images); a method without a search in any folder (csgm at a fixed λ_z) cannot be chosen, but
csgm-sparse's search includes weights under which it is csgm. Prints, per m: the chosen methods
with their validation MSE, the paired PSNR difference GAN − Lasso (mean ± 95% t half-width,
images where GAN is higher), and the targets it names: the CI above zero at every m; at
m = 500, ≥ 27 dB and ≥ +5 dB over csgm; the image-adaptive method's seconds per image over
csgm's (≤ 5): measured side by side by ``benchmarks/iagan_cost.py`` (``--cost CSV`` reads its
rows; the sweeps' own seconds, printed as "sweep timing", ran at other times and under other
loads: not a cost comparison).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

from csv_rows import read_rows  # benchmarks/csv_rows.py

from ganinverse.operators import M_AXIS, Axis
from ganinverse.plots import error_vs_m
from ganinverse.sweep import mean_ci95

GAN_PRIOR = ("csgm", "csgm-sparse", "iagan", "ilo", "yeh")
LASSO = ("lasso", "lasso-dct", "lasso-wavelet", "lasso-wavelet-detail", "lasso-wavelet-frame")
#: the inpainting baseline the targets name (no tuned weight: taken as it is)
INPAINTING_BASELINE = "biharmonic"


def setting_key(text: str) -> int | str:
    """A row's setting: m (an int) for compressed sensing, the mask label for inpainting."""
    return int(text) if text.lstrip("-").isdigit() else text


def _order(setting: int | str) -> tuple:
    return (isinstance(setting, str), str(setting).zfill(12))


def load(folders: list[str | Path]) -> tuple[dict, dict, dict]:
    """(method, setting) -> {image: psnr}, (method, setting) -> {image: seconds},
    "method@setting" -> val MSE (setting: m, or the mask label of an inpainting row);
    each folder ``PATH`` or ``PATH:SUFFIX`` (its methods renamed ``<method>+SUFFIX``)."""
    psnr: dict = defaultdict(dict)
    seconds: dict = defaultdict(dict)
    validation: dict[str, float] = {}
    generators: list[str | None] = []
    for spec in folders:
        folder, _, suffix = str(spec).partition(":")
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a sweep folder")
        generators.append(_generator(folder))
        # another generator than the first folder's makes every method a variant of its own
        other = generators[-1] not in (None, generators[0])
        tagged = _renamer(suffix, None if other else _varied_methods(folder))
        for row in (r for path in sorted(folder.glob("rows*.csv")) for r in read_rows(path)):
            key = (tagged(row["method"]), setting_key(row.get("setting") or row["m"]))
            psnr[key].setdefault(int(row["image"]), float(row["psnr"]))
            seconds[key].setdefault(int(row["image"]), float(row["seconds"]))
        path = folder / "weights.json"
        if path.is_file():
            for name, entry in json.loads(path.read_text()).items():
                method, _, m = name.rpartition("@")
                scores = [s for _, s in entry.get("validation_mse", [])]
                if scores:
                    validation.setdefault(f"{tagged(method)}@{setting_key(m)}", min(scores))
    return psnr, seconds, validation


def _renamer(suffix: str, varied: set[str] | None):
    """method -> ``<method>+suffix`` for the methods of ``varied`` (None: every method)."""

    def tagged(method: str) -> str:
        renamed = suffix and (varied is None or method in varied)
        return f"{method}+{suffix}" if renamed else method

    return tagged


def _generator(folder: Path) -> str | None:
    """The generator a sweep folder's GAN-prior methods ran with (its sweep.json), if any."""
    path = folder / "sweep.json"
    return json.loads(path.read_text()).get("generator") if path.is_file() else None


def validation_images(folders: list[str | Path]) -> dict[str, str]:
    """folder -> the fingerprint of its validation images (sweep.json ``inputs``), for the
    folders that searched a weight: validation MSEs compare across folders only where these
    are the same images."""
    found = {}
    for spec in folders:
        path = Path(str(spec).partition(":")[0]) / "sweep.json"
        inputs = json.loads(path.read_text()).get("inputs", {}) if path.is_file() else {}
        if inputs.get("validation images") and (path.parent / "weights.json").is_file():
            found[str(path.parent)] = inputs["validation images"]
    return found


def _varied_methods(folder: Path) -> set[str] | None:
    """The methods whose options a sweep set (its sweep.json ``options``: faces_tv's iagan
    with tv_weight), which a ``:SUFFIX`` renames; None (rename all) where it records none."""
    path = folder / "sweep.json"
    options = json.loads(path.read_text()).get("options") if path.is_file() else None
    return set(options) if options else None


def choose(methods, m: int | str, psnr: dict, validation: dict) -> tuple[str, float] | None:
    """The method (a variant ``<method>+SUFFIX`` counts as its base method) of ``methods`` with
    test rows at setting m and the lowest validation MSE."""
    scored = [
        (score, meth)
        for (meth, mm), rows in psnr.items()
        if mm == m
        and rows
        and meth.split("+")[0] in methods
        and (score := validation.get(f"{meth}@{m}")) is not None
    ]
    return (min(scored)[1], min(scored)[0]) if scored else None


def baseline(m: int | str, psnr: dict, validation: dict) -> tuple[str, float] | None:
    """The best Lasso (chosen on validation) at a number of measurements m; biharmonic
    inpainting (no weight to choose: validation MSE reported as nan) at a mask."""
    if isinstance(m, int):
        return choose(LASSO, m, psnr, validation)
    return (INPAINTING_BASELINE, float("nan")) if psnr.get((INPAINTING_BASELINE, m)) else None


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[float, float, int, int]:
    shared = sorted(a.keys() & b.keys())
    diff = [a[i] - b[i] for i in shared]
    mean, ci = mean_ci95(diff) if len(diff) > 1 else (float("nan"), float("nan"))
    return mean, ci, sum(d > 0 for d in diff), len(shared)


def plot(psnr: dict, path: str | Path) -> list[Path]:
    """PSNR against the setting, every method of the folders, mean ± 95% CI over its test
    images: one plot of the m settings (``path``) and one of the masks (``<stem>_masks``)."""
    tables: dict[bool, list[dict]] = {True: [], False: []}
    seen: dict = {}  # (a method's rows again under a folder's suffix, e.g. its csgm: drawn once)
    for (method, setting), rows in sorted(psnr.items(), key=lambda kv: _order(kv[0][1])):
        if seen.setdefault((setting, tuple(sorted(rows.items()))), method) != method:
            continue
        if len(rows) > 1:
            mean, ci = mean_ci95(list(rows.values()))
            numeric = isinstance(setting, int)
            tables[numeric].append(
                {"method": method, ("m" if numeric else "mask"): setting,
                 "psnr": mean, "psnr_ci95": ci}
            )  # fmt: skip
    path, written = Path(path), []
    if tables[True]:
        written.append(error_vs_m(tables[True], path, metric="psnr", axis=M_AXIS))
    if tables[False]:
        masks = Axis("mask", "--mask", str, "mask", numeric=False)
        written.append(
            error_vs_m(
                tables[False], path.with_stem(path.stem + "_masks"), metric="psnr", axis=masks
            )
        )
    return written


def table(psnr: dict, seconds: dict, settings: list) -> str:
    """A markdown table: a row per method, a column per setting: PSNR mean ± 95% CI over its
    test images, the number of images where fewer than the most of that setting, then the
    mean seconds per image (as the runner timed it, on whatever else shared the CPU)."""
    methods = sorted({name for name, _ in psnr})
    most = {m: max(len(psnr.get((name, m), {})) for name in methods) for m in settings}
    lines = [
        "| PSNR dB (s/image) | " + " | ".join(f"m = {m}" for m in settings) + " |",
        "|---|" + "---:|" * len(settings),
    ]
    for name in methods:
        cells = []
        for m in settings:
            rows = psnr.get((name, m), {})
            if len(rows) < 2:
                cells.append("")
                continue
            mean, ci = mean_ci95(list(rows.values()))
            secs = seconds.get((name, m), {})
            cell = f"{mean:.2f} ± {ci:.2f}"
            if len(rows) < most[m]:
                cell += f" (n = {len(rows)})"
            if secs:
                cell += f" ({sum(secs.values()) / len(secs):.1f} s)"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", help="sweep folders PATH[:SUFFIX] (rows paired by image)")
    p.add_argument("--target-db", type=float, default=27.0, help="the m = 500 PSNR target")
    p.add_argument("--plot", help="also write PSNR vs m (and vs mask) of every method to this PNG")
    p.add_argument(
        "--table",
        action="store_true",
        help="also print every method's PSNR per setting (mean ± 95%% CI, images) and seconds "
        "per image",
    )
    p.add_argument(
        "--cost",
        help="benchmarks/iagan_cost.py's CSV: print its side-by-side iagan / csgm cost ratios",
    )
    args = p.parse_args(argv)
    psnr, seconds, validation = load(args.folders)
    seen = validation_images(args.folders)
    if len(set(seen.values())) > 1:  # (a choice across them compares MSEs of other images)
        print(
            "note: the folders' validation images differ, so a choice between methods of "
            "different folders compares validation MSEs of different images: "
            + ", ".join(f"{Path(k).name} {v}" for k, v in seen.items())
        )
    for path in plot(psnr, args.plot) if args.plot else ():
        print(f"wrote {path}")
    ms = sorted({m for (_, m) in psnr}, key=_order)
    if args.table:
        print(table(psnr, seconds, ms))
    print(
        "| m / mask | GAN-prior (val MSE) | baseline (val MSE) | GAN − baseline dB | GAN higher | met |"
    )
    print("|---:|---|---|---:|---:|---|")
    for m in ms:
        gan, lasso = choose(GAN_PRIOR, m, psnr, validation), baseline(m, psnr, validation)
        if gan is None or lasso is None:
            shown = [c[0] if c else "pending" for c in (gan, lasso)]
            print(f"| {m} | {shown[0]} | {shown[1]} | | | |")
            continue
        mean, ci, higher, n = paired(psnr[(gan[0], m)], psnr[(lasso[0], m)])
        met = "yes" if mean - ci > 0 else "no"
        print(
            f"| {m} | {gan[0]} ({gan[1]:.4g}) | {lasso[0]} ({lasso[1]:.4g}) "
            f"| {mean:+.2f} ± {ci:.2f} | {higher}/{n} | {met} |"
        )
    if 500 in ms and (gan := choose(GAN_PRIOR, 500, psnr, validation)):
        values = list(psnr[(gan[0], 500)].values())
        mean, ci = mean_ci95(values)
        line = f"m = 500: {gan[0]} {mean:.2f} ± {ci:.2f} dB (target ≥ {args.target_db:g})"
        if psnr.get(("csgm", 500)):
            d, dci, higher, n = paired(psnr[(gan[0], 500)], psnr[("csgm", 500)])
            line += f"; − csgm {d:+.2f} ± {dci:.2f} dB ({higher}/{n} higher; target ≥ +5)"
        print(line)
    if args.cost:  # the cost target: iagan and csgm timed back to back in one process
        with open(args.cost, newline="") as f:
            for row in csv.DictReader(f):
                options = json.loads(row["iagan_options"] or "{}")
                what = f"iagan {options}" if options else "iagan"
                print(
                    f"m = {row['m']}: {what} / csgm seconds per image {float(row['ratio']):.2f}, "
                    f"side by side on {row['n']} images (target ≤ 5; {args.cost})"
                )
    for m in ms:  # iagan's seconds include its csgm start's (the runner adds them)
        csgm = seconds.get(("csgm", m))
        for name in sorted(k for k, mm in seconds if mm == m and k.split("+")[0] == "iagan"):
            if csgm and seconds[(name, m)]:
                own = seconds[(name, m)]
                ratio = (sum(own.values()) / len(own)) / (sum(csgm.values()) / len(csgm))
                print(
                    f"m = {m}: {name} / csgm sweep timing {ratio:.2f} (the sweeps' seconds, "
                    "other times and loads: not the cost measurement)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
