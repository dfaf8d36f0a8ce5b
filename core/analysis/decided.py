"""When is each detail decided? K continuations of one frame with fresh noise, and their spread over t.

Re-running the reverse chain from the x_t of step t with fresh noise shows what x_t has already fixed:
what all K continuations share is decided by then, what differs between them is not. Sclocchi et al.
(PNAS 2025, "A phase transition in diffusion models reveals the hierarchical nature of data") find that
the class and the layout flip sharply at a threshold t while fine details keep changing; Biroli et al.
(2024, "Dynamical regimes of diffusion models") call that moment the speciation time.

Here the spread is the pixel variance across the K continuations (mean over pixels, in the model's
[−1, 1] units), and for a model trained on emoji the class is the nearest training image: the share of
continuations whose nearest training image is the most common one. The flip threshold is the t at
which that share falls through one half (or, with no training set, the normalised spread rises through
one half), linearly interpolated between the t values measured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.analysis.errors import AnalysisError
from core.diffusion.samplers import SamplerConfig, final_step
from core.diffusion.schedulers import sample_loop
from core.diffusion.schedules import paper_t_from_index
from core.imaging.scaling import tensor_to_images
from core.models.checkpoint import LoadedModel
from core.training.evaluate import nearest_training

MAX_K = 64  # a batch of more than this is minutes on a CPU and says nothing 64 would not
DEFAULT_K = 8
# Continuations need fresh noise at every step: stochastic DDIM (η = 1) is DDPM's distribution in 50 steps.
DECIDED_CONFIG = SamplerConfig("ddim", steps=50, eta=1.0)
FLIP_LEVEL = 0.5


def check_k(k: int) -> int:
    """K as an int in 1 … MAX_K, or one line saying why not."""
    if int(k) != k or not 1 <= k <= MAX_K:
        raise AnalysisError(f"K (the number of continuations) must lie in 1 … {MAX_K}, got {k}")
    return int(k)


def check_frame_index(index: int) -> None:
    """A frame at t = 0 (the final sample) has nothing left to continue."""
    if index < 0:
        raise AnalysisError("t = 0 is the final sample: nothing is left to decide there; pick a frame with t ≥ 1")


def continuations(
    model: LoadedModel,
    x_t: torch.Tensor,
    index: int,
    k: int = DEFAULT_K,
    *,
    config: SamplerConfig = DECIDED_CONFIG,
    seed: int = 0,
) -> torch.Tensor:
    """K runs of the reverse chain from the same ``x_t`` at array index ``index``, as one batch.

    Each copy draws its own noise at every step (one generator, seeded, for the batch). Returns the K
    final samples [K, C, H, W] in [−1, 1] on the CPU. From the last noisy frame (index 0) DDPM and DDIM
    add no noise, so the K copies come out identical.
    """
    k = check_k(k)
    check_frame_index(index)
    if config.sampler == "ddim" and config.eta == 0:
        raise AnalysisError("deterministic DDIM (η = 0) continues every copy the same way: use DDPM or η > 0")
    x = x_t.reshape(1, *x_t.shape[-3:]).to(model.device, torch.float32).expand(k, -1, -1, -1).contiguous()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    last = final_step(
        sample_loop(model, model.schedule, config, x, t_start=index, prediction=model.prediction, generator=gen)
    )
    return last.x_prev.clamp(-1, 1).float().cpu()


def spread(samples: torch.Tensor) -> float:
    """Pixel variance across the continuations [K, C, H, W], averaged over the pixels (0 for K = 1)."""
    if samples.shape[0] < 2:
        return 0.0
    return float(samples.double().var(dim=0, unbiased=True).mean())


def nearest_agreement(samples: torch.Tensor, train: np.ndarray) -> tuple[float, np.ndarray]:
    """(share of continuations whose nearest training image is the most common one, their nearest indices)."""
    idx, _ = nearest_training(tensor_to_images(samples), train)
    counts = np.bincount(idx)
    return float(counts.max() / len(idx)), idx


@dataclass(frozen=True)
class DecidedPoint:
    """The K continuations from one frame: its paper t, their spread, and the nearest-image agreement."""

    paper_t: int
    spread: float
    agreement: float | None  # None without a training set
    samples: torch.Tensor  # [K, C, H, W]


def decided_point(
    model: LoadedModel,
    x_t: torch.Tensor,
    index: int,
    k: int = DEFAULT_K,
    *,
    config: SamplerConfig = DECIDED_CONFIG,
    seed: int = 0,
    train: np.ndarray | None = None,
) -> DecidedPoint:
    """Continue one frame K times and measure what stayed (see :func:`continuations`)."""
    samples = continuations(model, x_t, index, k, config=config, seed=seed)
    agreement = None if train is None else nearest_agreement(samples, train)[0]
    return DecidedPoint(paper_t_from_index(index), spread(samples), agreement, samples)


def decided_curve(
    model: LoadedModel,
    frames: Sequence[tuple[int, torch.Tensor]],
    k: int = DEFAULT_K,
    *,
    config: SamplerConfig = DECIDED_CONFIG,
    seed: int = 0,
    train: np.ndarray | None = None,
) -> Iterator[DecidedPoint]:
    """:func:`decided_point` for each (index, x_t) of a row of frames of one run, one batched run each.

    A generator, so whoever drives it shows progress and stops between frames.
    """
    check_k(k)
    for index, x_t in frames:
        yield decided_point(model, x_t, index, k, config=config, seed=seed, train=train)


def row_of_indices(T: int, count: int = 10, top: int | None = None) -> list[int]:
    """``count`` array indices evenly spread over the paper's t = T/count … ``top`` (default T), descending."""
    top = T if top is None else int(top)
    ts = np.unique(np.round(np.linspace(top / count, top, count)).astype(int))
    return [int(t) - 1 for t in ts[::-1] if t >= 1]


