"""What the window reads and writes goes through its controllers, off the GUI thread, and a bad folder changes nothing."""

import threading

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QSettings

import app.window
from app.window import MainWindow
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import load_model, save_model
from core.models.unet import UNet, UNetConfig


@pytest.fixture
def window(qtbot, tmp_path):
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8))
    model_dir = save_model(tmp_path / "tiny-model", net, NoiseSchedule.cosine(100), "eps")
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.set_model(load_model(model_dir))
    yield w
    w.reverse.shutdown()
    w.files.shutdown()


@pytest.fixture
def pictures(tmp_path):
    """Three 12² pictures of noise in a folder."""
    folder = tmp_path / "pics"
    folder.mkdir()
    for i, picture in enumerate(np.random.default_rng(0).integers(0, 256, (3, 12, 12, 3), dtype=np.uint8)):
        Image.fromarray(picture).save(folder / f"{i}.png")
    return folder


def _model_menu(window) -> list[str]:
    row = window.compare.rows[0].model
    return [row.itemText(i) for i in range(row.count())]


def test_a_picture_folder_is_read_on_the_files_worker_and_lands_in_compare(window, qtbot, pictures, monkeypatch):
    threads = []

    def spy(spec, *args, **kwargs):
        threads.append(threading.current_thread())
        return load_model(spec, *args, **kwargs)

    monkeypatch.setattr(app.window, "load_model", spy)
    with qtbot.waitSignal(window.files_worker.finished, timeout=20000):
        job = window.open_ideal_folder(pictures)
        assert job and window.busy_bar.isVisibleTo(window)  # said at once, read later
        assert "ideal:pics" not in _model_menu(window)
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert "ideal:pics" in _model_menu(window)
    assert window.right_tabs.currentWidget() is window.compare
    assert not window.busy_bar.isVisibleTo(window)


def test_a_bad_picture_folder_is_one_line_and_keeps_compares_models(window, qtbot, tmp_path):
    before = _model_menu(window)
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(window.files_worker.failed, timeout=20000):
        window.open_ideal_folder(tmp_path / "empty")
    qtbot.waitUntil(lambda: "empty" in window.banner.text(), timeout=5000)
    assert "\n" not in window.banner.text() and "Traceback" not in window.banner.text()
    assert _model_menu(window) == before and window.compare.extra_models == []
    assert not window.busy_bar.isVisibleTo(window)


def test_the_bound_reads_the_forward_state_and_reports_through_its_controller(window, qtbot):
    window.state.set_image(np.full((8, 8, 3), 128, np.uint8), "grey")
    computed = []
    window.bound.computed.connect(lambda terms, prior, domain: computed.append((terms, prior)))
    with qtbot.waitSignal(window.bound.computed, timeout=30000):
        assert window.compute_bound()
    terms, prior = computed[0]
    assert terms.shape == (100,) and np.isfinite(terms).all() and prior >= 0
    assert window.run_plots.T == 100
