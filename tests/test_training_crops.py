"""Training on random-scale crops of whole photos (#20): what the crops hold, and whole photos held out."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import DataError
from core.training.data import RandomScaleCrops, load_photos
from core.training.train import TrainConfig, train


def _stripes(h: int, w: int, period: int) -> np.ndarray:
    """Vertical black/white stripes ``period`` px wide: their contrast survives a crop at scale 1 only."""
    cols = (np.arange(w) // period) % 2 * 255
    return np.repeat(np.repeat(cols[None, :, None], h, 0), 3, 2).astype(np.uint8)


def test_crops_at_scale_one_keep_full_detail_and_crops_of_the_short_side_average_it_away():
    photo = _stripes(256, 384, 1)  # one-pixel stripes
    gen = torch.Generator().manual_seed(0)
    sharp = RandomScaleCrops([photo], 16, min_scale=1.0, max_scale=1.0).sample(8, gen)
    blurred = RandomScaleCrops([photo], 16, min_scale=16.0, max_scale=16.0).sample(8, gen)
    assert sharp.shape == blurred.shape == (8, 3, 16, 16)
    assert sharp.abs().min() == pytest.approx(1.0)  # every pixel pure black or white
    assert blurred.abs().max() < 0.1  # 16 stripes to a pixel: mid grey
    assert float(sharp.min()) >= -1.0 and float(sharp.max()) <= 1.0


def test_crop_scales_are_checked():
    with pytest.raises(DataError, match="scales"):
        RandomScaleCrops([_stripes(64, 64, 2)], 16, min_scale=4.0, max_scale=2.0)


def test_load_photos_keeps_each_photos_aspect_and_skips_tiny_ones(tmp_path):
    Image.fromarray(_stripes(300, 900, 3)).save(tmp_path / "wide.png")
    Image.fromarray(_stripes(8, 512, 3)).save(tmp_path / "sliver.png")
    photos, names = load_photos(tmp_path, long_side=450, min_side=32)
    assert names == ["wide.png"] and photos[0].shape == (150, 450, 3)
    with pytest.raises(DataError, match="no readable image"):
        load_photos(tmp_path, long_side=450, min_side=400)


def test_crop_training_holds_out_whole_photos(tmp_path):
    data = tmp_path / "photos"
    data.mkdir()
    for k in range(5):
        Image.fromarray(_stripes(64, 96, k + 1)).save(data / f"p{k}.png")
    cfg = TrainConfig(
        data=str(data), out=str(tmp_path / "m"), size=16, steps=2, batch_size=4, crop=True, holdout=0.4,
        base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, num_samples=2,
        checkpoint_every=2, log_every=1,
    )  # fmt: skip
    train(cfg, log=lambda _m: None)
    prov = json.loads((tmp_path / "m" / "config.json").read_text())["provenance"]
    assert len(prov["photos"]["held_out"]) == 2 and len(prov["photos"]["train"]) == 3
    assert not set(prov["photos"]["held_out"]) & set(prov["photos"]["train"])
    assert prov["crops"]["size"] == 16
