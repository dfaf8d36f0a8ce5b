"""The Analysis dock as a learner uses it: spectra follow the slider and the frame on show, continuations,
the exposure monitor, the ladder, and one clear line for bad input."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings

from app.window import MainWindow
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import load_model, save_model
from core.models.unet import UNet, UNetConfig

TINY = UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=16)


@pytest.fixture
def window(qtbot, tmp_path):
    torch.manual_seed(0)
    folder = save_model(tmp_path / "tiny", UNet(TINY), NoiseSchedule.cosine(40), "v")
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.set_model(load_model(folder))
    x = np.linspace(0, 255, 64)
    w.state.set_image(np.stack([np.add.outer(x, x) / 2] * 3, -1).astype(np.uint8), "ramp.png")
    w.state.set_t(w.state.T * 3 // 4)
    w.show()
    w.analysis.show()
    yield w
    w.analysis.worker.shutdown()
    w.reverse.shutdown()
    w.bound_worker.shutdown()


def _play(window, qtbot):
    window.reverse.start()
    qtbot.waitUntil(lambda: window.reverse.record is not None and window.reverse.record.done, timeout=30_000)
    window.reverse.seek(3)


def test_the_spectrum_and_ladder_follow_the_forward_slider(window, qtbot):
    window.state.set_t(10)
    qtbot.waitUntil(lambda: "forward panel, t = 10" in window.analysis.spectrum.readout.text(), timeout=3000)
    early = window.analysis.spectrum.cutoff
    assert window.analysis.spectrum.alpha is not None
    window.state.set_t(35)
    qtbot.waitUntil(lambda: "t = 35" in window.analysis.spectrum.readout.text(), timeout=3000)
    assert window.analysis.spectrum.cutoff < early  # more noise drowns more of the spectrum
    rungs = window.analysis.ladder.rungs
    assert [r.factor for r in rungs] == [1, 2, 4] and rungs[1].snr > 2 * rungs[0].snr
    assert "t = 35" in window.analysis.ladder.explain.text()


def test_the_spectrum_follows_the_frame_on_show(window, qtbot):
    _play(window, qtbot)
    frame = window.reverse.current_frame()
    qtbot.waitUntil(lambda: f"reverse run, t = {frame.t}" in window.analysis.spectrum.readout.text(), timeout=3000)
    assert len(window.analysis.spectrum.curves["x0_hat"].getData()[0]) > 0


def test_continuations_of_the_frame_on_show_and_bad_k_keep_the_state(window, qtbot):
    view = window.analysis.decided
    view.k.setValue(0)
    view.continue_button.click()
    assert "no frame" in view.status.text() or "K" in view.status.text()
    _play(window, qtbot)
    view.continue_button.click()
    assert "K (the number of continuations) must lie in" in view.status.text()
    view.k.setValue(4)
    view.continue_button.click()
    qtbot.waitUntil(lambda: "spread" in view.status.text(), timeout=30_000)
    strip = view.strip._array
    assert strip is not None and strip.shape[1] > 3 * strip.shape[0]  # four pictures side by side
    window.reverse.seek_end()  # the final sample: nothing left to decide
    view.continue_button.click()
    assert "t = 0" in view.status.text()
    assert view.strip._array is strip  # what was on show stays


def test_the_exposure_monitor_draws_both_runs_and_the_toggle_switches(window, qtbot):
    # the reverse panel starts from the image by default: the monitor compares against the truth
    view = window.analysis.exposure
    view.button.click()
    qtbot.waitUntil(lambda: "mean |variance gap|" in view.status.text(), timeout=60_000)
    plain = view.curve.getData()[1].copy()
    view.toggle.setChecked(True)
    assert "showing with" in view.status.text()
    assert not np.array_equal(plain, view.curve.getData()[1])
