"""Warning categories of ganinverse, so users can filter them (``warnings.simplefilter``).

``ConvergenceWarning`` subclasses scikit-learn's, so a filter set for either silences both.
``InterruptedWriteWarning`` says a checkpoint was found torn by a kill and its previous complete
version was loaded.
``IncompleteSweepWarning`` says a sweep was summarised before all its rows existed.
``ZeroGradientWarning`` says an attack's input gradient was exactly zero for every image: the
attack could not move them (a defense that hides its gradient, or a saturated classifier).
``DegeneratePriorWarning`` says a prior's samples (the Gaussian's) barely vary: y barely moves x̂.
"""

from __future__ import annotations

import os
import sys

import torch
from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning
from torch import Tensor

#: a loss within this relative change of its start after every step "barely moved"
STALL_RTOL = 1e-3


class ConvergenceWarning(_SklearnConvergenceWarning):
    """A solver stopped before its stopping rule held (max_iter reached, no step improved the
    start, non-finite losses). The result says so too (e.g. ``converged`` / ``improved`` fields)."""


class InterruptedWriteWarning(UserWarning):
    """A weights + JSON pair was found half written (a process was killed while saving it); the
    previous complete pair (``<stem>.prev.*``) was loaded instead."""


class IncompleteSweepWarning(UserWarning):
    """A sweep folder was summarised (``sweep-merge``, a report) before every row of its
    ``sweep.json`` existed: a shard not run or not finished. The summary says so too."""


class ZeroGradientWarning(UserWarning):
    """A gradient attack saw an input gradient of exactly zero for every image of a batch, so
    its step left them where they were. Typical cause: the model hides its gradient (a
    projection defense differentiated through a non-differentiable loop, as the released
    Defense-GAN evaluation did); use BPDA or the tangent backward. A classifier whose softmax
    saturates for every image (float32) does the same."""


class GridEdgeWarning(UserWarning):
    """A weight search chose the largest or smallest of its candidates while the validation
    error still fell toward it: the best weight may lie beyond the grid; extend it."""


class ConversionWarning(UserWarning):
    """Images were brought to the generator's or the folder's format with a loss the file does
    not show: colour files made grey, non-square files stretched to a square, 16-bit files whose
    values fit in 8 bits (likely 8-bit data saved wide, read near black)."""


class DatasetMismatchWarning(UserWarning):
    """A generator whose card records that it was trained on another dataset than the images it
    is run on (``--dataset``): its prior is the other dataset's, so the results measure images
    from outside its training data. Commands that need the two to agree (``tune``, ``defend
    eval``, ``train-classifier``) refuse it; the reconstructions warn and record it
    (``generator_trained_on`` in summary.json, a Flagged line in a sweep's summary.md)."""


class DegeneratePriorWarning(UserWarning):
    """A prior estimated from samples has (almost) no spread, so the measurements barely move
    the reconstruction: the Gaussian prior's samples (a samples file of one image repeated, a
    generator that makes one image whatever z) whose covariance is zero (x̂ is their mean
    whatever y) or of rank one (x̂ moves along one image only)."""


#: frames that are never the user's line: ganinverse's own, torch's (a defense's ``forward``
#: runs under ``nn.Module.__call__``); and generated code ("<string>": a dataclass's __init__;
#: skipped unless it is the outermost frame, ``python -c``'s)
_NOT_USER = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,
)


def _not_user(filename: str) -> bool:
    return filename.startswith(_NOT_USER) or filename == "<string>"


