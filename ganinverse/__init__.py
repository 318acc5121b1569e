"""ganinverse: a pretrained GAN as the prior for inverse problems in imaging.

import ganinverse as gi
G = gi.load_generator("digits")
A = gi.GaussianCS(G.image_shape, m=100, seed=0)
result = gi.csgm(G, A, A.measure(x))
"""

from . import baselines, bases, data, metrics
from .data import load_images, to_unit
from .latent import LatentConfig, LatentObjective, LatentResult, optimize_latent
from .models import list_generators, load_discriminator, load_generator
from .operators import GaussianCS, Identity, Inpainting, Subsample, SuperResolution, make_operator
from .solvers.csgm import csgm, csgm_sparse
from .solvers.inpainting import inpaint

__version__ = "0.1.0"

__all__ = [
    "GaussianCS",
    "Identity",
    "Inpainting",
    "LatentConfig",
    "LatentObjective",
    "LatentResult",
    "Subsample",
    "SuperResolution",
    "bases",
    "baselines",
    "csgm",
    "csgm_sparse",
    "data",
    "inpaint",
    "list_generators",
    "load_discriminator",
    "load_generator",
    "load_images",
    "make_operator",
    "metrics",
    "optimize_latent",
    "to_unit",
]
