"""What has the network learned? Its x̂_0 beside the closed-form denoisers of its own training set.

r² (Kamb & Ganguli 2025): for one image, r² = 1 − Σ_pixels (y − ŷ)² / Σ_pixels (y − ȳ)², y the network's
output, ŷ a theory's, ȳ the mean of y over the image's pixels. 1: the theory predicts the network pixel
for pixel; 0: no better than a flat image of the right mean; < 0: worse than that.

The closed-form denoisers: the ideal one (memorises, :mod:`core.models.ideal`), the Gaussian of the
data (linear, :mod:`core.models.gaussian`) and the ELS machine (local patches from anywhere,
:mod:`core.models.els`). :func:`calibrate_patch_sizes` fits the ELS machine's P(t) by maximising r²
against the network on noised training images, as the paper does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.diffusion.forward import q_sample
from core.diffusion.parameterization import x0_eps_from_output
from core.diffusion.samplers import ddim_loop, final_step
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError
from core.imaging.scaling import images_to_tensor
from core.models.checkpoint import LoadedModel
from core.models.els import LocalScoreMachine, PatchSchedule, check_training_set, load_patch_schedule
from core.models.gaussian import (
    FULL_COVARIANCE_MAX_DIM,
    FullGaussianDenoiser,
    GaussianDenoiser,
    StationaryGaussianDenoiser,
    ddim_teleported,
    fit_spectrum,
)
from core.models.ideal import IdealDenoiser

THEORIES = ("ideal", "gaussian", "els")
CALIBRATION_SIZES = (3, 5, 7, 9, 11, 13, 15, 19, 23)


def r_squared(network: torch.Tensor, theory: torch.Tensor) -> np.ndarray:
    """r² per image [B] of ``theory`` against ``network`` (both [B, …]), over pixels."""
    y = network.reshape(network.shape[0], -1).double()
    y_hat = theory.reshape(theory.shape[0], -1).double().to(y.device)
    residual = ((y - y_hat) ** 2).sum(dim=1)
    spread = ((y - y.mean(dim=1, keepdim=True)) ** 2).sum(dim=1).clamp(min=1e-12)
    return (1.0 - residual / spread).cpu().numpy()


@dataclass
class Theories:
    """The closed-form denoisers of one training set, at the network's size and schedule."""

    ideal: IdealDenoiser
    gaussian: GaussianDenoiser
    els: LocalScoreMachine
    calibrated: bool = False
    notes: list[str] = field(default_factory=list)

    def x0_hats(self, x_t: torch.Tensor, index: int) -> dict[str, torch.Tensor]:
        """Every theory's x̂_0 from one x_t [B, C, H, W], and the ELS source map under "els_source"."""
        with torch.inference_mode():
            els, sources = self.els.x0_hat_with_sources(x_t, index)
            return {
                "ideal": self.ideal.x0_hat(x_t, index),
                "gaussian": self.gaussian.x0_hat(x_t, index),
                "els": els,
                "els_source": sources,
            }


def build_theories(
    model: LoadedModel,
    images: np.ndarray,
    patch_sizes: PatchSchedule | None = None,
    *,
    max_cost: float | None = None,
) -> Theories:
    """Ideal, Gaussian (full covariance where 3·size² ≤ 4096, else stationary) and ELS over ``images``.

    They work at the images' size (uint8 [N, S, S, 3]), which may differ from the model's own when the
    model is fully convolutional; the P(t) table is the model's either way (a patch size is a property
    of the network's receptive field, not of the picture's size).
    """
    schedule = model.schedule
    size = int(images.shape[1])
    calibrated = patch_sizes is not None
    if patch_sizes is None:
        patch_sizes, calibrated = load_patch_schedule(model.path, model.name, schedule, size)
    for p in set(patch_sizes.sizes):
        check_training_set(len(images), size, p)
    tensor = images_to_tensor(images)
    if 3 * size * size <= FULL_COVARIANCE_MAX_DIM:
        gaussian: GaussianDenoiser = FullGaussianDenoiser.fit(tensor, schedule)
    else:
        gaussian = StationaryGaussianDenoiser(fit_spectrum(images), size, schedule)
    kwargs = {} if max_cost is None else {"max_cost": max_cost}
    els = LocalScoreMachine(tensor, schedule, patch_sizes, **kwargs)
    notes = [] if calibrated else [f"{model.name} has no P(t) calibration; the ELS machine uses the default table"]
    return Theories(IdealDenoiser(tensor, schedule), gaussian, els, calibrated, notes)


def network_x0(model: LoadedModel, x_t: torch.Tensor, index: int) -> torch.Tensor:
    """The network's x̂_0 (unclipped) from x_t at array index ``index``."""
    with torch.inference_mode():
        t = torch.full((x_t.shape[0],), index, dtype=torch.long, device=model.device)
        out = model(x_t.to(model.device), t)
        return x0_eps_from_output(model.schedule, x_t.to(model.device), t, out, model.prediction)[0].cpu()


@dataclass(frozen=True)
class R2Row:
    index: int
    alphas_cumprod: float
    r2: dict[str, float]  # theory → median over images


