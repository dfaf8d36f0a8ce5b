"""DDIM inversion as the viewer shows it: the image walked up to x_T by deterministic DDIM, then back down.

Deterministic DDIM (η = 0) is an ODE discretisation, so it can be run backwards: each step up keeps the
model's x̂_0 and ε̂ and moves to the next ᾱ (Song et al. 2021, Eq. 12 upwards). Decoding x_T with the same
steps gives the image back as far as the model's predictions agree along the path; the PSNR says how far.
Inversion always uses η = 0, whatever sampler the reverse panel has selected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.diffusion.samplers import InversionStep, ddim_round_trip
from core.diffusion.schedules import paper_t_from_index
from core.imaging.scaling import psnr
from core.models.checkpoint import LoadedModel
from core.runs.chain import NonFiniteOutput, model_x0


@dataclass(frozen=True)
class InversionFrame:
    """One picture of the round trip: ``phase`` is "invert" (going up) or "decode" (coming down)."""

    phase: str
    n: int
    num_steps: int
    paper_t: int  # the paper's t of x
    x: torch.Tensor  # [C, H, W]
    x0: torch.Tensor  # the clean image at the model's size
    reconstruction: torch.Tensor | None = None  # on the last frame
    psnr: float | None = None  # on the last frame, in dB


def inversion_frames(
    model: LoadedModel, image: np.ndarray, steps: int = 50, size: int | None = None
) -> Iterator[InversionFrame]:
    """Frames up from x_0 to x_T (``steps`` DDIM steps), then down again; the last carries the PSNR.

    ``size`` is the side of x_t in px (default the model's own).
    """
    x0 = model_x0(model, image, size).to(model.device)
    clean = _cpu(x0)
    last = None
    for step in ddim_round_trip(model, model.schedule, x0, steps, model.prediction):
        if isinstance(step, InversionStep):
            if not bool(torch.isfinite(step.x_next).all()):
                raise NonFiniteOutput(f"the inversion produced NaN or ∞ at t = {paper_t_from_index(step.next_index)}")
            t = paper_t_from_index(step.next_index)
            yield InversionFrame("invert", step.n + 1, step.num_steps, t, _cpu(step.x_next), clean)
        else:
            last = step
            yield InversionFrame(
                "decode", step.n, step.num_steps, paper_t_from_index(step.index), _cpu(step.x_t), clean
            )
    reconstruction = _cpu(last.x_prev)
    yield InversionFrame(
        "decode", last.num_steps, last.num_steps, 0, reconstruction, clean, reconstruction, psnr(reconstruction, clean)
    )


def _cpu(x: torch.Tensor) -> torch.Tensor:
    return x[0].float().cpu()
