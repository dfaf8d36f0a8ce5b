"""Every sampler as one :class:`~core.diffusion.samplers.Scheduler`: the registry the runs, Compare and the CLI use.

DDPM and DDIM step on the model's own indices (:mod:`core.diffusion.samplers`); Euler, Heun, Euler ancestral and
DPM-Solver++(2M) solve the probability-flow ODE in σ (:mod:`core.diffusion.ode_samplers`). One loop
(:func:`~core.diffusion.samplers.run_scheduler`) drives them all, so a run of any of them yields the same
:class:`~core.diffusion.samplers.SamplerStep` frames.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from core.diffusion.ode_samplers import (
    OdeScheduler,
    check_terminal_snr,
    rescale_zero_terminal_snr,
    takes_fractional_index,
)
from core.diffusion.samplers import (
    ODE_SAMPLERS,
    DDIMScheduler,
    DDPMScheduler,
    ModelFn,
    SamplerConfig,
    SamplerStep,
    Scheduler,
    run_scheduler,
)
from core.diffusion.schedules import NoiseSchedule

SCHEDULERS: dict[str, type[Scheduler]] = {
    "ddpm": DDPMScheduler,
    "ddim": DDIMScheduler,
    **dict.fromkeys(ODE_SAMPLERS, OdeScheduler),
}


def sampling_schedule(config: SamplerConfig, schedule: NoiseSchedule, prediction: str = "eps") -> NoiseSchedule:
    """The schedule a run samples on: the model's, or rescaled to zero terminal SNR (refused for an ε-model)."""
    if not config.zero_terminal_snr:
        return schedule
    rescaled = rescale_zero_terminal_snr(schedule)
    check_terminal_snr(rescaled, prediction)
    return rescaled


def make_scheduler(
    config: SamplerConfig,
    schedule: NoiseSchedule,
    prediction: str = "eps",
    start_index: int | None = None,
    *,
    fractional_index: bool = False,
) -> Scheduler:
    """The scheduler object of ``config.sampler``; ``fractional_index``: the network takes a fractional t.

    Refuses, in one line (a ``ValueError``), what the sampler cannot do: too few network calls, a spacing that
    puts two steps on one index, zero terminal SNR with an ε-prediction.
    """
    schedule = sampling_schedule(config, schedule, prediction)
    cls = SCHEDULERS[config.sampler]
    if cls is OdeScheduler:
        return OdeScheduler(schedule, config, prediction, start_index, fractional_index=fractional_index)
    return cls(schedule, config, prediction, start_index)


def model_scheduler(model, config: SamplerConfig, start_index: int | None = None) -> Scheduler:
    """:func:`make_scheduler` for a loaded model: its schedule, its prediction, whether it takes a fractional t."""
    return make_scheduler(
        config, model.schedule, model.prediction, start_index, fractional_index=takes_fractional_index(model)
    )


def sample_loop(
    model: ModelFn,
    schedule: NoiseSchedule,
    config: SamplerConfig,
    x_start: torch.Tensor,
    *,
    t_start: int | None = None,
    prediction: str = "eps",
    generator: torch.Generator | None = None,
) -> Iterator[SamplerStep]:
    """The run a :class:`SamplerConfig` describes, from ``x_start`` at ``t_start`` (default T−1)."""
    scheduler = make_scheduler(config, schedule, prediction, t_start, fractional_index=takes_fractional_index(model))
    return run_scheduler(model, scheduler, x_start, generator)
