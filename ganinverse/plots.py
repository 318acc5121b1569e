"""Figures: error-vs-m curves with 95% CI bars (CSGM's Figure 1) and image grids (its Figure 3)."""

from __future__ import annotations

import os
import re
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from safetensors.torch import load_file
from torchvision.utils import make_grid

from ._validation import check_choice
from .io import atomic_write
from .operators import M_AXIS, Axis


def _save(fig: plt.Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    atomic_write(path, lambda p: fig.savefig(p, format=path.suffix.lstrip(".") or "png", dpi=120))
    plt.close(fig)
    return path


#: ``error_vs_m`` uses a log y axis when the errors span more than this factor.
LOG_Y_SPAN = 20.0


#: the metrics ``error_vs_m`` plots: the column of a summary row -> its axis label
METRIC_LABELS = {"mse": "per-pixel MSE ([0, 1] scale)", "psnr": "PSNR (dB)", "ssim": "SSIM"}


#: markers and line styles of the methods past the colour cycle's first round (tab10: 10 colours)
MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", ":", "-.")


def _style(i: int, numeric: bool) -> dict:
    """The i-th method's colour, marker and line: the colour cycles through tab10, and each
    round of it takes the next marker (and, on a number axis, line style), so no two of up to
    60 methods look alike (a sweep of 17 methods reused colours)."""
    colors = plt.get_cmap("tab10").colors
    turn = i // len(colors)
    return {
        "color": colors[i % len(colors)],
        "marker": MARKERS[turn % len(MARKERS)],
        "linestyle": LINESTYLES[turn % len(LINESTYLES)] if numeric else "none",
    }


def error_vs_m(
    table: Sequence[dict],
    path: str | os.PathLike,
    title: str = "",
    axis: Axis | None = None,
    metric: str = "mse",
) -> Path:
    """A metric (default the per-pixel MSE, [0, 1] scale; ``"psnr"`` in dB; ``"ssim"``) of each
    summary row (keys ``metric`` and ``metric_ci95``) against the sweep axis (default: m), one
    line per method, 95% CI bars. A number axis is logarithmic (log y too for MSE when the
    errors span more than ``LOG_Y_SPAN``x); a category axis (mask specs) places the values in
    their order, as points without connecting lines (the categories have no order in between),
    each method shifted a little so the CI bars do not hide one another. The legend stands
    beside the axes, clear of the data. Raises ValueError for a metric not in
    ``METRIC_LABELS``."""
    check_choice(metric, "metric", sorted(METRIC_LABELS))
    axis = axis or M_AXIS
    by_method: dict[str, list[dict]] = defaultdict(list)
    for row in table:
        by_method[row["method"]].append(row)
    categories: list = []
    for row in table:
        if row[axis.name] not in categories:
            categories.append(row[axis.name])
    methods = sorted(by_method)
    # (the legend stands beside the axes, one line per method: the figure grows to hold it)
    fig, ax = plt.subplots(figsize=(7.5, max(4.0, 0.75 + 0.2 * len(methods))))
    for i, method in enumerate(methods):
        rows = sorted(by_method[method], key=lambda r: categories.index(r[axis.name]))
        if axis.numeric:
            rows = sorted(rows, key=lambda r: r[axis.name])
        shift = 0.5 * (i - (len(methods) - 1) / 2) / max(len(methods), 1)  # (categories only)
        xs = [
            r[axis.name] if axis.numeric else categories.index(r[axis.name]) + shift for r in rows
        ]
        ax.errorbar(
            xs,
            [r[metric] for r in rows],
            yerr=[
                0 if r[f"{metric}_ci95"] != r[f"{metric}_ci95"] else r[f"{metric}_ci95"]
                for r in rows
            ],  # fmt: skip
            capsize=3,
            label=method,
            **_style(i, axis.numeric),
        )
    if axis.numeric:
        ax.set_xscale("log")
    else:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories], rotation=20)
    errors = [r["mse"] for r in table if metric == "mse" and r["mse"] > 0]
    if errors and max(errors) > LOG_Y_SPAN * min(errors):  # keep large-m differences visible
        ax.set_yscale("log")
    ax.set_xlabel(axis.label)
    ax.set_ylabel(METRIC_LABELS[metric])
    name = "reconstruction error" if metric == "mse" else metric.upper()
    ax.set_title(textwrap.fill(title or f"{name} vs {axis.name} (95% CI)", 80), fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return _save(fig, path)


def image_grid(
    rows: Sequence[torch.Tensor], labels: Sequence[str], path: str | os.PathLike, title: str = ""
) -> Path:
    """One labelled row per tensor (N, C, H, W) in [-1, 1], e.g. original / each method."""
    if len(rows) != len(labels):
        raise ValueError(f"rows ({len(rows)}) and labels ({len(labels)}) must have the same length")
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows), 1, figsize=(1.0 * n + 1.5, 1.1 * len(rows) + 0.4), squeeze=False
    )
    for ax, images, label in zip(axes[:, 0], rows, labels, strict=True):
        grid = make_grid(((images.detach().cpu().float() + 1) / 2).clamp(0, 1), nrow=n, padding=1)
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


