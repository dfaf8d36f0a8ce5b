"""The bound per t written for the command line: a CSV and a small PNG plot drawn with Pillow (no plotting library)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.imaging.files import atomic_write, atomic_write_bytes

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 420, 70, 20, 40, 50


def write_bound_csv(path: str | Path, terms: np.ndarray, prior: float) -> Path:
    """One row per term: its name, the paper's t of the step it measures, its bits/dim.

    L_{t−1} = KL(q(x_{t−1}|x_t,x_0) ‖ p_θ(x_{t−1}|x_t)) is the step at t (L_0, the decoder, at t = 1), as the
    window's plot draws it; the prior L_T = KL(q(x_T|x_0) ‖ N(0, I)) closes the list at t = T.
    """
    lines = ["term,t,bits_per_dim"]
    lines += [f"L_{i},{i + 1},{float(v):.9g}" for i, v in enumerate(terms)]
    lines.append(f"L_{len(terms)} (prior),{len(terms)},{prior:.9g}")
    return atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def write_bound_plot(path: str | Path, terms: np.ndarray, prior: float, title: str = "") -> Path:
    """L_0 … L_{T−1} against t on a log axis, the total in the title."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    positive = terms[terms > 0]
    lo = math.floor(math.log10(positive.min())) if len(positive) else -6
    hi = math.ceil(math.log10(positive.max())) if len(positive) else 1
    hi = max(hi, lo + 1)
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    draw.rectangle([LEFT, TOP, LEFT + w, TOP + h], outline=(120, 120, 120))
    for decade in range(lo, hi + 1):
        y = TOP + h - (decade - lo) / (hi - lo) * h
        draw.line([LEFT, y, LEFT + w, y], fill=(225, 225, 225))
        draw.text((8, y - 6), f"1e{decade}", fill=(60, 60, 60))
    T = len(terms)
    for frac in (0, 0.25, 0.5, 0.75, 1):
        x = LEFT + frac * w
        draw.text((x - 10, TOP + h + 8), str(round(frac * T)), fill=(60, 60, 60))
    points = [
        (LEFT + (i + 1) / T * w, TOP + h - (math.log10(v) - lo) / (hi - lo) * h)  # L_{t−1} at t
        for i, v in enumerate(terms)
        if v > 0
    ]
    if len(points) > 1:
        draw.line(points, fill=(31, 119, 180), width=2)
    total = float(terms.sum() + prior)
    draw.text((LEFT, 12), f"{title}  L_t in bits/dim; total {total:.3f} (L_T {prior:.1e})", fill=(0, 0, 0))
    draw.text((LEFT + w // 2 - 20, HEIGHT - 22), "t (paper)", fill=(0, 0, 0))
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


SERIES_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189))


def write_lines_plot(
    path: str | Path,
    x: np.ndarray,
    series: dict[str, np.ndarray],
    *,
    title: str = "",
    x_label: str = "",
    y_range: tuple[float, float] = (0.0, 1.0),
) -> Path:
    """A few curves over one x axis on a linear y range (values outside it are drawn at its edge), with a legend."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    lo, hi = y_range
    x = np.asarray(x, dtype=np.float64)
    x_lo, x_hi = float(x.min()), float(x.max()) if x.max() > x.min() else float(x.min()) + 1
    draw.rectangle([LEFT, TOP, LEFT + w, TOP + h], outline=(120, 120, 120))
    for frac in (0, 0.25, 0.5, 0.75, 1):
        y = TOP + h - frac * h
        draw.line([LEFT, y, LEFT + w, y], fill=(225, 225, 225))
        draw.text((8, y - 6), f"{lo + frac * (hi - lo):.2f}", fill=(60, 60, 60))
        draw.text((LEFT + frac * w - 10, TOP + h + 8), f"{x_lo + frac * (x_hi - x_lo):.0f}", fill=(60, 60, 60))
    for k, (name, values) in enumerate(series.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        v = np.clip(np.asarray(values, dtype=np.float64), lo, hi)
        points = [
            (LEFT + (xi - x_lo) / (x_hi - x_lo) * w, TOP + h - (vi - lo) / (hi - lo) * h)
            for xi, vi in zip(x, v, strict=True)
            if math.isfinite(vi)
        ]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        draw.text((LEFT + 10 + 110 * k, TOP + 6), name, fill=colour)
    draw.text((LEFT, 12), title, fill=(0, 0, 0))
    draw.text((LEFT + w // 2 - 20, HEIGHT - 22), x_label, fill=(0, 0, 0))
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