def r2_over_run(
    model: LoadedModel,
    theories: Theories,
    frames: Iterable[tuple[torch.Tensor, int]],
    x0_net: Sequence[torch.Tensor] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[R2Row]:
    """r²(t) of each theory against the network, one row per frame (x_t [B, C, H, W], array index)."""
    rows = []
    for k, (x_t, index) in enumerate(frames):
        net = x0_net[k] if x0_net is not None else network_x0(model, x_t, index)
        hats = theories.x0_hats(x_t.float(), index)
        r2 = {name: float(np.median(r_squared(net, hats[name]))) for name in THEORIES}
        rows.append(R2Row(index, float(model.schedule.alphas_cumprod[index]), r2))
        if progress:
            progress(1)
    return rows


def ddim_run_frames(
    model: LoadedModel, x_T: torch.Tensor, num_steps: int
) -> tuple[list[tuple[torch.Tensor, int]], list[torch.Tensor], torch.Tensor]:
    """The network's deterministic DDIM run from x_T: its frames (x_t, index), x̂_0s and final sample."""
    frames, x0s, last = [], [], None
    for step in ddim_loop(
        model, model.schedule, x_T.to(model.device), num_steps=num_steps, prediction=model.prediction
    ):
        frames.append((step.x_t.cpu(), step.t))
        x0s.append(network_x0(model, step.x_t, step.t))
        last = step
    return frames, x0s, last.x_prev.cpu()


def final_sample_r2(
    model: LoadedModel,
    machine: torch.nn.Module,
    x_T: torch.Tensor,
    num_steps: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """(r² per sample, network finals, machine finals) of deterministic DDIM from the same x_T (the paper's measure)."""
    net = final_step(
        ddim_loop(model, model.schedule, x_T.to(model.device), num_steps=num_steps, prediction=model.prediction)
    ).x_prev.cpu()
    x = x_T.float().cpu()
    for step in ddim_loop(machine, model.schedule, x, num_steps=num_steps, prediction="eps"):
        x = step.x_prev
        if progress:
            progress(1)
    return r_squared(net, x), net, x


@dataclass(frozen=True)
class TeleportResult:
    """DDIM from one x_T with and without its first steps teleported by the Gaussian's closed form."""

    teleported: torch.Tensor  # final samples [B, C, H, W]
    untouched: torch.Tensor
    skipped_steps: int
    num_steps: int
    rms: np.ndarray  # RMS distance per sample, 0–255 units


def teleport_comparison(
    model: LoadedModel, gaussian: GaussianDenoiser, x_T: torch.Tensor, num_steps: int = 50, fraction: float = 0.25
) -> TeleportResult:
    """The network's deterministic DDIM-``num_steps`` from x_T beside the same run teleported over ``fraction``.

    The Gaussian's exact probability flow replaces the first ``round(fraction · num_steps)`` steps
    (:func:`core.models.gaussian.ddim_teleported`; Wang & Vastola 2023); both runs end at x_0.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"the teleported share of the run must lie in [0, 1), got {fraction}")
    skipped = int(round(fraction * num_steps))
    if skipped >= num_steps:
        raise DataError(f"teleporting {skipped} of {num_steps} steps leaves the network none")
    x_T = x_T.to(model.device)
    with torch.inference_mode():
        untouched = final_step(
            ddim_loop(model, model.schedule, x_T, num_steps=num_steps, prediction=model.prediction)
        ).x_prev.cpu()
        teleported = ddim_teleported(
            model, gaussian, x_T, num_steps=num_steps, teleport_fraction=fraction, prediction=model.prediction
        ).cpu()
    diff = (teleported.double() - untouched.double()).reshape(len(x_T), -1)
    rms = diff.pow(2).mean(dim=1).sqrt().numpy() * 127.5
    return TeleportResult(teleported, untouched, skipped, num_steps, rms)


def calibrate_patch_sizes(
    model: LoadedModel,
    images: np.ndarray,
    *,
    indices: Sequence[int] | None = None,
    candidates: Sequence[int] = CALIBRATION_SIZES,
    n: int = 4,
    generator: torch.Generator | None = None,
    max_cost: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> PatchSchedule:
    """P(t) maximising the median r² of the ELS x̂_0 against the network's on ``n`` noised training images.

    The images are drawn from ``images`` with ``generator``; each index gets its own fresh noise.
    """
    schedule: NoiseSchedule = model.schedule
    size = model.image_size
    if any(p < 1 or p % 2 == 0 for p in candidates):
        raise DataError(f"patch sizes must be odd and positive, got {', '.join(map(str, candidates))}")
    candidates = [p for p in candidates if p <= 2 * size - 1]
    if not candidates:
        raise DataError(f"no candidate patch size fits {size}² images")
    indices = list(indices) if indices is not None else [int(i) for i in np.linspace(0, schedule.T - 1, 10).round()]
    generator = generator or torch.Generator().manual_seed(0)
    tensor = images_to_tensor(images)
    pick = torch.randperm(len(tensor), generator=generator)[:n]
    x0 = tensor[pick]
    kwargs = {} if max_cost is None else {"max_cost": max_cost}
    machines = {p: LocalScoreMachine(tensor, schedule, p, **kwargs) for p in candidates}
    sizes, scores = [], []
    for index in indices:
        noise = torch.randn(x0.shape, generator=generator)
        x_t = q_sample(schedule, x0, torch.full((len(x0),), index), noise)
        net = network_x0(model, x_t, index)
        best = max(
            ((float(np.median(r_squared(net, machines[p].x0_hat(x_t, index)))), p) for p in candidates),
            key=lambda sp: sp[0],
        )
        scores.append(best[0])
        sizes.append(best[1])
        if progress:
            progress(1)
    return PatchSchedule(tuple(indices), tuple(sizes), model.name, schedule.to_config(), tuple(scores))
