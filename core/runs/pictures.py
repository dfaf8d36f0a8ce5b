"""Turning runs into lists of pictures for export: reverse frames, comparisons and forward scrubs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from core.choices import CONTENT  # noqa: F401 - defined torch-free, read from here too
from core.diffusion.forward import ForwardPictures, forward_noise
from core.diffusion.schedules import NoiseSchedule, index_from_paper_t
from core.errors import DiffusionVizError
from core.imaging.export import compose
from core.imaging.images import fit_long_side
from core.imaging.scaling import tensor_to_images
from core.runs import views
from core.runs.chain import Frame

TITLES = {"x0": "x̂₀", "eps": "ε̂", "v": "v̂", "score": "score s_θ"}  # drawn with the shipped font (core.imaging.text)
TRUTH_TITLES = {"x0": "x₀ (the truth)", "eps": "ε (the truth)", "v": "v (the truth)", "score": "true score"}
GIF_FRAMES = 60  # a default export: about 3 s at 20 fps, a few MB
SLIDE_SIDE = 256  # the long side of a default export's pictures, in px: a 60-frame photo GIF stays under 8 MB
FULL_SIDE = 512  # the forward panel's own working size: "full size"


def default_stride(n: int, target: int = GIF_FRAMES) -> int:
    """The stride that keeps about ``target`` of ``n`` frames (1 for short runs)."""
    return max(1, math.ceil(n / target))


def scale_for(side: int, target: int = SLIDE_SIDE) -> int:
    """The nearest-neighbour scale that brings a ``side``-px picture to about ``target`` px (at least 1)."""
    return max(1, target // max(side, 1))


def _every(items: Sequence, stride: int) -> list:
    """Every ``stride``-th item, the last always included."""
    chosen = list(items[::stride])
    if items and chosen[-1] is not items[-1]:
        chosen.append(items[-1])
    return chosen


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
    The last picture is the result: the sample, beside the image it started from when there is one
    (a prediction of the noise is nothing there: no noise is left to predict).
    """
    if content not in CONTENT:
        raise ValueError(f"content must be one of {', '.join(CONTENT)}")
    if content == "all" and x0 is None:
        raise DiffusionVizError("the truth beside the prediction needs a run that starts from an image")
    pictures = []
    for f in _every(frames, stride):
        if f.final:
            panels, titles = [tensor_to_images(f.x_t)], ["the sample x₀"]
            if x0 is not None and content != "xt":
                panels.append(tensor_to_images(x0))
                titles.append("x₀ it started from")
            text = "t = 0: the result" if label else None
            pictures.append(compose(panels, scale=scale, label=text, titles=titles if label else None))
            continue
        xt = tensor_to_images(f.x_t)
        pred = views.to_picture(schedule, f, view, views.predicted(schedule, f, view))
        panels = {"both": [xt, pred], "xt": [xt], "pred": [pred]}.get(content)
        titles = {"both": ["x_t", TITLES[view]], "xt": ["x_t"], "pred": [TITLES[view]]}.get(content)
        if content == "all":
            panels = [xt, pred, views.to_picture(schedule, f, view, views.truth(schedule, f, view, x0))]
            titles = ["x_t", TITLES[view], TRUTH_TITLES[view]]
        text = f"t = {f.paper_t} of {schedule.T}" if label else None
        pictures.append(compose(panels, scale=scale, label=text, titles=titles if label else None))
    return pictures


def compare_pictures(
    ticks: Sequence[Sequence[Frame]],
    titles: Sequence[str],
    *,
    what: str = "x0",
    stride: int = 1,
    scale: int = 1,
    label: bool = True,
) -> list[np.ndarray]:
    """One picture per ``stride``-th tick of a comparison: a row of titled columns (the end always kept).

    ``what`` is what each column shows, as on the screen: ``"x0"`` the runs' x̂₀, ``"xt"`` their x_t
    (the final samples either way).
    """
    if what not in ("x0", "xt"):
        raise ValueError("what must be 'x0' or 'xt'")
    pictures = []
    for k, tick in enumerate(_every(ticks, stride)):
        # Before a run's first step nothing is predicted yet (its x̂₀ is all zeros, a grey square): show
        # the x_t it starts from instead.
        columns = _one_display_size(
            [tensor_to_images(f.x_t if what == "xt" or not f.predicted else f.x0_hat) for f in tick]
        )
        done = all(f.final for f in tick)
        shown = "x̂₀" if what == "x0" else "x_t"
        where = min(100, round(100 * k * stride / max(len(ticks) - 1, 1)))
        if done:
            text = "the final samples"
        elif all(f.eps_hat is None for f in tick):
            text = "the start: x_t of each run"
        else:
            text = f"{shown}, {where} % of each run"
        text = text if label else None
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
    schedule: NoiseSchedule,
    image: np.ndarray,
    seed: int,
    stride: int = 10,
    scale: int = 1,
    label: bool = True,
    side: int | None = SLIDE_SIDE,
) -> list[np.ndarray]:
    """x_t for paper t = 0, stride, 2·stride, …, T of ``image`` (uint8 RGB) under ``schedule``.

    The image is first brought to ``side`` px on its long side (``None``: as given) and noised at that
    size: x_t of the picture on the slide, not a shrunken x_t of a larger one (which would look cleaner).
    """
    if side is not None:
        image = fit_to_side(image, side)
    xt = ForwardPictures(image, forward_noise(image.shape, seed))  # the forward panel's own pixels
    pictures = []
    for t in _every(range(0, schedule.T + 1), stride):
        picture = xt.at(schedule, index_from_paper_t(t))
        text = ("x_0: t = 0, the clean image" if t == 0 else f"x_t at t = {t} of {schedule.T}") if label else None
        pictures.append(compose([picture], scale=scale, label=text))
    return pictures


def fit_to_side(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` with its long side at ``side`` px: shrunk smoothly, or enlarged by whole pixels."""
    long_side = max(image.shape[:2])
    if long_side > side:
        return fit_long_side(image, side)
    k = side // long_side
    return image.repeat(k, axis=0).repeat(k, axis=1) if k > 1 else image


def inversion_pictures(frames: Sequence, scale: int = 1, stride: int = 1, label: bool = True) -> list[np.ndarray]:
    """A DDIM inversion as pictures of three titled columns: x₀ | the way up to x_T | the way back down.

    The last picture is the result, x₀ | x_T | x₀ decoded, with the reconstruction's PSNR.
    """
    x0 = tensor_to_images(frames[0].x0)
    blank = np.full_like(x0, 255)
    up = [f for f in frames if f.phase == "invert"]
    top = tensor_to_images(up[-1].x) if up else blank
    pictures = []
    for f in _every(frames[:-1], stride):
        if f.phase == "invert":
            panels, titles = [x0, tensor_to_images(f.x), blank], ["x₀", "x_t going up", "decoded next"]
            text = f"inverting: t = {f.paper_t}"
        else:
            panels, titles = [x0, top, tensor_to_images(f.x)], ["x₀", "x_T", "x_t coming back"]
            text = f"decoding: t = {f.paper_t}"
        pictures.append(compose(panels, scale, text if label else None, titles=titles if label else None))
    last = frames[-1]
    panels = [x0, top, tensor_to_images(last.reconstruction)]
    titles = ["x₀", "x_T", "x₀ decoded"]
    text = f"back to t = 0: PSNR {last.psnr:.1f} dB"
    pictures.append(compose(panels, scale, text if label else None, titles=titles if label else None))
    return pictures
