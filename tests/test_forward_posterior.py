"""q(x_t|x_0), q(x_t|x_{t−1}) and the posterior, checked against independent derivations."""

import math

import numpy as np
import pytest
import torch

from core.diffusion.forward import ForwardPictures, IterativeChain, q_sample, q_step
from core.diffusion.posterior import p_mean_variance, q_posterior_mean_variance
from core.diffusion.schedules import NoiseSchedule
from core.imaging.scaling import float_to_uint8


def test_iterated_q_step_matches_closed_form_in_distribution(gen):
    s = NoiseSchedule.linear()
    n, steps = 200_000, 300
    x0 = torch.tensor([-0.8, 0.1, 0.9], dtype=torch.float64)
    x = x0.expand(n, 3).clone()
    for t in range(steps):
        x = q_step(s, x, t, torch.randn(x.shape, generator=gen, dtype=torch.float64))
    abar = s.alphas_cumprod[steps - 1].item()
    expected_mean = math.sqrt(abar) * x0
    expected_var = 1 - abar
    # Tolerance: 5 standard errors of the Monte-Carlo mean and of the sample variance.
    assert torch.allclose(x.mean(0), expected_mean, atol=5 * math.sqrt(expected_var / n))
    assert torch.allclose(
        x.var(0), torch.full((3,), expected_var, dtype=torch.float64), atol=5 * expected_var * math.sqrt(2 / n)
    )
    closed = q_sample(s, x0.expand(n, 3), steps - 1, torch.randn((n, 3), generator=gen, dtype=torch.float64))
    assert torch.allclose(closed.mean(0), expected_mean, atol=5 * math.sqrt(expected_var / n))


def test_q_sample_with_per_sample_timesteps():
    s = NoiseSchedule.cosine(100)
    x0 = torch.ones(2, 1, 2, 2, dtype=torch.float64)
    noise = torch.zeros_like(x0)
    out = q_sample(s, x0, torch.tensor([0, 99]), noise)
    assert out[0, 0, 0, 0].item() == pytest.approx(s.sqrt_alphas_cumprod[0].item())
    assert out[1, 0, 0, 0].item() == pytest.approx(s.sqrt_alphas_cumprod[99].item())


@pytest.mark.parametrize("t", [1, 10, 500, 999])
def test_posterior_equals_bayes_rule_on_a_grid(t):
    # q(x_{t−1}|x_t,x_0) ∝ q(x_t|x_{t−1}) q(x_{t−1}|x_0), integrated numerically on a fine grid.
    s = NoiseSchedule.linear()
    x0, xt = 0.3, -0.4
    abar_prev = s.alphas_cumprod[t - 1].item()
    alpha, beta = s.alphas[t].item(), s.betas[t].item()
    prior_mean, prior_var = math.sqrt(abar_prev) * x0, 1 - abar_prev
    mean_guess, sd_guess = prior_mean, math.sqrt(min(prior_var, beta))
    grid = np.linspace(mean_guess - 60 * sd_guess - 2, mean_guess + 60 * sd_guess + 2, 2_000_001)
    log_p = -((xt - math.sqrt(alpha) * grid) ** 2) / (2 * beta) - (grid - prior_mean) ** 2 / (2 * prior_var)
    w = np.exp(log_p - log_p.max())
    w /= w.sum()
    bayes_mean = float((w * grid).sum())
    bayes_var = float((w * (grid - bayes_mean) ** 2).sum())

    mean, var, log_var = q_posterior_mean_variance(
        s, torch.tensor([x0], dtype=torch.float64), torch.tensor([xt], dtype=torch.float64), t
    )
    assert mean.item() == pytest.approx(bayes_mean, rel=1e-6, abs=1e-9)
    assert var.item() == pytest.approx(bayes_var, rel=1e-4)
    assert log_var.item() == pytest.approx(math.log(bayes_var), abs=1e-4)


def test_posterior_at_first_step_is_the_clean_image_without_nan():
    s = NoiseSchedule.linear()
    x0 = torch.tensor([0.5, -0.5], dtype=torch.float64)
    xt = torch.tensor([1.0, 2.0], dtype=torch.float64)
    mean, var, log_var = q_posterior_mean_variance(s, x0, xt, 0)
    assert torch.allclose(mean, x0)
    assert (var == 0).all()
    assert torch.isfinite(log_var).all()


def test_the_scrub_picture_is_eq_4_in_display_units():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (40, 24, 3), dtype=np.uint8)
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    schedule = NoiseSchedule.cosine()
    pictures = ForwardPictures(image, noise)
    assert np.array_equal(pictures.at(schedule, -1), image)  # paper t = 0 is the image itself
    x0 = image.astype(np.float32) / 127.5 - 1
    for t in (0, 10, 499, 999):
        expected = float_to_uint8(q_sample(schedule, torch.from_numpy(x0), t, torch.from_numpy(noise)).numpy())
        expected = expected.astype(int)
        assert np.abs(pictures.at(schedule, t).astype(int) - expected).max() <= 1


def test_fixed_large_takes_beta_for_the_variance_and_its_log():
    """σ² = β_t (Ho et al. 2020, Sec. 3.2): the log-variance the bound reads is log β_t, not log β̃_t."""
    s = NoiseSchedule.linear(100)
    x = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    for t in (1, 2):  # near the clean end, where β̃_t is far below β_t
        _, var, log_var = p_mean_variance(s, x, t, x, "eps", "fixed_large")
        assert var.flatten()[0].item() == pytest.approx(float(s.betas[t]))
        assert log_var.flatten()[0].item() == pytest.approx(math.log(float(s.betas[t])))
        assert abs(math.log(float(s.betas[t])) - float(s.posterior_log_variance_clipped[t])) > 0.01


def test_the_step_by_step_chain_starts_from_the_image():
    """A few single steps of Eq. 2 leave x_t close to x_0 (the GUI test looks at the noisy end only)."""
    s = NoiseSchedule.linear(1000)
    x0 = np.random.default_rng(0).uniform(-1, 1, (16, 16, 3)).astype(np.float32)
    chain = IterativeChain(s, x0, seed=3)
    np.testing.assert_array_equal(chain.at(-1), x0)
    np.testing.assert_allclose(chain.at(0), q_step(s, torch.from_numpy(x0), 0, chain.noise(0)).numpy(), atol=1e-6)
    assert np.sqrt(np.mean((chain.at(4) - x0) ** 2)) < 0.1  # paper t = 5: √ᾱ ≈ 0.9997, √(1−ᾱ) ≈ 0.03
