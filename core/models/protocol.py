"""What every denoiser offers, whatever it denoises: images (the UNet, a diffusers UNet, the ideal
denoiser of a picture folder) or 2-D points (the playground's MLP, a Gaussian mixture's exact score).

Samplers need only the call; runs and the bound also read the schedule and the prediction type.
Image models add ``image_size`` and ``channels`` (:class:`~core.models.checkpoint.LoadedModel`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from core.diffusion.schedules import NoiseSchedule


@runtime_checkable
class Denoiser(Protocol):
    """Called on (x_t [B, …], t [B] array indices), returns its prediction of ``prediction`` ("eps", "x0", "v")."""

    schedule: NoiseSchedule
    prediction: str

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor: ...
