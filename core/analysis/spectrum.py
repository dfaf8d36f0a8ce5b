"""The radially averaged power spectrum of an image, of the noise at t, and where they meet.

Natural images have a power spectrum that falls as about 1/f^α with α ≈ 2 (van der Schaaf & van Hateren
1996); white noise is flat. In x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (Eq. 4, Ho et al. 2020) the two add up, since
ε is independent of x_0: P_{x_t}(f) = ᾱ_t P_{x_0}(f) + (1−ᾱ_t) P_ε(f) with P_ε(f) = 1 for ε ~ N(0, I).
Every frequency where ᾱ_t P_{x_0}(f) lies below 1−ᾱ_t is drowned, so the frequencies the chain has
still to decide are those above a cut-off that moves up as t falls: diffusion is approximately
spectral autoregression (Dieleman 2024, "Diffusion is spectral autoregression"; Falck et al. 2025
qualify it for learned models).

Units: frequency f in cycles per pixel (0 … 0.5, Nyquist), power |FFT|² / (H·W) averaged over the
channels and over a ring of width 1/side, so white noise of variance σ² reads σ² at every f (Parseval).
The image is windowed (Hann, normalised so white noise keeps its level) after its mean is removed:
a photo's edges do not wrap around, and an unwindowed FFT would add their 1/f² leakage to every slope.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.analysis.errors import AnalysisError
from core.diffusion.schedules import NoiseSchedule

MIN_BINS = 8  # fewer rings than this cannot show a slope
FIT_LOW = 2  # the fit skips the lowest rings (the window's own width, and the image's layout)


@dataclass(frozen=True)
class Spectrum:
    """Ring centres ``freqs`` (cycles/pixel), the mean power in each ring and how many coefficients it averages."""

    freqs: np.ndarray
    power: np.ndarray
    counts: np.ndarray


class RadialSpectrum:
    """The radially averaged power spectrum for arrays of one shape: window and rings computed once.

    ``bins`` rings of width 0.5/bins cycles/pixel up to Nyquist (default: half the short side, one ring
    per frequency step of the short side). The shape is [H, W] or [C, H, W].
    """

    def __init__(self, shape: tuple[int, ...], bins: int | None = None, window: bool = True) -> None:
        h, w = shape[-2:]
        most = min(h, w) // 2
        bins = most if bins is None else int(bins)
        if min(h, w) < 2 * MIN_BINS or not MIN_BINS <= bins <= most:
            need = 2 * max(bins, MIN_BINS)
            raise AnalysisError(
                f"an image of {w}×{h} px is too small for the spectrum's {max(bins, MIN_BINS)} frequency bins: "
                f"it needs at least {need}×{need} px"
            )
        self.shape, self.bins = tuple(shape), bins
        self._window = _hann(h, w) if window else None
        self._ring, self._counts, self.freqs = _rings(h, w, bins)

    def __call__(self, x: np.ndarray) -> Spectrum:
        """The spectrum of ``x`` (float, any scale; the power is in x's units squared)."""
        x = np.asarray(x, dtype=np.float32)
        if x.shape != self.shape:
            raise AnalysisError(f"the spectrum was set up for arrays of shape {self.shape}, got {x.shape}")
        x = x - x.mean(axis=(-2, -1), keepdims=True)
        if self._window is not None:
            x = x * self._window
        f = np.fft.rfft2(x)
        p = f.real**2 + f.imag**2
        if p.ndim == 3:
            p = p.mean(axis=0)
        sums = np.bincount(self._ring, weights=p.ravel(), minlength=self.bins + 1)[1 : self.bins + 1]
        return Spectrum(self.freqs, sums / self._counts / (self.shape[-1] * self.shape[-2]), self._counts)


def radial_power_spectrum(x: np.ndarray, bins: int | None = None, window: bool = True) -> Spectrum:
    """The radially averaged power spectrum of one image [H, W] or [C, H, W] (see :class:`RadialSpectrum`)."""
    x = np.asarray(x)
    return RadialSpectrum(x.shape, bins, window)(x)


def noise_power(schedule: NoiseSchedule, index: int) -> float:
    """The flat power of x_t's noise part at array index ``index``: (1 − ᾱ_t) · P_ε, P_ε = 1 (Eq. 4)."""
    return 0.0 if index < 0 else float(1.0 - schedule.alphas_cumprod[index])


def signal_scale(schedule: NoiseSchedule, index: int) -> float:
    """ᾱ_t: what x_0's power is multiplied by in x_t (Eq. 4, √ᾱ_t squared); 1 at the clean image."""
    return 1.0 if index < 0 else float(schedule.alphas_cumprod[index])


def cutoff_frequency(spectrum: Spectrum, schedule: NoiseSchedule, index: int) -> float:
    """The lowest frequency where the signal's ᾱ_t P_{x_0}(f) falls below the noise's 1 − ᾱ_t.

    Log-interpolated between rings. The first crossing of a threshold 1/SNR(t) that only rises with t
    comes no later as t grows, so the cut-off moves monotonically with t. Nyquist (0.5) when the signal
    is above the noise everywhere (t = 0, or very early); the first ring when it is below everywhere.
    """
    noise = noise_power(schedule, index)
    if noise <= 0:
        return 0.5
    sig = signal_scale(schedule, index) * spectrum.power
    below = np.nonzero(sig < noise)[0]
    if len(below) == 0:
        return 0.5
    k = int(below[0])
    if k == 0:
        return float(spectrum.freqs[0])
    f0, f1 = np.log(spectrum.freqs[k - 1]), np.log(spectrum.freqs[k])
    p0, p1 = np.log(max(sig[k - 1], 1e-300)), np.log(max(sig[k], 1e-300))
    w = (np.log(noise) - p0) / (p1 - p0) if p1 != p0 else 0.0
    return float(np.exp(f0 + np.clip(w, 0.0, 1.0) * (f1 - f0)))


@dataclass(frozen=True)
class PowerLaw:
    """P(f) ≈ amplitude · f^(−alpha), fitted by least squares in log–log over ``freqs[low:high]``."""

    alpha: float
    amplitude: float
    low: int
    high: int

    def __call__(self, f: np.ndarray) -> np.ndarray:
        return self.amplitude * np.asarray(f, dtype=np.float64) ** (-self.alpha)


def fit_power_law(spectrum: Spectrum, low: int = FIT_LOW, high: int | None = None) -> PowerLaw:
    """The image's α: minus the slope of log P against log f over the rings ``low … high``.

    The lowest rings are skipped (they hold the picture's layout and the window's width); by default the
    fit stops at half Nyquist (0.25 cycles/pixel), because resizing filters and JPEG steepen the top
    octave of a photo. Rings with no power (a flat image) are left out.
    """
    high = max(len(spectrum.freqs) // 2, low + 3) if high is None else int(high)
    f, p = spectrum.freqs[low:high], spectrum.power[low:high]
    keep = p > 0
    if keep.sum() < 3:
        raise AnalysisError("the image is flat: its spectrum has no slope to fit")
    slope, intercept = np.polyfit(np.log(f[keep]), np.log(p[keep]), 1)
    return PowerLaw(float(-slope), float(np.exp(intercept)), low, high)


def power_law_field(side: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """A periodic Gaussian random field [side, side] whose power spectrum is f^(−alpha) (unit variance)."""
    fy = np.fft.fftfreq(side)[:, None]
    fx = np.fft.rfftfreq(side)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = np.inf  # no DC
    amp = f ** (-alpha / 2)
    coef = amp * (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape))
    field = np.fft.irfft2(coef, s=(side, side))
    return (field / field.std()).astype(np.float32)


@lru_cache(maxsize=8)
def _hann(h: int, w: int) -> np.ndarray:
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    return win / np.sqrt((win**2).mean())  # white noise keeps its power


@lru_cache(maxsize=8)
def _rings(h: int, w: int, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ring number (1 … bins; 0 for DC and the corners beyond Nyquist) of every rfft2 coefficient."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    r = np.hypot(fy, fx)
    ring = np.ceil(r / 0.5 * bins).astype(np.int64)  # ring k covers ((k−1)/2bins, k/2bins]
    ring[ring > bins] = 0
    ring_flat = ring.ravel()
    # rfft2 keeps one of each conjugate pair; a ring's mean over the kept half is its mean over both
    counts = np.bincount(ring_flat, minlength=bins + 1)[1 : bins + 1].astype(np.float64)
    freqs = (np.arange(1, bins + 1) - 0.5) * 0.5 / bins
    return ring_flat, counts, freqs
