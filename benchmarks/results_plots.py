"""The plots of RESULTS.md that no benchmark command writes, drawn from recorded result files only.

    python benchmarks/results_plots.py            # all of them
    python benchmarks/results_plots.py mnist speed

Reads the committed summaries (no solver runs; a few seconds) and writes small PNGs:

- ``results/headline/mnist_cs.png``: MNIST compressed sensing, CSGM with the generator chosen per
  m on validation images (``lambdas.json`` of four sweeps), csgm-sparse on the VAE, the best Lasso,
  and the CSGM paper's published numbers;
- ``results/headline/faces_cs.png``: CelebA 64x64 PSNR against m (the issue 14 rerun of
  ``celeba_sweep_full``), with GlowIP's published points;
- ``results/inpainting/psnr_by_mask.png``, ``results/defense/accuracy.png``,
  ``results/csgm_speed/speed.png``.

Each prints the numbers it plotted, so RESULTS.md's tables can be checked against the files.
Published numbers are constants below, each with where it is quoted.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = Path(__file__).resolve().parent / "results"
HEADLINE = RESULTS / "headline"

#: CSGM paper's VAE on MNIST (Bora et al. 2017), the published reproduction's per-pixel MSE on the
#: [0, 1] scale, as quoted in benchmarks/notes/mnist_cs.md.
PAPER_MNIST = {10: 0.068, 25: 0.028, 50: 0.012, 100: 0.008}
#: GlowIP's table (Asim et al. 2020; their faces and DCGAN), PSNR dB, as quoted in
#: benchmarks/notes/celeba_cs.md.
GLOWIP_DCGAN = {20: 13.2, 100: 16.6, 500: 20.8, 2500: 22.0}
GLOWIP_LASSO_DCT = {20: 10.5, 100: 13.1, 500: 15.7, 2500: 21.8}
#: GlowIP's Glow prior at m = 500, PSNR dB, as quoted by issue 18 (other faces; a reference only).
GLOW_M500 = 27.0

#: The MNIST sweeps whose CSGM setting is chosen per m; the generator is chosen the same way.
MNIST_RUNS = {
    "mnist-wgangp": "mnist_sweep_tuned",
    "mnist-vae": "mnist_sweep_vae",
    "mnist-vae-100ep": "mnist_sweep_vae_100ep",
    "mnist-vae-100ep, 30 restarts": "mnist_sweep_vae_100ep_r30",
}
LASSOS = ("lasso", "lasso-dct", "lasso-wavelet")


def read_summary(folder: Path) -> dict[tuple[str, int], dict[str, float]]:
    """(method, m) -> the summary row's numbers."""
    with (folder / "summary.csv").open(newline="") as f:
        return {
            (r["method"], int(r["m"])): {
                k: float(v) if v != "" else math.nan  # (an empty CI: one image)
                for k, v in r.items()
                if k not in ("method", "m")
            }
            for r in csv.DictReader(f)
        }


def pick_generator(base: Path) -> dict[int, str]:
    """Per m, the run of MNIST_RUNS whose best CSGM setting had the lowest validation MSE."""
    best: dict[int, tuple[float, str]] = {}
    for name, folder in MNIST_RUNS.items():
        for key, entry in json.loads((base / folder / "lambdas.json").read_text()).items():
            method, m = key.split("@")
            if method != "csgm":
                continue
            score = min(mse for _, mse in entry["validation_mse"])
            if int(m) not in best or score < best[int(m)][0]:
                best[int(m)] = (score, name)
    return {m: name for m, (_, name) in sorted(best.items())}


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"wrote {path.relative_to(RESULTS.parent.parent)}")


def _errorbars(ax: plt.Axes, ms: list[int], rows: list[dict], key: str, **style) -> None:
    """One line: each summary row's ``key`` (mean) and ``key_ci95`` (95% CI) against m."""
    ax.errorbar(ms, [r[key] for r in rows], [r[f"{key}_ci95"] for r in rows], **style)


def _print_means(title: str, ms: list[int], rows: list[dict], key: str, digits: int) -> None:
    """The numbers of a line, ``title: m: mean ± CI, ...``, so RESULTS.md can be checked."""
    means = (
        f"{m}: {r[key]:.{digits}f} ± {r[f'{key}_ci95']:.{digits}f}"
        for m, r in zip(ms, rows, strict=True)
    )
    print(f"{title}: " + ", ".join(means))


def _published(ax: plt.Axes, points: dict[int, float], fmt: str, **style) -> None:
    """Published values {m: value} as points of their own (``fmt``: matplotlib's format string)."""
    ax.plot(list(points), list(points.values()), fmt, **style)