#: Inches per panel of ``reconstruction_panels`` (width, height): a figure of k panels per row
#: and B rows is exactly (k · 2.2, B · 2.4) inches, at 120 dpi 264 k x 288 B pixels.
PANEL_SIZE = (2.2, 2.4)


def reconstruction_panels(
    x_hat: torch.Tensor,
    back_projection: torch.Tensor,
    path: str | os.PathLike,
    *,
    truth: torch.Tensor | None = None,
    method: str = "x̂",
    title: str = "",
) -> Path:
    """Side by side for each image (one row per image): the truth x (when known), the
    back-projection Aᵀy (``LinearOperator.back_projection``: the zero-filled y for masked
    operators, the least-squares-scaled Aᵀy for Gaussian A) and the reconstruction x̂, with the
    PSNR against x ([0, 1] scale, ``metrics.psnr``, of the panel as shown) in the titles when x
    is known.

    Tensors (B, C, H, W) on [-1, 1] (clamped for display; C = 1 or 3), all of one shape. The
    figure is exactly ``PANEL_SIZE`` per panel (3 or, without the truth, 2 panels per row).
    Raises ValueError for tensors of different shapes or not (B, C, H, W).
    """
    from .metrics import psnr

    panels = ([("truth x", truth)] if truth is not None else []) + [
        ("back-projection Aᵀy", back_projection),
        (method, x_hat),
    ]
    shapes = {tuple(t.shape) for _, t in panels}
    if len(shapes) != 1 or x_hat.ndim != 4 or x_hat.shape[1] not in (1, 3):
        raise ValueError(
            "x_hat, back_projection and truth must be (B, C, H, W) tensors (C = 1 or 3) of one "
            f"shape, got {', '.join(f'{n}: {tuple(t.shape)}' for n, t in panels)}"
        )
    rows, cols = x_hat.shape[0], len(panels)
    fig, axes = plt.subplots(
        rows, cols, figsize=(PANEL_SIZE[0] * cols, PANEL_SIZE[1] * rows), squeeze=False
    )
    for i in range(rows):
        for ax, (name, images) in zip(axes[i], panels, strict=True):
            image = images[i].detach().cpu().float().clamp(-1, 1)
            label = name
            if truth is not None and images is not truth:
                label += f"\n{float(psnr(image[None], truth[i : i + 1].cpu().float())[0]):.2f} dB"
            shown = ((image + 1) / 2).permute(1, 2, 0).squeeze(-1).numpy()  # (H, W[, 3])
            ax.imshow(shown, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(label, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def sweep_grids(out: str | os.PathLike, axis: Axis | None = None) -> list[Path]:
    """For each x of a sweep folder, a grid: the originals, then each method's reconstructions
    (``images/<method>_<axis><x>.safetensors`` -> ``grid_<axis><x>.png``)."""
    axis = axis or M_AXIS
    folder = Path(out) / "images"
    original = folder / "original.safetensors"
    if not original.is_file():
        return []
    by_x: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    for path in folder.glob(f"*_{axis.name}*.safetensors"):
        match = re.fullmatch(rf"(.+?)_{axis.name}(.+)", path.stem)
        if match:
            by_x[match.group(2)][match.group(1)] = load_file(str(path))["images"]
    truth = load_file(str(original))["images"]
    written = []
    from .sweep.rows import setting_order

    order = sorted(by_x, key=setting_order)
    for x in order:
        recons = by_x[x]
        methods = sorted(recons)
        written.append(
            image_grid(
                [truth, *(recons[k] for k in methods)],
                ["original", *methods],
                Path(out) / f"grid_{axis.name}{x}.png",
                title=f"{axis.name} = {x}",
            )
        )
    return written
