"""A reverse run as the viewer shows it: one :class:`Frame` per step, with what the network predicted.

Used by the window's inference thread and by ``diffusion-viz export``; no Qt here. Frames hold float
tensors on the CPU (x_t, ε̂, x̂_0 in the model's units), so any view — x̂_0, ε̂, v̂, the score, the
truth beside them — is derived later by :mod:`core.runs.views` through :mod:`core.diffusion.parameterization`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.device import randn
from core.diffusion.forward import q_sample
from core.diffusion.schedulers import sample_loop, sampling_schedule
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
    def paper_t(self) -> int:
        """The paper's t of x_t (0 for the final sample)."""
        return paper_t_from_index(self.index)

    @property
    def t(self) -> int:
        """The same as :attr:`paper_t` (the name the views used first)."""
        return self.paper_t

    @property
    def final(self) -> bool:
        return self.n >= self.num_steps

    @property
    def predicted(self) -> bool:
        """False for the final sample and for a run's start before its first step (no x̂₀ of its own)."""
        return not self.final and self.eps_hat is not None

    @property
    def nbytes(self) -> int:
        eps = self.eps_hat.nbytes if self.eps_hat is not None else 0
        return self.x_t.nbytes + self.x0_hat.nbytes + eps


class NonFiniteOutput(DiffusionVizError):
    """The network returned NaN or ∞; the run stops there."""


# The model-size x₀ of the last few (image, size, channels): the forward slider asks for the start on
# every step, and a 12-megapixel photo takes ~150 ms to crop and resize. Entries hold the image itself,
# so an id is never reused while its entry lives; images are never changed in place in this program.
_X0_CACHE: OrderedDict[tuple[int, int, int], tuple[np.ndarray, torch.Tensor]] = OrderedDict()
_X0_CACHE_SIZE = 4
_X0_LOCK = threading.Lock()


def model_x0(model: LoadedModel, image: np.ndarray | None, size: int | None = None) -> torch.Tensor | None:
    """A uint8 RGB image at ``size`` px (default the model's) and the model's channels, [1, C, H, W] in [−1, 1].

    Centre-cropped and resized once per (image, size, channels), then served from a small cache; None
    stays None. A one-channel model gets the grey mean. A model with another channel count cannot take
    a picture, and says so.
    """
    if image is None:
        return None
    if model.channels not in (1, 3):
        raise DiffusionVizError(
            f"{model.name} takes {model.channels}-channel inputs; a picture (RGB or grey) cannot be given to it"
        )
    size = model.image_size if size is None else int(size)
    key = (id(image), size, model.channels)
    with _X0_LOCK:
        hit = _X0_CACHE.get(key)
        if hit is not None and hit[0] is image:
            _X0_CACHE.move_to_end(key)
            return hit[1].clone()
    x0 = images_to_tensor(center_square(image, size))
    x0 = x0.mean(dim=1, keepdim=True) if model.channels == 1 else x0
    with _X0_LOCK:
        _X0_CACHE[key] = (image, x0)
        while len(_X0_CACHE) > _X0_CACHE_SIZE:
            _X0_CACHE.popitem(last=False)
    return x0.clone()


def prepare_start(spec: RunSpec, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x at the start index on the model's device, the clean image or None). Noise from ``generator``.

    The noise is drawn first, at the run's size, so a run from an image and one from pure noise with
    the same seed share it; the sampler's own draws continue from the same generator.
    """
    model = spec.model
    noise = randn(spec.shape, generator, "cpu")
    x0 = model_x0(model, spec.image, spec.size)
    schedule = sampling_schedule(spec.config, model.schedule, model.prediction)  # zero terminal SNR rescales it
    x = noise if x0 is None else q_sample(schedule, x0, spec.start_index, noise)  # Eq. 4
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
                f"(t = {paper_t_from_index(step.index)}); the run stopped there and the frames so far are kept"
            )
        last = step
        yield Frame(step.n, step.num_steps, step.index, _cpu(step.x_t), _cpu(step.x0_hat), _cpu(step.eps_hat))
    if last is not None:
        final = _cpu(last.x_prev.clamp(-1, 1))
        yield Frame(last.num_steps, last.num_steps, -1, final, final, None)


def _cpu(x: torch.Tensor) -> torch.Tensor:
    return x[0].float().cpu().contiguous()