def mnist(out: Path = HEADLINE / "mnist_cs.png") -> None:
    fig, ax = plt.subplots(figsize=(7.2, 5.0))
    for base, label, style in (
        (RESULTS, "recorded", dict(marker="o", capsize=3)),
        (
            RESULTS / "reruns",
            "rerun (issue 14's code)",
            dict(marker="o", mfc="none", ls=":", capsize=2),
        ),
    ):
        pick = pick_generator(base)
        rows = {name: read_summary(base / folder) for name, folder in MNIST_RUNS.items()}
        ms = sorted(pick)
        chosen = [rows[pick[m]][("csgm", m)] for m in ms]
        print(f"CSGM, generator chosen per m ({label}):")
        for m, r in zip(ms, chosen, strict=True):
            print(f"  m={m}: {pick[m]}: {r['mse']:.4f} ± {r['mse_ci95']:.4f} (n={r['n']:.0f})")
        _errorbars(
            ax,
            ms,
            chosen,
            "mse",
            color="C0",
            label=f"CSGM, generator chosen per m ({label})",
            **style,
        )
        if base is RESULTS:
            for m, r in zip(ms, chosen, strict=True):
                short = pick[m].replace("mnist-", "").replace(", 30 restarts", " r30")
                if m in (10, 25, 100):
                    ax.annotate(
                        short, (m, r["mse"]), textcoords="offset points", xytext=(4, 6), fontsize=7
                    )
        vae = rows["mnist-vae-100ep, 30 restarts"]
        sparse = [vae[("csgm-sparse", m)] for m in ms]
        lasso = [
            min((rows["mnist-wgangp"][(k, m)] for k in LASSOS), key=lambda r: r["mse"]) for m in ms
        ]
        if base is RESULTS:
            _errorbars(
                ax,
                ms,
                sparse,
                "mse",
                color="C1",
                marker="s",
                capsize=3,
                label="csgm-sparse, mnist-vae-100ep, 30 restarts",
            )
            _errorbars(
                ax,
                ms,
                lasso,
                "mse",
                color="C2",
                marker="^",
                capsize=3,
                label="best Lasso per m (pixel, DCT, wavelet)",
            )
        _print_means(f"csgm-sparse VAE-100ep r30 ({label})", ms, sparse, "mse", 4)
        _print_means(f"best Lasso ({label})", ms, lasso, "mse", 4)
    _published(
        ax,
        PAPER_MNIST,
        "kx",
        ms=9,
        mew=2,
        label="CSGM paper's VAE (Bora et al. 2017), published",
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="number of measurements m",
        ylabel="per-pixel MSE ([0, 1] scale)",
        title="MNIST, 300 test images, σ = 0.1 (mean ± 95% CI)",
    )
    ax.title.set_fontsize("medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    _save(fig, out)


def faces(out: Path = HEADLINE / "faces_cs.png") -> None:
    rows = read_summary(RESULTS / "reruns" / "celeba_sweep_full")  # issue 14's code
    dct = read_summary(RESULTS / "celeba_sweep_sparse_dct")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    labels = {
        "csgm": "CSGM",
        "csgm-sparse": "csgm-sparse, wavelet ν",
        "lasso-dct": "Lasso-DCT",
        "lasso-wavelet": "Lasso-wavelet",
    }
    for i, (method, label) in enumerate(labels.items()):
        ms = sorted(m for meth, m in rows if meth == method)
        ys = [rows[(method, m)] for m in ms]
        _errorbars(
            ax, ms, ys, "psnr", marker="o", capsize=3, color=f"C{i}", label=f"{label} (64 faces)"
        )
        _print_means(label, ms, ys, "psnr", 1)
    ms = sorted(m for _, m in dct)
    _errorbars(
        ax,
        ms,
        [dct[("csgm-sparse", m)] for m in ms],
        "psnr",
        marker="D",
        ls="none",
        capsize=3,
        color="C4",
        label="csgm-sparse, DCT ν (first 8 faces)",
    )
    _published(ax, GLOWIP_DCGAN, "kx", ms=8, mew=2, label="GlowIP's table: DCGAN (other faces)")
    _published(
        ax,
        GLOWIP_LASSO_DCT,
        "+",
        color="gray",
        ms=10,
        mew=2,
        label="GlowIP's table: Lasso-DCT (other faces)",
    )
    _published(
        ax, {500: GLOW_M500}, "k*", ms=11, label="Glow prior, Asim et al. 2020 (other faces)"
    )
    ax.set(
        xscale="log",
        xlabel="number of measurements m",
        ylabel="PSNR dB ([0, 1] scale)",
        title="CelebA 64x64, σ = 0.01 (mean ± 95% CI)",
    )
    ax.title.set_fontsize("medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, out)


INPAINT_METHODS = ("tv", "biharmonic", "nearest", "ours-raw", "ours-blended")


def _inpainting_rows(*folders: str) -> list[dict]:
    rows: list[dict] = []
    for folder in folders:
        rows += json.loads((RESULTS / "inpainting" / folder / "summary.json").read_text())
    return rows


def inpainting(out: Path = RESULTS / "inpainting" / "psnr_by_mask.png") -> None:
    panels = {
        "CelebA 64x64, celeba64-dcgan, 64 faces": _inpainting_rows("celeba64", "celeba64_grid"),
        "MNIST, mnist-dcgan, 50 digits": _inpainting_rows("mnist"),
    }
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=False)
    width = 0.16
    for ax, (title, rows) in zip(axes, panels.items(), strict=True):
        masks = list(dict.fromkeys(r["mask"] for r in rows))
        cell = {(r["mask"], r["method"]): r for r in rows}
        for i, method in enumerate(INPAINT_METHODS):
            xs = [j + (i - 2) * width for j in range(len(masks))]
            ax.bar(
                xs,
                [cell[(k, method)]["psnr"] for k in masks],
                width,
                yerr=[cell[(k, method)]["psnr_ci95"] for k in masks],
                capsize=2,
                label=method,
                color=f"C{i}",
            )
        print(title)
        for k in masks:
            print(
                f"  {k}: "
                + ", ".join(
                    f"{m} {cell[(k, m)]['psnr']:.2f}±{cell[(k, m)]['psnr_ci95']:.2f}"
                    for m in INPAINT_METHODS
                )
            )
        ax.set_xticks(range(len(masks)), masks, fontsize=8)
        ax.set_ylabel("PSNR dB (whole image, [0, 1])")
        ax.set_title(title, fontsize="medium")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylim(10, None)
    axes[1].set_ylim(10, None)
    axes[1].legend(fontsize=7, loc="upper left")
    _save(fig, out)


def defense(out: Path = RESULTS / "defense" / "accuracy.png") -> None:
    with (RESULTS / "defense" / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in rows[0] if c not in ("model", "n", "s/image", "flags")]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.2
    for i, row in enumerate(rows):
        xs = [j + (i - 1.5) * width for j in range(len(columns))]
        ax.bar(xs, [float(row[c]) for c in columns], width, label=row["model"], color=f"C{i}")
        print(
            f"{row['model']} (n={row['n']}): "
            + ", ".join(f"{c} {float(row[c]):.2f}" for c in columns)
        )
    j = columns.index("FGSM ε=0.3")
    ax.plot(
        [j - 0.45, j + 0.45],
        [0.217, 0.217],
        "k--",
        lw=1.2,
        label="Defense-GAN paper: model A, no defense, FGSM ε=0.3 (0.217)",
    )
    j = columns.index("BPDA L2 ε=2")
    ax.plot(
        [j - 0.45, j + 0.45],
        [0.55, 0.55],
        "k:",
        lw=1.5,
        label="Athalye et al. 2018: Defense-GAN at L2 ≈ 2 (0.55)",
    )
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel="accuracy (100 MNIST test images)")
    ax.set_title("MNIST, Defense-GAN model A, projection onto mnist-dcgan", fontsize="medium")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    _save(fig, out)


