"""Turning runs into lists of pictures for export: reverse frames, comparisons and forward scrubs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from core.diffusion.forward import ForwardPictures, forward_noise
from core.diffusion.schedules import NoiseSchedule, index_from_paper_t
from core.errors import DiffusionVizError
from core.imaging.export import compose
from core.imaging.scaling import tensor_to_images
from core.runs import views
from core.runs.chain import Frame

CONTENT = ("both", "xt", "pred", "all")  # x_t | prediction; x_t; the prediction; x_t | prediction | truth
ASCII_NAMES = {"x0": "x0_hat", "eps": "eps_hat", "v": "v_hat", "score": "score"}
GIF_FRAMES = 60  # a default export: about 3 s at 20 fps, a few MB


def default_stride(n: int, target: int = GIF_FRAMES) -> int:
    """The stride that keeps about ``target`` of ``n`` frames (1 for short runs)."""
    return max(1, math.ceil(n / target))


def reverse_pictures(
    frames: Sequence[Frame],
    schedule: NoiseSchedule,
    *,
    content: str = "both",
    view: str = "x0",
    x0: torch.Tensor | None = None,
    stride: int = 1,
    scale: int = 1,
    label: bool = True,
) -> list[np.ndarray]:
    """One picture per ``stride``-th frame of a reverse run (the final sample always included).

    ``view`` is the prediction shown (x̂_0, ε̂, v̂ or the score, :mod:`core.runs.views`); ``content="all"``
    adds its truth, which needs the clean image ``x0`` [C, H, W] of a run that started from an image.
    """
    if content not in CONTENT:
        raise ValueError(f"content must be one of {', '.join(CONTENT)}")
    if content == "all" and x0 is None:
        raise DiffusionVizError("the truth beside the prediction needs a run that starts from an image")
    chosen = list(frames[::stride])
    if frames and chosen[-1] is not frames[-1]:
        chosen.append(frames[-1])
    pictures = []
    for f in chosen:
        xt = tensor_to_images(f.x_t)
        pred = views.to_picture(schedule, f, view, views.predicted(schedule, f, view))
        panels = {"both": [xt, pred], "xt": [xt], "pred": [pred]}.get(content)
        if content == "all":
            panels = [xt, pred, views.to_picture(schedule, f, view, views.truth(schedule, f, view, x0))]
        names = {"both": f"x_t | {ASCII_NAMES[view]}", "xt": "x_t", "pred": ASCII_NAMES[view]}
        names["all"] = f"x_t | {ASCII_NAMES[view]} | true"
        text = ("x0 (final)" if f.final else f"t={f.t}  {names[content]}") if label else None
        pictures.append(compose(panels, scale=scale, label=text))
    return pictures


def compare_pictures(
    ticks: Sequence[Sequence[Frame]],
    titles: Sequence[str],
    *,
    stride: int = 1,
    scale: int = 1,
    label: bool = True,
) -> list[np.ndarray]:
    """One picture per ``stride``-th tick of a comparison: a row of x_t columns, each titled (the end always kept)."""
    chosen = list(ticks[::stride])
    if ticks and chosen[-1] is not ticks[-1]:
        chosen.append(ticks[-1])
    pictures = []
    for k, tick in enumerate(chosen):
        columns = _one_display_size([tensor_to_images(f.x_t) for f in tick])
        done = all(f.final for f in tick)
        text = (
            ("final samples" if done else f"{min(100, round(100 * k * stride / max(len(ticks) - 1, 1)))} %")
            if label
            else None
        )
        pictures.append(compose(columns, scale=scale, label=text, titles=titles if label else None))
    return pictures


def _one_display_size(columns: list[np.ndarray]) -> list[np.ndarray]:
    """Runs of different sizes (the photo model at 128 px beside emoji32 at 32) shown at the largest one, square pixels."""
    side = max(c.shape[0] for c in columns)
    out = []
    for c in columns:
        if c.shape[0] != side:
            c = np.asarray(Image.fromarray(c).resize((side, side), Image.Resampling.NEAREST))
        out.append(c)
    return out


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
