"""Samplers: oracle models return the data point; DDIM(η=1) on consecutive steps is DDPM; generators."""

import itertools

import pytest
import torch

from core.diffusion.forward import q_sample
from core.diffusion.samplers import (
    SamplerConfig,
    SamplerStep,
    ddim_loop,
    ddim_step,
    ddim_timesteps,
    ddpm_loop,
    ddpm_step,
)
from core.diffusion.schedulers import sample_loop
from core.diffusion.schedules import NoiseSchedule
from tests.helpers import oracle


@pytest.fixture
def x_star(gen):
    return torch.rand(1, 3, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
def test_ddpm_with_an_oracle_returns_the_data_point(x_star, gen, prediction, variance):
    s = NoiseSchedule.linear()
    x_T = torch.randn(x_star.shape, generator=gen, dtype=torch.float64)
    *_, last = ddpm_loop(oracle(s, x_star, prediction), s, x_T, prediction=prediction, variance=variance, generator=gen)
    assert torch.allclose(last.x_prev, x_star, atol=1e-9)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_with_an_oracle_returns_the_data_point(x_star, gen, prediction, eta):
    s = NoiseSchedule.cosine()
    x_T = torch.randn(x_star.shape, generator=gen, dtype=torch.float64)
    steps = list(
        ddim_loop(oracle(s, x_star, prediction), s, x_T, num_steps=20, eta=eta, prediction=prediction, generator=gen)
    )
    assert len(steps) == 20
    assert torch.allclose(steps[-1].x_prev, x_star, atol=1e-9)


def test_ddim_eta_one_on_consecutive_steps_equals_ddpm_fixed_small(gen):
    s = NoiseSchedule.linear()
    x_t = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    out = torch.randn(x_t.shape, generator=gen, dtype=torch.float64)
    noise = torch.randn(x_t.shape, generator=gen, dtype=torch.float64)
    for t in (1, 7, 300, 999):
        ddpm, x0_a = ddpm_step(s, x_t, t, out, noise, variance="fixed_small")
        ddim, x0_b = ddim_step(s, x_t, t, t - 1, out, 1.0, noise)
        assert torch.allclose(ddpm, ddim, atol=1e-12), t
        assert torch.equal(x0_a, x0_b)


def test_ddpm_mean_is_algorithm_2(gen):
    s = NoiseSchedule.linear()
    x_t = torch.randn(1, 3, 4, 4, generator=gen, dtype=torch.float64)
    eps = torch.randn(x_t.shape, generator=gen, dtype=torch.float64)
    t = 400
    mean, _ = ddpm_step(s, x_t, t, eps, torch.zeros_like(x_t))
    alpha, beta, abar = s.alphas[t].item(), s.betas[t].item(), s.alphas_cumprod[t].item()
    expected = (x_t - beta / (1 - abar) ** 0.5 * eps) / alpha**0.5
    assert torch.allclose(mean, expected, atol=1e-12)


def test_fixed_large_uses_beta(gen):
    s = NoiseSchedule.linear()
    x_t = torch.zeros(1, 1, 1, 1, dtype=torch.float64)
    noise = torch.ones_like(x_t)
    zero = torch.zeros_like(x_t)
    small = (
        ddpm_step(s, x_t, 10, zero, noise, variance="fixed_small")[0]
        - ddpm_step(s, x_t, 10, zero, zero * 0, variance="fixed_small")[0]
    )
    large = (
        ddpm_step(s, x_t, 10, zero, noise, variance="fixed_large")[0]
        - ddpm_step(s, x_t, 10, zero, zero * 0, variance="fixed_large")[0]
    )
    assert small.item() == pytest.approx(s.posterior_variance[10].item() ** 0.5)
    assert large.item() == pytest.approx(s.betas[10].item() ** 0.5)


def test_clipping_keeps_x0_hat_in_range(gen):
    s = NoiseSchedule.linear()
    x_t = torch.randn(1, 3, 4, 4, generator=gen, dtype=torch.float64) * 5
    out = torch.randn(x_t.shape, generator=gen, dtype=torch.float64) * 5
    _, x0 = ddpm_step(s, x_t, 10, out, torch.zeros_like(x_t), clip_x0=True)
    assert x0.abs().max() <= 1
    _, x0 = ddim_step(s, x_t, 10, 5, out, 0.0, None, clip_x0=True)
    assert x0.abs().max() <= 1
    _, unclipped = ddpm_step(s, x_t, 10, out, torch.zeros_like(x_t))
    assert unclipped.abs().max() > 1


def test_timestep_spacings_follow_diffusers():
    assert ddim_timesteps(1000, 10, "leading") == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert ddim_timesteps(1000, 10, "trailing") == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    assert ddim_timesteps(1000, 10, "linspace") == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
    assert ddim_timesteps(1000, 1000, "leading") == list(range(999, -1, -1))
    with pytest.raises(ValueError):
        ddim_timesteps(1000, 0)
    with pytest.raises(ValueError):
        ddim_timesteps(1000, 10, "quadratic")


def test_the_generator_is_cancelled_by_not_asking(x_star, gen):
    s = NoiseSchedule.linear()
    calls = []
    model = oracle(s, x_star)

    def counting(x, t):
        calls.append(int(t[0]))
        return model(x, t)

    loop = ddpm_loop(counting, s, torch.randn(x_star.shape, generator=gen, dtype=torch.float64), generator=gen)
    first = list(itertools.islice(loop, 3))
    assert calls == [999, 998, 997]
    assert [st.t for st in first] == [999, 998, 997]
    assert isinstance(first[0], SamplerStep)
    with pytest.raises(AttributeError):
        first[0].t = 5  # frozen


def test_sdedit_starts_at_the_given_step(x_star, gen):
    s = NoiseSchedule.linear()
    x_t = q_sample(s, x_star, 300, torch.randn(x_star.shape, generator=gen, dtype=torch.float64))
    ddpm = list(ddpm_loop(oracle(s, x_star), s, x_t, t_start=300, generator=gen))
    assert ddpm[0].t == 300 and len(ddpm) == 301 and ddpm[-1].t == 0
    assert torch.allclose(ddpm[-1].x_prev, x_star, atol=1e-9)
    ddim = list(ddim_loop(oracle(s, x_star), s, x_t, t_start=300, num_steps=10))
    assert ddim[0].t == 300 and len(ddim) == 10 and ddim[-1].t_prev == -1
    assert torch.allclose(ddim[-1].x_prev, x_star, atol=1e-9)


def test_same_seed_same_run(x_star):
    s = NoiseSchedule.linear(50)
    model = lambda x, t: torch.zeros_like(x)  # noqa: E731
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(7)
        x = torch.randn(x_star.shape, generator=g, dtype=torch.float64)
        runs.append(list(sample_loop(model, s, SamplerConfig("ddpm"), x, generator=g))[-1].x_prev)
    assert torch.equal(runs[0], runs[1])


def test_bad_sampler_config_is_refused():
    with pytest.raises(ValueError):
        SamplerConfig(sampler="lms")
    with pytest.raises(ValueError):
        SamplerConfig(eta=2.0)
    with pytest.raises(ValueError, match="karras spacing is for"):
        SamplerConfig(sampler="ddim", spacing="karras")


def test_seeded_noise_comes_from_the_cpu_generator_whatever_the_device(monkeypatch):
    # CUDA refuses a CPU generator for a CUDA tensor; every draw goes through core.device.randn,
    # which draws on the generator's device and moves the numbers.
    from core.device import randn

    real = torch.randn

    def strict(*args, generator=None, device=None, **kwargs):
        if generator is not None and device is not None and torch.device(device) != generator.device:
            raise RuntimeError("Expected a 'cuda' device type for generator")
        return real(*args, generator=generator, device=device, **kwargs)

    monkeypatch.setattr(torch, "randn", strict)
    a = randn((4,), torch.Generator().manual_seed(3), "meta")
    assert a.device.type == "meta"
    b = randn((4,), torch.Generator().manual_seed(3), "cpu")
    assert torch.equal(b, real(4, generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("T", [10, 50, 100, 200, 1000])
def test_every_spacing_gives_exactly_n_distinct_valid_indices(T):
    # trailing spacing once returned index −1 for 62 step counts at T = 1000 (e.g. 61, 103, 121)
    for spacing in ("leading", "trailing", "linspace"):
        for n in range(1, T + 1):
            steps = ddim_timesteps(T, n, spacing)
            assert len(steps) == n and len(set(steps)) == n, (spacing, n)
            assert min(steps) >= 0 and max(steps) <= T - 1, (spacing, n)
