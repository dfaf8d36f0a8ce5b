"""The ideal denoiser: the exact posterior mean E[x_0 | x_t] under the empirical distribution of a set of images.

A network trained to the optimum of the DDPM loss on N images would output exactly this (the "ideal
denoiser" of Karras et al. 2022, here in ᾱ notation). With q(x_t | x_i) = N(√ᾱ_t x_i, (1−ᾱ_t) I) (Eq. 4,
Ho et al. 2020) and a uniform prior over the images, Bayes' rule gives

    E[x_0 | x_t] = Σ_i w_i x_i,   w = softmax_i(−‖x_t − √ᾱ_t x_i‖² / (2(1−ᾱ_t))).

It has no weights to train and memorises its data: every deterministic chain ends on one of the images.
It is a reference to compare a trained network against, and a model the window can load like any other.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from core.device import pick_device
from core.diffusion.parameterization import eps_from_x0
from core.diffusion.schedules import NoiseSchedule
from core.errors import ImageLoadError, ModelLoadError
from core.imaging.datasets import IMAGE_SUFFIXES, load_emoji, split_holdout
from core.imaging.images import center_square, load_image
from core.imaging.scaling import images_to_tensor
from core.models.loaded import BUNDLED_MODEL, LoadedModel, closed_form_model, read_config

IDEAL_PREFIX = "ideal:"
IDEAL_EMOJI = "emoji"
IDEAL_DEFAULT_SIZE = 64
IDEAL_DEFAULT_T = 1000
# One chunk of the image bank stays in the CPU's last-level cache between the two matmuls that read it
# (logits, then the weighted sum), so the bank streams from memory about once per call; fewer, larger
# chunks cost less Python per call (8 MiB measured best of 2-16 MiB on a 32 MiB-L3 EPYC).
CHUNK_BYTES = 8 * 2**20
MAX_NAMES_LISTED = 10
NEGLIGIBLE_WEIGHT = math.exp(-50.0)  # relative to the running maximum weight, which is 1


class IdealDenoiser(torch.nn.Module):
    """An ε-predicting model whose x̂_0 is the exact posterior mean over ``images``.

    Parameters
    ----------
    images : torch.Tensor
        The data set [N, C, H, W] in [−1, 1]. Its dtype is the compute dtype (float32 is fast;
        float64 gives float64-exact answers).
    schedule : NoiseSchedule
        The schedule that defines ᾱ_t for the array indices the model is called with.
    chunk_size : int, optional
        How many images each chunk of the online log-sum-exp holds (default: about ``CHUNK_BYTES``).

    Notes
    -----
    ``‖x_t − √ᾱ x_i‖²`` is expanded as ``‖x_t‖² − 2√ᾱ⟨x_t, x_i⟩ + ᾱ‖x_i‖²``; the first term is the
    same for every i and cancels in the softmax, the inner products are one matmul per chunk, and
    ‖x_i‖² is computed once. Both points are first moved by the mean image (which leaves the
    distance unchanged) so the terms that cancel are small. The softmax runs chunk by chunk with a
    running maximum and sum in float64 (float32 on MPS), so memory stays O(B·(D + chunk)) for any N.
    """

    def __init__(self, images: torch.Tensor, schedule: NoiseSchedule, *, chunk_size: int | None = None) -> None:
        super().__init__()
        if images.ndim != 4 or images.shape[0] < 1:
            raise ValueError(f"images must be a non-empty [N, C, H, W] tensor, got shape {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError("images must be floating point, in [−1, 1]")
        self.schedule = schedule
        self.image_shape = tuple(int(s) for s in images.shape[1:])
        flat = images.detach().reshape(images.shape[0], -1)
        mean = flat.mean(dim=0)
        bank = (flat - mean).contiguous()
        # Buffers follow .to(device); not persistent, so a state_dict never carries the data set.
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("bank", bank, persistent=False)
        sq_norms = (bank.unsqueeze(1) @ bank.unsqueeze(2)).reshape(-1)  # ‖x_i‖², one dot per row, no [N, D] copy
        self.register_buffer("sq_norms", sq_norms, persistent=False)
        row_bytes = bank.shape[1] * bank.element_size()
        self.chunk_size = int(chunk_size) if chunk_size else max(1, CHUNK_BYTES // row_bytes)
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")

    @property
    def num_images(self) -> int:
        return int(self.bank.shape[0])

    @property
    def images(self) -> torch.Tensor:
        """The data set [N, C, H, W] (up to rounding of the mean-centring)."""
        return (self.bank + self.mean).reshape(-1, *self.image_shape)

    def _alphas_cumprod(self, t, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """ᾱ per sample as a [B, 1] column; ``t`` an int or a 1-D tensor of array indices."""
        t = torch.as_tensor(t).reshape(-1).to("cpu", torch.long)
        if t.numel() == 1:
            t = t.expand(batch)
        if t.numel() != batch:
            raise ValueError(f"t holds {t.numel()} indices for a batch of {batch}")
        if bool(((t < 0) | (t >= self.schedule.T)).any()):
            raise ValueError(f"t must lie in 0..{self.schedule.T - 1} (the clean image −1 has no noise to remove)")
        return self.schedule.alphas_cumprod[t].to(device, dtype).reshape(-1, 1)

    def x0_hat(self, x_t: torch.Tensor, t) -> torch.Tensor:
        """E[x_0 | x_t] = Σ_i w_i x_i, w = softmax_i(−‖x_t − √ᾱ_t x_i‖² / (2(1−ᾱ_t))), for per-sample ``t``.

        Parameters
        ----------
        x_t : torch.Tensor
            Noisy images [B, C, H, W].
        t : int or torch.Tensor
            Array indices (0..T−1), one for the batch or one per sample.

        Returns
        -------
        torch.Tensor
            The posterior mean [B, C, H, W] in ``x_t``'s dtype.
        """
        if tuple(x_t.shape[1:]) != self.image_shape:
            raise ValueError(f"x_t must be [B, {', '.join(map(str, self.image_shape))}], got {tuple(x_t.shape)}")
        batch = x_t.shape[0]
        dtype = self.bank.dtype
        acc_dtype = torch.float32 if x_t.device.type == "mps" else torch.float64
        abar = self._alphas_cumprod(t, batch, x_t.device, acc_dtype)
        sqrt_abar = abar.sqrt()
        # The Gaussian's exponent without ‖x_t‖²: (√ᾱ⟨x_t, x_i⟩ − ᾱ‖x_i‖²/2) / (1−ᾱ), about the mean image.
        inner_coef = sqrt_abar / (1.0 - abar)
        norm_coef = abar / (2.0 * (1.0 - abar))
        x = x_t.reshape(batch, -1).to(dtype) - sqrt_abar.to(dtype) * self.mean
        run_max = torch.full((batch, 1), -torch.inf, device=x.device, dtype=acc_dtype)
        run_sum = torch.zeros((batch, 1), device=x.device, dtype=acc_dtype)
        acc = torch.zeros((batch, x.shape[1]), device=x.device, dtype=acc_dtype)
        for start in range(0, self.num_images, self.chunk_size):
            chunk = self.bank[start : start + self.chunk_size]
            sq_norms = self.sq_norms[start : start + self.chunk_size].to(acc_dtype)
            logits = inner_coef * (x @ chunk.T).to(acc_dtype) - norm_coef * sq_norms
            new_max = torch.maximum(run_max, logits.amax(dim=1, keepdim=True))
            rescale = torch.exp(run_max - new_max)  # the earlier chunks' terms, re-expressed on the new maximum
            weights = torch.exp(logits - new_max)
            run_sum = run_sum * rescale + weights.sum(dim=1, keepdim=True)
            acc = acc * rescale + self._weighted_sum(weights, chunk).to(acc_dtype)
            run_max = new_max
        x0 = acc / run_sum + self.mean.to(acc_dtype)
        return x0.to(x_t.dtype).reshape(x_t.shape)

    @staticmethod
    def _weighted_sum(weights: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        """weights [B, n] @ chunk [n, D], reading on the CPU only the rows of the chunk that carry weight."""
        if weights.device.type == "cpu":
            # Once the posterior has picked a few images (all but the highest noise levels), most rows
            # weigh < e^−50 of the running maximum: < 1e-21 of the sum each, below float64 rounding. Skipping
            # them halves the memory read. (On a GPU the test would cost a sync per chunk; it reads all.)
            keep = (weights > NEGLIGIBLE_WEIGHT).any(dim=0).nonzero().squeeze(1)
            if len(keep) * 2 < len(chunk):
                return weights[:, keep].to(chunk.dtype) @ chunk[keep]
        return weights.to(chunk.dtype) @ chunk

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """ε̂ = (x_t − √ᾱ_t x̂_0) / √(1−ᾱ_t) with x̂_0 the exact posterior mean."""
        return eps_from_x0(self.schedule, x_t, t, self.x0_hat(x_t, t))


def _left_out_note(skipped: list[str], total: int) -> str:
    names = ", ".join(skipped[:MAX_NAMES_LISTED])
    more = f" and {len(skipped) - MAX_NAMES_LISTED} more" if len(skipped) > MAX_NAMES_LISTED else ""
    return f"{len(skipped)} of {total} files could not be read and were left out: {names}{more}"


def _ideal_loaded_model(
    images: np.ndarray,
    schedule: NoiseSchedule,
    device: torch.device,
    name: str,
    path: Path | None,
    provenance: dict,
    notes: tuple[str, ...],
) -> LoadedModel:
    network = IdealDenoiser(images_to_tensor(images), schedule)
    provenance = {**provenance, "train_images": len(images)}
    return closed_form_model(network, "ideal", int(images.shape[1]), device, name, path, provenance, notes)


def load_ideal_model(
    folder: str | Path,
    size: int = IDEAL_DEFAULT_SIZE,
    schedule: NoiseSchedule | None = None,
    device: torch.device | str | None = None,
) -> LoadedModel:
    """The ideal denoiser over every image under ``folder`` (recursively), centre-cropped to ``size``².

    Files that cannot be read are left out and named once in the model's ``notes``.

    Parameters
    ----------
    folder : str or Path
        A folder of images (suffixes of ``core.imaging.datasets.IMAGE_SUFFIXES``, searched recursively).
    size : int
        Side of the square images the model works on.
    schedule : NoiseSchedule, optional
        Default ``NoiseSchedule.cosine(1000)``.
    device : torch.device or str, optional
        Default: the best available (:func:`core.device.pick_device`).

    Returns
    -------
    LoadedModel
        An ε-predicting model named ``ideal:<folder name>`` whose network is an :class:`IdealDenoiser`.

    Raises
    ------
    ModelLoadError
        When ``folder`` is not a folder or holds no readable image.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is not a folder of images")
    if size < 1:
        raise ModelLoadError(f"the ideal model's image size must be at least 1, got {size}")
    device = pick_device(str(device) if device else None)
    schedule = schedule or NoiseSchedule.cosine(IDEAL_DEFAULT_T)
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    images, skipped = [], []
    for path in paths:
        try:
            images.append(center_square(load_image(path), size))
        except (ImageLoadError, OSError, ValueError, MemoryError):
            skipped.append(path.relative_to(folder).as_posix())
    if not images:
        found = f"none of its {len(paths)} image files could be read" if paths else "it holds no image files"
        raise ModelLoadError(f"{folder} cannot make an ideal model: {found} ({', '.join(sorted(IMAGE_SUFFIXES))})")
    notes = (_left_out_note(skipped, len(paths)),) if skipped else ()
    provenance = {"data": str(folder), "left_out": skipped}
    return _ideal_loaded_model(
        np.stack(images), schedule, device, f"{IDEAL_PREFIX}{folder.name}", folder, provenance, notes
    )


