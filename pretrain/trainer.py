"""The GAN training loop: n_critic discriminator steps per generator step, EMA of G, checkpoints.

Reproducibility contract: every random number of step ``s`` (which images, which z, which GP
interpolation weights) is a pure function of ``(seed, s)``. Data order is a per-epoch permutation
drawn from a generator seeded by ``(seed, epoch)``; the noise of step ``s`` comes from a generator
seeded by ``(seed, s)``. Hence training to step k, stopping and resuming to N gives the same weights
as training to N in one go. Under torchrun each rank takes a disjoint slice of every global batch
(and of its noise), gradients are averaged by DistributedDataParallel, and only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ganinverse._validation import (
    check_bool,
    check_choice,
    check_count,
    check_int,
    check_learning_rate,
    check_number,
    check_range,
    check_tensor,
    check_weight,
)
from ganinverse.data import fingerprint
from ganinverse.device import resolve_device
from ganinverse.exceptions import ConvergenceWarning, IdleOptionWarning
from ganinverse.io import check_output_dir
from ganinverse.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPGenerator,
    VAEDecoder,
    VAEEncoder,
    save_model,
)
from ganinverse.models.cost import check_training_memory, generator_cost
from ganinverse.models.dcgan import NORMS, RESOLUTIONS
from ganinverse.seeds import rng

from .logs import LossLog, sample_grid
from .losses import LOSSES, GANLoss, Loss, VAELoss, make_loss
from .optim import OptimisticAdam
from .state import has_state, load_state, read_state_info, save_state
from .verdict import (
    N_PROBE,
    TRAINING_OK,
    elbo_problem,
    generator_problems,
    sample_stats,
    weights_moved,
    weights_problem,
)
from .warmstart import check_init, init_text, load_init, preflight

OPTIMIZERS = ("adam", "rmsprop", "oadam")
ARCHS = ("dcgan", "mlp")
#: Fields that define the experiment; a resumed run must not change them.
#: (steps, output and logging cadence, device, progress may change on resume.)
MUTABLE_ON_RESUME = (
    "steps",
    "out",
    "save_every",
    "sample_every",
    "log_every",
    "device",
    "progress",
    "amp",
    "compile",
    "channels_last",
    "data_root",
)


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint's JSON)."""

    dataset: str = "digits"
    data_root: str | None = None
    image_size: int | None = None
    n_train: int | None = None
    arch: str = "dcgan"
    latent_dim: int = 100
    ngf: int = 64
    ndf: int = 64
    hidden: list[int] = field(default_factory=lambda: [500, 500])
    d_norm: str | None = None
    loss: str = GANLoss.name
    optimizer: str | None = None
    lr: float | None = None
    lr_d: float | None = None
    betas: list[float] | None = None
    n_critic: int | None = None
    clip: float = 0.01
    gp_lambda: float = 10.0
    batch_size: int = 64
    augment: str | None = "none"
    init: str | None = None
    steps: int = 1000
    seed: int = 0
    ema_decay: float = 0.999
    out: str = "runs/pretrain"
    save_every: int = 500
    sample_every: int = 200
    log_every: int = 10
    device: str = "auto"
    amp: bool = False
    compile: bool = False
    channels_last: bool = False
    progress: bool = True

    def resolved(self) -> TrainConfig:
        """A copy with the loss's defaults filled in (optimizer, lr, betas, n_critic, d_norm: its
        ``defaults``), every argument checked, and the settings the loss refuses refused (its
        ``check_config``): ValueErrors naming the argument and the fix."""
        names = choices()
        check_choice(self.loss, "loss", names["loss"])
        check_choice(self.arch, "arch", names["arch"])
        self._check_types()
        rules = LOSSES[self.loss]
        d = rules.defaults
        cfg = dataclasses.replace(
            self,
            optimizer=self.optimizer if self.optimizer is not None else d.optimizer,
            lr=self.lr if self.lr is not None else d.lr,
            betas=list(self.betas) if self.betas is not None else list(d.betas),
            n_critic=self.n_critic if self.n_critic is not None else d.n_critic,
            d_norm=self.d_norm if self.d_norm is not None else d.d_norm,
            hidden=list(self.hidden),
            augment=self.augment if self.augment is not None else AUGMENTS[0],
            init=None if self.init is None else init_text(self.init),
        )
        cfg.lr_d = cfg.lr_d if cfg.lr_d is not None else cfg.lr
        for name in ("optimizer", "d_norm", "augment"):  # (loss and arch: checked above)
            check_choice(getattr(cfg, name), name, names[name])
        rules.check_config(cfg)
        for name in (
            "latent_dim",
            "ngf",
            "ndf",
            "batch_size",
            "save_every",
            "sample_every",
            "log_every",
        ):
            check_int(getattr(cfg, name), name, low=1)
        check_count(cfg.steps, "steps", "train_steps", low=0)
        check_count(cfg.n_critic, "n_critic", "critic")
        check_int(cfg.seed, "seed", low=0)
        for name in ("n_train", "image_size"):
            if getattr(cfg, name) is not None:
                check_int(getattr(cfg, name), name, low=1)
        critic = issubclass(LOSSES.get(cfg.loss, object), GANLoss)  # (a DCGAN discriminator)
        if cfg.image_size is not None and cfg.image_size not in RESOLUTIONS:
            if cfg.arch == "dcgan":
                raise ValueError(
                    f"image_size must be one of {RESOLUTIONS} for arch='dcgan', got "
                    f"{cfg.image_size}; pick one of those or use arch='mlp' (--arch mlp)"
                )
            if critic:
                raise ValueError(
                    f"image_size must be one of {RESOLUTIONS} with loss={cfg.loss!r}: its "
                    f"discriminator is a DCGAN discriminator, even with arch='mlp'; got "
                    f"{cfg.image_size}: pick one of those or use loss={VAELoss.name!r} (--loss "
                    f"{VAELoss.name})"
                )
        if not cfg.hidden:
            raise ValueError("hidden must list at least one layer width, e.g. [500, 500]")
        for width in cfg.hidden:
            check_int(width, "hidden", low=1)
        check_learning_rate(cfg.lr, "lr")
        check_learning_rate(cfg.lr_d, "lr_d")
        if len(cfg.betas) != 2:
            raise ValueError(f"betas must be two numbers (beta1, beta2), got {cfg.betas}")
        for i, beta in enumerate(cfg.betas):
            check_number(beta, f"betas[{i}]", low=0.0, high=1.0, high_open=True)
        check_number(
            cfg.clip,
            "clip",
            low=0.0,
            low_open=True,
            high=CLIP_MAX,
            hint="WGAN clips every discriminator weight to [-clip, clip] (0.01 in Arjovsky et "
            f"al.); weights of order 0.02-1 never reach a clip above {CLIP_MAX:g}: it would "
            "clip nothing",
        )
        check_weight(
            cfg.gp_lambda,
            "gp_lambda",
            what="the gradient penalty's weight (10 in Gulrajani et al.)",
        )
        check_number(
            cfg.ema_decay, "ema_decay", low=0.0, high=1.0, high_open=True, hint="e.g. 0.999"
        )
        if not isinstance(cfg.out, (str, os.PathLike)) or not str(cfg.out):
            raise TypeError(f"out must be a folder path, got {cfg.out!r}")
        check_output_dir(cfg.out, "out")
        return cfg

    def _check_types(self) -> None:
        """TypeErrors (ValueErrors for empty texts) naming the settings of another type than
        their field's: a list given as a number or a text (read letter by letter), a flag as a
        text ("false" is truthy), a name or a device as no text (helper-73)."""
        for name, example in (("hidden", "[500, 500]"), ("betas", "[0.5, 0.999]")):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (list, tuple)):
                raise TypeError(
                    f"{name} must be a list of numbers, e.g. {example}; got "
                    f"{type(value).__name__} {value!r}"
                )
        for name in ("amp", "compile", "channels_last", "progress"):
            check_bool(getattr(self, name), name)
        for name, what in (("dataset", "a dataset name, e.g. 'digits'"), ("device", "'auto'")):
            value = getattr(self, name)
            if name == "device" and isinstance(value, torch.device):
                continue
            if not isinstance(value, str):
                raise TypeError(
                    f"{name} must be a str ({what}); got {type(value).__name__} {value!r}"
                )
            if not value.strip():
                raise ValueError(f"{name} is empty ({value!r}): pass {what}")
        check_init(self.init)
        if self.data_root is not None and not isinstance(self.data_root, (str, os.PathLike)):
            raise TypeError(
                f"data_root must be a folder path or None, got {type(self.data_root).__name__}"
            )

    def checked(self) -> tuple[TrainConfig, torch.device]:
        """``(resolved(), device)``: every argument checked, the device resolved (a ValueError
        for CUDA without a GPU) and ``out`` creatable. Touches no file: call before any work."""
        cfg = self.resolved()
        device = resolve_device(cfg.device)
        for name in ("amp", "compile"):
            if getattr(cfg, name) and device.type != "cuda":
                raise ValueError(
                    f"{name} (--{name}) is a CUDA-only option, but the device is {device}: drop "
                    f"--{name} on the CPU"
                )
        return cfg, device


