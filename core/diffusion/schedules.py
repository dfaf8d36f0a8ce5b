"""Noise schedules and the one timestep convention of this project.

Timestep convention
-------------------
Every array in a :class:`NoiseSchedule` has length ``T`` and is indexed by
``index = 0 .. T-1``, as in diffusers and improved-diffusion. **Array index i is the
paper's step t = i+1**: ``betas[0]`` is the paper's β_1 and ``alphas_cumprod[T-1]`` is
the paper's ᾱ_T. Index −1 stands for the clean image x_0 (paper t = 0, ᾱ = 1); the one
place that knows this is :meth:`NoiseSchedule.abar` (diffusers' ``final_alpha_cumprod``).

Code calls array positions ``index`` and the paper's t ``paper_t``. The window shows the
paper's ``t = 0 .. T``; the only place that converts between the two is
:func:`index_from_paper_t` / :func:`paper_t_from_index`.

All tables are computed once, in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from core.choices import SCHEDULE_NAMES  # noqa: F401 - defined torch-free, read from here too


def index_from_paper_t(paper_t: int) -> int:
    """Array index of the paper's step ``paper_t`` (1..T); the clean image (0) maps to -1."""
    return int(paper_t) - 1


def paper_t_from_index(index: int) -> int:
    """The paper's step for array index ``index`` (-1 is the clean image, paper t = 0)."""
    return int(index) + 1


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """Precomputed float64 tables of a discrete-time Gaussian diffusion.

    Build one with :meth:`linear`, :meth:`cosine`, :meth:`sigmoid` or
    :meth:`from_betas`; the derived tables are filled in ``__post_init__``.
    """

    betas: torch.Tensor
    name: str = "custom"
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        betas = torch.as_tensor(self.betas, dtype=torch.float64).detach().cpu().clone()
        if betas.ndim != 1 or betas.numel() < 1:
            raise ValueError("betas must be a non-empty 1-D sequence")
        if not bool(((betas > 0) & (betas <= 1)).all()):
            raise ValueError("every beta must lie in (0, 1]")
        set_ = object.__setattr__
        set_(self, "betas", betas)
        alphas = 1.0 - betas
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        set_(self, "alphas", alphas)
        set_(self, "alphas_cumprod", alphas_cumprod)
        set_(self, "alphas_cumprod_prev", alphas_cumprod_prev)
        set_(self, "sqrt_alphas", alphas.sqrt())
        set_(self, "sqrt_betas", betas.sqrt())
        set_(self, "sqrt_alphas_cumprod", alphas_cumprod.sqrt())
        set_(self, "sqrt_one_minus_alphas_cumprod", (1.0 - alphas_cumprod).sqrt())
        set_(self, "sqrt_recip_alphas_cumprod", alphas_cumprod.rsqrt())
        set_(self, "sqrt_recipm1_alphas_cumprod", (1.0 / alphas_cumprod - 1.0).sqrt())
        # Eq. (7), Ho et al. 2020: β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t; β̃ at index 0 is 0.
        posterior_variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
        set_(self, "posterior_variance", posterior_variance)
        # log β̃ is −inf at index 0; like improved-diffusion, clip it to the value at index 1.
        first = posterior_variance[1:2] if len(betas) > 1 else betas[:1]
        set_(
            self,
            "posterior_log_variance_clipped",
            torch.log(torch.cat([first, posterior_variance[1:]])),
        )
        # Eq. (7): μ̃_t(x_t, x_0) = coef1 · x_0 + coef2 · x_t.
        set_(self, "posterior_mean_coef1", betas * alphas_cumprod_prev.sqrt() / (1.0 - alphas_cumprod))
        set_(
            self,
            "posterior_mean_coef2",
            (1.0 - alphas_cumprod_prev) * alphas.sqrt() / (1.0 - alphas_cumprod),
        )
        snr = alphas_cumprod / (1.0 - alphas_cumprod)
        set_(self, "snr", snr)
        set_(self, "log_snr", torch.log(snr))

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float | None = None, beta_end: float | None = None) -> NoiseSchedule:
        """DDPM's linear schedule (Ho et al. 2020, Sec. 4): β from ``beta_start`` to ``beta_end``.

        The defaults are DDPM's 1e-4 … 0.02 at T = 1000, scaled by 1000/T for other T as in
        improved-diffusion (Nichol & Dhariwal 2021), so x_T stays close to pure noise for any T
        (unscaled, ᾱ_T would be 0.36 at T = 100). β is capped at 0.999 for very small T.
        """
        _check_T(T)
        scale = 1000 / T
        beta_start = min(1e-4 * scale, 0.999) if beta_start is None else beta_start
        beta_end = min(0.02 * scale, 0.999) if beta_end is None else beta_end
        betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
        return cls(betas, "linear", {"T": T, "beta_start": beta_start, "beta_end": beta_end})

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """Improved DDPM's cosine schedule (Nichol & Dhariwal 2021, Eq. 17), β clipped at 0.999."""
        _check_T(T)

        def f(t: float) -> float:
            return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

        # Index i is the paper's step i+1: β_{i+1} = 1 − ᾱ(i+1)/ᾱ(i), with ᾱ(t) = f(t)/f(0).
        betas = [min(1.0 - f(i + 1) / f(i), max_beta) for i in range(T)]
        return cls(torch.tensor(betas, dtype=torch.float64), "cosine", {"T": T, "s": s})

    @classmethod
    def sigmoid(
        cls, T: int = 1000, start: float = -3.0, end: float = 3.0, tau: float = 1.0, max_beta: float = 0.999
    ) -> NoiseSchedule:
        """Sigmoid schedule of Chen 2023 ("On the importance of noise scheduling", Alg. 1)."""
        _check_T(T)

        def sig(x: float) -> float:
            return 1.0 / (1.0 + math.exp(-x))

        v_start, v_end = sig(start / tau), sig(end / tau)

        def abar(t: float) -> float:
            return (v_end - sig(((t / T) * (end - start) + start) / tau)) / (v_end - v_start)

        betas = [min(1.0 - abar(i + 1) / abar(i), max_beta) for i in range(T)]
        return cls(
            torch.tensor(betas, dtype=torch.float64),
            "sigmoid",
            {"T": T, "start": start, "end": end, "tau": tau},
        )

    @classmethod
    def from_betas(cls, betas) -> NoiseSchedule:
        """A schedule from an explicit sequence of β (array index t = paper step t+1)."""
        return cls(torch.as_tensor(betas, dtype=torch.float64), "custom", {})

    @classmethod
    def from_name(cls, name: str, T: int = 1000) -> NoiseSchedule:
        """``linear``, ``cosine`` or ``sigmoid`` with their papers' defaults."""
        if name not in SCHEDULE_NAMES:
            raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULE_NAMES)}")
        return getattr(cls, name)(T=T)

    # -- serialisation -------------------------------------------------------------------------

    def to_config(self) -> dict:
        """A JSON-able description; a custom schedule stores its betas."""
        if self.name == "custom":
            return {"name": "custom", "betas": self.betas.tolist()}
        return {"name": self.name, **self.params}

    @classmethod
    def from_config(cls, config: dict) -> NoiseSchedule:
        """Inverse of :meth:`to_config`."""
        config = dict(config)
        name = config.pop("name", None)
        if name == "custom":
            return cls.from_betas(config["betas"])
        if name not in SCHEDULE_NAMES:
            raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULE_NAMES)}")
        return getattr(cls, name)(**config)

    # -- helpers -------------------------------------------------------------------------------

    def abar(self, index: int) -> float:
        """ᾱ at array index ``index``; index −1 is the clean image x_0, where ᾱ = 1.

        The one owner of "ᾱ at the clean end" (diffusers' ``final_alpha_cumprod``): DDIM's step to
        x_0, inversion's first step and the forward panel's t = 0 all read it here.
        """
        index = int(index)
        if index == -1:
            return 1.0
        if not 0 <= index < self.T:
            raise IndexError(f"array index must lie in -1..{self.T - 1}, got {index}")
        return float(self.alphas_cumprod[index])

    @property
    def T(self) -> int:
        return int(self.betas.numel())

    def __len__(self) -> int:
        return self.T

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"NoiseSchedule.{self.name}({extra})"


