"""The sampler lab on the command line: the log–log error plot and a grid of 2-D samples, drawn with Pillow."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.imaging.files import atomic_write

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 460, 70, 230, 40, 50
# one colour per sampler, in the order of core.diffusion.ode_samplers.SAMPLERS
COLOURS = {
    "ddim": (31, 119, 180),
    "euler": (255, 127, 14),
    "heun": (44, 160, 44),
    "dpmpp2m": (214, 39, 40),
    "euler_a": (148, 103, 189),
}


def colour(sampler: str) -> tuple[int, int, int]:
    return COLOURS.get(sampler, (90, 90, 90))


def write_error_plot(path: str | Path, result, title: str = "") -> Path:
    """Error against the reference vs NFE on log–log axes, one line per sampler, its fitted slope and order."""
    from core.diffusion.ode_samplers import SAMPLERS

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    errors = [r.error for r in result.runs if r.error > 0]
    nfes = [r.nfe for r in result.runs]
    e_lo, e_hi = math.floor(math.log10(min(errors))), math.ceil(math.log10(max(errors)))
    e_hi = max(e_hi, e_lo + 1)
    n_lo, n_hi = math.log10(min(nfes)), math.log10(max(nfes))
    n_hi = max(n_hi, n_lo + 1e-3)
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(nfe: float, err: float) -> tuple[float, float]:
        return (
            LEFT + (math.log10(nfe) - n_lo) / (n_hi - n_lo) * w,
            TOP + h - (math.log10(err) - e_lo) / (e_hi - e_lo) * h,
        )

    draw.rectangle([LEFT, TOP, LEFT + w, TOP + h], outline=(120, 120, 120))
    for decade in range(e_lo, e_hi + 1):
        y = TOP + h - (decade - e_lo) / (e_hi - e_lo) * h
        draw.line([LEFT, y, LEFT + w, y], fill=(225, 225, 225))
        draw.text((8, y - 6), f"1e{decade}", fill=(60, 60, 60))
    for n in sorted(set(nfes)):
        x = xy(n, 10.0**e_lo)[0]
        draw.line([x, TOP, x, TOP + h], fill=(235, 235, 235))
        draw.text((x - 8, TOP + h + 8), str(n), fill=(60, 60, 60))
    for k, name in enumerate(result.samplers):
        runs = sorted((r for r in result.runs if r.sampler == name and r.error > 0), key=lambda r: r.nfe)
        points = [xy(r.nfe, r.error) for r in runs]
        if len(points) > 1:
            draw.line(points, fill=colour(name), width=2)
        for px, py in points:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour(name))
        slope = result.slopes.get(name)
        order = SAMPLERS[name].order
        text = f"{SAMPLERS[name].label}: slope {'—' if slope is None else f'{slope:.2f}'}"
        text += f" (order {order})" if order else " (stochastic)"
        draw.text((LEFT + w + 12, TOP + 10 + 18 * k), text, fill=colour(name))
    ref = result.reference
    draw.text((LEFT + w + 12, TOP + 20 + 18 * len(result.samplers)), f"reference: {ref.sampler} {ref.spacing}", fill=0)
    draw.text((LEFT + w + 12, TOP + 36 + 18 * len(result.samplers)), f"NFE {ref.nfe}", fill=0)
    draw.text((LEFT, 12), title or "RMS error against the reference vs network calls (NFE)", fill=(0, 0, 0))
    draw.text((LEFT + w // 2 - 20, HEIGHT - 22), "NFE (log)", fill=(0, 0, 0))
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def points_image(points: np.ndarray, side: int = 96, box: float = 3.0, rgb=(31, 119, 180)) -> np.ndarray:
    """2-D points in [−box, box]² as a uint8 [side, side, 3] scatter on white (y up)."""
    image = np.full((side, side, 3), 255, np.uint8)
    p = np.asarray(points, dtype=np.float64)
    ij = np.round((p + box) / (2 * box) * (side - 1)).astype(int)
    keep = (ij >= 0).all(1) & (ij < side).all(1)
    image[side - 1 - ij[keep, 1], ij[keep, 0]] = rgb
    return image