#: The largest WGAN weight clip accepted (``TrainConfig.clip``): beyond it nothing is clipped.
CLIP_MAX = 10.0


class TrainingDiverged(FloatingPointError):
    """A training step's losses became NaN or Inf. The message names the step, the losses and
    the fix (a new run with a lower lr); the run saved nothing past its last checkpoint, and a
    run that saved nothing left ``out`` as it was before it started."""


def _json_number(x: float) -> float | None:
    """``x`` to 6 significant digits for a JSON record; None when not finite (strict JSON)."""
    return float(f"{x:.6g}") if math.isfinite(x) else None


def _missing_dirs(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for p in (path, *path.parents):
        if p.exists():
            break
        missing.append(p)
    return missing


# ----------------------------------------------------------------------------- randomness
def _cpu_state(module: nn.Module) -> dict[str, Tensor]:
    """A copy of ``module``'s state dict on the CPU."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _rng(seed: int, stream: int, index: int) -> torch.Generator:
    """A CPU generator that is a pure function of (seed, stream, index): ``seeds.rng``, the one
    seed function of the package (SeedSequence-hashed into the 32 bits torch keeps)."""
    return rng(seed, stream, index)


class BatchSampler:
    """Global batch b (drop-last epochs): a slice of randperm(N) seeded by (seed, epoch)."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < batch_size:
            raise ValueError(
                f"batch_size={batch_size} exceeds the {n} training images: pass a batch_size of "
                f"at most {n}, or train on {batch_size} images or more (n_train)"
            )
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = n // batch_size
        self._epoch, self._perm = -1, None

    def indices(self, b: int) -> Tensor:
        epoch, pos = divmod(b, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._perm = (
                epoch,
                torch.randperm(self.n, generator=_rng(self.seed, 1, epoch)),
            )
        return self._perm[pos * self.batch_size : (pos + 1) * self.batch_size]


def _take(data: Tensor | Dataset, idx: Tensor) -> Tensor:
    if isinstance(data, Tensor):
        return data[idx]
    return torch.stack([data[int(i)][0] for i in idx])


#: ``TrainConfig.augment``: what is done to each training batch before D (or the VAE) sees it.
#: ``hflip``: each image mirrored left-right with probability 1/2 (the "mirror" augmentation of
#: face GANs: DCGAN/StyleGAN on CelebA/FFHQ), drawn from (seed, batch index), so a resumed run
#: sees the same batches. For mirror-symmetric data (faces), not digits or text.
AUGMENTS = ("none", "hflip")
#: Datasets whose mirror images are not images of the set (``hflip`` on them warns).
NOT_MIRRORED = ("digits", "mnist")


def choices() -> dict[str, tuple[str, ...]]:
    """The settings whose values are names from a list, with those names now (a loss
    registered later is one: ``LOSSES`` is read at the call); ``resolved`` checks them, the
    CLI's ``--resume`` first, alone."""
    return {
        "loss": tuple(LOSSES),
        "arch": ARCHS,
        "optimizer": OPTIMIZERS,
        "d_norm": NORMS,
        "augment": AUGMENTS,
    }


def augment_batch(real: Tensor, augment: str, seed: int, b: int) -> Tensor:
    """``real`` (B, C, H, W) as ``augment`` (:data:`AUGMENTS`) makes it for global batch ``b``;
    ``"none"`` returns it unchanged. The flips are a pure function of (seed, b)."""
    if augment == "none":
        return real
    flip = torch.rand(len(real), generator=_rng(seed, 6, b)) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1).to(real.device), real.flip(-1), real)


def _check_resume(out: Path, resume: bool) -> bool:
    """``resume``, after checking that ``out`` holds a training checkpoint exactly when resuming."""
    if has_state(out / "checkpoint") and not resume:
        raise ValueError(
            f"{out} already holds a training checkpoint: pass resume=True "
            "(--resume) to continue it, or choose another out folder"
        )
    if resume and not has_state(out / "checkpoint"):
        raise ValueError(
            f"resume=True (--resume) but {out} holds no training checkpoint "
            "(checkpoint.json): drop --resume to start a new run there"
        )
    others = (
        sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if out.is_dir() else []
    )
    if not resume and others:  # another command's result: never mixed with a training run
        raise ValueError(
            f"out {str(out)!r} holds other files ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''}) and no training checkpoint; pass a new or "
            "empty folder"
        )
    return resume


