"""The analysis maths: spectra, the resolution ladder, continuations, the exposure monitor."""

import numpy as np
import pytest
import torch

from core.analysis.decided import continuations, crossing, decided_point, flip_threshold, spread
from core.analysis.errors import AnalysisError
from core.analysis.exposure import EpsilonScaled, data_statistics, exposure_curve
from core.analysis.ladder import average_pool, ladder
from core.analysis.spectrum import (
    RadialSpectrum,
    cutoff_frequency,
    fit_power_law,
    power_law_field,
    radial_power_spectrum,
)
from core.diffusion.samplers import SamplerConfig
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import LoadedModel


class Oracle:
    """Predicts x_0 = the one image of its data set: the exact denoiser of that data set."""

    prediction = "x0"

    def __init__(self, schedule: NoiseSchedule, x0: torch.Tensor) -> None:
        self.schedule, self.x0 = schedule, x0

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.x0.expand_as(x)


def smooth_image(side: int = 32, seed: int = 0) -> torch.Tensor:
    field = power_law_field(side, 3.0, np.random.default_rng(seed))
    rgb = np.stack([field, -field, 0.5 * field]) * 0.4
    return torch.from_numpy(np.clip(rgb, -1, 1))[None]


# -- the spectrum ----------------------------------------------------------------------------------


def test_white_noise_has_a_flat_spectrum_at_its_variance():
    sigma = 0.7
    x = np.random.default_rng(0).normal(0, sigma, (3, 256, 256))
    s = radial_power_spectrum(x)
    fit = fit_power_law(s, high=len(s.freqs))
    assert abs(fit.alpha) < 0.1  # flat: no slope (a 1/f² image reads 2)
    # A ring averages 3·count squared Gaussians; the Hann window correlates neighbours, which raises the
    # variance of such a mean by mean(w⁴)/mean(w²)² = (35/128)/(3/8)² per axis (≈ 3.78 in 2-D).
    hann = ((35 / 128) / (3 / 8) ** 2) ** 2
    rel_error = np.sqrt(hann / (3 * s.counts))
    assert np.all(np.abs(s.power / sigma**2 - 1) < 5 * rel_error)  # every ring at σ² within its sampling error


def test_a_one_over_f_squared_field_has_slope_minus_two():
    field = power_law_field(256, 2.0, np.random.default_rng(1))
    alpha = fit_power_law(radial_power_spectrum(field), high=128).alpha
    assert abs(alpha - 2.0) < 0.1


def test_the_cutoff_moves_down_monotonically_as_t_grows():
    schedule = NoiseSchedule.cosine()
    field = power_law_field(128, 2.0, np.random.default_rng(2)) * 0.5
    s = radial_power_spectrum(field)
    cuts = [cutoff_frequency(s, schedule, i) for i in range(0, 1000, 25)]
    assert all(a >= b for a, b in zip(cuts, cuts[1:], strict=False))
    assert cuts[0] > 4 * cuts[-1]
    assert cutoff_frequency(s, schedule, -1) == 0.5  # the clean image: nothing drowned


def test_an_image_smaller_than_the_bins_is_one_clear_error():
    with pytest.raises(AnalysisError, match="too small"):
        RadialSpectrum((3, 8, 8))
    with pytest.raises(AnalysisError, match="too small"):
        RadialSpectrum((3, 64, 64), bins=64)


# -- the resolution ladder ------------------------------------------------------------------------


def test_two_by_two_average_pooling_halves_the_noise_and_quadruples_a_constant_images_snr():
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((3, 256, 256)).astype(np.float32)
    assert average_pool(noise, 2).std() == pytest.approx(noise.std() / 2, rel=0.02)
    schedule = NoiseSchedule.cosine()
    x0 = np.full((3, 256, 256), 0.6, dtype=np.float32)
    r1, r2, r4 = ladder(schedule, x0, noise, 399)
    assert r2.noise_std == pytest.approx(r1.noise_std / 2, rel=0.02)
    assert r2.snr / r1.snr == pytest.approx(4.0, rel=0.04)
    assert r4.snr / r1.snr == pytest.approx(16.0, rel=0.08)
    assert r2.log_snr_shift == pytest.approx(2 * np.log(2), abs=0.04)
    assert r2.matching_paper_t < 400 and r4.matching_paper_t < r2.matching_paper_t


