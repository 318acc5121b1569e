"""ganinverse: a pretrained GAN as the prior for inverse problems in imaging.

import ganinverse as gi
G = gi.load_generator("digits")
A = gi.GaussianCS(G.image_shape, m=100, seed=0)
result = gi.csgm(G, A, A.measure(x))
"""

from . import baselines, bases, data, defense, methods, metrics, sweep
from .baselines import SparseResult
from .data import from_unit, load_images, to_unit
from .latent import LatentConfig, LatentObjective, LatentResult, optimize_latent
from .methods import (
    METHODS,
    LassoResult,
    Method,
    Tuned,
    choose_weight,
    get_method,
    lasso,
    reconstruct,
    reconstruct_result,
    register_method,
)
from .models import list_generators, load_classifier, load_discriminator, load_generator
from .operators import (
    GaussianCS,
    Identity,
    Inpainting,
    LinearOperator,
    MatrixOperator,
    Subsample,
    SuperResolution,
    make_operator,
)
from .solvers.csgm import csgm, csgm_sparse
from .solvers.inpainting import InpaintingResult, inpaint, inpaint_operator

__version__ = "0.1.0"

__all__ = [
    "GaussianCS",
    "Identity",
    "Inpainting",
    "InpaintingResult",
    "LassoResult",
    "LatentConfig",
    "LatentObjective",
    "LatentResult",
    "LinearOperator",
    "METHODS",
    "MatrixOperator",
    "Method",
    "SparseResult",
    "Subsample",
    "SuperResolution",
    "Tuned",
    "bases",
    "baselines",
    "choose_weight",
    "csgm",
    "csgm_sparse",
    "data",
    "defense",
    "from_unit",
    "get_method",
    "inpaint",
    "inpaint_operator",
    "lasso",
    "list_generators",
    "load_classifier",
    "load_discriminator",
    "load_generator",
    "load_images",
    "make_operator",
    "methods",
    "metrics",
    "optimize_latent",
    "reconstruct",
    "reconstruct_result",
    "register_method",
    "sweep",
    "to_unit",
]
