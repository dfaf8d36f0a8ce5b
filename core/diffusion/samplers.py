"""Reverse-process samplers: DDPM (Ho et al. 2020, Alg. 2) and DDIM (Song et al. 2021, Eq. 12).

Single steps are pure functions. The ``*_loop`` generators drive a model through a chain and
yield one frozen :class:`SamplerStep` per step; a caller cancels simply by not asking for
the next one. Randomness comes in through ``generator`` so every run is reproducible.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.choices import ODE_SAMPLERS, SAMPLERS  # defined torch-free, read from here too
from core.device import randn
from core.diffusion.parameterization import check_prediction, eps_from_x0, x0_eps_from_output
from core.diffusion.posterior import VARIANCES, p_mean_variance
from core.diffusion.schedules import NoiseSchedule

SPACINGS = ("leading", "trailing", "linspace")
# The defaults of every signature below and of SamplerConfig, in one place. Trailing spacing starts
# DDIM at t = T (Lin et al. 2024); clipping x̂_0 to the data range is what Ho et al.'s and Song et
# al.'s samplers do; the single-step functions stay the bare equations (no clipping) unless asked.
DEFAULT_SPACING = "trailing"
DEFAULT_CLIP_X0 = True
# EDM's σ spacings, for the σ samplers only (core.diffusion.ode_samplers.sampler_sigmas)
SIGMA_SPACINGS = ("karras", "edm")

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SamplerStep:
    """One step of a reverse chain.

    ``index`` is the array index of ``x_t`` (the model's input); ``x_prev`` is the sample the step
    produced, at ``prev_index`` (−1 means the final clean sample x_0). ``eps_hat`` is ε̂ as the
    network's output gives it (before any clipping of x̂_0), so no caller derives it again.
    """

    n: int
    num_steps: int
    index: int
    prev_index: int
    x_t: torch.Tensor
    x0_hat: torch.Tensor
    model_output: torch.Tensor
    x_prev: torch.Tensor
    eps_hat: torch.Tensor | None = None

    @property
    def t(self) -> int:
        """The old name of :attr:`index` (an array index, not the paper's t)."""
        return self.index

    @property
    def t_prev(self) -> int:
        """The old name of :attr:`prev_index`."""
        return self.prev_index


def ddpm_step(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    index: int,
    model_output: torch.Tensor,
    noise: torch.Tensor | None,
    prediction: str = "eps",
    variance: str = "fixed_small",
    clip_x0: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One ancestral step x_t → x_{t−1} (Algorithm 2, Ho et al. 2020).

    The mean is the posterior mean μ̃_t(x_t, x̂_0) (Eq. 7), which equals Algorithm 2's
    1/√α_t (x_t − β_t/√(1−ᾱ_t) ε̂) when x̂_0 is not clipped. σ²_t is β̃_t (``fixed_small``)
    or β_t (``fixed_large``). No noise is added at the last step (index 0).

    Returns ``(x_prev, x0_hat)``.
    """
    x_prev, x0_hat, _ = _ddpm_step(schedule, x_t, index, model_output, noise, prediction, variance, clip_x0)
    return x_prev, x0_hat


def _ddpm_step(schedule, x_t, index, model_output, noise, prediction, variance, clip_x0):
    (mean, eps_hat, x0_hat), var, _ = p_mean_variance(schedule, x_t, index, model_output, prediction, variance, clip_x0)
    if index == 0:
        return mean, x0_hat, eps_hat
    if noise is None:
        raise ValueError("ddpm_step needs noise for index > 0")
    return mean + var.sqrt() * noise, x0_hat, eps_hat


def ddim_step(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    index: int,
    prev_index: int,
    model_output: torch.Tensor,
    eta: float,
    noise: torch.Tensor | None,
    prediction: str = "eps",
    clip_x0: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step x_t → x_{prev_index} (Eq. 12, Song et al. 2021).

    σ_t(η) = η √((1−ᾱ_prev)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev) (Eq. 16); η = 0 is deterministic.
    ``prev_index = -1`` steps to the clean image (ᾱ_prev = 1). When x̂_0 is clipped, ε̂ is
    recomputed from it so the step stays consistent.

    Returns ``(x_prev, x0_hat)``.
    """
    x_prev, x0_hat, _ = _ddim_step(schedule, x_t, index, prev_index, model_output, eta, noise, prediction, clip_x0)
    return x_prev, x0_hat


def _ddim_step(schedule, x_t, index, prev_index, model_output, eta, noise, prediction, clip_x0):
    if not 0 <= prev_index + 1 <= index:
        raise ValueError(f"prev_index must satisfy -1 ≤ prev_index < index, got index={index}, prev_index={prev_index}")
    x0_hat, eps_net = x0_eps_from_output(schedule, x_t, index, model_output, prediction)
    eps_hat = eps_net
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        eps_hat = eps_from_x0(schedule, x_t, index, x0_hat)
    abar_t, abar_prev = schedule.abar(index), schedule.abar(prev_index)
    sigma = eta * ((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)) ** 0.5  # Eq. 16
    direction = max(1.0 - abar_prev - sigma**2, 0.0) ** 0.5
    x_prev = abar_prev**0.5 * x0_hat + direction * eps_hat  # Eq. 12
    if sigma > 0:
        if noise is None:
            raise ValueError("ddim_step needs noise when eta > 0")
        x_prev = x_prev + sigma * noise
    return x_prev, x0_hat, eps_net


def ddim_timesteps(T: int, num_steps: int, spacing: str = DEFAULT_SPACING) -> list[int]:
    """Descending array indices for a DDIM run of ``num_steps`` over a T-step schedule.

    ``leading`` and ``trailing`` follow diffusers (Lin et al. 2024, Table 2); ``linspace``
    spreads the steps evenly from T−1 to 0.
    """
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    if not 1 <= num_steps <= T:
        raise ValueError(f"steps must lie in 1..{T}, got {num_steps}")
    if spacing == "leading":
        steps = np.arange(num_steps) * (T // num_steps)
    elif spacing == "trailing":
        # arange with a float step can give one element too many (an index −1); keep exactly num_steps
        steps = (np.round(np.arange(T, 0, -T / num_steps)).astype(np.int64) - 1)[:num_steps]
    else:
        steps = np.linspace(0, T - 1, num_steps).round().astype(np.int64)
    return sorted({int(s) for s in steps}, reverse=True)


def ddim_run_timesteps(num_steps: int, start_index: int, spacing: str = DEFAULT_SPACING) -> list[int]:
    """The descending indices a DDIM run from ``start_index`` walks: its steps spread over 0..start_index.

    x_start lives at ``start_index``, so the first step reads it there ("leading" spacing would otherwise
    treat pure noise as x_{T−T/N}; Lin et al. 2024). The run keeps ``num_steps`` steps (at most start_index+1).
    """
    steps = ddim_timesteps(start_index + 1, min(num_steps, start_index + 1), spacing)
    steps[0] = start_index
    return steps


@dataclass(frozen=True)
class SamplerConfig:
    """Everything that defines a reverse run, so the app and the CLI share one description.

    ``steps`` is DDIM's number of steps and a σ sampler's number of network calls (NFE; Heun makes two a
    step); DDPM takes every step. ``spacing`` may be ``"karras"`` or ``"edm"`` for the σ samplers.
    ``zero_terminal_snr`` runs on the schedule rescaled to ᾱ_T = 0 (Lin et al. 2024, Algorithm 1).
    """

    sampler: str = "ddpm"
    steps: int = 50
    eta: float = 0.0
    variance: str = "fixed_small"
    spacing: str = DEFAULT_SPACING
    clip_x0: bool = DEFAULT_CLIP_X0
    seed: int = 0
    zero_terminal_snr: bool = False

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if self.variance not in VARIANCES:
            raise ValueError(f"unknown variance {self.variance!r}; choose one of {', '.join(VARIANCES)}")
        if self.spacing not in (*SPACINGS, *SIGMA_SPACINGS):
            raise ValueError(
                f"unknown spacing {self.spacing!r}; choose one of {', '.join((*SPACINGS, *SIGMA_SPACINGS))}"
            )
        if self.spacing in SIGMA_SPACINGS and self.sampler not in ODE_SAMPLERS:
            raise ValueError(
                f"{self.sampler.upper()} runs on the model's own steps: {self.spacing} spacing is for "
                f"{', '.join(ODE_SAMPLERS)}; choose leading, trailing or linspace"
            )
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError("eta must lie in [0, 1]")


# -- schedulers: one object per sampler, one loop for all ----------------------------------------------
#
# The shape of diffusers' schedulers: ``timesteps()`` lists the array indices a run visits, and
# ``step(model_output, index, x, noise)`` takes one step from x at ``index``. The caller owns the model
# call and the noise (drawn only where ``needs_noise(index)``), so a batched caller (Compare) and the
# plain loop below drive the same step rules. A new sampler is one subclass and one entry in
# core.diffusion.schedulers.SCHEDULERS (the σ samplers' class lives in core.diffusion.ode_samplers).


@dataclass(frozen=True)
class StepOutput:
    """What one scheduler step returns: the sample at ``prev_index``, the x̂_0 it used, the network's ε̂."""

    prev_sample: torch.Tensor
    x0_hat: torch.Tensor
    eps_hat: torch.Tensor


class Scheduler:
    """The step rule of one sampler over ``schedule``, for a run that starts at ``start_index`` (default T−1)."""

    def __init__(
        self, schedule: NoiseSchedule, config: SamplerConfig, prediction: str = "eps", start_index: int | None = None
    ) -> None:
        check_prediction(prediction)
        start_index = schedule.T - 1 if start_index is None else int(start_index)
        if not 0 <= start_index < schedule.T:
            raise ValueError(f"t_start must lie in 0..{schedule.T - 1}, got {start_index}")
        self.schedule, self.config, self.prediction, self.start_index = schedule, config, prediction, start_index
        self._timesteps = self._make_timesteps()
        self._pairs = self._make_pairs()
        self._prev = dict(self._pairs)

    def _make_timesteps(self) -> list[int]:
        raise NotImplementedError

    def _make_pairs(self) -> list[tuple[int, int]]:
        return list(zip(self._timesteps, [*self._timesteps[1:], -1], strict=True))

    def timesteps(self) -> list:
        """The model's index at each call, in order, one model call each (descending array indices for
        DDPM and DDIM; a σ sampler's may be fractional and repeat, see ``OdeScheduler``)."""
        return list(self._timesteps)

    def prev_index(self, index: int) -> int:
        """The index a step from ``index`` lands on (−1: the clean sample)."""
        return self._prev[index]

    def pairs(self) -> list[tuple[int, int]]:
        """(index, prev_index) of every call, in order: the array index of x_t and of the sample it returns."""
        return list(self._pairs)

    def needs_noise(self, index: int) -> bool:
        raise NotImplementedError

    def step(self, model_output: torch.Tensor, index: int, x: torch.Tensor, noise: torch.Tensor | None) -> StepOutput:
        raise NotImplementedError


class DDPMScheduler(Scheduler):
    """Ancestral DDPM (Algorithm 2, Ho et al. 2020): every index from the start down to 0."""

    def _make_timesteps(self) -> list[int]:
        return list(range(self.start_index, -1, -1))

    def needs_noise(self, index: int) -> bool:
        return index > 0

    def step(self, model_output, index, x, noise) -> StepOutput:
        c = self.config
        return StepOutput(
            *_ddpm_step(self.schedule, x, index, model_output, noise, self.prediction, c.variance, c.clip_x0)
        )


class DDIMScheduler(Scheduler):
    """DDIM (Eq. 12, Song et al. 2021) on ``config.steps`` indices spread over 0..start_index."""

    def _make_timesteps(self) -> list[int]:
        return ddim_run_timesteps(self.config.steps, self.start_index, self.config.spacing)

    def needs_noise(self, index: int) -> bool:
        return self.config.eta > 0 and self.prev_index(index) >= 0

    def step(self, model_output, index, x, noise) -> StepOutput:
        c = self.config
        prev = self.prev_index(index)
        return StepOutput(
            *_ddim_step(self.schedule, x, index, prev, model_output, c.eta, noise, self.prediction, c.clip_x0)
        )


def _call_model(model: ModelFn, x: torch.Tensor, index: int | float) -> torch.Tensor:
    # a σ sampler may call a network with a sinusoidal time embedding at a fractional index
    dtype = torch.long if isinstance(index, int) else torch.float32
    t_batch = torch.full((x.shape[0],), index, device=x.device, dtype=dtype)
    return model(x, t_batch)


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return randn(x.shape, generator, x.device, x.dtype)


def run_scheduler(
    model: ModelFn, scheduler: Scheduler, x_start: torch.Tensor, generator: torch.Generator | None = None
) -> Iterator[SamplerStep]:
    """The one sampling loop: call the model at each of the scheduler's indices and take its step."""
    indices, pairs = scheduler.timesteps(), scheduler.pairs()
    x = x_start
    for n, (model_index, (index, prev_index)) in enumerate(zip(indices, pairs, strict=True)):
        with torch.inference_mode():
            out = _call_model(model, x, model_index)
            noise = _randn_like(x, generator) if scheduler.needs_noise(model_index) else None
            result = scheduler.step(out, model_index, x, noise)
        yield SamplerStep(
            n,
            len(indices),
            index,
            prev_index,
            x,
            result.x0_hat,
            out,
            result.prev_sample,
            result.eps_hat,
        )
        x = result.prev_sample


def ddpm_loop(
    model: ModelFn,
    schedule: NoiseSchedule,
    x_start: torch.Tensor,
    *,
    t_start: int | None = None,
    prediction: str = "eps",
    variance: str = "fixed_small",
    clip_x0: bool = DEFAULT_CLIP_X0,
    generator: torch.Generator | None = None,
) -> Iterator[SamplerStep]:
    """Ancestral DDPM sampling from ``x_start`` at index ``t_start`` (default T−1) down to x_0.

    Start from pure noise (``x_start`` ~ N(0, I), ``t_start = T−1``) or from a noised image
    at any index (SDEdit, Meng et al. 2022).
    """
    config = SamplerConfig("ddpm", variance=variance, clip_x0=clip_x0)
    return run_scheduler(model, DDPMScheduler(schedule, config, prediction, t_start), x_start, generator)


def ddim_loop(
    model: ModelFn,
    schedule: NoiseSchedule,
    x_start: torch.Tensor,
    *,
    num_steps: int = 50,
    eta: float = 0.0,
    spacing: str = DEFAULT_SPACING,
    t_start: int | None = None,
    prediction: str = "eps",
    clip_x0: bool = DEFAULT_CLIP_X0,
    generator: torch.Generator | None = None,
) -> Iterator[SamplerStep]:
    """DDIM sampling with ``num_steps`` steps from index ``t_start`` (default T−1) to x_0.

    With ``t_start`` below T−1 the steps are spread over 0..t_start only (SDEdit).
    """
    config = SamplerConfig("ddim", steps=num_steps, eta=eta, spacing=spacing, clip_x0=clip_x0)
    return run_scheduler(model, DDIMScheduler(schedule, config, prediction, t_start), x_start, generator)


def final_step(loop: Iterator[SamplerStep]) -> SamplerStep:
    """Run a sampler generator to its end and return its last step."""
    last = None
    for last in loop:  # noqa: B007 - only the last step is wanted
        pass
    if last is None:
        raise ValueError("the sampler produced no step")
    return last


# -- DDIM inversion ----------------------------------------------------------------------------------
#
# Running Eq. 12 of Song et al. 2021 upwards with η = 0 maps a clean image to the x_T from which
# deterministic DDIM decodes it again: the encoding of Song et al. 2021, Sec. 4.3.


@dataclass(frozen=True)
class InversionStep:
    """One step of a DDIM inversion, going *up* the chain from ``index`` to ``next_index`` > ``index``.

    ``x_t`` is the image at ``index`` (−1 is the clean image); ``x_next`` the image the step
    produced at ``next_index``. ``model_output`` is the network's output at ``(x_t, model_index)``:
    ``model_index`` is ``index``, except on the first step from the clean image, where it is
    ``next_index`` (see :func:`ddim_invert_step`). ``x0_hat`` is the x̂_0 the step kept fixed.
    """

    n: int
    num_steps: int
    index: int
    next_index: int
    model_index: int
    x_t: torch.Tensor
    x0_hat: torch.Tensor
    model_output: torch.Tensor
    x_next: torch.Tensor


def inversion_model_index(t: int, t_next: int) -> int:
    """The index at which the model is evaluated for the inversion step t → t_next (t_next when t = −1)."""
    return t if t >= 0 else t_next


def _invert_x0_eps(
    schedule: NoiseSchedule, x: torch.Tensor, t: int, t_next: int, model_output: torch.Tensor, prediction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x̂_0, ε̂) that an inversion step from (x, t) holds fixed."""
    if t >= 0:
        return x0_eps_from_output(schedule, x, t, model_output, prediction)
    # ᾱ = 1 at the clean image: x = √1·x̂_0 + 0·ε̂, so x̂_0 is x itself and only ε̂ comes from the model,
    # read at the index where it was evaluated.
    _, eps_hat = x0_eps_from_output(schedule, x, t_next, model_output, prediction)
    return x, eps_hat


def ddim_invert_step(
    schedule: NoiseSchedule,
    x: torch.Tensor,
    t: int,
    t_next: int,
    model_output: torch.Tensor,
    prediction: str = "eps",
) -> torch.Tensor:
    """One DDIM inversion step x_t → x_{t_next}, t_next > t: Eq. 12 of Song et al. 2021 run upwards, η = 0.

    x_next = √ᾱ_next · x̂_0 + √(1−ᾱ_next) · ε̂, where (x̂_0, ε̂) is the model's prediction at
    (x, t). The step moves x along the line that DDIM walks down, keeping (x̂_0, ε̂) fixed; it is
    therefore the exact inverse of ``ddim_step(schedule, x_next, t_next, t, output, eta=0, noise=None)``
    for ε- and x_0-predictions given the same output (for v, whose meaning depends on ᾱ, the
    inverse holds for the same (x̂_0, ε̂) pair). No clipping, so the round trip is exact.

    The approximation of DDIM inversion is the model's input: the exact inverse would need ε̂ at the
    unknown x_{t_next}; inversion uses ε̂(x_t, t) instead, which is close when the steps are small.

    At the clean image (``t = -1``, ᾱ = 1) the model cannot be called at index −1. There x̂_0 = x
    exactly, and ``model_output`` must be the model evaluated at ``(x, t_next)``: the clean image
    fed in at the first index of the run (:func:`inversion_model_index`). This is the usual first
    step of DDIM inversion (e.g. null-text inversion, Mokady et al. 2023), and it is what
    :func:`ddim_invert_loop` does. For ε-predictions ``ddim_step`` back to −1 then returns x exactly;
    for an x_0-prediction it returns the model's x̂_0, which no choice of x_next can change.

    Parameters
    ----------
    schedule : NoiseSchedule
        The model's schedule.
    x : torch.Tensor
        The image at array index ``t`` [B, C, H, W].
    t, t_next : int
        Array indices, ``-1 <= t < t_next <= T-1``.
    model_output : torch.Tensor
        The model's output at ``(x, t)``, or at ``(x, t_next)`` when ``t = -1``.
    prediction : str
        ``"eps"``, ``"x0"`` or ``"v"``.

    Returns
    -------
    torch.Tensor
        The image at ``t_next``.
    """
    if t_next <= t:
        raise ValueError(f"inversion goes up the chain: t_next must exceed t, got t={t}, t_next={t_next}")
    if t < -1 or t_next >= schedule.T:
        raise ValueError(f"t and t_next must satisfy -1 ≤ t < t_next ≤ {schedule.T - 1}, got t={t}, t_next={t_next}")
    x0_hat, eps_hat = _invert_x0_eps(schedule, x, t, t_next, model_output, prediction)
    abar_next = schedule.abar(t_next)
    return abar_next**0.5 * x0_hat + (1.0 - abar_next) ** 0.5 * eps_hat  # Eq. 12, σ = 0, read upwards


def ddim_inversion_timesteps(
    T: int, num_steps: int, spacing: str = DEFAULT_SPACING, t_end: int | None = None
) -> list[int]:
    """Ascending indices of a DDIM inversion, starting at −1 (the clean image) and ending at ``t_end``.

    They are exactly the indices :func:`ddim_loop` with the same ``num_steps``, ``spacing`` and
    ``t_start = t_end`` walks down, reversed (default ``t_end`` T−1).
    """
    t_end = T - 1 if t_end is None else int(t_end)
    if not 0 <= t_end < T:
        raise ValueError(f"t_end must lie in 0..{T - 1}, got {t_end}")
    return [-1, *reversed(ddim_run_timesteps(num_steps, t_end, spacing))]  # as ddim_loop from t_end


def ddim_invert_loop(
    model: ModelFn,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    *,
    num_steps: int = 50,
    spacing: str = DEFAULT_SPACING,
    prediction: str = "eps",
    t_end: int | None = None,
) -> Iterator[InversionStep]:
    """Invert clean images ``x0`` by deterministic DDIM, up to index ``t_end`` (default T−1).

    Walks up the indices that ``ddim_loop(num_steps=..., spacing=..., t_start=t_end)`` walks down
    (:func:`ddim_inversion_timesteps`) and yields one :class:`InversionStep` per step; the last
    step's ``x_next`` is the inverted x_T. Decoding it with ``ddim_loop(eta=0, clip_x0=False,
    t_start=t_end)`` gives back ``x0`` up to the inversion's approximation (exact for a model whose
    x̂_0 does not change along the path). See :func:`ddim_invert_step` for the first step.

    Parameters
    ----------
    model : callable
        ``model(x_t, t)`` with ``t`` a LongTensor of array indices.
    schedule : NoiseSchedule
        The model's schedule.
    x0 : torch.Tensor
        Clean images [B, C, H, W] in [−1, 1].
    num_steps, spacing : int, str
        As for :func:`ddim_loop`.
    prediction : str
        What the model predicts: ``"eps"``, ``"x0"`` or ``"v"``.
    t_end : int, optional
        The index the inversion ends at.

    Yields
    ------
    InversionStep
    """
    check_prediction(prediction)
    path = ddim_inversion_timesteps(schedule.T, num_steps, spacing, t_end)
    x = x0
    num = len(path) - 1
    for n, (t, t_next) in enumerate(itertools.pairwise(path)):
        t_model = inversion_model_index(t, t_next)
        with torch.inference_mode():
            out = _call_model(model, x, t_model)
            x0_hat, _ = _invert_x0_eps(schedule, x, t, t_next, out, prediction)
            x_next = ddim_invert_step(schedule, x, t, t_next, out, prediction)
        yield InversionStep(n, num, t, t_next, t_model, x, x0_hat, out, x_next)  # index, next_index, model_index
        x = x_next


def ddim_round_trip(
    model: ModelFn,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    num_steps: int = 50,
    prediction: str = "eps",
    *,
    spacing: str = DEFAULT_SPACING,
    t_end: int | None = None,
) -> Iterator[InversionStep | SamplerStep]:
    """Every step of a DDIM round trip: up by :func:`ddim_invert_loop`, then down again by deterministic,
    unclipped :func:`ddim_loop` on the same indices (an :class:`InversionStep`, then a :class:`SamplerStep` each)."""
    inverted = None
    for inverted in ddim_invert_loop(
        model, schedule, x0, num_steps=num_steps, spacing=spacing, prediction=prediction, t_end=t_end
    ):
        yield inverted
    if inverted is None:
        raise ValueError("the inversion produced no step")
    yield from ddim_loop(
        model,
        schedule,
        inverted.x_next,
        num_steps=num_steps,
        eta=0.0,
        spacing=spacing,
        t_start=inverted.next_index,
        prediction=prediction,
        clip_x0=False,
    )


def invert_and_reconstruct(
    model: ModelFn,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    num_steps: int = 50,
    prediction: str = "eps",
    *,
    spacing: str = DEFAULT_SPACING,
    t_end: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DDIM-invert ``x0`` and decode the result again (:func:`ddim_round_trip`).

    Returns ``(x_T, reconstruction)``; ``x_T`` lives at ``t_end`` (default T−1). How far the
    reconstruction is from ``x0`` (e.g. :func:`core.imaging.scaling.psnr`) measures the error of
    the inversion's approximation ε̂(x_t, t) ≈ ε̂(x_{t_next}, t_next) for this model.
    """
    x_T = last = None
    for last in ddim_round_trip(model, schedule, x0, num_steps, prediction, spacing=spacing, t_end=t_end):
        if isinstance(last, InversionStep):
            x_T = last.x_next
    return x_T, last.x_prev
