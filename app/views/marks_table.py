"""The marked letters the shipped marks font draws whole, and their code points (Qt-free: the font's builder reads it)."""

FAMILY = "DiffusionViz Marks"
# letter + combining mark → a code point of Supplementary Private Use Area-A (plane 15), which no system font draws
MARKED_LETTERS = {
    "x\u0302": 0xF0E00,  # x̂
    "v\u0302": 0xF0E01,  # v̂
    "\u03b5\u0302": 0xF0E02,  # ε̂
    "s\u0302": 0xF0E03,  # ŝ
    "\u03b2\u0303": 0xF0E04,  # β̃
    "\u03bc\u0303": 0xF0E05,  # μ̃
}