def _check_data(
    data: Tensor | Dataset, arch: str, loss: str = GANLoss.name
) -> tuple[Tensor | Dataset, tuple[int, int, int]]:
    """The training images (a float64 / float16 tensor as float32, as everywhere in the
    library) and their (C, H, W), after checking what the run needs of them."""
    if isinstance(data, Tensor):
        check_tensor(data, "data", ndim=4)
        if len(data) == 0:
            raise ValueError("data holds no images: pass a (N, C, H, W) tensor with N >= 1")
        check_range(data, "data", -1.0, 1.0)  # the generator's range: from_unit(x) maps [0, 1]
        data = data.float()
    elif not isinstance(data, Dataset):
        raise TypeError(
            f"data must be a (N, C, H, W) tensor or a Dataset, got {type(data).__name__}"
        )
    if len(data) == 0:
        raise ValueError("data holds no images")
    shape = tuple(int(s) for s in _take(data, torch.tensor([0])).shape[1:])
    if len(shape) != 3:
        raise ValueError(f"data images must be (C, H, W), got shape {shape}")
    critic = issubclass(LOSSES.get(loss, object), GANLoss)  # (a DCGAN discriminator)
    if (arch == "dcgan" or critic) and (shape[1] != shape[2] or shape[1] not in RESOLUTIONS):
        who = "arch='dcgan'" if arch == "dcgan" else f"loss={loss!r} (a DCGAN discriminator)"
        other = (
            "use arch='mlp' (--arch mlp)"
            if arch == "dcgan"
            else f"use loss={VAELoss.name!r} (--loss {VAELoss.name})"
        )
        raise ValueError(
            f"{who} needs square images of {' / '.join(map(str, RESOLUTIONS))} pixels, "
            f"the data has {shape[1]}x{shape[2]}: pass image_size (--image-size) or {other}"
        )
    return data, shape


# ----------------------------------------------------------------------------- models
def build_loss(cfg: TrainConfig) -> Loss:
    """cfg.loss's loss object, given the options it takes (its ``options``) from cfg."""
    return make_loss(cfg.loss, **{key: getattr(cfg, key) for key in LOSSES[cfg.loss].options})


def build_models(
    cfg: TrainConfig, image_shape: tuple[int, int, int]
) -> tuple[nn.Module, nn.Module]:
    """Fresh (G, D) for a resolved config; weights depend only on cfg.seed."""
    torch.manual_seed(cfg.seed)
    if cfg.arch == "mlp":
        G = MLPGenerator(cfg.latent_dim, image_shape, tuple(cfg.hidden))
    else:
        G = DCGANGenerator(cfg.latent_dim, image_shape, cfg.ngf)
    D = DCGANDiscriminator(image_shape, cfg.ndf, cfg.d_norm)
    return G, D


def build_optimizer(cfg: TrainConfig, params, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if cfg.optimizer == "oadam":
        return OptimisticAdam(params, lr=lr, betas=tuple(cfg.betas))
    return torch.optim.Adam(params, lr=lr, betas=tuple(cfg.betas))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 - decay)·model for parameters; buffers are copied."""
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers(), strict=True):
        e.copy_(b)


@torch.no_grad()
def recalibrate_batchnorm(
    G: nn.Module, seed: int, n_batches: int = 16, batch: int = 256
) -> nn.Module:
    """A copy of G whose BatchNorm running statistics are the exact averages over fresh z.

    The EMA weights never ran forward during training, so their running stats would be stale.
    """
    G = copy.deepcopy(G)
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return G.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    G.train()
    gen = _rng(seed, 3, 0)
    dev = next(G.parameters()).device
    for _ in range(n_batches):
        G(torch.randn(batch, G.latent_dim, generator=gen).to(dev))
    for m in norms:
        m.momentum = 0.1
    return G.eval()


# ----------------------------------------------------------------------------- distributed
@dataclass
class _Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size())


@contextmanager
def _deferred_interrupt():
    """Turn the first Ctrl-C (SIGINT) or SIGTERM into a flag checked between steps, so the
    checkpoint written on interrupt is a consistent step boundary; a second signal acts at once."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        flag.set()
        signal.signal(signum, previous[signum])

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def check_same_experiment(out: Path, values: dict, saved: dict, *, flags: bool = False) -> None:
    """A ValueError naming every setting in ``values`` (TrainConfig fields) that differs from
    ``saved`` (the config of the checkpoint in ``out``), except those a resume may change
    (``MUTABLE_ON_RESUME``); each by its command-line flag with ``flags`` (the CLI's words:
    ``--n-train``), else by its TrainConfig field (the API's: ``n_train``)."""
    # (a setting added after the checkpoint was saved reads as its default: augment="none")
    defaults = dataclasses.asdict(TrainConfig())
    saved = {**{k: defaults[k] for k in values if k in defaults and k not in saved}, **saved}
    changed = [k for k, v in values.items() if k not in MUTABLE_ON_RESUME and saved.get(k) != v]
    if changed:  # (each as its flag: --n-train 64 in the checkpoint, 32 asked)

        def shown(v: object) -> str:
            return "none" if v is None else repr(v)

        said = "; ".join(
            f"{'--' + k.replace('_', '-') if flags else k}: the checkpoint has "
            f"{shown(saved.get(k))}, this run asks {shown(values[k])}"
            for k in changed
        )
        raise ValueError(
            f"cannot resume {out} with a different {', '.join(changed)} ({said}): pass the "
            "run's own settings, or start a new run in another out folder"
        )


