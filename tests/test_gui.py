"""The window, driven the way a user drives it (pytest-qt, offscreen)."""

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QGuiApplication

from app.views.guide import TextDialog
from app.window import MainWindow
from core.diffusion.forward import q_sample
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import load_model, save_model
from core.models.unet import UNet, UNetConfig

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8))
    return save_model(tmp_path / "tiny-model", net, NoiseSchedule.cosine(100), "eps")


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def window(qtbot, tmp_path, model_dir, photo):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.set_model(load_model(model_dir))
    assert w.open_image(photo)
    yield w
    w.reverse.shutdown()


def test_slider_moves_the_state_and_the_state_moves_every_view(window, qtbot):
    window.forward.slider.setValue(40)
    assert window.state.t == 40
    assert window.forward.spin.value() == 40
    qtbot.waitUntil(lambda: window.plots.cursor_t() == 40, timeout=2000)  # the cursors follow at 30 Hz
    window.state.set_t(73)
    assert window.forward.slider.value() == 73 and window.forward.spin.value() == 73
    qtbot.waitUntil(lambda: window.plots.cursor_t() == 73, timeout=2000)


def test_dragging_a_plot_cursor_sets_t(window, qtbot):
    cursor = window.plots.cursors["betas"]
    cursor.setValue(25)  # what a drag does
    assert window.state.t == 25
    assert window.forward.slider.value() == 25
    qtbot.waitUntil(lambda: all(c.value() == 25 for c in window.plots.cursors.values()), timeout=2000)


def test_x_t_on_screen_is_the_closed_form(window):
    window.state.set_t(0)
    assert np.array_equal(window.forward.view_xt.image(), window.state.working)
    window.state.set_t(60)
    x0 = torch.from_numpy(window.state.working.astype(np.float32) / 127.5 - 1)
    noise = torch.from_numpy(np.random.default_rng(window.state.seed).standard_normal(x0.shape, dtype=np.float32))
    expected = q_sample(window.state.schedule, x0, 59, noise).numpy()
    shown = window.forward.view_xt.image().astype(np.float32) / 127.5 - 1
    assert np.abs(shown - np.clip(expected, -1, 1)).max() <= 1.01 / 127.5
    before = shown.copy()
    window.forward.new_noise.click()
    assert not np.array_equal(window.forward.view_xt.image().astype(np.float32) / 127.5 - 1, before)


def test_read_outs_follow_t(window):
    s = window.state.schedule
    t = s.T * 2 // 5 + 1
    window.state.set_t(t)
    abar = float(s.alphas_cumprod[t - 1])
    shown = {key: label.text() for key, label in window.forward.readout.items()}
    assert shown["t"] == f"{t} / {s.T}"
    assert float(shown["sqrt_abar"]) == pytest.approx(abar**0.5, abs=1e-4)
    assert float(shown["sqrt_one_minus_abar"]) == pytest.approx((1 - abar) ** 0.5, abs=1e-4)
    assert float(shown["snr"]) == pytest.approx(abar / (1 - abar), rel=1e-3)
    assert float(shown["log_snr"]) == pytest.approx(np.log(abar / (1 - abar)), abs=0.01)
    window.state.set_t(0)
    assert window.forward.readout["sqrt_abar"].text() == "1" and window.forward.readout["snr"].text() == "inf"


def test_step_by_step_toggle_agrees_in_distribution(window):
    window.state.set_t(100)
    window.forward.iterative.setChecked(True)
    assert window.state.iterative
    iterated = window.forward.view_xt.image().astype(np.float64)
    window.forward.iterative.setChecked(False)
    closed = window.forward.view_xt.image().astype(np.float64)
    # At the end of the cosine chain both are (almost) pure noise: same mean and spread, different pixels.
    assert abs(iterated.mean() - closed.mean()) < 8 and abs(iterated.std() - closed.std()) < 8
    assert not np.array_equal(
        iterated[: closed.shape[0], : closed.shape[1]], closed[: iterated.shape[0], : iterated.shape[1]]
    )


def test_step_by_step_near_the_clean_end_still_shows_the_image(window):
    """Three single steps of Eq. 2 barely touch x_0: the iterated x_t is the image under a little noise."""
    window.state.set_t(3)  # cosine, T = 100: √(1−ᾱ_3) ≈ 0.06, a few grey levels of noise
    window.forward.iterative.setChecked(True)
    iterated = window.forward.view_xt.image().astype(np.float64)
    window.forward.iterative.setChecked(False)
    clean = window.state.working.astype(np.float64)
    assert iterated.shape == clean.shape
    assert np.sqrt(np.mean((iterated - clean) ** 2)) < 20  # the photo's own spread is ≈ 74


