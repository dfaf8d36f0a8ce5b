"""Writing frames as an animation (GIF, animated WebP or MP4, from the file's extension) or numbered PNGs.

Every writer holds the last frame (``hold_s``, 1.5 s by default) so a looping slide rests on the result
before it starts over, and writes atomically: a failed export leaves no partial file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.errors import DiffusionVizError
from core.imaging import text
from core.imaging.files import atomic_write, atomic_write_bytes

HOLD_S = 1.5  # seconds on the last frame
FORMATS = {".gif": "GIF", ".webp": "WebP", ".mp4": "MP4"}
PAD = 4  # white pixels around a label or a title
TITLE_MIN_PX = 10  # a column title shrinks this far before it is clipped (only tiny columns need it)


def compose(
    panels: Sequence[np.ndarray],
    scale: int = 1,
    label: str | None = None,
    gap: int = 6,
    titles: Sequence[str] | None = None,
) -> np.ndarray:
    """Panels side by side on white, nearest-neighbour scaled, with an optional label on top
    and an optional title above each panel (wrapped to its column's width: titles never overlap)."""
    scaled = [p.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else p for p in panels]
    h = max(p.shape[0] for p in scaled)
    w = sum(p.shape[1] for p in scaled) + gap * (len(scaled) - 1)
    label_lines = text.fit(text.pretty(label), w - 2 * PAD) if label else []
    titles = [text.pretty(t) for t in titles or ()]
    # One size for every title: the largest at which each title's widest word fits its column (clipped below
    # TITLE_MIN_PX, which only columns narrower than a word need).
    sizes = range(text.LABEL_PX, TITLE_MIN_PX - 1, -1)
    px = next(
        (
            s
            for s in sizes
            if all(text.fits_words(t, p.shape[1] - PAD, s) for t, p in zip(titles, scaled, strict=False))
        ),
        TITLE_MIN_PX,
    )
    title_lines = [text.fit(t, p.shape[1] - PAD, px) for t, p in zip(titles, scaled, strict=False)]
    title_rows = max((len(lines) for lines in title_lines), default=0)
    line, title_line = text.line_height(), text.line_height(px)
    top = (len(label_lines) * line + PAD if label_lines else 0) + (title_rows * title_line + PAD if title_rows else 0)
    canvas = np.full((h + top, w, 3), 255, np.uint8)
    x, lefts = 0, []
    for p in scaled:
        canvas[top : top + p.shape[0], x : x + p.shape[1]] = p
        lefts.append(x)
        x += p.shape[1] + gap
    if label_lines:
        image = Image.fromarray(canvas)
        draw = ImageDraw.Draw(image)
        for i, row in enumerate(label_lines):
            text.draw_text(draw, (PAD, PAD // 2 + i * line), row, (0, 0, 0))
        canvas = np.asarray(image).copy()
    y0 = top - title_rows * title_line - PAD // 2
    for left, lines, p in zip(lefts, title_lines, scaled, strict=False):
        column = Image.new("RGB", (p.shape[1], title_rows * title_line), (255, 255, 255))
        draw = ImageDraw.Draw(column)
        for i, row in enumerate(lines):  # centred over its column, clipped to it
            x = max(0, (p.shape[1] - text.text_width(row, px)) // 2)
            text.draw_text(draw, (x, i * title_line), row, (50, 50, 50), px)
        canvas[y0 : y0 + column.height, left : left + p.shape[1]] = np.asarray(column)
    return canvas


def animation_format(path: str | Path) -> str:
    """The animation format a file name asks for (GIF, WebP or MP4), or a DiffusionVizError naming the choices."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        given = f"'{suffix}'" if suffix else "no extension"
        raise DiffusionVizError(
            f"{path}: {given} is not an animation format this program writes; end the name in .gif, .webp or .mp4"
        )
    return FORMATS[suffix]


def write_animation(frames: Sequence[np.ndarray], path: str | Path, fps: float = 20.0, hold_s: float = HOLD_S) -> Path:
    """Frames as a looping animation in the format of ``path``'s extension, the last held ``hold_s`` s."""
    kind = animation_format(path)
    if not frames:
        raise DiffusionVizError("there are no frames to export")
    if not 0 < fps <= 100:
        raise DiffusionVizError("fps must lie in (0, 100]")
    if not 0 <= hold_s <= 60:
        raise DiffusionVizError("the hold on the last frame must lie in 0..60 s")
    path = check_target(path)
    frames = same_size(frames)
    writer = {"GIF": _gif, "WebP": _webp, "MP4": _mp4}[kind]
    return atomic_write(path, lambda tmp: writer(frames, tmp, fps, hold_s))


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0, hold_s: float = HOLD_S) -> Path:
    """An animated GIF of uint8 RGB frames at ``fps`` (looping, the last held ``hold_s`` s), written atomically."""
    if Path(path).suffix.lower() != ".gif":
        raise DiffusionVizError(f"{path}: a GIF's name ends in .gif")
    return write_animation(frames, path, fps, hold_s)


def durations_ms(n: int, fps: float, hold_s: float, tick: int = 1) -> list[int]:
    """Each frame's display time in ms (multiples of ``tick``), the last one ``hold_s`` longer."""
    each = max(tick, round(1000 / fps / tick) * tick)
    out = [each] * n
    out[-1] += round(1000 * hold_s / tick) * tick
    return out


def same_size(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Frames padded with white (centred, at the top) to the largest one, so an animation has one size."""
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    out = []
    for f in frames:
        if f.shape[:2] == (h, w):
            out.append(f)
            continue
        canvas = np.full((h, w, 3), 255, np.uint8)
        left = (w - f.shape[1]) // 2
        canvas[: f.shape[0], left : left + f.shape[1]] = f
        out.append(canvas)
    return out


def _gif(frames: list[np.ndarray], tmp: Path, fps: float, hold_s: float) -> None:
    images = [to_gif_palette(f) for f in frames]
    images[0].save(
        tmp,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations_ms(len(images), fps, hold_s, tick=10),  # GIF stores hundredths of a second
        loop=0,
        optimize=False,
        disposal=1,
    )


def _webp(frames: list[np.ndarray], tmp: Path, fps: float, hold_s: float) -> None:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        tmp,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=durations_ms(len(images), fps, hold_s),
        loop=0,
        quality=85,
        method=4,
    )


def _mp4(frames: list[np.ndarray], tmp: Path, fps: float, hold_s: float) -> None:
    """H.264 through PyAV (FFmpeg's libx264): a constant frame rate, so the hold repeats the last frame."""
    import av

    h, w = frames[0].shape[:2]
    even = [np.pad(f, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") for f in frames]  # yuv420p needs even sides
    held = even + [even[-1]] * round(hold_s * fps)
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = even[0].shape[1], even[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "medium"}
        for frame in held:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def to_gif_palette(frame: np.ndarray) -> Image.Image:
    """One frame as a 256-colour palette image, fitted to that frame.

    Pillow's default (median cut) takes ~20 ms for a noisy 256² frame and seconds for a smooth
    gradient; the fast octree takes ~2 ms at the same error on smooth images. Octree colours are
    cluster means, so a white background comes out as (254, 254, 254): entries within 5 levels of
    white or black are snapped to them, so backgrounds and labels stay exact.
    """
    image = Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    palette = np.asarray(image.getpalette(), np.uint8).reshape(-1, 3).copy()
    palette[(palette >= 250).all(axis=1)] = 255
    palette[(palette <= 5).all(axis=1)] = 0
    image.putpalette(palette.ravel().tolist())
    return image


def write_pngs(frames: Sequence[np.ndarray], folder: str | Path, prefix: str = "frame") -> list[Path]:
    """Numbered PNGs ``prefix_0000.png`` … in ``folder`` (created if missing), each written atomically."""
    if not frames:
        raise DiffusionVizError("there are no frames to export")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiffusionVizError(f"cannot create {folder}: {exc.strerror or exc}") from None
    paths = []
    for i, frame in enumerate(frames):
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG")
        target = folder / f"{prefix}_{i:04d}.png"
        paths.append(atomic_write_bytes(target, buf.getvalue()))
    return paths


def check_target(path: str | Path) -> Path:
    """``path`` as a Path if a file can be written there, else a DiffusionVizError saying why."""
    path = Path(path)
    if path.is_dir():
        raise DiffusionVizError(f"{path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise DiffusionVizError(f"the folder {path.parent} does not exist")
    return path
