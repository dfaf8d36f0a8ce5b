"""The reverse panel as a learner uses it: a run, its playback, what the network predicts, the truth beside it."""

import threading

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from app.window import DEFAULT_SIZE, MainWindow
from app.workers.inference import Worker
from core.diffusion.parameterization import eps_from_x0
from core.diffusion.schedules import NoiseSchedule
from core.imaging.scaling import tensor_to_images
from core.models.checkpoint import LoadedModel, load_model, save_model
from core.models.unet import UNet, UNetConfig
from core.runs import views
from core.runs.chain import model_x0

TINY = UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8)


@pytest.fixture
def window(qtbot, tmp_path):
    torch.manual_seed(0)
    folder = save_model(tmp_path / "tiny", UNet(TINY), NoiseSchedule.cosine(60), "v")
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.set_model(load_model(folder))
    rng = np.random.default_rng(0)
    w.state.set_image(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), "noise.png")
    w.state.set_t(30)
    yield w
    w.reverse.shutdown()
    w.bound_worker.shutdown()


def oracle_model(window) -> LoadedModel:
    """A model that returns the true noise of the forward panel's image: the perfect ε-predictor."""
    base = window.model
    x0 = model_x0(base, window.state.image)

    def forward(x, t):
        return eps_from_x0(base.schedule, x, t, x0.expand_as(x))

    return LoadedModel(
        network=torch.nn.Identity(),
        schedule=base.schedule,
        prediction="eps",
        image_size=base.image_size,
        channels=3,
        device=torch.device("cpu"),
        name="oracle",
        forward=forward,
    )


def test_a_run_records_every_step_and_plays_them_in_order(window, qtbot):
    panel = window.reverse
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.steps.setValue(10)
    with qtbot.waitSignal(panel.run_finished, timeout=20000) as done:
        panel.start()
    assert done.args[1] is True
    frames = panel.frames()
    assert [f.n for f in frames] == list(range(11)) and frames[-1].final and frames[-1].t == 0
    assert frames[0].t == 30  # the forward panel's t, on the model's own schedule
    panel.seek(3)  # scrub back
    assert np.array_equal(panel.view_xt.image(), tensor_to_images(frames[3].x_t))
    assert "frame 4/11" in panel.status.text() and f"t = {frames[3].t}" in panel.status.text()
    panel.seek_end()
    assert panel.view_xt.caption.startswith("x₀: the final")


def test_before_play_the_panel_shows_where_the_chain_starts(window, qtbot):
    panel = window.reverse
    # The preview follows the forward slider (the fixture moved it to t = 30) at 30 Hz.
    qtbot.waitUntil(lambda: panel.view_xt.image() is not None and "the start" in panel.view_xt.caption, timeout=2000)
    assert panel.view_truth.image() is not None  # x₀, the image about to be noised and denoised
    panel.start_from.setCurrentText("pure noise")
    assert panel.view_xt.image() is not None and "t = 60" in panel.view_xt.caption


def test_the_explanation_always_describes_the_current_settings(window, qtbot):
    panel = window.reverse
    # It follows the forward slider (the fixture moved it to t = 30) at 30 Hz, and the menus at once.
    qtbot.waitUntil(lambda: "noised by q to t = 30" in panel.note.text(), timeout=2000)
    panel.start_from.setCurrentText("pure noise")
    assert "pure noise" in panel.note.text() and "noised" not in panel.note.text()
    panel.start_from.setCurrentText("forward image at its t")
    assert "noised by q to t = 30" in panel.note.text()
    window.state.set_t(45)
    qtbot.waitUntil(lambda: "t = 45" in panel.note.text(), timeout=2000)
    window.state.set_t(0)
    qtbot.waitUntil(lambda: "t = 0" in panel.note.text() and "move its slider" in panel.note.text(), timeout=2000)


def test_an_oracle_model_predicts_the_true_noise_and_its_error_curve_is_zero(window, qtbot):
    window.set_model(oracle_model(window))
    panel = window.reverse
    panel.view.setCurrentIndex(panel.view.findData("eps"))
    assert "own output" in panel.view.currentText()  # the oracle predicts ε natively
    with qtbot.waitSignal(panel.run_finished, timeout=20000):
        panel.start()
    record = panel.record
    curves = record.curve_snapshot()
    assert len(curves.t) == 30 and max(curves.eps_mse) < 1e-8 and max(curves.x0_rms) < 1e-3
    panel.seek(10)
    assert np.abs(panel.view_pred.image().astype(int) - panel.view_truth.image().astype(int)).max() <= 1
    assert "ε_true" in panel.view_truth.caption and "±3σ" in panel.view_pred.caption


