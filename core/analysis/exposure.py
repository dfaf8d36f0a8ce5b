"""Exposure bias: the statistics of x_t during sampling against those of q(x_t | x_0) seen in training.

In training the network only ever sees x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (Eq. 4, Ho et al. 2020). During
sampling it sees x_t built from its own earlier predictions, whose errors pile up, so the inputs drift
from what it was trained on (Ning et al., ICLR 2024, "Elucidating the Exposure Bias in Diffusion
Models"; they measure it by the variance of x_t). This monitor reads two numbers per step, over the
pixels of each sample and averaged over the batch: the mean and the variance of x_t, against what
q(x_t | x_0) gives at the same ᾱ_t,

    E[mean(x_t)] = √ᾱ_t · m,        E[var(x_t)] = ᾱ_t · v + (1 − ᾱ_t) · (1 − 1/d),

with d pixels per sample and (m, v) the pixel mean and variance of x_0: of the true image for a run
from an image, averaged over the training data for a run from noise (ε is independent of x_0, so the
cross term vanishes in expectation; the 1 − 1/d is the spatial variance's own bias).

Epsilon Scaling (Ning et al. 2024, Sec. 5): sample with ε_θ(x_t, t) / λ_t in place of ε_θ(x_t, t),
λ_t = k·t + b slightly above 1, which pulls the chain's x_t back toward the training distribution. This
implements both forms the paper gives: the uniform schedule (k = 0, λ_t = b), which the paper
recommends and uses by default here, and the linear one (k ≠ 0, t the paper's t).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.analysis.errors import AnalysisError
from core.diffusion.parameterization import x0_eps_from_output
from core.diffusion.samplers import SamplerConfig, SamplerStep
from core.diffusion.schedulers import sample_loop
from core.diffusion.schedules import NoiseSchedule, paper_t_from_index
from core.models.protocol import Denoiser

DEFAULT_EPSILON_SCALE = 1.005  # b of the uniform schedule; the paper tunes b per model, at about 1.00x


@dataclass(frozen=True)
class DataStats:
    """Pixel mean ``mean`` and pixel variance ``var`` of clean images (averaged over them), in [−1, 1] units."""

    mean: float
    var: float


def data_statistics(x0: torch.Tensor | np.ndarray) -> DataStats:
    """(m, v) of images [N, C, H, W] in [−1, 1]: each image's pixel mean and variance, averaged over N."""
    x = torch.as_tensor(np.asarray(x0) if not isinstance(x0, torch.Tensor) else x0).double().flatten(1)
    return DataStats(float(x.mean(1).mean()), float(x.var(1, unbiased=False).mean()))


@dataclass(frozen=True)
class ExposurePoint:
    """One step: x_t's measured pixel mean and variance, and what q(x_t | x_0) expects at that ᾱ_t."""

    paper_t: int
    mean: float
    var: float
    mean_expected: float
    var_expected: float

    @property
    def var_gap(self) -> float:
        """var / var expected − 1: the variance's relative excess (0 when sampling matches training)."""
        return self.var / self.var_expected - 1.0

    @property
    def mean_gap(self) -> float:
        return self.mean - self.mean_expected


class ExposureMonitor:
    """Reads x_t of each step of a run against q(x_t | x_0) for the given data statistics."""

    def __init__(self, schedule: NoiseSchedule, stats: DataStats) -> None:
        self.schedule, self.stats = schedule, stats

    def expected(self, index: int, d: int) -> tuple[float, float]:
        """(E[mean x_t], E[var x_t]) under q(x_t | x_0) at array index ``index`` for d pixels per sample."""
        abar = 1.0 if index < 0 else float(self.schedule.alphas_cumprod[index])
        return abar**0.5 * self.stats.mean, abar * self.stats.var + (1.0 - abar) * (1.0 - 1.0 / d)

    def observe(self, index: int, x_t: torch.Tensor) -> ExposurePoint:
        """The point for x_t [B, C, H, W] at array index ``index``."""
        x = x_t.detach().flatten(1).double()
        mean_e, var_e = self.expected(index, x.shape[1])
        return ExposurePoint(
            paper_t_from_index(index), float(x.mean(1).mean()), float(x.var(1, unbiased=False).mean()), mean_e, var_e
        )


def epsilon_scaling(t_paper: int, b: float = DEFAULT_EPSILON_SCALE, k: float = 0.0) -> float:
    """λ_t = k·t + b of Ning et al. 2024 (Sec. 5); k = 0 is their uniform schedule."""
    return k * t_paper + b


class EpsilonScaled:
    """A denoiser that returns ε_θ(x_t, t) / λ_t: Epsilon Scaling (Ning et al. 2024) as a model wrapper.

    Its prediction is "eps" whatever the wrapped model predicts natively (the output is converted first),
    so any sampler that takes an ε-model runs with the correction unchanged.
    """

    prediction = "eps"

    def __init__(self, model: Denoiser, b: float = DEFAULT_EPSILON_SCALE, k: float = 0.0) -> None:
        if not b > 0 or not np.isfinite(b):
            raise AnalysisError(f"the ε scaling λ_t must be positive, got b = {b}")
        self.model, self.b, self.k = model, float(b), float(k)
        self.schedule = model.schedule

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.model(x, t)
        _, eps = x0_eps_from_output(self.schedule, x, t, out, self.model.prediction)
        lam = self.k * (t.to(x.dtype) + 1.0) + self.b  # t is the array index; the paper's t is index + 1
        return eps / lam.reshape(-1, *([1] * (x.ndim - 1)))


def monitored_run(
    model: Denoiser,
    config: SamplerConfig,
    x_start: torch.Tensor,
    stats: DataStats,
    *,
    t_start: int | None = None,
    generator: torch.Generator | None = None,
    epsilon_scale: float | None = None,
) -> Iterator[tuple[SamplerStep, ExposurePoint]]:
    """Each step of a run with its :class:`ExposurePoint`; ``epsilon_scale`` = b turns Epsilon Scaling on."""
    net = model if epsilon_scale is None else EpsilonScaled(model, epsilon_scale)
    monitor = ExposureMonitor(model.schedule, stats)
    for step in sample_loop(
        net, model.schedule, config, x_start, t_start=t_start, prediction=net.prediction, generator=generator
    ):
        yield step, monitor.observe(step.t, step.x_t)


def exposure_curve(
    model: Denoiser,
    config: SamplerConfig,
    x_start: torch.Tensor,
    stats: DataStats,
    *,
    t_start: int | None = None,
    seed: int = 0,
    epsilon_scale: float | None = None,
) -> tuple[list[ExposurePoint], torch.Tensor]:
    """(the points of a whole monitored run, its final samples clamped to [−1, 1])."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    points, last = [], None
    for last, point in monitored_run(  # noqa: B007 - the last step's sample is the result
        model, config, x_start, stats, t_start=t_start, generator=gen, epsilon_scale=epsilon_scale
    ):
        points.append(point)
    if last is None:
        raise AnalysisError("the run produced no step")
    return points, last.x_prev.clamp(-1, 1)
