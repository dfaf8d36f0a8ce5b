"""What the reverse panel can show for a frame, each derived by :mod:`core.diffusion.parameterization`.

The network natively predicts one of ε, x_0 or v; from any of them and x_t the others follow, and so
does the score s_θ = −ε̂/√(1−ᾱ_t). Beside each prediction stands its truth when x_0 is known:
ε_true is the ε that makes x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for the current x_t (Eq. 4 solved for ε).
"""

from __future__ import annotations

import numpy as np
import torch

from core.choices import VIEWS  # noqa: F401 - defined torch-free, read from here too
from core.diffusion.parameterization import eps_from_x0, score_from_eps, v_from_x0_eps, x0_from_eps
from core.diffusion.schedules import NoiseSchedule
from core.imaging.scaling import NOISE_SHOWN_SIGMAS, noise_to_uint8, tensor_to_images
from core.runs.chain import Frame

# Spelled out as well as hatted: a combining hat renders poorly in some fonts, and x̂₀ beside x₀ must not be misread.
VIEW_NAMES = {"x0": "predicted x̂₀", "eps": "predicted ε̂", "v": "predicted v̂", "score": "score s_θ = −ε̂/√(1−ᾱ_t)"}
TRUTH_NAMES = {"x0": "x₀ (the truth)", "eps": "ε_true", "v": "v_true", "score": "true score"}
NATIVE = {"eps": "eps", "x0": "x0", "v": "v"}  # a model's prediction type → its own view


def rms(x: torch.Tensor) -> float:
    return float(x.float().pow(2).mean().sqrt())


def eps_true(schedule: NoiseSchedule, frame: Frame, x0: torch.Tensor) -> torch.Tensor:
    """The ε for which x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, at the frame's own x_t."""
    return eps_from_x0(schedule, frame.x_t, frame.index, x0)


def _from_eps(schedule: NoiseSchedule, frame: Frame, view: str, eps: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    if view == "eps":
        return eps
    if view == "v":
        return v_from_x0_eps(schedule, x0, frame.index, eps)
    if view == "score":
        return score_from_eps(schedule, frame.x_t, frame.index, eps)
    return x0


def predicted(schedule: NoiseSchedule, frame: Frame, view: str) -> torch.Tensor:
    """The network's prediction of ``view`` at this frame, [C, H, W]."""
    _check(view)
    if frame.eps_hat is None:  # the final sample: nothing left to predict
        return frame.x_t if view == "x0" else torch.zeros_like(frame.x_t)
    if view == "x0":
        return frame.x0_hat  # as the sampler used it (clipped when it clips)
    x0 = x0_from_eps(schedule, frame.x_t, frame.index, frame.eps_hat)
    return _from_eps(schedule, frame, view, frame.eps_hat, x0)


def truth(schedule: NoiseSchedule, frame: Frame, view: str, x0: torch.Tensor) -> torch.Tensor:
    """The true counterpart of ``view`` given the clean image ``x0`` [C, H, W]."""
    _check(view)
    if frame.final:
        return x0 if view == "x0" else torch.zeros_like(x0)
    return _from_eps(schedule, frame, view, eps_true(schedule, frame, x0), x0)


def noise_scale(schedule: NoiseSchedule, frame: Frame, view: str) -> float:
    """The standard deviation a noise-like view has at this frame (1 for ε and v; 1/√(1−ᾱ_t) for the score)."""
    if view == "score" and frame.index >= 0:
        return float(1.0 / schedule.sqrt_one_minus_alphas_cumprod[frame.index])
    return 1.0


def to_picture(schedule: NoiseSchedule, frame: Frame, view: str, x: torch.Tensor) -> np.ndarray:
    """uint8 [H, W, 3]: images in [−1, 1] as pixels; noise-like maps at ±3σ of their own scale."""
    if view == "x0":
        return tensor_to_images(x)
    return noise_to_uint8(x, noise_scale(schedule, frame, view))


def scale_label(schedule: NoiseSchedule, frame: Frame, view: str) -> str:
    """How a view's grey levels map to values, for its caption."""
    if view == "x0":
        return ""
    sigma = noise_scale(schedule, frame, view)
    return f"±{NOISE_SHOWN_SIGMAS:g}σ = ±{NOISE_SHOWN_SIGMAS * sigma:.3g}"


def _check(view: str) -> None:
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
