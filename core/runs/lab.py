"""The sampler lab: from one x_T, every chosen sampler at each NFE, its error against a reference solution of
the same probability-flow ODE, and the fitted order.

The reference is Heun (EDM Algorithm 1) on Karras σ at :data:`REFERENCE_NFE` network calls from the same x_T.
Errors are RMS over every element of the final samples (x in [−1, 1] for images), so a sampler of order p has
error ∝ NFE^−p: the slope of log error against log NFE, fitted over NFE ≥ :data:`FIT_FROM`, is −p.

On the playground's Gaussian mixture the denoiser is exact for every σ (:class:`MixtureDenoiser`), so the
reference is the ODE's solution up to Heun's own tiny error and each error is the solver's alone.

Every run and the reference advance in lockstep, one batched network call per tick
(:func:`core.diffusion.ode_samplers.solve_batched`): the lab costs the reference's NFE in calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.diffusion.ode_samplers import (
    SAMPLERS,
    SamplerError,
    get_sampler,
    lambda_from_sigma,
    model_sigmas,
    run_sigmas,
    sampler_sigmas,
    solve_batched,
)
from core.diffusion.schedules import NoiseSchedule
from core.imaging.files import atomic_write_bytes

LAB_SAMPLERS = ("ddim", "euler", "heun", "dpmpp2m")
LAB_NFE = (5, 10, 20, 50, 100)
REFERENCE_SAMPLER = "heun"
REFERENCE_NFE = 999  # Heun, 500 Karras steps
FIT_FROM = 10  # the slope is fitted over NFE ≥ 10, where every solver is in its asymptotic regime

Progress = Callable[[int, int], bool]  # (done, total) → keep going?


# -- the exact denoiser of a Gaussian mixture, at any σ ----------------------------------------------------------------


class MixtureDenoiser:
    """D(x̃, σ) = E[x_0 | x̃] of a mixture of isotropic Gaussians, exact for every σ (no index, no network).

    With x̃ = x_0 + σ n and component k = N(μ_k, s_k² I): x̃ | k ~ N(μ_k, (s_k² + σ²) I) and
    E[x_0 | x̃, k] = μ_k + s_k²/(s_k² + σ²) (x̃ − μ_k) (Bayes' rule for Gaussians); D is their mean under the
    responsibilities r_k ∝ w_k N(x̃; μ_k, (s_k² + σ²) I). It equals the mixture's exact score through
    Tweedie's formula D = x̃ + σ² ∇ log p_σ(x̃). ``schedule`` only sets σ_max and σ_min.
    """

    fractional_index = True

    def __init__(self, mixture, schedule: NoiseSchedule) -> None:
        self.means = mixture.means.double()
        self.variances = mixture.stds.double() ** 2
        self.log_weights = mixture.weights.double().log()
        self.schedule = schedule
        self.prediction = "x0"
        self.sigma_min, self.sigma_max = (float(s) for s in model_sigmas(schedule)[[0, -1]])
        self.calls = 0
        self.network_seconds = 0.0

    def __call__(self, x_tilde: torch.Tensor, sigma) -> torch.Tensor:
        self.calls += 1
        sigma = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1).expand(x_tilde.shape[0])
        x = x_tilde.double()
        var = self.variances[None] + sigma[:, None] ** 2  # [N, K]
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        resp = torch.softmax(self.log_weights[None] - torch.log(var) - sq / (2 * var), dim=1)  # 2-D: log(2πv)
        shrink = self.variances[None] / var  # [N, K]
        post = self.means[None] + shrink[:, :, None] * (x[:, None, :] - self.means[None])
        return (resp[:, :, None] * post).sum(1).to(x_tilde.dtype)


# -- the lab ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabRun:
    """One sampler at one NFE: its grid, its final sample, its error, and one element's path over λ."""

    sampler: str
    nfe_asked: int
    nfe: int
    steps: int
    spacing: str
    sigmas: np.ndarray
    final: torch.Tensor
    error: float  # RMS over every element of the batch
    path_lambda: np.ndarray  # λ = −2 log σ at each σ > 0 the run visited
    path_value: np.ndarray  # x_t = x̃ √ᾱ of the tracked element there
    per_sample: np.ndarray  # RMS of each sample (image or 2-D point) of the batch: the spread behind ``error``


@dataclass(frozen=True)
class LabResult:
    """Every run, the reference, the fitted slopes."""

    runs: tuple[LabRun, ...]
    reference: LabRun
    x_T: torch.Tensor
    slopes: dict[str, float | None] = field(default_factory=dict)
    network_calls: int = 0
    network_seconds: float = 0.0

    def run(self, sampler: str, nfe_asked: int) -> LabRun:
        return next(r for r in self.runs if r.sampler == sampler and r.nfe_asked == nfe_asked)

    @property
    def samplers(self) -> list[str]:
        return list(dict.fromkeys(r.sampler for r in self.runs))

    @property
    def nfes(self) -> list[int]:
        return sorted({r.nfe_asked for r in self.runs})


@dataclass(frozen=True)
class _Plan:
    sampler: str
    nfe_asked: int
    steps: int
    spacing: str
    sigmas: torch.Tensor


def plan_runs(denoiser, samplers: Sequence[str], nfes: Sequence[int], spacing: str | None = None) -> list[_Plan]:
    """Every (sampler, NFE) run's steps and σ grid, refused before anything is computed."""
    if not samplers:
        raise SamplerError("choose at least one sampler")
    if not nfes:
        raise SamplerError("give at least one NFE")
    plans = []
    for name in samplers:
        entry = get_sampler(name)
        for nfe in nfes:
            steps = entry.steps_for_nfe(int(nfe))
            sigmas = run_sigmas(entry, denoiser, steps, spacing)
            plans.append(_Plan(name, int(nfe), steps, spacing or entry.spacing, sigmas))
    return plans


def reference_plan(denoiser, nfe: int = REFERENCE_NFE) -> _Plan:
    """Heun on Karras σ at ``nfe`` calls (a model of integer indices: on trailing indices, at most T steps)."""
    entry = SAMPLERS[REFERENCE_SAMPLER]
    steps = entry.steps_for_nfe(nfe)
    if denoiser.fractional_index:
        spacing = "karras"
    else:
        spacing, steps = "trailing", min(steps, denoiser.schedule.T)
    sigmas = sampler_sigmas(denoiser.schedule, steps, spacing, integer_indices=not denoiser.fractional_index)
    return _Plan(REFERENCE_SAMPLER, entry.nfe(steps), steps, spacing, sigmas)


def fitted_slope(nfes: Sequence[int], errors: Sequence[float], fit_from: int = FIT_FROM) -> float | None:
    """−d log(error)/d log(NFE) by least squares over NFE ≥ ``fit_from`` (None with fewer than 2 such points)."""
    pts = [(n, e) for n, e in zip(nfes, errors, strict=True) if n >= fit_from and e > 0 and math.isfinite(e)]
    if len(pts) < 2:
        return None
    n, e = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(-np.polyfit(n, e, 1)[0])


def run_lab(
    denoiser,
    x_T: torch.Tensor,
    samplers: Sequence[str] = LAB_SAMPLERS,
    nfes: Sequence[int] = LAB_NFE,
    *,
    reference_nfe: int = REFERENCE_NFE,
    spacing: str | None = None,
    seed: int = 0,
    element: int = 0,
    max_batch: int | None = None,
    batched: bool = True,
    progress: Progress | None = None,
) -> LabResult | None:
    """Run every sampler at every NFE and the reference from one ``x_T`` (x at σ_max, ~N(0, I)).

    Parameters
    ----------
    denoiser : SigmaDenoiser or MixtureDenoiser
        D(x̃, σ), with ``schedule`` and ``fractional_index``.
    x_T : torch.Tensor
        [B, …] pure noise; every run starts from it (x̃ = x_T/√ᾱ at its first σ).
    samplers, nfes : sequences
        Names of :data:`~core.diffusion.ode_samplers.SAMPLERS` and network-call budgets (Heun uses the largest
        odd count ≤ the budget: its last step is one call).
    reference_nfe : int
        Network calls of the Heun reference.
    spacing : str, optional
        One spacing for every sampler (default: each sampler's own — DDIM trailing, Heun karras, the others edm).
    seed : int
        Seeds Euler ancestral's noise (one generator per run).
    element : int
        The flattened element of the first sample whose path over λ is kept.
    max_batch : int, optional
        Split each tick's batched call into pieces of at most this many samples.
    batched : bool
        One call per tick for all runs (default) or each run on its own (the same numbers, more calls).
    progress : callable, optional
        ``progress(done, total)`` each tick; returning False cancels (the lab then returns None).

    Returns
    -------
    LabResult or None
    """
    plans = plan_runs(denoiser, samplers, nfes, spacing)
    plans.append(reference_plan(denoiser, reference_nfe))
    x_T = x_T.to(torch.float64)
    paths: list[dict[float, float]] = [{} for _ in plans]

    def record(i: int, x: torch.Tensor, sigma: float) -> None:
        # the last request at each σ wins: Heun's corrected state replaces its Euler predictor there
        paths[i][float(sigma)] = float(x.reshape(x.shape[0], -1)[0, element]) / math.sqrt(1.0 + float(sigma) ** 2)

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if max_batch is None or x.shape[0] <= max_batch:
            return denoiser(x, sigma)
        return torch.cat([denoiser(xc, sc) for xc, sc in zip(x.split(max_batch), sigma.split(max_batch), strict=True)])

    def rule(p: _Plan):
        entry = SAMPLERS[p.sampler]
        x0 = x_T * math.sqrt(1.0 + float(p.sigmas[0]) ** 2)
        gen = torch.Generator().manual_seed(seed)
        return entry.rule(p.sigmas.tolist(), x0, generator=gen, schedule=denoiser.schedule)

    total = max(SAMPLERS[p.sampler].nfe(p.steps) for p in plans)
    if not batched:
        total = sum(SAMPLERS[p.sampler].nfe(p.steps) for p in plans)
    ticks = [0]

    def stop() -> bool:
        done = ticks[0]
        ticks[0] += 1
        return progress is not None and not progress(done, total)

    calls0, seconds0 = denoiser.calls, denoiser.network_seconds
    if batched:
        finals = solve_batched([rule(p) for p in plans], denoise, on_request=record, cancelled=stop)
    else:
        finals = []
        for i, p in enumerate(plans):
            (final,) = solve_batched(
                [rule(p)], denoise, on_request=lambda _j, x, s, i=i: record(i, x, s), cancelled=stop
            )
            finals.append(final)
    if any(f is None for f in finals):
        return None
    if progress is not None:
        progress(total, total)
    reference = finals[-1]

    def make(i: int, p: _Plan, final: torch.Tensor) -> LabRun:
        sig = np.array(sorted(paths[i], reverse=True))
        squared = ((final - reference) ** 2).flatten(1)
        error = float(squared.mean().sqrt())
        return LabRun(
            p.sampler,
            p.nfe_asked,
            SAMPLERS[p.sampler].nfe(p.steps),
            p.steps,
            p.spacing,
            p.sigmas.numpy(),
            final,
            error,
            lambda_from_sigma(sig),
            np.array([paths[i][s] for s in sig]),
            squared.mean(1).sqrt().numpy(),
        )

    runs = tuple(make(i, p, f) for i, (p, f) in enumerate(zip(plans[:-1], finals[:-1], strict=True)))
    slopes = {}
    for name in dict.fromkeys(p.sampler for p in plans[:-1]):
        mine = [r for r in runs if r.sampler == name]
        slopes[name] = fitted_slope([r.nfe for r in mine], [r.error for r in mine])
    return LabResult(
        runs,
        make(len(plans) - 1, plans[-1], reference),
        x_T,
        slopes,
        denoiser.calls - calls0,
        denoiser.network_seconds - seconds0,
    )


def theory_order(sampler: str) -> int | None:
    """The order the theory gives the sampler on the ODE (None: stochastic)."""
    return SAMPLERS[sampler].order


def write_lab_csv(path, result: LabResult) -> None:
    """One row per sampler and NFE: sampler, nfe (calls made), nfe_asked, steps, spacing, error, the reference."""
    ref = result.reference
    lines = ["sampler,nfe,nfe_asked,steps,spacing,error,reference"]
    lines += [
        f"{r.sampler},{r.nfe},{r.nfe_asked},{r.steps},{r.spacing},{r.error:.9g},{ref.sampler} {ref.spacing} NFE {ref.nfe}"
        for r in result.runs
    ]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


# -- every loss as a weighting over log-SNR (Kingma & Gao 2023) ---------------------------------------------------

EDM_SIGMA_DATA, EDM_P_MEAN, EDM_P_STD = 0.5, -1.2, 1.2  # Karras et al. 2022, Table 1
MIN_SNR_GAMMA = 5.0  # Hang et al. 2023


def schedule_density(schedule: NoiseSchedule, lam: np.ndarray) -> np.ndarray:
    """p(λ) of training's uniform draw of the index under ``schedule``: 1/(T |dλ/di|), read at ``lam``."""
    lam_i = schedule.log_snr.numpy()
    finite = np.isfinite(lam_i)
    lam_i = lam_i[finite]
    density = 1.0 / (len(schedule.log_snr) * np.abs(np.gradient(lam_i)))
    order = np.argsort(lam_i)
    inside = (lam >= lam_i.min()) & (lam <= lam_i.max())
    return np.where(inside, np.interp(lam, lam_i[order], density[order]), 0.0)


def loss_weightings(schedule: NoiseSchedule, lam: np.ndarray) -> dict[str, np.ndarray]:
    """w(λ) of each loss as a weighting of the ε-MSE over λ, each scaled to a maximum of 1 (Kingma & Gao 2023, Eq. 7).

    With x̂_0 = (z − σ ε̂)/α: ‖x_0 − x̂_0‖² = e^{−λ}‖ε − ε̂‖² and ‖v − v̂‖² = (1 + e^{−λ})‖ε − ε̂‖² (Salimans & Ho
    2022), times p(λ) of the schedule; min-SNR-γ weighs the ε-MSE by min(1, γ e^{−λ}) (Hang et al. 2023); EDM
    weighs ‖D − x_0‖² by (σ² + σ_d²)/(σ σ_d)² under log σ ~ N(−1.2, 1.2²) (Karras et al. 2022, Table 1); flow
    matching's linear path with t uniform gives e^{−λ/2}/2 (Kingma & Gao 2023, Sec. 5).
    """
    p = schedule_density(schedule, lam)
    e = np.exp(-lam)
    sigma2 = e  # σ² = e^{−λ} in EDM's σ
    log_sigma = -lam / 2
    # p(λ) of EDM's log-normal σ: log σ ~ N(P_mean, P_std²), |d log σ/dλ| = 1/2
    p_edm = np.exp(-((log_sigma - EDM_P_MEAN) ** 2) / (2 * EDM_P_STD**2)) / (2 * EDM_P_STD * math.sqrt(2 * math.pi))
    curves = {
        "ε-MSE": p,
        "x₀-MSE": e * p,
        "v-MSE": (1 + e) * p,
        f"min-SNR-{MIN_SNR_GAMMA:g}": np.minimum(1.0, MIN_SNR_GAMMA * e) * p,
        "EDM": (sigma2 + EDM_SIGMA_DATA**2) / EDM_SIGMA_DATA**2 * p_edm,
        "flow matching": np.exp(-lam / 2) / 2,
    }
    return {k: v / v.max() if v.max() > 0 else v for k, v in curves.items()}


def model_loss_name(model) -> str:
    """Which curve of :func:`loss_weightings` the model was trained with (its prediction, min-SNR if it used it)."""
    provenance = (getattr(model, "config", None) or {}).get("provenance", {}) or {}
    train = provenance.get("train", provenance) if isinstance(provenance, dict) else {}
    if isinstance(train, dict) and float(train.get("min_snr", 0) or 0) > 0:
        return f"min-SNR-{MIN_SNR_GAMMA:g}"
    return {"eps": "ε-MSE", "x0": "x₀-MSE", "v": "v-MSE"}.get(getattr(model, "prediction", "eps"), "ε-MSE")
