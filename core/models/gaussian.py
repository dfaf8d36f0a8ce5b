"""The Gaussian model of a picture set: its exact denoiser, its samples and its closed-form probability flow.

If the data were Gaussian, x_0 ~ N(μ, Σ), then x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (Eq. 4, Ho et al. 2020) is
N(√ᾱ μ, ᾱΣ + (1−ᾱ)I) and the minimiser of the DDPM loss is the linear map (Wang & Vastola, "The hidden
linear structure in diffusion models", 2023)

    E[x_0 | x_t] = μ + √ᾱ Σ (ᾱΣ + (1−ᾱ)I)⁻¹ (x_t − √ᾱ μ).

In the eigenbasis Σ = U diag(λ) Uᵀ it is a gain √ᾱλ / (ᾱλ + 1 − ᾱ) per eigen-direction: the Wiener
filter. Wang & Vastola find that at high noise a trained network's denoiser is close to this one.
Its probability-flow ODE is solved in closed form too: along each eigen-direction the centred sample
keeps its standard-deviation ratio, x_t − √ᾱ_t μ = √((ᾱ_tλ + 1−ᾱ_t)/(ᾱ_sλ + 1−ᾱ_s)) (x_s − √ᾱ_s μ),
which lets a deterministic sampler "teleport" over its first steps (:func:`teleport`).

Two bases:

* :class:`FullGaussianDenoiser` — the data set's full covariance (D × D, eigendecomposed once), where D
  is small enough (emoji at 32²: D = 3072).
* :class:`StationaryGaussianDenoiser` — a stationary (translation-invariant) Gaussian, whose eigenbasis
  is the Fourier basis: any resolution, one FFT round trip per call. Colour: the pixels' 3×3 colour
  covariance is diagonalised once (an opponent-colour basis, the same at every frequency) and each of
  the three decorrelated channels has its own radially averaged power spectrum. (A full 3×3 cross-
  spectrum per frequency fits a little better but costs a 3×3 product per frequency.)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.device import pick_device
from core.diffusion.parameterization import eps_from_x0
from core.diffusion.samplers import ddim_loop, ddim_timesteps, final_step
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError, ModelLoadError
from core.models.loaded import BUNDLED_MODEL, LoadedModel, closed_form_model, read_config

GAUSSIAN_PREFIX = "gaussian:"
GAUSSIAN_EMOJI = "emoji"
GAUSSIAN_PHOTOS = "photos"
GAUSSIAN_DEFAULT_SIZE = 64
# The photo model's spectrum, fitted from its training photos (which are not shipped) by
# :func:`fit_spectrum` + :meth:`GaussianSpectrum.save`.
PHOTO_SPECTRUM = BUNDLED_MODEL.parent / "photo" / "gaussian_spectrum.npz"
FULL_COVARIANCE_MAX_DIM = 4096
SPECTRUM_FORMAT = "diffusion-viz gaussian spectrum"


class GaussianDenoiser(torch.nn.Module):
    """An ε-predicting model whose x̂_0 is E[x_0 | x_t] under N(μ, Σ); subclasses say what Σ's eigenbasis is."""

    prediction = "eps"

    def __init__(self, schedule: NoiseSchedule, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.schedule = schedule
        self.image_shape = tuple(int(s) for s in image_shape)

    # Subclasses: the mean image [C, H, W], the eigenvalues λ (any shape the gain broadcasts over),
    # and y ↦ U diag(g) Uᵀ y for a centred batch y [B, C, H, W] and per-sample gains g [B, *λ.shape].
    eigenvalues: torch.Tensor
    mean_image: torch.Tensor

    def apply_gain(self, y: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _abar(self, t, batch: int) -> torch.Tensor:
        t = torch.as_tensor(t).reshape(-1).to("cpu", torch.long)
        if t.numel() == 1:
            t = t.expand(batch)
        if t.numel() != batch:
            raise ValueError(f"t holds {t.numel()} indices for a batch of {batch}")
        abar = torch.where(t < 0, torch.ones((), dtype=torch.float64), self.schedule.alphas_cumprod[t.clamp(min=0)])
        return abar.to(self.eigenvalues.device)

    def _per_sample(self, values: torch.Tensor) -> torch.Tensor:
        """[B] → [B, 1, …] broadcasting against the eigenvalues."""
        return values.reshape(-1, *([1] * self.eigenvalues.ndim))

    def x0_hat(self, x_t: torch.Tensor, t) -> torch.Tensor:
        """E[x_0|x_t] = μ + √ᾱ Σ(ᾱΣ + (1−ᾱ)I)⁻¹(x_t − √ᾱ μ), a gain √ᾱλ/(ᾱλ + 1−ᾱ) per eigen-direction."""
        if tuple(x_t.shape[1:]) != self.image_shape:
            raise ValueError(f"x_t must be [B, {', '.join(map(str, self.image_shape))}], got {tuple(x_t.shape)}")
        abar = self._per_sample(self._abar(t, x_t.shape[0]))
        lam = self.eigenvalues.to(torch.float64)
        gain = abar.sqrt() * lam / (abar * lam + 1.0 - abar)
        sqrt_abar = abar.sqrt().reshape(-1, 1, 1, 1).to(self.mean_image.dtype)
        mean = self.mean_image.to(x_t.device)
        y = x_t.to(mean.dtype) - sqrt_abar * mean
        return (mean + self.apply_gain(y, gain.to(mean.dtype))).to(x_t.dtype)

    def teleport(self, x_s: torch.Tensor, index_from: int, index_to: int) -> torch.Tensor:
        """The probability-flow ODE's exact solution from index ``index_from`` to ``index_to`` (−1: x_0).

        Each eigen-direction of the centred sample is scaled by σ_k(t)/σ_k(s), σ_k² = ᾱλ_k + 1 − ᾱ: the
        Gaussian's marginals are N(√ᾱ μ, ᾱΣ + (1−ᾱ)I) and the flow is the linear map between them that
        commutes with Σ (Wang & Vastola 2023, the Gaussian's probability-flow solution).
        """
        abar_s = self._abar(index_from, 1).to(torch.float64)
        abar_t = self._abar(index_to, 1).to(torch.float64)
        lam = self.eigenvalues.to(torch.float64)
        ratio = ((abar_t * lam + 1.0 - abar_t) / (abar_s * lam + 1.0 - abar_s)).sqrt()
        mean = self.mean_image.to(x_s.device)
        y = x_s.to(mean.dtype) - float(abar_s.sqrt()) * mean
        gain = ratio.unsqueeze(0).expand(x_s.shape[0], *lam.shape).to(mean.dtype)
        return (float(abar_t.sqrt()) * mean + self.apply_gain(y, gain)).to(x_s.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from N(μ, Σ): μ + U diag(√λ) z with z ~ N(0, I) (Gaussian random fields when stationary)."""
        z = torch.randn((n, *self.image_shape), generator=generator, dtype=self.mean_image.dtype)
        gain = self.eigenvalues.clamp(min=0).sqrt().unsqueeze(0).expand(n, *self.eigenvalues.shape)
        return self.mean_image + self.apply_gain(z, gain.to(z.dtype))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """ε̂ = (x_t − √ᾱ_t x̂_0) / √(1−ᾱ_t) with x̂_0 the Gaussian's posterior mean."""
        return eps_from_x0(self.schedule, x_t, t, self.x0_hat(x_t, t))


class FullGaussianDenoiser(GaussianDenoiser):
    """N(μ, Σ) with Σ a full D × D covariance, eigendecomposed once in the compute dtype.

    Parameters
    ----------
    mean : torch.Tensor
        The mean image [C, H, W].
    covariance : torch.Tensor
        Σ [D, D], D = C·H·W, symmetric positive semi-definite.
    schedule : NoiseSchedule
    dtype : torch.dtype
        The compute dtype of the calls (float32 is fast; float64 for exact answers).
    """

    def __init__(
        self, mean: torch.Tensor, covariance: torch.Tensor, schedule: NoiseSchedule, dtype=torch.float32
    ) -> None:
        super().__init__(schedule, tuple(mean.shape))
        d = mean.numel()
        if covariance.shape != (d, d):
            raise ValueError(f"covariance must be [{d}, {d}] for a mean of shape {tuple(mean.shape)}")
        lam, vecs = torch.linalg.eigh(covariance.to(dtype))  # float32 at D = 3072: a third of float64's time
        self.register_buffer("mean_image", mean.to(dtype), persistent=False)
        self.register_buffer("eigenvalues", lam.clamp(min=0.0).to(torch.float64), persistent=False)
        self.register_buffer("eigenvectors", vecs.to(dtype).contiguous(), persistent=False)

    @classmethod
    def fit(cls, images: torch.Tensor, schedule: NoiseSchedule, dtype=torch.float32) -> FullGaussianDenoiser:
        """The data set's mean image and covariance (1/N, the maximum-likelihood fit) from images [N, C, H, W]."""
        flat = images.reshape(images.shape[0], -1).to(dtype)
        mean = flat.mean(dim=0)
        centred = flat - mean
        covariance = centred.T @ centred / flat.shape[0]
        return cls(mean.reshape(images.shape[1:]), covariance, schedule, dtype)

    def apply_gain(self, y: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        vecs = self.eigenvectors.to(y.device, y.dtype)
        coords = y.reshape(y.shape[0], -1) @ vecs
        return ((coords * gain.to(y.device)) @ vecs.T).reshape(y.shape)


@dataclass(frozen=True)
class GaussianSpectrum:
    """A stationary Gaussian of pictures, independent of resolution.

    ``mean_colour`` [3] in [−1, 1]; ``colour_basis`` [3, 3] orthonormal columns (the eigenvectors of the
    pixels' colour covariance); ``frequencies`` [K] radial frequencies in cycles per pixel (0 < f ≤ √½)
    and ``power`` [3, K] the variance of an orthonormal DFT coefficient at that radius, per decorrelated
    channel (a per-pixel power spectral density: the same numbers at any size for a scale-free set);
    ``dc_variance`` [3] the variance of an image's mean per channel; ``n_images`` and ``source`` record the fit.
    """

    mean_colour: np.ndarray
    colour_basis: np.ndarray
    frequencies: np.ndarray
    power: np.ndarray
    dc_variance: np.ndarray
    fit_size: int
    n_images: int
    source: str = ""

    def power_at(self, f: np.ndarray) -> np.ndarray:
        """Power [3, *f.shape] at radial frequencies ``f`` > 0: log-log interpolation, power-law extrapolation."""
        logf = np.log(self.frequencies)
        out = np.empty((3, *np.shape(f)), dtype=np.float64)
        lf = np.log(np.maximum(f, 1e-12))
        for c in range(3):
            logp = np.log(np.maximum(self.power[c], 1e-12))
            values = np.interp(lf, logf, logp)
            if len(logf) > 2:  # below the lowest fitted frequency (a larger image): continue the power law
                slope = (logp[2] - logp[0]) / (logf[2] - logf[0])
                low = lf < logf[0]
                values[low] = logp[0] + slope * (lf[low] - logf[0])
            out[c] = np.exp(values)
        return out

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        np.savez_compressed(
            path,
            format=np.array(SPECTRUM_FORMAT),
            mean_colour=self.mean_colour,
            colour_basis=self.colour_basis,
            frequencies=self.frequencies,
            power=self.power,
            dc_variance=self.dc_variance,
            fit_size=np.array(self.fit_size),
            n_images=np.array(self.n_images),
            source=np.array(self.source),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> GaussianSpectrum:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != SPECTRUM_FORMAT:
                    raise ModelLoadError(f"{path} is not a Gaussian spectrum file")
                return cls(
                    mean_colour=data["mean_colour"],
                    colour_basis=data["colour_basis"],
                    frequencies=data["frequencies"],
                    power=data["power"],
                    dc_variance=data["dc_variance"],
                    fit_size=int(data["fit_size"]),
                    n_images=int(data["n_images"]),
                    source=str(data["source"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(f"{path} cannot be read as a Gaussian spectrum: {exc}") from None


def radial_frequencies(height: int, width: int) -> np.ndarray:
    """|f| in cycles per pixel on the rfft2 grid [H, W//2 + 1]."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fy**2 + fx**2)


def fit_spectrum(images: np.ndarray, source: str = "") -> GaussianSpectrum:
    """Fit the stationary Gaussian (mean colour, colour basis, radially averaged power per channel).

    Parameters
    ----------
    images : np.ndarray
        uint8 [N, S, S, 3] (or float in [−1, 1]), square, all one size.
    source : str
        What they were (recorded in the file).
    """
    x = images.astype(np.float64) / 127.5 - 1.0 if images.dtype == np.uint8 else images.astype(np.float64)
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[1] != x.shape[2] or x.shape[1] < 4:
        raise DataError(f"the Gaussian fit needs square RGB pictures of at least 4², got shape {x.shape}")
    n, size = x.shape[0], x.shape[1]
    mean_colour = x.reshape(-1, 3).mean(axis=0)
    pixels = x.reshape(-1, 3) - mean_colour
    _, basis = np.linalg.eigh(pixels.T @ pixels / len(pixels))
    z = (x - mean_colour) @ basis  # [N, S, S, 3] in the decorrelated basis
    coeffs = np.fft.rfft2(z, axes=(1, 2), norm="ortho")
    power2d = (np.abs(coeffs) ** 2).mean(axis=0)  # [S, S//2+1, 3]
    dc_variance = (z.mean(axis=(1, 2)) ** 2).mean(axis=0)
    f = radial_frequencies(size, size)
    bins = np.rint(f * size).astype(np.int64)  # rings one frequency step (1/S) wide; ring 0 is DC
    count = np.bincount(bins.ravel())
    rings = np.nonzero(count[1:])[0] + 1
    freqs = (np.bincount(bins.ravel(), weights=f.ravel()) / np.maximum(count, 1))[rings]
    power = np.stack(
        [(np.bincount(bins.ravel(), weights=power2d[..., c].ravel()) / np.maximum(count, 1))[rings] for c in range(3)]
    )
    return GaussianSpectrum(mean_colour, basis, freqs, power, dc_variance, size, n, source)


class StationaryGaussianDenoiser(GaussianDenoiser):
    """The stationary Gaussian of a :class:`GaussianSpectrum` at ``size``²: a Wiener filter per 2-D frequency.

    x̂_0 = μ + U_c · irfft2( g(λ_k) · rfft2(U_cᵀ(x_t − √ᾱ μ)) ), g = √ᾱλ/(ᾱλ + 1−ᾱ), λ_k the spectrum at
    |k| (periodic boundaries: the covariance is circulant, so the DFT diagonalises it exactly).
    """

    def __init__(self, spectrum: GaussianSpectrum, size: int, schedule: NoiseSchedule) -> None:
        super().__init__(schedule, (3, int(size), int(size)))
        f = radial_frequencies(size, size)
        lam = np.empty((3, size, size // 2 + 1))
        lam[:] = spectrum.power_at(np.where(f > 0, f, 1.0))
        lam[:, 0, 0] = spectrum.dc_variance * size * size  # the ortho DC coefficient is S·(image mean)
        self.spectrum = spectrum
        self.register_buffer("eigenvalues", torch.from_numpy(lam), persistent=False)
        mean = torch.from_numpy(spectrum.mean_colour.astype(np.float32)).reshape(3, 1, 1).expand(3, size, size)
        self.register_buffer("mean_image", mean.contiguous(), persistent=False)
        self.register_buffer("colour_basis", torch.from_numpy(spectrum.colour_basis), persistent=False)

    def apply_gain(self, y: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        basis = self.colour_basis.to(y.device, y.dtype)
        z = torch.einsum("bchw,cd->bdhw", y, basis)
        coeffs = torch.fft.rfft2(z, norm="ortho") * gain.to(y.device)
        z = torch.fft.irfft2(coeffs, s=y.shape[-2:], norm="ortho")
        return torch.einsum("bdhw,cd->bchw", z, basis)


def teleport(model: GaussianDenoiser, x_T: torch.Tensor, index_to: int, index_from: int | None = None) -> torch.Tensor:
    """x_T at ``index_from`` (default T−1) carried to ``index_to`` by the Gaussian's exact probability flow."""
    start = model.schedule.T - 1 if index_from is None else int(index_from)
    return model.teleport(x_T, start, index_to)


def ddim_teleported(
    network,
    gaussian: GaussianDenoiser,
    x_T: torch.Tensor,
    *,
    num_steps: int = 50,
    teleport_fraction: float = 0.25,
    prediction: str = "eps",
) -> torch.Tensor:
    """Deterministic DDIM with its first ``teleport_fraction`` of steps replaced by :func:`teleport`.

    The Gaussian carries x_T to the index where DDIM-``num_steps`` would be after that many steps; the
    network's DDIM (η = 0) continues from there with the steps left. Returns the final sample.
    """
    schedule = gaussian.schedule
    timesteps = ddim_timesteps(schedule.T, num_steps)
    skipped = int(round(teleport_fraction * len(timesteps)))
    if skipped <= 0:
        x, t_start, left = x_T, None, len(timesteps)
    else:
        if skipped >= len(timesteps):
            raise ValueError("teleport_fraction must leave at least one network step")
        t_start = timesteps[skipped]
        with torch.inference_mode():
            x = teleport(gaussian, x_T, t_start)
        left = len(timesteps) - skipped
    loop = ddim_loop(network, schedule, x, num_steps=left, t_start=t_start, prediction=prediction)
    return final_step(loop).x_prev


# -- models the app loads ------------------------------------------------------------------------


def _gaussian_loaded_model(network: GaussianDenoiser, device, name: str, path, provenance: dict) -> LoadedModel:
    return closed_form_model(network, "gaussian", network.image_shape[-1], device, name, path, provenance)


def _bundled_schedule_and_split() -> tuple[dict, NoiseSchedule]:
    config = read_config(BUNDLED_MODEL)
    return config, NoiseSchedule.from_config(config["schedule"])


def gaussian_from_emoji(
    size: int | None = None, device=None, *, stationary: bool | None = None, schedule: NoiseSchedule | None = None
) -> LoadedModel:
    """The Gaussian of the bundled emoji model's training images (its held-out ones left out).

    Full covariance where 3·size² ≤ ``FULL_COVARIANCE_MAX_DIM`` (32²: 3072), else stationary.
    """
    from core.imaging.datasets import load_emoji, split_holdout
    from core.imaging.scaling import images_to_tensor

    config, bundled_schedule = _bundled_schedule_and_split()
    provenance = config.get("provenance", {})
    size = int(config.get("image_size", 32)) if size is None else int(size)
    schedule = schedule or bundled_schedule
    images = load_emoji(size)
    train, _ = split_holdout(
        len(images), float(provenance.get("holdout_fraction", 0.1)), seed=int(provenance.get("holdout_seed", 0))
    )
    images = images[train]
    device = pick_device(str(device) if device else None)
    full = 3 * size * size <= FULL_COVARIANCE_MAX_DIM if stationary is None else not stationary
    if full:
        network: GaussianDenoiser = FullGaussianDenoiser.fit(images_to_tensor(images), schedule)
    else:
        network = StationaryGaussianDenoiser(fit_spectrum(images, "emoji"), size, schedule)
    kind = "full covariance" if full else "stationary"
    return _gaussian_loaded_model(
        network, device, f"{GAUSSIAN_PREFIX}{GAUSSIAN_EMOJI}", None, {"data": "emoji", "kind": kind}
    )


def spectrum_from_folder(folder: str | Path, size: int = 128) -> GaussianSpectrum:
    """Fit :class:`GaussianSpectrum` from every readable picture under ``folder``, centre squares at ``size``²."""
    from core.imaging.datasets import load_folder

    folder = Path(folder).expanduser()
    return fit_spectrum(load_folder(folder, size), folder.name)


def load_gaussian_model(
    source: str, size: int | None = None, device=None, schedule: NoiseSchedule | None = None
) -> LoadedModel:
    """``gaussian:emoji``, ``gaussian:photos`` (the shipped spectrum file) or ``gaussian:FOLDER``.

    Raises :class:`ModelLoadError` (or :class:`DataError`) with one line saying what is missing.
    """
    device = pick_device(str(device) if device else None)
    if source == GAUSSIAN_EMOJI:
        return gaussian_from_emoji(size, device, schedule=schedule)
    if not source:
        raise ModelLoadError('"gaussian:" needs a folder of images after it, e.g. gaussian:photos or gaussian:emoji')
    schedule = schedule or _bundled_schedule_and_split()[1]
    if source == GAUSSIAN_PHOTOS and not Path(source).is_dir():
        if not PHOTO_SPECTRUM.is_file():
            raise ModelLoadError(
                f"gaussian:photos needs the photo model's spectrum {PHOTO_SPECTRUM}; "
                "write it with: diffusion-viz theory --fit-spectrum PHOTO_FOLDER --out that file"
            )
        spectrum = GaussianSpectrum.load(PHOTO_SPECTRUM)
        size = 128 if size is None else int(size)
        network = StationaryGaussianDenoiser(spectrum, size, schedule)
        return _gaussian_loaded_model(
            network, device, f"{GAUSSIAN_PREFIX}{GAUSSIAN_PHOTOS}", PHOTO_SPECTRUM, {"data": spectrum.source}
        )
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is not a folder of images (gaussian:FOLDER, gaussian:emoji or gaussian:photos)")
    size = GAUSSIAN_DEFAULT_SIZE if size is None else int(size)
    spectrum = spectrum_from_folder(folder, size)
    network = StationaryGaussianDenoiser(spectrum, size, schedule)
    provenance = {"data": str(folder), "kind": "stationary", "train_images": spectrum.n_images}
    return _gaussian_loaded_model(network, device, f"{GAUSSIAN_PREFIX}{folder.name}", folder, provenance)


def spectrum_summary(spectrum: GaussianSpectrum) -> str:
    """One line: how many pictures, at what size, and the spectrum's slope (≈ −2 for natural photos)."""
    logf, logp = np.log(spectrum.frequencies), np.log(spectrum.power.sum(axis=0))
    slope = float(np.polyfit(logf, logp, 1)[0]) if len(logf) > 1 else math.nan
    return json.dumps({"images": spectrum.n_images, "size": spectrum.fit_size, "slope": round(slope, 2)})
