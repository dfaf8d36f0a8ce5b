"""Samplers on point clouds: DDPM and DDIM through :mod:`core.diffusion.samplers`, annealed Langevin dynamics.

Every sampler yields one :class:`ToyFrame` per position of the particles. Timesteps follow
:mod:`core.diffusion.schedules`: array index t is the paper's step t+1 and index −1 is the data itself
(ᾱ = 1). Frames carry the paper's t (0 = data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.device import randn
from core.diffusion.parameterization import check_prediction, score_from_eps, x0_eps_from_output
from core.diffusion.samplers import ddim_loop, ddpm_loop
from core.diffusion.schedules import NoiseSchedule
from core.errors import DiffusionVizError
from core.toy2d.points import as_points, frozen

TOY_SAMPLERS = ("ddpm", "ddim", "langevin")
# Langevin particles farther out than this have diverged (the data live within |x| ≤ 2·√2).
DIVERGED = 1e3

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True, eq=False)
class ToyFrame:
    """One frame of a reverse run on points; arrays are read-only float32 numpy.

    ``points`` ``[N, 2]`` are the particles at the paper's step ``t`` (T = noise, 0 = data). ``score`` is the
    model's ∇ log q_t at those points, −ε̂/√(1 − ᾱ_t), where the step evaluated it (None on the last frame).
    ``level`` is the Langevin noise level, 1 … ``levels`` from high to low (0 for DDPM and DDIM).
    """

    index: int
    total: int
    t: int
    points: np.ndarray
    score: np.ndarray | None = None
    level: int = 0
    levels: int = 0


def sample_toy(
    model_fn: ModelFn,
    schedule: NoiseSchedule,
    sampler: str,
    n: int = 2000,
    steps: int | None = None,
    generator: torch.Generator | None = None,
    prediction: str = "eps",
    *,
    x_start: torch.Tensor | None = None,
    step_size: float | None = None,
    steps_per_level: int = 10,
    denoise: bool = True,
) -> Iterator[ToyFrame]:
    """Run a reverse sampler on points and yield one :class:`ToyFrame` per position of the particles.

    ``ddpm``
        Ancestral sampling (Alg. 2, Ho et al. 2020) over all T steps via :func:`ddpm_loop`. With ``steps`` < T
        it runs DDIM with η = 1 on ``steps`` trailing-spaced indices, which is DDPM's ancestral sampler of the
        respaced chain with σ² = β̃ (Song et al. 2021, Secs. 4.1–4.2).
    ``ddim``
        DDIM with η = 0 (Eq. 12, Song et al. 2021) on ``steps`` indices (default 50), deterministic given x_T.
        On a dense grid of steps it is the Euler discretisation of the probability-flow ODE written in
        x/√ᾱ and σ = √((1 − ᾱ)/ᾱ) (Song et al. 2021, Eq. 14; Karras et al. 2022).
    ``langevin``
        Annealed Langevin dynamics (Alg. 1, Song & Ermon 2019) on ``steps`` noise levels (default 20); see
        :func:`annealed_langevin`.

    x̂_0 is never clipped: the points live in [−2, 2]², not in the images' [−1, 1].

    Parameters
    ----------
    model_fn : callable
        ``(x [N, 2], t [N]) → [N, 2]``, the network's output in ``prediction``'s parameterisation.
    schedule : NoiseSchedule
        The schedule the model was trained on.
    sampler : str
        One of :data:`TOY_SAMPLERS`.
    n : int
        Number of particles (ignored when ``x_start`` is given).
    steps : int, optional
        Model steps (DDPM, DDIM) or noise levels (Langevin).
    generator : torch.Generator, optional
        Draws x_T (unless ``x_start`` is given) and the samplers' noise.
    prediction : str
        ``eps``, ``x0`` or ``v``.
    x_start : torch.Tensor, optional
        x_T ``[N, 2]``; default N(0, I).
    step_size, steps_per_level, denoise
        Langevin only; see :func:`annealed_langevin`.

    Raises
    ------
    DiffusionVizError
        If a Langevin run diverges (no frame with a non-finite value is ever yielded).
    """
    check_prediction(prediction)
    if sampler not in TOY_SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(TOY_SAMPLERS)}")
    x = randn((n, 2), generator, "cpu") if x_start is None else as_points(x_start)
    if sampler == "langevin":
        return annealed_langevin(
            model_fn,
            schedule,
            x,
            num_levels=20 if steps is None else steps,
            steps_per_level=steps_per_level,
            step_size=step_size,
            prediction=prediction,
            denoise=denoise,
            generator=generator,
        )
    if sampler == "ddpm" and (steps is None or steps >= schedule.T):
        loop = ddpm_loop(model_fn, schedule, x, prediction=prediction, clip_x0=False, generator=generator)
    else:
        eta = 1.0 if sampler == "ddpm" else 0.0
        num_steps = 50 if steps is None else steps
        loop = ddim_loop(
            model_fn,
            schedule,
            x,
            num_steps=num_steps,
            eta=eta,
            prediction=prediction,
            clip_x0=False,
            generator=generator,
        )
    return _frames_of_loop(loop, schedule, prediction)


def _frames_of_loop(loop, schedule: NoiseSchedule, prediction: str) -> Iterator[ToyFrame]:
    """ToyFrames from a SamplerStep loop: x_t with the score the step used, then the final x_0."""
    last = None
    for step in loop:
        _, eps_hat = x0_eps_from_output(schedule, step.x_t, step.t, step.model_output, prediction)
        score = score_from_eps(schedule, step.x_t, step.t, eps_hat)
        yield ToyFrame(step.n, step.num_steps + 1, step.t + 1, frozen(step.x_t), frozen(score))
        last = step
    if last is not None:
        yield ToyFrame(last.num_steps, last.num_steps + 1, 0, frozen(last.x_prev))


def langevin_levels(schedule: NoiseSchedule, num_levels: int) -> list[int]:
    """Descending array indices used as Langevin noise levels, σ_i = √(1 − ᾱ_{t_i}) about geometric.

    NCSN's σ_1 > … > σ_L form a geometric sequence (Song & Ermon 2019, Sec. 4.2); here σ_1 = √(1 − ᾱ_{T−1})
    and σ_L = √(1 − ᾱ_0) = √β_1, and each geometric target is snapped to the index with the nearest σ.
    Indices that two targets share are kept once, so a short schedule may give fewer levels.
    """
    if num_levels < 1:
        raise ValueError(f"the number of noise levels must be at least 1, got {num_levels}")
    sigmas = schedule.sqrt_one_minus_alphas_cumprod
    if num_levels == 1:
        return [0]
    targets = torch.logspace(
        math.log10(float(sigmas[-1])), math.log10(float(sigmas[0])), num_levels, dtype=torch.float64
    )
    indices = [int(torch.argmin((sigmas - s).abs())) for s in targets]
    return sorted(set(indices), reverse=True)


def default_langevin_step_size(schedule: NoiseSchedule) -> float:
    """ε = σ_L² = β_1, so α_i = σ_i² at every level: stable for any schedule (see :func:`annealed_langevin`)."""
    return float(1.0 - schedule.alphas_cumprod[0])


def annealed_langevin(
    model_fn: ModelFn,
    schedule: NoiseSchedule,
    x_start: torch.Tensor,
    *,
    num_levels: int = 20,
    steps_per_level: int = 10,
    step_size: float | None = None,
    prediction: str = "eps",
    denoise: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[ToyFrame]:
    """Annealed Langevin dynamics (Alg. 1, Song & Ermon 2019) driven by a diffusion model's score.

    Noise levels are array indices of the schedule (:func:`langevin_levels`), in the variance-preserving view:
    level i targets q_{t_i}, the data diffused to index t_i, whose noise variance is σ_i² = 1 − ᾱ_{t_i} and whose
    score the model gives as s_θ = −ε̂/√(1 − ᾱ_{t_i}). At each level, ``steps_per_level`` updates

        x ← x + (α_i / 2) s_θ(x, t_i) + √α_i z,   z ~ N(0, I),   α_i = ε σ_i² / σ_L²

    with ε = ``step_size`` and σ_L the lowest level's σ, so α_L = ε. The update is stable on a Gaussian of
    variance ≥ σ_i² while α_i < 4σ_i², i.e. ε < 4σ_L²; the default ε is :func:`default_langevin_step_size`.
    The chain starts from ``x_start`` (N(0, I) ≈ q_{T−1}). With ``denoise``, a last frame moves the particles
    to Tweedie's x̂_0 = (x + σ_L² s_θ)/√ᾱ_{t_L} at the lowest level (Efron 2011; the same x̂_0 as Eq. 15 of
    Ho et al. 2020), which removes the σ_L of noise that the last level leaves.

    Yields a frame with the score before every update, the particles after the last update, then the denoised
    ones. Raises a
    :class:`DiffusionVizError` naming the level and step size as soon as a particle is non-finite or farther
    than 1e3 from the origin, before yielding it.
    """
    check_prediction(prediction)
    levels = langevin_levels(schedule, num_levels)
    step_size = default_langevin_step_size(schedule) if step_size is None else float(step_size)
    if not step_size > 0:
        raise ValueError(f"the Langevin step size must be positive, got {step_size}")
    if steps_per_level < 1:
        raise ValueError(f"steps_per_level must be at least 1, got {steps_per_level}")
    sigma2_last = float(1.0 - schedule.alphas_cumprod[levels[-1]])
    total = len(levels) * steps_per_level + 1 + int(denoise)
    x = as_points(x_start)
    frame = 0
    for level, t in enumerate(levels, start=1):
        alpha = step_size * float(1.0 - schedule.alphas_cumprod[t]) / sigma2_last
        for _ in range(steps_per_level):
            score = _model_score(model_fn, schedule, x, t, prediction)
            yield ToyFrame(frame, total, t + 1, frozen(x), frozen(score), level, len(levels))
            frame += 1
            z = randn(x.shape, generator, x.device, x.dtype)
            x = x + (alpha / 2) * score + math.sqrt(alpha) * z  # Alg. 1, Song & Ermon 2019
            if not bool(torch.isfinite(x).all()) or float(x.abs().max()) > DIVERGED:
                raise DiffusionVizError(
                    f"the Langevin step size {step_size:g} diverged at noise level {level} of {len(levels)}; "
                    "try a smaller one"
                )
    t = levels[-1]
    yield ToyFrame(frame, total, t + 1, frozen(x), level=len(levels), levels=len(levels))
    if denoise:
        with torch.inference_mode():
            out = model_fn(x, torch.full((x.shape[0],), t, dtype=torch.long))
            x0_hat, _ = x0_eps_from_output(schedule, x, t, out, prediction)
        yield ToyFrame(frame + 1, total, 0, frozen(x0_hat), level=len(levels), levels=len(levels))


def _model_score(model_fn: ModelFn, schedule: NoiseSchedule, x: torch.Tensor, t: int, prediction: str) -> torch.Tensor:
    """The model's score −ε̂/√(1 − ᾱ_t) at points x and array index t."""
    with torch.inference_mode():
        out = model_fn(x, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device))
        _, eps_hat = x0_eps_from_output(schedule, x, t, out, prediction)
        return score_from_eps(schedule, x, t, eps_hat)


def field_on_grid(
    model_fn: ModelFn,
    schedule: NoiseSchedule,
    t: int,
    prediction: str = "eps",
    lo: float = -2.5,
    hi: float = 2.5,
    k: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's score ∇ log q_t = −ε̂/√(1 − ᾱ_t) on a k × k grid, for drawing arrows.

    The −ε̂ direction is the same field scaled by √(1 − ᾱ_t). Its length grows like 1/σ_t near the data at
    small t, so a view usually normalises the arrows.

    Parameters
    ----------
    t : int
        Array index 0 … T−1.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        float32 grid points ``[k², 2]`` (x fastest) and score vectors ``[k², 2]``.
    """
    if not 0 <= t < schedule.T:
        raise ValueError(f"t must be an array index in 0..{schedule.T - 1}, got {t}")
    axis = torch.linspace(lo, hi, k)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    score = _model_score(model_fn, schedule, grid, t, prediction)
    return grid.numpy().astype(np.float32), score.to(torch.float32).numpy()
