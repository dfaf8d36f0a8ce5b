"""The variational bound of DDPM in bits per dimension (Ho et al. 2020, Eq. 5;
Nichol & Dhariwal 2021, Sec. 2 and App.).

L = L_T + Σ_{t>1} L_{t−1} + L_0, with
L_T = KL(q(x_T|x_0) ‖ N(0, I)), L_{t−1} = KL(q(x_{t−1}|x_t, x_0) ‖ p_θ(x_{t−1}|x_t)) and
L_0 = −log p_θ(x_0|x_1) under the discretised Gaussian decoder (Eq. 13). Data are 8-bit
values scaled to [−1, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from core.device import randn
from core.diffusion.forward import q_mean_variance, q_sample
from core.diffusion.posterior import p_mean_variance, q_posterior_mean_variance
from core.diffusion.schedules import NoiseSchedule

LOG2 = math.log(2.0)


def normal_kl(mean1, logvar1, mean2, logvar2) -> torch.Tensor:
    """KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)), elementwise, in nats."""
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def discretized_gaussian_log_likelihood(x: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor) -> torch.Tensor:
    """log p(x) of 8-bit data in [−1, 1] under a Gaussian discretised to 256 bins (Eq. 13).

    The edge bins extend to ±∞. The exact normal CDF is used (Ho et al. used a tanh
    approximation; the difference is below 1e−3 in the CDF).
    """
    centered = x - means
    inv_std = torch.exp(-log_scales)
    cdf_plus = torch.special.ndtr(inv_std * (centered + 1.0 / 255.0))
    cdf_min = torch.special.ndtr(inv_std * (centered - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


def _mean_flat(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=tuple(range(1, x.ndim)))


def prior_bpd(schedule: NoiseSchedule, x0: torch.Tensor) -> torch.Tensor:
    """L_T in bits/dim per image: KL(q(x_T|x_0) ‖ N(0, I))."""
    t = schedule.T - 1
    mean, var = q_mean_variance(schedule, x0, t)
    logvar = torch.full_like(x0, math.log(var))
    return _mean_flat(normal_kl(mean, logvar, torch.zeros_like(x0), torch.zeros_like(x0))) / LOG2


def vlb_term_bpd(
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    t: int | torch.Tensor,
    noise: torch.Tensor,
    prediction: str = "eps",
    variance: str = "fixed_small",
) -> torch.Tensor:
    """The bound's term at array index t, in bits/dim per image.

    Index t > 0 is KL(q(x_{t−1}|x_t,x_0) ‖ p_θ(x_{t−1}|x_t)); index 0 is the decoder NLL L_0. ``t`` is one
    index for the batch or a tensor of per-sample indices (then each row gets the term of its own t).
    """
    per_sample = isinstance(t, torch.Tensor)
    t_batch = t.to(x0.device) if per_sample else torch.full((x0.shape[0],), t, device=x0.device, dtype=torch.long)
    x_t = q_sample(schedule, x0, t, noise)
    out = model(x_t, t_batch)
    (mean, _, _), _, log_var = p_mean_variance(schedule, x_t, t, out, prediction, variance)
    log_var = log_var.expand_as(x0)

    def decoder() -> torch.Tensor:  # L_0, Eq. (13)
        return _mean_flat(-discretized_gaussian_log_likelihood(x0, mean, 0.5 * log_var)) / LOG2

    def kl() -> torch.Tensor:  # L_{t−1}
        true_mean, _, true_log_var = q_posterior_mean_variance(schedule, x0, x_t, t)
        return _mean_flat(normal_kl(true_mean, true_log_var, mean, log_var)) / LOG2

    if not per_sample:
        return decoder() if t == 0 else kl()
    return torch.where(t_batch == 0, decoder(), kl())


def vlb_terms_bpd(
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    *,
    prediction: str = "eps",
    variance: str = "fixed_small",
    generator: torch.Generator | None = None,
    timesteps: list[int] | None = None,
) -> torch.Tensor:
    """Every term L_t (or those at ``timesteps``) for a batch: a tensor [batch, len(timesteps)]."""
    timesteps = list(range(schedule.T)) if timesteps is None else timesteps
    rows = []
    with torch.inference_mode():
        for t in timesteps:
            noise = randn(x0.shape, generator, x0.device, x0.dtype)
            rows.append(vlb_term_bpd(model, schedule, x0, t, noise, prediction, variance))
    return torch.stack(rows, dim=1)


def bits_per_dim(
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    *,
    prediction: str = "eps",
    variance: str = "fixed_small",
    generator: torch.Generator | None = None,
    stride: int = 1,
) -> dict[str, torch.Tensor]:
    """The full bound in bits/dim per image: ``{"total", "prior", "terms", "timesteps"}``.

    With ``stride > 1`` the terms of t ≥ stride are estimated by stratified sampling: one random
    t in each block of ``stride`` consecutive steps, weighted by the block's size. The estimate
    is unbiased and costs about 1/stride of the model calls; L_T and the first ``stride`` terms
    (L_0 among them) are always exact.
    """
    if stride < 1:
        raise ValueError("stride must be at least 1")
    # The first block is steep (the terms fall by orders of magnitude over t = 1..10), so it is
    # computed exactly; the smooth rest is stratified.
    exact = min(stride, schedule.T)
    timesteps, weights = list(range(exact)), [1.0] * exact
    for start in range(exact, schedule.T, stride):
        size = min(stride, schedule.T - start)
        offset = int(torch.randint(0, size, (1,), generator=generator)) if size > 1 else 0
        timesteps.append(start + offset)
        weights.append(float(size))
    terms = vlb_terms_bpd(
        model, schedule, x0, prediction=prediction, variance=variance, generator=generator, timesteps=timesteps
    )
    prior = prior_bpd(schedule, x0)
    weighted = terms * torch.tensor(weights, dtype=terms.dtype, device=terms.device)
    return {"total": prior + weighted.sum(dim=1), "prior": prior, "terms": terms, "timesteps": timesteps}


def vlb_terms_batched(
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    *,
    prediction: str = "eps",
    variance: str = "fixed_small",
    generator: torch.Generator | None = None,
    batch_size: int = 100,
    progress: Callable[[int, int], bool] | None = None,
) -> torch.Tensor | None:
    """Every term L_0 … L_{T−1} of one image [1, C, H, W] in bits/dim, as a tensor [T].

    The T terms are evaluated ``batch_size`` timesteps per network call (one x_t per t, per-sample
    t), which is what makes the bound per t interactive. The noise of term t is the t-th draw from
    ``generator``, as in :func:`vlb_terms_bpd`, so both give the same terms for the same seed.
    ``progress(done, total)`` is called after each batch; returning False cancels (the result is then None).
    """
    if x0.shape[0] != 1:
        raise ValueError("vlb_terms_batched takes one image [1, C, H, W]")
    T = schedule.T
    terms = []
    with torch.inference_mode():
        for start in range(0, T, batch_size):
            t = torch.arange(start, min(start + batch_size, T), device=x0.device)
            noise = torch.cat([randn(x0.shape, generator, x0.device, x0.dtype) for _ in range(len(t))])
            x0s = x0.expand(len(t), *x0.shape[1:])
            terms.append(vlb_term_bpd(model, schedule, x0s, t, noise, prediction, variance))
            if progress is not None and progress(min(start + batch_size, T), T) is False:
                return None
    return torch.cat(terms)


def bound_per_t(
    model, x0: torch.Tensor, *, seed: int = 0, batch_size: int = 100, progress: Callable[[int, int], bool] | None = None
):
    """The bound per t of one image [1, C, H, W] under a loaded model: (terms [T] as numpy, L_T), or None if cancelled.

    Fixed σ² = β̃ and noise seeded by ``seed``, as ``diffusion-viz evaluate`` uses.
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x0 = x0.to(model.device)
    terms = vlb_terms_batched(
        model, model.schedule, x0, prediction=model.prediction, generator=gen, batch_size=batch_size, progress=progress
    )
    if terms is None:
        return None
    return terms.float().cpu().numpy(), float(prior_bpd(model.schedule, x0)[0])
