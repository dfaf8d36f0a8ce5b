"""The analysis written for the command line: a log–log spectrum plot and the ladder as PNGs (Pillow)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.analysis.ladder import Rung
from core.imaging.export import compose
from core.imaging.files import atomic_write
from core.imaging.scaling import float_to_uint8

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 460, 70, 20, 60, 50
COLOURS = {"x0": (31, 119, 180), "noise": (150, 150, 150), "x_t": (214, 39, 40), "x0_hat": (44, 160, 44)}
NAMES = {"x0": "abar*P(x0)", "noise": "noise 1-abar", "x_t": "P(x_t)", "x0_hat": "abar*P(x0_hat)"}


def write_spectrum_plot(
    path: str | Path, curves: dict[str, tuple[np.ndarray, np.ndarray]], cutoff: float, title: str
) -> Path:
    """Log–log curves (name → (freqs, power)), the cut-off as a vertical line, the title on top."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    freqs = np.concatenate([f for f, _ in curves.values()])
    powers = np.concatenate([p for _, p in curves.values()])
    powers = powers[powers > 0]
    fx0, fx1 = math.log10(freqs.min()), math.log10(0.5)
    lo, hi = math.floor(math.log10(powers.min())), math.ceil(math.log10(powers.max()))
    hi = max(hi, lo + 1)
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(f: float, p: float) -> tuple[float, float]:
        return LEFT + (math.log10(f) - fx0) / (fx1 - fx0) * w, TOP + h - (math.log10(p) - lo) / (hi - lo) * h

    draw.rectangle([LEFT, TOP, LEFT + w, TOP + h], outline=(120, 120, 120))
    for decade in range(lo, hi + 1):
        y = xy(1, 10.0**decade)[1]
        draw.line([LEFT, y, LEFT + w, y], fill=(230, 230, 230))
        draw.text((8, y - 6), f"1e{decade}", fill=(60, 60, 60))
    for f in (0.01, 0.03, 0.1, 0.3):
        if f >= freqs.min():
            x = xy(f, 1)[0]
            draw.text((x - 10, TOP + h + 8), f"{f:g}", fill=(60, 60, 60))
    for i, (name, (f, p)) in enumerate(curves.items()):
        keep = p > 0
        pts = [xy(a, b) for a, b in zip(f[keep], p[keep], strict=True)]
        if len(pts) > 1:
            draw.line(pts, fill=COLOURS.get(name, (0, 0, 0)), width=2)
        draw.text((LEFT + 10 + 130 * i, TOP - 18), NAMES.get(name, name), fill=COLOURS.get(name, (0, 0, 0)))
    if cutoff == cutoff:  # not NaN
        x = xy(cutoff, 1)[0]
        draw.line([x, TOP, x, TOP + h], fill=(0, 0, 0), width=1)
        draw.text((x + 4, TOP + 4), f"cut-off {cutoff:.3f}", fill=(0, 0, 0))
    draw.text((LEFT, 12), title, fill=(0, 0, 0))
    draw.text((LEFT + w // 2 - 60, HEIGHT - 22), "f (cycles/pixel)", fill=(0, 0, 0))
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def write_ladder_image(path: str | Path, rungs: Sequence[Rung]) -> Path:
    """The rungs side by side, each blown up by its factor (nearest neighbour) to the same size, with its SNR."""
    pictures = [
        float_to_uint8(np.ascontiguousarray(r.x_t.transpose(1, 2, 0))).repeat(r.factor, 0).repeat(r.factor, 1)
        for r in rungs
    ]
    h, w = min(p.shape[0] for p in pictures), min(p.shape[1] for p in pictures)
    pictures = [p[:h, :w] for p in pictures]
    titles = [f"{r.factor}x{r.factor}: SNR {r.snr:.3g}, {r.log_snr_shift:+.2f}, t~{r.matching_paper_t}" for r in rungs]
    frame = compose(pictures, 1, "x_t average-pooled: effective SNR, log-SNR shift, the t it looks like", titles=titles)
    return atomic_write(path, lambda tmp: Image.fromarray(frame).save(tmp, format="PNG"))
