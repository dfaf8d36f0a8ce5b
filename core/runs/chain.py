"""A reverse run as the viewer shows it: uint8 frames of x_t and x̂_0, one per step.

Used by the window's worker thread and by ``diffusion-viz export``; no Qt here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.diffusion.forward import q_sample
from core.diffusion.samplers import SamplerConfig, sample_loop
from core.diffusion.schedules import paper_t_from_index
from core.imaging.images import center_square
from core.models.checkpoint import LoadedModel


@dataclass(frozen=True)
class Frame:
    """One recorded step: ``t`` is the paper's t of ``x_t`` (0 = the final clean sample)."""

    n: int
    num_steps: int
    t: int
    x_t: np.ndarray
    x0_hat: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.x_t.nbytes + self.x0_hat.nbytes


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """[1, C, H, W] in [−1, 1] → uint8 [H, W, 3], converted on the device before the transfer."""
    u8 = ((x[0].clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    if u8.shape[0] == 1:
        u8 = u8.expand(3, -1, -1)
    return u8.permute(1, 2, 0).contiguous().cpu().numpy()


def prepare_start(
    model: LoadedModel, image: np.ndarray | None, t_start: int, generator: torch.Generator
) -> torch.Tensor:
    """x at index ``t_start``: pure noise, or ``image`` (uint8 RGB) at the model's size noised by q."""
    shape = (1, model.channels, model.image_size, model.image_size)
    noise = torch.randn(shape, generator=generator)
    if image is None:
        return noise.to(model.device)
    square = center_square(image, model.image_size).astype(np.float32) / 127.5 - 1.0
    x0 = torch.from_numpy(square).permute(2, 0, 1)[None]
    if model.channels == 1:
        x0 = x0.mean(dim=1, keepdim=True)
    return q_sample(model.schedule, x0, t_start, noise).to(model.device)


def run_chain(
    model: LoadedModel, config: SamplerConfig, image: np.ndarray | None = None, t_start: int | None = None
) -> Iterator[Frame]:
    """Frames of a whole reverse run, then one final frame of the result (t = 0).

    ``image=None`` starts from pure noise at T−1; otherwise the image is noised to array
    index ``t_start`` and denoised from there (SDEdit). Seeded by ``config.seed``.
    """
    T = model.schedule.T
    t_start = T - 1 if t_start is None or image is None else int(t_start)
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    x = prepare_start(model, image, t_start, gen)
    if model.device.type != "mps":
        x = x.contiguous(memory_format=torch.channels_last)
    last = None
    for step in sample_loop(
        model, model.schedule, config, x, t_start=t_start, prediction=model.prediction, generator=gen
    ):
        last = step
        yield Frame(
            step.n, step.num_steps, paper_t_from_index(step.t), tensor_to_uint8(step.x_t), tensor_to_uint8(step.x0_hat)
        )
    if last is not None:
        final = tensor_to_uint8(last.x_prev)
        yield Frame(last.num_steps, last.num_steps, 0, final, final)
