"""Running a sweep: one CSV row per (image, x, method), written as it goes.

The work is split into fixed units (x, method, batch of images). Every random choice of a row
(the operator for x, each image's noise and mask, the latent starts) derives from the sweep seed
and the row's own identity (x, dataset index of the image) through ``seeds.derive_seed``, never
from the batch it ran in or from what ran before, so a resumed, grown, sharded or merged sweep
gives the same rows as one straight run (up to float rounding). Rerunning skips finished rows; a
killed run loses at most the unit in flight.

Everything is checked before the first byte is written: the settings, the output folder, the
device, the generator, the data (test and validation images) and every x against the image size.

Noise: ``noise_std`` is σ per measurement on the [0, 1] image scale, as in CSGM's experiments.
The library works on [-1, 1] images (x₋ = 2x₀ − 1, so A x₋ = 2 A x₀ − A1), hence the operator
adds noise of std 2σ there; per-pixel errors are reported on the [0, 1] scale.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tqdm.auto import tqdm

from .. import metrics
from ..data import SOURCES, load_images, load_validation_images, warn_trained_on
from ..device import resolve_device
from ..io import atomic_write, atomic_write_json, check_output_dir, file_fingerprint, read_json
from ..masks import FILE_SUFFIXES, mask_from_file
from ..methods import METHODS, choose_weight, get_method, reconstruct_result
from ..operators import LinearOperator, measurements_at
from ..seeds import derive_seed
from ..status import UNREPORTED
from .rows import (
    FIELDS,
    INPUTS,
    STATUS_MARK,
    bad_score,
    prepare_for_append,
    read_rows,
    rows_path,
    write_rows,
)
from .search import WeightSearches, entry, search_key
from .spec import SweepSpec

#: Keys that keep the validation images' random choices apart from the test images'.
TEST, VALIDATION = "test", "validation"


def measure(
    op: LinearOperator, x: torch.Tensor, seed: int, value: Any, ids: Sequence[int]
) -> torch.Tensor:
    """y_i = A_i x_i + η_i with η_i seeded by (seed, x value, image identity): independent of
    batching (A_i: image i's operator, for operators drawn per image)."""
    ys: list = [None] * len(x)
    for rows, sub in op.per_image(len(x)):
        for i in rows:
            ys[i] = sub.measure(x[i : i + 1], seed=derive_seed(seed, "noise", value, ids[i]))
    return torch.cat(ys)


def grid_name(axis: str, value: Any) -> str:
    """File-name form of an axis value: ``m100``, ``factor4``, ``maskrandom-0.8``; a mask file
    by its name without folders and suffix (``maskhole``)."""
    text = str(value)
    if Path(text).suffix.lower() in FILE_SUFFIXES:  # a mask file
        text = Path(text).stem
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{axis}{text}")


class DifferentSweepError(ValueError):
    """The --out folder holds a sweep of other settings (a ValueError; commands whose settings
    are not flags, such as ``demo``, reword it)."""


def _sha16(t: torch.Tensor) -> str:
    """SHA-256 (16 hex digits) of a tensor's values on the CPU."""
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def _images_id(images: torch.Tensor, n: int) -> str:
    """``"N:fingerprint"`` of the first ``n`` images (SHA-256 of their float32 values, 16 hex
    digits): a grown sweep checks the images its rows were made of by their first N."""
    return f"{n}:{_sha16(images[:n].to(torch.float32))}"


class Sweep:
    """A sweep bound to an output folder; ``run`` does (its shard of) the work."""

    def __init__(self, spec: SweepSpec, out: str | os.PathLike, device: str = "auto") -> None:
        """Check everything, then (and only then) record ``sweep.json`` in ``out``.

        Raises ValueError/TypeError/FileNotFoundError, leaving ``out`` as it was, for: an
        ``out`` that cannot be a folder, a device that is not available, a generator that
        cannot be loaded or whose image shape differs from the data, data that is missing or
        too short for ``start + n_images`` (or ``n_val`` validation images), an x value that
        does not fit the images, or a folder that holds another sweep.
        """
        self.spec = spec
        self.out = check_output_dir(out, "out")
        if (
            self.out.is_dir()
            and any(self.out.iterdir())
            and not (self.out / "sweep.json").is_file()
        ):
            raise ValueError(
                f"out (--out) {str(self.out)!r} holds other files and no sweep.json; pass a new "
                "or empty folder, or the folder of the sweep to resume or grow"
            )
        self.device = resolve_device(device)
        self.cls = spec.operator_class()
        self.searches = WeightSearches(self.out)
        self._G = self._D = None
        self._images: torch.Tensor | None = None
        self._val_images: torch.Tensor | None = None
        self._operator: tuple | None = None  # units run grouped by x: keep the last operator
        self._starts: dict[tuple, Any] = {}  # see _solve
        self._progress = False  # (run's: the bar of a one-off draw of G's samples)
        self._validate()
        saved = self.out / "sweep.json"
        before = read_json(saved, "sweep spec") if saved.is_file() else None
        if before is not None and "resolved" not in before:
            raise ValueError(
                f"{self.out} holds a sweep made by earlier code (its {saved.name} records no "
                "resolved settings), whose rows were drawn under other seeds: report it with "
                "`ganinverse sweep-merge`, but run new work into another --out"
            )
        if before is not None:  # (a grid re-ordered: the same search, in the saved order)
            spec = self.spec = spec.in_saved_order(before)
        # the settings first: other --start / --split give other images, named as settings
        if before is not None and not spec.grows(before) and not spec.matches(before):
            differs = "; ".join(spec.blocking_differences(before)) or "?"
            raise DifferentSweepError(
                f"{self.out} holds results of a different sweep (it differs in: {differs}; "
                f"see {saved}); use another --out, or the same settings to resume, or add "
                "x values, methods or images to grow it"
            )
        now = self.inputs()
        recorded = self._check_inputs(before, now, saved)
        inputs = {**recorded, **now}  # (a folder of older code: recorded from now; grown: N)
        if before is None or not spec.matches(before) or inputs != recorded:
            # a new folder's rows all carry a status; an older one grown keeps rows without
            mark = {STATUS_MARK: True} if before is None or before.get(STATUS_MARK) else {}
            atomic_write_json(saved, {**spec.to_json(), **mark, INPUTS: inputs})

    def inputs(self) -> dict[str, str]:
        """The identities of the files the rows depend on beyond the settings: the generator's
        and discriminator's weights (``models.model_fingerprint``), each mask file's mask
        (SHA-256 of the mask at the images' shape) and each file a method's options name
        (``Method.file_options``: SHA-256 of its bytes), 16 hex digits each."""
        from ..models import model_fingerprint

        found = {}
        if self.spec.generator and self.generator() is not None:
            found["generator"] = model_fingerprint(self.spec.generator, "generator")
        if self.spec.discriminator and self.discriminator() is not None:
            found["discriminator"] = model_fingerprint(self.spec.discriminator, "discriminator")
        found["images"] = _images_id(self.images(), len(self.images()))
        if self._val_images is not None:  # (loaded by _validate where a search needs them)
            found["validation images"] = _images_id(self._val_images, len(self._val_images))
        for method in self.spec.methods:  # files a method's options name (gaussian's samples)
            for option in get_method(method).file_options:
                path = (self.spec.options.get(method) or {}).get(option)
                if isinstance(path, str) and Path(path).is_file():
                    found[f"file {method} {option}"] = file_fingerprint(path)
        shape = tuple(self.images().shape[1:])
        for x in self.spec.x_values:
            if isinstance(x, str) and Path(x).suffix.lower() in FILE_SUFFIXES:
                found[f"mask {x}"] = _sha16(mask_from_file(x, shape).to(torch.uint8))
        return found

    def _check_inputs(self, before: dict | None, now: dict, saved: Path) -> dict[str, str]:
        """The inputs ``before`` (a saved sweep.json) records; a ValueError when a file among
        them now holds other contents (a checkpoint retrained, a mask file rewritten at the
        same path): the rows made from it and those to come would mix two models or masks."""
        recorded = dict((before or {}).get(INPUTS) or {})
        now = dict(now)
        for key, images in (("images", self._images), ("validation images", self._val_images)):
            if key in recorded and key in now and images is not None:  # the first N recorded
                count = str(recorded[key]).partition(":")[0]  # (a grown sweep has more)
                n = int(count) if count.isdigit() else 0  # (0: not a record: compared as is)
                if n == 0:
                    continue
                if n <= len(images):
                    now[key] = _images_id(images, n)
                else:  # fewer images than recorded: the settings differ (refused below)
                    del now[key]
        for key in sorted(recorded.keys() & now.keys()):
            if recorded[key] != now[key]:
                if key.startswith("file "):  # (a method's option's file: gaussian's samples)
                    _, method, option = key.split(" ")
                    path = (self.spec.options.get(method) or {}).get(option)
                    flag = get_method(method).flags.get(option)
                    raise ValueError(
                        f"{self.out} holds rows of {method} made with other contents of its "
                        f"{flag.flag if flag else option} file {path!r} (fingerprint "
                        f"{recorded[key]} in {saved.name}, "
                        f"now {now[key]}): it was rewritten since, and its rows would mix with "
                        "the new ones; run into another --out, or restore the file"
                    )
                if key.endswith("images"):
                    raise ValueError(
                        f"{self.out} holds rows of other {key} than --dataset "
                        f"{self.spec.dataset!r} (--data-root {self.spec.data_root!r}) gives now "
                        f"(fingerprint {recorded[key]} in {saved.name}, now {now[key]}): the "
                        "data files changed since, and the rows would mix two sets of images; "
                        "run into another --out, or restore the data the rows were made with"
                    )
                kind, _, name = key.partition(" ")
                path = name or getattr(self.spec, kind)
                raise ValueError(
                    f"{self.out} holds rows made with another {kind} than {path!r} holds now "
                    f"(fingerprint {recorded[key]} in {saved.name}, now {now[key]}): it was "
                    "retrained or replaced since, and its rows would mix with the new ones; "
                    "run into another --out, or restore the file the rows were made with"
                )
        return recorded

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
        D = self.discriminator()
        for method in self.spec.methods:
            record = get_method(method)
            if record.check is not None and G is not None:
                try:
                    options = record.options(self.spec.method_options(method))
                    takes = record.takes_discriminator(options)
                    record.check(G, D if takes else None, options)
                except (ValueError, TypeError) as err:
                    raise ValueError(f"method {method!r}: {err}") from err
        for i, value in enumerate(self.spec.x_values):  # (the API's name, the CLI's flag)
            try:
                self.cls.check_setting(shape, value)
            except (ValueError, TypeError) as err:
                raise ValueError(f"x_values[{i}] ({self.cls.axis.flag} {value}): {err}") from err
        self._check_distinct_settings(images[:2])
        if "csgm-sparse" in self.spec.methods:
            from ..bases import make_basis

            try:
                make_basis(self.spec.sparse_basis, shape)
            except (ValueError, TypeError) as err:
                raise type(err)(f"sparse_basis (--sparse-basis): {err}") from err
        if any(self.search_chain(method) for method in self.spec.methods):
            self.validation_images()  # the weight searches need them
        self._check_measured(shape)

    def _check_measured(self, shape: tuple) -> None:
        """Each method's options checked as its solver checks them for images of ``shape`` on
        the sweep's device (``Method.validate``: a samples file of other images), then with
        the most measurements per image among the x values (``d``: gaussian's memory, iagan's
        averaged Gaussian's), before any file; the error names the method and that x value."""
        counts = [measurements_at(self.cls, shape, x) for x in self.spec.x_values]
        i = max(range(len(counts)), key=counts.__getitem__)
        where = f"x_values[{i}] ({self.cls.axis.flag} {self.spec.x_values[i]})"
        for method in self.spec.methods:
            record, options = get_method(method), self.spec.fixed_options(method)
            for d, at in ((None, ""), (counts[i], f" at {where}")):
                try:
                    record.validate(options, shape=shape, d=d, device=self.device)
                except (ValueError, TypeError) as err:
                    raise type(err)(f"method {method!r}{at}: {err}") from err

    def _check_distinct_settings(self, probe: torch.Tensor) -> None:
        """A ValueError for two settings of a non-numeric axis that build the same operator
        (``--mask center,center:0.5``: the same mask twice would run, and be reported, twice):
        compared by what each measures of the first images (their own per-image draws)."""
        if self.cls.axis.numeric or len(self.spec.x_values) < 2:
            return
        seen: dict = {}
        ids = list(range(len(probe)))
        for value in self.spec.x_values:
            op = self.operator(value, self._operator_ids(ids, TEST))
            y = op.A(probe)
            same = next((v for v, other in seen.items() if torch.equal(other, y)), None)
            if same is not None:
                raise ValueError(
                    f"x_values ({self.cls.axis.flag}): {same!r} and {value!r} give the same "
                    f"{self.cls.axis.name}: it would run, and be reported, twice; list it once"
                )
            seen[value] = y

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
            from ..models import load_generator

            self._G = load_generator(self.spec.generator, device=self.device)
            warn_trained_on(self._G, repr(self.spec.generator), self.spec.dataset)
        return self._G

    def discriminator(self):
        if self._D is None and self.spec.discriminator:
            from ..models import load_discriminator

            self._D = load_discriminator(self.spec.discriminator, device=self.device)
        return self._D

    def validation_images(self) -> torch.Tensor:
        """The ``n_val`` images of the train split from ``val_start`` (for the weight
        searches), loaded once."""
        if self._val_images is None:
            s = self.spec
            if s.dataset in SOURCES and "train" not in SOURCES[s.dataset]:  # (a folder)
                searched = [m for m in s.methods if self.search_chain(m)]
                raise ValueError(
                    f"the weight search of {', '.join(searched)} needs validation images "
                    f"from a train split, which {s.dataset!r} does not have (its split: "
                    f"{', '.join(SOURCES[s.dataset])}): give each searched grid one value (e.g. "
                    "--lasso-lambdas 0.1), which is set without a search, or use a dataset "
                    "with a train split"
                )
            self._val_images = load_validation_images(s.dataset, s.data_root, s.n_val, s.val_start)
        return self._val_images

    def operator(self, x: Any, ids: Sequence[Any] | None = None) -> LinearOperator:
        """The operator for x (seeded by the sweep seed and x; per-image draws such as masks by
        the images' identities ``ids``); the last one is reused, not redrawn."""
        shape = tuple(self.images().shape[1:])
        key = (x, None if ids is None else tuple(ids))
        if self._operator is None or self._operator[0] != key:
            op = self.cls.from_setting(
                shape, x, seed=self.spec.seed, ids=ids, noise_std=2 * self.spec.noise_std
            )
            self._operator = (key, op)
        # solvers move the operator to G's device in place; measurements are taken on the CPU
        return self._operator[1].cpu()

    def _operator_ids(self, ids: Sequence[int], stream: str) -> list | None:
        """Identities for the operator's per-image draws: test images by dataset index,
        validation images by ``train:<index>`` (so they never share a test image's mask)."""
        if not self.cls.per_image_draws:
            return None
        return list(ids) if stream == TEST else [f"train:{i}" for i in ids]

    # -- weights chosen per x on validation images --------------------------------------------
    def search_chain(self, method: str) -> list[str]:
        """``SweepSpec.search_chain``: the methods whose weight searches a unit of ``method``
        needs, in order."""
        return self.spec.search_chain(method)

    def searches_for(self, method: str, x: Any) -> list[str]:
        """Keys (``method@x``) of the searches a unit of (x, method) needs."""
        return [search_key(t, x) for t in self.search_chain(method)]

    def unit_options(self, method: str, x: Any, *, score_all: bool = False) -> dict:
        """The options of ``method`` at x: every searched weight chosen per x on validation
        images, a one-candidate grid's value as set (a method's parent first); with
        ``score_all`` a one-candidate grid is searched too (``tune`` records every candidate's
        validation MSE)."""
        spec = self.spec
        if score_all:
            options, chain = spec.method_options(method), spec.weight_chain(method)
        else:  # (one-candidate grids set: SweepSpec.fixed_options)
            options, chain = spec.fixed_options(method), spec.search_chain(method)
        for tuned in chain:
            best = self.searches.chosen(
                search_key(tuned, x), lambda t=tuned, o=options: self._search(t, x, o)
            )
            options = get_method(tuned).tuned.apply(options, best)
        return options

    def _search(self, method: str, x: Any, options: dict) -> dict:
        """Run the search of ``method``'s weight at x; returns its entry for weights.json."""
        s = self.spec
        record = get_method(method)
        x_val = self.validation_images()
        ids = list(range(s.val_start, s.val_start + len(x_val)))  # indices in the train split
        op = self.operator(x, self._operator_ids(ids, VALIDATION))
        val_seed = derive_seed(s.seed, VALIDATION)
        y_val = measure(op, x_val, val_seed, x, ids)
        parent_options = {k: v for k, v in options.items() if k in record.defaults}
        start = time.perf_counter()
        best, scores, flags = choose_weight(
            method,
            self.generator() if record.uses_generator(parent_options) else None,
            op,
            x_val,
            y_val,
            s.grid(method),
            parent_options,
            seed=val_seed,
            image_ids=ids,
            D=self.discriminator() if record.takes_discriminator(parent_options) else None,
            return_status=True,
        )
        seconds = time.perf_counter() - start
        return entry(record.tuned.key, best, scores, s.n_val, seconds, flags)

    # -- the work ---------------------------------------------------------------------------
    def _finished(self) -> dict[tuple[str, str], set[int]]:
        """(x as text, method) -> the images with a row in any rows file of this folder."""
        seen = defaultdict(set)
        for row in read_rows(self.out.glob("rows*.csv")):
            seen[(row["setting"], row["method"])].add(int(row["image"]))
        return seen

    def unit_images(self, b: int) -> list[int]:
        """Dataset indices of the images of the unit starting at image ``b`` of the sweep."""
        s = self.spec
        return list(range(s.start + b, s.start + min(b + s.batch_size, s.n_images)))

    def done_units(self) -> set[tuple[Any, str, int]]:
        """Units whose every image has a row in any rows file of this folder."""
        seen = self._finished()
        return {
            (x, method, b)
            for x, method, b in self.spec.units()
            if seen[(str(x), method)].issuperset(self.unit_images(b))
        }

    def run(self, shard: tuple[int, int] = (0, 1), progress: bool = True) -> Path:
        """Run the unfinished units of this shard; returns its rows file. A unit that is
        partly done (a sweep grown by images) runs only its images without rows."""
        k, n = shard
        path = rows_path(self.out, shard)
        prepare_for_append(path)
        seen = self._finished()
        todo = [
            u
            for i, u in enumerate(self.spec.units())
            if i % n == k and not seen[(str(u[0]), u[1])].issuperset(self.unit_images(u[2]))
        ]
        self._progress = progress
        for method in dict.fromkeys(u[1] for u in todo):  # G's samples, before any unit's clock
            self._draw_samples(method, self.spec.fixed_options(method))
        if not path.is_file() or path.stat().st_size == 0:
            # the header written atomically (never a buffered write that a kill can lose: a file
            # without its header would take the next rows' first line as its columns)
            write_rows(path, [])
        axis = self.cls.axis.name
        with (
            path.open("a", newline="") as f,
            tqdm(total=len(todo), desc="sweep", disable=not progress) as bar,
        ):
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            while todo:
                x, method, b = todo.pop(self._next_unit(todo))
                bar.set_postfix({axis: x, "method": method, "image": b})
                ids = [i for i in self.unit_images(b) if i not in seen[(str(x), method)]]
                writer.writerows(self._run_unit(x, method, b, ids))
                f.flush()
                os.fsync(f.fileno())
                bar.update(1)
        self.searches.cleanup()
        return path

    def _next_unit(self, todo: list[tuple[Any, str, int]]) -> int:
        """Index of the first unit that waits on no search another shard is running.

        Concurrent shards meet the same (x, method) when it has several image batches; without
        this each would run the same validation search. If every unit waits, the first runs
        (and searches itself): a killed shard's leftover mark never blocks the sweep.
        """
        for i, (x, method, _) in enumerate(todo):
            if not self.searches.waits(self.searches_for(method, x)):
                return i
        return 0

    def _run_unit(self, x: Any, method: str, first: int, ids: list[int]) -> list[dict]:
        """Rows of the images ``ids`` (dataset indices) of the unit starting at ``first``."""
        s = self.spec
        images = self.images()[[i - s.start for i in ids]]
        op = self.operator(x, self._operator_ids(ids, TEST))
        seed = derive_seed(s.seed, TEST)
        y = measure(op, images, seed, x, ids)
        options = self.unit_options(method, x)
        self._draw_samples(method, options)  # (again where a search drew others since)
        start = time.perf_counter()
        result = self._solve(method, x, ids, op, y, options, seed)
        seconds = getattr(result, "seconds", None)
        seconds = (time.perf_counter() - start if seconds is None else seconds) / len(images)
        x_hat = result.x_hat.detach().cpu()
        status = getattr(result, "status", None)  # (a plug-in's result may have none)
        if first == 0 and s.grid_images and ids == self.unit_images(0):
            name = grid_name(self.cls.axis.name, x)
            self._save_grid_images(f"{method}_{name}", x_hat[: s.grid_images])
            self._save_grid_images("original", images[: s.grid_images])
        op = op.cpu()
        scores = {
            "mse": metrics.mse(x_hat, images),
            "psnr": metrics.psnr(x_hat, images),
            "ssim": metrics.ssim(x_hat, images),
            "meas_error": metrics.measurement_error(op.A(x_hat).flatten(1), y.flatten(1)),
        }
        counts = op.measurement_counts()
        rows = [
            {
                "image": image_id,
                "m": int(counts[i if len(counts) > 1 else 0]),
                "method": method,
                **{key: f"{float(v[i]):.6g}" for key, v in scores.items()},
                "seconds": f"{seconds:.4g}",
                "operator": s.operator,
                "setting": str(x),
                "status": UNREPORTED if status is None else status[i],
            }
            for i, image_id in enumerate(ids)
        ]
        for row in rows:  # never a row that merge refuses: the unit stays to do
            key = bad_score(row)
            if key == "status":
                raise ValueError(
                    f"{method} at {x} gave image {row['image']} the status {row['status']!r}, "
                    "which holds a reason no solver registered: register it with "
                    "ganinverse.status.register_reason (the unit is not written)"
                )
            if key is not None:
                raise ValueError(
                    f"{method} at {x} gave image {row['image']} the score {key} = {row[key]}, "
                    "which a sweep cannot record (the reconstruction holds NaN or Inf, e.g. "
                    "from a diverging step size or noise far beyond the images' scale); the "
                    "unit is not written: change the settings and run the sweep again"
                )
        return rows

    def _draw_samples(self, method: str, options: dict) -> None:
        """Draw the samples of G behind the Gaussian prior that a unit of ``method`` solves with
        (``Method.draws_samples``), as its solve draws them (the test images' seed, G's device), so
        that the solve finds them in ``solvers.gaussian.generator_samples``' cache: the one-off
        draw is not charged to the first unit's seconds (the rows' s/image), and a bar shows it
        (unless run without progress). A no-op where they are drawn already."""
        n_samples = get_method(method).draws_samples(options)
        G = self.generator() if n_samples is not None else None
        if G is None:
            return
        from ..latent import generator_device
        from ..solvers.gaussian import generator_samples

        seed = derive_seed(self.spec.seed, TEST)  # (_run_unit's: the seed the solve passes)
        generator_samples(G, n_samples, seed, generator_device(G), progress=self._progress)

    def _solve(
        self,
        method: str,
        x: Any,
        ids: list[int],
        op: LinearOperator,
        y: torch.Tensor,
        options: dict,
        seed: int,
    ) -> Any:
        """A method's result for a unit. A method that starts from another (csgm-sparse from
        csgm) reuses that one's result of the same images when their shared options agree
        (same seed per unit), so the results of the current x are kept (a few MB); its
        ``seconds`` still include the start's."""
        if any(key[0] != x for key in self._starts):  # units run grouped by x
            self._starts.clear()
        record = get_method(method)
        G = self.generator() if record.uses_generator(options) else None
        D = self.discriminator() if record.takes_discriminator(options) else None
        start = None
        if record.starts_from is not None:
            parent = get_method(record.starts_from)
            shared = {k: v for k, v in options.items() if k in parent.defaults}
            full = parent.options(shared)  # the parent's options as it ran them
            start = self._starts.get((x, tuple(ids), record.starts_from, _key(full)))
        if G is None:  # a method without G runs on the sweep's device (with G: on G's)
            op, y = op.to(self.device), y.to(self.device)
        result = reconstruct_result(  # (a start holds the restarts its image ids seeded)
            method,
            G,
            op,
            y,
            D=D,
            seed=seed,
            image_ids=None if start else ids,
            start=start,
            **options,
        )
        if any(r.starts_from == method for r in METHODS.values()):  # a start of another method
            self._starts[(x, tuple(ids), method, _key(options))] = result
        return result

    def _save_grid_images(self, name: str, images: torch.Tensor) -> None:
        """Keep the first unit's images for the figure grids."""
        path = self.out / "images" / f"{name}.safetensors"
        atomic_write(path, lambda p: save_file({"images": images.contiguous()}, str(p)))


def _key(options: dict) -> tuple:
    """A hashable form of a method's options (for reusing its results)."""
    return tuple(sorted((k, repr(v)) for k, v in options.items()))
