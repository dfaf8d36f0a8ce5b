"""The playground's network: a small residual MLP on Fourier features of x and a sinusoidal embedding of t."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.diffusion.parameterization import PREDICTIONS
from core.diffusion.schedules import NoiseSchedule
from core.models.unet import timestep_embedding

# What the MLP can predict: the diffusion parameterisations, or flow matching's velocity ε − x_0 (#24).
VELOCITY = "velocity"
TOY_PREDICTIONS = (*PREDICTIONS, VELOCITY)
# A flow-matching model's time s ∈ [0, 1] is embedded as s · 1000, the range the sinusoids are made for
# (Stable Diffusion 3 does the same, Esser et al. 2024).
FLOW_TIME_SCALE = 1000.0


def check_toy_prediction(prediction: str) -> str:
    """``prediction`` if the playground knows it (ε, x_0, v or velocity), else ``ValueError``."""
    if prediction not in TOY_PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; choose one of {', '.join(TOY_PREDICTIONS)}")
    return prediction


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
    """A small residual MLP (x [N, 2], t [N], label [N]) → [N, 2] that predicts ε, x_0, v or a velocity.

    x enters through :func:`fourier_features`; the array index t through a sinusoidal embedding
    (:func:`timestep_embedding`) that each of the ``layers`` blocks adds, after its own linear map, to
    its input, as the UNet's residual blocks add theirs (Ho et al. 2020, Appendix B). A block is
    h ← h + W·SiLU(h + shift(t)) (pre-activation, He et al. 2016). A flow-matching model (``velocity``) takes
    the flow time s ∈ [0, 1] instead of an index and embeds s · :data:`FLOW_TIME_SCALE`.

    A conditional model (``num_classes`` > 0) adds a learned embedding of the class to every shift; the extra
    index ``num_classes`` is the "no label" class that classifier-free guidance trains by dropping labels
    (Ho & Salimans 2021, Sec. 3.2). ``label=None`` asks for it.

    Parameters
    ----------
    prediction : str
        What the output is: ``eps``, ``x0`` or ``v`` (see :mod:`core.diffusion.parameterization`), or
        ``velocity``, flow matching's ε − x_0 along x_s = (1 − s) x_0 + s ε.
    hidden, layers, time_dim, octaves : int
        Width, number of residual blocks, size of the timestep embedding, octaves of x's Fourier features.
    generator : torch.Generator, optional
        Draws the initial weights (PyTorch's default bound ±1/√fan_in), so a seeded run is reproducible.
    num_classes : int
        0 for an unconditional model.
    """

    def __init__(
        self,
        prediction: str = "eps",
        hidden: int = 128,
        layers: int = 3,
        time_dim: int = 32,
        octaves: int = 6,
        generator: torch.Generator | None = None,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        self.prediction = check_toy_prediction(prediction)
        self.num_classes = num_classes
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
        self.label = None
        if num_classes > 0:
            self.label = torch.nn.Embedding(num_classes + 1, hidden * layers)
            if generator is not None:
                with torch.no_grad():
                    self.label.weight.copy_(torch.randn(self.label.weight.shape, generator=generator))

    @property
    def flow(self) -> bool:
        """True for a flow-matching model: t is the flow time s ∈ [0, 1]."""
        return self.prediction == VELOCITY

    def forward(self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(fourier_features(x, self.octaves))
        time = t * FLOW_TIME_SCALE if self.flow else t
        shift = self.time(timestep_embedding(time, self.time_dim))
        if self.label is not None:
            if label is None:
                label = torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)
            shift = shift + self.label(label)
        shifts = shift.chunk(len(self.blocks), dim=1)
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

    def make_model(
        self, prediction: str = "eps", generator: torch.Generator | None = None, num_classes: int = 0
    ) -> ToyMLP:
        """A freshly initialised :class:`ToyMLP` of these settings."""
        return ToyMLP(prediction, self.hidden, self.layers, self.time_dim, self.octaves, generator, num_classes)


DEFAULT_TRAIN = TrainSettings()
