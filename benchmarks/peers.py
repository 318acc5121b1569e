"""Peer benchmark against deepinv (issue 18.2): time to equal quality, in one run.

On the same generator, sensing matrix A, measurements y and images, three pairs (ours vs deepinv):

  csgm     ``gi.csgm`` (restarts batched, settings of G's card or of ``--tune-weights``) vs
           deepinv's ``CSGMGenerator`` in a Python loop of restarts per image, best restart by
           measurement loss (deepinv has no restarts; its CSGM fits one latent per call for the
           whole batch, so one image at a time), the same restarts and steps
  wavelet  our ``lasso-wavelet-frame`` (the zero-padded wavelet frame at its defaults; FISTA, batched,
           certified) vs deepinv's ``FISTA`` with ``WaveletPrior`` (batched); λ of each chosen on
           the same validation images (the folder benchmarks/results/peers holds the earlier run
           with ``lasso-wavelet-detail``; this pair's rows are in benchmarks/results/peers_wavelet)
  dip      our ``dip`` (batched by vmap) vs deepinv's ``DeepImagePrior`` with ``ConvDecoder``
           (one image at a time), the same number of Adam steps, on the first ``--n-dip`` images

The protocol: the first ``--n`` test images; deepinv's ``CompressedSensing(m, img_size)`` matrix,
seeded; our operator from it by ``ganinverse.interop.deepinv.from_deepinv`` (the identical
matrix); y₀₁ = A x₀₁ + σ·noise drawn once per image (seeded by its identity), deepinv gets y₀₁ and
we get ``op.measurements_from_deepinv(y₀₁)``; noise σ on the [0, 1] scale (``--noise-std``).

Per pair: per-image MSE ([0, 1] scale), wall time per image (a batched side: its batch's time / n),
the paired MSE difference ours − deepinv with its 95% Student-t CI (``ganinverse.sweep.mean_ci95``)
and the time ratio deepinv/ours with a 95% percentile-bootstrap CI: images are resampled with
replacement (the same draw for both sides) and the ratio of the two sides' mean seconds per image
recomputed. So the CI covers how deepinv's per-image time varies from image to image; our
batched side is one timing per batch (every image gets its mean) and machine-load drift between
the two sides' runs is not covered. "Equal quality": the CI of the MSE difference contains 0 or
lies below it (favours us), i.e. mean − half-width <= 0.

Writes ``results.csv`` (one row per image x pair x side; per unit (m, pair, side) as it finishes,
so a killed run resumes, skipping done units), ``units.json`` (each unit's settings, λ search,
total seconds, command and commit) and ``results.md`` (the table). deepinv is an optional extra
(``pip install 'ganinverse[deepinv]'``; its wavelet prior needs ``ptwt``), never a core
dependency.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/peers.py --m 25,100 --n 20 \\
        --tune-weights benchmarks/results/tune/mnist-wgangp/weights.json
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from csv_rows import append_rows, read_rows  # benchmarks/csv_rows.py
from torch import Tensor
from tqdm.auto import tqdm

import ganinverse as gi
from ganinverse import metrics
from ganinverse.interop.deepinv import as_deepinv_generator, from_deepinv
from ganinverse.io import atomic_write_json, atomic_write_text, read_json
from ganinverse.methods import LASSO_LAMBDAS
from ganinverse.recommended import card_block, settings_at
from ganinverse.seeds import derive_seed, rng
from ganinverse.sweep import mean_ci95

PAIRS = ("csgm", "wavelet", "dip")
SIDES = ("ours", "deepinv")
#: What each side of a pair runs (the ``method`` column).
METHOD = {
    ("csgm", "ours"): "gi.csgm (restarts batched)",
    ("csgm", "deepinv"): "deepinv CSGMGenerator, loop of restarts",
    ("wavelet", "ours"): "lasso-wavelet-frame",
    ("wavelet", "deepinv"): "deepinv FISTA + WaveletPrior",
    ("dip", "ours"): "dip (batched)",
    ("dip", "deepinv"): "deepinv DeepImagePrior + ConvDecoder",
}
#: λ grid of both wavelet sides: the sweeps' Lasso grid, extended upwards (deepinv's FISTA +
#: WaveletPrior chose the top of the sweeps' grid, 3, at m = 25 and 100; then 30 of 3..30 at m = 25).
LAMBDAS = (*LASSO_LAMBDAS, 10.0, 30.0, 100.0, 300.0)
FIELDS = ("m", "pair", "side", "method", "image", "mse", "seconds", "work")
#: Protocol keys that may differ between runs into one folder (they select units, not results).
FREE = ("m", "pairs", "no_progress", "out", "boot")


def _deepinv():
    try:
        import deepinv
    except ImportError as error:  # pragma: no cover - the benchmark needs the extra
        raise SystemExit(
            "benchmarks/peers.py needs deepinv: pip install 'ganinverse[deepinv]' (and ptwt for "
            "its wavelet prior)"
        ) from error
    return deepinv


# -- the shared problem ------------------------------------------------------------------------


def make_physics(m: int, image_shape: Sequence[int], sigma: float, seed: int):
    """deepinv's ``CompressedSensing(m, img_size)`` with its matrix drawn from
    ``rng(seed, "peers-A", m)`` and a ``GaussianNoise(sigma)`` model ([0, 1] scale; the noise
    itself is drawn by ``measure``, the model only tells ``from_deepinv`` σ)."""
    dinv = _deepinv()
    physics = dinv.physics.CompressedSensing(
        m=m, img_size=tuple(image_shape), rng=rng(seed, "peers-A", m)
    )
    physics.noise_model = dinv.physics.GaussianNoise(sigma=sigma)
    return physics


def measure(physics, x01: Tensor, sigma: float, seed: int, key: str, ids: Sequence[int]) -> Tensor:
    """y₀₁ = A x₀₁ + σ·noise, each image's noise from ``rng(seed, key, m, id)`` (so an image's
    measurements depend on its identity, not on the batch). x01 (B, C, H, W) -> (B, m)."""
    with torch.no_grad():
        clean = physics.A(x01)
    m = clean.shape[1]
    noise = torch.stack([torch.randn(m, generator=rng(seed, key, m, int(i))) for i in ids])
    return clean + sigma * noise


def mse01(x01_hat: Tensor, x01: Tensor) -> list[float]:
    """Per-image per-pixel MSE on the [0, 1] scale."""
    return [float(v) for v in metrics.mse(2 * x01_hat - 1, 2 * x01 - 1)]


# -- ours ----------------------------------------------------------------------------------------


def ours_csgm_settings(G, op, m: int, tune_weights: str | None) -> tuple[dict, str]:
    """The engine settings our CSGM runs at m: from ``tune_weights`` (a ``ganinverse tune``
    folder's weights.json, its engine from the sibling sweep.json) when given, else G's card."""
    if tune_weights:
        path = Path(tune_weights)
        weights = read_json(path, "tune weights")
        key = f"csgm@{m}"
        if key not in weights:
            raise SystemExit(f"{path} has no {key} (tuned m: {', '.join(sorted(weights))})")
        engine = read_json(path.parent / "sweep.json", "tune sweep").get("engine", {})
        settings = {**engine, **weights[key]["value"]}
        if "prune_at" in settings:
            settings["prune_at"] = tuple(settings["prune_at"])
        return settings, f"{path} ({key}) and its sweep.json engine"
    block = card_block(G, "csgm")
    if block is None:
        raise SystemExit(
            "G's card has no recommended csgm settings (ganinverse tune has not written them): "
            "pass --tune-weights <tune folder>/weights.json"
        )
    return settings_at(block, m, float(op.noise.std)), "G's card (recommended)"


def ours_csgm(G, op, y, ids, settings: dict, progress: bool) -> dict:
    start = time.perf_counter()
    res = gi.csgm(G, op, y, image_ids=ids, progress=progress, **settings)
    seconds = time.perf_counter() - start
    n = len(y)
    return {
        "x01": gi.to_unit(res.x_hat),
        "seconds": [seconds / n] * n,
        "work": [int(s) for s in res.steps_run.sum(1)],
        "total_seconds": seconds,
    }


#: Our side of the wavelet pair (its record's defaults: wavelet, level, band weight).
OURS_WAVELET = METHOD[("wavelet", "ours")]


def ours_wavelet_lambda(op, x_val, y_val, ids, lambdas) -> tuple[float, list]:
    lam, scores = gi.choose_weight(
        OURS_WAVELET, None, op, x_val, y_val, list(lambdas), image_ids=ids
    )
    return float(lam), [[float(v), s] for v, s in scores]


def ours_wavelet(op, y, lam: float) -> dict:
    start = time.perf_counter()
    res = gi.reconstruct_result(OURS_WAVELET, None, op, y, lam=lam)
    seconds = time.perf_counter() - start
    n = len(y)
    return {
        "x01": gi.to_unit(res.x_hat),
        "seconds": [seconds / n] * n,
        "work": [int(i) for i in res.solver.iterations],
        "total_seconds": seconds,
    }


def ours_dip(op, y, ids, steps: int, lr: float, seed: int, progress: bool) -> dict:
    start = time.perf_counter()
    res = gi.reconstruct_result("dip", None, op, y, seed=seed, image_ids=ids, steps=steps, lr=lr)
    seconds = time.perf_counter() - start
    n = len(y)
    return {
        "x01": gi.to_unit(res.x_hat),
        "seconds": [seconds / n] * n,
        "work": [steps] * n,
        "total_seconds": seconds,
    }


# -- deepinv, as its user writes it ---------------------------------------------------------------


class _Counter(torch.nn.Module):
    """A backbone that counts its calls (deepinv's CSGM calls it once per Adam step and once
    for the output)."""

    def __init__(self, backbone: torch.nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.nz = backbone.nz
        self.calls = 0

    def forward(self, z: Tensor) -> Tensor:
        self.calls += 1
        return self.backbone(z)


def deepinv_csgm(
    G,
    physics,
    y01: Tensor,
    ids: Sequence[int],
    *,
    restarts: int,
    steps: int,
    lr: float,
    tol: float,
    seed: int,
    tick: Callable[[], None] = lambda: None,
) -> dict:
    """deepinv's CSGM with a loop of ``restarts`` per image, best by ||A x − y||²: one
    ``CSGMGenerator`` call per image and restart (it draws z ~ U[-1, 1] from torch's global
    generator, seeded here by (seed, image id, restart)). ``steps`` = ``inf_max_iter`` (deepinv
    also stops a restart once the loss changes by less than ``tol``, relative, in one step)."""
    dinv = _deepinv()
    backbone = _Counter(as_deepinv_generator(G))
    model = dinv.models.CSGMGenerator(
        backbone_generator=backbone, inf_max_iter=steps, inf_tol=tol, inf_lr=lr
    ).eval()  # in train mode it returns a random sample, ignoring y
    x01, seconds, work = [], [], []
    for i, image in enumerate(ids):
        y_i = y01[i : i + 1]
        start = time.perf_counter()
        best, best_loss, calls = None, math.inf, 0
        for r in range(restarts):
            torch.manual_seed(derive_seed(seed, "deepinv-csgm", int(image), r))
            backbone.calls = 0
            x = model(y_i, physics).detach()
            calls += backbone.calls - 1  # the last call renders the result
            with torch.no_grad():
                loss = float((physics.A(x) - y_i).pow(2).sum())
            if loss < best_loss:
                best, best_loss = x, loss
            tick()
        seconds.append(time.perf_counter() - start)
        x01.append(best)
        work.append(calls)
    return {"x01": torch.cat(x01), "seconds": seconds, "work": work, "total_seconds": sum(seconds)}


def deepinv_fista(physics, lam: float, *, wavelet: str, level: int, max_iter: int, tol: float):
    """deepinv's FISTA on ½||A x − y||² + λ||Ψ x||₁ (details only), step 1/||A||²."""
    dinv = _deepinv()
    prior = dinv.optim.prior.WaveletPrior(level=level, wv=wavelet)
    torch.manual_seed(0)  # the power method's start
    norm = float(physics.compute_sqnorm(torch.randn(1, *physics.img_size), verbose=False))
    model = dinv.optim.FISTA(
        data_fidelity=dinv.optim.data_fidelity.L2(),
        prior=prior,
        lambda_reg=lam,
        stepsize=1.0 / norm,
        max_iter=max_iter,
        thres_conv=tol,
        early_stop=True,
    )
    return model, prior


def deepinv_wavelet(physics, y01, lam: float, **options) -> dict:
    model, prior = deepinv_fista(physics, lam, **options)
    count = [0]
    hook = prior.WaveletDenoiser.register_forward_hook(
        lambda *_: count.__setitem__(0, count[0] + 1)
    )
    start = time.perf_counter()
    with torch.no_grad():
        x = model(y01, physics)
    seconds = time.perf_counter() - start
    hook.remove()
    n = len(y01)
    return {
        "x01": x.detach(),
        "seconds": [seconds / n] * n,
        "work": [count[0]] * n,  # iterations of the batch (deepinv stops on the batch mean)
        "total_seconds": seconds,
    }


def deepinv_wavelet_lambda(physics, x01_val, y01_val, lambdas, **options) -> tuple[float, list]:
    """λ with the lowest validation MSE ([0, 1] scale) for deepinv's FISTA + WaveletPrior."""
    scores = []
    for lam in lambdas:
        x = deepinv_wavelet(physics, y01_val, float(lam), **options)["x01"]
        mse = float(np.mean(mse01(x, x01_val)))
        scores.append([float(lam), mse if math.isfinite(mse) else math.nan])
    finite = [s for s in scores if math.isfinite(s[1])]
    return min(finite, key=lambda s: s[1])[0], scores


def deepinv_dip(
    physics,
    y01: Tensor,
    ids: Sequence[int],
    *,
    iterations: int,
    lr: float,
    channels: int,
    in_size: int,
    seed: int,
    tick: Callable[[], None] = lambda: None,
) -> dict:
    """deepinv's DeepImagePrior with a ConvDecoder (deepinv's DIP example: 64 channels, input
    2x2), one image at a time, a fresh network per image (``re_init`` cannot reset a
    ConvDecoder, whose only child is a Sequential); seeded by (seed, image id)."""
    dinv = _deepinv()
    x01, seconds = [], []
    shape = tuple(physics.img_size)
    for i, image in enumerate(ids):
        start = time.perf_counter()
        torch.manual_seed(derive_seed(seed, "deepinv-dip", int(image)))
        backbone = dinv.models.ConvDecoder(
            img_size=shape, in_size=(in_size, in_size), channels=channels
        )
        model = dinv.models.DeepImagePrior(
            backbone,
            img_size=[channels, in_size, in_size],
            iterations=iterations,
            learning_rate=lr,
        )
        x01.append(model(y01[i : i + 1], physics).detach())
        seconds.append(time.perf_counter() - start)
        tick()
    return {
        "x01": torch.cat(x01),
        "seconds": seconds,
        "work": [iterations] * len(ids),
        "total_seconds": sum(seconds),
    }


# -- statistics ----------------------------------------------------------------------------------


def paired_difference(ours: Sequence[float], theirs: Sequence[float]) -> dict:
    """Mean ours − deepinv of paired per-image MSEs, its 95% Student-t half-width, and whether
    that is equal quality (the CI contains 0 or lies below it)."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError(f"paired values need equal, non-zero lengths: {len(ours)}, {len(theirs)}")
    diff = [a - b for a, b in zip(ours, theirs, strict=True)]
    mean, ci = mean_ci95(diff)
    equal = (mean - ci <= 0) if math.isfinite(ci) else mean <= 0
    return {"mean": mean, "ci95": ci, "equal": bool(equal), "ours_better": sum(d < 0 for d in diff)}


def time_ratio(
    ours: Sequence[float], theirs: Sequence[float], n_boot: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """deepinv/ours mean seconds per image and its 95% percentile-bootstrap CI (images
    resampled with replacement, the same draw for both sides)."""
    a, b = np.asarray(ours, float), np.asarray(theirs, float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired times need equal, non-zero lengths: {a.size}, {b.size}")
    ratio = float(b.mean() / a.mean())
    idx = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    boot = b[idx].mean(1) / a[idx].mean(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return ratio, float(lo), float(hi)


# -- the run -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--generator", default="mnist-wgangp")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-root", default="/tmp/data", help='dataset folder ("" for digits)')
    p.add_argument("--n", type=int, default=20, help="test images (the first n)")
    p.add_argument("--n-dip", type=int, default=20, help="of those, the first n-dip for dip")
    p.add_argument("--n-val", type=int, default=20, help="validation images (train split) for λ")
    p.add_argument("--m", default="25,100", help="measurement counts, comma-separated")
    p.add_argument("--noise-std", type=float, default=0.1, help="σ on the [0, 1] image scale")
    p.add_argument("--pairs", default=",".join(PAIRS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--restarts", type=int, default=10, help="CSGM restarts, both sides")
    p.add_argument("--steps", type=int, default=1000, help="CSGM Adam steps, both sides")
    p.add_argument(
        "--tune-weights",
        default=None,
        help="our CSGM's λ_z / init from a `ganinverse tune` weights.json (engine from its "
        "sweep.json) instead of G's card",
    )
    p.add_argument("--dinv-lr", type=float, default=1e-2, help="CSGMGenerator inf_lr (default)")
    p.add_argument("--dinv-tol", type=float, default=1e-4, help="CSGMGenerator inf_tol (default)")
    p.add_argument(
        "--lambdas",
        default=",".join(map(str, LAMBDAS)),
        help="λ grid of both wavelet sides ([0, 1] scale; the sweeps' Lasso grid and 10-300)",
    )
    p.add_argument("--dinv-wavelet", default="db8", help="WaveletPrior wv (deepinv's default)")
    p.add_argument("--dinv-level", type=int, default=3, help="WaveletPrior level (default)")
    p.add_argument("--dinv-fista-iters", type=int, default=1000, help="FISTA max_iter")
    p.add_argument("--dinv-fista-tol", type=float, default=1e-5, help="FISTA thres_conv (default)")
    p.add_argument("--dip-steps", type=int, default=100, help="Adam steps of both DIPs")
    p.add_argument("--dip-lr", type=float, default=1e-2, help="Adam lr of both DIPs")
    p.add_argument("--dinv-dip-channels", type=int, default=64)
    p.add_argument("--dinv-dip-in", type=int, default=2, help="ConvDecoder input size (2x2)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--boot", type=int, default=10_000, help="bootstrap draws of the time ratio")
    p.add_argument("--out", default="benchmarks/results/peers")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = p.parse_args(argv)
    args.m_list = [int(v) for v in args.m.split(",") if v]
    args.pair_list = [v for v in args.pairs.split(",") if v]
    bad = set(args.pair_list) - set(PAIRS)
    if bad:
        p.error(f"unknown pairs {sorted(bad)}; choose from {', '.join(PAIRS)}")
    args.lambda_list = [float(v) for v in args.lambdas.split(",") if v]
    return args


def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def unit_rows(m: int, pair: str, side: str, ids, mse, out: dict) -> list[dict]:
    return [
        {
            "m": m,
            "pair": pair,
            "side": side,
            "method": METHOD[(pair, side)],
            "image": int(ids[i]),
            "mse": f"{mse[i]:.6g}",
            "seconds": f"{out['seconds'][i]:.4f}",
            "work": out["work"][i],
        }
        for i in range(len(ids))
    ]


def summarize(rows: list[dict], n_boot: int = 10_000, seed: int = 0) -> list[dict]:
    """One entry per (m, pair) with both sides: n, each side's MSE (mean, CI) and seconds per
    image, the paired difference and the time ratio with their CIs."""
    by: dict[tuple[int, str, str], dict[int, dict]] = {}
    for r in rows:
        by.setdefault((int(r["m"]), r["pair"], r["side"]), {})[int(r["image"])] = r
    table = []
    for m, pair in sorted({(k[0], k[1]) for k in by}, key=lambda k: (k[0], PAIRS.index(k[1]))):
        ours, theirs = by.get((m, pair, "ours"), {}), by.get((m, pair, "deepinv"), {})
        shared = sorted(ours.keys() & theirs.keys())
        if not shared:
            continue
        mse_o = [float(ours[i]["mse"]) for i in shared]
        mse_d = [float(theirs[i]["mse"]) for i in shared]
        sec_o = [float(ours[i]["seconds"]) for i in shared]
        sec_d = [float(theirs[i]["seconds"]) for i in shared]
        ratio, lo, hi = time_ratio(sec_o, sec_d, n_boot, seed)
        table.append(
            {
                "m": m,
                "pair": pair,
                "n": len(shared),
                "ours_mse": mean_ci95(mse_o),
                "deepinv_mse": mean_ci95(mse_d),
                "diff": paired_difference(mse_o, mse_d),
                "ours_seconds": float(np.mean(sec_o)),
                "deepinv_seconds": float(np.mean(sec_d)),
                "ours_work": float(np.mean([float(ours[i]["work"]) for i in shared])),
                "deepinv_work": float(np.mean([float(theirs[i]["work"]) for i in shared])),
                "ratio": (ratio, lo, hi),
            }
        )
    return table


def _pm(pair: tuple[float, float], digits: int = 4) -> str:
    mean, ci = pair
    return f"{mean:.{digits}f}" + ("" if not math.isfinite(ci) else f" ± {ci:.{digits}f}")


def markdown(table: list[dict], units: dict, protocol: dict) -> str:
    lines = [
        "# Peer benchmark: ganinverse vs deepinv (`benchmarks/peers.py`)",
        "",
        f"{protocol['generator']} on the first n {protocol['dataset']} test images, noise σ = "
        f"{protocol['noise_std']} ([0, 1] scale), deepinv {protocol['deepinv']}, torch "
        f"{protocol['torch']}, {protocol['threads']} CPU thread(s). MSE per pixel on [0, 1]; "
        "Δ = ours − deepinv, paired per image (95% Student-t CI); equal quality: the CI of Δ "
        "contains 0 or lies below it. Time ratio = deepinv / ours seconds per image, 95% "
        "bootstrap CI over images (batched sides: batch time / n).",
        "",
        "| m | pair | n | ours MSE | deepinv MSE | Δ MSE | equal quality | ours s/img | "
        "deepinv s/img | deepinv/ours time | ours work | deepinv work |",
        "|---" * 12 + "|",
    ]
    for e in table:
        d = e["diff"]
        ratio, lo, hi = e["ratio"]
        ci = "" if not math.isfinite(d["ci95"]) else f" ± {d['ci95']:.4f}"
        lines.append(
            f"| {e['m']} | {e['pair']} | {e['n']} | {_pm(e['ours_mse'])} | "
            f"{_pm(e['deepinv_mse'])} | {d['mean']:+.4f}{ci} | "
            f"{'yes' if d['equal'] else '**no**'} ({d['ours_better']}/{e['n']} ours better) | "
            f"{e['ours_seconds']:.3g} | {e['deepinv_seconds']:.3g} | "
            f"{ratio:.1f}x [{lo:.1f}, {hi:.1f}] | {e['ours_work']:.0f} | {e['deepinv_work']:.0f} |"
        )
    lines += [
        "",
        "work: CSGM, Adam steps summed over restarts per image (ours: pruned restarts stop "
        "early; deepinv: its inf_tol stops a restart early); wavelet, FISTA iterations; dip, "
        "Adam steps. Where both sides are batched (wavelet) every image has its batch's mean time, "
        "so the bootstrap CI collapses to the ratio of the two single timings.",
        "",
        "## Units (settings, λ search, commands)",
        "",
    ]
    for key in sorted(units):
        u = units[key]
        lines.append(f"- `{key}`: {u['total_seconds']:.1f} s, commit {u['commit']}")
        lines.append(f"  - settings: `{json.dumps(u['settings'], sort_keys=True)}`")
        if u.get("selection"):
            search = ", ".join(
                f"{v:g}: {s:.4f}" if s == s else f"{v:g}: nan" for v, s in u["selection"]
            )
            lines.append(f"  - λ search (validation MSE, {u['selection_seconds']:.1f} s): {search}")
    commands = sorted({u["command"] for u in units.values()})
    lines += ["", "## Commands", ""] + [f"    {c}" for c in commands]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dinv = _deepinv()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    command = "PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/peers.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )

    G = gi.load_generator(args.generator, device="cpu")
    shape = tuple(G.image_shape)
    x, _ = gi.load_images(args.dataset, args.data_root or None, "test", n=args.n)
    x_val, _ = gi.load_images(args.dataset, args.data_root or None, "train", n=args.n_val)
    x01, x01_val = gi.to_unit(x), gi.to_unit(x_val)
    ids, val_ids = list(range(len(x))), list(range(len(x_val)))
    n_dip = min(args.n_dip, len(x))

    protocol = {
        k: v for k, v in vars(args).items() if k not in ("m_list", "pair_list", "lambda_list")
    }
    protocol.update(deepinv=dinv.__version__, torch=torch.__version__, image_shape=list(shape))
    saved = out / "protocol.json"
    rows_path = out / "results.csv"
    if saved.is_file() and rows_path.is_file():
        before = read_json(saved, "protocol")
        changed = sorted(k for k in protocol if k not in FREE and before.get(k) != protocol[k])
        if changed:
            raise SystemExit(
                f"{out} holds results of another protocol (differs in {', '.join(changed)}); "
                "use another --out or the same settings"
            )
    atomic_write_json(saved, protocol)
    units_path = out / "units.json"
    units = read_json(units_path, "units") if units_path.is_file() else {}
    done = {(int(r["m"]), r["pair"], r["side"]) for r in read_rows(rows_path)}

    todo = [(m, p, s) for m in args.m_list for p in args.pair_list for s in SIDES]
    bar = tqdm(total=len(todo), desc="peers", unit="unit", disable=not progress)
    fista = dict(
        wavelet=args.dinv_wavelet,
        level=args.dinv_level,
        max_iter=args.dinv_fista_iters,
        tol=args.dinv_fista_tol,
    )
    for m, pair, side in todo:
        key = f"m{m}/{pair}/{side}"
        if (m, pair, side) in done:
            bar.update()
            continue
        bar.set_postfix(m=m, pair=pair, side=side)
        physics = make_physics(m, shape, args.noise_std, args.seed)
        op = from_deepinv(physics, shape)
        y01 = measure(physics, x01, args.noise_std, args.seed, "peers-test", ids)
        y = op.measurements_from_deepinv(y01)
        sel, sel_seconds = None, 0.0
        inner = tqdm(total=0, desc=key, unit="fit", leave=False, disable=not progress)
        tick = inner.update
        if pair == "csgm" and side == "ours":
            settings, source = ours_csgm_settings(G, op, m, args.tune_weights)
            settings = {**settings, "restarts": args.restarts, "steps": args.steps}
            result = ours_csgm(G, op, y, ids, settings, progress)
            settings = {**settings, "source": source}
            images = ids
        elif pair == "csgm":
            settings = {
                "restarts": args.restarts,
                "inf_max_iter": args.steps,
                "inf_lr": args.dinv_lr,
                "inf_tol": args.dinv_tol,
                "init": "U[-1, 1] (CSGMGenerator)",
                "select": "min ||A x - y||^2 over restarts",
            }
            inner.reset(total=len(ids) * args.restarts)
            result = deepinv_csgm(
                G, physics, y01, ids, restarts=args.restarts, steps=args.steps,
                lr=args.dinv_lr, tol=args.dinv_tol, seed=args.seed, tick=tick,
            )  # fmt: skip
            images = ids
        elif pair == "wavelet":
            y01_val = measure(physics, x01_val, args.noise_std, args.seed, "peers-val", val_ids)
            start = time.perf_counter()
            if side == "ours":
                y_val = op.measurements_from_deepinv(y01_val)
                lam, sel = ours_wavelet_lambda(op, x_val, y_val, val_ids, args.lambda_list)
                sel_seconds = time.perf_counter() - start
                result = ours_wavelet(op, y, lam)
                defaults = gi.methods.get_method(OURS_WAVELET).defaults
                settings = {
                    "method": OURS_WAVELET,
                    "lam": lam,
                    **{k: v for k, v in defaults.items() if k not in ("lam", "init")},
                }
            else:
                lam, sel = deepinv_wavelet_lambda(
                    physics, x01_val, y01_val, args.lambda_list, **fista
                )
                sel_seconds = time.perf_counter() - start
                result = deepinv_wavelet(physics, y01, lam, **fista)
                settings = {"lam": lam, **fista, "stepsize": "1/||A||^2 (compute_sqnorm)"}
            images = ids
        else:  # dip
            images = ids[:n_dip]
            if side == "ours":
                settings = {"steps": args.dip_steps, "lr": args.dip_lr, "net": "SkipNet defaults"}
                result = ours_dip(
                    op, y[:n_dip], images, args.dip_steps, args.dip_lr, args.seed, progress
                )
            else:
                settings = {
                    "iterations": args.dip_steps,
                    "learning_rate": args.dip_lr,
                    "ConvDecoder": {
                        "channels": args.dinv_dip_channels,
                        "in_size": [args.dinv_dip_in] * 2,
                        "layers": 7,
                    },
                }
                inner.reset(total=n_dip)
                result = deepinv_dip(
                    physics, y01[:n_dip], images, iterations=args.dip_steps, lr=args.dip_lr,
                    channels=args.dinv_dip_channels, in_size=args.dinv_dip_in, seed=args.seed,
                    tick=tick,
                )  # fmt: skip
        inner.close()
        mse = mse01(result["x01"], x01[: len(images)])
        append_rows(rows_path, FIELDS, unit_rows(m, pair, side, images, mse, result))
        units[key] = {
            "settings": settings,
            "selection": sel,
            "selection_seconds": sel_seconds,
            "total_seconds": result["total_seconds"],
            "n": len(images),
            "command": command,
            "commit": _commit(),
        }
        atomic_write_json(units_path, units)
        tqdm.write(
            f"{key}: MSE {np.mean(mse):.4f}, {result['total_seconds']:.1f} s "
            f"({result['total_seconds'] / len(images):.2f} s/image)"
        )
        bar.update()
    bar.close()

    table = summarize(read_rows(rows_path), args.boot, args.seed)
    text = markdown(table, units, protocol)
    atomic_write_text(out / "results.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
