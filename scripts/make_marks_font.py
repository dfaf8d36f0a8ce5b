"""Build assets/fonts/DiffusionVizMarks.ttf: the marked letters of the papers (x̂, v̂, ε̂, ŝ, β̃, μ̃) as whole glyphs.

Qt places a combining hat with the font's own anchors, and DejaVu Sans's anchor for x + U+0302 lifts the
hat a whole line (the window showed "predǐction" above an x with no hat). A letter drawn as one glyph
cannot lose its mark: each glyph here is a composite of DejaVu Sans's letter and its spacing mark (ˆ or ˜)
centred above the letter's ink, mapped to a code point of Supplementary Private Use Area-A that no system
font draws, so Qt's font fallback finds it here whatever the window's font. :mod:`app.views.marks` maps
"x̂" to it. DejaVu Sans's licence lets a derived font be shipped under a name without "Bitstream" or "Vera".

    python scripts/make_marks_font.py        # rewrites assets/fonts/DiffusionVizMarks.ttf
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.views.marks_table import FAMILY, MARKED_LETTERS  # noqa: E402

SPACING = {"\u0302": "\u02c6", "\u0303": "\u02dc"}
GAP = 142  # font units between the letter's top and the mark: DejaVu's own gap above an x


def build(source: Path, target: Path) -> None:
    font = TTFont(str(source))
    cmap, glyf, hmtx = font.getBestCmap(), font["glyf"], font["hmtx"]
    for text, code in MARKED_LETTERS.items():
        base, mark = cmap[ord(text[0])], cmap[ord(SPACING[text[1]])]
        b, m = glyf[base], glyf[mark]
        b.recalcBounds(glyf)
        m.recalcBounds(glyf)
        dx = round((b.xMin + b.xMax) / 2 - (m.xMin + m.xMax) / 2)
        dy = max(0, b.yMax + GAP - m.yMin)
        pen = TTGlyphPen(glyf)
        pen.addComponent(base, (1, 0, 0, 1, 0, 0))
        pen.addComponent(mark, (1, 0, 0, 1, dx, dy))
        name = f"marked_{code:X}"
        glyf[name] = pen.glyph()  # glyf adds the name to the font's glyph order
        hmtx[name] = (hmtx[base][0], hmtx[base][1])
        for table in font["cmap"].tables:
            if table.isUnicode() and table.format in (12, 13):
                table.cmap[code] = name
    if not any(t.format == 12 for t in font["cmap"].tables):
        from fontTools.ttLib.tables._c_m_a_p import cmap_format_12

        table = cmap_format_12(12)
        table.platformID, table.platEncID, table.language = 3, 10, 0
        table.cmap = {**font.getBestCmap(), **{c: f"marked_{c:X}" for c in MARKED_LETTERS.values()}}
        font["cmap"].tables.append(table)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=list(MARKED_LETTERS.values()))
    subsetter.subset(font)
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 16):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID in (4, 18):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            names.setName(FAMILY.replace(" ", ""), 6, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 3:
            names.setName(f"{FAMILY}: derived from DejaVu Sans", 3, record.platformID, record.platEncID, record.langID)
    font.save(str(target))


if __name__ == "__main__":
    build(ROOT / "assets" / "fonts" / "DejaVuSans.ttf", ROOT / "assets" / "fonts" / "DiffusionVizMarks.ttf")
    print("wrote assets/fonts/DiffusionVizMarks.ttf")
