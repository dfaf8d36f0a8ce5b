"""Samplers on point clouds: DDPM and DDIM through :mod:`core.diffusion.samplers`, annealed Langevin dynamics.

Every sampler yields one :class:`ToyFrame` per position of the particles. Timesteps follow
:mod:`core.diffusion.schedules`: array index t is the paper's step t+1 and index −1 is the data itself
(ᾱ = 1). Frames carry the paper's t (0 = data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.choices import TOY_DIFFUSION_SAMPLERS, TOY_FLOW_SAMPLERS
from core.device import randn
from core.diffusion.parameterization import check_prediction, score_from_eps, x0_eps_from_output
from core.diffusion.samplers import ddim_loop, ddim_timesteps, ddpm_loop
from core.diffusion.schedules import NoiseSchedule
from core.errors import DiffusionVizError
from core.toy2d.model import VELOCITY, check_toy_prediction
from core.toy2d.points import as_points, frozen

DIFFUSION_SAMPLERS = TOY_DIFFUSION_SAMPLERS
FLOW_SAMPLERS = TOY_FLOW_SAMPLERS
TOY_SAMPLERS = DIFFUSION_SAMPLERS + FLOW_SAMPLERS
# Langevin particles farther out than this have diverged (the data live within |x| ≤ 2·√2).
DIVERGED = 1e3

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True, eq=False)
class ToyFrame:
    """One frame of a reverse run on points; arrays are read-only float32 numpy.

    ``points`` ``[N, 2]`` are the particles at the paper's step ``t`` (T = noise, 0 = data), or, in a
    flow-matching run (``flow``), at the flow time ``t`` = s ∈ [0, 1] (1 = noise, 0 = data). ``score`` is the
    model's ∇ log q_t at those points, −ε̂/√(1 − ᾱ_t) (−ε̂/s for a flow), where the step evaluated it (None on the
    last frame). ``level`` is the Langevin noise level, 1 … ``levels`` from high to low (0 for the others).
    """

    index: int
    total: int
    t: int | float
    points: np.ndarray
    score: np.ndarray | None = None
    level: int = 0
    levels: int = 0
    flow: bool = False

    @property
    def label(self) -> str:
        """ "t = 37" (with the Langevin level), or "s = 0.40" for a flow: the caption of the frame."""
        if self.flow:
            return f"s = {self.t:.2f}"
        text = f"t = {self.t}"
        return text + (f"   level {self.level}/{self.levels}" if self.levels else "")


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
    ``euler``, ``heun``
        A flow-matching model's ODE dx/ds = v̂(x, s) from s = 1 to 0 in ``steps`` (default 50) equal steps;
        see :func:`flow_ode`.

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
        ``eps``, ``x0`` or ``v``; ``velocity`` for the flow samplers.
    x_start : torch.Tensor, optional
        x_T ``[N, 2]``; default N(0, I).
    step_size, steps_per_level, denoise
        Langevin only; see :func:`annealed_langevin`.

    Raises
    ------
    DiffusionVizError
        If a Langevin run diverges (no frame with a non-finite value is ever yielded), or the sampler does not
        fit the model (a flow sampler for a diffusion model, or the other way round).
    """
    check_toy_prediction(prediction)
    if sampler not in TOY_SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(TOY_SAMPLERS)}")
    check_sampler_fits(sampler, prediction)
    x = randn((n, 2), generator, "cpu") if x_start is None else as_points(x_start)
    if sampler in FLOW_SAMPLERS:
        return flow_ode(model_fn, x, 50 if steps is None else steps, heun=sampler == "heun")
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
    and σ_L = √(1 − ᾱ_0) = √β_1, and each geometric target is snapped to the index with the nearest σ among
    those left free. A schedule with fewer than ``num_levels`` steps gives each of its indices once.
    """
    if num_levels < 1:
        raise ValueError(f"the number of noise levels must be at least 1, got {num_levels}")
    sigmas = schedule.sqrt_one_minus_alphas_cumprod
    if num_levels == 1:
        return [0]
    targets = torch.logspace(
        math.log10(float(sigmas[-1])), math.log10(float(sigmas[0])), num_levels, dtype=torch.float64
    )
    # Each target from the highest σ down takes the nearest index below the one before, so the levels are
    # distinct and there are exactly num_levels of them whenever the schedule has that many steps (#21: near
    # σ = 1 a T = 200 schedule's σ barely moves, and snapping alone merged 20 targets into 17 levels).
    indices: list[int] = []
    for k, target in enumerate(targets.flip(0)):
        above = indices[-1] if indices else len(sigmas)
        low = max(0, num_levels - 1 - k) if len(sigmas) >= num_levels else 0
        if above - 1 < low:
            break
        window = sigmas[low:above]
        indices.append(low + int(torch.argmin((window - target).abs())))
    return indices


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


def _model_score(
    model_fn: ModelFn, schedule: NoiseSchedule | None, x: torch.Tensor, t, prediction: str
) -> torch.Tensor:
    """The model's score at points x: −ε̂/√(1 − ᾱ_t) at array index t, or −ε̂/s at a flow's time s."""
    with torch.inference_mode():
        if prediction == VELOCITY:
            return score_from_velocity(x, float(t), model_fn(x, torch.full((x.shape[0],), float(t))))
        out = model_fn(x, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device))
        _, eps_hat = x0_eps_from_output(schedule, x, t, out, prediction)
        return score_from_eps(schedule, x, t, eps_hat)


def field_on_grid(
    model_fn: ModelFn,
    schedule: NoiseSchedule | None,
    t: int | float,
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
    t : int or float
        Array index 0 … T−1, or a flow model's time s ∈ (0, 1] (``prediction="velocity"``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        float32 grid points ``[k², 2]`` (x fastest) and score vectors ``[k², 2]``.
    """
    if prediction == VELOCITY:
        if not 0 < t <= 1:
            raise ValueError(f"a flow's time s must be in (0, 1], got {t}")
    elif not 0 <= t < schedule.T:
        raise ValueError(f"t must be an array index in 0..{schedule.T - 1}, got {t}")
    axis = torch.linspace(lo, hi, k)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    score = _model_score(model_fn, schedule, grid, t, prediction)
    return grid.numpy().astype(np.float32), score.to(torch.float32).numpy()


