"""The same t at other resolutions: x_t average-pooled s×s, each copy's effective SNR, the matching shift.

Averaging s×s pixels of x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (Eq. 4, Ho et al. 2020) averages s² independent
noise values, so the noise's variance falls by s² (its standard deviation by s), while a picture that is
smooth on that scale keeps its values. For a constant image the SNR is therefore multiplied by exactly
s², a log-SNR shift of 2 log s (Hoogeboom et al. 2023, "simple diffusion", Sec. 3: shift the schedule
by 2 log(d/64) for a d×d image). For a real image the signal loses the detail finer than s pixels:

    SNR_s = ᾱ_t ⟨(P_s x_0)²⟩ / ((1 − ᾱ_t) ⟨(P_s ε)²⟩),   ⟨(P_s x_0)²⟩ ≤ ⟨x_0²⟩  (Cauchy–Schwarz on each block),

so SNR_s / SNR_1 = s² · ⟨(P_s x_0)²⟩ / ⟨x_0²⟩ ≤ s² in expectation (E⟨(P_s ε)²⟩ = 1/s² for any image):
the shift is at most 2 log s, with equality exactly when x_0 is constant on every s×s block (E⟨(P_s ε)²⟩ = 1/s² holds for any image). That is why the same t looks
cleaner at a higher resolution viewed at the same size: the eye averages the fine noise away, and a
model trained at low resolution, where each noise pixel covers more of the picture, meets at t a
picture far more hidden. ⟨·⟩ is the mean over pixels; SNR here is mean-square signal over noise power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.analysis.errors import AnalysisError
from core.diffusion.schedules import NoiseSchedule

DEFAULT_FACTORS = (1, 2, 4)


def average_pool(x: np.ndarray, s: int) -> np.ndarray:
    """s×s average pooling of [H, W] or [C, H, W] (the bottom and right edges cropped to a multiple of s)."""
    x = np.asarray(x, dtype=np.float32)
    if s == 1:
        return x
    h, w = x.shape[-2] // s * s, x.shape[-1] // s * s
    if h == 0 or w == 0:
        raise AnalysisError(f"a {x.shape[-1]}×{x.shape[-2]} image cannot be averaged over {s}×{s} pixels")
    x = x[..., :h, :w]
    return x.reshape(*x.shape[:-2], h // s, s, w // s, s).mean(axis=(-3, -1))


@dataclass(frozen=True)
class Rung:
    """x_t average-pooled ``factor``×``factor``, with its effective SNR and log-SNR shift."""

    factor: int
    x_t: np.ndarray  # pooled, [C, H/s, W/s]
    noise_std: float  # measured std of the pooled noise part √(1−ᾱ_t) P_s ε
    snr: float  # measured effective SNR_s
    snr_constant: float  # SNR_1 · s²: what a constant image would have (Hoogeboom et al. 2023)
    log_snr_shift: float  # log SNR_s − log SNR_1 (2 log s for a constant image, less for a real one)
    matching_paper_t: int  # the paper's t at which the unpooled image would be as clean as this copy


def ladder(
    schedule: NoiseSchedule, x0: np.ndarray, noise: np.ndarray, index: int, factors: Sequence[int] = DEFAULT_FACTORS
) -> list[Rung]:
    """The rungs of x_t at array index ``index`` ≥ 0 for one x_0 [C, H, W] and one ε of its shape."""
    if index < 0:
        raise AnalysisError("t = 0 is the clean image: it has no noise, so no SNR to compare")
    if x0.shape != noise.shape:
        raise AnalysisError(f"x_0 {x0.shape} and ε {noise.shape} differ in shape")
    a = float(schedule.sqrt_alphas_cumprod[index])
    b = float(schedule.sqrt_one_minus_alphas_cumprod[index])

    def measured(s: int) -> tuple[np.ndarray, float, float]:
        px0, peps = average_pool(x0, s), average_pool(noise, s)
        signal = a * a * float(np.mean(px0.astype(np.float64) ** 2))
        noise_power = b * b * float(np.mean(peps.astype(np.float64) ** 2))
        return a * px0 + b * peps, signal / noise_power, noise_power

    _, snr_1, _ = measured(1)
    rungs = []
    for s in factors:
        x_t, snr, noise_power = measured(s)
        shift = math.log(snr / snr_1) if snr > 0 and snr_1 > 0 else 0.0
        matching = matching_paper_t(schedule, math.exp(float(schedule.log_snr[index]) + shift))
        rungs.append(Rung(s, x_t, math.sqrt(noise_power), snr, snr_1 * s * s, shift, matching))
    return rungs


def matching_paper_t(schedule: NoiseSchedule, snr: float) -> int:
    """The paper's t whose SNR is closest to ``snr`` in log (0 when it is above every t's: clean)."""
    if snr <= 0:
        return schedule.T
    if snr > float(schedule.snr[0]):
        return 0
    return int(torch.argmin((schedule.log_snr - math.log(snr)).abs())) + 1


def shift_for_resolution(high: int, low: int) -> float:
    """The log-SNR shift 2 log(high/low) between two resolutions of a constant image (Hoogeboom et al. 2023)."""
    return 2.0 * math.log(high / low)
