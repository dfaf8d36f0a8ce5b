"""Maths marks (x̂₀, ε̂, v̂, β̃) that read right in whatever font the window falls back to.

Qt places a combining hat (U+0302) with the anchors of the font that draws it, and they fail: DejaVu
Sans, Debian's default, lifts the hat of an x a whole line ("predǐction" above an x with no hat); a font
without the mark takes it from another, which puts it on the next letter ("šampling") or nowhere
("RMS(x₀ − x₀)"). So a marked letter is never left to a combining mark: :func:`mark` swaps each one for a
whole glyph of the shipped font *DiffusionViz Marks* (``assets/fonts/DiffusionVizMarks.ttf``, DejaVu
Sans's letter with its spacing mark above it, built by ``scripts/make_marks_font.py``), at a code point
of Supplementary Private Use Area-A that no system font draws, so Qt's fallback finds it there.

- plain text (labels, captions, combo items, tooltips, plot titles): ``mark("predicted x̂₀")``;
- rich text: :func:`math_html` also turns ``x_t`` into a subscript and newlines into line breaks.

:func:`install` registers the font and adds it to the application font's families (a window calls it
once; the helpers call it too).
"""

from __future__ import annotations

import html
import re

from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication

from app.views.marks_table import FAMILY, MARKED_LETTERS
from assets import asset_path

FONT_FILE = asset_path("fonts", "DiffusionVizMarks.ttf")
SUBSCRIPT = re.compile(r"_(\{[^}]*\}|[A-Za-z0-9θ]+)")
_MARKED = re.compile("|".join(re.escape(k) for k in MARKED_LETTERS))
_installed = False


def install() -> bool:
    """Register the marks font and put it behind the application font's own families; True when it loaded."""
    global _installed
    if _installed:
        return True
    if QGuiApplication.instance() is None or QFontDatabase.addApplicationFont(str(FONT_FILE)) < 0:
        return False
    font = QFont(QGuiApplication.font())
    families = [f for f in font.families() if f != FAMILY] or [font.family()]
    font.setFamilies([*families, FAMILY])
    QGuiApplication.setFont(font)
    _installed = True
    return True


def mark(text: str) -> str:
    """``text`` with each marked letter (x̂, v̂, ε̂, ŝ, β̃, μ̃) as one glyph of the marks font."""
    install()
    return _MARKED.sub(lambda m: chr(MARKED_LETTERS[m[0]]), text)


def unmark(text: str) -> str:
    """The inverse of :func:`mark`: the letters with their combining marks again (for tests and copying)."""
    back = {chr(code): letters for letters, code in MARKED_LETTERS.items()}
    return "".join(back.get(ch, ch) for ch in text)


def math_html(text: str) -> str:
    """``text`` as rich text with its marks: ``x_t`` / ``L_{t−1}`` as subscripts, newlines as line breaks.

    Text that already holds tags is kept as it is apart from the marks."""
    if "<" not in text:
        text = html.escape(text, quote=False).replace("\n", "<br>")
        text = SUBSCRIPT.sub(lambda m: f"<sub>{m[1].strip('{}')}</sub>", text)
    install()
    return _MARKED.sub(lambda m: f"<span style=\"font-family:'{FAMILY}'\">{chr(MARKED_LETTERS[m[0]])}</span>", text)


def tooltip(text: str) -> str:
    """A tooltip with marks and subscripts (rich text)."""
    return f"<qt>{math_html(text)}</qt>"
