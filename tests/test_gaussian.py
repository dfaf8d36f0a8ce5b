"""The Gaussian model of a picture set: its denoiser against direct formulas, its samples, its flow."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.diffusion.samplers import ddim_loop, final_step
from core.diffusion.schedules import NoiseSchedule
from core.errors import ModelLoadError
from core.models.checkpoint import load_model
from core.models.gaussian import (
    FullGaussianDenoiser,
    GaussianSpectrum,
    StationaryGaussianDenoiser,
    fit_spectrum,
    radial_frequencies,
    teleport,
)

SCHEDULE = NoiseSchedule.cosine(1000)


def direct_posterior_mean(mu: np.ndarray, sigma: np.ndarray, x_t: np.ndarray, abar: float) -> np.ndarray:
    """E[x_0|x_t] for x_0 ~ N(μ, Σ), x_t = √ᾱ x_0 + √(1−ᾱ) ε, by the Gaussian conditioning formula."""
    cov_xt = abar * sigma + (1 - abar) * np.eye(len(mu))
    cross = np.sqrt(abar) * sigma  # Cov(x_0, x_t)
    return mu + cross @ np.linalg.solve(cov_xt, x_t - np.sqrt(abar) * mu)


def test_full_covariance_denoiser_is_the_gaussian_posterior_mean():
    rng = np.random.default_rng(0)
    shape = (3, 2, 2)
    d = 12
    a = rng.normal(size=(d, d))
    sigma = a @ a.T / d
    mu = rng.normal(size=d) * 0.3
    model = FullGaussianDenoiser(
        torch.from_numpy(mu).reshape(shape), torch.from_numpy(sigma), SCHEDULE, dtype=torch.float64
    )
    x_t = rng.normal(size=(4, d))
    for index in (0, 120, 600, 999):
        got = model.x0_hat(torch.from_numpy(x_t).reshape(4, *shape), index).reshape(4, d).numpy()
        abar = float(SCHEDULE.alphas_cumprod[index])
        want = np.stack([direct_posterior_mean(mu, sigma, x, abar) for x in x_t])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


def synthetic_spectrum(size: int) -> GaussianSpectrum:
    """A power-law (1/f²) stationary field with an opponent-colour basis, as a fitted file would hold."""
    rng = np.random.default_rng(1)
    basis, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    freqs = np.unique(radial_frequencies(size, size)[radial_frequencies(size, size) > 0])
    power = np.stack([0.02 * freqs**-2.0, 0.004 * freqs**-1.5, 0.001 * freqs**-1.0])
    return GaussianSpectrum(np.array([0.1, -0.2, 0.3]), basis, freqs, power, np.array([0.2, 0.05, 0.01]), size, 0)


def dense_stationary_covariance(model: StationaryGaussianDenoiser) -> np.ndarray:
    """Σ = (U ⊗ I) · blockdiag(F⁻¹ diag(λ_c) F) · (U ⊗ I)ᵀ, built with numpy's full complex FFT."""
    _, h, w = model.image_shape
    lam_half = model.eigenvalues.numpy()
    ky = np.arange(h)[:, None]
    kx = np.minimum(np.arange(w), w - np.arange(w))[None, :]  # real field: λ(k) = λ(−k)
    n = h * w
    blocks = []
    for c in range(3):
        lam = lam_half[c][ky, kx]
        columns = [np.fft.ifft2(lam * np.fft.fft2(e.reshape(h, w))).real.ravel() for e in np.eye(n)]
        blocks.append(np.stack(columns, axis=1))
    u = model.colour_basis.numpy()
    rotate = np.kron(u, np.eye(n))  # decorrelated channel d → colour c, pixel by pixel
    diag = np.zeros((3 * n, 3 * n))
    for c in range(3):
        diag[c * n : (c + 1) * n, c * n : (c + 1) * n] = blocks[c]
    return rotate @ diag @ rotate.T