def test_schedule_choice_drives_plots_and_panel(window):
    combo = window.schedule_choice
    assert combo.currentData() == "model"  # a loaded model's own schedule is the one shown
    assert not window.schedule_T.isEnabled()
    combo.setCurrentIndex(combo.findData("linear"))
    assert window.state.schedule.name == "linear"
    _, ys = window.plots.curves["alphas_cumprod"].getData()
    assert np.allclose(ys, window.state.schedule.alphas_cumprod.numpy())
    window.schedule_T.setValue(200)
    window.schedule_T.editingFinished.emit()
    assert window.state.T == 200 and window.forward.slider.maximum() == 200
    window.state.set_schedule(NoiseSchedule.sigmoid(50), "sigmoid")
    assert combo.currentData() == "sigmoid" and window.schedule_T.value() == 50


def test_a_bad_image_gets_a_message_and_the_old_image_stays(window, tmp_path):
    before = window.state.image.copy()
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert not window.open_image(bad)
    assert window.banner.isVisibleTo(window) and "notes.png" in window.banner.text()
    assert np.array_equal(window.state.image, before)


def test_a_bad_model_gets_a_message_and_the_old_model_stays(window, tmp_path):
    old = window.model
    (tmp_path / "empty").mkdir()
    assert not window.open_model(tmp_path / "empty")
    assert "config.json is missing" in window.banner.text()
    assert window.model is old and window.reverse.model is old


def test_recent_files_persist(window, photo, tmp_path):
    window.settings.sync()
    again = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert str(photo.resolve()) in again.value("recent_files")


def test_gif_round_trip_from_the_window(window, qtbot, tmp_path):
    panel = window.reverse
    panel.start_from.setCurrentText("pure noise")
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.steps.setValue(8)
    with qtbot.waitSignal(panel.run_finished, timeout=20000):
        panel.start()
    out = tmp_path / "run.gif"
    assert window.export(out, reverse=True, content="both", fps=25, stride=1, scale=4, label=True)
    with Image.open(out) as gif:
        assert gif.n_frames == 9
        assert gif.size[0] == 8 * 4 * 2 + 6 and gif.size[1] > 8 * 4 + 2 * 16  # two columns, a label and titles
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert durations == [40] * 8 + [40 + 1500]  # the result held 1.5 s
    out2 = tmp_path / "forward.gif"
    assert window.export(out2, reverse=False, fps=10, stride=25, scale=1, label=False)
    with Image.open(out2) as gif:
        assert gif.n_frames == 5 and gif.size == (240, 180)  # t = 0, 25, 50, 75, 100; 80×60 enlarged 3× (≈ 256 px)


def test_export_to_a_missing_folder_says_so_and_writes_nothing(window, tmp_path):
    assert not window.export(tmp_path / "nope" / "run.gif", reverse=False, stride=50)
    assert "does not exist" in window.banner.text()
    assert not (tmp_path / "nope").exists()


class Emitter(QObject):
    ping = Signal(bool)


def test_regression_guard_pyside6_survives_ten_thousand_signals(qtbot):
    # A guard on the PySide6 we install, not a test of this program: 6.12.0 on CPython 3.11 drops a
    # reference to True on every emit and aborts the process ("Fatal Python error: bool_dealloc") after a
    # few thousand. pyproject pins below 6.12; this fails loudly if a broken release slips in.
    emitter, received = Emitter(), []
    emitter.ping.connect(received.append)
    for _ in range(10_000):
        emitter.ping.emit(True)
    worker_side = threading.Thread(target=lambda: [emitter.ping.emit(True) for _ in range(2_000)])
    worker_side.start()
    worker_side.join()
    qtbot.waitUntil(lambda: len(received) == 12_000, timeout=10000)
    assert all(received)


