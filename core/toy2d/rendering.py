"""Pictures of a playground run for a GIF: axes, the score arrows, the points, a few trajectories (Pillow, no Qt)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.errors import DiffusionVizError
from core.toy2d.sampling import ToyFrame

POINT_COLOUR = (31, 119, 180)
TRAJECTORY_COLOUR = (214, 39, 40)
ARROW_COLOUR = (150, 150, 150)
AXIS_COLOUR = (60, 60, 60)
# A field for a frame: grid points [k², 2] and vectors [k², 2] (e.g. :func:`core.toy2d.field_on_grid`).
FieldFn = Callable[[ToyFrame], tuple[np.ndarray, np.ndarray]]


def arrow_segments(grid: np.ndarray, vectors: np.ndarray, length: float = 0.22) -> tuple[np.ndarray, np.ndarray]:
    """Segments (pairs) and arrow heads (pairs) for a field: the direction as is, the length squashed.

    The score grows like 1/σ_t near the data, so lengths go through tanh of the field's own median size;
    the longest arrow is ``length`` (in the points' units).
    """
    grid, vectors = np.asarray(grid, np.float32), np.asarray(vectors, np.float32)
    norm = np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    tips = grid + vectors * (length * np.tanh(norm / np.median(norm)) / norm)
    segments = np.empty((2 * len(grid), 2), np.float32)
    segments[0::2], segments[1::2] = grid, tips
    back = (grid - tips) * 0.35
    rot = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]], np.float32)
    heads = np.empty((4 * len(grid), 2), np.float32)
    heads[0::4], heads[1::4] = tips, tips + back @ rot.T
    heads[2::4], heads[3::4] = tips, tips + back @ rot
    return segments, heads


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the bitmap font
        return ImageFont.load_default()


def render_points_gif_frames(
    frames: Sequence[ToyFrame],
    size: int = 400,
    lo: float = -2.5,
    hi: float = 2.5,
    trajectories: int = 6,
    max_frames: int | None = 60,
    tail: int | None = None,
    field: FieldFn | None = None,
    title: str = "",
) -> list[np.ndarray]:
    """uint8 RGB pictures ``[size, size, 3]`` of a run, for :func:`core.imaging.export.write_gif`.

    The plane [lo, hi]² (y up) sits in a box with ticks at the integers; the points are 2 × 2 dots; ``field``,
    if given, draws each frame's arrows in grey (:func:`arrow_segments`); the first ``trajectories``
    particles draw their paths so far, through the drawn frames, as lines (only the last ``tail`` drawn frames
    of them if given: the paths of DDPM and Langevin are random walks that soon fill the picture). Each picture
    is captioned with ``title`` and the frame's t (and the Langevin level, or the flow time s). At most
    ``max_frames`` evenly spaced frames are drawn, always with the first and the last.
    """
    if not frames:
        raise DiffusionVizError("there are no frames to draw")
    chosen = list(range(len(frames)))
    if max_frames is not None and len(frames) > max_frames:
        chosen = sorted({round(i) for i in np.linspace(0, len(frames) - 1, max(max_frames, 2))})
    text = max(10, size // 28)
    left, top, right, bottom = 3 * text, text + 8, 6, 2 * text
    side = min(size - left - right, size - top - bottom)
    scale = (side - 1) / (hi - lo)

    def pixels(points: np.ndarray) -> np.ndarray:
        # Column from x, row from y with y pointing up, inside the plot box.
        points = np.asarray(points, np.float64)
        return np.stack([left + (points[:, 0] - lo) * scale, top + (hi - points[:, 1]) * scale], 1)

    # Paths run through the drawn frames only: every DDPM or Langevin step would be a scribble of noise.
    paths = np.stack([pixels(frames[i].points[:trajectories]) for i in chosen], 1) if trajectories else None
    font = _font(text)
    axes = _axes(size, left, top, side, lo, hi, pixels, font)
    pictures = []
    for shown, i in enumerate(chosen):
        image = axes.copy()
        draw = ImageDraw.Draw(image)
        if field is not None:
            grid, vectors = field(frames[i])
            segments, heads = arrow_segments(grid, vectors, 0.4 * (hi - lo) / np.sqrt(len(grid)))
            for pairs in (pixels(segments), pixels(heads)):
                for a, b in zip(pairs[0::2].tolist(), pairs[1::2].tolist(), strict=True):
                    draw.line([tuple(a), tuple(b)], fill=ARROW_COLOUR, width=1)
        canvas = np.array(image)
        xy = pixels(frames[i].points)
        keep = np.isfinite(xy).all(1) & (xy[:, 0] >= left) & (xy[:, 1] >= top)
        keep &= (xy[:, 0] < left + side - 1) & (xy[:, 1] < top + side - 1)
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
        caption = f"{title}   {frames[i].label}" if title else frames[i].label
        draw.text((left, 2), caption, fill=(0, 0, 0), font=font)
        pictures.append(np.asarray(image))
    return pictures


def _axes(size, left, top, side, lo, hi, pixels, font) -> Image.Image:
    """The white picture with the plot's box, integer ticks and their numbers."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle([left - 1, top - 1, left + side, top + side], outline=AXIS_COLOUR)
    for value in range(int(np.ceil(lo)), int(np.floor(hi)) + 1):
        (x, y) = pixels(np.array([[value, value]]))[0].tolist()
        draw.line([(x, top + side), (x, top + side + 4)], fill=AXIS_COLOUR)
        draw.line([(left - 5, y), (left - 1, y)], fill=AXIS_COLOUR)
        draw.text((x, top + side + 5), str(value), fill=AXIS_COLOUR, font=font, anchor="ma")
        draw.text((left - 7, y), str(value), fill=AXIS_COLOUR, font=font, anchor="rm")
    return image