# ----------------------------------------------------------------------------- trainer
class Trainer:
    """Holds G, D, their EMA and optimizers; ``run()`` trains to ``cfg.steps``."""

    def __init__(self, cfg: TrainConfig, data: Tensor | Dataset, *, resume: bool = False) -> None:
        self.cfg, self.device = cfg.checked()
        self.out = Path(self.cfg.out)
        self.dist = _init_distributed(self.device)
        if self.device.type == "cuda" and self.dist.world > 1:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        if self.cfg.batch_size % self.dist.world:
            raise ValueError(
                f"batch_size={self.cfg.batch_size} must be divisible by the {self.dist.world} ranks"
            )
        self.data, self.image_shape = _check_data(data, self.cfg.arch, self.cfg.loss)
        self.data_id = fingerprint(self.data)  # recorded in each checkpoint; checked on resume
        self.sampler = BatchSampler(len(data), self.cfg.batch_size, self.cfg.seed)
        check_training_memory(  # (G, its EMA copy, D or E) before any weight is allocated
            self._networks,
            f"the {self.cfg.arch} generator and its {self.CRITIC} ({self._sizes()})",
            "lower the sizes (--ngf, --ndf, --latent-dim, --hidden)",
            copies=1,
            device=self.device,
        )
        self._build()
        self.ema = copy.deepcopy(self.G).requires_grad_(False)
        self.step = 0
        self.fixed_z = torch.randn(64, self.cfg.latent_dim, generator=_rng(self.cfg.seed, 4, 0))
        #: where the weights started (``warmstart.init_record``), None when from scratch
        self.init: dict | None = None
        #: the weights the run started from when not random (``cfg.init``): the state dicts of
        #: :meth:`_networks`' networks, which :meth:`judge` compares the end with
        self._start: list[dict[str, Tensor]] | None = None
        if _check_resume(self.out, resume):
            self._resume()
        elif self.cfg.init is not None:  # (before any file is written)
            self.init = load_init(self.cfg.init, self._init_modules(), self.ema)
            self._start = [_cpu_state(m) for m in self._init_modules().values()]
        self.log = LossLog(
            self.out / "losses.csv",
            resume_step=self.step if resume else None,
            names=self.LOSS_NAMES,
        )
        #: the verdict of the last save that judged the generator (the end of the run, an
        #: interrupt: :meth:`judge`): TRAINING_OK ("ok") or why it learned nothing; None before
        self.training_status: str | None = None
        #: the numbers behind it (recorded as ``training_check`` in generator.json)
        self.training_check: dict | None = None
        self._losses: tuple[float, ...] | None = None  # the last step's, as train_step returned
        self._saved_step: int | None = self.step if resume else None  # of the state in out
        self._probe_batch: tuple[Tensor, Tensor] | None = None
        self._wrap()

    # -- networks (overridden by VAETrainer) -------------------------------------------
    #: the two numbers train_step returns, as logged
    LOSS_NAMES = ("d_loss", "g_loss")

    def _networks(self) -> tuple[nn.Module, ...]:
        """The networks trained (fresh, their weights seeded by cfg.seed): (G, D)."""
        return self.networks(self.cfg, self.image_shape)

    @staticmethod
    def networks(cfg: TrainConfig, image_shape: tuple[int, ...]) -> tuple[nn.Module, ...]:
        """Fresh networks of a resolved config for images of ``image_shape`` (G, then the
        :attr:`CRITIC`), their weights seeded by cfg.seed (torch's global generators too)."""
        return build_models(cfg, image_shape)

    #: the second network trained beside G, and the config fields that size it
    CRITIC, CRITIC_SIZES = "discriminator", ("ndf",)

    def _sizes(self) -> str:
        """The config's sizes of the networks, as ``name=value`` (the widest first)."""
        names = ["latent_dim", "hidden"] if self.cfg.arch == "mlp" else ["ngf", "latent_dim"]
        return ", ".join(f"{n}={getattr(self.cfg, n)}" for n in [*names, *self.CRITIC_SIZES])

    def _build(self) -> None:
        """Loss, G, D and their optimizers."""
        self.loss: GANLoss = build_loss(self.cfg)
        G, D = self._networks()
        self.G, self.D = G.to(self.device), D.to(self.device)
        if self.cfg.channels_last:  # NHWC convolutions: see benchmarks/pretrain/train_speed.py
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.opt_g = build_optimizer(self.cfg, self.G.parameters(), self.cfg.lr)
        self.opt_d = build_optimizer(self.cfg, self.D.parameters(), self.cfg.lr_d)

    def _wrap(self) -> None:
        """Wrappers used for the forward passes; the raw modules are what gets saved."""
        self.G_run: nn.Module = self.G
        self.D_run: nn.Module = self.D
        if self.dist.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.G_run = DistributedDataParallel(self.G, device_ids=ids)
            self.D_run = DistributedDataParallel(self.D, device_ids=ids)
        if self.cfg.compile:
            self.G_run, self.D_run = torch.compile(self.G_run), torch.compile(self.D_run)

    def _modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "ema": self.ema}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def _companions(self) -> dict[str, nn.Module]:
        """Checkpoints written next to generator.*: the discriminator."""
        return {"discriminator": self.D}

    def _init_modules(self) -> dict[str, nn.Module]:
        """The networks ``cfg.init`` starts, by the names their checkpoints are saved under (in
        :meth:`_networks`' order)."""
        return {"generator": self.G, **self._companions()}

    def _read_start(self) -> None:
        """On resume of a run with ``init``: read its start again for :meth:`judge`; where it
        is gone or its weights changed, warn and judge against random weights (recorded)."""
        with torch.random.fork_rng():  # (_networks seeds torch's global generators)
            nets = self._networks()
        try:
            record = load_init(
                self.cfg.init,
                dict(zip(self._init_modules(), nets, strict=True)),
                copy.deepcopy(nets[0]),
            )
        except (FileNotFoundError, ValueError) as err:
            why = f"it cannot be read ({err})"
        else:
            if record["fingerprint"] == (self.init or {}).get("fingerprint"):
                self._start = [_cpu_state(m) for m in nets]
                return
            why = "its weights are not those the run started from (another fingerprint)"
        warnings.warn(
            f"{self.out} started from init {self.cfg.init!r}, but {why}: the end-of-run check "
            "compares the generator with random weights and skips its 'weights moved' rule "
            "(recorded as start='random' in training_check); restore the init to check against it",
            UserWarning,
            stacklevel=4,
        )

    # -- state -------------------------------------------------------------------------

    def _resume(self) -> None:
        # the settings first: a changed network size must be named as such, not surface as a
        # shape mismatch of the weights
        info = read_state_info(self.out / "checkpoint")
        self.init = info.get("init")
        check_same_experiment(self.out, dataclasses.asdict(self.cfg), info["config"])
        saved_id = info.get("data")
        if saved_id is None:
            warnings.warn(
                f"{self.out}'s checkpoint does not record its training images (saved before "
                "data fingerprints were recorded): the resumed run cannot check that they are "
                "the same; its next checkpoint records them",
                UserWarning,
                stacklevel=3,
            )
        elif saved_id != self.data_id:
            where = "" if self.cfg.data_root is None else f" under {self.cfg.data_root}"
            raise ValueError(
                f"cannot resume {self.out} on other training images: the checkpoint was trained "
                f"on images with fingerprint {saved_id}, the {self.cfg.dataset!r} images{where} "
                f"now have {self.data_id} (files replaced, added, renamed or deleted?). Restore "
                "the images it was trained on, or start a new run in another out folder"
            )
        step = int(info["step"])
        if self.cfg.steps < step:
            raise ValueError(
                f"steps (--steps) = {self.cfg.steps} is below the checkpoint's step {step}: pass "
                f"--steps {step} or more to continue the run (a run never trains backwards)"
            )
        info = load_state(self.out / "checkpoint", self._modules(), self._optimizers())
        self.step = int(info["step"])
        if self.cfg.init is not None:
            self._read_start()

    # -- did it learn? ----------------------------------------------------------------------
    def _probe(self) -> tuple[Tensor, Tensor]:
        """(N_PROBE latents, up to N_PROBE training images) for :meth:`judge`, fixed by the seed."""
        if self._probe_batch is None:
            z = torch.randn(N_PROBE, self.cfg.latent_dim, generator=_rng(self.cfg.seed, 5, 0))
            pick = torch.randperm(len(self.data), generator=_rng(self.cfg.seed, 5, 1))[:N_PROBE]
            self._probe_batch = z, _take(self.data, pick).float()
        return self._probe_batch

    def _last_losses(self) -> dict[str, float] | None:
        """The last step's losses by name: this run's, else the last row of losses.csv."""
        if self._losses is not None:
            return dict(zip(self.LOSS_NAMES, self._losses, strict=True))
        if self.log.rows:
            return {name: self.log.rows[-1][name] for name in self.LOSS_NAMES}
        return None

    @torch.no_grad()
    def judge(self, G_out: nn.Module | None = None) -> tuple[str, dict]:
        """``(status, numbers)``: whether the generator saved (``G_out``, by default
        :meth:`export_generator`) learned, by the rules of :mod:`pretrain.verdict`; status is
        TRAINING_OK ("ok") or why it learned nothing and the fix. A few forward passes: the
        generator and the one at step 0 (the seeded initial weights) on N_PROBE latents."""
        G_out = self.export_generator() if G_out is None else G_out
        z, images = self._probe()
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # (_networks seeds torch's global generators)
            fresh = [m.to(self.device) for m in self._networks()]
        if self._start is not None:  # (a fine-tuning: step 0 is the init's weights)
            for module, state in zip(fresh, self._start, strict=True):
                module.load_state_dict(state)
        # the generator at step 0 on its batch statistics: what recalibrated BatchNorm converges to
        end = sample_stats(G_out.eval()(z.to(self.device)))
        start = sample_stats(fresh[0].train()(z.to(self.device)))
        data = sample_stats(images)
        record = {
            "step": self.step,
            "samples": end,
            "samples_at_step_0": start,
            "training_images": data,
            "probe": N_PROBE,
            "start": "random" if self._start is None else "init",
        }
        losses = self._last_losses() if self.JUDGE_LOSSES else None
        if losses is not None:
            record["last_losses"] = {k: _json_number(v) for k, v in losses.items()}
        limit = LOSSES[self.cfg.loss].loss_limit
        problems = generator_problems(end, start, data, losses, limit)
        rose = bool(problems)
        if self.JUDGE_LOSSES and (self._start is not None or self.cfg.init is None):
            # (a GAN; the VAE's ELBO rule catches a decoder left in place. Not against random
            # weights when the run started from an init it could not read again)
            moved = weights_moved(G_out, fresh[0])
            record["weights_moved"] = _json_number(moved)
            clause = weights_problem(moved, self.step)
            problems += [clause] if clause else []
        clause, objective_rose = self._objective_problem(fresh, images, record)
        if clause:
            problems.append(clause)
            rose = rose or objective_rose
        if not problems:
            return TRAINING_OK, record
        return f"{'; '.join(problems)}: {self._fix(rose)}", record

    #: whether :meth:`judge` checks the size of the last step's losses (not the VAE's: its
    #: reconstruction term grows with the image size; its ELBO is checked instead)
    JUDGE_LOSSES = True

    def _objective_problem(
        self, fresh: list[nn.Module], images: Tensor, record: dict
    ) -> tuple[str, bool]:
        """A clause on the training objective (VAE: its negative ELBO), and whether it rose."""
        return "", False

    def _fix(self, rose: bool) -> str:
        """What to do about a run that learned nothing: its steps overshoot (``rose``) or are
        too small. The lr cannot change on resume: a new run takes the lower one."""
        cfg, default = self.cfg, LOSSES[self.cfg.loss].defaults.lr
        if not rose:
            return (
                f"training barely moved it; resume with more steps (--resume --steps, now "
                f"{cfg.steps}) or start a new run with a higher lr (--lr, now {cfg.lr:.3g})"
            )
        fix = (
            f"training diverged; start a new run with a lower lr (--lr, now {cfg.lr:.3g}; the "
            f"{cfg.loss} default is {default:.3g})"
        )
        if self.JUDGE_LOSSES and cfg.lr_d != cfg.lr:  # (a GAN: its discriminator's lr too)
            fix += f" or lr_d (--lr-d, now {cfg.lr_d:.3g})"
        return fix

    def _warn_verdict(self) -> None:
        if self.training_status not in (None, TRAINING_OK):
            warnings.warn(
                f"the generator saved in {self.out} learned nothing by step {self.step}: "
                f"{self.training_status}",
                ConvergenceWarning,
                stacklevel=4,
            )

    def export_generator(self) -> nn.Module:
        """The EMA generator with recalibrated BatchNorm statistics, in eval mode."""
        return recalibrate_batchnorm(self.ema, self.cfg.seed)

    def save(self, final: bool = False, judge: bool | None = None) -> None:
        """Training state + loadable generator/discriminator + losses + samples (rank 0 only).

        Written in this order, each file or weights + JSON pair as one unit: losses.csv, the
        training state checkpoint.*, generator.* and discriminator.* (VAE: encoder.*),
        losses.png, samples/latest.png. A kill -9 at any moment leaves a folder that --resume
        accepts and that never loads a mixture of two saves within a pair: the state is this save
        or the previous one, and the rows of losses.csv past the loaded step are dropped on
        resume. The exports may then be one save behind the state (their JSON's ``steps`` says
        which); a resume rewrites them at its next save, at once when no step is left to train.

        ``judge`` (default: ``final``; an interrupt's save judges too): check whether the
        generator learned (:meth:`judge`) and record the verdict as ``training_status`` (and its
        numbers as ``training_check``) in generator.json and checkpoint.json; when it learned
        nothing, a ConvergenceWarning says why, after every file is written.
        """
        if not self.dist.main:
            return
        G_out = self.export_generator()
        if final if judge is None else judge:
            self.training_status, self.training_check = self.judge(G_out)
        verdict = (
            {}
            if self.training_status is None or self.training_check["step"] != self.step
            else {"training_status": self.training_status, "training_check": self.training_check}
        )
        meta = {
            "config": dataclasses.asdict(self.cfg),
            "image_shape": list(self.image_shape),
            "data": self.data_id,
            **({} if self.init is None else {"init": self.init}),
            **verdict,
        }
        # losses first: a kill before the state is saved leaves rows past the saved step, which
        # a resume drops; the other order would lose the rows since the last save
        self.log.write()
        save_state(self.out / "checkpoint", self.step, self._modules(), self._optimizers(), meta)
        self._saved_step = self.step
        raw = copy.deepcopy(self.G).eval()
        info = {
            "loss": self.cfg.loss,
            "dataset": self.cfg.dataset,
            "steps": self.step,
            "seed": self.cfg.seed,
            "batch_size": self.cfg.batch_size,
            "train": {k: v for k, v in meta["config"].items() if k not in ("out", "progress")},
            **({} if self.init is None else {"init": self.init}),
            **verdict,
        }
        if final:
            info["cost"] = generator_cost(G_out)
        save_model(raw, self.out / "generator", info, ema=G_out)
        for name, module in self._companions().items():
            save_model(module, self.out / name, info)
        self.log.plot(self.out / "losses.png", f"{self.cfg.loss} on {self.cfg.dataset}")
        sample_grid(G_out, self.fixed_z.to(self.device), self.out / "samples" / "latest.png")
        if verdict:  # (after every write: a warning turned into an error loses no file)
            self._warn_verdict()

    # -- one step ----------------------------------------------------------------------
    def _local(self, t: Tensor) -> Tensor:
        """This rank's slice of a global batch."""
        per = self.cfg.batch_size // self.dist.world
        t = t[self.dist.rank * per : (self.dist.rank + 1) * per].to(self.device)
        if self.cfg.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cfg.amp)

    def train_step(self, s: int) -> tuple[float, float]:
        """n_critic D updates then one G update; all randomness from (seed, s)."""
        cfg, B = self.cfg, self.cfg.batch_size
        gen = _rng(cfg.seed, 2, s)
        self.G.train()
        self.D.train()
        self.D.requires_grad_(True)
        for k in range(cfg.n_critic):
            b = s * cfg.n_critic + k
            real = _take(self.data, self.sampler.indices(b))
            real = self._local(augment_batch(real, cfg.augment, cfg.seed, b))
            z = self._local(torch.randn(B, cfg.latent_dim, generator=gen))
            eps = self._local(torch.rand(B, generator=gen))
            with self._autocast():
                with torch.no_grad():
                    fake = self.G_run(z)
                d_loss = self.loss.d_loss(self.D_run, real, fake.float(), eps)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            self.loss.after_d_step(self.D)
        z = self._local(torch.randn(B, cfg.latent_dim, generator=gen))
        # D is frozen and called unwrapped in the G step: no gradient for D, no DDP sync for D.
        self.D.requires_grad_(False)
        with self._autocast():
            g_loss = self.loss.g_loss(self.D, self.G_run(z).float())
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        update_ema(self.ema, self.G, min(cfg.ema_decay, (1 + s) / (10 + s)))
        return d_loss.item(), g_loss.item()

    # -- loop --------------------------------------------------------------------------
    def run(self) -> int:
        """Train from the current step to cfg.steps; Ctrl-C saves a checkpoint. Returns the step."""
        cfg = self.cfg
        # what this run adds to out, taken away again when it fails before saving anything
        created = _missing_dirs(self.out / "samples")  # (deepest first: samples, out, ...)
        written: list[Path] = []
        saved_before = self._saved_step
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            disable=not (cfg.progress and self.dist.main),
            desc=f"{cfg.loss} {cfg.dataset}",
            dynamic_ncols=True,
        )
        start = time.perf_counter()
        try:
            with _deferred_interrupt() as interrupted:
                while self.step < cfg.steps:
                    losses = self.train_step(self.step)
                    self.step += 1
                    bar.update(1)
                    if not all(math.isfinite(v) for v in losses):
                        raise TrainingDiverged(self._diverged(losses))
                    self._losses = losses
                    if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                        self.log.append(self.step, *losses, time.perf_counter() - start)
                        bar.set_postfix(
                            {n: f"{v:.3f}" for n, v in zip(self.LOSS_NAMES, losses, strict=True)}
                        )
                    if self.dist.main and self.step % cfg.sample_every == 0:
                        path = self.out / "samples" / f"step_{self.step:07d}.png"
                        if not path.exists():
                            written.append(path)
                        sample_grid(self.export_generator(), self.fixed_z.to(self.device), path)
                    if interrupted.is_set():
                        bar.close()
                        self.save(judge=True)
                        raise KeyboardInterrupt(
                            f"interrupted at step {self.step}; checkpoint saved"
                        )
                    if self.step % cfg.save_every == 0 and self.step < cfg.steps:
                        self.save()
        except BaseException:
            bar.close()
            if self.dist.main and self._saved_step == saved_before:  # nothing saved: undo
                for path in written:
                    path.unlink(missing_ok=True)
                for folder in created:  # (deepest first; one holding other files stays)
                    with contextlib.suppress(OSError):
                        folder.rmdir()
            raise
        bar.close()
        self.save(final=True)
        return self.step

    def _diverged(self, losses: tuple[float, ...]) -> str:
        """The message of TrainingDiverged: the step, the losses, the fix, what out keeps."""
        values = ", ".join(f"{n} = {v:g}" for n, v in zip(self.LOSS_NAMES, losses, strict=True))
        kept = (
            f"{self.out} keeps its checkpoint of step {self._saved_step}"
            if self._saved_step is not None
            else f"nothing was saved ({self.out} left as it was)"
        )
        return (
            f"the losses became non-finite at step {self.step} ({values}): {self._fix(True)}; "
            f"{kept}"
        )