def test_every_prediction_view_is_a_conversion_of_the_network_output(window, qtbot):
    panel = window.reverse
    with qtbot.waitSignal(panel.run_finished, timeout=20000):
        panel.start()
    panel.seek(5)
    frame = panel.current_frame()
    s = window.model.schedule
    for view in views.VIEWS:
        panel.view.setCurrentIndex(panel.view.findData(view))
        expected = views.to_picture(s, frame, view, views.predicted(s, frame, view))
        assert np.array_equal(panel.view_pred.image(), expected), view
    # the score is −ε̂/√(1−ᾱ_t), shown at ±3σ of its own scale
    eps = views.predicted(s, frame, "eps")
    torch.testing.assert_close(
        views.predicted(s, frame, "score"), -eps / float(s.sqrt_one_minus_alphas_cumprod[frame.index])
    )
    assert "v" in panel.view.itemText(panel.view.findData("v")) and "own output" in panel.view.itemText(
        panel.view.findData("v")
    )


def test_a_new_run_never_reports_or_shows_the_old_one(window, qtbot, monkeypatch):
    panel = window.reverse
    finished = []
    panel.run_finished.connect(lambda job, ok: finished.append(job))
    release = threading.Event()
    real = window.model.network.forward
    monkeypatch.setattr(window.model.network, "forward", lambda x, t: (release.wait(5), real(x, t))[1])
    first = panel.start()
    second = panel.start()  # cancels the first, which is stuck in a model call
    release.set()
    qtbot.waitUntil(lambda: second in finished, timeout=20000)
    qtbot.wait(100)
    assert finished == [second]  # the first run's late "finished" never reaches the panel's listeners
    assert first != second and all(f.num_steps == panel.record.num_steps for f in panel.frames())


def test_keys_act_on_the_panel_that_has_the_focus(window, qtbot):
    window.show()
    handle = window.windowHandle()
    handle.requestActivate()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is handle, timeout=5000)
    window.forward.slider.setFocus()
    QTest.keyClick(handle, Qt.Key.Key_Left)
    assert window.state.t == 29 and window.reverse.record is None  # ← moved t, not the timeline
    QTest.keyClick(handle, Qt.Key.Key_Space)
    assert window.reverse.record is None  # Space in the forward panel does not start a run
    window.reverse.setFocus()
    QTest.keyClick(handle, Qt.Key.Key_Space)
    assert window.reverse.record is not None and window.reverse.playback.playing
    QTest.keyClick(handle, Qt.Key.Key_Space)
    assert not window.reverse.playback.playing
    window.reverse.worker.wait()
    QTest.keyClick(handle, Qt.Key.Key_Home)
    assert window.reverse.playback.position == 0
    QTest.keyClick(handle, Qt.Key.Key_Right)
    assert window.reverse.playback.position == 1
    QTest.keyClick(handle, Qt.Key.Key_End)
    assert window.reverse.playback.position == window.reverse.record.total_frames - 1


def test_at_the_default_size_the_reverse_pictures_are_at_least_256_px(window, qtbot):
    window.resize(*DEFAULT_SIZE)
    window.show()
    qtbot.waitExposed(window)
    for view in (window.reverse.view_xt, window.reverse.view_pred, window.reverse.view_truth):
        assert min(view.width(), view.height() - view.fontMetrics().height()) >= 256, (view.width(), view.height())


def test_the_bound_per_t_is_computed_for_the_image_and_model(window, qtbot):
    with qtbot.waitSignal(window.bound_worker.finished, timeout=30000, check_params_cb=lambda j, r: r is not None):
        window.compute_bound()
    xs, ys = window.run_plots.vlb_curve.getData()
    assert len(xs) == 60 and "total" in window.run_plots.vlb_plot.getPlotItem().titleLabel.text


def test_a_cancelled_bound_draws_nothing(window, qtbot):
    first = window.compute_bound()
    second = window.compute_bound()  # a new image or model: the first is cancelled
    with qtbot.waitSignal(window.bound_worker.finished, timeout=30000, check_params_cb=lambda j, r: j == second):
        pass
    assert first != second
    xs, _ = window.run_plots.vlb_curve.getData()
    assert len(xs) == 60


def test_worker_jobs_run_on_one_thread_that_ends_with_shutdown(qtbot):
    worker = Worker("test")
    threads = []
    for _ in range(3):
        with qtbot.waitSignal(worker.finished, timeout=5000):
            worker.submit(lambda job: threads.append(threading.current_thread()))
    assert len(set(threads)) == 1 and threads[0] is not threading.main_thread()
    worker.shutdown()
    assert not threads[0].is_alive()


