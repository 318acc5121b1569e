"""What a training run writes as it goes: loss curves (CSV + PNG) and sample grids (PNG)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import torch
from torch import Tensor
from torchvision.utils import make_grid, save_image

from ganinverse.io import atomic_write, atomic_write_text

#: column name -> curve label; a GAN logs (d_loss, g_loss), the VAE (recon, kl)
LABELS = {
    "d_loss": "D / critic loss",
    "g_loss": "G loss",
    "recon": "reconstruction (nats)",
    "kl": "KL (nats)",
}


class LossLog:
    """Rows (step, the two losses, seconds of training) kept in memory, rewritten atomically."""

    def __init__(
        self,
        path: str | os.PathLike,
        resume_step: int | None = None,
        names: tuple[str, str] = ("d_loss", "g_loss"),
    ) -> None:
        self.path = Path(path)
        self.names = names
        self.rows: list[dict[str, float]] = []
        if resume_step is not None and self.path.is_file():
            with self.path.open() as f:
                self.rows = [
                    {k: float(v) for k, v in row.items()}
                    for row in csv.DictReader(f)
                    if int(float(row["step"])) <= resume_step
                ]
        #: a resumed run's clock starts at 0; its rows continue the saved run's seconds
        self.offset = self.rows[-1]["seconds"] if self.rows else 0.0

    def append(self, step: int, first: float, second: float, seconds: float) -> None:
        row = dict(zip(self.names, (first, second), strict=True))
        self.rows.append({"step": step, **row, "seconds": self.offset + seconds})

    def write(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(
            buf, fieldnames=("step", *self.names, "seconds"), lineterminator="\n"
        )
        writer.writeheader()
        for row in self.rows:
            writer.writerow({**row, "step": int(row["step"])})
        atomic_write_text(self.path, buf.getvalue())

    def plot(self, path: str | os.PathLike, title: str = "") -> None:
        """Both losses against the training step (PNG)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        steps = [r["step"] for r in self.rows]
        for name in self.names:
            ax.plot(steps, [r[name] for r in self.rows], label=LABELS.get(name, name), lw=1)
        ax.set_xlabel("generator step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100))
        plt.close(fig)


def save_grid(images: Tensor, path: str | os.PathLike, nrow: int = 8) -> None:
    """Save images (B, C, H, W) in [-1, 1] as one PNG grid (atomically)."""
    grid = make_grid(
        images.detach().float().cpu().clamp(-1, 1),
        nrow=nrow,
        padding=2,
        normalize=True,
        value_range=(-1, 1),
        pad_value=1.0,
    )
    atomic_write(path, lambda p: save_image(grid, p, format="png"))


def sample_grid(generator: torch.nn.Module, z: Tensor, path: str | os.PathLike) -> None:
    """G(z) for a fixed z, in eval mode, saved as a grid."""
    with torch.no_grad():
        save_grid(generator.eval()(z), path, nrow=int(len(z) ** 0.5))
