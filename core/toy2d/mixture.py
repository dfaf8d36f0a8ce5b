"""A Gaussian mixture whose diffused density, score and class-conditional scores are known in closed form."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from core.diffusion.parameterization import eps_from_score
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError
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

    @property
    def num_classes(self) -> int:
        """K: each component is one class of the labelled data set (#24)."""
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` float32 points ``[n, 2]`` of the mixture itself (the data, t = −1)."""
        return self.sample_labelled(n, generator)[0]

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` float32 points ``[n, 2]`` and the component each came from, a LongTensor ``[n]``."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return (self.means[k] + self.stds[k, None] * noise).float(), k

    def _components(self, x: torch.Tensor, t, schedule: NoiseSchedule | None):
        """log w_k N(x; √ᾱ μ_k, v_k I) per point and component ``[N, K]``, the means ``[N|1, K, 2]`` and v_k."""
        abar = _alphas_cumprod_at(schedule, t, x.shape[0])  # [N, 1] or [1, 1]
        return self._scaled_components(x, abar.sqrt(), (1.0 - abar).sqrt())

    def _scaled_components(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
        """The components of the law of a·x_0 + b·ε, x_0 from the mixture: N(a μ_k, (a² s_k² + b²) I)."""
        means = a[:, :, None] * self.means[None]  # [N|1, K, 2]
        variances = a**2 * self.stds[None] ** 2 + b**2  # [N|1, K]
        sq = ((x.double()[:, None, :] - means) ** 2).sum(-1)
        # log N(x; m, v I) in 2-D is −log(2π v) − |x − m|² / (2v).
        log_joint = self.weights.log()[None] - torch.log(2 * math.pi * variances) - sq / (2 * variances)
        return log_joint, means, variances

    def _one_class(self, log_joint: torch.Tensor, label) -> torch.Tensor:
        """log N(x; ·) of each point's own component ``label`` (int or ``[N]``): the class-conditional q_t(x | c)."""
        label = self.check_label(label)
        rows = torch.arange(log_joint.shape[0])
        picked = log_joint[rows, label.expand(log_joint.shape[0])]
        return picked - self.weights.log()[label.expand(log_joint.shape[0])]

    def check_label(self, label) -> torch.Tensor:
        """A label (int or LongTensor) as a LongTensor, or a :class:`DataError` naming the classes there are."""
        label = torch.as_tensor(label, dtype=torch.long)
        if bool(((label < 0) | (label >= self.num_classes)).any()):
            bad = int(label.reshape(-1)[((label < 0) | (label >= self.num_classes)).reshape(-1)][0])
            raise DataError(f"class {bad}: the mixture has {self.num_classes} classes (0 to {self.num_classes - 1})")
        return label

    def log_prob(self, x: torch.Tensor, t=-1, schedule: NoiseSchedule | None = None, label=None) -> torch.Tensor:
        """log q_t(x) of the mixture diffused to array index ``t``, float64 ``[N]`` (differentiable in x).

        Parameters
        ----------
        x : torch.Tensor
            ``[N, 2]`` points.
        t : int or torch.Tensor
            An array index for all points, or a LongTensor ``[N]`` of indices; −1 is the data itself.
        schedule : NoiseSchedule, optional
            Needed unless every t is −1.
        label : int or torch.Tensor, optional
            A class (component) for all points or one per point: log q_t(x | c), the component diffused alone.
        """
        log_joint = self._components(x, t, schedule)[0]
        if label is not None:
            return self._one_class(log_joint, label)
        return torch.logsumexp(log_joint, dim=1)

    def score(self, x: torch.Tensor, t=-1, schedule: NoiseSchedule | None = None, label=None) -> torch.Tensor:
        """The exact score ∇_x log q_t(x) (or ∇_x log q_t(x | c) with ``label``), ``[N, 2]`` in x's dtype.

        ∇ log q_t(x) = Σ_k r_k(x) (√ᾱ_t μ_k − x) / v_k with the responsibilities r_k ∝ w_k N(x; √ᾱ_t μ_k, v_k I)
        and v_k = ᾱ_t s_k² + 1 − ᾱ_t; given the class c, r is one-hot on c.
        """
        log_joint, means, variances = self._components(x, t, schedule)
        return self._score_of(x, log_joint, means, variances, label)

    def _score_of(self, x, log_joint, means, variances, label) -> torch.Tensor:
        if label is None:
            resp = torch.softmax(log_joint, dim=1)
        else:
            resp = torch.nn.functional.one_hot(self.check_label(label).expand(x.shape[0]), self.num_classes).double()
        score = ((resp / variances)[:, :, None] * (means - x.double()[:, None, :])).sum(1)
        return score.to(x.dtype)

    def class_posterior(self, x: torch.Tensor, t=-1, schedule: NoiseSchedule | None = None) -> torch.Tensor:
        """p_t(c | x) ``[N, K]``: the responsibilities of the components for the diffused points."""
        return torch.softmax(self._components(x, t, schedule)[0], dim=1)

    def guided_score(
        self, x: torch.Tensor, label, w: float, t=-1, schedule: NoiseSchedule | None = None
    ) -> torch.Tensor:
        """Classifier-free guidance on the exact scores: (1 + w) ∇ log q_t(x | c) − w ∇ log q_t(x).

        Ho & Salimans 2021, Eq. (6) written in scores: ε̃ = (1 + w) ε(x, c) − w ε(x) and ε = −σ_t ∇ log q_t.
        It equals ∇ log q_t(x | c) + w ∇ log q_t(c | x), the score of q_t(x | c) q_t(c | x)^w at each t.
        """
        log_joint, means, variances = self._components(x, t, schedule)
        conditional = self._score_of(x, log_joint, means, variances, label)
        unconditional = self._score_of(x, log_joint, means, variances, None)
        return (1.0 + w) * conditional - w * unconditional

    def tilted_log_density(self, x: torch.Tensor, label, w: float) -> torch.Tensor:
        """log p(x | c) + w log p(c | x) at the data (t = −1), float64 ``[N]``, up to its normaliser.

        The density guidance is often said to sample. The guided sampler does not follow it exactly: its
        scores at t > 0 are not the scores of the tilted density diffused (Chidambaram et al. 2024; Bradley &
        Nakkiran 2024), so the gap between the two is guidance's own.
        """
        log_joint = self._components(x, -1, None)[0]
        conditional = self._one_class(log_joint, label)
        log_posterior = log_joint[:, int(self.check_label(label))] - torch.logsumexp(log_joint, dim=1)
        return conditional + w * log_posterior

    def eps_model(self, schedule: NoiseSchedule, label=None, w: float = 0.0) -> ModelFn:
        """A model ``(x [N, 2], t [N]) → ε̂`` from the exact score: ε̂ = −√(1 − ᾱ_t) ∇ log q_t(x).

        The samplers take it with ``prediction="eps"``; it is the ideal network of the simple loss. With a
        ``label`` it is the class-conditional model, and with ``w`` > 0 the guided one (:meth:`guided_score`).
        """
        if label is not None:
            self.check_label(label)

        def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if label is None:
                score = self.score(x, t, schedule)
            else:
                score = self.guided_score(x, label, w, t, schedule)
            return eps_from_score(schedule, x, t, score)

        return model

    def velocity(self, x: torch.Tensor, time, label=None) -> torch.Tensor:
        """The exact flow-matching velocity E[ε − x_0 | x_s = x] of the path x_s = (1 − s) x_0 + s ε.

        Lipman et al. 2023 (Eq. 8, with σ_min = 0) and Liu et al. 2023 (Eq. 1): the marginal velocity is the
        conditional one, ε − x_0, averaged over the pairs that pass through x. Per component, with a = 1 − s,
        b = s and v_k = a² s_k² + b²: E[ε | x, k] = b (x − a μ_k)/v_k and E[x_0 | x, k] = μ_k + a s_k² (x − a μ_k)/v_k.

        Parameters
        ----------
        time : float or torch.Tensor
            The flow time s ∈ [0, 1] (0 = data, 1 = noise), one for all points or ``[N]``.
        """
        s = torch.as_tensor(time, dtype=torch.float64).reshape(-1, 1)
        a, b = 1.0 - s, s
        log_joint, means, variances = self._scaled_components(x, a, b)
        if label is None:
            resp = torch.softmax(log_joint, dim=1)
        else:
            resp = torch.nn.functional.one_hot(self.check_label(label).expand(x.shape[0]), self.num_classes).double()
        offset = x.double()[:, None, :] - means  # x − a μ_k  [N, K, 2]
        per_component = ((b - a * self.stds[None] ** 2) / variances)[:, :, None] * offset - self.means[None]
        return (resp[:, :, None] * per_component).sum(1).to(x.dtype)

    def velocity_model(self, label=None) -> ModelFn:
        """A flow-matching model ``(x [N, 2], s [N]) → v̂`` from :meth:`velocity` (``prediction="velocity"``)."""

        def model(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            return self.velocity(x, s, label)

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


def tilted_density_grid(
    mixture: GaussianMixture, label: int, w: float, lo: float = -2.6, hi: float = 2.6, k: int = 200
) -> torch.Tensor:
    """p(x | c) p(c | x)^w on a k × k grid over [lo, hi]² (row 0 at ``lo``, x fastest), normalised to sum to 1."""
    axis = torch.linspace(lo, hi, k, dtype=torch.float64)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    log_density = mixture.tilted_log_density(grid, label, w)
    return torch.softmax(log_density, 0).reshape(k, k)


def sample_tilted(
    mixture: GaussianMixture,
    label: int,
    w: float,
    n: int,
    generator: torch.Generator | None = None,
    lo: float = -3.0,
    hi: float = 3.0,
    k: int = 600,
) -> torch.Tensor:
    """n float32 points of p(x | c) p(c | x)^w: a cell of a k × k grid by its mass, then uniform inside it.

    The grid's cells are 0.01 wide, far below the blobs' spread, so the draw is the density up to that width.
    """
    mass = tilted_density_grid(mixture, label, w, lo, hi, k).reshape(-1)
    cell = torch.multinomial(mass, n, replacement=True, generator=generator)
    width = (hi - lo) / (k - 1)
    centre = torch.stack([cell % k, cell // k], 1).double() * width + lo
    return (centre + (torch.rand(n, 2, generator=generator, dtype=torch.float64) - 0.5) * width).float()