def test_for_a_real_image_the_shift_is_less_than_for_a_constant_one():
    rng = np.random.default_rng(4)
    noise = rng.standard_normal((3, 128, 128)).astype(np.float32)
    x0 = np.repeat(rng.uniform(-1, 1, (1, 128, 128)).astype(np.float32), 3, axis=0)  # detail at every pixel
    _, r2, _ = ladder(NoiseSchedule.cosine(), x0, noise, 399)
    assert r2.log_snr_shift < 2 * np.log(2) - 0.3


# -- when is it decided ----------------------------------------------------------------------------


def _loaded(network, schedule, prediction, size=16) -> LoadedModel:
    return LoadedModel(network, schedule, prediction, size, 3, torch.device("cpu"), "test")


def test_continuations_from_the_last_noisy_frame_are_all_identical():
    schedule = NoiseSchedule.cosine(T=50)
    x0 = smooth_image(16)
    model = _loaded(Oracle(schedule, x0 * 0.5), schedule, "x0")
    x_t = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    last = continuations(model, x_t, 0, 6, config=SamplerConfig("ddpm"))
    assert torch.equal(last, last[:1].expand_as(last))
    assert spread(last) == 0.0
    # from earlier, with a model whose x̂_0 follows x_t, fresh noise makes them differ
    follow = _loaded(lambda x, t: x, schedule, "x0")
    early = continuations(follow, x_t, 30, 6, config=SamplerConfig("ddpm"))
    assert spread(early) > 1e-3


def test_bad_k_and_a_frame_at_t_zero_are_one_clear_error():
    schedule = NoiseSchedule.cosine(T=20)
    model = _loaded(Oracle(schedule, smooth_image(16)), schedule, "x0")
    x_t = torch.zeros(3, 16, 16)
    for k in (0, 10_000):
        with pytest.raises(AnalysisError, match="K"):
            continuations(model, x_t, 5, k)
    with pytest.raises(AnalysisError, match="t = 0"):
        decided_point(model, x_t, -1, 4)
    with pytest.raises(AnalysisError, match="η = 0"):
        continuations(model, x_t, 5, 4, config=SamplerConfig("ddim", steps=5, eta=0.0))


def test_the_flip_threshold_is_where_the_agreement_falls_through_one_half():
    from core.analysis.decided import DecidedPoint

    pts = [DecidedPoint(t, 0.0, a, torch.zeros(1)) for t, a in ((100, 1.0), (300, 0.75), (500, 0.25), (700, 0.125))]
    t, basis = flip_threshold(pts)
    assert basis == "nearest image" and t == pytest.approx(400.0)
    assert crossing(np.array([1.0, 2.0]), np.array([0.0, 0.2]), 0.5) is None


# -- exposure bias ---------------------------------------------------------------------------------


def test_the_exposure_monitor_reads_zero_gap_for_the_oracle_and_a_gap_for_a_biased_model():
    schedule = NoiseSchedule.cosine(T=200)
    x0 = smooth_image(32)
    stats = data_statistics(x0)
    x_T = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(99))
    config = SamplerConfig("ddim", steps=40, eta=1.0)
    points, result = exposure_curve(Oracle(schedule, x0), config, x_T, stats, seed=0)
    assert len(points) == 40
    assert max(abs(p.var_gap) for p in points) < 0.03
    assert max(abs(p.mean_gap) for p in points) < 0.02
    assert torch.allclose(result, x0.expand_as(result), atol=1e-5)  # and it lands on the one image
    biased, _ = exposure_curve(Oracle(schedule, 0.6 * x0 + 0.3), config, x_T, stats, seed=0)
    assert max(abs(p.mean_gap) for p in biased) > 0.1


def test_epsilon_scaling_divides_the_models_noise_by_lambda():
    schedule = NoiseSchedule.cosine(T=100)
    x0 = smooth_image(16)
    model = _loaded(Oracle(schedule, x0), schedule, "x0")
    x_t = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    t = torch.full((2,), 40)
    from core.diffusion.parameterization import x0_eps_from_output

    _, eps = x0_eps_from_output(schedule, x_t, t, model(x_t, t), "x0")
    torch.testing.assert_close(EpsilonScaled(model, 1.25)(x_t, t), eps / 1.25)
    torch.testing.assert_close(EpsilonScaled(model, 1.0, k=0.01)(x_t, t), eps / (1.0 + 0.01 * 41))
    with pytest.raises(AnalysisError):
        EpsilonScaled(model, 0.0)