def test_compare_runs_four_presets_side_by_side_and_exports_them(window, qtbot, tmp_path):
    from PIL import Image

    panel = window.compare
    for row, steps in zip(panel.rows, (0, 20, 5, 20), strict=True):
        if steps:
            row.steps.setValue(steps)
    with qtbot.waitSignal(panel.worker.finished, timeout=60000):
        panel.start()
    ticks = panel.ticks()
    assert len(ticks) == 61 and all(f.final for f in ticks[-1])  # the 60-step DDPM sets the pace
    panel.player.seek(len(ticks) - 1)
    assert all(v.image() is not None and "final" in v.caption for v in panel.views)
    out = tmp_path / "cmp.gif"
    assert window.export_comparison(out, stride=10, scale=2)
    with Image.open(out) as gif:
        assert gif.n_frames == 7 and gif.size[0] == 4 * 16 + 3 * 6  # four columns, 6 px apart


def test_compare_runs_of_identical_settings_are_identical(window, qtbot):
    panel = window.compare
    for row in panel.rows:
        row.sampler.setCurrentIndex(row.sampler.findData("ddim"))
        row.steps.setValue(6)
        row.eta.setValue(1.0)
    with qtbot.waitSignal(panel.worker.finished, timeout=60000):
        panel.start()
    last = panel.ticks()[-1]
    for frame in last[1:]:
        torch.testing.assert_close(frame.x_t, last[0].x_t)


def test_invert_takes_the_image_to_x_T_and_back_with_its_psnr(window, qtbot):
    panel = window.invert
    panel.steps.setValue(10)
    with qtbot.waitSignal(panel.worker.finished, timeout=30000):
        panel.start()
    assert "PSNR" not in panel.result.text()  # the animation has not reached the end: no spoiler
    frames = panel.session.frames()
    panel.player.seek(len(frames) - 1)
    assert [f.phase for f in frames].count("invert") == 10 and frames[-1].psnr is not None
    assert f"{frames[-1].psnr:.2f}" in panel.result.text()
    assert "η = 0" in panel.findChildren(type(panel.result))[-1].text()


def test_changing_a_setting_after_a_run_leaves_nothing_of_the_old_run_on_show(window, qtbot):
    panel = window.reverse
    with qtbot.waitSignal(panel.run_finished, timeout=20000):
        panel.start()
    panel.seek(10)
    window.run_plots.refresh()
    xs, _ = window.run_plots.eps_curve.getData()
    assert xs is not None and len(xs) > 0
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    assert panel.record is None and panel.timeline.total == 0
    assert "Settings changed" in panel.status.text() and "the start" in panel.view_xt.caption
    xs, _ = window.run_plots.eps_curve.getData()
    assert xs is None or len(xs) == 0


def test_reverse_and_compare_start_at_the_forward_panels_noise_level_on_another_schedule(window, qtbot):
    """The forward panel on linear T = 60 at t = 24; the model is cosine T = 60: both tabs start where ᾱ matches."""
    window.state.set_schedule(NoiseSchedule.linear(60), "linear")
    window.state.set_t(24)
    forward_abar = window.state.schedule.abar(23)
    model = window.model.schedule
    reverse_index = window.reverse.spec().start_index
    assert abs(model.abar(reverse_index) - forward_abar) < 0.02 and reverse_index != 23  # not the raw index
    compare = window.compare
    compare.start_from.setCurrentText("forward image at its t")
    for row in compare.rows[1:]:
        row.enabled.setChecked(False)
    with qtbot.waitSignal(compare.worker.finished, timeout=60000):
        compare.start()
    assert compare.ticks()[0][0].index == reverse_index
    torch.testing.assert_close(compare.ticks()[0][0].x_t, window.reverse.session.start()[0][0])  # the same x_t


def test_the_start_preview_follows_the_slider_to_t_0_instead_of_staying_on_the_old_noise(window, qtbot):
    panel = window.reverse
    window.state.set_t(18)
    qtbot.waitUntil(lambda: "t = 18: the start" in panel.view_xt.caption, timeout=5000)
    window.state.set_t(0)
    qtbot.waitUntil(lambda: "t = 0: the clean image" in panel.view_xt.caption, timeout=5000)
    assert panel.view_xt.image() is None and panel.view_truth.image() is not None


def test_the_status_says_when_the_computing_not_the_playback_sets_the_pace(window, qtbot):
    panel = window.reverse
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.steps.setValue(10)
    panel.start()
    qtbot.waitUntil(lambda: "frames/s" in panel.status.text() or "computing sets the pace" in panel.status.text())
    qtbot.waitUntil(lambda: not panel.worker.busy, timeout=30000)
    panel.player.seek(0)
    if not panel.playback.playing:
        panel.toggle_play()
    qtbot.waitUntil(lambda: "playing at" in panel.status.text(), timeout=5000)
    assert "1 frames/s" not in panel.status.text()  # 10 frames in 8 s: 1.4 frames/s, not rounded to 1
