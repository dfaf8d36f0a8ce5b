"""The model that ships in assets/: it loads offline and its samples look like emoji on white."""

import json

import numpy as np

from core.diffusion.samplers import SamplerConfig
from core.models.checkpoint import BUNDLED_MODEL, load_model
from core.training.evaluate import sample_grid_images


def test_the_bundled_model_is_small_documented_and_safetensors_only():
    files = {p.name for p in BUNDLED_MODEL.iterdir()}
    assert {"config.json", "model.safetensors", "MODEL_CARD.md", "samples.png", "nearest_neighbours.png"} <= files
    assert not any(name.endswith((".pt", ".pth", ".bin", ".ckpt", ".pkl")) for name in files)
    assert sum(p.stat().st_size for p in BUNDLED_MODEL.iterdir()) < 20 * 1024 * 1024
    model = load_model(BUNDLED_MODEL, device="cpu")
    assert model.image_size == 32 and model.config["provenance"]["steps"] >= 1000


def test_the_model_card_reports_the_measured_bits_per_dim_and_command():
    card = (BUNDLED_MODEL / "MODEL_CARD.md").read_text()
    measured = json.loads((BUNDLED_MODEL / "evaluation.json").read_text())
    provenance = json.loads((BUNDLED_MODEL / "config.json").read_text())["provenance"]
    assert f"{measured['bpd']:.3f}" in card
    assert f"--steps {provenance['steps']}" in card and "--data emoji" in card


def test_bundled_samples_are_colourful_pictures_on_white():
    model = load_model(BUNDLED_MODEL, device="cpu")
    images = sample_grid_images(model, SamplerConfig(sampler="ddim", steps=20, seed=0), 16).astype(np.float32)
    ring = np.concatenate(
        [
            images[:, :2].reshape(16, -1, 3),
            images[:, -2:].reshape(16, -1, 3),
            images[:, :, :2].reshape(16, -1, 3),
            images[:, :, -2:].reshape(16, -1, 3),
        ],
        axis=1,
    )
    centre = images[:, 8:24, 8:24]
    saturation = centre.max(axis=-1) - centre.min(axis=-1)
    # Emoji are drawn on white: the border of most samples is near white ...
    assert np.median(ring.mean(axis=(1, 2))) > 220
    # ... and their centres are coloured, not grey blobs (pure grey has saturation 0).
    assert np.median(saturation.mean(axis=(1, 2))) > 40
    # ... and the samples differ from one another.
    assert images.reshape(16, -1).std(axis=0).mean() > 20
