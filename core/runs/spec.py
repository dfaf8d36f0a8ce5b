"""A reverse run, described once: the model, the sampler settings, the image, where the chain starts, its size.

The window reads its widgets into a :class:`RunSpec`; the CLI builds one from its arguments. Two specs are
equal exactly when they describe the same run (the same model and image objects, equal settings), so
"have the settings changed?" is ``spec != session.spec``. Nothing downstream reads a widget again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.diffusion.samplers import SamplerConfig
from core.diffusion.schedulers import model_scheduler
from core.diffusion.schedules import NoiseSchedule, index_from_paper_t, matching_index, paper_t_from_index
from core.models.checkpoint import LoadedModel


def start_index(forward: NoiseSchedule, paper_t: int, model: NoiseSchedule) -> int:
    """The model's array index that is as noisy as the forward panel's image at its ``paper_t``.

    "The forward image at its t" means the same noise level for every tab: the index of ``model``
    whose ᾱ is closest to ᾱ_t of the ``forward`` schedule (the one the user sees), −1 at t = 0.
    A fraction of T would not do: linear t = 400 has ᾱ ≈ 0.20, cosine index 399 has ᾱ ≈ 0.65.
    """
    return matching_index(forward, index_from_paper_t(paper_t), model)


@dataclass(frozen=True)
class RunSpec:
    """One reverse run.

    ``image`` is None for a run from pure noise x_T ~ N(0, I); otherwise the uint8 RGB image is
    centre-cropped to ``size`` px, noised by q to array index ``t_start`` of the model's schedule
    and denoised from there (SDEdit, Meng et al. 2022). ``size`` (the side of x_t, in px) defaults
    to the model's own ``image_size``; a fully convolutional model runs at other sizes too.

    The model and the image compare by identity (a run of another model object, or of another
    loaded picture, is another run); everything else by value.
    """

    model: LoadedModel = field(compare=False)
    config: SamplerConfig
    image: np.ndarray | None = field(default=None, compare=False)
    t_start: int | None = None
    size: int | None = None
    _identity: tuple = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        size = self.model.image_size if self.size is None else int(self.size)
        if size < 1:
            raise ValueError(f"the run's size must be a positive number of pixels, got {size}")
        object.__setattr__(self, "size", size)
        # Holding the objects keeps their ids from being reused while this spec lives.
        object.__setattr__(self, "_identity", (id(self.model), None if self.image is None else id(self.image)))

    @property
    def start_index(self) -> int:
        """The array index of the first x_t (T−1 for pure noise)."""
        T = self.model.schedule.T
        return T - 1 if self.image is None or self.t_start is None else int(self.t_start)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The shape of x_t: [1, C, size, size]."""
        return (1, self.model.channels, self.size, self.size)

    @property
    def num_steps(self) -> int:
        """How many model calls the run makes (its frames are this plus the final sample)."""
        return len(model_scheduler(self.model, self.config, self.start_index).timesteps())


def explain_start(
    model: LoadedModel | None, from_noise: bool, has_image: bool, start_index: int | None, size: int | None = None
) -> str:
    """The sentence under the reverse panel: where a run with these settings would start.

    One function of the current settings, so the text can never describe an older choice.
    ``start_index`` is the model's array index the forward panel's t maps to (−1: its t is 0).
    """
    if model is None:
        return "Open a model to run its reverse chain."
    side = model.image_size if size is None else size
    own = " (the model's resolution)" if side == model.image_size else ""
    size_text = f"{side}×{side}"
    if from_noise or not has_image:
        return f"Starts from pure noise x_T ~ N(0, I) at {size_text}{own}, t = T = {model.schedule.T}."
    if start_index is None or start_index < 0:
        return (
            "The forward panel is at t = 0: move its slider to choose how much noise to add before "
            "denoising (the 'strength'), or start from pure noise."
        )
    return (
        f"Your image is centre-cropped to {size_text}{own}, noised by q to "
        f"t = {paper_t_from_index(start_index)} of the model's schedule (T = {model.schedule.T}) and denoised from there."
    )