class VAETrainer(Trainer):
    """The same loop, checkpoints and reproducibility contract for a VAE: the decoder is G (with
    its EMA), the encoder E replaces D, one optimiser step per batch on the negative ELBO
    (VAELoss)."""

    LOSS_NAMES = ("recon", "kl")
    CRITIC, CRITIC_SIZES = "encoder", ()

    def _build(self) -> None:
        cfg = self.cfg
        self.loss: VAELoss = build_loss(cfg)
        G, E = self._networks()
        self.G, self.E = G.to(self.device), E.to(self.device)
        params = [*self.G.parameters(), *self.E.parameters()]
        self.opt = build_optimizer(cfg, params, cfg.lr)

    @staticmethod
    def networks(cfg: TrainConfig, image_shape: tuple[int, ...]) -> tuple[nn.Module, ...]:
        """(decoder G, encoder E), their weights seeded by cfg.seed."""
        torch.manual_seed(cfg.seed)
        G = VAEDecoder(cfg.latent_dim, image_shape, tuple(cfg.hidden))
        return G, VAEEncoder(cfg.latent_dim, image_shape, tuple(cfg.hidden))

    def _wrap(self) -> None:
        if self.dist.world > 1:
            raise ValueError(
                f"loss={self.cfg.loss!r} trains in one process (minutes on a CPU); drop torchrun"
            )

    def _modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "E": self.E, "ema": self.ema}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.opt}

    def _companions(self) -> dict[str, nn.Module]:
        """Checkpoints written next to generator.*: the encoder q(z | x)."""
        return {"encoder": self.E}

    JUDGE_LOSSES = False

    def _objective_problem(
        self, fresh: list[nn.Module], images: Tensor, record: dict
    ) -> tuple[str, bool]:
        """The negative ELBO (z = μ) of the probe images must fall from step 0 to now."""
        images = images.to(self.device)
        eps = torch.zeros(len(images), self.cfg.latent_dim)
        G0, E0 = fresh
        modes = self.G.training, self.E.training
        start, end = (
            float(sum(self.loss(E.eval(), G.eval(), images, eps)))
            for E, G in ((E0, G0), (self.E, self.G))
        )
        self.G.train(modes[0])
        self.E.train(modes[1])
        record["neg_elbo"] = {"step_0": _json_number(start), "now": _json_number(end)}
        return elbo_problem(start, end, len(images))

    def train_step(self, s: int) -> tuple[float, float]:
        """One optimiser step on the mean negative ELBO of batch s; ε drawn from (seed, s)."""
        cfg = self.cfg
        self.G.train()
        self.E.train()
        real = _take(self.data, self.sampler.indices(s))
        real = augment_batch(real, cfg.augment, cfg.seed, s).to(self.device)
        eps = torch.randn(cfg.batch_size, cfg.latent_dim, generator=_rng(cfg.seed, 2, s))
        recon, kl = self.loss(self.E, self.G, real, eps)
        self.opt.zero_grad(set_to_none=True)
        (recon + kl).backward()
        self.opt.step()
        update_ema(self.ema, self.G, min(cfg.ema_decay, (1 + s) / (10 + s)))
        return recon.item(), kl.item()


