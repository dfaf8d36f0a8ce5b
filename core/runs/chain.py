"""A reverse run as the viewer shows it: one :class:`Frame` per step, with what the network predicted.

Used by the window's inference thread and by ``diffusion-viz export``; no Qt here. Frames hold float
tensors on the CPU (x_t, ε̂, x̂_0 in the model's units), so any view — x̂_0, ε̂, v̂, the score, the
truth beside them — is derived later by :mod:`core.runs.views` through :mod:`core.diffusion.parameterization`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.device import randn
from core.diffusion.forward import q_sample
from core.diffusion.parameterization import x0_eps_from_output
from core.diffusion.samplers import sample_loop
from core.diffusion.schedules import paper_t_from_index
from core.errors import DiffusionVizError
from core.imaging.images import center_square
from core.imaging.scaling import images_to_tensor
from core.models.checkpoint import LoadedModel
from core.runs.spec import RunSpec


@dataclass(frozen=True)
class Frame:
    """One recorded step. ``index`` is the array index of ``x_t`` (−1: the final clean sample)."""

    n: int
    num_steps: int
    index: int
    x_t: torch.Tensor  # [C, H, W] float32, CPU
    x0_hat: torch.Tensor  # what the sampler used (clipped if it clips)
    eps_hat: torch.Tensor | None  # None on the final frame

    @property
    def t(self) -> int:
        """The paper's t of x_t (0 for the final sample)."""
        return paper_t_from_index(self.index)

    @property
    def final(self) -> bool:
        return self.n >= self.num_steps

    @property
    def nbytes(self) -> int:
        eps = self.eps_hat.nbytes if self.eps_hat is not None else 0
        return self.x_t.nbytes + self.x0_hat.nbytes + eps


class NonFiniteOutput(DiffusionVizError):
    """The network returned NaN or ∞; the run stops there."""


def model_x0(model: LoadedModel, image: np.ndarray | None) -> torch.Tensor | None:
    """A uint8 RGB image at the model's size and channels, [1, C, H, W] in [−1, 1] (None stays None).

    Centre-cropped and resized; a one-channel model gets the grey mean. A model with another channel
    count cannot take a picture, and says so.
    """
    if image is None:
        return None
    if model.channels not in (1, 3):
        raise DiffusionVizError(
            f"{model.name} takes {model.channels}-channel inputs; a picture (RGB or grey) cannot be given to it"
        )
    x0 = images_to_tensor(center_square(image, model.image_size))
    return x0.mean(dim=1, keepdim=True) if model.channels == 1 else x0


def prepare_start(spec: RunSpec, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x at the start index on the model's device, the clean image or None). Noise from ``generator``."""
    model = spec.model
    shape = (1, model.channels, model.image_size, model.image_size)
    noise = randn(shape, generator, "cpu")
    x0 = model_x0(model, spec.image)
    x = noise if x0 is None else q_sample(model.schedule, x0, spec.start_index, noise)
    return x.to(model.device), x0


def run_chain(spec: RunSpec) -> Iterator[Frame]:
    """Frames of a whole reverse run, then one final frame of the result (index −1).

    Seeded by ``spec.config.seed``. A network output with NaN or ∞ stops the run with one message
    naming the step; the frames before it have been yielded.
    """
    model = spec.model
    gen = torch.Generator(device="cpu").manual_seed(spec.config.seed)
    x, _ = prepare_start(spec, gen)
    if model.device.type != "mps":
        x = x.contiguous(memory_format=torch.channels_last)
    last = None
    for step in sample_loop(
        model, model.schedule, spec.config, x, t_start=spec.start_index, prediction=model.prediction, generator=gen
    ):
        if not bool(torch.isfinite(step.model_output).all()):
            raise NonFiniteOutput(
                f"the model's output is not finite (NaN or ∞) at step {step.n + 1} of {step.num_steps} "
                f"(t = {paper_t_from_index(step.t)}); the run stopped there and the frames so far are kept"
            )
        last = step
        _, eps_hat = x0_eps_from_output(model.schedule, step.x_t, step.t, step.model_output, model.prediction)
        yield Frame(step.n, step.num_steps, step.t, _cpu(step.x_t), _cpu(step.x0_hat), _cpu(eps_hat))
    if last is not None:
        final = _cpu(last.x_prev.clamp(-1, 1))
        yield Frame(last.num_steps, last.num_steps, -1, final, final, None)


def _cpu(x: torch.Tensor) -> torch.Tensor:
    return x[0].float().cpu().contiguous()
