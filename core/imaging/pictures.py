"""Turning runs into lists of pictures for export: reverse frames and forward scrubs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.diffusion.forward import ForwardPictures, forward_noise
from core.diffusion.schedules import NoiseSchedule, index_from_paper_t
from core.imaging.export import compose
from core.runs.chain import Frame

CONTENT = ("both", "xt", "x0")


def reverse_pictures(
    frames: Sequence[Frame], content: str = "both", stride: int = 1, scale: int = 1, label: bool = True
) -> list[np.ndarray]:
    """One picture per ``stride``-th frame of a reverse run (the final sample always included)."""
    if content not in CONTENT:
        raise ValueError(f"content must be one of {', '.join(CONTENT)}")
    chosen = list(frames[::stride])
    if frames and chosen[-1] is not frames[-1]:
        chosen.append(frames[-1])
    pictures = []
    for f in chosen:
        panels = {"both": [f.x_t, f.x0_hat], "xt": [f.x_t], "x0": [f.x0_hat]}[content]
        final = f.n >= f.num_steps
        text = (
            ("x0 (final)" if final else f"t={f.t}  x_t | x0_hat" if content == "both" else f"t={f.t}")
            if label
            else None
        )
        pictures.append(compose(panels, scale=scale, label=text))
    return pictures


def forward_pictures(
    schedule: NoiseSchedule, image: np.ndarray, seed: int, stride: int = 10, scale: int = 1, label: bool = True
) -> list[np.ndarray]:
    """x_t for paper t = 0, stride, 2·stride, …, T of ``image`` (uint8 RGB) under ``schedule``."""
    xt = ForwardPictures(image, forward_noise(image.shape, seed))  # the forward panel's own pixels
    ts = list(range(0, schedule.T + 1, stride))
    if ts[-1] != schedule.T:
        ts.append(schedule.T)
    pictures = []
    for t in ts:
        picture = xt.at(schedule, index_from_paper_t(t))
        pictures.append(compose([picture], scale=scale, label=f"t={t}" if label else None))
    return pictures
