"""Measurement-count sweeps: one CSV row per (image, m, method), written as it goes.

The work is split into fixed units (m, method, batch of images). Every random choice of a unit
(A for m, the noise of each image, the latent starts) derives from the sweep seed and the unit,
never from what ran before, so a resumed, sharded or merged sweep gives the same rows as one
straight run. Rerunning skips finished units; a killed run loses at most the unit in flight.

Noise: ``noise_std`` is σ per measurement on the [0, 1] image scale, as in CSGM's experiments.
The library works on [-1, 1] images (x₋ = 2x₀ − 1, so A x₋ = 2 A x₀ − A1), hence the operator
adds noise of std 2σ there; per-pixel errors are reported on the [0, 1] scale.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file
from scipy import stats
from tqdm.auto import tqdm

from . import metrics
from ._validation import check_int, check_positive
from .data import load_images
from .io import atomic_write, atomic_write_json, atomic_write_text, read_json
from .latent import LatentConfig, LatentResult
from .methods import (
    GAN_METHODS,
    LASSO_BASES,
    LASSO_LAMBDAS,
    TUNED_WEIGHT,
    MethodSettings,
    Weight,
    check_method,
    choose_weight,
    solve_gan,
    with_weight,
)
from .methods import reconstruct as run_method
from .operators import GaussianCS

FIELDS = ("image", "m", "method", "mse", "psnr", "ssim", "meas_error", "seconds")
ROWS = "rows.csv"
SEARCHING = "searching"  #: folder of marks for weight searches in progress


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep measures. Saved as ``sweep.json``; a resumed run must match it or grow it
    (``grows``: more m values, methods or images, finished rows kept)."""

    dataset: str
    m_values: tuple[int, ...]
    methods: tuple[str, ...]
    generator: str | None = None
    data_root: str | None = None
    split: str = "test"
    start: int = 0
    n_images: int = 300
    noise_std: float = 0.1
    batch_size: int = 25
    n_val: int = 10
    seed: int = 0
    grid_images: int = 8
    engine: dict = field(default_factory=dict)  #: LatentConfig overrides for GAN methods
    sparse_basis: str = "dct"
    sparse_l1: float = 0.01
    lasso_lambdas: tuple[float, ...] = LASSO_LAMBDAS  #: λ grid searched on validation images
    #: Engine candidates for csgm and csgm-sparse (each a dict of LatentConfig overrides on top
    #: of ``engine``, e.g. {"lambda_z": 0.3, "steps": 300}) and ℓ1 candidates for csgm-sparse,
    #: searched per m on validation images; empty = the fixed setting.
    engine_grid: tuple[dict, ...] = ()
    sparse_l1_grid: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.m_values:
            raise ValueError("m_values must hold at least one measurement count")
        for m in self.m_values:
            check_int(m, "m", low=1)
        if not self.methods:
            raise ValueError("methods must hold at least one method")
        for method in self.methods:
            check_method(method)
        if any(m in GAN_METHODS for m in self.methods) and not self.generator:
            raise ValueError("methods csgm/csgm-sparse need a generator")
        check_int(self.n_images, "n_images", low=1)
        check_int(self.batch_size, "batch_size", low=1)
        check_int(self.n_val, "n_val", low=1)
        check_positive(self.noise_std, "noise_std", strict=False)
        for name in ("lasso_lambdas", "sparse_l1_grid"):
            for value in getattr(self, name):
                check_positive(value, name, strict=name == "lasso_lambdas")
        for candidate in self.engine_grid:
            if not isinstance(candidate, dict) or not candidate:
                raise TypeError(f"engine_grid entries must be non-empty dicts, got {candidate!r}")
            LatentConfig().updated(**{**self.engine, **candidate})
        if not self.lasso_lambdas:
            raise ValueError("lasso_lambdas must hold at least one λ")
        LatentConfig().updated(**self.engine)  # validates the overrides early

    def settings(self) -> MethodSettings:
        return MethodSettings(
            config=MethodSettings().config.updated(**{"progress": False, **self.engine}),
            sparse_basis=self.sparse_basis,
            sparse_l1=self.sparse_l1,
        )

    def units(self) -> list[tuple[int, str, int]]:
        """All (m, method, first image) work units, in a fixed order."""
        return [
            (m, method, b)
            for m in self.m_values
            for method in self.methods
            for b in range(0, self.n_images, self.batch_size)
        ]

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # tuples -> lists, as read back

    def matches(self, saved: dict) -> bool:
        """Whether a saved ``sweep.json`` is this spec (fields it predates must be defaults)."""
        now = self.to_json()
        defaults = json.loads(
            json.dumps(
                {
                    f.name: f.default
                    for f in dataclasses.fields(self)
                    if f.default is not dataclasses.MISSING
                }
            )
        )
        return set(saved) <= set(now) and all(
            saved.get(k, defaults.get(k, object())) == v for k, v in now.items()
        )

    def grows(self, saved: dict) -> bool:
        """Whether this spec is a saved one with more m values, methods or images (and nothing
        else changed), so every finished row stays valid: a row depends only on its image, m,
        method and the unchanged fields. Images are added in whole batches, so the saved
        ``n_images`` must fill its last batch (the seeds of a unit depend on its first image).
        """
        grown = ("m_values", "methods", "n_images")
        now = self.to_json()
        if not all(k in saved for k in grown) or not self.matches(
            {**saved, **{k: now[k] for k in grown}}
        ):
            return False
        n_old = saved["n_images"]
        return (
            set(saved["m_values"]) <= set(self.m_values)
            and set(saved["methods"]) <= set(self.methods)
            and n_old <= self.n_images
            and (n_old == self.n_images or n_old % self.batch_size == 0)
        )


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 0 <= K < N."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError as err:
        raise ValueError(f"shard must look like K/N (e.g. 0/2), got {text!r}") from err
    if not 0 <= k < n:
        raise ValueError(f"shard K/N needs 0 <= K < N, got {text!r}")
    return k, n