def option_scopes() -> dict[str, tuple[Callable[[TrainConfig], bool], str, tuple[str, ...]]]:
    """When each conditional option acts: ``{option: (acts(cfg), setting, values)}`` — it acts
    when ``setting`` (``loss``, ``arch``, ``optimizer``) takes one of ``values``; read from the
    losses registered in LOSSES now. A loss's own options (``clip``, ``gp_lambda``) act with the
    losses that declare them; the discriminator's (``n_critic``, ``d_norm``, ``ndf``, ``lr_d``)
    with a loss that trains one (a GANLoss); ``ngf`` with the DCGAN generator, ``hidden`` with
    the MLP one (and the VAE's encoder / decoder); ``betas`` with an Adam optimiser."""
    critics = tuple(n for n, c in LOSSES.items() if issubclass(c, GANLoss))
    scopes: dict = {}
    for option in dict.fromkeys(k for c in LOSSES.values() for k in c.options):
        takers = tuple(n for n, c in LOSSES.items() if option in c.options)
        scopes[option] = (lambda cfg, t=takers: cfg.loss in t, "loss", takers)
    for option in ("n_critic", "d_norm", "ndf", "lr_d"):  # the discriminator's options
        scopes[option] = (lambda cfg: cfg.loss in critics, "loss", critics)
    scopes["ngf"] = (lambda cfg: cfg.arch == "dcgan", "arch", ("dcgan",))
    scopes["hidden"] = (lambda cfg: cfg.arch == "mlp", "arch", ("mlp",))
    adams = tuple(o for o in OPTIMIZERS if "adam" in o)
    scopes["betas"] = (lambda cfg: _optimizer(cfg) in adams, "optimizer", adams)
    return scopes


