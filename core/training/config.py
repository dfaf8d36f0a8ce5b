"""What one training run is: :class:`TrainConfig`, free of torch so the command line can read its fields.

A field with a ``help`` in its metadata is a ``diffusion-viz train`` option (``app.commands.options``
turns each into ``--the-field-name`` with its type, default and ``choices``; ``min=1`` refuses 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.choices import LR_SCHEDULES, PREDICTIONS, SCHEDULE_NAMES


def _option(default, help: str, **cli):
    """A field the ``train`` command offers as ``--NAME``: its help line and how to read it (``min``, ``choices``)."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass
class TrainConfig:
    """One training run. Fields with a ``help`` in their metadata are the ``train`` command's options."""

    data: str = _option("emoji", "'emoji' (Noto Color Emoji bitmaps) or a folder of images")
    out: str = _option("runs/emoji32", "output folder (model, checkpoints, sample grids)", required=True)
    size: int = _option(32, "image side in pixels", min=1)
    steps: int = _option(6000, "training steps", min=1)
    batch_size: int = _option(64, "images per step", min=1)
    lr: float = _option(4e-4, "Adam's learning rate after the warm-up")
    warmup: int = 200
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = _option(0, "batches, noise and init; the held-out split has its own seed (0), so it never moves")
    holdout: float = _option(0.1, "fraction held out (of images, or of whole photos)")
    holdout_seed: int = 0  # the split's own seed, apart from --seed, so a new seed never trains on held-out images
    prediction: str = _option("v", "what the network predicts", choices=PREDICTIONS)
    schedule: str = _option("cosine", "the noise schedule", choices=SCHEDULE_NAMES)
    T: int = 1000
    base_channels: int = _option(32, "channels of the UNet's first level", min=1)
    channel_mults: tuple[int, ...] = _option((1, 2, 2, 2), "channel multiplier per level, comma-separated")
    num_res_blocks: int = 1
    attention_resolutions: tuple[int, ...] = _option(
        (8,), "feature-map sides with self-attention, comma-separated; 'none' for a fully convolutional net"
    )
    groups: int = 8
    hflip: bool = True
    checkpoint_every: int = _option(500, "steps between checkpoints (and sample grids)", min=1)
    log_every: int = _option(50, "steps between log lines", min=1)
    num_samples: int = 64
    device: str | None = _option(None, "cuda, mps or cpu (default: the best available)")
    init: str | None = _option(None, "start from this model folder's weights (same architecture) and keep its split")
    balance: bool = _option(False, "emoji: draw skin-tone variants of one emoji as one")
    lr_schedule: str = _option(
        "constant", "constant, or cosine: decay to 0 at the last step after the warm-up", choices=LR_SCHEDULES
    )
    min_snr: float = _option(0.0, "γ of min-SNR-γ loss weighting (Hang et al. 2023); 0 = plain MSE, 5 is usual")
    crop: bool = _option(False, "folder data: train on random square crops at random scales of whole photos")
    crop_min_scale: float = _option(1.0, "--crop: the smallest crop is --size × this, in the stored photo")
    crop_max_scale: float = _option(0.0, "--crop: the largest crop is --size × this (0: the photo's short side)")
    photo_side: int = _option(768, "--crop: photos are stored with their long side shrunk to this", min=1)
    extra: dict = field(default_factory=dict)