def speed(out: Path = RESULTS / "csgm_speed" / "speed.png") -> None:
    data = json.loads((RESULTS / "csgm_speed" / "results.json").read_text())
    rows = data["rows"]
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    names = [r["variant"] for r in rows] + ["deepinv"]
    ax.barh(names[:-1], [r["seconds"] for r in rows], color=["C3", "C0", "C2"])
    for i, r in enumerate(rows):
        ax.annotate(
            f"{r['seconds']:.0f} s, {r['speedup_vs_loop']:.1f}x, MSE {r['mse']:.5f}",
            (r["seconds"], i),
            xytext=(4, -3),
            textcoords="offset points",
            fontsize=7,
        )
        print(
            f"{r['variant']}: {r['seconds']:.2f} s, {r['speedup_vs_loop']:.1f}x, MSE {r['mse']:.5f}"
        )
    ax.barh([names[-1]], [0])
    ax.annotate(
        "pending: benchmarks/peers.py",
        (1, len(rows)),
        xytext=(4, -3),
        textcoords="offset points",
        fontsize=7,
        style="italic",
    )
    ax.set(
        xscale="log",
        xlim=(1, 3000),
        xlabel="seconds (5 images x 10 restarts x 300 steps, 1 thread)",
    )
    ax.invert_yaxis()
    ax.set_title("CSGM on mnist-dcgan, m = 100", fontsize="medium")
    _save(fig, out)


PLOTS = {
    "mnist": mnist,
    "faces": faces,
    "inpainting": inpainting,
    "defense": defense,
    "speed": speed,
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("plots", nargs="*", help=f"any of {', '.join(PLOTS)} (default: all)")
    names = p.parse_args(argv).plots or list(PLOTS)
    if unknown := sorted(set(names) - set(PLOTS)):
        p.error(f"unknown plot(s) {', '.join(unknown)}; choose from {', '.join(PLOTS)}")
    for name in names:
        PLOTS[name]()


if __name__ == "__main__":
    main()