def rows_path(out: Path, shard: tuple[int, int]) -> Path:
    return out / (ROWS if shard[1] == 1 else f"rows.shard-{shard[0]}-of-{shard[1]}.csv")


def read_rows(paths: Iterable[Path]) -> list[dict]:
    """Complete rows of the given CSV files (a torn last line from a kill is ignored)."""
    rows = []
    for path in paths:
        if not path.is_file():
            continue
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if None in row.values() or len(row) != len(FIELDS):
                    continue
                rows.append(row)
    return rows


def _repair(path: Path) -> None:
    """Cut a torn last line (no trailing newline) so appends start on a fresh line."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        atomic_write(path, lambda p: p.write_bytes(data[: data.rfind(b"\n") + 1]))


def _unit_seed(seed: int, m: int, first: int) -> int:
    return seed * 1_000_003 + m * 7919 + first


def _measure(op: GaussianCS, x: torch.Tensor, seed: int, m: int, first: int) -> torch.Tensor:
    """y_i = A x_i + η_i with η_i seeded by (seed, m, image index): independent of batching."""
    return torch.cat(
        [op.measure(x[i : i + 1], seed=_unit_seed(seed, m, first + i) + 1) for i in range(len(x))]
    )


class Sweep:
    """A sweep bound to an output folder; ``run`` does (its shard of) the work."""

    def __init__(self, spec: SweepSpec, out: str | os.PathLike, device: str = "auto") -> None:
        self.spec = spec
        self.out = Path(out)
        self.device = device
        if spec.generator:  # fail before any work (and before sweep.json) on a bad name or path
            from .models.registry import resolve

            resolve(spec.generator, "generator")
        saved = self.out / "sweep.json"
        before = read_json(saved, "sweep spec") if saved.is_file() else None
        if before is None or not spec.matches(before):
            if before is not None and not spec.grows(before):
                raise ValueError(
                    f"{self.out} holds results of a different sweep (see {saved}); use another "
                    "--out, or the same settings to resume, or add m values, methods or whole "
                    f"batches of {spec.batch_size} images to grow it"
                )
            atomic_write_json(saved, spec.to_json())
        self._images: torch.Tensor | None = None
        self._val_images: torch.Tensor | None = None
        self._operator: GaussianCS | None = None  # units run grouped by m: keep the last A
        self._G = None
        self._csgm_results: dict[tuple, LatentResult] = {}  # see _solve_gan

    # -- data and models, loaded once -------------------------------------------------------
    def images(self) -> torch.Tensor:
        if self._images is None:
            s = self.spec
            self._images, _ = load_images(
                s.dataset, s.data_root, s.split, n=s.n_images, start=s.start
            )
        return self._images

    def generator(self):
        if self._G is None and self.spec.generator:
            from .models import load_generator

            self._G = load_generator(self.spec.generator, device=self.device)
        return self._G

    def validation_images(self) -> torch.Tensor:
        """The first ``n_val`` images of the train split (for Lasso's λ), loaded once."""
        if self._val_images is None:
            s = self.spec
            self._val_images, _ = load_images(s.dataset, s.data_root, "train", n=s.n_val)
        return self._val_images

    def operator(self, m: int) -> GaussianCS:
        """A for m (seeded by the sweep seed and m); the last one is reused, not redrawn."""
        if self._operator is None or self._operator.m != m:
            shape = tuple(self.images().shape[1:])
            noise_std = 2 * self.spec.noise_std
            self._operator = GaussianCS(shape, m, seed=self.spec.seed + m, noise_std=noise_std)
        # solvers move the operator to G's device in place; measurements are taken on the CPU
        return self._operator.cpu()

    def _grid(self, method: str) -> Sequence[Weight]:
        """The candidates searched for ``method``'s weight (csgm's engine grid serves both GAN
        methods); empty = a fixed setting."""
        s = self.spec
        grids = {"csgm": s.engine_grid, "csgm-sparse": s.sparse_l1_grid}
        return grids.get(method, s.lasso_lambdas if method in LASSO_BASES else ())

    def searches(self, method: str, m: int) -> list[str]:
        """Keys (``method@m``) of the weight searches a unit of (m, method) needs, in order:
        a GAN method first takes csgm's engine setting, csgm-sparse then its own ℓ1."""
        tuned = (["csgm"] if method in GAN_METHODS else []) + ([method] if method != "csgm" else [])
        return [f"{t}@{m}" for t in tuned if self._grid(t)]

    def unit_settings(self, method: str, m: int) -> tuple[MethodSettings, float | None]:
        """(settings, Lasso λ) for m: each grid's weight is chosen per m on validation images."""
        settings, lam = self.spec.settings(), None
        for key in self.searches(method, m):
            tuned = key.split("@")[0]
            best = self.chosen_weight(tuned, m, self._grid(tuned), settings)
            settings, lam = with_weight(tuned, settings, best)
        return settings, lam

    def _weights(self) -> dict:
        """``lambdas.json``: every finished weight search, by ``method@m``."""
        path = self.out / "lambdas.json"
        return read_json(path, "lambda table") if path.is_file() else {}

    def _mark(self, key: str) -> Path:
        return self.out / SEARCHING / f"{key}.lock"

    def chosen_weight(
        self, method: str, m: int, values: Sequence[Weight], settings: MethodSettings
    ) -> Weight:
        """The method's weight for m with the lowest validation MSE, searched once and cached.

        Validation images are the first ``n_val`` of the train split, never test images. The
        search is recorded in ``lambdas.json`` (weight name, value, MSE of every candidate).
        While it runs, ``searching/<method@m>`` tells other shards to do other units first.
        """
        table = self._weights()
        key = f"{method}@{m}"
        if key not in table:
            with self._claim(key):
                table = self._search(method, m, values, settings)
        return table[key]["lambda"]

    @contextlib.contextmanager
    def _claim(self, key: str) -> Iterator[None]:
        """Mark a search as running (for ``run``'s ordering only: nothing ever waits on it)."""
        lock = self._mark(key)
        lock.parent.mkdir(exist_ok=True)
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # another shard, or a killed run's leftover: search anyway
            yield
            return
        os.close(fd)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)

    def _search(
        self, method: str, m: int, values: Sequence[Weight], settings: MethodSettings
    ) -> dict:
        """Run the search for ``method@m``, record it in ``lambdas.json``; returns the table."""
        key, s = f"{method}@{m}", self.spec
        x_val = self.validation_images()
        op = self.operator(m)
        y_val = _measure(op, x_val, s.seed + 1, m, 0)
        G = self.generator() if method in GAN_METHODS else None
        start = time.perf_counter()
        best, scores = choose_weight(
            method, G, op, x_val, y_val, values, settings, seed=_unit_seed(s.seed + 1, m, 0)
        )
        # read again: another shard may have written its entries while this one searched
        table = self._weights()
        table[key] = {
            "weight": TUNED_WEIGHT[method],
            "lambda": best,
            "validation_mse": scores,
            "n_val": s.n_val,
            "seconds": round(time.perf_counter() - start, 2),
        }
        atomic_write_json(self.out / "lambdas.json", table)
        return table

    # -- the work ---------------------------------------------------------------------------
    def done_units(self) -> set[tuple[int, str, int]]:
        """Units whose every image has a row in any rows file of this folder."""
        seen = defaultdict(set)
        for row in read_rows(self.out.glob("rows*.csv")):
            seen[(int(row["m"]), row["method"])].add(int(row["image"]))
        done = set()
        for m, method, b in self.spec.units():
            want = range(
                self.spec.start + b,
                self.spec.start + min(b + self.spec.batch_size, self.spec.n_images),
            )
            if all(i in seen[(m, method)] for i in want):
                done.add((m, method, b))
        return done

    def run(self, shard: tuple[int, int] = (0, 1), progress: bool = True) -> Path:
        """Run the unfinished units of this shard; returns its rows file."""
        k, n = shard
        path = rows_path(self.out, shard)
        if path.is_file():
            _repair(path)
        done = self.done_units()
        todo = [u for i, u in enumerate(self.spec.units()) if i % n == k and u not in done]
        new_file = not path.is_file()
        with (
            path.open("a", newline="") as f,
            tqdm(total=len(todo), desc="sweep", disable=not progress) as bar,
        ):
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new_file:
                writer.writeheader()
            while todo:
                m, method, b = todo.pop(self._next_unit(todo))
                bar.set_postfix(m=m, method=method, image=b)
                writer.writerows(self._run_unit(m, method, b))
                f.flush()
                os.fsync(f.fileno())
                bar.update(1)
        return path

    def _next_unit(self, todo: list[tuple[int, str, int]]) -> int:
        """Index of the first unit that waits on no search another shard is running.

        Concurrent shards meet the same (m, method) when it has several image batches; without
        this each would run the same validation search. If every unit waits, the first runs
        (and searches itself): a killed shard's leftover mark never blocks the sweep.
        """
        table = self._weights()
        for i, (m, method, _) in enumerate(todo):
            if not any(
                key not in table and self._mark(key).exists() for key in self.searches(method, m)
            ):
                return i
        return 0

    def _run_unit(self, m: int, method: str, first: int) -> list[dict]:
        s = self.spec
        x = self.images()[first : first + s.batch_size]
        op = self.operator(m)
        y = _measure(op, x, s.seed, m, first)
        settings, lam = self.unit_settings(method, m)
        seed = _unit_seed(s.seed, m, first)
        if method in GAN_METHODS:
            result = self._solve_gan(method, m, first, op, y, settings, seed)
            x_hat, seconds = result.x_hat.detach().cpu(), result.seconds / len(x)
        else:
            start = time.perf_counter()
            x_hat = run_method(method, None, op, y, settings, lam=lam, seed=seed).cpu()
            seconds = (time.perf_counter() - start) / len(x)
        if first == 0 and s.grid_images:
            self._save_grid_images(f"{method}_m{m}", x_hat[: s.grid_images])
            self._save_grid_images("original", x[: s.grid_images])
        scores = {
            "mse": metrics.mse(x_hat, x),
            "psnr": metrics.psnr(x_hat, x),
            "ssim": metrics.ssim(x_hat, x),
            "meas_error": metrics.measurement_error(op.A(x_hat), y),
        }
        return [
            {
                "image": s.start + first + i,
                "m": m,
                "method": method,
                **{key: f"{float(v[i]):.6g}" for key, v in scores.items()},
                "seconds": f"{seconds:.4g}",
            }
            for i in range(len(x))
        ]

    def _solve_gan(
        self,
        method: str,
        m: int,
        first: int,
        op: GaussianCS,
        y: torch.Tensor,
        settings: MethodSettings,
        seed: int,
    ) -> LatentResult:
        """A GAN method's result for a unit. csgm and csgm-sparse share ẑ when their engine
        settings agree (same seed per unit), so the csgm results of the current m are kept (a
        few MB) and a csgm-sparse unit of the same images reuses them; its ``seconds`` still
        include CSGM's."""
        if any(key[0] != m for key in self._csgm_results):  # units run grouped by m
            self._csgm_results.clear()
        key = (m, first, settings.config)
        start = self._csgm_results.get(key)
        result = solve_gan(method, self.generator(), op, y, settings, seed, start=start)
        if method == "csgm":
            self._csgm_results[key] = result
        return result

    def _save_grid_images(self, name: str, images: torch.Tensor) -> None:
        """Keep the first unit's images for the figure grids."""
        path = self.out / "images" / f"{name}.safetensors"
        atomic_write(path, lambda p: save_file({"images": images.contiguous()}, str(p)))


