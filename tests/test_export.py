"""GIF frames as a user sees them in a slide: every frame, at the right speed, in the right colours."""

import numpy as np
from PIL import Image

from core.imaging.export import compose, write_gif


def read_gif(path):
    with Image.open(path) as gif:
        frames, durations = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")).astype(int))
            durations.append(gif.info["duration"])
        return frames, durations


def test_white_background_and_black_label_come_back_exact(tmp_path):
    rng = np.random.default_rng(0)
    noisy = [compose([rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)], scale=2, label=f"t={t}") for t in range(5)]
    write_gif(noisy, tmp_path / "a.gif", fps=20)
    frames, durations = read_gif(tmp_path / "a.gif")
    assert durations == [50] * 4 + [50 + 1500]  # 20 fps, the last frame held 1.5 s
    for original, back in zip(noisy, frames, strict=True):
        white = (original == 255).all(axis=-1)
        black = (original == 0).all(axis=-1)
        assert (back[white] == 255).all()  # the background is white, not a near-white tint
        assert (back[black] == 0).all()  # the label is black


def test_colours_stay_close_across_a_smooth_animation(tmp_path):
    ramp = np.linspace(0, 255, 64)
    frames = []
    for k in range(20):  # a colour gradient that shifts a little every frame
        r = np.broadcast_to(ramp[None, :], (64, 64))
        g = np.broadcast_to(ramp[:, None], (64, 64))
        b = np.full((64, 64), 12.0 * k)
        frames.append(np.stack([r, g, b], axis=-1).astype(np.uint8))
    write_gif(frames, tmp_path / "b.gif", fps=10)
    back, _ = read_gif(tmp_path / "b.gif")
    errors = [np.abs(f.astype(int) - b).mean() for f, b in zip(frames, back, strict=True)]
    assert max(errors) < 8  # mean error per channel, out of 255
