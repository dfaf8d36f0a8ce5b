"""The "What has it learned?" view through its plain inputs."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import Qt

from app.panels.learned import LearnedPanel
from core.diffusion.forward import q_sample
from core.models.checkpoint import load_model
from core.runs.theory import network_x0
from tests.test_model_data import tiny_photo_model


def _ideal_network(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
    return load_model(f"ideal:{tmp_path}", "cpu", ideal_size=8)


def _open(qtbot, model, wait: bool = True) -> LearnedPanel:
    """The panel on show with ``model`` (its closed forms built, unless ``wait`` is False)."""
    panel = LearnedPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_model(model)
    if wait:
        qtbot.waitUntil(lambda: panel.theories is not None, timeout=60_000)
    return panel


def test_a_network_that_is_the_ideal_denoiser_reads_r2_one_for_the_ideal(qtbot, tmp_path):
    model = _ideal_network(tmp_path)  # stands in for a network that memorised its five images
    panel = _open(qtbot, model)
    x_t = q_sample(model.schedule, torch.zeros(1, 3, 8, 8), 500, torch.randn(1, 3, 8, 8))
    panel.show_frame(x_t[0], 500, network_x0(model, x_t, 500)[0])
    qtbot.waitUntil(lambda: "r²" in panel.views["els"].caption, timeout=60_000)
    assert "(r² 1.00)" in panel.views["ideal"].caption
    assert panel.views["source"].image() is not None
    final = network_x0(model, x_t, 0)[0]
    panel.set_run([(x_t[0], 500, network_x0(model, x_t, 500)[0]), (final, -1, final)])
    qtbot.waitUntil(lambda: panel.views["nearest"].image() is not None, timeout=60_000)
    assert "RMS" in panel.views["nearest"].caption
    x, y = panel.curves["ideal"].getData()
    assert list(x) == [501] and abs(y[0] - 1.0) < 1e-6
    panel.shutdown()


def test_a_model_whose_data_is_missing_says_what_is_needed(qtbot, tmp_path):
    model = _ideal_network(tmp_path)
    model.config["provenance"]["data"] = "/no/such/pictures"
    panel = _open(qtbot, model, wait=False)
    qtbot.waitUntil(lambda: "cannot be found" in panel.status.text(), timeout=60_000)
    panel.shutdown()


def _run_from_noise(model, size=8, seed=0):
    """A two-frame run from x_T (index T−1) to its final sample, as the reverse panel hands it over."""
    x_T = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
    top = model.schedule.T - 1
    final = network_x0(model, x_T, 0)[0]
    return x_T, [(x_T[0], top, network_x0(model, x_T, top)[0]), (final, -1, final)]


def test_teleport_replaces_the_first_steps_and_says_how_far_the_end_moved(qtbot, tmp_path, monkeypatch):
    from core.diffusion.samplers import ddim_loop, final_step

    model, photos = tiny_photo_model(tmp_path)  # an untrained UNet: it does not land where its Gaussian would
    monkeypatch.setenv("DIFFUSION_VIZ_PHOTOS", str(photos))
    panel = _open(qtbot, model)
    x_T, frames = _run_from_noise(model)
    panel.set_run(frames)
    panel.teleport_steps.setValue(8)
    panel.teleport_share.setValue(25)
    qtbot.mouseClick(panel.teleport_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.teleport_result is not None, timeout=60_000)
    result = panel.teleport_result
    assert result.skipped_steps == 2 and "teleport 2/8" in panel.views["teleport"].caption
    untouched = final_step(ddim_loop(model, model.schedule, x_T, num_steps=8, prediction=model.prediction)).x_prev
    torch.testing.assert_close(result.untouched, untouched)  # measured against the plain run from the same x_T
    assert float(result.rms[0]) > 0.5 and f"RMS {float(result.rms[0]):.1f}" in panel.status.text()
    assert panel.views["teleport"].image() is not None
    panel.teleport_result = None
    panel.teleport_share.setValue(0)  # nothing teleported: the very same run
    qtbot.mouseClick(panel.teleport_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.teleport_result is not None, timeout=60_000)
    assert float(panel.teleport_result.rms[0]) == 0.0
    panel.shutdown()


def test_teleport_needs_a_run_from_pure_noise(qtbot, tmp_path):
    model = _ideal_network(tmp_path)
    panel = _open(qtbot, model)
    x_t = q_sample(model.schedule, torch.zeros(1, 3, 8, 8), 500, torch.randn(1, 3, 8, 8))
    panel.set_run([(x_t[0], 500, network_x0(model, x_t, 500)[0])])  # an SDEdit run: no x_T
    qtbot.mouseClick(panel.teleport_button, Qt.MouseButton.LeftButton)
    assert "pure noise" in panel.status.text() and panel.teleport_result is None
    panel.shutdown()


def test_a_photo_model_without_its_photos_says_what_is_needed_then_takes_the_folder(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("DIFFUSION_VIZ_PHOTOS", raising=False)
    model, photos = tiny_photo_model(tmp_path)
    panel = _open(qtbot, model, wait=False)
    qtbot.waitUntil(lambda: "DIFFUSION_VIZ_PHOTOS" in panel.status.text(), timeout=60_000)
    assert len(panel.status.text().splitlines()) == 1 and panel.data_button.isVisible()
    panel.set_data_folder(str(photos))
    qtbot.waitUntil(lambda: panel.theories is not None, timeout=60_000)
    assert not panel.data_button.isVisible() and "at 8²" in panel.status.text()
    # A run at another side (the model is fully convolutional): the closed forms are rebuilt at that side.
    x_t = torch.randn(3, 16, 16)
    panel.show_frame(x_t, 30, x_t)
    qtbot.waitUntil(lambda: panel.theories is not None and panel.theories.ideal.images.shape[-1] == 16, timeout=60_000)
    qtbot.waitUntil(lambda: "r²" in panel.views["els"].caption, timeout=60_000)
    panel.shutdown()