# -- summaries ------------------------------------------------------------------------------
def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% Student-t confidence interval."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def summarize(rows: list[dict]) -> list[dict]:
    """Per (method, m): count, mean and 95% CI of MSE and PSNR, mean SSIM, seconds per image."""
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["method"], int(row["m"]))].append(row)
    table = []
    for (method, m), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        mse_mean, mse_ci = mean_ci95([float(r["mse"]) for r in group])
        psnr_mean, psnr_ci = mean_ci95([float(r["psnr"]) for r in group])
        table.append(
            {
                "method": method,
                "m": m,
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
    lines = [
        "| method | m | n | MSE/pixel [0,1] (±95% CI) | PSNR dB (±95% CI) | SSIM | s/image |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        lines.append(
            f"| {r['method']} | {r['m']} | {r['n']} | {r['mse']:.4f} ± {r['mse_ci95']:.4f} | "
            f"{r['psnr']:.2f} ± {r['psnr_ci95']:.2f} | {r['ssim']:.3f} | {r['seconds_per_image']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def merge(out: str | os.PathLike) -> list[dict]:
    """Combine every rows file of a folder into ``rows.csv`` (deduplicated, sorted); returns rows.

    A single-process sweep appends to ``rows.csv`` itself, so without shard files the file is
    left in place: replacing it under a running sweep would send its next rows to a deleted file.
    """
    out = Path(out)
    files = sorted(out.glob("rows*.csv"))
    unique = {}
    for row in read_rows(files):
        unique[(int(row["m"]), row["method"], int(row["image"]))] = row
    rows = [unique[k] for k in sorted(unique)]

    def write(p: Path) -> None:
        with p.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    if any(p.name != ROWS for p in files):
        atomic_write(out / ROWS, write)
    return rows


def _format_weight(value: Weight) -> str:
    if isinstance(value, dict):
        return ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()
        )
    return f"{value:g}"


def format_weights(path: Path) -> str:
    """Markdown table of the weights chosen per (method, m) on validation images, if any."""
    if not path.is_file():
        return ""
    chosen = defaultdict(dict)
    for key, entry in read_json(path, "lambda table").items():
        method, m = key.rsplit("@", 1)
        chosen[(method, entry.get("weight", "lam"))][int(m)] = entry["lambda"]
    ms = sorted({m for by_m in chosen.values() for m in by_m})
    lines = [
        "",
        "Weights chosen per m on validation images (lowest MSE; lambdas.json):",
        "",
        "| method | weight | " + " | ".join(f"m={m}" for m in ms) + " |",
        "|---|---|" + "---:|" * len(ms),
    ]
    for (method, weight), by_m in sorted(chosen.items()):
        cells = " | ".join(_format_weight(by_m[m]) if m in by_m else "" for m in ms)
        lines.append(f"| {method} | {weight} | {cells} |")
    return "\n".join(lines) + "\n"


def report(out: str | os.PathLike, title: str = "") -> str:
    """Merge, then write summary.csv, summary.md, error_vs_m.png and image grids; returns the table."""
    from . import plots

    out = Path(out)
    rows = merge(out)
    if not rows:
        raise ValueError(f"no result rows in {out}")
    table = summarize(rows)
    text = format_table(table) + format_weights(out / "lambdas.json")

    def write_csv(p: Path) -> None:
        with p.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)

    atomic_write(out / "summary.csv", write_csv)
    atomic_write_text(out / "summary.md", (f"# {title}\n\n" if title else "") + text)
    plots.error_vs_m(table, out / "error_vs_m.png", title=title)
    plots.sweep_grids(out)
    return text
