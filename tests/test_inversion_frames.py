"""The inversion's last frame is what decoding gave back, for a model whose round trip is not exact."""

import numpy as np
import torch

from core.diffusion.samplers import invert_and_reconstruct
from core.diffusion.schedules import NoiseSchedule
from core.imaging.scaling import psnr
from core.models.loaded import LoadedModel
from core.runs.chain import model_x0
from core.runs.inversion import inversion_frames


class ShrinkingEps(torch.nn.Module):
    """ε̂ = 0.3 x: a wrong model, so each decoding step moves x (the ideal denoiser of one image never does)."""

    def forward(self, x, t):
        return 0.3 * x


def test_the_reconstruction_and_its_psnr_are_of_the_decoded_image_not_the_last_steps_input():
    s = NoiseSchedule.linear(100)
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    model = LoadedModel(ShrinkingEps(), s, "eps", 8, 3, torch.device("cpu"), "shrinking ε")
    frames = list(inversion_frames(model, image, steps=10))
    last, before = frames[-1], frames[-2]
    _, decoded = invert_and_reconstruct(model, s, model_x0(model, image), 10, "eps")
    torch.testing.assert_close(last.reconstruction, decoded[0].float(), atol=1e-5, rtol=0)
    assert (last.reconstruction - before.x).abs().max() > 0.01  # the last step moved x: the two are told apart
    assert last.psnr == psnr(last.reconstruction, last.x0) and last.paper_t == 0
