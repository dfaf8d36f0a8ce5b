"""The 2-D playground as a learner uses it: pick or draw data, train, sample, watch, export."""

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from app.window import MainWindow
from core import toy2d


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.playground.settings = dataclasses.replace(toy2d.DEFAULT_TRAIN, steps=300)  # quick, not a good fit
    w.tabs.setCurrentWidget(w.playground)
    yield w
    w.playground.shutdown()


def test_train_then_sample_then_scrub_and_export(window, qtbot, tmp_path):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("moons"))
    with qtbot.waitSignal(pg.trainer.finished, timeout=60000):
        pg.train()
    assert pg.model is not None and len(pg.losses) >= 6
    xs, _ = pg.field.getData()
    assert len(xs) == 2 * 17 * 17  # one arrow per grid point
    pg.sampler.setCurrentIndex(pg.sampler.findData("ddim"))
    pg.steps.setValue(20)
    with qtbot.waitSignal(pg.trainer.finished, timeout=60000):
        pg.sample()
    frames = pg.frames.snapshot()
    assert len(frames) == 21 and frames[-1].t == 0
    pg.player.seek(10)
    shown = pg.points.getData()
    assert np.allclose(shown[0], frames[10].points[:, 0])
    px, _ = pg.paths.getData()
    assert np.isfinite(px).sum() > 0  # trajectories so far
    out = tmp_path / "pg.gif"
    assert window.export_playground(out)
    assert out.stat().st_size > 0


def test_drawing_too_few_points_asks_for_more(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("drawn"))
    assert "at least 20" in pg.status.text()
    pg.drawn.extend([(0.1 * i, 0.0) for i in range(5)])
    assert pg.train() is None
    assert "20" in window.banner.text()


def test_an_image_without_dark_pixels_gives_one_message_and_keeps_the_data(window):
    pg = window.playground
    before = pg.data.clone()
    window.state.set_image(np.full((32, 32, 3), 255, np.uint8), "white.png")
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("image"))
    assert window.banner.isVisibleTo(window) and "dark" in window.banner.text()
    assert np.array_equal(pg.data.numpy(), before.numpy())


def test_the_exact_mixture_score_is_a_model_without_training(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("mixture"))
    pg.exact.setChecked(True)
    assert pg.model is not None
    pg.sampler.setCurrentIndex(pg.sampler.findData("langevin"))
    pg.steps.setValue(5)
    pg.per_level.setValue(3)
    with qtbot.waitSignal(pg.trainer.finished, timeout=60000):
        pg.sample()
    assert all(np.isfinite(f.points).all() for f in pg.frames.snapshot())


def test_a_diverging_langevin_step_stops_with_a_message(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("mixture"))
    pg.exact.setChecked(True)
    pg.sampler.setCurrentIndex(pg.sampler.findData("langevin"))
    pg.step_size.setValue(10.0)
    with qtbot.waitSignal(pg.trainer.failed, timeout=60000):
        pg.sample()
    qtbot.waitUntil(lambda: "diverged" in window.banner.text(), timeout=5000)
    assert all(np.isfinite(f.points).all() for f in pg.frames.snapshot())


def test_learned_against_exact_draws_the_exact_arrows_and_an_error_map(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("mixture"))
    with qtbot.waitSignal(pg.trainer.finished, timeout=60000):
        pg.train()
    pg.vs_exact.setChecked(True)
    pg.t_slider.setValue(50)
    xs, _ = pg.exact_field.getData()
    assert len(xs) == 2 * 17 * 17 and pg.error_map.image is not None
    assert "relative error" in pg.status.text()
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("moons"))  # no exact score for moons
    xs, _ = pg.exact_field.getData()
    assert xs is None or len(xs) == 0
