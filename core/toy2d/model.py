"""The playground's network: a small residual MLP on Fourier features of x and a sinusoidal embedding of t."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.diffusion.parameterization import check_prediction
from core.diffusion.schedules import NoiseSchedule
from core.models.unet import timestep_embedding


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