def _check_T(T: int) -> None:
    if int(T) != T or T < 2:
        raise ValueError(f"T must be an integer ≥ 2, got {T!r}")


def matching_index(source: NoiseSchedule, index: int, target: NoiseSchedule) -> int:
    """The index of ``target`` whose ᾱ is closest to ``source``'s ᾱ at ``index`` (−1 stays −1).

    Two schedules agree on how noisy an image is when their ᾱ (equivalently, their SNR) agree;
    this maps the forward panel's t onto a model's own schedule. Identity for equal schedules.
    """
    if index < 0:
        return -1
    return int(torch.argmin((target.alphas_cumprod - source.abar(index)).abs()))


def extract(table: torch.Tensor, t, x: torch.Tensor) -> torch.Tensor | float:
    """Coefficient ``table[t]`` shaped to broadcast against ``x``, in x's dtype and device.

    ``t`` is an int (one step for the whole batch; returned as a Python float, which keeps
    float64 precision and costs nothing on a GPU) or a 1-D tensor of per-sample indices.
    """
    if isinstance(t, int) or (isinstance(t, torch.Tensor) and t.ndim == 0):
        return float(table[int(t)])
    values = table.to(x.device)[t.to(x.device).long()].to(x.dtype)
    return values.reshape(-1, *([1] * (x.ndim - 1)))
