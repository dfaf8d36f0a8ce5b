"""Labels on exported frames, drawn with the shipped DejaVu Sans so x̂₀, ε̂ and β̃ read as in the papers.

Pillow's basic text layout puts a combining mark (U+0302 the hat, U+0303 the tilde, U+0304 the bar)
where the font's own bearing lands it, which is right over an x and wrong over a β (the tilde vanishes);
libraqm, which places marks properly, is not on every machine. So each mark is drawn here as its
spacing form (ˆ ˜ ¯) centred over its letter, just above the letter's own top: one rule for every base.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from assets import asset_path

FONT_PATH = asset_path("fonts", "DejaVuSans.ttf")
LABEL_PX = 16  # at least 14 px: readable on a projected slide
SPACING_FORMS = {"\u0302": "\u02c6", "\u0303": "\u02dc", "\u0304": "\u00af"}
SUBSCRIPTS = dict(zip("0123456789t", "₀₁₂₃₄₅₆₇₈₉ₜ", strict=True))


@lru_cache(maxsize=8)
def font(px: int = LABEL_PX) -> ImageFont.FreeTypeFont:
    """The label font at ``px`` pixels, with the basic layout (the same on every machine)."""
    return ImageFont.truetype(str(FONT_PATH), px, layout_engine=ImageFont.Layout.BASIC)


def pretty(text: str) -> str:
    """ASCII maths as it reads in the papers: ``x_t`` → xₜ, ``x_0`` → x₀ (a one-character subscript)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "_" and i + 1 < len(text) and text[i + 1] in SUBSCRIPTS:
            out.append(SUBSCRIPTS[text[i + 1]])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def clusters(text: str) -> list[tuple[str, str]]:
    """``text`` as (base, combining marks) pairs: "x̂₀" → [("x", "\u0302"), ("₀", "")]."""
    out: list[tuple[str, str]] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and out:
            base, marks = out[-1]
            out[-1] = (base, marks + ch)
        else:
            out.append((ch, ""))
    # Letters that have a precomposed form (ᾱ, split by NFD into α + ¯) come back whole: the font draws those.
    whole = [(unicodedata.normalize("NFC", b + m), m) for b, m in out]
    return [(nfc, "") if len(nfc) == 1 else (b, m) for (b, m), (nfc, _) in zip(out, whole, strict=True)]


def text_width(text: str, px: int = LABEL_PX) -> int:
    """The drawn width of ``text`` in pixels (marks take no width)."""
    f = font(px)
    return round(sum(f.getlength(base) for base, _ in clusters(text)))


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, fill, px: int = LABEL_PX) -> None:
    """Draw ``text`` in a line whose top left is ``xy``, each combining mark centred above its letter."""
    f = font(px)
    x, y = xy[0], xy[1] + px // 4  # the line's top: room for a hat above the tallest letter (line_height)
    for base, marks in clusters(text):
        draw.text((x, y), base, fill=fill, font=f)
        width = f.getlength(base)
        top = y + ink(base, px)[1]  # the letter's own top: an x is lower than a β
        for mark in marks:
            glyph = SPACING_FORMS.get(mark)
            if glyph is None:
                continue
            left, mtop, right, bottom = ink(glyph, px)
            mx = x + (width - (right - left)) / 2 - left
            my = top - 1 - bottom  # the mark's lowest ink one pixel above the letter
            draw.text((mx, my), glyph, fill=fill, font=f)
            top = my + mtop
        x += width


@lru_cache(maxsize=256)
def ink(glyph: str, px: int = LABEL_PX) -> tuple[int, int, int, int]:
    """Where ``glyph`` leaves ink, drawn at (0, 0): (left, top, right, bottom) in px, as measured on pixels
    (Pillow's own boxes of spacing marks reach down to the baseline)."""
    probe = Image.new("L", (3 * px, 3 * px), 0)
    ImageDraw.Draw(probe).text((0, 0), glyph, fill=255, font=font(px))
    return probe.getbbox() or (0, 0, 0, 0)


def fit(text: str, width: int, px: int = LABEL_PX) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` (a word wider than that stands alone)."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", px) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def fits_words(text: str, width: int, px: int = LABEL_PX) -> bool:
    """Whether every word of ``text`` is at most ``width`` px wide at ``px``."""
    return all(text_width(word, px) <= width for word in text.split())


def line_height(px: int = LABEL_PX) -> int:
    """Pixels per line of labels: the font's height with room for a hat above."""
    ascent, descent = font(px).getmetrics()
    return ascent + descent + px // 4
