"""The 2-D playground (#12): point-cloud data, an exact Gaussian-mixture score, a small MLP, samplers on points.

Everything here works on point clouds ``[N, 2]`` that lie roughly in the box [−2, 2]². The reverse samplers
reuse :func:`core.diffusion.samplers.ddpm_loop` and :func:`~core.diffusion.samplers.ddim_loop`, which work on
any tensor shape; only annealed Langevin dynamics (Song & Ermon 2019) is written here. Timesteps follow
:mod:`core.diffusion.schedules`: array index t is the paper's step t+1 and index −1 is the data itself
(ᾱ = 1). Frames carry the paper's t (0 = data).

Training settings (:data:`DEFAULT_TRAIN`)
-----------------------------------------
A linear schedule with T = 200: β from 5e-4 to 0.1, DDPM's 1e-4 … 0.02 scaled by 1000/T as in
:meth:`NoiseSchedule.linear`, so ᾱ_T ≈ 3e-5 and x_T is pure noise. A toy data set needs no 1000-step chain:
T = 200 makes a DDPM run 200 model calls (201 frames) and fits as well as T = 1000; the cosine schedule is
avoided because its ᾱ_T ≈ 0 makes DDIM's first x̂_0 = x_T/√ᾱ_T blow up. The network is a :class:`ToyMLP`
(3 residual blocks of 128 units, x through 6 octaves of Fourier features), trained for 4000 Adam steps of
batch 256 at lr 5e-3 decayed linearly to 0: about 10 s on one thread of a 2-core CPU that is also busy with
another job. The plain MLP of 3 × 128 units with x fed in raw, at the same budget, blurs the spiral and the
checkerboard into discs and squares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from core.device import randn
from core.diffusion.forward import q_sample
from core.diffusion.parameterization import (
    check_prediction,
    eps_from_score,
    score_from_eps,
    target_from_x0_eps,
    x0_eps_from_output,
)
from core.diffusion.samplers import ddim_loop, ddpm_loop
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError, DiffusionVizError

DATASETS = ("moons", "swiss_roll", "8gaussians", "checkerboard", "spiral", "mixture")
TOY_SAMPLERS = ("ddpm", "ddim", "langevin")
# Every data set, an image's points and drawn points are fitted into [−BOX, BOX]².
BOX = 2.0
MIN_DRAWN_POINTS = 20
# Langevin particles farther out than this have diverged (the data live within |x| ≤ 2·√2).
DIVERGED = 1e3

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Progress = Callable[[int, int, float], bool]


# -- data sets ------------------------------------------------------------------------------------------------


def make_dataset(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points of a named 2-D data set as a float32 tensor ``[n, 2]`` within about [−2, 2]².

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`: ``moons`` (two interleaved half circles), ``swiss_roll`` (one arm of
        r = θ), ``8gaussians`` (eight blobs on a circle), ``checkerboard`` (the dark squares of a 4 × 4
        board), ``spiral`` (two interleaved arms) or ``mixture`` (:func:`default_mixture`).
    n : int
        Number of points.
    generator : torch.Generator, optional
        Source of randomness.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    if name == "moons":
        upper = torch.rand(n, generator=generator) < 0.5
        theta = math.pi * u
        outer = torch.stack([theta.cos(), theta.sin()], 1)
        inner = torch.stack([1.0 - theta.cos(), 0.5 - theta.sin()], 1)
        points = torch.where(upper[:, None], outer, inner) - torch.tensor([0.5, 0.25], dtype=torch.float64)
        points = 1.25 * (points + 0.05 * noise)
    elif name == "swiss_roll":
        theta = 1.5 * math.pi * (1.0 + 2.0 * u)  # r = θ from 1.5π to 4.5π: one and a half turns
        points = torch.stack([theta * theta.cos(), theta * theta.sin()], 1) / 7.5 + 0.04 * noise
    elif name == "8gaussians":
        angles = torch.arange(8, dtype=torch.float64) * math.pi / 4
        means = 1.5 * torch.stack([angles.cos(), angles.sin()], 1)
        return GaussianMixture(means, torch.full((8,), 0.1), torch.ones(8)).sample(n, generator)
    elif name == "checkerboard":
        # The 8 cells (i, j) of a 4 × 4 board with i + j even, uniform inside each, over [−2, 2]².
        cell = torch.randint(0, 8, (n,), generator=generator)
        row = cell // 2
        col = 2 * (cell % 2) + row % 2
        inside = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        points = torch.stack([col, row], 1).double() + inside - 2.0
    elif name == "spiral":
        arm = (torch.rand(n, generator=generator) < 0.5).double() * 2.0 - 1.0
        theta = 3.0 * math.pi * u.sqrt()  # √u spreads the points evenly along the arm's length
        r = 1.9 * theta / (3.0 * math.pi)
        points = arm[:, None] * torch.stack([r * theta.cos(), r * theta.sin()], 1) + 0.04 * noise
    else:
        return default_mixture().sample(n, generator)
    return points.float()


def points_from_image(image: np.ndarray, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample ``n`` points from the ink of an image, as a float32 tensor ``[n, 2]`` fitted to [−2, 2]².

    The ink is the opaque pixels (alpha ≥ 128) of an image with transparency, else the dark pixels
    (luminance < 128). Each point is a uniformly chosen ink pixel, jittered uniformly inside it; y points up.
    The ink's bounding box is centred and scaled, keeping its aspect, to fill [−2, 2]².

    Parameters
    ----------
    image : numpy.ndarray
        uint8 ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]``.
    n : int
        Number of points.
    generator : torch.Generator, optional
        Source of randomness.

    Raises
    ------
    DataError
        If the image has no dark (or opaque) pixel.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None].repeat(3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise DataError(f"expected an RGB or RGBA image, got an array of shape {image.shape}")
    if image.shape[2] == 4 and image[:, :, 3].min() < 255:
        ink = image[:, :, 3] >= 128
    else:
        rgb = image[:, :, :3].astype(np.float32)
        ink = rgb @ np.array([0.299, 0.587, 0.114], np.float32) < 128  # ITU-R BT.601 luma
    rows, cols = np.nonzero(ink)
    if rows.size == 0:
        raise DataError("the image has no dark (or opaque) pixel to take points from; draw in black on white")
    pick = torch.randint(0, rows.size, (n,), generator=generator).numpy()
    jitter = torch.rand(n, 2, generator=generator, dtype=torch.float64).numpy()
    height = image.shape[0]
    # Pixel (row, col) covers x ∈ [col, col+1), y ∈ (H−row−1, H−row] with y pointing up.
    x = cols[pick] + jitter[:, 0]
    y = height - rows[pick] - jitter[:, 1]
    lo = np.array([cols.min(), height - rows.max() - 1], np.float64)
    hi = np.array([cols.max() + 1, height - rows.min()], np.float64)
    return _fit_box(torch.from_numpy(np.stack([x, y], 1)), torch.from_numpy(lo), torch.from_numpy(hi))


def check_drawn_points(points, minimum: int = MIN_DRAWN_POINTS) -> torch.Tensor:
    """The user's drawn points as a float32 tensor ``[n, 2]``, or a :class:`DataError` when they will not do.

    Raises
    ------
    DataError
        If there are fewer than ``minimum`` points, or a point is not finite.
    """
    points = as_points(points) if len(points) else torch.zeros(0, 2)
    if points.shape[0] < minimum:
        raise DataError(f"draw at least {minimum} points to train on (there are {points.shape[0]})")
    if not bool(torch.isfinite(points).all()):
        raise DataError("a drawn point is not a finite number")
    return points


def normalise_points(points) -> torch.Tensor:
    """Centre a point cloud's bounding box and scale it, keeping its aspect, to fill [−2, 2]².

    A cloud with no extent (one spot) is only centred.
    """
    points = as_points(points, torch.float64)
    return _fit_box(points, points.min(0).values, points.max(0).values)


def _fit_box(points: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Map the box [lo, hi] onto [−BOX, BOX]² (one scale for both axes); float32 out."""
    half = float((hi - lo).max()) / 2
    scale = BOX / half if half > 0 else 1.0
    return ((points - (lo + hi) / 2) * scale).float()


