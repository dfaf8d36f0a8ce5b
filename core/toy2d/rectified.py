"""Rectified flow's reflow (Liu et al. 2023, Sec. 2.3): retrain a flow on its own (noise, sample) pairs."""

from __future__ import annotations

import copy

import numpy as np
import torch

from core.errors import DiffusionVizError
from core.toy2d.metrics import chord_ratio, sliced_wasserstein, straightness
from core.toy2d.model import ToyMLP
from core.toy2d.sampling import flow_ode, flow_times
from core.toy2d.training import Progress, train_toy

# The pairs are drawn with this many Euler steps: enough that the 1-rectified flow's own error is small.
PAIR_STEPS = 100


def flow_pairs(model: ToyMLP, n: int, generator: torch.Generator | None, steps: int = PAIR_STEPS):
    """n pairs (x_0, ε): ε ~ N(0, I) and x_0 the model's ODE run from it, the coupling reflow trains on."""
    noise = torch.randn(n, 2, generator=generator)
    *_, last = flow_ode(model, noise, steps)
    return torch.from_numpy(np.array(last.points)), noise


def reflow(
    model: ToyMLP,
    n: int = 10_000,
    steps: int = 4000,
    batch_size: int = 256,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
) -> ToyMLP:
    """One reflow round: a copy of ``model`` trained on ``n`` of its own (ε, ODE(ε)) pairs.

    Liu et al. 2023, Alg. 1: Z^{k+1} = RectFlow((Z_0^k, Z_1^k)). The coupling is already deterministic, so
    the new flow's paths cross less and are straighter, and a few Euler steps land closer to the data. The
    copy starts from the old weights, as Liu et al. fine-tune the 1-rectified flow into the 2-rectified one.
    """
    if model is None or not isinstance(model, ToyMLP) or not model.flow:
        raise DiffusionVizError("reflow needs a trained flow-matching model: Predicts → velocity, then Train")
    x0, noise = flow_pairs(model, n, generator)
    student = copy.deepcopy(model)
    trained, _ = train_toy(x0, None, "velocity", steps, batch_size, lr, generator, progress, model=student, noise=noise)
    return trained


def flow_report(model, noise: torch.Tensor, reference: torch.Tensor, few: int = 2, many: int = 50) -> dict:
    """Straightness (Liu et al.'s S, mean over particles), chord/arc ratio and SW₂ at ``few`` and ``many`` steps."""
    frames = list(flow_ode(model, noise, many))
    paths = np.stack([f.points for f in frames], 1)
    *_, last_few = flow_ode(model, noise, few)
    return {
        "straightness": float(straightness(paths, flow_times(many)).mean()),
        "chord_ratio": float(chord_ratio(paths).mean()),
        f"sw_{few}": sliced_wasserstein(last_few.points, reference),
        f"sw_{many}": sliced_wasserstein(frames[-1].points, reference),
    }
