"""How well a denoiser brings back clean images from known noise: PSNR of x̂_0 per noise level σ.

σ is measured in x_0 units, as in EDM (Karras et al. 2022): x_t / √ᾱ_t = x_0 + σ ε with
σ_t = √((1 − ᾱ_t) / ᾱ_t), pixels in [−1, 1]. At each σ the timestep whose σ_t is nearest is used and
the image is noised to exactly that step (Ho et al. 2020, Eq. 4), so the denoiser sees what training saw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from core.device import randn
from core.diffusion.forward import q_sample
from core.diffusion.parameterization import x0_eps_from_output
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError
from core.imaging.images import center_square
from core.imaging.scaling import images_to_tensor, tensor_to_images
from core.models.protocol import Denoiser
from core.training.data import RandomScaleCrops, load_photos, split_holdout

DEFAULT_SIGMAS = (0.1, 0.2, 0.4, 0.8)


def sigma_of_index(schedule: NoiseSchedule) -> torch.Tensor:
    """σ_t = √((1 − ᾱ_t) / ᾱ_t) for every array index (float64)."""
    return torch.sqrt((1 - schedule.alphas_cumprod) / schedule.alphas_cumprod)


def index_for_sigma(schedule: NoiseSchedule, sigma: float) -> int:
    """The array index whose σ_t lies nearest ``sigma`` (in log σ)."""
    if sigma <= 0:
        raise DataError(f"σ must be positive, got {sigma}")
    return int(torch.argmin((sigma_of_index(schedule).log() - np.log(sigma)).abs()))


def denoise_psnr(
    denoiser: Denoiser,
    x0: torch.Tensor,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    *,
    seed: int = 0,
    batch_size: int = 8,
    progress: Callable[[int], None] | None = None,
) -> dict[float, dict]:
    """Mean PSNR (dB, peak-to-peak 2) of the denoiser's x̂_0 against x_0 [N, C, H, W] at each σ.

    The same noise (seeded) is used for every denoiser given the same seed, so two tables compare
    denoisers on identical inputs. Returns {σ: {"index", "sigma_used", "psnr", "psnr_noisy"}}.
    """
    schedule = denoiser.schedule
    device = getattr(denoiser, "device", x0.device)
    table = {}
    for sigma in sigmas:
        index = index_for_sigma(schedule, sigma)
        gen = torch.Generator().manual_seed(seed + index)
        psnrs, noisy = [], []
        for start in range(0, len(x0), batch_size):
            clean = x0[start : start + batch_size].to(device)
            t = torch.full((len(clean),), index, dtype=torch.long, device=device)
            noise = randn(clean.shape, gen, device)
            x_t = q_sample(schedule, clean, t, noise)
            with torch.no_grad():
                out = denoiser(x_t, t)
            x0_hat, _ = x0_eps_from_output(schedule, x_t, t, out, denoiser.prediction)
            psnrs.append(_psnr(x0_hat.clamp(-1, 1), clean))
            sab = float(schedule.alphas_cumprod[index]) ** 0.5
            noisy.append(_psnr((x_t / sab).clamp(-1, 1), clean))
            if progress:
                progress(len(clean))
        table[float(sigma)] = {
            "index": index,
            "sigma_used": float(sigma_of_index(schedule)[index]),
            "psnr": float(torch.cat(psnrs).mean()),
            "psnr_noisy": float(torch.cat(noisy).mean()),
        }
    return table


def resize_x0(x0: torch.Tensor, size: int) -> torch.Tensor:
    """x_0 [N, C, H, W] in [−1, 1] shrunk (or grown) to ``size``² through uint8 pixels with Lanczos, as a
    picture of that size would be loaded: how a model of another size is shown the same pictures."""
    from PIL import Image

    pictures = tensor_to_images(x0)
    resample = Image.Resampling.LANCZOS
    return images_to_tensor(np.stack([np.asarray(Image.fromarray(p).resize((size, size), resample)) for p in pictures]))


def _psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mse = ((a.double() - b.double()) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(4.0 / mse).cpu()


def held_out_photo_crops(
    folder: str | Path,
    size: int,
    names: Sequence[str] | None = None,
    *,
    holdout: float = 0.1,
    holdout_seed: int = 0,
    photo_side: int = 768,
    crops_per_photo: int = 4,
    seed: int = 0,
) -> tuple[torch.Tensor, list[str]]:
    """Held-out photos of ``folder`` as x_0 [N, 3, size, size], and their names.

    ``names`` are the photos a model held out (its provenance records them); without them the split of
    ``train`` (same seed and fraction) is recomputed over the folder's photos. Each photo gives its centre
    square shrunk to ``size`` (the whole photo, as the window shows it) and ``crops_per_photo`` crops at
    random scales (closer views of it).
    """
    photos, found = load_photos(folder, photo_side, min_side=size)
    if names is None:
        _, held = split_holdout(len(photos), holdout, seed=holdout_seed)
        names = [found[i] for i in held]
    missing = [n for n in names if n not in found]
    if missing:
        raise DataError(
            f"{folder} lacks the held-out photos {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}"
        )
    if not names:
        raise DataError(f"{folder}: no photo is held out (too few photos)")
    held_photos = [photos[found.index(n)] for n in names]
    parts = [images_to_tensor(np.stack([center_square(p, size) for p in held_photos]))]
    if crops_per_photo:
        gen = torch.Generator().manual_seed(seed)
        for photo in held_photos:
            parts.append(RandomScaleCrops([photo], size, 1.0, 0.0).sample(crops_per_photo, gen))
    return torch.cat(parts), list(names)
