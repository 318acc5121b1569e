"""Measurement-count sweeps: one CSV row per (image, m, method), written as it goes.

The work is split into fixed units (m, method, batch of images). Every random choice of a row
(A for m, the noise of each image, the latent starts) derives from the sweep seed and the row's
own identity (m, dataset index of the image) through ``seeds.derive_seed``, never from the batch
it ran in or from what ran before, so a resumed, grown, sharded or merged sweep gives the same
rows as one straight run (up to float rounding). Rerunning skips finished rows; a killed run loses
at most the unit in flight.

Everything is checked before the first byte is written: the settings, the output folder, the
device, the generator, the data (test and validation images) and every m against the image size.
``sweep.json`` records the settings and their fully resolved values (every engine option, solver
defaults, the seeding protocol), so rows made under other defaults are never mixed into a folder.

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
from .device import resolve_device
from .io import atomic_write, atomic_write_json, atomic_write_text, check_output_dir, read_json
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
from .operators import GaussianCS, check_gaussian_size
from .seeds import derive_seed

#: Bumped whenever the meaning of a row changes for the same spec (seeding, data terms): a folder
#: written under another protocol is not resumed or grown.
PROTOCOL = 2

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
        for name, values in (("m_values (--m)", self.m_values), ("methods", self.methods)):
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must not repeat a value, got {list(values)}")
        for method in self.methods:
            check_method(method)
        if any(m in GAN_METHODS for m in self.methods) and not self.generator:
            raise ValueError("methods csgm/csgm-sparse need a generator")
        check_int(self.n_images, "n_images", low=1)
        check_int(self.batch_size, "batch_size", low=1)
        check_int(self.n_val, "n_val", low=1)
        check_positive(self.noise_std, "noise_std", strict=False)
        check_positive(self.sparse_l1, "sparse_l1", strict=False)
        check_int(self.start, "start", low=0)
        check_int(self.seed, "seed", low=0)
        check_int(self.grid_images, "grid_images", low=0)
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

    def resolved(self) -> dict:
        """Every setting a row depends on, defaults included: the full engine configuration,
        the method and solver defaults and the seeding protocol (recorded in ``sweep.json``)."""
        import inspect

        from .baselines import lasso_fista
        from .solvers.csgm import csgm_sparse

        settings = self.settings()
        engine = dataclasses.asdict(settings.config)
        engine.pop("progress")

        def defaults(fn, *names: str) -> dict:
            params = inspect.signature(fn).parameters
            return {n: params[n].default for n in names}

        return json.loads(
            json.dumps(
                {
                    "protocol": PROTOCOL,
                    "engine": engine,
                    "sparse_basis": settings.sparse_basis,
                    "sparse_l1": settings.sparse_l1,
                    "lasso_solver": settings.lasso_solver,
                    "lasso_fista": defaults(lasso_fista, "max_iter", "tol"),
                    "csgm_sparse": defaults(csgm_sparse, "max_iter", "tol"),
                }
            )
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
        """The spec as saved in ``sweep.json``, with its ``resolved`` settings."""
        # json round trip: tuples -> lists, as read back; NaN cannot occur (checked finite)
        spec = json.loads(json.dumps(dataclasses.asdict(self), allow_nan=False))
        return {**spec, "resolved": self.resolved()}

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
        method and the unchanged fields (its seeds derive from the image's identity, so any
        number of images may be added).
        """
        grown = ("m_values", "methods", "n_images")
        now = self.to_json()
        if not all(k in saved for k in grown) or not self.matches(
            {**saved, **{k: now[k] for k in grown}}
        ):
            return False
        return (
            set(saved["m_values"]) <= set(self.m_values)
            and set(saved["methods"]) <= set(self.methods)
            and saved["n_images"] <= self.n_images
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


def _measure(op: GaussianCS, x: torch.Tensor, seed: int, ids: Sequence[int]) -> torch.Tensor:
    """y_i = A x_i + η_i with η_i seeded by (seed, m, image identity): independent of batching."""
    return torch.cat(
        [
            op.measure(x[i : i + 1], seed=derive_seed(seed, "noise", op.m, image_id))
            for i, image_id in enumerate(ids)
        ]
    )


#: Keys that keep the validation images' random choices apart from the test images'.
TEST, VALIDATION = "test", "validation"


class Sweep:
    """A sweep bound to an output folder; ``run`` does (its shard of) the work."""

    def __init__(self, spec: SweepSpec, out: str | os.PathLike, device: str = "auto") -> None:
        """Check everything, then (and only then) record ``sweep.json`` in ``out``.

        Raises ValueError/TypeError/FileNotFoundError, leaving ``out`` as it was, for: an
        ``out`` that cannot be a folder, a device that is not available, a generator that
        cannot be loaded or whose image shape differs from the data, data that is missing or
        too short for ``start + n_images`` (or ``n_val`` validation images), an m above the
        number of pixels, or a folder that holds another sweep.
        """
        self.spec = spec
        self.out = check_output_dir(out, "out")
        self.device = resolve_device(device)
        self._G = None
        self._images: torch.Tensor | None = None
        self._val_images: torch.Tensor | None = None
        self._operator: GaussianCS | None = None  # units run grouped by m: keep the last A
        self._csgm_results: dict[tuple, LatentResult] = {}  # see _solve_gan
        self._validate()
        saved = self.out / "sweep.json"
        before = read_json(saved, "sweep spec") if saved.is_file() else None
        if before is not None and "resolved" not in before:
            raise ValueError(
                f"{self.out} holds a sweep made by earlier code (its {saved.name} records no "
                "resolved settings), whose rows were drawn under other seeds: report it with "
                "`ganinverse sweep-merge`, but run new work into another --out"
            )
        if before is None or not spec.matches(before):
            if before is not None and not spec.grows(before):
                raise ValueError(
                    f"{self.out} holds results of a different sweep (see {saved}); use another "
                    "--out, or the same settings to resume, or add m values, methods or images "
                    "to grow it"
                )
            atomic_write_json(saved, spec.to_json())

    def _validate(self) -> None:
        """Load what the sweep needs and check it fits, before anything is written."""
        images = self.images()
        shape = tuple(images.shape[1:])
        G = self.generator()
        if G is not None and tuple(G.image_shape) != shape:
            raise ValueError(
                f"the generator {self.spec.generator!r} makes images of shape "
                f"{tuple(G.image_shape)} but {self.spec.dataset!r} has {shape}: pick a "
                "generator trained on this dataset"
            )
        for m in self.spec.m_values:
            check_gaussian_size(shape, m)
        if "csgm-sparse" in self.spec.methods:
            from .bases import make_basis

            try:
                make_basis(self.spec.sparse_basis, shape)
            except (ValueError, TypeError) as err:
                raise ValueError(f"sparse_basis (--sparse-basis): {err}") from err
        m = self.spec.m_values[0]
        if any(self.searches(method, m) for method in self.spec.methods):
            self.validation_images()  # the weight searches need them

    # -- data and models, loaded once -------------------------------------------------------
    def images(self) -> torch.Tensor:
        """The test images (B, C, H, W) in [-1, 1], loaded once."""
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
            try:
                self._val_images, _ = load_images(s.dataset, s.data_root, "train", n=s.n_val)
            except ValueError as err:
                raise ValueError(
                    f"n_val (--n-val) = {s.n_val} validation images from the train split: {err}"
                ) from err
        return self._val_images

    def operator(self, m: int) -> GaussianCS:
        """A for m (seeded by the sweep seed and m); the last one is reused, not redrawn."""
        if self._operator is None or self._operator.m != m:
            shape = tuple(self.images().shape[1:])
            noise_std = 2 * self.spec.noise_std
            seed = derive_seed(self.spec.seed, "operator", m)
            self._operator = GaussianCS(shape, m, seed=seed, noise_std=noise_std)
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
        ids = list(range(len(x_val)))  # indices in the train split
        val_seed = derive_seed(s.seed, VALIDATION)
        y_val = _measure(op, x_val, val_seed, ids)
        G = self.generator() if method in GAN_METHODS else None
        start = time.perf_counter()
        best, scores = choose_weight(
            method, G, op, x_val, y_val, values, settings, seed=val_seed, image_ids=ids
        )
        # read again: another shard may have written its entries while this one searched
        table = self._weights()
        table[key] = {
            "weight": TUNED_WEIGHT[method],
            "lambda": best,
            # a diverged candidate's MSE (NaN / Inf) is recorded as null: JSON has no NaN
            "validation_mse": [(v, mse if math.isfinite(mse) else None) for v, mse in scores],
            "n_val": s.n_val,
            "seconds": round(time.perf_counter() - start, 2),
        }
        atomic_write_json(self.out / "lambdas.json", table)
        return table

    # -- the work ---------------------------------------------------------------------------
    def _finished(self) -> dict[tuple[int, str], set[int]]:
        """(m, method) -> the images with a row in any rows file of this folder."""
        seen = defaultdict(set)
        for row in read_rows(self.out.glob("rows*.csv")):
            seen[(int(row["m"]), row["method"])].add(int(row["image"]))
        return seen

    def unit_images(self, b: int) -> list[int]:
        """Dataset indices of the images of the unit starting at image ``b`` of the sweep."""
        s = self.spec
        return list(range(s.start + b, s.start + min(b + s.batch_size, s.n_images)))

    def done_units(self) -> set[tuple[int, str, int]]:
        """Units whose every image has a row in any rows file of this folder."""
        seen = self._finished()
        return {
            (m, method, b)
            for m, method, b in self.spec.units()
            if seen[(m, method)].issuperset(self.unit_images(b))
        }

    def run(self, shard: tuple[int, int] = (0, 1), progress: bool = True) -> Path:
        """Run the unfinished units of this shard; returns its rows file. A unit that is
        partly done (a sweep grown by images) runs only its images without rows."""
        k, n = shard
        path = rows_path(self.out, shard)
        if path.is_file():
            _repair(path)
        seen = self._finished()
        todo = [
            u
            for i, u in enumerate(self.spec.units())
            if i % n == k and not seen[u[:2]].issuperset(self.unit_images(u[2]))
        ]
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
                ids = [i for i in self.unit_images(b) if i not in seen[(m, method)]]
                writer.writerows(self._run_unit(m, method, b, ids))
                f.flush()
                os.fsync(f.fileno())
                bar.update(1)
        with contextlib.suppress(OSError):  # the search marks' folder, once no search runs
            (self.out / SEARCHING).rmdir()
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

    def _run_unit(self, m: int, method: str, first: int, ids: list[int]) -> list[dict]:
        """Rows of the images ``ids`` (dataset indices) of the unit starting at ``first``."""
        s = self.spec
        x = self.images()[[i - s.start for i in ids]]
        op = self.operator(m)
        y = _measure(op, x, derive_seed(s.seed, TEST), ids)
        settings, lam = self.unit_settings(method, m)
        seed = derive_seed(s.seed, TEST)
        if method in GAN_METHODS:
            result = self._solve_gan(method, m, ids, op, y, settings, seed)
            x_hat, seconds = result.x_hat.detach().cpu(), result.seconds / len(x)
        else:
            start = time.perf_counter()
            x_hat = run_method(method, None, op, y, settings, lam=lam, seed=seed).cpu()
            seconds = (time.perf_counter() - start) / len(x)
        if first == 0 and s.grid_images and ids == self.unit_images(0):
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
                "image": image_id,
                "m": m,
                "method": method,
                **{key: f"{float(v[i]):.6g}" for key, v in scores.items()},
                "seconds": f"{seconds:.4g}",
            }
            for i, image_id in enumerate(ids)
        ]

    def _solve_gan(
        self,
        method: str,
        m: int,
        ids: list[int],
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
        key = (m, tuple(ids), settings.config)
        start = self._csgm_results.get(key)
        result = solve_gan(
            method, self.generator(), op, y, settings, seed, start=start, image_ids=ids
        )
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