def user_stacklevel() -> int:
    """The ``stacklevel`` of ``warnings.warn`` that names the user's line that called the
    library (as pandas' ``find_stack_level``): the first frame outside ganinverse, torch and
    generated code, however deep the warning is raised (``gi.reconstruct("iagan", ...)``: the
    solver's warning names the user's call, not methods.py; a defense called as ``d(x)``: the
    user's line, not torch's module.py). Call it in the ``warnings.warn`` call itself."""
    frame, level = sys._getframe(1), 1  # (level 1: the function calling warnings.warn)
    while frame.f_back is not None and _not_user(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    return level


class IdleOptionWarning(UserWarning):
    """An option was set that the chosen configuration does not use (a discriminator width for a
    VAE, MLP widths for a DCGAN, Adam betas for RMSprop, ...): it has no effect. The command line
    refuses such a flag; the API warns, as one config may serve several runs."""


class EngineIdleOptionWarning(IdleOptionWarning):
    """An IdleOptionWarning about an option of the latent engine (``LatentConfig``:
    ``latent.warn_idle_options``); a caller that warns about its engine options itself filters
    this category (``ProjectionDefense``)."""


class SolverIdleOptionWarning(IdleOptionWarning):
    """An IdleOptionWarning about a solver's own option (:func:`warn_idle`); a caller that warns
    about those options in its own words filters this category (the ``ilo`` method record)."""


def warn_idle(solver: str, set_options: dict, needs: str) -> None:
    """An IdleOptionWarning for each of ``set_options`` ({name: (value, default)}) set away from
    its default, which ``solver`` ignores unless ``needs`` (e.g. "steps > 0") holds."""
    import warnings

    for name, (value, default) in set_options.items():
        if value != default:
            warnings.warn(
                f"{solver}: {name}={value!r} changes nothing here: it acts only when {needs}; "
                "drop it or set that",
                SolverIdleOptionWarning,
                stacklevel=user_stacklevel(),
            )


__all__ = [
    "ConvergenceWarning",
    "EngineIdleOptionWarning",
    "IdleOptionWarning",
    "SolverIdleOptionWarning",
    "IncompleteSweepWarning",
    "InterruptedWriteWarning",
    "ZeroGradientWarning",
]


def no_progress_advice(start: Tensor, last: Tensor) -> str:
    """The likely fix for a search in which no step improved an image's start, judged from each
    such image's loss at the start and at the last iterate (1-D tensors, one entry per image):

    - the loss became non-finite or rose above its start by more than ``STALL_RTOL`` (relative):
      the steps overshoot, "lower lr";
    - it stayed within ``STALL_RTOL`` of its start: the steps are too small to move it (a tiny
      lr, or too few steps), "raise lr or steps".

    Both are named when the images differ; "check the inputs" always closes the advice.
    """
    start, last = start.detach().double().cpu(), last.detach().double().cpu()
    rel = (last - start) / start.abs().clamp_min(1e-30)
    bad = ~torch.isfinite(last)
    rose = ~bad & (rel > STALL_RTOL)
    parts = []
    if bool((bad | rose).any()):
        how = " or became non-finite" if bool(bad.any()) else ""
        parts.append(f"lower lr (the loss rose above its start{how})")
    if bool((~bad & ~rose).any()):
        parts.append("raise lr or steps (the loss barely moved from its start)")
    return "; ".join(parts) + "; or check the inputs"


def grid_edge(scores: list, best: int) -> str | None:
    """``"largest"`` or ``"smallest"`` when, among two or more numeric candidates ``scores``
    ([(value, validation MSE)]; an MSE None or NaN: a diverged candidate), the chosen one
    (index ``best``) is the largest or the smallest and the MSE fell from its neighbour in
    value to it (the best weight may lie beyond that edge of the grid; of two candidates the
    choice is always at an edge, marked where the other's MSE was higher); else None."""
    if len(scores) < 2 or not all(isinstance(v, (int, float)) for v, _ in scores):
        return None
    ranked = sorted(range(len(scores)), key=lambda i: float(scores[i][0]))
    if best not in (ranked[0], ranked[-1]):
        return None
    neighbour = ranked[1] if best == ranked[0] else ranked[-2]
    there, here = scores[neighbour][1], scores[best][1]
    if there is None or here is None or not there > here:  # (a NaN neighbour: no trend)
        return None
    return "smallest" if best == ranked[0] else "largest"


def warn_grid_edge(who: str, scores: list, best: int) -> None:
    """:class:`GridEdgeWarning` where ``grid_edge(scores, best)`` finds the chosen weight at
    an edge of its grid with the validation MSE still falling toward it."""
    import warnings

    side = grid_edge(scores, best)
    if side is None:
        return
    neighbour = sorted(range(len(scores)), key=lambda i: float(scores[i][0]))[
        1 if side == "smallest" else -2
    ]
    warnings.warn(
        f"{who}: the chosen weight {scores[best][0]!r} is the {side} of the {len(scores)} "
        f"candidates and the validation MSE still fell toward it ({scores[neighbour][0]!r}: "
        f"{scores[neighbour][1]:.4g} -> {scores[best][1]:.4g}); the best weight may lie beyond "
        f"the grid: extend it past {scores[best][0]!r}",
        GridEdgeWarning,
        stacklevel=user_stacklevel(),
    )
