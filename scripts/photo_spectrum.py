"""Fit gaussian:photos — the stationary Gaussian of the photo model's *training* photos — and ship it.

Usage: .venv/bin/python scripts/photo_spectrum.py MODEL_DIR PHOTO_FOLDER [OUT.npz]

The training photos are not shipped, so their spectrum is: the centre square and 8 random-scale crops of each
training photo (the model's provenance names them; the held-out ones are left out), at 128², with the same
crop rule as training. Written to assets/models/photo/gaussian_spectrum.npz by default.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.imaging.images import center_square  # noqa: E402
from core.imaging.scaling import tensor_to_images  # noqa: E402
from core.models.gaussian import PHOTO_SPECTRUM, fit_spectrum, spectrum_summary  # noqa: E402
from core.training.data import RandomScaleCrops, load_photos  # noqa: E402


def main() -> None:
    model, folder = Path(sys.argv[1]), Path(sys.argv[2])
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else PHOTO_SPECTRUM
    prov = json.loads((model / "config.json").read_text())["provenance"]
    photos, names = load_photos(folder, int(prov["crops"]["photo_side"]), min_side=128)
    train = [photos[names.index(n)] for n in prov["photos"]["train"]]
    gen = torch.Generator().manual_seed(0)
    pictures = [np.stack([center_square(p, 128) for p in train])]
    for photo in train:
        pictures.append(tensor_to_images(RandomScaleCrops([photo], 128).sample(8, gen)))
    spectrum = fit_spectrum(np.concatenate(pictures), f"the photo model's {len(train)} training photos")
    spectrum.save(out)
    print(f"wrote {out}: {spectrum_summary(spectrum)}")


if __name__ == "__main__":
    main()