def _optimizer(cfg: TrainConfig) -> str:
    """The optimiser a run uses: ``cfg.optimizer``, else its loss's default."""
    return cfg.optimizer if cfg.optimizer is not None else LOSSES[cfg.loss].defaults.optimizer


def idle_options(cfg: TrainConfig, given, *, cli: bool = False) -> list[str]:
    """The options set in ``given`` that the run of ``cfg`` would ignore (``clip`` without a WGAN
    loss, ``ndf`` with the VAE, ``ngf`` with ``arch='mlp'``, ``hidden`` with the DCGAN, ``betas``
    with RMSprop, ...: :func:`option_scopes`), one sentence each naming the option, the settings
    it acts with, the setting that makes it idle and the fix. ``cli``: name them as flags
    (``--ndf``, ``--loss ...``) rather than as TrainConfig fields (``ndf``, ``loss=...``).
    Raises ValueError for an unknown ``loss`` / ``arch``."""
    check_choice(cfg.loss, "loss", tuple(LOSSES))
    check_choice(cfg.arch, "arch", ARCHS)

    def name(key: str) -> str:
        return "--" + key.replace("_", "-") if cli else key

    def setting(key: str, value: str) -> str:
        return f"{name(key)} {value}" if cli else f"{key}={value!r}"

    def takers(key: str, values: tuple[str, ...]) -> str:
        if cli or len(values) == 1:
            return setting(key, " / ".join(values) if cli else values[0])
        return f"{key} in {values}"

    idle = []
    for key, (acts, on, values) in option_scopes().items():
        if key in given and not acts(cfg):
            now = setting(on, _optimizer(cfg) if on == "optimizer" else getattr(cfg, on))
            if on == "optimizer" and cfg.optimizer is None:
                now += f" (the default of {setting('loss', cfg.loss)})"
            idle.append(
                f"{name(key)} is an option of {takers(on, values)}, "
                f"not of {now}: pass {setting(on, values[0])} or drop "
                f"{'the flag' if cli else name(key)}"
            )
    return idle


