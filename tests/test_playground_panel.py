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
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
        pg.train()
    assert pg.model is not None and len(pg.losses) >= 6
    xs, _ = pg.field.getData()
    assert len(xs) == 2 * 17 * 17  # one arrow per grid point
    pg.sampler.setCurrentIndex(pg.sampler.findData("ddim"))
    pg.steps.setValue(20)
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
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
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
        pg.sample()
    assert all(np.isfinite(f.points).all() for f in pg.frames.snapshot())


def test_a_diverging_langevin_step_stops_with_a_message(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("mixture"))
    pg.exact.setChecked(True)
    pg.sampler.setCurrentIndex(pg.sampler.findData("langevin"))
    pg.step_size.setValue(10.0)
    with qtbot.waitSignal(pg.trainer.failed, timeout=600000):
        pg.sample()
    qtbot.waitUntil(lambda: "diverged" in window.banner.text(), timeout=5000)
    assert all(np.isfinite(f.points).all() for f in pg.frames.snapshot())


def test_learned_against_exact_draws_the_exact_arrows_and_an_error_map(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("mixture"))
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
        pg.train()
    pg.vs_exact.setChecked(True)
    pg.t_slider.setValue(50)
    xs, _ = pg.exact_field.getData()
    assert len(xs) == 2 * 17 * 17 and pg.error_map.image is not None
    assert "relative error" in pg.status.text()
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("moons"))  # no exact score for moons
    xs, _ = pg.exact_field.getData()
    assert xs is None or len(xs) == 0


def test_a_data_change_empties_the_training_bar(window, qtbot):
    pg = window.playground
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
        pg.train()
    assert pg.train_progress.value() == pg.train_progress.maximum()
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("spiral"))
    assert pg.train_progress.value() == 0 and pg.model is None  # #21: it said 100 % for the old data's model


def test_bad_guidance_reflow_and_memorisation_requests_give_one_line_and_keep_the_state(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("mixture"))
    pg.exact.setChecked(True)
    pg.guidance.setValue(2.0)
    assert pg.sample() is None and "Guidance needs a conditional model" in window.banner.text()
    pg.conditional.setChecked(True)
    model = pg.model
    pg.label_choice.setValue(4)
    assert pg.sample() is None and "class 4: mixture has 3 classes" in window.banner.text()
    assert pg.reflow() is None and "Reflow needs a trained flow-matching model" in window.banner.text()
    pg.sampler.setCurrentIndex(pg.sampler.findData("euler"))
    assert pg.sample() is None and "flow-matching model" in window.banner.text()
    assert pg.model is model and pg.frames is None
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("spiral"))
    assert pg.train() is None and "spiral has no classes" in window.banner.text()
    pg.conditional.setChecked(False)
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("drawn"))
    pg.drawn.extend([(0.05 * i, 0.1 * (i % 3)) for i in range(30)])
    pg.set_data()
    pg.memo_size.setValue(pg.memo_size.maximum())
    assert pg.memorise() is None and "more than the data holds" in window.banner.text()
    assert len(pg.data) == 30


def test_exact_guidance_draws_the_tilted_density_beside_the_samples_and_three_fields(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("mixture"))
    pg.exact.setChecked(True)
    pg.conditional.setChecked(True)
    pg.label_choice.setValue(0)
    pg.guidance.setValue(3.0)
    pg.sampler.setCurrentIndex(pg.sampler.findData("ddim"))
    pg.steps.setValue(20)
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
        pg.sample()
    assert pg.side.isVisibleTo(pg) and pg.density.image is not None and "tilted" in pg.side.plotItem.titleLabel.text
    final = pg.frames.snapshot()[-1].points
    assert (final[:, 0] < 0).mean() > 0.95  # class 0 is the blob at (−1.2, −0.8)
    pg.player.seek(10)
    fields = {}
    for key in ("guided", "conditional", "unconditional"):
        pg.field_choice.setCurrentIndex(pg.field_choice.findData(key))
        fields[key] = np.array(pg.field.getData()[1])
    assert not np.allclose(fields["guided"], fields["conditional"])
    assert not np.allclose(fields["conditional"], fields["unconditional"])


def test_flow_matching_trains_samples_with_straightness_then_reflows(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("8gaussians"))
    pg.prediction.setCurrentIndex(pg.prediction.findData("velocity"))
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
        pg.train()
    assert pg.model.flow
    pg.t_slider.setValue(100)
    assert "x_s = (1 − s) x₀ + s ε at s = 0.50" in pg.plane_title.text()
    pg.sampler.setCurrentIndex(pg.sampler.findData("heun"))
    pg.steps.setValue(8)
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
        pg.sample()
    assert len(pg.frames.snapshot()) == 9 and "straightness S" in pg.status.text()
    with qtbot.waitSignal(pg.trainer.finished, timeout=900000):
        pg.reflow()
    assert "reflow: straightness" in pg.status.text() and "→" in pg.status.text()


def test_memorisation_at_few_points_shows_both_models_and_the_curve(window, qtbot):
    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("moons"))
    pg.memo_size.setValue(0)  # N = 4
    with qtbot.waitSignal(pg.trainer.finished, timeout=900000):
        pg.memorise()
    assert len(pg.memo_points) == 1 and pg.memo_points[0].n == 4
    xs, _ = pg.training_points.getData()
    assert len(xs) == 4 and pg.side.isVisibleTo(pg)
    _, (copy,) = pg.memo_curves[0].getData()
    _, (data,) = pg.memo_curves[1].getData()
    assert copy < -1 and data > 0.5  # log₁₀: ρ < 0.1, the samples sit on the points; δ > 3, the halves differ
    assert "ρ = " in pg.status.text() and "δ = " in pg.status.text()
    assert all(line.isVisible() for line in pg.memo_levels)


def test_the_exported_gif_has_the_arrows_and_the_axes(window, qtbot):
    from core.toy2d.rendering import ARROW_COLOUR, AXIS_COLOUR

    pg = window.playground
    pg.data_choice.setCurrentIndex(pg.data_choice.findData("mixture"))
    pg.exact.setChecked(True)
    pg.sampler.setCurrentIndex(pg.sampler.findData("ddim"))
    pg.steps.setValue(10)
    with qtbot.waitSignal(pg.trainer.finished, timeout=600000):
        pg.sample()
    pictures = pg.export_frames()
    assert pictures[0].shape == (400, 400, 3)
    assert (pictures[0] == ARROW_COLOUR).all(axis=2).sum() > 500  # grey arrows, #21
    assert (pictures[0] == AXIS_COLOUR).all(axis=2).sum() > 400  # the box and its ticks