def as_points(points, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Any ``[n, 2]`` array-like (a tensor, a read-only frame array, a list) as a fresh CPU tensor of ``dtype``."""
    return _fresh_tensor(points, dtype).reshape(-1, 2)


def _fresh_tensor(values, dtype: torch.dtype) -> torch.Tensor:
    """A CPU tensor copy of a tensor or array-like (never a view of a read-only numpy array)."""
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", dtype, copy=True)
    return torch.from_numpy(np.array(values, dtype=np.float64)).to(dtype)


# -- a Gaussian mixture with an exact score -------------------------------------------------------------------


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
        self.stds = _fresh_tensor(stds, torch.float64).reshape(-1)
        weights = _fresh_tensor(weights, torch.float64).reshape(-1)
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


# -- the model ------------------------------------------------------------------------------------------------


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[N, dim]`` of array indices ``[N]`` (Vaswani et al. 2017, Sec. 3.5; Ho et al. 2020)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def fourier_features(x: torch.Tensor, octaves: int) -> torch.Tensor:
    """[x, sin(2^k x), cos(2^k x)] for k < ``octaves``, per coordinate: ``[N, 2 + 4·octaves]``.

    The positional encoding of NeRF (Mildenhall et al. 2020, Eq. 4) without its π, since the points span
    about 4 units: the highest octave resolves ~0.2, the width of a thin arm. Without it a small MLP learns
    the sharp ε-field near thin data (a spiral, a checkerboard's edges) far more slowly (Tancik et al. 2020).
    """
    if octaves == 0:
        return x
    angles = x[:, :, None] * (2.0 ** torch.arange(octaves, dtype=x.dtype, device=x.device))
    return torch.cat([x, angles.sin().flatten(1), angles.cos().flatten(1)], dim=1)


class ToyMLP(torch.nn.Module):
    """A small residual MLP (x [N, 2], t [N]) → [N, 2] that predicts ε, x_0 or v of 2-D points.

    x enters through :func:`fourier_features`; the array index t through a sinusoidal embedding
    (:func:`timestep_embedding`) that each of the ``layers`` blocks adds, after its own linear map, to
    its input, as the UNet's residual blocks add theirs (Ho et al. 2020, Appendix B). A block is
    h ← h + W·SiLU(h + shift(t)) (pre-activation, He et al. 2016).

    Parameters
    ----------
    prediction : str
        What the output is: ``eps``, ``x0`` or ``v`` (see :mod:`core.diffusion.parameterization`).
    hidden, layers, time_dim, octaves : int
        Width, number of residual blocks, size of the timestep embedding, octaves of x's Fourier features.
    generator : torch.Generator, optional
        Draws the initial weights (PyTorch's default bound ±1/√fan_in), so a seeded run is reproducible.
    """

    def __init__(
        self,
        prediction: str = "eps",
        hidden: int = 128,
        layers: int = 3,
        time_dim: int = 32,
        octaves: int = 6,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.prediction = check_prediction(prediction)
        self.time_dim = time_dim
        self.octaves = octaves
        self.inp = torch.nn.Linear(2 + 4 * octaves, hidden)
        self.time = torch.nn.Linear(time_dim, hidden * layers)
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(hidden, hidden) for _ in range(layers)])
        self.out = torch.nn.Linear(hidden, 2)
        if generator is not None:
            with torch.no_grad():
                for module in self.modules():
                    if isinstance(module, torch.nn.Linear):
                        bound = 1.0 / math.sqrt(module.in_features)
                        for p in (module.weight, module.bias):
                            p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.inp(fourier_features(x, self.octaves))
        shifts = self.time(timestep_embedding(t, self.time_dim)).chunk(len(self.blocks), dim=1)
        for block, shift in zip(self.blocks, shifts, strict=True):
            h = h + block(torch.nn.functional.silu(h + shift))
        return self.out(torch.nn.functional.silu(h))


@dataclass(frozen=True)
class TrainSettings:
    """How the playground trains: the schedule, the network and the optimiser (see the module docstring)."""

    schedule: str = "linear"
    T: int = 200
    steps: int = 4000
    batch_size: int = 256
    lr: float = 5e-3
    hidden: int = 128
    layers: int = 3
    time_dim: int = 32
    octaves: int = 6

    def make_schedule(self) -> NoiseSchedule:
        """The noise schedule the model is trained on and sampled with."""
        return NoiseSchedule.from_name(self.schedule, T=self.T)

    def make_model(self, prediction: str = "eps", generator: torch.Generator | None = None) -> ToyMLP:
        """A freshly initialised :class:`ToyMLP` of these settings."""
        return ToyMLP(prediction, self.hidden, self.layers, self.time_dim, self.octaves, generator)


DEFAULT_TRAIN = TrainSettings()


def train_toy(
    data: torch.Tensor,
    schedule: NoiseSchedule,
    prediction: str = "eps",
    steps: int = DEFAULT_TRAIN.steps,
    batch_size: int = DEFAULT_TRAIN.batch_size,
    lr: float = DEFAULT_TRAIN.lr,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
    *,
    model: ToyMLP | None = None,
) -> tuple[ToyMLP, list[float]]:
    """Fit a :class:`ToyMLP` to a point cloud with the simple loss (Eq. 14, Ho et al. 2020).

    Each step draws a batch of x_0 from ``data`` (with replacement), t uniform over 0..T−1 and ε ~ N(0, I),
    forms x_t by Eq. (4) and regresses the model on the ``prediction`` target. Adam, with the learning rate
    decayed linearly to 0 over ``steps``.

    Parameters
    ----------
    data : torch.Tensor
        ``[n, 2]`` points.
    schedule : NoiseSchedule
        The diffusion the model learns to invert.
    prediction : str
        ``eps``, ``x0`` or ``v``.
    steps, batch_size, lr : int, int, float
        Optimiser steps, points per step, Adam's initial learning rate.
    generator : torch.Generator, optional
        Draws the initial weights, the batches, t and ε.
    progress : callable, optional
        ``progress(step, steps, loss) -> bool``, called after the first step, every 50 steps and after the last; returning False
        stops training and the model as it is is returned.
    model : ToyMLP, optional
        The network to train (its ``prediction`` must match); by default a fresh one of :data:`DEFAULT_TRAIN`'s
        architecture, initialised from ``generator``.

    Returns
    -------
    (ToyMLP, list of float)
        The model in eval mode, and the loss of every step taken.
    """
    data = as_points(data)
    if data.shape[0] < 1:
        raise DataError("there are no points to train on")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, got {steps} and {batch_size}")
    if model is None:
        model = DEFAULT_TRAIN.make_model(prediction, generator)
    elif model.prediction != prediction:
        raise ValueError(f"the model predicts {model.prediction!r}, not {prediction!r}")
    # foreach: one batched update of all parameters; per step 2.1 ms instead of 4.2 ms for a net this small.
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    schedule_lr = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0 - step / steps)
    losses: list[float] = []
    model.train()
    for step in range(1, steps + 1):
        x0 = data[torch.randint(0, data.shape[0], (batch_size,), generator=generator)]
        t = torch.randint(0, schedule.T, (batch_size,), generator=generator)
        eps = torch.randn(x0.shape, generator=generator)
        x_t = q_sample(schedule, x0, t, eps)  # Eq. (4)
        target = target_from_x0_eps(schedule, x0, t, eps, prediction)
        loss = torch.nn.functional.mse_loss(model(x_t, t), target)  # Eq. (14), in the chosen parameterisation
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule_lr.step()
        losses.append(loss.item())
        if (
            progress is not None
            and (step == 1 or step % 50 == 0 or step == steps)
            and progress(step, steps, losses[-1]) is False
        ):
            break
    return model.eval(), losses


# -- sampling -------------------------------------------------------------------------------------------------


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


def _frozen(x: torch.Tensor | None) -> np.ndarray | None:
    if x is None:
        return None
    array = x.detach().to("cpu", torch.float32).numpy().copy()
    array.setflags(write=False)
    return array


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
        yield ToyFrame(step.n, step.num_steps + 1, step.t + 1, _frozen(step.x_t), _frozen(score))
        last = step
    if last is not None:
        yield ToyFrame(last.num_steps, last.num_steps + 1, 0, _frozen(last.x_prev))


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
            yield ToyFrame(frame, total, t + 1, _frozen(x), _frozen(score), level, len(levels))
            frame += 1
            z = randn(x.shape, generator, x.device, x.dtype)
            x = x + (alpha / 2) * score + math.sqrt(alpha) * z  # Alg. 1, Song & Ermon 2019
            if not bool(torch.isfinite(x).all()) or float(x.abs().max()) > DIVERGED:
                raise DiffusionVizError(
                    f"the Langevin step size {step_size:g} diverged at noise level {level} of {len(levels)}; "
                    "try a smaller one"
                )
    t = levels[-1]
    yield ToyFrame(frame, total, t + 1, _frozen(x), level=len(levels), levels=len(levels))
    if denoise:
        with torch.inference_mode():
            out = model_fn(x, torch.full((x.shape[0],), t, dtype=torch.long))
            x0_hat, _ = x0_eps_from_output(schedule, x, t, out, prediction)
        yield ToyFrame(frame + 1, total, 0, _frozen(x0_hat), level=len(levels), levels=len(levels))


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


# -- evaluation and the whole run -----------------------------------------------------------------------------


def sliced_wasserstein(
    a: torch.Tensor, b: torch.Tensor, projections: int = 128, generator: torch.Generator | None = None
) -> float:
    """Sliced 2-Wasserstein distance between two point clouds ``[n, 2]`` and ``[m, 2]``.

    SW₂(a, b)² = E_θ W₂²(⟨θ, a⟩, ⟨θ, b⟩) over directions θ on the circle (Rabin et al. 2011; Bonneel et al.
    2015). The directions are ``projections`` angles evenly spaced over [0, π) with one random offset from
    ``generator`` (a stratified estimate; no generator: offset 0). Each 1-D W₂² is ∫₀¹ |F_a⁻¹(q) − F_b⁻¹(q)|² dq
    by the midpoint rule on max(n, m) quantile levels, which is exact when n = m (sorted projections paired).

    Returns
    -------
    float
        SW₂ in the points' units.
    """
    a, b = as_points(a, torch.float64), as_points(b, torch.float64)
    offset = 0.0 if generator is None else float(torch.rand((), generator=generator, dtype=torch.float64))
    angles = (torch.arange(projections, dtype=torch.float64) + offset) * math.pi / projections
    directions = torch.stack([angles.cos(), angles.sin()], 0)  # [2, P]
    pa = torch.sort(a @ directions, dim=0).values
    pb = torch.sort(b @ directions, dim=0).values
    levels = (torch.arange(max(len(a), len(b)), dtype=torch.float64) + 0.5) / max(len(a), len(b))
    qa = pa[(levels * len(a)).long()]
    qb = pb[(levels * len(b)).long()]
    return float(((qa - qb) ** 2).mean().sqrt())


def playground_run(
    data_name: str,
    sampler: str = "ddpm",
    steps: int | None = None,
    seed: int = 0,
    n: int = 2000,
    *,
    prediction: str = "eps",
    train: TrainSettings = DEFAULT_TRAIN,
    data: torch.Tensor | None = None,
    progress: Progress | None = None,
    step_size: float | None = None,
) -> tuple[list[ToyFrame], float, float]:
    """Train on a data set, sample ``n`` points and measure how close they came.

    Parameters
    ----------
    data_name : str
        One of :data:`DATASETS` (ignored when ``data`` is given, e.g. drawn points or an image's points).
    sampler, steps : str, int
        See :func:`sample_toy`.
    seed : int
        Seeds the training data, the training, the sampler and the distances.
    n : int
        Number of samples, and of points in each reference draw of the data.
    train : TrainSettings
        Schedule, network and optimiser; :data:`DEFAULT_TRAIN` by default.
    progress : callable, optional
        Passed to :func:`train_toy`; returning False stops training early and samples the model as it is.

    Returns
    -------
    (list of ToyFrame, float, float)
        The frames, SW₂ between the samples and a fresh draw of n data points, and SW₂ between two independent
        draws of n data points (the floor a perfect model would reach, about).
    """
    generator = torch.Generator().manual_seed(seed)

    def draw(count: int) -> torch.Tensor:
        if data is None:
            return make_dataset(data_name, count, generator)
        points = as_points(data)
        return points[torch.randint(0, len(points), (count,), generator=generator)]

    schedule = train.make_schedule()
    training_data = draw(max(10 * n, 10_000)) if data is None else as_points(data)
    model, _ = train_toy(
        training_data,
        schedule,
        prediction,
        train.steps,
        train.batch_size,
        train.lr,
        generator,
        progress,
        model=train.make_model(prediction, generator),
    )
    frames = list(sample_toy(model, schedule, sampler, n, steps, generator, prediction, step_size=step_size))
    samples = as_points(frames[-1].points)
    distance = sliced_wasserstein(samples, draw(n), generator=generator)
    data_distance = sliced_wasserstein(draw(n), draw(n), generator=generator)
    return frames, distance, data_distance


# -- pictures -------------------------------------------------------------------------------------------------

POINT_COLOUR = (31, 119, 180)
TRAJECTORY_COLOUR = (214, 39, 40)


def render_points_gif_frames(
    frames: Sequence[ToyFrame],
    size: int = 256,
    lo: float = -2.5,
    hi: float = 2.5,
    trajectories: int = 6,
    max_frames: int | None = 60,
    tail: int | None = None,
) -> list[np.ndarray]:
    """uint8 RGB pictures ``[size, size, 3]`` of a run, for :func:`core.imaging.export.write_gif`.

    The points are 2 × 2 dots on white over [lo, hi]² (y up); the first ``trajectories`` particles draw their
    paths so far, through the drawn frames, as lines (only the last ``tail`` drawn frames of them if given:
    the paths of DDPM and Langevin are random walks that soon fill the picture); each picture is labelled with the paper's t (and the Langevin level). At most
    ``max_frames`` evenly spaced frames are drawn, always with the first and the last.
    """
    if not frames:
        raise DiffusionVizError("there are no frames to draw")
    chosen = list(range(len(frames)))
    if max_frames is not None and len(frames) > max_frames:
        chosen = sorted({round(i) for i in np.linspace(0, len(frames) - 1, max(max_frames, 2))})
    scale = (size - 1) / (hi - lo)

    def pixels(points: np.ndarray) -> np.ndarray:
        # Column from x, row from y with y pointing up.
        return np.stack([(points[:, 0] - lo) * scale, (hi - points[:, 1]) * scale], 1)

    # Paths run through the drawn frames only: every DDPM or Langevin step would be a scribble of noise.
    paths = np.stack([pixels(frames[i].points[:trajectories]) for i in chosen], 1) if trajectories else None
    font = ImageFont.load_default()
    pictures = []
    for shown, i in enumerate(chosen):
        canvas = np.full((size, size, 3), 255, np.uint8)
        xy = pixels(frames[i].points)
        keep = np.isfinite(xy).all(1) & (xy >= 0).all(1) & (xy < size - 1).all(1)
        cols, rows = xy[keep, 0].astype(np.int64), xy[keep, 1].astype(np.int64)
        for dr in (0, 1):
            for dc in (0, 1):
                canvas[rows + dr, cols + dc] = POINT_COLOUR
        image = Image.fromarray(canvas)
        draw = ImageDraw.Draw(image)
        start = 0 if tail is None else max(0, shown - tail)
        if paths is not None and shown > start:
            for path in paths[:, start : shown + 1]:
                draw.line([tuple(p) for p in path.tolist()], fill=TRAJECTORY_COLOUR, width=1)
        label = f"t = {frames[i].t}"
        if frames[i].levels:
            label += f"   level {frames[i].level}/{frames[i].levels}"
        draw.text((4, 2), label, fill=(0, 0, 0), font=font)
        pictures.append(np.asarray(image))
    return pictures


def score_error_on_grid(
    model_fn: ModelFn,
    mixture: GaussianMixture,
    schedule: NoiseSchedule,
    t: int,
    prediction: str = "eps",
    lo: float = -2.5,
    hi: float = 2.5,
    k: int = 48,
) -> np.ndarray:
    """The learned score against the exact one: ‖s_θ − ∇ log q_t‖ / ‖∇ log q_t‖ on a k × k grid (row 0 at ``lo``).

    Where the map is dark the network has learned the field; it is usually worst far from the data, where
    training rarely put an x_t.
    """
    grid, learned = field_on_grid(model_fn, schedule, t, prediction, lo, hi, k)
    exact = mixture.score(torch.from_numpy(grid), t, schedule).to(torch.float32).numpy()
    error = np.linalg.norm(learned - exact, axis=1) / (np.linalg.norm(exact, axis=1) + 1e-8)
    return error.reshape(k, k)