def test_stationary_denoiser_is_the_wiener_filter_of_its_circulant_covariance():
    size = 8
    model = StationaryGaussianDenoiser(synthetic_spectrum(size), size, SCHEDULE)
    sigma = dense_stationary_covariance(model)
    mu = model.mean_image.numpy().astype(np.float64).ravel()
    rng = np.random.default_rng(2)
    x_t = rng.normal(size=(3, 3 * size * size))
    for index in (10, 300, 900):
        got = model.x0_hat(torch.from_numpy(x_t).reshape(3, 3, size, size).float(), index).reshape(3, -1).numpy()
        abar = float(SCHEDULE.alphas_cumprod[index])
        want = np.stack([direct_posterior_mean(mu, sigma, x, abar) for x in x_t])
        np.testing.assert_allclose(got, want, atol=2e-5)


def test_stationary_samples_have_the_sets_spectrum():
    size = 16
    spectrum = synthetic_spectrum(size)
    model = StationaryGaussianDenoiser(spectrum, size, SCHEDULE)
    samples = model.sample(800, torch.Generator().manual_seed(0)).permute(0, 2, 3, 1).numpy()
    refit = fit_spectrum(samples.astype(np.float64))
    np.testing.assert_allclose(refit.mean_colour, spectrum.mean_colour, atol=0.05)
    # Each ring averages ≥ 2 coefficients of 800 images: a few % of sampling error; 20 % fails a wrong spectrum.
    want = spectrum.power_at(refit.frequencies)
    got = np.stack([((refit.colour_basis.T @ spectrum.colour_basis) ** 2) @ want[:, k] for k in range(want.shape[1])])
    np.testing.assert_allclose(refit.power.T, got, rtol=0.2)


def test_teleport_is_where_the_gaussians_own_ddim_ode_lands():
    rng = np.random.default_rng(3)
    d = 12
    a = rng.normal(size=(d, d))
    model = FullGaussianDenoiser(
        torch.from_numpy(rng.normal(size=d) * 0.2).reshape(3, 2, 2),
        torch.from_numpy(a @ a.T / d),
        SCHEDULE,
        dtype=torch.float64,
    )
    x_T = torch.from_numpy(rng.normal(size=(5, 3, 2, 2)))
    target = 400
    loop = ddim_loop(model, SCHEDULE, x_T, num_steps=1000, clip_x0=False)
    ode = next(step.x_prev for step in loop if step.t_prev == target)
    np.testing.assert_allclose(teleport(model, x_T, target).numpy(), ode.numpy(), atol=0.02)
    assert float((teleport(model, x_T, target) - x_T).abs().max()) > 0.1  # it did move
    clean = final_step(ddim_loop(model, SCHEDULE, x_T, num_steps=1000, clip_x0=False)).x_prev
    np.testing.assert_allclose(teleport(model, x_T, -1).numpy(), clean.numpy(), atol=0.03)


def test_one_image_gaussian_returns_that_image_at_low_noise():
    image = torch.rand(1, 3, 4, 4) * 2 - 1
    model = FullGaussianDenoiser.fit(image, SCHEDULE)
    x_t = SCHEDULE.sqrt_alphas_cumprod[0].float() * image + 0.01 * torch.randn(1, 3, 4, 4)
    torch.testing.assert_close(model.x0_hat(x_t, 0), image, atol=1e-5, rtol=0)


def _write_folder(folder, n=4, size=20):
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"p{i}.png")


def test_gaussian_folder_model_loads_like_any_model(tmp_path):
    _write_folder(tmp_path)
    model = load_model(f"gaussian:{tmp_path}", "cpu", ideal_size=16)
    assert (model.image_size, model.prediction, model.name) == (16, "eps", f"gaussian:{tmp_path.name}")
    x = torch.randn(2, 3, 16, 16)
    eps = model(x, torch.tensor([500, 500]))
    assert eps.shape == x.shape and torch.isfinite(eps).all()


def test_spectrum_file_round_trips(tmp_path):
    spectrum = synthetic_spectrum(8)
    back = GaussianSpectrum.load(spectrum.save(tmp_path / "s.npz"))
    np.testing.assert_array_equal(back.power, spectrum.power)
    (tmp_path / "bad.npz").write_bytes(b"not a file")
    with pytest.raises(ModelLoadError, match="cannot be read"):
        GaussianSpectrum.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("spec", ["gaussian:", "gaussian:/no/such/folder"])
def test_bad_gaussian_model_strings_say_what_is_needed(spec):
    with pytest.raises(ModelLoadError, match="folder"):
        load_model(spec, "cpu")
