"""A Gaussian mixture whose diffused density, score and class-conditional scores are known in closed form."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from core.diffusion.parameterization import eps_from_score
from core.diffusion.schedules import NoiseSchedule
from core.toy2d.points import as_points, fresh_tensor

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class GaussianMixture:
    """A mixture of isotropic 2-D Gaussians whose diffused density q_t is known in closed form.

    Diffusing a component N(μ, s²I) with q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) (Eq. 4, Ho et al. 2020)
    gives N(√ᾱ_t μ, (ᾱ_t s² + 1 − ᾱ_t) I), so q_t is again a mixture with the same weights.

    Parameters
    ----------
    means : array-like
        ``[K, 2]`` component means.
    stds : array-like
        ``[K]`` component standard deviations (each component is N(μ_k, s_k² I)).
    weights : array-like
        ``[K]`` positive weights; normalised to sum to 1.
    """

    def __init__(self, means, stds, weights) -> None:
        self.means = as_points(means, torch.float64)
        self.stds = fresh_tensor(stds, torch.float64).reshape(-1)
        weights = fresh_tensor(weights, torch.float64).reshape(-1)
        k = self.means.shape[0]
        if self.stds.shape[0] != k or weights.shape[0] != k:
            raise ValueError(
                f"means, stds and weights must have K entries each, got {k}, {len(self.stds)}, {len(weights)}"
            )
        if not bool((self.stds > 0).all()) or not bool((weights > 0).all()):
            raise ValueError("every std and weight of a mixture must be positive")
        self.weights = weights / weights.sum()

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` float32 points ``[n, 2]`` of the mixture itself (the data, t = −1)."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return (self.means[k] + self.stds[k, None] * noise).float()

    def _components(self, x: torch.Tensor, t, schedule: NoiseSchedule | None):
        """log w_k N(x; √ᾱ μ_k, v_k I) per point and component ``[N, K]``, the means ``[N|1, K, 2]`` and v_k."""
        abar = _alphas_cumprod_at(schedule, t, x.shape[0])  # [N, 1] or [1, 1]
        means = abar.sqrt()[:, :, None] * self.means[None]  # [N, K, 2]
        variances = abar * self.stds[None] ** 2 + (1.0 - abar)  # [N, K]
        sq = ((x.double()[:, None, :] - means) ** 2).sum(-1)
        # log N(x; m, v I) in 2-D is −log(2π v) − |x − m|² / (2v).
        log_joint = self.weights.log()[None] - torch.log(2 * math.pi * variances) - sq / (2 * variances)
        return log_joint, means, variances

    def log_prob(self, x: torch.Tensor, t=-1, schedule: NoiseSchedule | None = None) -> torch.Tensor:
        """log q_t(x) of the mixture diffused to array index ``t``, float64 ``[N]`` (differentiable in x).

        Parameters
        ----------
        x : torch.Tensor
            ``[N, 2]`` points.
        t : int or torch.Tensor
            An array index for all points, or a LongTensor ``[N]`` of indices; −1 is the data itself.
        schedule : NoiseSchedule, optional
            Needed unless every t is −1.
        """
        return torch.logsumexp(self._components(x, t, schedule)[0], dim=1)

    def score(self, x: torch.Tensor, t=-1, schedule: NoiseSchedule | None = None) -> torch.Tensor:
        """The exact score ∇_x log q_t(x), ``[N, 2]`` in x's dtype.

        ∇ log q_t(x) = Σ_k r_k(x) (√ᾱ_t μ_k − x) / v_k with the responsibilities r_k ∝ w_k N(x; √ᾱ_t μ_k, v_k I)
        and v_k = ᾱ_t s_k² + 1 − ᾱ_t.
        """
        log_joint, means, variances = self._components(x, t, schedule)
        resp = torch.softmax(log_joint, dim=1)
        score = ((resp / variances)[:, :, None] * (means - x.double()[:, None, :])).sum(1)
        return score.to(x.dtype)

    def eps_model(self, schedule: NoiseSchedule) -> ModelFn:
        """A model ``(x [N, 2], t [N]) → ε̂`` from the exact score: ε̂ = −√(1 − ᾱ_t) ∇ log q_t(x).

        The samplers take it with ``prediction="eps"``; it is the ideal network of the simple loss.
        """

        def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return eps_from_score(schedule, x, t, self.score(x, t, schedule))

        return model

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.means.shape[0]})"


def default_mixture() -> GaussianMixture:
    """Three blobs of weights 0.2, 0.3 and 0.5: the ``mixture`` data set."""
    return GaussianMixture(
        means=[[-1.2, -0.8], [1.2, -0.8], [0.0, 1.1]],
        stds=[0.3, 0.25, 0.35],
        weights=[0.2, 0.3, 0.5],
    )


def _alphas_cumprod_at(schedule: NoiseSchedule | None, t, n: int) -> torch.Tensor:
    """ᾱ at array index ``t`` (int or ``[N]``), float64 ``[N, 1]`` or ``[1, 1]``; index −1 gives ᾱ = 1."""
    per_sample = isinstance(t, torch.Tensor) and t.ndim > 0
    if not per_sample and int(t) == -1:
        return torch.ones(1, 1, dtype=torch.float64)
    if schedule is None:
        raise ValueError("a schedule is needed for t ≥ 0")
    table = torch.cat([torch.ones(1, dtype=torch.float64), schedule.alphas_cumprod])  # table[t + 1] = ᾱ_t
    if per_sample:
        return table[t.cpu().long() + 1].reshape(n, 1)
    return table[int(t) + 1].reshape(1, 1)
