"""The pictures a model was trained on, found from its provenance: emoji, a folder, or crops of named photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError
from core.models.checkpoint import load_model, save_model
from core.models.unet import UNet, UNetConfig
from core.training.model_data import PHOTOS_ENV, training_images


def tiny_photo_model(tmp_path):
    """A tiny fully convolutional model whose provenance names two training photos (and one held out), like
    the photo model's; the held-out photo is bright, the others dark. Returns (model, the photos' folder)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 120, (40, 60, 3), dtype=np.uint8)).save(photos / name)
    Image.fromarray(np.full((40, 60, 3), 250, np.uint8)).save(photos / "held.png")  # bright: easy to spot
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8))
    provenance = {
        "data": "2 photographs, random-scale crops",
        "photos": {"train": ["a.png", "b.png"], "held_out": ["held.png"]},
        "crops": {"size": 8, "min_scale": 1.0, "max_scale": "short side", "photo_side": 60},
    }
    folder = save_model(tmp_path / "tinyphoto", net, NoiseSchedule.cosine(50), "eps", provenance=provenance)
    return load_model(str(folder), "cpu"), photos


@pytest.fixture
def photo_model(tmp_path):
    return tiny_photo_model(tmp_path)


def test_photo_models_train_on_seeded_crops_of_their_training_photos_only(photo_model, monkeypatch):
    model, photos = photo_model
    monkeypatch.setenv(PHOTOS_ENV, str(photos))
    crops = training_images(model)
    assert crops.shape == (4096, 8, 8, 3) and crops.dtype == np.uint8
    assert crops.max() <= 125  # nothing from the held-out (bright) photo
    assert len(np.unique(crops.reshape(len(crops), -1), axis=0)) > 1000  # crops at many places and scales
    np.testing.assert_array_equal(training_images(model, str(photos)), crops)  # seeded: the same set each time
    bigger = training_images(model, size=16)
    assert bigger.shape == (1024, 16, 16, 3)  # the same number of pixels at twice the side


def test_a_photo_model_without_its_photos_is_one_line(photo_model, tmp_path, monkeypatch, capsys):
    model, photos = photo_model
    monkeypatch.delenv(PHOTOS_ENV, raising=False)
    assert main(["theory", "--model", str(model.path), "--n", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and PHOTOS_ENV in err and "--data" in err, err
    (photos / "b.png").unlink()
    with pytest.raises(DataError, match="lacks 1 of the 2 training photos"):
        training_images(model, str(photos))
