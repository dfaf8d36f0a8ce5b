"""`evaluate --denoise`: PSNR of x̂_0 per σ, on the same noise for every denoiser (#20)."""

import pytest
import torch

from core.diffusion.parameterization import x0_from_eps
from core.diffusion.schedules import NoiseSchedule
from core.training.denoise_eval import denoise_psnr, index_for_sigma, sigma_of_index


class _Fixed:
    """A denoiser that predicts x_0 by a given rule."""

    prediction = "x0"

    def __init__(self, schedule, rule):
        self.schedule, self.rule = schedule, rule

    def __call__(self, x, t):
        return self.rule(x, t)


def test_index_for_sigma_picks_the_step_whose_noise_level_is_nearest():
    s = NoiseSchedule.cosine(1000)
    for sigma in (0.1, 0.4, 0.8, 3.0):
        i = index_for_sigma(s, sigma)
        sig = sigma_of_index(s)
        assert abs(sig[i].log() - torch.log(torch.tensor(sigma, dtype=torch.float64))) <= min(
            abs(sig[i - 1].log() - sig[i].log()), abs(sig[i + 1].log() - sig[i].log())
        )


def test_an_oracle_is_perfect_and_the_do_nothing_denoiser_scores_the_noisy_input():
    s = NoiseSchedule.cosine(1000)
    x0 = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    oracle = _Fixed(s, lambda x, t: x0[: len(x)])
    identity = _Fixed(s, lambda x, t: x / s.alphas_cumprod[t].float().sqrt()[:, None, None, None])
    perfect = denoise_psnr(oracle, x0, (0.1, 0.8), batch_size=3)
    lazy = denoise_psnr(identity, x0, (0.1, 0.8), batch_size=3)
    assert perfect[0.1]["psnr"] > 100 and perfect[0.8]["psnr"] > 100
    for sigma in (0.1, 0.8):
        assert lazy[sigma]["psnr"] == pytest.approx(lazy[sigma]["psnr_noisy"], abs=1e-4)
    # noise of σ = 0.1 on a [−1, 1] range: PSNR ≈ 10 log10(4 / 0.01) = 26 dB (a little more: clipping)
    assert 25.5 < lazy[0.1]["psnr_noisy"] < 28.5 and lazy[0.8]["psnr_noisy"] < lazy[0.1]["psnr_noisy"] - 12


def test_the_same_seed_gives_every_denoiser_the_same_noise():
    s = NoiseSchedule.cosine(1000)
    x0 = torch.zeros(2, 3, 8, 8)
    seen = []

    def record(x, t):
        seen.append(x.clone())
        return x0_from_eps(s, x, t, torch.zeros_like(x))

    denoise_psnr(_Fixed(s, record), x0, (0.4,), seed=3)
    denoise_psnr(_Fixed(s, record), x0, (0.4,), seed=3)
    torch.testing.assert_close(seen[0], seen[1])


def test_resize_x0_keeps_a_flat_picture_flat_at_the_new_size():
    from core.training.denoise_eval import resize_x0

    x0 = torch.full((2, 3, 32, 32), 0.5)
    small = resize_x0(x0, 8)
    assert small.shape == (2, 3, 8, 8) and (small - 0.5).abs().max() < 0.01
