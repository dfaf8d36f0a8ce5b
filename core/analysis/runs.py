"""One run's worth of analysis, shared by ``diffusion-viz analyse`` and the window's worker thread."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from core.analysis.decided import DECIDED_CONFIG, row_of_indices
from core.analysis.exposure import DataStats, data_statistics
from core.analysis.spectrum import RadialSpectrum, Spectrum, cutoff_frequency, fit_power_law
from core.diffusion.forward import q_sample
from core.diffusion.parameterization import x0_eps_from_output
from core.diffusion.samplers import SamplerConfig
from core.diffusion.schedulers import sample_loop
from core.errors import DiffusionVizError
from core.imaging.scaling import images_to_tensor
from core.models.checkpoint import LoadedModel


def start_of_run(
    model: LoadedModel, x0: torch.Tensor | None, index: int | None, n: int, generator: torch.Generator
) -> torch.Tensor:
    """n starts: pure noise (x0 or index None), or x0 noised to ``index`` by Eq. 4, one ε each."""
    shape = (n, model.channels, model.image_size, model.image_size)
    noise = torch.randn(shape, generator=generator)
    if x0 is None or index is None:
        return noise
    return q_sample(model.schedule, x0.expand(n, -1, -1, -1), index, noise)


def frames_of_run(
    model: LoadedModel,
    x_start: torch.Tensor,
    t_start: int | None,
    indices: Sequence[int],
    *,
    config: SamplerConfig = DECIDED_CONFIG,
    seed: int = 0,
) -> list[tuple[int, torch.Tensor]]:
    """(index, x_t [C, H, W]) of one run at the steps nearest to each wanted array index (no repeats)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    steps = [
        (s.t, s.x_t[0].float().cpu())
        for s in sample_loop(
            model, model.schedule, config, x_start[:1], t_start=t_start, prediction=model.prediction, generator=gen
        )
    ]
    picked: dict[int, torch.Tensor] = {}
    for want in indices:
        index, x = min(steps, key=lambda s: abs(s[0] - want))
        picked[index] = x
    return sorted(picked.items(), reverse=True)


def decided_indices(T: int, t_start: int | None, count: int) -> list[int]:
    """The row of array indices the decided curve is measured at, at or below the run's start."""
    top = T if t_start is None else t_start + 1
    return row_of_indices(T, count, top)


def exposure_stats(model: LoadedModel, x0: torch.Tensor | None, train: np.ndarray | None) -> DataStats:
    """Against the truth for a run from an image; against the training data's statistics from noise."""
    if x0 is not None:
        return data_statistics(x0)
    if train is None:
        raise DiffusionVizError(
            f"from pure noise the exposure monitor compares against the training data, and {model.name} "
            "names none it can load: start from the image instead"
        )
    return data_statistics(images_to_tensor(train))


def spectra_of(
    spectrum: RadialSpectrum, x0: np.ndarray | None, x_t: np.ndarray, x0_hat: np.ndarray | None
) -> dict[str, Spectrum]:
    """The spectra the view and the plot draw, keyed x0, x_t, x0_hat (absent when not given)."""
    out = {"x_t": spectrum(x_t)}
    if x0 is not None:
        out["x0"] = spectrum(x0)
    if x0_hat is not None:
        out["x0_hat"] = spectrum(x0_hat)
    return out


def model_prediction(model: LoadedModel, x_t: torch.Tensor, index: int) -> torch.Tensor:
    """x̂_0 of the model for x_t [C, H, W] at array index ``index`` (clipped, as the samplers use it)."""
    with torch.inference_mode():
        x = x_t[None].to(model.device)
        out = model(x, torch.full((1,), index, device=model.device, dtype=torch.long))
        x0_hat, _ = x0_eps_from_output(model.schedule, x, index, out, model.prediction)
    return x0_hat[0].clamp(-1, 1).float().cpu()


def spectrum_summary(spectra: dict[str, Spectrum], model: LoadedModel, index: int) -> tuple[float, float | None]:
    """(the cut-off frequency at ``index`` from x_0's spectrum, or x̂_0's without x_0; the fitted α of x_0)."""
    base = spectra.get("x0") or spectra.get("x0_hat")
    if base is None:
        return float("nan"), None
    alpha = fit_power_law(spectra["x0"]).alpha if "x0" in spectra else None
    return cutoff_frequency(base, model.schedule, index), alpha