def ideal_from_emoji(
    size: int | None = None,
    schedule: NoiseSchedule | None = None,
    device: torch.device | str | None = None,
) -> LoadedModel:
    """The ideal denoiser over the bundled emoji model's training images (its held-out ones left out).

    The split is the bundled model's (``holdout_fraction`` and ``holdout_seed`` of its provenance);
    ``size`` and ``schedule`` default to the bundled model's (32², cosine, T = 1000), so the two
    models can be compared step for step. Raises the :class:`~core.errors.DataError` of
    :func:`core.imaging.datasets.load_emoji` when the emoji font is missing.
    """
    config = read_config(BUNDLED_MODEL)
    provenance = config.get("provenance", {})
    fraction = float(provenance.get("holdout_fraction", 0.1))
    seed = int(provenance.get("holdout_seed", 0))
    size = int(config.get("image_size", 32)) if size is None else int(size)
    schedule = schedule or NoiseSchedule.from_config(config["schedule"])
    device = pick_device(str(device) if device else None)
    images = load_emoji(size)
    train, _ = split_holdout(len(images), fraction, seed=seed)
    provenance = {"data": "emoji", "holdout_fraction": fraction, "holdout_seed": seed}
    return _ideal_loaded_model(images[train], schedule, device, f"{IDEAL_PREFIX}{IDEAL_EMOJI}", None, provenance, ())