def warn_idle_options(cfg: TrainConfig) -> None:
    """An IdleOptionWarning for each TrainConfig field set away from its default that ``cfg``'s
    run ignores (:func:`idle_options`). A warning, not an error, in the API (as scikit-learn
    keeps an estimator's idle parameters): one config dict may serve several losses and
    architectures. The command line refuses such a flag (``pretrain.cli``)."""
    defaults = TrainConfig()
    changed = [
        f.name for f in dataclasses.fields(cfg) if getattr(cfg, f.name) != getattr(defaults, f.name)
    ]
    for message in idle_options(cfg, changed):
        warnings.warn(message, IdleOptionWarning, stacklevel=3)


def trainer_class(loss: type[Loss]) -> type[Trainer]:
    """The loop that trains ``loss``: VAETrainer for a VAELoss (encoder + decoder on the
    negative ELBO), Trainer for a GANLoss (n_critic D steps, then a G step)."""
    return VAETrainer if issubclass(loss, VAELoss) else Trainer


def load_training_data(cfg: TrainConfig) -> Tensor | Dataset:
    """The training split of cfg.dataset in [-1, 1]: a tensor when it fits in memory."""
    from ganinverse.data import dataset_size, image_dataset, load_images

    if cfg.n_train is not None:  # named as n_train (--n-train), not as load_images' n
        split = None if cfg.dataset in ("celeba", "folder") else "train"  # (their default)
        total = dataset_size(cfg.dataset, cfg.data_root, split)
        if cfg.n_train > total:
            where = "" if cfg.data_root is None else f" under {cfg.data_root}"
            raise ValueError(
                f"n_train (--n-train) = {cfg.n_train} exceeds the {total} training images of "
                f"{cfg.dataset!r}{where}; pass at most {total} or omit it"
            )
    if cfg.dataset in ("celeba", "folder"):
        ds = image_dataset(cfg.dataset, cfg.data_root, image_size=cfg.image_size)
        if cfg.n_train is not None:
            ds = torch.utils.data.Subset(ds, range(cfg.n_train))
        return ds
    images, _ = load_images(
        cfg.dataset, cfg.data_root, "train", n=cfg.n_train, image_size=cfg.image_size
    )
    return images


#: TrainConfig's dataset for a run on the images passed to ``train(cfg, data)``
GIVEN_DATA = "given"
#: the TrainConfig fields that choose the images (idle when they are passed)
DATA_FIELDS = ("dataset", "data_root", "n_train", "image_size")


def _given_data_config(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` for a run on images passed to ``train``: the fields that choose the images back
    to their defaults and ``dataset=GIVEN_DATA``; an IdleOptionWarning for each one set."""
    defaults = TrainConfig()
    for key in DATA_FIELDS:
        value = getattr(cfg, key)
        if value != getattr(defaults, key) and value != GIVEN_DATA:
            warnings.warn(
                f"{key}={value!r} selects nothing: the images passed as data are trained on "
                f"(the run records dataset={GIVEN_DATA!r}); drop {key} or pass no data",
                IdleOptionWarning,
                stacklevel=3,
            )
    fresh = {k: getattr(defaults, k) for k in DATA_FIELDS}
    return dataclasses.replace(cfg, **{**fresh, "dataset": GIVEN_DATA})


def _d_norm_refusal(cfg: TrainConfig):
    """For ``warmstart.preflight``: the sentence for a saved discriminator normalisation that
    ``cfg.loss`` refuses (passing it would be a dead end), naming the losses that take it."""
    rules = LOSSES[cfg.loss]

    def refusal(key: str, value: object) -> str | None:
        if key != "norm" or value not in rules.refused_d_norms:
            return None
        takers = [
            n
            for n, c in LOSSES.items()
            if issubclass(c, GANLoss) and value not in c.refused_d_norms
        ]
        return (
            f"which loss={cfg.loss!r} refuses ({rules.refused_d_norms[value]}): fine-tune it "
            f"with a loss that takes it: {', '.join(takers)} (--loss)"
        )

    return refusal


def _preflight_init(cfg: TrainConfig) -> None:
    """``warmstart.preflight`` of a resolved config's ``init``: its files and the sizes of the
    networks the run would build, before the training images are read."""
    cls = trainer_class(LOSSES[cfg.loss])

    def build(image_shape: tuple[int, ...]) -> dict[str, nn.Module]:
        with torch.random.fork_rng():  # (networks() seeds torch's global generators)
            G, other = cls.networks(cfg, image_shape)
        return {"generator": G, cls.CRITIC: other}

    preflight(cfg.init, build, (cls.CRITIC,), loss=cfg.loss, refusal=_d_norm_refusal(cfg))


def train(
    cfg: TrainConfig, data: Tensor | Dataset | None = None, *, resume: bool = False
) -> Trainer:
    """Train (or resume) a GAN, or a VAE (a VAELoss loss), as configured; returns the trainer.

    Every argument, the device, ``out`` and (for ``resume``) the checkpoint are checked before the
    data are read or anything is written: a failed start leaves ``out`` as it was.

    ``data``: (N, C, H, W) images in [-1, 1] (or a Dataset of them) to train on instead of
    ``cfg.dataset``. The run then records ``dataset="given"`` (cfg.dataset did not choose its
    images, and a card naming it would claim a provenance the run does not have); ``dataset``,
    ``data_root``, ``n_train`` and ``image_size`` set away from their defaults warn an
    IdleOptionWarning, as they select nothing.
    """
    _check_resume(Path(cfg.checked()[0].out), resume)
    if cfg.steps == 0 and not resume:  # a card for an untrained network
        raise ValueError(
            "steps (--steps) = 0 trains nothing: a new run would save an untrained generator "
            "as if trained; pass steps >= 1"
        )
    if data is not None:
        cfg = _given_data_config(cfg)
    if cfg.init is not None and not resume:  # (files and sizes: before the images are read)
        _preflight_init(cfg.checked()[0])
    if not resume:  # (a resumed run keeps its saved config as it was trained)
        warn_idle_options(cfg)
        if cfg.augment == "hflip" and cfg.dataset in NOT_MIRRORED:
            warnings.warn(
                f"augment='hflip' mirrors the {cfg.dataset!r} images, which are not mirror-"
                "symmetric (a mirrored digit is no digit): the generator learns mirrored ones "
                "too; pass augment='none' (--augment none) for them",
                UserWarning,
                stacklevel=2,
            )
    if data is None:
        if cfg.dataset == GIVEN_DATA:
            raise ValueError(
                f"dataset={GIVEN_DATA!r} names images passed to train(cfg, data): pass data, or "
                "name a dataset (ganinverse.data.SOURCES)"
            )
        data = load_training_data(cfg)
    trainer = trainer_class(LOSSES[cfg.loss])(cfg, data, resume=resume)
    trainer.run()
    return trainer
