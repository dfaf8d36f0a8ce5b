"""The plots row as a user sees it while scrubbing: cursors that land on the last t, a hidden tab that
catches up, the schedule over λ with the sampler's steps, an error plot that reads at every t."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings

from app.views.runplots import log_range
from app.window import MainWindow
from core.diffusion.schedulers import make_scheduler
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import load_model, save_model
from core.models.unet import UNet, UNetConfig

TINY = UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8)


@pytest.fixture
def window(qtbot, tmp_path):
    torch.manual_seed(0)
    folder = save_model(tmp_path / "tiny", UNet(TINY), NoiseSchedule.cosine(100), "eps")
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.set_model(load_model(folder))
    w.state.set_image(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8), "noise.png")
    w.state.set_t(30)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.reverse.shutdown()
    w.bound_worker.shutdown()


def cursors_at(window, x: float) -> bool:
    lines = [*window.plots.cursors.values(), window.run_plots.vlb_cursor]
    return all(abs(line.value() - x) < 1e-9 for line in lines)


def test_after_a_burst_of_slider_moves_every_cursor_shows_the_last_t(window, qtbot):
    for t in range(31, 81):  # one drag: fifty values before the event loop turns once
        window.forward.slider.setValue(t)
    assert window.state.t == 80
    qtbot.waitUntil(lambda: cursors_at(window, 80), timeout=2000)
    qtbot.wait(50)  # and they stay there: no older value of the burst is applied after the newest
    assert cursors_at(window, 80) and window.plots.cursor_t() == 80


def test_a_hidden_tab_catches_up_when_it_is_shown_again(window, qtbot):
    qtbot.waitUntil(lambda: cursors_at(window, 30), timeout=2000)
    window.tabs.setCurrentWidget(window.playground)  # the plots row and the reverse panel are hidden
    window.state.set_t(77)
    qtbot.wait(100)
    assert cursors_at(window, 30)  # nothing was drawn that nobody could see
    assert "t = 77" not in window.reverse.view_xt.caption
    window.tabs.setCurrentIndex(0)
    assert cursors_at(window, 77)  # caught up as it is shown, before its first paint
    start = window.reverse.spec().start_index + 1
    assert f"x_t at t = {start}: the start" in window.reverse.view_xt.caption
    window.right_tabs.setCurrentWidget(window.compare)  # the reverse panel alone hidden, behind Compare
    window.state.set_t(12)
    qtbot.wait(100)
    assert f"t = {start}:" in window.reverse.view_xt.caption
    window.right_tabs.setCurrentWidget(window.reverse)
    assert f"x_t at t = {window.reverse.spec().start_index + 1}: the start" in window.reverse.view_xt.caption


def test_the_lambda_toggle_draws_the_schedule_over_its_log_snr_and_the_cursor_follows(window, qtbot):
    plots, schedule = window.plots, window.state.schedule
    window.plots.axis_toggle.setChecked(True)
    x, y = plots.curves["alphas_cumprod"].getData()
    np.testing.assert_allclose(x, schedule.log_snr.numpy())  # λ = log(ᾱ/(1−ᾱ)) of the schedule on show
    np.testing.assert_allclose(y, schedule.alphas_cumprod.numpy())
    qtbot.waitUntil(lambda: cursors_at_schedule(plots, float(schedule.log_snr[29])), timeout=2000)
    plots.cursors["betas"].setValue(float(schedule.log_snr[59]))  # a drag over λ sets t
    assert window.state.t == 60
    qtbot.waitUntil(lambda: cursors_at_schedule(plots, float(schedule.log_snr[59])), timeout=2000)
    window.plots.axis_toggle.setChecked(False)
    x, _ = plots.curves["alphas_cumprod"].getData()
    np.testing.assert_array_equal(x, np.arange(1, schedule.T + 1))  # back over the paper's t
    assert all(c.value() == 60 for c in plots.cursors.values())


def cursors_at_schedule(plots, x: float) -> bool:
    return all(abs(c.value() - x) < 1e-9 for c in plots.cursors.values())


def test_the_reverse_samplers_steps_are_ticks_on_the_lambda_axis(window, qtbot):
    panel, plots = window.reverse, window.plots
    panel.start_from.setCurrentText("pure noise")
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.steps.setValue(10)
    model = window.model
    indices = make_scheduler(panel.sampler_config(), model.schedule, model.prediction).timesteps()
    lam = model.schedule.log_snr.numpy()[indices]
    plots.set_x_axis("lambda")
    qtbot.waitUntil(lambda: len(plots.steps_x()) == 10, timeout=3000)
    np.testing.assert_allclose(np.sort(plots.steps_x()), np.sort(lam))
    x, _ = plots.ticks["alphas_cumprod"].getData()
    np.testing.assert_allclose(np.unique(x), np.unique(lam))  # drawn: one mark per step
    plots.set_x_axis("t")
    np.testing.assert_allclose(np.sort(plots.steps_x()), np.sort(np.asarray(indices) + 1.0))
    panel.steps.setValue(25)  # another spacing of the same run: the ticks follow once the settings rest
    qtbot.waitUntil(lambda: len(plots.steps_x()) == 25, timeout=3000)


def test_the_error_plots_range_reads_both_curves_and_a_zero_does_not_squash_them():
    eps = np.array([900.0, 40.0, 2.0, 1.1])  # ‖ε̂ − ε‖²/d near t = 0 runs to ~1000
    x0 = np.array([0.002, 0.01, 0.2, 0.6])
    low, high = log_range([eps, x0])
    assert high == pytest.approx(np.log10(900)) and low == pytest.approx(np.log10(0.002))
    low, high = log_range([eps, np.array([0.0, 1e-30, 0.5])])  # the last step's exact 0, a near-zero outlier
    assert high - low == pytest.approx(6.0)  # at most six decades below the top
    assert log_range([np.array([0.0])]) == (-3.0, 0.0)  # nothing to draw: an empty log axis


def test_a_slider_step_does_not_re_lay_out_the_window(window, qtbot):
    """A re-layout repaints every panel and plot: the stall of bench row 13. Moving t must not ask for one."""
    from PySide6.QtCore import QEvent, QObject

    class Count(QObject):
        n = 0

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.LayoutRequest:
                Count.n += 1
            return False

    counter = Count()
    watched = [window.centralWidget(), window.reverse, window.forward, window.compare]
    for w in watched:
        w.installEventFilter(counter)
    qtbot.wait(200)
    Count.n = 0
    for t in range(31, 61):
        window.state.set_t(t)
        qtbot.wait(5)
    qtbot.wait(300)  # the views that follow at 30 Hz, and the steps' ticks once the slider rests
    for w in watched:
        w.removeEventFilter(counter)
    assert Count.n == 0


def test_a_narrow_error_range_still_spans_two_labelled_decades():
    """A log axis labels its decades only (small plots have no room for more): a run whose errors all lie within
    a factor of three still gets two labels, centred on its values."""
    values = np.array([0.15, 0.3, 0.45])
    low, high = log_range([values])
    assert high - low == pytest.approx(2.0)
    assert low < np.log10(0.15) and high > np.log10(0.45)
