"""The forward (noising) process q of Ho et al. 2020."""

from __future__ import annotations

import numpy as np
import torch

from core.diffusion.schedules import NoiseSchedule, extract


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
    """Sample x_t ~ q(x_t | x_0) in closed form.

    Eq. (4), Ho et al. 2020: x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε. ``t`` is an array index
    (see :mod:`core.diffusion.schedules`), an int or one index per batch element.
    """
    return (
        extract(schedule.sqrt_alphas_cumprod, t, x0) * x0
        + extract(schedule.sqrt_one_minus_alphas_cumprod, t, x0) * noise
    )


def q_step(schedule: NoiseSchedule, x_prev: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
    """One step of the chain, x_t ~ q(x_t | x_{t−1}).

    Eq. (2), Ho et al. 2020: x_t = √(1 − β_t) · x_{t−1} + √β_t · ε. ``x_prev`` is the sample
    before array index ``t`` (the clean image when t = 0).
    """
    return extract(schedule.sqrt_alphas, t, x_prev) * x_prev + extract(schedule.sqrt_betas, t, x_prev) * noise


def q_mean_variance(schedule: NoiseSchedule, x0: torch.Tensor, t) -> tuple[torch.Tensor, float | torch.Tensor]:
    """Mean and variance of q(x_t | x_0) (Eq. 4)."""
    mean = extract(schedule.sqrt_alphas_cumprod, t, x0) * x0
    variance = 1.0 - extract(schedule.alphas_cumprod, t, x0)
    return mean, variance


def forward_noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """The forward panel's ε for a seed: float32 N(0, I). The window and its exports draw it here only,
    so an exported scrub shows the pixels the screen showed."""
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


class ForwardPictures:
    """x_t of Eq. (4) as a uint8 picture, for one image and one ε, at any t, with no allocation.

    Scrubbing calls :meth:`at` for every slider move. The arithmetic is folded into display units
    (127.5·x_0 and 127.5·ε are kept), so each call is one multiply, one add, one round and one cast,
    done by torch on all cores into buffers that are reused. Gives the same pixels as
    ``float_to_uint8(q_sample(...))`` up to float rounding.
    """

    def __init__(self, x0: np.ndarray, noise: np.ndarray) -> None:
        """``x0``: uint8 HWC; ``noise``: float32 of the same shape."""
        if x0.shape != noise.shape:
            raise ValueError(f"x0 {x0.shape} and noise {noise.shape} differ in shape")
        # torch.tensor copies, so read-only inputs (a decoded image) are fine.
        self._x0 = torch.tensor(x0, dtype=torch.float32).sub_(127.5)
        self._noise = torch.tensor(noise, dtype=torch.float32).mul_(127.5)
        self._scratch = torch.empty_like(self._x0)
        self._out = torch.empty(x0.shape, dtype=torch.uint8)

    def at(self, schedule: NoiseSchedule, t: int) -> np.ndarray:
        """The picture at array index ``t`` (−1 is x_0). The array is overwritten by the next call."""
        a = 1.0 if t < 0 else float(schedule.sqrt_alphas_cumprod[t])
        b = 0.0 if t < 0 else float(schedule.sqrt_one_minus_alphas_cumprod[t])
        s = torch.mul(self._x0, a, out=self._scratch)
        s.add_(self._noise, alpha=b).add_(128.0).clamp_(0.0, 255.0)  # +127.5 to shift, +0.5 to round
        self._out.copy_(s)
        return self._out.numpy()


class IterativeChain:
    """x_t built by iterating q(x_t | x_{t−1}) (Eq. 2, :func:`q_step`) from x_0, with fresh noise at every step.

    The noise of step t is fixed by ``(seed, t)``, so the chain is a deterministic function of t
    and scrubbing back and forth shows the same images. States are cached every ``every`` steps,
    so a jump costs at most ``every`` steps after the first visit.
    """

    def __init__(self, schedule: NoiseSchedule, x0: np.ndarray, seed: int, every: int = 25) -> None:
        self.schedule, self.seed, self.every = schedule, seed, every
        self._x0 = torch.from_numpy(np.asarray(x0, dtype=np.float32).copy())
        self._cache: dict[int, torch.Tensor] = {-1: self._x0}

    def noise(self, t: int) -> torch.Tensor:
        # torch's generator draws a 512² picture's noise about 4× faster than numpy's, which matters at the
        # closed form's own size; seeded by (seed, t), so step t's noise never depends on the path taken.
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + t)
        return torch.randn(tuple(self._x0.shape), generator=gen)

    def at(self, t: int) -> np.ndarray:
        """x at array index t (−1 is x_0)."""
        start = max(k for k in self._cache if k <= t)
        x = self._cache[start]
        for step in range(start + 1, t + 1):
            x = q_step(self.schedule, x, step, self.noise(step))
            if step % self.every == 0:
                self._cache[step] = x
        return x.numpy()
