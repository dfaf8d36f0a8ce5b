"""What a newcomer met first: the command line without a display, its error lines, the plots' axes, the marks."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QSettings, Qt

from app.cli import main
from app.views import marks
from app.views.guide import SHORTCUTS, TextDialog
from app.window import MainWindow
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import load_model, save_model
from core.models.unet import UNet, UNetConfig

ROOT = Path(__file__).resolve().parent.parent


def run_without_display(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("args", [(), ("evalute",)])
def test_without_a_display_the_window_is_one_line_and_exit_2_not_a_qt_abort(args):
    result = run_without_display(*args)
    assert result.returncode == 2, result.stderr  # Qt's abort was 134, "xcb-cursor0 is needed"
    assert result.stderr.count("\n") == 1 and "qt.qpa" not in result.stderr
    if args:
        assert "did you mean evaluate?" in result.stderr  # a typo is named as one, even where a window could open


def test_a_mistyped_command_never_opens_a_window(capsys):
    assert main(["evalute"]) == 2  # returns before Qt is imported, display or not
    assert "'evalute' is neither a command" in capsys.readouterr().err


def test_an_argparse_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["export", "photo.jpg"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert "the following arguments are required: --out" in err and "--help" in err


def test_a_missing_file_is_named_with_its_full_path(tmp_path, capsys):
    missing = tmp_path / "nope" / "missing.jpg"
    assert main(["export", str(missing), "--out", str(tmp_path / "x.gif"), "--mode", "forward"]) == 2
    assert f"{missing} does not exist" in capsys.readouterr().err
    assert main([str(missing)]) == 2  # the window's IMAGE too, before any window opens
    assert f"{missing} does not exist" in capsys.readouterr().err


@pytest.fixture
def window(qtbot, tmp_path):
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8))
    model_dir = save_model(tmp_path / "tiny", net, NoiseSchedule.cosine(100), "eps")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.set_model(load_model(model_dir))
    assert w.open_image(photo)
    yield w
    w.reverse.shutdown()


def x_range(plot):
    return plot.getViewBox().viewRange()[0]


def test_every_plot_follows_the_schedule_on_show(window, qtbot):
    window.schedule_choice.setCurrentIndex(window.schedule_choice.findData("linear"))
    window.schedule_T.setValue(50)
    window.schedule_T.editingFinished.emit()
    window.state.set_t(25)
    plots = [*window.plots.plots.values(), window.run_plots.error_plot, window.run_plots.vlb_plot]
    for plot in plots:
        low, high = x_range(plot)
        assert -2 <= low <= 0 and 50 <= high <= 52  # 0–50, not 0–1000 (the model's T is 100 here)
    qtbot.waitUntil(lambda: window.run_plots.vlb_cursor.value() == 25, timeout=2000)  # mid-axis, as on the others


def test_the_error_plot_fits_its_data_and_names_only_the_curves_drawn(window, qtbot):
    panel = window.reverse
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.steps.setValue(10)
    window.state.set_t(60)  # the run denoises the forward image from t = 60: x₀ and ε are known
    with qtbot.waitSignal(panel.run_finished, timeout=60000):
        panel.start()
    window.run_plots.refresh()
    curves = panel.record.curve_snapshot()
    values = np.concatenate([curves.eps_mse, curves.x0_rms])
    top, bottom = np.log10(values.max()), np.log10(values.min())
    # A log y-axis: ‖ε̂ − ε‖²/d near t = 0 reaches ~1000 and RMS(x̂₀ − x₀) stays below 1; on a linear one
    # the first flattened the second. Its range runs from the smallest value to the largest (in log10).
    assert window.run_plots.error_plot.getPlotItem().ctrl.logYCheck.isChecked()
    low, high = window.run_plots.error_plot.getViewBox().viewRange()[1]
    span = top - bottom
    assert top <= high <= top + 0.2 * span and bottom - 0.2 * span <= low <= bottom
    title = marks.unmark(window.run_plots.error_plot.getPlotItem().titleLabel.text)
    assert "ε" in title and "RMS" in title
    window.run_plots.record = type("PureNoiseRun", (), {"x0": None})()  # a run from pure noise knows no x₀
    window.run_plots._title()
    title = window.run_plots.error_plot.getPlotItem().titleLabel.text
    assert "‖" not in title and "final" in title  # only RMS(x̂₀ − final) is drawn, so only it is named


def test_marked_letters_are_whole_glyphs_of_the_shipped_font(qapp):
    from PySide6.QtGui import QFont, QFontMetrics

    assert marks.install()
    text = marks.mark("predicted x̂₀ and ε̂")
    assert "\u0302" not in text and marks.unmark(text) == "predicted x̂₀ and ε̂"
    metrics = QFontMetrics(QFont(marks.FAMILY))
    assert metrics.inFontUcs4(marks.MARKED_LETTERS["x\u0302"])


def test_the_shortcuts_page_lists_f1_and_closes_on_escape(qtbot):
    dialog = TextDialog("Keyboard shortcuts", SHORTCUTS)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert "F1" in dialog.text.toPlainText()
    dialog.text.setFocus()
    qtbot.keyClick(dialog.text, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_the_window_fits_a_laptop_screen_with_every_tab_built(window):
    """1100×650 is a 1366×768 screen less a task bar and title: no tab may hold the window larger than that."""
    window.show()
    least = window.minimumSizeHint()
    assert least.width() <= 1100 and least.height() <= 650, least
    window.resize(1100, 650)
    assert (window.width(), window.height()) == (1100, 650)