def test_the_real_program_starts_and_quits(model_dir, photo, tmp_path):
    env = {
        **__import__("os").environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", str(photo), "--model", str(model_dir), "--quit-after", "1500"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert list((tmp_path / "config").rglob("*.conf")), "window geometry and recent files were not saved"


def test_dropping_a_file_opens_it(window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    other = tmp_path / "dropped.png"
    Image.fromarray(np.full((30, 20, 3), 200, np.uint8)).save(other)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    assert window.state.image_name == "dropped.png" and window.state.image.shape == (30, 20, 3)
    assert "dropped.png" in window.forward.info.text()


def drop(window, *paths):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    window.dropEvent(
        QDropEvent(
            QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
    )


def test_dropping_a_folder_or_several_files(window, tmp_path):
    before = window.state.image
    drop(window, tmp_path)
    assert "is a folder" in window.banner.text() and window.state.image is before
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(np.full((9, 9, 3), 50, np.uint8)).save(first)
    Image.fromarray(np.full((5, 5, 3), 90, np.uint8)).save(second)
    drop(window, first, second)
    assert window.state.image_name == "a.png"
    assert "2 files were dropped" in window.banner.text()


def test_pasting_an_image(window):
    from PySide6.QtGui import QColor, QImage

    image = QImage(12, 7, QImage.Format.Format_ARGB32)
    image.fill(QColor(10, 200, 30, 255))
    QGuiApplication.clipboard().setImage(image)
    window.paste_image()
    assert window.state.image.shape == (7, 12, 3)
    assert tuple(window.state.image[0, 0]) == (10, 200, 30)
    QGuiApplication.clipboard().clear()
    window.paste_image()
    assert "no image" in window.banner.text()
    assert window.state.image.shape == (7, 12, 3)  # the pasted image stays


def test_splitters_never_collapse_a_panel_and_a_hiding_layout_is_ignored(qtbot, tmp_path, model_dir):
    settings = QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.top_split.setSizes([w.top_split.width(), 0])  # what a drag to the edge asks for
    w.main_split.setSizes([0, w.main_split.height()])
    assert min(w.top_split.sizes()) >= w.reverse.minimumSizeHint().width() > 0
    assert min(w.main_split.sizes()) > 0
    w.close()
    # A layout saved by an older version, with the reverse panel dragged to nothing.
    w.top_split.setChildrenCollapsible(True)
    w.top_split.setSizes([w.top_split.width(), 0])
    assert w.top_split.sizes()[1] == 0
    settings.setValue("split_panels", w.top_split.saveState())
    settings.sync()
    again = MainWindow(settings)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert min(again.top_split.sizes()) > 100
    again.reverse.shutdown()


def test_changing_T_keeps_t_in_proportion_and_raises_nothing(window, qtbot):
    window.schedule_choice.setCurrentIndex(window.schedule_choice.findData("linear"))
    window.schedule_T.setValue(1000)
    window.schedule_T.editingFinished.emit()
    window.state.set_t(700)
    window.schedule_T.setValue(300)
    window.schedule_T.editingFinished.emit()  # what Return in the T box does
    assert window.state.T == 300 and window.state.t == 210
    assert window.forward.slider.value() == 210
    qtbot.waitUntil(lambda: window.plots.cursor_t() == 210, timeout=2000)
    assert window.forward.readout["t"].text() == "210 / 300"
    assert not window.banner.isVisibleTo(window)


def test_the_read_outs_show_how_much_signal_x_T_keeps(window):
    window.schedule_choice.setCurrentIndex(window.schedule_choice.findData("linear"))
    window.schedule_T.setValue(100)
    window.schedule_T.editingFinished.emit()
    abar_T = float(window.forward.readout["abar_T"].text())
    assert abar_T == pytest.approx(float(window.state.schedule.alphas_cumprod[-1]), rel=1e-2) and abar_T < 1e-2


def test_help_offers_a_guide_and_the_keyboard_shortcuts(window, qtbot):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    names = [a.text() for a in menu.actions()]
    assert any("Guide" in n for n in names) and any("Keyboard" in n for n in names)
    next(a for a in menu.actions() if "Guide" in a.text()).trigger()
    dialog = window.findChild(TextDialog)
    assert (
        dialog is not None and "1/√αt, not 1/√ᾱt" in dialog.text.toPlainText() and "εtrue" in dialog.text.toPlainText()
    )
    dialog.close()


def test_the_layout_holds_still_when_the_sampler_changes_or_a_message_appears(window, qtbot):
    window.resize(1500, 940)
    window.show()
    qtbot.waitExposed(window)
    panel = window.reverse
    before = (panel.view_xt.geometry(), window.top_split.sizes(), window.main_split.sizes())
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))  # steps and η become usable, nothing moves
    qtbot.wait(50)
    assert not panel.variance.isEnabled() and panel.steps.isEnabled() and panel.steps.isVisible()
    window.show_message("a long message " * 20)  # the banner floats over the window
    qtbot.wait(50)
    assert window.banner.isVisible()
    after = (panel.view_xt.geometry(), window.top_split.sizes(), window.main_split.sizes())
    assert after == before


def test_models_load_and_exports_write_off_the_gui_thread(window, qtbot, model_dir, tmp_path):
    old = window.model
    with qtbot.waitSignal(window.files_worker.finished, timeout=20000):
        job = window.open_model_in_background(model_dir)
    assert job and window.model is not old and window.model.path == model_dir
    assert not window.busy_bar.isVisibleTo(window)
    out = tmp_path / "scrub.gif"
    with qtbot.waitSignal(window.files_worker.finished, timeout=20000):
        assert window.export(out, reverse=False, stride=25, wait=False)
    assert out.is_file() and "Exported 5 frames" in window.banner.text()
    with qtbot.waitSignal(window.files_worker.failed, timeout=20000):
        window.open_model_in_background(tmp_path / "missing")
    qtbot.waitUntil(lambda: "does not exist" in window.banner.text(), timeout=5000)
    assert window.model.path == model_dir  # the old model stays
