"""A reverse run, described once: the model, the sampler settings and where the chain starts.

The window reads its widgets into a :class:`RunSpec` when the user presses Play; the CLI builds one
from its arguments. Nothing downstream reads a widget or an argument again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.diffusion.samplers import SamplerConfig, ddim_timesteps
from core.diffusion.schedules import paper_t_from_index
from core.models.checkpoint import LoadedModel


@dataclass(frozen=True, eq=False)
class RunSpec:
    """One reverse run.

    ``image`` is None for a run from pure noise x_T ~ N(0, I); otherwise the uint8 RGB image is
    centre-cropped to the model's size, noised by q to array index ``t_start`` of the model's
    schedule and denoised from there (SDEdit, Meng et al. 2022).
    """

    model: LoadedModel
    config: SamplerConfig
    image: np.ndarray | None = None
    t_start: int | None = None

    @property
    def start_index(self) -> int:
        """The array index of the first x_t (T−1 for pure noise)."""
        T = self.model.schedule.T
        return T - 1 if self.image is None or self.t_start is None else int(self.t_start)

    @property
    def num_steps(self) -> int:
        """How many model calls the run makes (its frames are this plus the final sample)."""
        if self.config.sampler == "ddpm":
            return self.start_index + 1
        return len(ddim_timesteps(self.start_index + 1, min(self.config.steps, self.start_index + 1)))


def explain_start(model: LoadedModel | None, from_noise: bool, has_image: bool, start_index: int | None) -> str:
    """The sentence under the reverse panel: where a run with these settings would start.

    One function of the current settings, so the text can never describe an older choice.
    ``start_index`` is the model's array index the forward panel's t maps to (−1: its t is 0).
    """
    if model is None:
        return "Open a model to run its reverse chain."
    size = f"{model.image_size}×{model.image_size}"
    if from_noise or not has_image:
        return f"Starts from pure noise x_T ~ N(0, I) at the model's {size}, t = T = {model.schedule.T}."
    if start_index is None or start_index < 0:
        return (
            "The forward panel is at t = 0: move its slider to choose how much noise to add before "
            "denoising (the 'strength'), or start from pure noise."
        )
    return (
        f"Your image is centre-cropped to {size} (the model's resolution), noised by q to "
        f"t = {paper_t_from_index(start_index)} of the model's schedule (T = {model.schedule.T}) and denoised from there."
    )
