"""Samplers of the probability-flow ODE in EDM's σ-parameterisation: Euler, Heun, Euler ancestral, DPM-Solver++(2M).

The state
---------
A discrete-time model has ᾱ at every array index (:mod:`core.diffusion.schedules`). Karras et al. 2022 ("EDM",
Sec. 2 and Table 1) write the same diffusion with σ = √((1 − ᾱ)/ᾱ) and the state x̃ = x_t / √ᾱ, so that
x̃ = x_0 + σ ε: the probability-flow ODE (Song et al. 2021) becomes

    dx̃/dσ = (x̃ − D(x̃; σ)) / σ                                        (EDM Eq. 3 with s(t) = 1, σ(t) = t)

with D the denoiser E[x_0 | x̃]. Every deterministic sampler here is a numerical solver of that one ODE from
σ_max down to σ = 0; DDIM with η = 0 is its Euler method (:func:`ddim` wraps the program's own DDIM step and
equals :func:`euler` on the same σ, a tested identity).

The model and σ
---------------
:class:`SigmaDenoiser` turns any :class:`~core.models.protocol.Denoiser` (ε, x_0 or v) into D(x̃, σ). The model
is called at the array index of σ found as diffusers' ``_sigma_to_t`` does: linear interpolation in log σ
between the two neighbouring indices (:func:`index_from_sigma`), exact at every index. A network with a
sinusoidal time embedding (our UNet, a diffusers UNet2DModel) is given that fractional index, as diffusers'
Euler and Heun schedulers do; a denoiser built on tables (the ideal denoiser, a mixture's exact score) is given
the nearest integer index, as diffusers' DPMSolverMultistep does with Karras σ. The output is converted to x̂_0
with the step's own σ.

Step rules
----------
Each sampler is a small generator over a descending σ grid ending in 0: it yields ``(x̃, σ)`` whenever it needs
the denoiser and is sent D(x̃, σ) back, so one loop drives one run (:func:`solve`) or many runs in one batched
call per tick (:func:`solve_batched`). :data:`SAMPLERS` is the registry (name → rule, its order, its network
calls per step) the window's sampler menus and the CLI read.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.choices import SPACINGS
from core.device import randn
from core.diffusion.parameterization import check_prediction
from core.diffusion.samplers import SamplerConfig, Scheduler, StepOutput, ddim_run_timesteps, ddim_step, ddim_timesteps
from core.diffusion.schedules import NoiseSchedule
from core.errors import DiffusionVizError

# SPACINGS (leading, trailing, linspace, karras, edm) come from core.choices, free of torch for the command line
KARRAS_RHO = 7.0  # EDM Eq. (5) and Sec. 3: ρ = 7
# EDM's σ range, for which ρ = 7 was tuned (Karras et al. 2022, Sec. 3 and Table 1: σ_max = 80). A schedule whose
# ᾱ_T is near 0 (cosine: σ_max ≈ 2·10⁴) would otherwise spend most Karras steps where x̂_0 is the data mean.
EDM_SIGMA_MAX = 80.0
# ᾱ_T = 0 (zero terminal SNR) puts σ_max at infinity; like diffusers' Euler schedulers, the σ samplers read it
# as 2^−24 there (σ_max ≈ 4096). The ε-prediction case is refused before that (check_terminal_snr).
ZERO_SNR_ALPHA_BAR = 2.0**-24

# A step rule: a generator over (σ grid, x̃ at σ_0) that yields (x̃, σ) requests and returns the final x̃.
Request = tuple[torch.Tensor, float]
StepRule = Callable[..., Generator[Request, torch.Tensor, torch.Tensor]]


class SamplerError(DiffusionVizError, ValueError):
    """A sampler asked for something it cannot do (too few network calls, duplicate steps, zero SNR with ε)."""


# -- σ and the model's index -------------------------------------------------------------------------------------


def model_sigmas(schedule: NoiseSchedule) -> torch.Tensor:
    """σ_i = √((1 − ᾱ_i)/ᾱ_i) at every array index, float64 [T], increasing (EDM Table 1, VP column)."""
    abar = schedule.alphas_cumprod.clone()
    abar[abar <= 0] = ZERO_SNR_ALPHA_BAR
    return ((1.0 - abar) / abar).sqrt()


def index_from_sigma(
    schedule: NoiseSchedule, sigma: torch.Tensor, log_sigmas: torch.Tensor | None = None
) -> torch.Tensor:
    """The model's (fractional) array index of each σ: linear in log σ between neighbouring indices.

    This is diffusers' ``_sigma_to_t`` (EulerDiscreteScheduler): exact at every σ_i, clipped to 0 … T−1 outside.
    """
    log_sigmas = model_sigmas(schedule).log() if log_sigmas is None else log_sigmas
    log_sigma = torch.as_tensor(sigma, dtype=torch.float64).clamp_min(1e-10).log()
    low = (torch.searchsorted(log_sigmas, log_sigma, right=True) - 1).clamp(0, len(log_sigmas) - 2)
    lo, hi = log_sigmas[low], log_sigmas[low + 1]
    w = ((log_sigma - lo) / (hi - lo)).clamp(0.0, 1.0)
    return low + w


def karras_sigmas(sigma_min: float, sigma_max: float, n: int, rho: float = KARRAS_RHO) -> torch.Tensor:
    """n σ from σ_max down to σ_min, σ_i = (σ_max^{1/ρ} + i/(n−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ (EDM Eq. 5)."""
    ramp = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def sampler_sigmas(
    schedule: NoiseSchedule,
    num_steps: int,
    spacing: str = "karras",
    *,
    integer_indices: bool = False,
    start_index: int | None = None,
) -> torch.Tensor:
    """The descending σ grid of a ``num_steps``-step run, with a final 0: ``num_steps + 1`` values.

    ``leading``, ``trailing`` and ``linspace`` take the model's own indices of
    :func:`core.diffusion.samplers.ddim_timesteps` (Lin et al. 2024, Table 2; linspace rounded to indices, so
    DDIM and Euler share its steps): diffusers' grids, where "leading" never starts at t = T. ``karras`` is
    EDM's Eq. (5) from σ_{T−1} down to σ_0; ``edm`` is Eq. (5) over EDM's own range σ ≤ :data:`EDM_SIGMA_MAX`
    after one step from σ_{T−1} (when that is larger). With ``start_index`` (a window's run, which may start from a
    noised image) the grid starts at that index, as the program's DDIM does
    (:func:`core.diffusion.samplers.ddim_run_timesteps`). With ``integer_indices`` (a model that takes only
    integer indices) the Karras σ must fall on distinct indices.
    """
    if spacing not in SPACINGS:
        raise SamplerError(f"unknown spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    T = schedule.T
    start = T - 1 if start_index is None else int(start_index)
    if num_steps < 1:
        raise SamplerError(f"a run needs at least 1 step, got {num_steps}")
    table = model_sigmas(schedule)
    if spacing in ("karras", "edm"):
        top = float(table[start])
        if spacing == "edm" and top > EDM_SIGMA_MAX and num_steps > 1:
            # one step from the run's own σ_max (x_T lives there: Lin et al. 2024), then EDM's range
            rest = karras_sigmas(float(table[0]), EDM_SIGMA_MAX, num_steps - 1)
            sigmas = torch.cat([torch.tensor([top], dtype=torch.float64), rest])
        else:
            sigmas = karras_sigmas(float(table[0]), top, num_steps)
        if integer_indices:
            indices = index_from_sigma(schedule, sigmas).round()
            if len(set(indices.tolist())) < num_steps:
                raise SamplerError(
                    f"{spacing} spacing with {num_steps} steps puts two steps on one of the model's {start + 1} "
                    "indices (it crowds the low-noise end); ask for fewer steps or another spacing"
                )
    else:
        if num_steps > start + 1:
            raise SamplerError(
                f"{spacing} spacing has only {start + 1} distinct steps from t = {start + 1}, asked {num_steps}"
            )
        indices = (
            ddim_timesteps(T, num_steps, spacing)
            if start_index is None
            else ddim_run_timesteps(num_steps, start, spacing)
        )
        sigmas = table[indices]
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


def lambda_from_sigma(sigma) -> np.ndarray:
    """λ = log(ᾱ/(1 − ᾱ)) = −2 log σ, the log-SNR (Kingma et al. 2021; Kingma & Gao 2023)."""
    return -2.0 * np.log(np.asarray(sigma, dtype=np.float64))


# -- zero terminal SNR (Lin et al. 2024) ---------------------------------------------------------------------------


def rescale_zero_terminal_snr(schedule: NoiseSchedule) -> NoiseSchedule:
    """The schedule rescaled so ᾱ_T = 0 (Lin et al. 2024, "Common diffusion noise schedules…", Algorithm 1).

    √ᾱ is shifted so its last value is 0 and scaled so its first stays: √ᾱ' = (√ᾱ − √ᾱ_T) · √ᾱ_1/(√ᾱ_1 − √ᾱ_T).
    The last β becomes 1: x_T is pure noise, and an ε-prediction cannot be sampled from it (check_terminal_snr).
    """
    root = schedule.alphas_cumprod.sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    abar = root**2
    alphas = torch.cat([abar[:1], abar[1:] / abar[:-1]])
    return NoiseSchedule.from_betas(1.0 - alphas)


def has_zero_terminal_snr(schedule: NoiseSchedule) -> bool:
    return float(schedule.alphas_cumprod[-1]) <= 0.0


def check_terminal_snr(schedule: NoiseSchedule, prediction: str) -> None:
    """Refuse ε-prediction on a zero-terminal-SNR schedule: x̂_0 = (x_T − √(1−ᾱ_T) ε̂)/√ᾱ_T divides by 0."""
    if prediction == "eps" and has_zero_terminal_snr(schedule):
        raise SamplerError(
            "zero terminal SNR with an ε-prediction model: x̂_0 = (x_T − ε̂)/√ᾱ_T divides by ᾱ_T = 0 at the first "
            "step (Lin et al. 2024, Sec. 3.2); use a v- or x_0-prediction model"
        )


# -- the denoiser D(x̃, σ) -----------------------------------------------------------------------------------------


def takes_fractional_index(model) -> bool:
    """Whether ``model`` embeds t sinusoidally (our UNet, diffusers' UNet2DModel) and so takes a fractional index."""
    return type(getattr(model, "network", None)).__name__ in ("UNet", "UNet2DModel")


class SigmaDenoiser:
    """D(x̃, σ) = E[x_0 | x̃] of any :class:`~core.models.protocol.Denoiser`, called in σ (EDM Sec. 2).

    x_t = x̃ √ᾱ with ᾱ = 1/(1 + σ²) (EDM's c_in); the model runs at :func:`index_from_sigma` (rounded unless
    ``fractional_index``), and its output becomes x̂_0 with the step's σ: ε gives x̃ − σ ε̂, v gives
    ᾱ x̃ − σ √ᾱ v̂ (Salimans & Ho 2022), x_0 is itself. ``calls`` and ``network_seconds`` count its calls.
    """

    def __init__(
        self,
        model,
        schedule: NoiseSchedule | None = None,
        prediction: str | None = None,
        *,
        fractional_index: bool | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.model = model
        self.schedule = schedule if schedule is not None else model.schedule
        self.prediction = check_prediction(prediction if prediction is not None else model.prediction)
        check_terminal_snr(self.schedule, self.prediction)
        self.fractional_index = takes_fractional_index(model) if fractional_index is None else fractional_index
        network = getattr(model, "network", None)
        params = next(network.parameters(), None) if isinstance(network, torch.nn.Module) else None
        self.dtype = dtype or (params.dtype if params is not None else None)
        self.device = getattr(model, "device", None)
        self.sigma_min, self.sigma_max = (float(s) for s in model_sigmas(self.schedule)[[0, -1]])
        self._log_sigmas = model_sigmas(self.schedule).log()  # once: every call maps its σ through it
        self._one: dict[tuple, tuple[float, torch.Tensor]] = {}
        self.calls = 0
        self.network_seconds = 0.0

    def __call__(self, x_tilde: torch.Tensor, sigma) -> torch.Tensor:
        if isinstance(sigma, float) or (torch.is_tensor(sigma) and sigma.numel() == 1):
            return self._call_one(x_tilde, float(sigma))
        sigma = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1).expand(x_tilde.shape[0])
        index = index_from_sigma(self.schedule, sigma, self._log_sigmas)
        index = index.to(self.dtype or x_tilde.dtype) if self.fractional_index else index.round().long()
        shape = (-1, *([1] * (x_tilde.ndim - 1)))
        s = sigma.to(x_tilde.device, x_tilde.dtype).reshape(shape)
        abar = 1.0 / (1.0 + s**2)
        x_t = x_tilde * abar.sqrt()
        device = self.device or x_tilde.device
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model(x_t.to(device, self.dtype or x_tilde.dtype), index.to(device))
            out = out.to(x_tilde.device, x_tilde.dtype)
        self.network_seconds += time.perf_counter() - t0
        self.calls += 1
        return x0_from_sigma_output(self.prediction, x_tilde, s, out)

    def prime(self, sigmas: torch.Tensor, batch: int, device: torch.device, dtype: torch.dtype) -> None:
        """Map a whole σ grid to the model's index in one table search, before a run of ``batch`` samples."""
        sigmas = sigmas[sigmas > 0]
        index = index_from_sigma(self.schedule, sigmas, self._log_sigmas)
        index = index.to(self.dtype or dtype) if self.fractional_index else index.round().long()
        target = self.device or device
        for sigma, i in zip(sigmas.tolist(), index.to(target), strict=True):
            self._one[(sigma, batch, target, dtype)] = (1.0 / math.sqrt(1.0 + sigma**2), i.expand(batch))

    def _call_one(self, x_tilde: torch.Tensor, sigma: float) -> torch.Tensor:
        """One σ for the whole batch (a single run): its scale and the model's t batch are looked up once per σ,
        so a step costs the network and a few elementwise operations (no per-call table search)."""
        device = self.device or x_tilde.device
        key = (sigma, x_tilde.shape[0], device, x_tilde.dtype)
        hit = self._one.get(key)
        if hit is None:
            index = index_from_sigma(self.schedule, torch.tensor([sigma], dtype=torch.float64), self._log_sigmas)
            index = index.to(self.dtype or x_tilde.dtype) if self.fractional_index else index.round().long()
            hit = (1.0 / math.sqrt(1.0 + sigma**2), index.expand(x_tilde.shape[0]).to(device))
            if len(self._one) > 4096:  # a denoiser kept for many runs of many grids
                self._one.clear()
            self._one[key] = hit
        scale, t = hit
        x_t = x_tilde * scale  # x_t = x̃ √ᾱ
        t0 = time.perf_counter()
        if torch.is_inference_mode_enabled():
            out = self.model(x_t.to(device, self.dtype or x_tilde.dtype), t)
        else:
            with torch.inference_mode():
                out = self.model(x_t.to(device, self.dtype or x_tilde.dtype), t)
        out = out.to(x_tilde.device, x_tilde.dtype)
        self.network_seconds += time.perf_counter() - t0
        self.calls += 1
        return x0_from_sigma_output(self.prediction, x_tilde, sigma, out)


def x0_from_sigma_output(prediction: str, x_tilde: torch.Tensor, sigma, out: torch.Tensor) -> torch.Tensor:
    """D(x̃; σ) from the network's output at x_t = x̃/√(1 + σ²): ε gives x̃ − σ ε̂, v gives ᾱ x̃ − σ √ᾱ v̂.

    With ᾱ = 1/(1 + σ²) (EDM Table 1, VP): x_0 = (x_t − √(1−ᾱ) ε)/√ᾱ = x̃ − σ ε, and v = √ᾱ ε − √(1−ᾱ) x_0
    (Salimans & Ho 2022) solved for x_0. ``sigma`` is a float or a tensor broadcasting against x̃.
    """
    if prediction == "eps":
        return x_tilde - sigma * out
    abar = 1.0 / (1.0 + sigma**2)
    if prediction == "v":
        if isinstance(sigma, float):  # one fused multiply-add instead of three temporaries
            return torch.add(abar * x_tilde, out, alpha=-sigma * math.sqrt(abar))
        return abar * x_tilde - sigma * abar**0.5 * out
    return out


# -- step rules ------------------------------------------------------------------------------------------------------


def to_d(x: torch.Tensor, sigma: float, denoised: torch.Tensor) -> torch.Tensor:
    """dx̃/dσ = (x̃ − D(x̃; σ))/σ (EDM Eq. 3; Algorithm 1, line 4)."""
    return (x - denoised) / sigma


def euler(sigmas: Sequence[float], x: torch.Tensor, **_) -> Generator[Request, torch.Tensor, torch.Tensor]:
    """Euler's method on the ODE: x̃_{i+1} = x̃_i + (σ_{i+1} − σ_i) d_i (EDM Algorithm 1, lines 3–5)."""
    for sigma, sigma_next in itertools.pairwise(sigmas):
        denoised = yield x, sigma
        # x̃ + (σ' − σ)(x̃ − D)/σ = D + (σ'/σ)(x̃ − D): one lerp, and no cancellation of σ_max-sized terms
        x = torch.lerp(denoised, x, sigma_next / sigma)
    return x


def heun(sigmas: Sequence[float], x: torch.Tensor, **_) -> Generator[Request, torch.Tensor, torch.Tensor]:
    """Heun's 2nd-order method (EDM Algorithm 1): an Euler step, then the trapezoid of d_i and d'_{i+1}.

    The step to σ = 0 stays Euler (Algorithm 1, line 6): N steps cost 2N − 1 network calls.
    """
    for sigma, sigma_next in itertools.pairwise(sigmas):
        denoised = yield x, sigma
        x_euler = torch.lerp(denoised, x, sigma_next / sigma)  # line 5: x̃ + (σ' − σ) d_i, as in euler()
        if sigma_next == 0:
            x = x_euler
            continue
        denoised_next = yield x_euler, sigma_next  # lines 7–8: d'_i at the Euler point
        # x̃ + (σ' − σ)(d_i + d'_i)/2 with d'_i = (x̃_euler − D')/σ'
        d = to_d(x, sigma, denoised).add_(to_d(x_euler, sigma_next, denoised_next))
        x = x.add(d, alpha=0.5 * (sigma_next - sigma))
    return x


def ancestral_sigmas(sigma: float, sigma_next: float) -> tuple[float, float]:
    """(σ_down, σ_up) of an ancestral step: σ_up² = σ_next²(σ² − σ_next²)/σ², σ_down² = σ_next² − σ_up².

    The DDPM posterior's variance written in σ (k-diffusion's ``get_ancestral_step`` with η = 1).
    """
    up = math.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2)
    return math.sqrt(sigma_next**2 - up**2), up


def euler_ancestral(
    sigmas: Sequence[float],
    x: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    noise: Callable[[torch.Tensor], torch.Tensor] | None = None,
    **_,
) -> Generator[Request, torch.Tensor, torch.Tensor]:
    """Euler ancestral: an Euler step down to σ_down, then fresh noise of σ_up (Song et al. 2021's reverse SDE).

    Noise is drawn at every step, the last too (times σ_up = 0), as diffusers' EulerAncestralDiscreteScheduler
    does, so the two give the same samples from the same generator. ``noise(x)`` (default: N(0, I) from
    ``generator``) gives each step's draw; a caller that owns the noise (:class:`OdeScheduler`) hands it in there.
    """
    if noise is None:
        noise = lambda like: randn(like.shape, generator, like.device, like.dtype)  # noqa: E731
    for sigma, sigma_next in itertools.pairwise(sigmas):
        denoised = yield x, sigma
        down, up = ancestral_sigmas(sigma, sigma_next)
        x = torch.lerp(denoised, x, down / sigma)  # the Euler step to σ_down, as in euler()
        x = x.add_(noise(x), alpha=up)
    return x


def dpm_solver_pp(
    sigmas: Sequence[float], x: torch.Tensor, *, order: int = 2, **_
) -> Generator[Request, torch.Tensor, torch.Tensor]:
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), multistep in the data prediction.

    With λ = −log σ and h_i = λ_{i+1} − λ_i (in x̃ = x_t/α_t, σ_t/α_t = σ):
    x̃_{i+1} = (σ_{i+1}/σ_i) x̃_i − (e^{−h_i} − 1) D_i, D_i = (1 + 1/(2r_i)) x̂_0,i − 1/(2r_i) x̂_0,i−1, r_i = h_{i−1}/h_i.
    The first step, the step to σ = 0 and ``order=1`` use D_i = x̂_0,i: DPM-Solver++(1), which is DDIM (Sec. 4).
    """
    old, h_last = None, None
    for sigma, sigma_next in itertools.pairwise(sigmas):
        denoised = yield x, sigma
        if sigma_next == 0:
            x = denoised  # σ_{i+1}/σ_i = 0 and e^{−h} = 0: the first-order step lands on x̂_0
            continue
        h = math.log(sigma) - math.log(sigma_next)
        if order == 1 or old is None:
            d = denoised
        else:
            r = h_last / h
            d = torch.lerp(old, denoised, 1 + 1 / (2 * r))  # (1 + 1/(2r)) x̂_0,i − 1/(2r) x̂_0,i−1
        x = torch.lerp(d, x, sigma_next / sigma)  # (σ'/σ) x̃ − (e^{−h} − 1) D with e^{−h} = σ'/σ
        old, h_last = denoised, h
    return x


def ddim(
    sigmas: Sequence[float], x: torch.Tensor, *, schedule: NoiseSchedule, **_
) -> Generator[Request, torch.Tensor, torch.Tensor]:
    """The program's DDIM, η = 0 (Song et al. 2021, Eq. 12; :func:`core.diffusion.samplers.ddim_step`), in x̃.

    Its steps must sit on the model's indices. x_t = x̃/√(1 + σ²); the model's x̂_0 goes in as an x_0-prediction.
    """
    indices = index_from_sigma(schedule, torch.as_tensor(sigmas[:-1], dtype=torch.float64))
    if not torch.allclose(indices, indices.round(), atol=1e-6):
        raise SamplerError("DDIM runs on the model's own steps: choose leading, trailing or linspace spacing")
    steps = [int(i) for i in indices.round()] + [-1]
    for (t, t_prev), sigma, sigma_next in zip(itertools.pairwise(steps), sigmas[:-1], sigmas[1:], strict=True):
        denoised = yield x, sigma
        x_t = x / math.sqrt(1.0 + sigma**2)
        x_prev, _ = ddim_step(schedule, x_t, t, t_prev, denoised, 0.0, None, prediction="x0")
        x = x_prev * math.sqrt(1.0 + sigma_next**2)
    return x


# -- the registry ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OdeSampler:
    """One entry of :data:`SAMPLERS`: a step rule, its order on the ODE, and what it costs.

    ``order`` is the global order of the error against the exact ODE solution (None: a stochastic sampler,
    which does not converge to it); ``calls_per_step`` network calls a step, the step to σ = 0 ``last_calls``.
    """

    name: str
    label: str
    rule: StepRule
    order: int | None
    calls_per_step: int
    last_calls: int = 1
    spacing: str = "edm"  # the spacing it is used with unless one is asked for
    spacings: tuple[str, ...] = SPACINGS
    citation: str = ""

    @property
    def min_nfe(self) -> int:
        return self.calls_per_step + self.last_calls if self.calls_per_step > 1 else 1

    def nfe(self, steps: int) -> int:
        """Network calls of a ``steps``-step run."""
        return (steps - 1) * self.calls_per_step + self.last_calls

    def steps_for_nfe(self, nfe: int) -> int:
        """The most steps whose run costs at most ``nfe`` calls; refuses fewer calls than the sampler needs."""
        if nfe < self.min_nfe:
            need = f" ({self.calls_per_step} calls a step)" if self.calls_per_step > 1 else ""
            raise SamplerError(f"{self.label} needs at least {self.min_nfe} network calls{need}, asked {nfe}")
        return (nfe - self.last_calls) // self.calls_per_step + 1


SAMPLERS: dict[str, OdeSampler] = {
    s.name: s
    for s in (
        OdeSampler(
            "ddim",
            "DDIM η=0",
            ddim,
            1,
            1,
            spacing="trailing",
            spacings=("leading", "trailing", "linspace"),
            citation="Song et al. 2021, Eq. 12",
        ),
        OdeSampler("euler", "Euler", euler, 1, 1, citation="Karras et al. 2022, Alg. 1 (Euler)"),
        # Heun's trapezoid fails across edm's one step from σ_max ≈ 2·10⁴ to 80 (its d varies over 2.5 decades of
        # σ there): it keeps Karras σ from the model's own σ_max, whose steps shrink geometrically at the top
        OdeSampler("heun", "Heun", heun, 2, 2, spacing="karras", citation="Karras et al. 2022, Alg. 1"),
        OdeSampler("dpmpp2m", "DPM-Solver++(2M)", dpm_solver_pp, 2, 1, citation="Lu et al. 2022, Alg. 2"),
        OdeSampler("euler_a", "Euler ancestral", euler_ancestral, None, 1, citation="k-diffusion; Song et al. 2021"),
    )
}


def get_sampler(name: str) -> OdeSampler:
    if name not in SAMPLERS:
        raise SamplerError(f"unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}")
    return SAMPLERS[name]


# -- driving the rules ------------------------------------------------------------------------------------------------

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def solve(rule: Generator[Request, torch.Tensor, torch.Tensor], denoise: Denoise) -> torch.Tensor:
    """Run one step-rule generator to its end, answering each request with ``denoise(x̃, σ)``."""
    try:
        x, sigma = next(rule)
        while True:
            x, sigma = rule.send(denoise(x, float(sigma)))
    except StopIteration as stop:
        return stop.value


def solve_batched(
    rules: Sequence[Generator[Request, torch.Tensor, torch.Tensor]],
    denoise: Denoise,
    *,
    on_request: Callable[[int, torch.Tensor, float], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[torch.Tensor | None]:
    """Run many step rules in lockstep: each tick, every unfinished run's request goes into one batched call.

    Each run has its own σ (per-sample indices). ``on_request(run, x̃, σ)`` sees every request; the finals come
    back in order (None for runs left unfinished because ``cancelled()`` became true).
    """
    finals: list[torch.Tensor | None] = [None] * len(rules)
    pending: dict[int, Request] = {}
    for i, rule in enumerate(rules):
        try:
            pending[i] = next(rule)
        except StopIteration as stop:
            finals[i] = stop.value
    while pending and not cancelled():
        order = list(pending)
        xs = [pending[i][0] for i in order]
        sigmas = torch.cat(
            [
                torch.full((x.shape[0],), float(pending[i][1]), dtype=torch.float64)
                for i, x in zip(order, xs, strict=True)
            ]
        )
        if on_request is not None:
            for i in order:
                on_request(i, *pending[i])
        denoised = denoise(torch.cat(xs), sigmas).split([x.shape[0] for x in xs])
        for i, d in zip(order, denoised, strict=True):
            try:
                pending[i] = rules[i].send(d)
            except StopIteration as stop:
                finals[i] = stop.value
                del pending[i]
    return finals


def sample(
    name: str,
    denoiser: SigmaDenoiser,
    x_T: torch.Tensor,
    steps: int,
    spacing: str | None = None,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample from pure noise ``x_T`` (x at σ_max, i.e. ~N(0, I)) with a named sampler; returns x_0."""
    entry = get_sampler(name)
    sigmas = run_sigmas(entry, denoiser, steps, spacing)
    x = x_T * math.sqrt(1.0 + float(sigmas[0]) ** 2)  # x̃ = x_T/√ᾱ, in x_T's dtype
    if isinstance(denoiser, SigmaDenoiser):
        denoiser.prime(sigmas, x.shape[0], x.device, x.dtype)
    rule = entry.rule(sigmas.tolist(), x, generator=generator, schedule=denoiser.schedule)
    with torch.inference_mode():  # entered once for the run, not at every call
        return solve(rule, denoiser)


def run_sigmas(entry: OdeSampler, denoiser: SigmaDenoiser, steps: int, spacing: str | None = None) -> torch.Tensor:
    """The σ grid ``entry`` runs on with ``denoiser`` (its own spacing unless one is given), refused if it cannot."""
    spacing = spacing or entry.spacing
    if spacing not in entry.spacings:
        raise SamplerError(f"{entry.label} cannot use {spacing} spacing; choose one of {', '.join(entry.spacings)}")
    return sampler_sigmas(denoiser.schedule, steps, spacing, integer_indices=not denoiser.fractional_index)


# -- the σ samplers as Scheduler objects (the window's runs, Compare, the CLI) ----------------------------------------


class OdeScheduler(Scheduler):
    """A sampler of :data:`SAMPLERS` behind :class:`~core.diffusion.samplers.Scheduler`: one model call per step.

    ``config.steps`` is the run's budget of network calls (NFE, as in the lab: Heun takes the most steps that
    fit); ``config.spacing`` the σ grid (:func:`sampler_sigmas` from ``start_index``). :meth:`timesteps` lists
    the model's (fractional, for a network with a sinusoidal time embedding) index at every call, so Heun's
    corrector calls appear as repeated indices, as in diffusers' HeunDiscreteScheduler; :meth:`pairs` gives the
    nearest array index of x_t and of the sample each call returns, for the frames. The state x is x_t in the
    model's units at each call's σ; the rule works in x̃ = x_t √(1 + σ²). Like diffusers' multistep schedulers it
    is stateful: :meth:`step` is called once per entry of :meth:`timesteps`, in order (call 0 begins a new run).
    The ODE is solved unclipped (clipping x̂_0 is no part of the probability-flow ODE): ``config.clip_x0`` is
    not read.
    """

    def __init__(
        self,
        schedule: NoiseSchedule,
        config: SamplerConfig,
        prediction: str = "eps",
        start_index: int | None = None,
        *,
        fractional_index: bool = False,
    ) -> None:
        self.entry = get_sampler(config.sampler)
        self.fractional_index = bool(fractional_index)
        check_terminal_snr(schedule, prediction)
        super().__init__(schedule, config, prediction, start_index)
        self._rule = self._request = self._noise = None
        self._n = 0

    def _make_timesteps(self) -> list:
        entry, spacing = self.entry, self.config.spacing
        if spacing not in entry.spacings:
            raise SamplerError(f"{entry.label} cannot use {spacing} spacing; choose one of {', '.join(entry.spacings)}")
        steps = entry.steps_for_nfe(self.config.steps)
        self.sigmas = sampler_sigmas(
            self.schedule, steps, spacing, integer_indices=not self.fractional_index, start_index=self.start_index
        )
        self._sigma_list = self.sigmas.tolist()
        # The σ of every call, from a dry run of the rule itself: no second copy of its call pattern.
        calls = []
        probe = self._new_rule(torch.zeros(1, dtype=torch.float64), lambda like: torch.zeros_like(like))
        solve(probe, lambda x, sigma: calls.append(float(sigma)) or torch.zeros_like(x))
        self.call_sigmas = calls
        index = index_from_sigma(self.schedule, torch.tensor(calls, dtype=torch.float64))
        nearest = [int(i) for i in index.round()]
        self._model_index = index.tolist() if self.fractional_index else nearest
        self._pairs_list = list(zip(nearest, [*nearest[1:], -1], strict=True))
        return list(self._model_index)

    def _make_pairs(self) -> list[tuple[int, int]]:
        return list(self._pairs_list)

    def _new_rule(self, x_tilde: torch.Tensor, noise):
        return self.entry.rule(self._sigma_list, x_tilde, schedule=self.schedule, noise=noise)

    def needs_noise(self, index) -> bool:
        return self.entry.order is None  # Euler ancestral draws at every step

    def step(self, model_output, index, x, noise) -> StepOutput:
        if self._n == 0 or self._rule is None:
            self._n = 0
            sigma0 = self.call_sigmas[0]
            # x̃ reaches σ_max x_T (≈ 2·10⁴ on a cosine schedule): the state stays float64, as in the lab, and
            # only the model sees its own dtype
            state = x.to(torch.float64 if x.device.type != "mps" else torch.float32)
            self._rule = self._new_rule(state * math.sqrt(1.0 + sigma0**2), lambda _like: self._noise)
            self._request = next(self._rule)
        x_tilde, sigma = self._request
        denoised = x0_from_sigma_output(self.prediction, x_tilde, sigma, model_output.to(x_tilde.dtype))
        self._noise = None if noise is None else noise.to(x_tilde.dtype)
        self._n += 1
        try:
            self._request = self._rule.send(denoised)
            prev = self._request[0] / math.sqrt(1.0 + self._request[1] ** 2)
        except StopIteration as stop:
            self._request, self._n = None, 0
            prev = stop.value  # σ = 0: x̃ is x_0
        eps_hat = to_d(x_tilde, sigma, denoised)  # ε̂ = (x̃ − x̂_0)/σ
        return StepOutput(prev.to(x.dtype), denoised.to(x.dtype), eps_hat.to(x.dtype))
