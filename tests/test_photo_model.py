"""The photo model and the window around it (#20): any size, its own default size, the domain line."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings

from app.window import MainWindow
from assets import MODELS, PHOTOS, SAMPLE_IMAGE
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import BUNDLED_MODEL, load_model, save_model
from core.models.sizes import default_run_size, run_sizes
from core.models.unet import UNet, UNetConfig

PHOTO_MODEL = MODELS / "photo"


def test_the_photo_model_runs_at_64_128_and_256_with_the_same_weights():
    model = load_model(PHOTO_MODEL, device="cpu")
    assert {64, 128, 256} <= set(run_sizes(model)) and default_run_size(model) == 128
    gen = torch.Generator().manual_seed(0)
    for side in (64, 128, 256):
        x = torch.randn(1, 3, side, side, generator=gen)
        with torch.inference_mode():
            out = model(x, torch.tensor([500]))
        assert out.shape == x.shape and torch.isfinite(out).all()


def test_the_bundled_emoji_model_runs_at_its_own_size_only():
    model = load_model(BUNDLED_MODEL, device="cpu")
    assert run_sizes(model) == (32,) and default_run_size(model) == 32


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    yield w
    w.reverse.shutdown()
    w.bound_worker.shutdown()


def test_a_convolutional_model_offers_its_sizes_and_the_run_uses_the_one_picked(window, tmp_path):
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8))
    window.set_model(load_model(save_model(tmp_path / "conv", net, NoiseSchedule.cosine(60), "v")))
    offered = [window.reverse.size_box.itemData(i) for i in range(window.reverse.size_box.count())]
    assert offered == [8, 64, 128, 256] and window.reverse.size_box.isEnabled()
    window.state.set_image(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8), "p.png")
    window.state.set_t(30)
    window.reverse.size_box.setCurrentIndex(offered.index(64))
    window.reverse.session.set_spec(window.reverse.spec())
    x, x0 = window.reverse.session.start()
    assert tuple(x.shape[-2:]) == (64, 64) and tuple(x0.shape[-2:]) == (64, 64)
    assert "centre-cropped to 64×64" in window.reverse.note.text()


def _bound_of(window, qtbot, image):
    assert window.open_image(image)
    with qtbot.waitSignal(window.bound_worker.finished, timeout=60000, check_params_cb=lambda j, r: r is not None):
        window.compute_bound()
    return window.reverse.domain.text()


def test_the_domain_line_appears_for_a_photo_under_emoji32_and_not_for_an_emoji(window, qtbot):
    window.set_model(load_model(BUNDLED_MODEL))
    line = _bound_of(window, qtbot, PHOTOS / "dandelion.jpg")
    assert "emoji32 was trained on emoji" in line and "photo model" in line
    assert _bound_of(window, qtbot, SAMPLE_IMAGE) == ""