# -- flow matching (#24) ----------------------------------------------------------------------------------------


def check_sampler_fits(sampler: str, prediction: str) -> None:
    """A :class:`DiffusionVizError` if a flow sampler is asked of a diffusion model or the other way round."""
    if (sampler in FLOW_SAMPLERS) != (prediction == VELOCITY):
        if prediction == VELOCITY:
            raise DiffusionVizError(
                f"{sampler} needs a diffusion model; a flow-matching model samples with euler or heun"
            )
        raise DiffusionVizError(f"{sampler} integrates a flow-matching model; this one predicts {prediction}")


def x0_eps_from_velocity(x: torch.Tensor, s, velocity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x̂_0 = x − s v̂ and ε̂ = x + (1 − s) v̂: the straight path x = (1 − s) x_0 + s ε solved with v = ε − x_0."""
    s = torch.as_tensor(s, dtype=x.dtype).reshape(-1, 1)
    return x - s * velocity, x + (1.0 - s) * velocity


def score_from_velocity(x: torch.Tensor, s: float, velocity: torch.Tensor) -> torch.Tensor:
    """∇ log p_s(x) = −ε̂/s: the path's noise has standard deviation s (Tweedie, as −ε̂/√(1 − ᾱ) for diffusion)."""
    return -x0_eps_from_velocity(x, s, velocity)[1] / max(s, 1e-6)


def flow_times(steps: int) -> list[float]:
    """The ``steps`` + 1 flow times 1, 1 − 1/steps, …, 0 of a uniform ODE grid."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    return [1.0 - k / steps for k in range(steps + 1)]


def flow_ode(
    model_fn: ModelFn, x_start: torch.Tensor, steps: int = 50, *, heun: bool = False, times: list[float] | None = None
) -> Iterator[ToyFrame]:
    """Integrate a flow-matching model's ODE dx/ds = v̂(x, s) from s = 1 (noise) to s = 0 (data).

    Euler: x ← x + (s' − s) v̂(x, s). Heun (the trapezoid rule, as EDM's Alg. 1, Karras et al. 2022):
    x̃ = x + (s' − s) v̂(x, s), then x ← x + (s' − s) (v̂(x, s) + v̂(x̃, s')) / 2, two model calls a step.
    ``times`` (descending from 1 to 0) overrides the uniform grid of ``steps``. Yields a frame per position;
    ``t`` is the flow time s.
    """
    times = flow_times(steps) if times is None else list(times)
    x = as_points(x_start)
    total = len(times)

    def velocity(x: torch.Tensor, s: float) -> torch.Tensor:
        with torch.inference_mode():
            return model_fn(x, torch.full((x.shape[0],), s, dtype=x.dtype))

    for i, (s, s_next) in enumerate(zip(times[:-1], times[1:], strict=True)):
        v = velocity(x, s)
        yield ToyFrame(i, total, s, frozen(x), frozen(score_from_velocity(x, s, v)), flow=True)
        x_next = x + (s_next - s) * v  # Euler
        if heun:
            x_next = x + (s_next - s) * 0.5 * (v + velocity(x_next, s_next))
        x = x_next
    yield ToyFrame(total - 1, total, times[-1], frozen(x), flow=True)


def flow_time_of_index(schedule: NoiseSchedule, index: int) -> float:
    """The flow time s of diffusion index t: s = σ/(α + σ) with α = √ᾱ_t, σ = √(1 − ᾱ_t); −1 (data) gives 0.

    x_t = α x_0 + σ ε divided by α + σ is (1 − s) x_0 + s ε: the straight path at s (Gao et al. 2024, "Diffusion
    meets flow matching"; Kingma & Gao 2023 call it the change of variables between the two).
    """
    if index < 0:
        return 0.0
    alpha, sigma = float(schedule.sqrt_alphas_cumprod[index]), float(schedule.sqrt_one_minus_alphas_cumprod[index])
    return sigma / (alpha + sigma)


def velocity_of_diffusion_model(
    model_fn: ModelFn, schedule: NoiseSchedule, prediction: str, indices: Sequence[int]
) -> ModelFn:
    """A diffusion model read as a flow-matching velocity v̂ = ε̂ − x̂_0 on the straight path.

    At flow time s = :func:`flow_time_of_index` of one of ``indices``, the point x of the straight path is
    x_t / (α + σ) of that index; the model's x̂_0 and ε̂ there give v̂ = ε̂ − x̂_0.
    """
    indices = list(indices)
    times = np.array([flow_time_of_index(schedule, i) for i in indices])

    def model(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        index = indices[int(np.abs(times - float(s[0])).argmin())]  # s arrives rounded to x's float32
        alpha = float(schedule.sqrt_alphas_cumprod[index])
        sigma = float(schedule.sqrt_one_minus_alphas_cumprod[index])
        x_t = (alpha + sigma) * x
        out = model_fn(x_t, torch.full((x.shape[0],), index, dtype=torch.long))
        x0_hat, eps_hat = x0_eps_from_output(schedule, x_t, index, out, prediction)
        return eps_hat - x0_hat

    return model


def ddim_as_flow_euler(
    model_fn: ModelFn, schedule: NoiseSchedule, x_start: torch.Tensor, steps: int, prediction: str = "eps"
) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """DDIM (η = 0) of a diffusion model and flow-matching Euler on its velocity, from the same x_T.

    A DDIM step keeps x̂_0 and ε̂ and moves to the next noise level, x' = α' x̂_0 + σ' ε̂ (Eq. 12, Song et al.
    2021); an Euler step of the straight path does the same, x' = x + (s' − s)(ε̂ − x̂_0) = (1 − s') x̂_0 + s' ε̂.
    So under x ↦ x/(α + σ), t ↦ s = σ/(α + σ) the two runs are one run (Gao et al. 2024).

    Returns
    -------
    (list, list, float)
        DDIM's positions, the Euler positions mapped back by x ↦ (α + σ) x, and the largest gap between them.
    """
    indices = [*ddim_timesteps(schedule.T, steps), -1]
    x_start = as_points(x_start)
    ddim = [
        f.points for f in sample_toy(model_fn, schedule, "ddim", steps=steps, x_start=x_start, prediction=prediction)
    ]
    scale = [
        1.0 if i < 0 else float(schedule.sqrt_alphas_cumprod[i] + schedule.sqrt_one_minus_alphas_cumprod[i])
        for i in indices
    ]
    times = [flow_time_of_index(schedule, i) for i in indices]
    velocity = velocity_of_diffusion_model(model_fn, schedule, prediction, indices[:-1])
    flow = [f.points * c for f, c in zip(flow_ode(velocity, x_start / scale[0], times=times), scale, strict=True)]
    gap = max(float(np.abs(a - b).max()) for a, b in zip(ddim, flow, strict=True))
    return ddim, flow, gap


# -- classifier-free guidance (#24) -----------------------------------------------------------------------------


def guided_model(
    model: Callable[..., torch.Tensor],
    label: int,
    w: float,
    interval: tuple[float, float] = (0.0, 1.0),
    T: int | None = None,
) -> ModelFn:
    """Classifier-free guidance of a conditional model: (1 + w) f(x, t, c) − w f(x, t, ∅).

    Ho & Salimans 2021, Eq. (6), applied to the raw output: each of ε̂, x̂_0, v̂ and the velocity is affine in
    the output with coefficients that sum to one, so guiding any of them guides the score alike. With an
    ``interval`` (a, b), guidance acts only where the noise level t/T (or the flow time s) lies in [a, b], and the
    plain conditional output is used elsewhere (Kynkäänniemi et al. 2024). ``T`` is the schedule's length for
    a diffusion model (None for a flow).
    """
    if getattr(model, "num_classes", 0) == 0:
        raise DiffusionVizError("guidance needs a conditional model: tick 'conditional' and train with the labels")
    lo, hi = interval
    if not 0.0 <= lo <= hi <= 1.0:
        raise DiffusionVizError(f"the guidance interval must satisfy 0 ≤ a ≤ b ≤ 1, got [{lo:g}, {hi:g}]")

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        level = float(t[0]) if T is None else (float(t[0]) + 1) / T
        labels = torch.full((n,), label, dtype=torch.long)
        if w == 0 or not lo <= level <= hi:
            return model(x, t, labels)
        both = model(
            torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, torch.full_like(labels, model.num_classes)])
        )
        conditional, unconditional = both[:n], both[n:]
        return conditional + w * (conditional - unconditional)

    return fn
