"""Pictures of a playground run for a GIF: the points, a few trajectories, the paper's t (Pillow, no Qt)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.errors import DiffusionVizError
from core.toy2d.sampling import ToyFrame

POINT_COLOUR = (31, 119, 180)
TRAJECTORY_COLOUR = (214, 39, 40)


def render_points_gif_frames(
    frames: Sequence[ToyFrame],
    size: int = 256,
    lo: float = -2.5,
    hi: float = 2.5,
    trajectories: int = 6,
    max_frames: int | None = 60,
    tail: int | None = None,
) -> list[np.ndarray]:
    """uint8 RGB pictures ``[size, size, 3]`` of a run, for :func:`core.imaging.export.write_gif`.

    The points are 2 × 2 dots on white over [lo, hi]² (y up); the first ``trajectories`` particles draw their
    paths so far, through the drawn frames, as lines (only the last ``tail`` drawn frames of them if given:
    the paths of DDPM and Langevin are random walks that soon fill the picture); each picture is labelled with the paper's t (and the Langevin level). At most
    ``max_frames`` evenly spaced frames are drawn, always with the first and the last.
    """
    if not frames:
        raise DiffusionVizError("there are no frames to draw")
    chosen = list(range(len(frames)))
    if max_frames is not None and len(frames) > max_frames:
        chosen = sorted({round(i) for i in np.linspace(0, len(frames) - 1, max(max_frames, 2))})
    scale = (size - 1) / (hi - lo)

    def pixels(points: np.ndarray) -> np.ndarray:
        # Column from x, row from y with y pointing up.
        return np.stack([(points[:, 0] - lo) * scale, (hi - points[:, 1]) * scale], 1)

    # Paths run through the drawn frames only: every DDPM or Langevin step would be a scribble of noise.
    paths = np.stack([pixels(frames[i].points[:trajectories]) for i in chosen], 1) if trajectories else None
    font = ImageFont.load_default()
    pictures = []
    for shown, i in enumerate(chosen):
        canvas = np.full((size, size, 3), 255, np.uint8)
        xy = pixels(frames[i].points)
        keep = np.isfinite(xy).all(1) & (xy >= 0).all(1) & (xy < size - 1).all(1)
        cols, rows = xy[keep, 0].astype(np.int64), xy[keep, 1].astype(np.int64)
        for dr in (0, 1):
            for dc in (0, 1):
                canvas[rows + dr, cols + dc] = POINT_COLOUR
        image = Image.fromarray(canvas)
        draw = ImageDraw.Draw(image)
        start = 0 if tail is None else max(0, shown - tail)
        if paths is not None and shown > start:
            for path in paths[:, start : shown + 1]:
                draw.line([tuple(p) for p in path.tolist()], fill=TRAJECTORY_COLOUR, width=1)
        label = f"t = {frames[i].t}"
        if frames[i].levels:
            label += f"   level {frames[i].level}/{frames[i].levels}"
        draw.text((4, 2), label, fill=(0, 0, 0), font=font)
        pictures.append(np.asarray(image))
    return pictures
