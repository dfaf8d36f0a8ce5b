"""The bound per t written for the command line: a CSV and a small PNG plot drawn with Pillow (no plotting library)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.imaging.files import atomic_write, atomic_write_bytes

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 420, 70, 20, 40, 50


def write_bound_csv(path: str | Path, terms: np.ndarray, prior: float) -> Path:
    """One row per term: ``t`` is the paper's t of the term (0 for L_0, T for L_T), then its bits/dim."""
    lines = ["t,term,bits_per_dim"]
    lines += [f"{i},L_{i},{float(v):.9g}" for i, v in enumerate(terms)]
    lines.append(f"{len(terms)},L_{len(terms)} (prior),{prior:.9g}")
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
        (LEFT + i / max(T - 1, 1) * w, TOP + h - (math.log10(v) - lo) / (hi - lo) * h)
        for i, v in enumerate(terms)
        if v > 0
    ]
    if len(points) > 1:
        draw.line(points, fill=(31, 119, 180), width=2)
    total = float(terms.sum() + prior)
    draw.text((LEFT, 12), f"{title}  L_t in bits/dim; total {total:.3f} (L_T {prior:.1e})", fill=(0, 0, 0))
    draw.text((LEFT + w // 2 - 20, HEIGHT - 22), "t (paper)", fill=(0, 0, 0))
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