def flip_threshold(points: Sequence[DecidedPoint]) -> tuple[float | None, str]:
    """The paper's t at which the class flips, and what it was read from ("nearest image" or "spread").

    With a training set: where the nearest-image agreement falls through one half as t grows. Without:
    where the spread, divided by its largest value, rises through one half. None if it never crosses.
    """
    pts = sorted(points, key=lambda p: p.paper_t)
    if not pts:
        return None, "none"
    ts = np.array([p.paper_t for p in pts], dtype=np.float64)
    if all(p.agreement is not None for p in pts):
        values, basis = 1.0 - np.array([p.agreement for p in pts]), "nearest image"
    else:
        s = np.array([p.spread for p in pts])
        values, basis = s / s.max() if s.max() > 0 else s, "spread"
    return crossing(ts, values, FLIP_LEVEL), basis


def crossing(ts: np.ndarray, values: np.ndarray, level: float) -> float | None:
    """The first t at which ``values`` (over ascending ``ts``) reaches ``level``, linearly interpolated."""
    above = np.nonzero(values >= level)[0]
    if len(above) == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(ts[0])
    v0, v1 = values[k - 1], values[k]
    w = (level - v0) / (v1 - v0) if v1 != v0 else 0.0
    return float(ts[k - 1] + w * (ts[k] - ts[k - 1]))


def training_images(model: LoadedModel, load: Callable[[str, int], np.ndarray] | None = None) -> np.ndarray | None:
    """The emoji a model was trained on (its kept split), or None when the model was not trained on emoji."""
    from core.training.data import load_dataset, split_holdout

    provenance = model.config.get("provenance", {}) if model.config else {}
    if "emoji" not in str(provenance.get("data", "")).lower():
        return None
    images = (load or load_dataset)("emoji", model.image_size)
    train, _ = split_holdout(
        len(images), float(provenance.get("holdout_fraction", 0.1)), seed=int(provenance.get("holdout_seed", 0))
    )
    return images[train]
