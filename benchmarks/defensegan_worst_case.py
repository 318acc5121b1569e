"""The per-image worst case over attack runs of ``defensegan_steps.py`` (issue 17, item 3).

Each run of ``defensegan_steps.py`` attacks the defended model A with one attack, in chunks of
images, each an ``evaluate_defense`` folder whose cells record per image whether it was
classified right (``"correct"``). An image resists the ensemble only if it is classified right
clean and under every run's attack: the robust accuracy AutoAttack reports for its ensemble
(Croce & Hein, ICML 2020), never above the accuracy under the strongest single run. The runs must attack the same model on the same images (their clean records must agree);
only the chunks every run has finished count.

    python benchmarks/defensegan_worst_case.py steps40-best-A3-pi steps40-best-margin-A3-pi

Prints a markdown table (each run and the worst case on the shared images, with Wilson 95%
intervals, and the paired difference of each run against the worst case) and writes
``OUT/attacks/worst_case.csv``: one row per combination of runs (rewritten atomically; an
earlier row of the same combination is replaced).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import defensegan as dg  # benchmarks/defensegan.py (wilson_ci95)

from ganinverse.io import atomic_write_text

FIELDS = ("runs", "n", "chunks", "accuracies", "worst_case", "ci95")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="folders under OUT/attacks/ (defensegan_steps.py runs)")
    p.add_argument("--out", default="benchmarks/results/defense/defensegan")
    args = p.parse_args(argv)
    if len(set(args.runs)) != len(args.runs):
        raise ValueError(f"each run may be named once, got {args.runs}")
    return args


def _records(folder: Path) -> dict[str, tuple[str, str, str]]:
    """chunk name -> (clean bits, attack bits, attack column) of a finished chunk with per-image
    records; chunks without them (run before they were recorded) are refused by name."""
    out = {}
    for chunk in sorted(folder.glob("images-*")):
        path = chunk / "cells.json"
        if not path.is_file():
            continue
        cells = json.loads(path.read_text())["cells"]
        attacks = [k for k in cells if k.startswith("defense|") and k != "defense|clean"]
        if "defense|clean" not in cells or len(attacks) != 1:
            continue  # (a chunk still running its attack)
        clean, attack = cells["defense|clean"], cells[attacks[0]]
        if "correct" not in clean or "correct" not in attack:
            raise ValueError(
                f"{chunk} has no per-image records (computed before cells recorded them); "
                "rerun that attack into a new folder (defensegan_steps.py --suffix)"
            )
        out[chunk.name] = (clean["correct"], attack["correct"], attacks[0].split("|", 1)[1])
    return out


def worst_case(folders: list[Path]) -> dict:
    """The shared chunks' per-run accuracies and the worst case (see the module doc)."""
    for folder in folders:
        if not folder.is_dir():
            raise ValueError(f"no run folder {folder}: pass the name of a defensegan_steps run")
    records = [_records(f) for f in folders]
    shared = sorted(set.intersection(*(set(r) for r in records)))
    if not shared:
        raise ValueError(f"the runs {[f.name for f in folders]} have no finished chunk in common")
    per_run = [""] * len(folders)
    clean_all = worst = ""
    for chunk in shared:
        cleans = {r[chunk][0] for r in records}
        if len(cleans) != 1:
            raise ValueError(
                f"{chunk}: the runs' clean records differ, so they did not attack the same "
                "model on the same images"
            )
        (clean,) = cleans
        clean_all += clean
        for i, r in enumerate(records):
            per_run[i] += r[chunk][1]
        worst += "".join(
            "1" if c == "1" and all(r[chunk][1][j] == "1" for r in records) else "0"
            for j, c in enumerate(clean)
        )
    n = len(worst)
    return {
        "n": n,
        "chunks": len(shared),
        "clean": clean_all.count("1") / n,
        "accuracies": [b.count("1") / n for b in per_run],
        "worst_case": worst.count("1") / n,
        "worst_bits": worst,
        "run_bits": per_run,
        "columns": [r[shared[0]][2] for r in records],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    attacks = Path(args.out) / "attacks"
    result = worst_case([attacks / name for name in args.runs])
    n, w = result["n"], result["worst_case"]
    lines = [
        f"Worst case over {len(args.runs)} runs on {n} images ({result['chunks']} chunks; "
        f"clean {result['clean']:.2f}):",
        "",
        "| run | attack | accuracy (±95%) | images it alone leaves right that the ensemble fools |",
        "|---|---|---:|---:|",
    ]
    for name, col, acc, bits in zip(
        args.runs, result["columns"], result["accuracies"], result["run_bits"], strict=True
    ):
        extra = sum(b == "1" and v == "0" for b, v in zip(bits, result["worst_bits"], strict=True))
        lines.append(f"| {name} | {col} | {acc:.2f} ± {dg.wilson_ci95(acc, n):.2f} | {extra} |")
    lines.append(f"| worst case | all of them | **{w:.2f} ± {dg.wilson_ci95(w, n):.2f}** | |")
    print("\n".join(lines))
    path = attacks / "worst_case.csv"
    key = "+".join(args.runs)
    rows = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if r["runs"] != key]
    rows.append(
        {
            "runs": key,
            "n": n,
            "chunks": result["chunks"],
            "accuracies": " ".join(f"{a:.4f}" for a in result["accuracies"]),
            "worst_case": f"{w:.4f}",
            "ci95": f"{dg.wilson_ci95(w, n):.4f}",
        }
    )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
