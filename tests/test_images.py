"""Whatever a user drops on the window: every outcome is an RGB image or one ImageLoadError."""

import builtins
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import ImageLoadError
from core.imaging.images import load_image


def _rgb(path):
    image = load_image(path)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    return image


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red; the rest fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = _rgb(tmp_path / "a.png")
    assert tuple(image[0, 0]) == (255, 0, 0) and tuple(image[3, 3]) == (255, 255, 255)


def test_palette_with_transparency(tmp_path):
    p = Image.new("P", (3, 3), 0)
    p.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    p.putpixel((1, 1), 1)
    p.save(tmp_path / "p.png", transparency=0)
    image = _rgb(tmp_path / "p.png")
    assert tuple(image[0, 0]) == (255, 255, 255) and tuple(image[1, 1]) == (0, 255, 0)


def test_sixteen_bit_greyscale_keeps_its_range(tmp_path):
    data = np.array([[0, 32768, 65535]], np.uint16)
    Image.fromarray(data).save(tmp_path / "g16.png")
    image = _rgb(tmp_path / "g16.png")
    assert image[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize("mode", ["L", "1", "LA", "CMYK", "I", "F", "RGB"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    image = Image.new(mode, (5, 4))
    suffix = ".jpg" if mode == "CMYK" else ".tiff" if mode in ("I", "F") else ".png"
    image.save(tmp_path / f"x{suffix}")
    assert _rgb(tmp_path / f"x{suffix}").shape == (4, 5, 3)


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (6, 2), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise
    image.save(tmp_path / "r.jpg", exif=exif)
    assert _rgb(tmp_path / "r.jpg").shape == (6, 2, 3)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animations_give_their_first_frame(tmp_path, fmt):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / f"anim.{fmt.lower()}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    image = _rgb(path)
    assert image[4, 4, 0] > 200 and image[4, 4, 2] < 50


def test_a_single_pixel(tmp_path):
    Image.new("RGB", (1, 1), (1, 2, 3)).save(tmp_path / "one.png")
    assert _rgb(tmp_path / "one.png").tolist() == [[[1, 2, 3]]]


def _png_claiming(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(100_000, 100_000))
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("hello"), "not an image"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: None, "does not exist"),
        (lambda p: p.write_bytes(b""), "not an image"),
    ],
)
def test_non_images_get_a_message(tmp_path, make, message):
    path = tmp_path / "thing.png"
    make(path)
    with pytest.raises(ImageLoadError, match=message):
        load_image(path)


def test_a_truncated_file_is_reported(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    (tmp_path / "cut.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match="truncated or corrupt"):
        load_image(tmp_path / "cut.png")


def test_an_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads any file: refuse it the way the kernel would refuse a user
        real_open = builtins.open

        def guarded_open(file, *args, **kwargs):
            if Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded_open)
    with pytest.raises(ImageLoadError, match="permission denied"):
        load_image(path)


def _real_files():
    rng = np.random.default_rng(0)
    pixels = Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))
    files = []
    for fmt, kwargs in [("PNG", {}), ("JPEG", {}), ("GIF", {}), ("WEBP", {}), ("BMP", {}), ("TIFF", {})]:
        buf = io.BytesIO()
        pixels.save(buf, fmt, **kwargs)
        files.append(buf.getvalue())
    return files


REAL = _real_files()
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _only_image_or_our_error(path):
    try:
        image = load_image(path)
    except ImageLoadError as exc:
        assert str(exc)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(tmp_path, data):
    path = tmp_path / "random.img"
    path.write_bytes(data)
    _only_image_or_our_error(path)


@FUZZ
@given(which=st.integers(0, len(REAL) - 1), cut=st.floats(0, 1), flip=st.integers(0, 4000))
def test_random_truncations_and_corruptions_of_real_images(tmp_path, which, cut, flip):
    data = bytearray(REAL[which][: int(len(REAL[which]) * cut)])
    if data and flip % 3 == 0:
        data[flip % len(data)] ^= 0xFF
    path = tmp_path / "damaged.img"
    path.write_bytes(bytes(data))
    _only_image_or_our_error(path)
