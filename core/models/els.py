"""The local score (LS) and equivariant local score (ELS) machines of Kamb & Ganguli (ICML 2025).

A network whose output pixel sees only a P × P patch of x_t around it (locality) cannot compute the
ideal denoiser; the best it can do is the ideal denoiser of that patch. For the pixel at x, with
Ω_x the patch around x and φ_Ω(x_t) the noisy input there,

    x̂_0(x) = Σ_p w_p · p(centre),   w = softmax_p(−‖φ_Ω(x_t) − √ᾱ_t p‖² / (2(1−ᾱ_t)))

(Kamb & Ganguli 2025, the LS and ELS machines). The **LS** machine takes p over the training images'
patches at the same location Ω_x; the **ELS** machine, adding translation equivariance (a CNN uses the
same filters everywhere), takes p over the patches at every location of every training image. Each
pixel does its own Bayesian vote over patches; neighbouring votes overlap, so the output is a "patch
mosaic": a new image made of training patches.

Boundaries (the paper's treatment of a zero-padded CNN): a patch that overlaps the image edge is
padded with zeros, which a CNN can see, so it is compared only with training patches that have the
same padding — those at the same offset from that edge. Equivariance thus holds in the interior and
is broken within P//2 of an edge. Here every pixel belongs to a *group* of positions that share one
mask (the interior is one group; each border row/column offset is its own), and its patch is
compared with the training patches of its group only.

Cost: a group's distances are one matrix product [queries × d] · [d × patches] with d = 3P². Where the
full set of patches exceeds ``max_cost`` for one image (the ≤ 1 s goal for a 32² x̂_0 over the emoji
set), each group uses a fixed random subset of its patches (seeded, the same at every call), whose
size :meth:`LocalScoreMachine.subset_sizes` reports.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from core.diffusion.parameterization import eps_from_x0
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError, ModelLoadError

# One x̂_0's work, in (query pixel, patch) pairs × (d + SOFTMAX_COST): the distance product costs d
# multiply-adds per pair and the softmax about as much as 16 more (an exp, a max, a sum, the weighted
# centre). 1e9 is about 1 s for one 32² image on an idle 2-core CPU.
DEFAULT_MAX_COST = 1e9
SOFTMAX_COST = 16
LOGITS_CHUNK = 4 * 2**20  # entries of one [queries × patches] logits block
CALIBRATION_NAME = "theory.json"
CALIBRATION_FORMAT = "diffusion-viz patch sizes"


@dataclass(frozen=True)
class PatchSchedule:
    """P(t): the ELS patch size per array index, as a table of (index, P) read by the nearest entry.

    ``model`` and ``schedule`` name what it was calibrated for (a file for another model is refused).
    """

    indices: tuple[int, ...]
    sizes: tuple[int, ...]
    model: str = ""
    schedule: dict | None = None
    r2: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.sizes) or not self.indices:
            raise ValueError("a patch schedule needs one size per index, at least one")
        if any(p < 1 or p % 2 == 0 for p in self.sizes):
            raise ValueError(f"patch sizes must be odd and positive, got {self.sizes}")

    def size_at(self, index: int) -> int:
        k = int(np.argmin(np.abs(np.asarray(self.indices) - int(index))))
        return int(self.sizes[k])

    @classmethod
    def default(cls, schedule: NoiseSchedule, image_size: int) -> PatchSchedule:
        """Before calibration: P grows with the noise, from 3 to about the image side (the paper's trend)."""
        indices = tuple(int(i) for i in np.linspace(0, schedule.T - 1, 10).round())
        snr_db = 10 * np.log10(schedule.snr[list(indices)].numpy())
        frac = np.clip((20 - snr_db) / 40, 0, 1)  # 20 dB → P = 3, −20 dB → the image side
        sizes = tuple(int(2 * round((3 + f * (image_size - 3)) / 2) + 1) if f else 3 for f in frac)
        return cls(indices, tuple(min(s, 2 * image_size - 1) for s in sizes), "", schedule.to_config())

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / CALIBRATION_NAME
        data = {
            "format": CALIBRATION_FORMAT,
            "model": self.model,
            "schedule": self.schedule,
            "indices": list(self.indices),
            "patch_sizes": list(self.sizes),
            "r2": [round(r, 4) for r in self.r2],
        }
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, model: str | None = None, schedule: NoiseSchedule | None = None) -> PatchSchedule:
        """Read ``theory.json``; raise :class:`ModelLoadError` when it belongs to another model or schedule."""
        path = Path(path)
        if path.is_dir():
            path = path / CALIBRATION_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != CALIBRATION_FORMAT:
                raise ModelLoadError(f"{path} is not a patch-size calibration file")
            table = cls(
                tuple(int(i) for i in data["indices"]),
                tuple(int(p) for p in data["patch_sizes"]),
                str(data.get("model", "")),
                data.get("schedule"),
                tuple(float(r) for r in data.get("r2", ())),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{path} cannot be read as a patch-size calibration: {exc}") from None
        if model is not None and table.model and table.model != model:
            raise ModelLoadError(f"{path} calibrates the model {table.model!r}, not {model!r}; recalibrate it")
        if schedule is not None and table.schedule and table.schedule != schedule.to_config():
            raise ModelLoadError(f"{path} was calibrated for another noise schedule; recalibrate it")
        return table


def _row_classes(length: int, radius: int, equivariant: bool) -> list[list[int]]:
    """Positions along one axis grouped by their padding: each border offset alone, the interior together."""
    if not equivariant:
        return [[i] for i in range(length)]
    interior = [i for i in range(length) if radius <= i < length - radius]
    border = [[i] for i in range(length) if not radius <= i < length - radius]
    return border + ([interior] if interior else [])


class LocalScoreMachine(torch.nn.Module):
    """The ELS machine (``equivariant=True``) or the LS machine over a training set, ε-predicting.

    Parameters
    ----------
    images : torch.Tensor
        Training images [N, C, H, W] in [−1, 1] (float32, or float64 for exact answers).
    schedule : NoiseSchedule
    patch_sizes : PatchSchedule or int
        P(t), or one P for every t (odd).
    equivariant : bool
        ELS (patches from every location) or LS (the same location only).
    max_cost : float
        Work allowed for one image (pairs × (d + ``SOFTMAX_COST``)); beyond it, each group uses a fixed
        random subset of its patches, the same number per query pixel.
    seed : int
        Picks the subsets.
    """

    prediction = "eps"

    def __init__(
        self,
        images: torch.Tensor,
        schedule: NoiseSchedule,
        patch_sizes: PatchSchedule | int,
        *,
        equivariant: bool = True,
        max_cost: float = DEFAULT_MAX_COST,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if images.ndim != 4 or images.shape[0] < 1:
            raise ValueError(f"images must be a non-empty [N, C, H, W] tensor, got {tuple(images.shape)}")
        self.schedule = schedule
        self.images = images.detach()
        self.image_shape = tuple(int(s) for s in images.shape[1:])
        if isinstance(patch_sizes, int):
            patch_sizes = PatchSchedule((0,), (int(patch_sizes),))
        self.patch_sizes = patch_sizes
        self.equivariant = equivariant
        self.max_cost = float(max_cost)
        self.seed = int(seed)
        self._groups: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._subsets: dict[tuple[int, int], torch.Tensor] = {}
        h, w = self.image_shape[1:]
        largest = max(patch_sizes.sizes)
        if largest > 2 * max(h, w) - 1:
            raise DataError(f"patch size {largest} is larger than the {h}×{w} images can hold (at most {2 * h - 1})")

    @property
    def num_images(self) -> int:
        return int(self.images.shape[0])

    def groups(self, patch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Positions (rows, cols) that share one padding mask, for patch size ``patch``."""
        if patch not in self._groups:
            radius = patch // 2
            h, w = self.image_shape[1:]
            rows = _row_classes(h, radius, self.equivariant)
            cols = _row_classes(w, radius, self.equivariant)
            self._groups[patch] = [(torch.tensor(r), torch.tensor(c)) for r in rows for c in cols]
        return self._groups[patch]

    def _subset(self, patch: int, g: int, total: int) -> torch.Tensor | None:
        """A fixed random subset of a group's ``total`` patches (None: all of them)."""
        h, w = self.image_shape[1:]
        d = self.image_shape[0] * patch * patch
        keep = max(1, int(self.max_cost / (h * w * (d + SOFTMAX_COST))))
        if total <= keep:
            return None
        key = (patch, g)
        if key not in self._subsets:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + patch * 1009 + g)
            self._subsets[key] = torch.randperm(total, generator=generator)[:keep]
        return self._subsets[key]

    def subset_sizes(self, patch: int) -> tuple[int, int]:
        """(patches used, patches in the full set) for the interior group, the largest one."""
        rows, cols = self.groups(patch)[-1]
        total = self.num_images * len(rows) * len(cols)
        subset = self._subset(patch, len(self.groups(patch)) - 1, total)
        return (total if subset is None else len(subset)), total

    def _bank(self, padded: torch.Tensor, patch: int, g: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The group's training patches [M, d], their centre pixels [M, C] and source image ids [M]."""
        rows, cols = self.groups(patch)[g]
        n_img, channels = padded.shape[:2]
        total = n_img * len(rows) * len(cols)
        subset = self._subset(patch, g, total)
        flat = torch.arange(total) if subset is None else subset
        img = flat // (len(rows) * len(cols))
        rest = flat % (len(rows) * len(cols))
        r0 = rows[rest // len(cols)]
        c0 = cols[rest % len(cols)]
        offs = torch.arange(patch)
        ri = (r0[:, None] + offs)[:, None, :, None]
        ci = (c0[:, None] + offs)[:, None, None, :]
        ch = torch.arange(channels)[None, :, None, None]
        patches = padded[img[:, None, None, None], ch, ri, ci].reshape(len(flat), -1)
        radius = patch // 2
        centres = padded[img, :, r0 + radius, c0 + radius]
        return patches, centres, img

    def x0_hat_with_sources(self, x_t: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂_0 [B, C, H, W], the training image whose patch weighs most at each pixel [B, H, W])."""
        if tuple(x_t.shape[1:]) != self.image_shape:
            raise ValueError(f"x_t must be [B, {', '.join(map(str, self.image_shape))}], got {tuple(x_t.shape)}")
        t = torch.as_tensor(t).reshape(-1).to("cpu", torch.long)
        if t.numel() == 1:
            t = t.expand(x_t.shape[0])
        out = torch.empty(x_t.shape, dtype=x_t.dtype)
        sources = torch.empty((x_t.shape[0], *x_t.shape[2:]), dtype=torch.long)
        for index in torch.unique(t).tolist():
            rows = (t == index).nonzero().squeeze(1)
            x0, src = self._x0_one_t(x_t[rows].to("cpu", self.images.dtype), int(index))
            out[rows] = x0.to(out.dtype)
            sources[rows] = src
        return out.to(x_t.device), sources

    def x0_hat(self, x_t: torch.Tensor, t) -> torch.Tensor:
        return self.x0_hat_with_sources(x_t, t)[0]

    def _x0_one_t(self, x_t: torch.Tensor, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        patch = self.patch_sizes.size_at(index)
        radius = patch // 2
        abar = float(self.schedule.alphas_cumprod[index])
        batch, channels, h, w = x_t.shape
        padded_train = F.pad(self.images, (radius,) * 4)
        queries = F.unfold(x_t, patch, padding=radius).transpose(1, 2)  # [B, H·W, d], zeros outside the image
        out = torch.empty((batch, h * w, channels), dtype=x_t.dtype)
        sources = torch.empty((batch, h * w), dtype=torch.long)
        inner_coef = math.sqrt(abar) / (1.0 - abar)
        norm_coef = abar / (2.0 * (1.0 - abar))
        for g, (rows, cols) in enumerate(self.groups(patch)):
            positions = (rows[:, None] * w + cols[None, :]).reshape(-1)
            bank, centres, img = self._bank(padded_train, patch, g)
            sq_norms = (bank * bank).sum(dim=1)
            q = queries[:, positions].reshape(-1, bank.shape[1])
            step = max(1, LOGITS_CHUNK // max(1, len(bank)))
            values, best = [], []
            for start in range(0, len(q), step):
                # −‖q − √ᾱ p‖²/(2(1−ᾱ)) without the ‖q‖² term, which is the same for every patch p
                logits = inner_coef * (q[start : start + step] @ bank.T) - norm_coef * sq_norms
                weights = torch.softmax(logits, dim=1)
                values.append(weights @ centres)
                best.append(img[logits.argmax(dim=1)])
            out[:, positions] = torch.cat(values).reshape(batch, len(positions), channels)
            sources[:, positions] = torch.cat(best).reshape(batch, len(positions))
        return out.transpose(1, 2).reshape(batch, channels, h, w), sources.reshape(batch, h, w)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """ε̂ = (x_t − √ᾱ_t x̂_0) / √(1−ᾱ_t) with x̂_0 the machine's."""
        return eps_from_x0(self.schedule, x_t, t, self.x0_hat(x_t, t))


def check_training_set(num_images: int, image_size: int, patch: int) -> None:
    """One line when a training set is too small for a patch size (the machine would have nothing to vote on)."""
    if num_images < 1:
        raise DataError("the local score machine needs at least one training image")
    if patch > 2 * image_size - 1:
        raise DataError(f"patch size {patch} does not fit {image_size}² training images (at most {2 * image_size - 1})")


def load_patch_schedule(model_folder: Path | None, model_name: str, schedule: NoiseSchedule, image_size: int):
    """The model's calibrated P(t) (``theory.json`` beside it), else the default table; (table, calibrated?)."""
    if model_folder is not None and (Path(model_folder) / CALIBRATION_NAME).is_file():
        return PatchSchedule.load(Path(model_folder) / CALIBRATION_NAME, model_name, schedule), True
    return PatchSchedule.default(schedule, image_size), False
