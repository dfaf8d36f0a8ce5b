"""Schedule tables against numbers worked out from the papers' definitions, and the timestep convention."""

import math

import pytest
import torch

from core.diffusion.schedules import SCHEDULE_NAMES, NoiseSchedule, index_from_paper_t, paper_t_from_index


def cosine_abar(t, T=1000, s=0.008):
    # Nichol & Dhariwal 2021, Eq. 17, straight from the definition.
    f = lambda u: math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return f(t) / f(0)


def test_linear_golden_numbers():
    s = NoiseSchedule.linear()
    assert s.T == 1000
    assert s.betas[0].item() == pytest.approx(1e-4, rel=1e-12)
    assert s.betas[-1].item() == pytest.approx(0.02, rel=1e-12)
    assert s.alphas_cumprod[0].item() == pytest.approx(0.9999, rel=1e-12)
    # ᾱ_T = Π (1 − β_t) over DDPM's 1000 linear betas ≈ 4.0358e−5 (Ho et al. 2020, Sec. 4).
    assert s.alphas_cumprod[-1].item() == pytest.approx(4.0358e-5, rel=1e-4)


@pytest.mark.parametrize(
    ("paper_t", "expected"), [(1, 0.99995871577), (250, 0.84701216133), (500, 0.49384359044), (750, 0.14427210239)]
)
def test_cosine_golden_numbers(paper_t, expected):
    s = NoiseSchedule.cosine(1000)
    assert s.alphas_cumprod[index_from_paper_t(paper_t)].item() == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(cosine_abar(paper_t), rel=1e-9)


def test_cosine_betas_are_clipped_at_0999():
    s = NoiseSchedule.cosine(1000)
    assert s.betas.max().item() == pytest.approx(0.999)
    assert (s.betas <= 0.999).all()


def test_sigmoid_decreases_from_one_to_zero():
    s = NoiseSchedule.sigmoid(1000)
    abar = s.alphas_cumprod
    assert (abar[1:] < abar[:-1]).all()
    assert abar[0].item() > 0.999 and abar[-1].item() < 1e-3


def test_timestep_convention():
    s = NoiseSchedule.linear(10)
    assert s.alphas_cumprod_prev[0].item() == 1.0
    assert torch.equal(s.alphas_cumprod_prev[1:], s.alphas_cumprod[:-1])
    assert index_from_paper_t(1) == 0 and index_from_paper_t(10) == 9
    assert index_from_paper_t(0) == -1
    assert paper_t_from_index(index_from_paper_t(7)) == 7


def test_tables_are_float64_and_named():
    s = NoiseSchedule.cosine(100)
    for name in (
        "betas",
        "alphas",
        "alphas_cumprod",
        "alphas_cumprod_prev",
        "posterior_variance",
        "posterior_log_variance_clipped",
        "posterior_mean_coef1",
        "posterior_mean_coef2",
        "snr",
    ):
        table = getattr(s, name)
        assert table.dtype == torch.float64 and table.shape == (100,), name


def test_first_posterior_variance_is_zero_and_its_log_is_clipped():
    s = NoiseSchedule.linear()
    assert s.posterior_variance[0].item() == 0.0
    assert torch.isfinite(s.posterior_log_variance_clipped).all()
    assert s.posterior_log_variance_clipped[0] == math.log(s.posterior_variance[1].item())


def test_snr_is_alphabar_over_one_minus_alphabar():
    s = NoiseSchedule.linear()
    t = 123
    abar = s.alphas_cumprod[t].item()
    assert s.snr[t].item() == pytest.approx(abar / (1 - abar), rel=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: NoiseSchedule.linear(50),
        lambda: NoiseSchedule.cosine(50, s=0.01),
        lambda: NoiseSchedule.sigmoid(50, tau=0.7),
        lambda: NoiseSchedule.from_betas([0.1, 0.2, 0.3]),
    ],
)
def test_config_round_trip(make):
    s = make()
    back = NoiseSchedule.from_config(s.to_config())
    assert torch.equal(back.betas, s.betas)


@pytest.mark.parametrize("bad", [[], [0.0, 0.1], [0.5, 1.5]])
def test_bad_betas_are_refused(bad):
    with pytest.raises(ValueError):
        NoiseSchedule.from_betas(bad)


def test_unknown_schedule_name_is_refused():
    with pytest.raises(ValueError, match="unknown schedule"):
        NoiseSchedule.from_name("quadratic")


@pytest.mark.parametrize("T", [10, 50, 100, 300, 1000, 4000])
def test_every_named_schedule_ends_near_pure_noise_for_any_T(T):
    # x_T must carry (almost) no signal whatever T the window offers: ᾱ_T small, SNR(T) ≪ 1.
    for name in SCHEDULE_NAMES:
        s = NoiseSchedule.from_name(name, T)
        assert s.alphas_cumprod[-1].item() < 1e-2, (name, T, s.alphas_cumprod[-1].item())


def test_the_linear_schedule_scales_its_beta_range_with_T():
    s = NoiseSchedule.linear(100)  # improved-diffusion: β from 1e-3 to 0.2 at T = 100
    assert s.betas[0].item() == pytest.approx(1e-3) and s.betas[-1].item() == pytest.approx(0.2)
    assert NoiseSchedule.linear(1000).betas[-1].item() == pytest.approx(0.02)
    assert NoiseSchedule.from_config(s.to_config()).betas.equal(s.betas)
