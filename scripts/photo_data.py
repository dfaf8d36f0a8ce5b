"""Gather the photo model's training photographs from Debian's wallpaper packages into one folder.

    sudo apt-get install mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers
    python scripts/photo_data.py runs/photos          # copies the photos, writes runs/photos/SOURCES.json

Only photographs (no drawings or renders), picked by eye from the packages' pictures. The author and the
licence of each come from the package's ``debian/copyright`` (plasma-workspace-wallpapers states one licence
for every file; its authors are from each wallpaper's metadata.json). CC-BY-SA-3.0 pictures are left out so
that every licence here allows the weights trained on them to be shared under GPL-3.0-or-later
(see assets/models/photo/MODEL_CARD.md). Nothing here is downloaded: a missing package is reported.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

PLASMA = "/usr/share/wallpapers/{}/contents/images/{}"
MATE = "/usr/share/backgrounds/mate/nature/{}"
LOMIRI = "/usr/share/backgrounds/{}"

# (file, package, author, licence)
PHOTOS = [
    (PLASMA.format("BytheWater", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Maciej Wiklo", "GPL-2+"),
    (PLASMA.format("ColdRipple", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Risto Saukonpää", "GPL-2+"),
    (PLASMA.format("ColorfulCups", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Dmitri Popov", "GPL-2+"),
    (PLASMA.format("DarkestHour", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Risto Saukonpää", "GPL-2+"),
    (PLASMA.format("EveningGlow", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Ian Hex", "GPL-2+"),
    (PLASMA.format("FallenLeaf", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Martin Klapetek", "GPL-2+"),
    (PLASMA.format("Grey", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Sigi Sagi", "GPL-2+"),
    (PLASMA.format("Kite", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Risto Saukonpää", "GPL-2+"),
    (PLASMA.format("OneStandsOut", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Risto Saukonpää", "GPL-2+"),
    (PLASMA.format("Path", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Risto Saukonpää", "GPL-2+"),
    (PLASMA.format("summer_1am", "2560x1600.jpg"), "plasma-workspace-wallpapers", "Risto Saukonpää", "GPL-2+"),
    (MATE.format("Aqua.jpg"), "mate-backgrounds", "Charles Barbin", "GPL-2+"),
    (MATE.format("Blinds.jpg"), "mate-backgrounds", "Lennart Poettering", "GPL-2+"),
    (MATE.format("Dune.jpg"), "mate-backgrounds", "Marco Cogoni", "GPL-2+"),
    (MATE.format("FreshFlower.jpg"), "mate-backgrounds", "Jens Ansorg", "GPL-2+"),
    (MATE.format("Garden.jpg"), "mate-backgrounds", "Charles Barbin", "GPL-2+"),
    (MATE.format("GreenMeadow.jpg"), "mate-backgrounds", "Timothy Schellhase", "GPL-2+"),
    (MATE.format("LadyBird.jpg"), "mate-backgrounds", "Charles Barbin", "GPL-2+"),
    (MATE.format("RainDrops.jpg"), "mate-backgrounds", '"blackcombwhistler07"', "GPL-2+"),
    (MATE.format("Storm.jpg"), "mate-backgrounds", "Sergey Nazarov", "GPL-2+"),
    (MATE.format("TwoWings.jpg"), "mate-backgrounds", "Charles Barbin", "GPL-2+"),
    (MATE.format("Wood.jpg"), "mate-backgrounds", "Jean-François Fortin Tam", "GPL-2+"),
    (MATE.format("YellowFlower.jpg"), "mate-backgrounds", "Charles Barbin", "GPL-2+"),
    (LOMIRI.format("Bridge_by_Sander_Klootwijk.jpg"), "lomiri-wallpapers-16.04", "Sander Klootwijk", "CC-BY-SA-4.0"),
    (LOMIRI.format("Dragonfly_by_Bolly.jpg"), "lomiri-wallpapers-16.04", '"Bolly"', "CC-BY-SA-4.0"),
    (LOMIRI.format("Picture_0B_by_freespace.jpg"), "lomiri-wallpapers-16.04", 'Trevor "Freespace"', "CC-BY-4.0"),
    (LOMIRI.format("Picture_1A_by_freespace.jpg"), "lomiri-wallpapers-16.04", 'Trevor "Freespace"', "CC-BY-4.0"),
    (LOMIRI.format("Wine_by_Jakkub_Mede.jpg"), "lomiri-wallpapers-16.04", "Jakub Mede", "CC-BY-4.0"),
    (LOMIRI.format("aitzgorri_by_Aitzol_Berasategi.jpg"), "lomiri-wallpapers-16.04", "Aitzol Berasategi", "CC-BY-4.0"),
    (LOMIRI.format("analogpattern_by_Peter_Nerlich.jpg"), "lomiri-wallpapers-16.04", "Peter Nerlich", "CC-BY-SA-4.0"),
    (LOMIRI.format("free_by_Peter_Nerlich.jpg"), "lomiri-wallpapers-16.04", "Peter Nerlich", "CC-BY-SA-4.0"),
    (LOMIRI.format("friends_by_Aitzol_Berasategi.jpg"), "lomiri-wallpapers-16.04", "Aitzol Berasategi", "CC-BY-4.0"),
    (LOMIRI.format("greentock_by_Peter_Nerlich.jpg"), "lomiri-wallpapers-16.04", "Peter Nerlich", "CC-BY-SA-4.0"),
    (LOMIRI.format("life_by_Aitzol_Berasategi.jpg"), "lomiri-wallpapers-16.04", "Aitzol Berasategi", "CC-BY-4.0"),
    (
        LOMIRI.format("picosdeeuropa_by_Aitzol_Berasategi.jpg"),
        "lomiri-wallpapers-16.04",
        "Aitzol Berasategi",
        "CC-BY-4.0",
    ),
    (LOMIRI.format("seeding_by_Clements_Engelhardt.jpg"), "lomiri-wallpapers-16.04", "Clemens Engelhardt", "CC0-1.0"),
    (LOMIRI.format("sunset_by_Aitzol_Berasategi.jpg"), "lomiri-wallpapers-16.04", "Aitzol Berasategi", "CC-BY-4.0"),
]


def name_of(path: str) -> str:
    """A flat, unique file name: the plasma wallpapers are all called 2560x1600.jpg."""
    p = Path(path)
    return f"{p.parts[4]}.jpg" if path.startswith("/usr/share/wallpapers/") else p.name


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: python scripts/photo_data.py OUT_FOLDER", file=sys.stderr)
        return 2
    out = Path(argv[0])
    missing = sorted({pkg for path, pkg, _, _ in PHOTOS if not Path(path).is_file()})
    if missing:
        print(f"error: install the packages first: sudo apt-get install {' '.join(missing)}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    sources = []
    for path, package, author, licence in PHOTOS:
        shutil.copyfile(path, out / name_of(path))
        sources.append(
            {"file": name_of(path), "source": path, "package": package, "author": author, "licence": licence}
        )
    (out / "SOURCES.json").write_text(json.dumps(sources, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(sources)} photos and SOURCES.json to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
