"""The 2-D playground: draw a distribution, train a small network on it in seconds, watch the score field
drive thousands of particles under DDPM, DDIM / the probability-flow ODE, or annealed Langevin dynamics.

The maths is :mod:`core.toy2d`; this panel owns the widgets, a worker thread for training and sampling,
and one pyqtgraph plot: the points (one scatter item), the arrows (one segments item) and a handful of
trajectories (one polyline item with gaps).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.state import ViewState
from app.views.player import Items, Player
from app.workers.inference import Worker
from core import toy2d
from core.diffusion.forward import q_sample
from core.diffusion.schedules import index_from_paper_t
from core.errors import DiffusionVizError

FROM_IMAGE, DRAWN = "from your image (dark pixels)", "drawn with the mouse"
DATA_NAMES = {
    "moons": "two moons",
    "swiss_roll": "swiss roll",
    "8gaussians": "8 Gaussians",
    "checkerboard": "checkerboard",
    "spiral": "spiral",
    "mixture": "Gaussian mixture (exact score known)",
}
SAMPLERS = {
    "DDPM (stochastic, the SDE)": "ddpm",
    "DDIM η = 0 (deterministic, the ODE)": "ddim",
    "annealed Langevin (NCSN)": "langevin",
}
N_POINTS = 5000
TRAJECTORIES = 6
TAIL = 25  # frames of a stochastic path drawn behind each particle
GRID = 17
VIEW = 2.6


def arrows(grid: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments (pairs) and arrow heads (pairs) for a field: the direction as is, the length squashed.

    The score grows like 1/σ_t near the data, so lengths go through tanh of the field's own median size.
    """
    norm = np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    tips = grid + vectors * (0.22 * np.tanh(norm / np.median(norm)) / norm)
    segments = np.empty((2 * len(grid), 2), np.float32)
    segments[0::2], segments[1::2] = grid, tips
    back = (grid - tips) * 0.35
    rot = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]], np.float32)
    heads = np.empty((4 * len(grid), 2), np.float32)
    heads[0::4], heads[1::4] = tips, tips + back @ rot.T
    heads[2::4], heads[3::4] = tips, tips + back @ rot
    return segments, heads


@contextmanager
def one_thread():
    """Run a 2-D job on one torch thread: the MLP is too small to gain from more, and on two busy cores a
    second thread made training steps vary from 3 to 340 ms. The count is process-wide, so it is restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class PlaygroundPanel(QWidget):
    """Data on the left, the plane on the right; train, then sample, then play the particles."""

    message = Signal(str)

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.trainer = Worker("playground", self)
        self.trainer.progress.connect(self._progress)
        self.trainer.finished.connect(self._finished)
        self.trainer.failed.connect(self._failed)
        self._job, self._job_kind = 0, ""
        self.settings = toy2d.DEFAULT_TRAIN
        self.schedule = self.settings.make_schedule()
        self.data = torch.zeros(0, 2)
        self.drawn: list[tuple[float, float]] = []
        self.model = None  # a trained ToyMLP, or the mixture's exact ε-model
        self.model_prediction = "eps"
        self.losses: list[float] = []
        self.frames: Items | None = None
        self.run_sampler = "ddpm"
        self._noise = torch.zeros(0, 2)

        self.data_choice = QComboBox()
        for key, name in DATA_NAMES.items():
            self.data_choice.addItem(name, key)
        self.data_choice.addItem(FROM_IMAGE, "image")
        self.data_choice.addItem(DRAWN, "drawn")
        self.data_choice.setToolTip("The distribution to learn. Drawn: click in the plane to add points.")
        self.clear_drawing = QPushButton("Clear drawing")
        self.clear_drawing.clicked.connect(self._clear_drawing)
        self.prediction = QComboBox()
        for key, name in (("eps", "ε (noise)"), ("x0", "x₀ (data)"), ("v", "v")):
            self.prediction.addItem(name, key)
        self.prediction.setToolTip("What the network learns to predict; every view converts it to a score")
        self.exact = QCheckBox("use the exact score (mixture)")
        self.exact.setToolTip("The Gaussian mixture's ∇ log q_t in closed form as the model: no training")
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip(f"{self.settings.steps} Adam steps of the simple loss (Ho et al. Eq. 14)")
        self.train_button.clicked.connect(self.train)
        self.train_progress = QProgressBar()
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setTitle("training loss (mean of the last 50 steps)", size="8pt")
        self.loss_plot.setYRange(0, 1.2)
        self.loss_plot.setMaximumHeight(140)
        self.loss_plot.setMouseEnabled(False, False)
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen((31, 119, 180), width=1))
        self.t_slider = QSlider(Qt.Orientation.Horizontal)
        self.t_slider.setRange(0, self.schedule.T)
        self.t_slider.setAccessibleName("playground t")
        self.t_label = QLabel()
        self.sampler = QComboBox()
        for name, key in SAMPLERS.items():
            self.sampler.addItem(name, key)
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setValue(self.schedule.T)
        self.steps.setPrefix("steps / levels ")
        self.step_size = QDoubleSpinBox()
        self.step_size.setDecimals(4)
        self.step_size.setRange(1e-4, 10.0)
        self.step_size.setSingleStep(0.01)
        self.step_size.setValue(toy2d.default_langevin_step_size(self.schedule))
        self.step_size.setPrefix("Langevin step ")
        self.per_level = QSpinBox()
        self.per_level.setRange(1, 200)
        self.per_level.setValue(10)
        self.per_level.setPrefix("steps per level ")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.sample_button = QPushButton("Sample")
        self.sample_button.clicked.connect(self.sample)
        self.player = Player(self._show_frame, self)
        self.player.busy = lambda: self.trainer.busy
        self.arrows = QCheckBox("score arrows")
        self.arrows.setChecked(True)
        self.vs_exact = QCheckBox("learned vs exact score (mixture)")
        self.vs_exact.setToolTip(
            "Orange arrows: the mixture's exact ∇ log q_t. The background: ‖s_θ − ∇ log q_t‖ / ‖∇ log q_t‖,\n"
            "dark where the network has learned the field (black 0, white ≥ 1)."
        )
        self.export_button = QPushButton("Export GIF…")
        self.status = QLabel()
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Data", self.data_choice)
        form.addRow("", self.clear_drawing)
        form.addRow("Predicts", self.prediction)
        form.addRow("", self.exact)
        train_row = QHBoxLayout()
        train_row.addWidget(self.train_button)
        train_row.addWidget(self.train_progress, 1)
        form.addRow(train_row)
        form.addRow(self.loss_plot)
        form.addRow(QLabel("<b>Forward</b>: scrub t to diffuse the data"))
        slider_row = QHBoxLayout()
        slider_row.addWidget(self.t_slider, 1)
        slider_row.addWidget(self.t_label)
        form.addRow(slider_row)
        form.addRow(QLabel("<b>Reverse</b>: particles from N(0, I)"))
        form.addRow(self.sampler)
        form.addRow(self.steps)
        form.addRow(self.step_size)
        form.addRow(self.per_level)
        sample_row = QHBoxLayout()
        for w in (self.seed, self.sample_button):
            sample_row.addWidget(w)
        form.addRow(sample_row)
        form.addRow(self.arrows)
        form.addRow(self.vs_exact)
        form.addRow(self.export_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(form)
        left_layout.addWidget(self.status)
        left_layout.addStretch(1)
        left.setMaximumWidth(380)

        self.plane = pg.PlotWidget()
        self.plane.setAspectLocked(True)
        self.plane.setXRange(-VIEW, VIEW)
        self.plane.setYRange(-VIEW, VIEW)
        self.plane.showGrid(x=True, y=True, alpha=0.15)
        self.plane.setMouseEnabled(False, False)
        self.plane.hideButtons()
        self.points = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(31, 119, 180, 150), pxMode=True)
        self.field = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((120, 120, 120), width=1))
        self.heads = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((120, 120, 120), width=1))
        self.paths = pg.PlotDataItem(pen=pg.mkPen((214, 39, 40), width=1.5))
        self.exact_field = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((255, 127, 14), width=1))
        self.error_map = pg.ImageItem()
        self.error_map.setZValue(-10)
        self.error_map.setRect(-VIEW, -VIEW, 2 * VIEW, 2 * VIEW)
        self.plane.addItem(self.error_map)
        for item in (self.field, self.heads, self.exact_field, self.points, self.paths):
            self.plane.addItem(item)
        self.plane.scene().sigMouseClicked.connect(self._clicked)
        right = QVBoxLayout()
        self.plane_title = QLabel()
        right.addWidget(self.plane_title)
        right.addWidget(self.plane, 1)
        right.addLayout(self.player.bar())

        layout = QHBoxLayout(self)
        layout.addWidget(left)
        layout.addLayout(right, 1)

        self.data_choice.currentIndexChanged.connect(self.set_data)
        self.t_slider.valueChanged.connect(self.show_forward)
        self.sampler.currentIndexChanged.connect(self._sampler_changed)
        self.exact.toggled.connect(self._exact_toggled)
        self.arrows.toggled.connect(lambda _on: self._redraw())
        self.vs_exact.toggled.connect(lambda _on: self._redraw())
        state.image_changed.connect(lambda: self.data_choice.currentData() == "image" and self.set_data())
        self._sampler_changed()
        self.set_data()

    # -- data ----------------------------------------------------------------------------------------

    def set_data(self) -> bool:
        """Fill ``self.data`` from the chosen source; one message if it cannot be had, the old data kept."""
        key = self.data_choice.currentData()
        gen = torch.Generator().manual_seed(0)
        try:
            if key == "image":
                if self.state.image is None:
                    raise DiffusionVizError("Open an image first: its dark pixels become the points.")
                data = toy2d.points_from_image(self.state.image, N_POINTS, gen)
            elif key == "drawn":
                data = torch.tensor(self.drawn, dtype=torch.float32).reshape(-1, 2)
                if len(data) >= toy2d.MIN_DRAWN_POINTS:
                    data = toy2d.check_drawn_points(data)
            else:
                data = toy2d.make_dataset(key, N_POINTS, gen)
        except DiffusionVizError as exc:
            self.message.emit(str(exc))
            return False
        self.data = data
        self._noise = torch.randn(data.shape, generator=torch.Generator().manual_seed(1))
        self.trainer.cancel()  # a model still training on the old data must not arrive over the new
        self._job += 1
        self.model = None
        self.frames = None
        self.exact.setEnabled(key == "mixture")
        self.vs_exact.setEnabled(key == "mixture")
        if key != "mixture":
            with QSignalBlocker(self.exact):
                self.exact.setChecked(False)
        self.clear_drawing.setVisible(key == "drawn")
        if key == "drawn" and len(data) < toy2d.MIN_DRAWN_POINTS:
            self.status.setText(f"Click in the plane to draw: {len(data)} of at least {toy2d.MIN_DRAWN_POINTS} points.")
        else:
            self.status.setText(f"{len(data)} points. Train, then Sample.")
        self.show_forward()
        return True

    def _clicked(self, event) -> None:
        if self.data_choice.currentData() != "drawn":
            return
        p = self.plane.getPlotItem().vb.mapSceneToView(event.scenePos())
        rng = np.random.default_rng(len(self.drawn))
        for dx, dy in rng.normal(0, 0.05, (8, 2)):  # a small brush of points per click
            self.drawn.append((p.x() + dx, p.y() + dy))
        self.set_data()

    def _clear_drawing(self) -> None:
        self.drawn.clear()
        self.set_data()

    # -- the model -----------------------------------------------------------------------------------

    def _exact_toggled(self, on: bool) -> None:
        if on:
            self.model, self.model_prediction = toy2d.default_mixture().eps_model(self.schedule), "eps"
            self.status.setText("The exact score of the mixture is the model: press Sample.")
        else:
            self.model = None
        self._redraw()

    def train(self) -> int | None:
        data = self.data
        if self.data_choice.currentData() == "drawn":
            try:
                data = toy2d.check_drawn_points(self.drawn)
            except DiffusionVizError as exc:
                self.message.emit(str(exc))
                return None
        if len(data) == 0:
            self.message.emit("There are no points to train on.")
            return None
        prediction = self.prediction.currentData()
        schedule, settings, seed = self.schedule, self.settings, self.seed.value()
        self.losses = losses = []  # this job's own list: a cancelled job cannot write into the next one's
        self.train_progress.setRange(0, settings.steps)

        def job(handle):
            gen = torch.Generator().manual_seed(seed)

            recent: list[float] = []

            def progress(step, total, loss):
                recent.append(loss)
                del recent[:-8]  # reports come every 50 steps: the curve is their running mean
                losses.append((step, sum(recent) / len(recent)))
                return handle.report(step, total)

            with one_thread():
                model, _ = toy2d.train_toy(
                    data,
                    schedule,
                    prediction,
                    settings.steps,
                    settings.batch_size,
                    settings.lr,
                    gen,
                    progress,
                    model=settings.make_model(prediction, gen),
                )
            return model, prediction

        with QSignalBlocker(self.exact):
            self.exact.setChecked(False)
        self._job_kind = "train"
        self._job = self.trainer.submit(job)
        self.status.setText("training…")
        return self._job

    def sample(self) -> int | None:
        if self.model is None:
            self.message.emit("Train a model first (or use the mixture's exact score).")
            return None
        model, schedule, prediction = self.model, self.schedule, self.model_prediction
        sampler, steps, seed = self.sampler.currentData(), self.steps.value(), self.seed.value()
        step_size, per_level = self.step_size.value(), self.per_level.value()
        total = (steps * per_level + 1) if sampler == "langevin" else min(steps, schedule.T) + 1
        items = Items(total)

        def job(handle):
            gen = torch.Generator().manual_seed(seed)
            frames = toy2d.sample_toy(
                model,
                schedule,
                sampler,
                N_POINTS,
                steps,
                gen,
                prediction,
                step_size=step_size,
                steps_per_level=per_level,
            )
            with one_thread():
                for frame in frames:
                    items.total = frame.total
                    items.append(frame)
                    if handle.cancelled:
                        return None
            return True

        self.frames = items
        self.run_sampler = sampler  # what the frames were made with, whatever the menu says later
        self._job_kind = "sample"
        self._job = self.trainer.submit(job)
        self.player.start(items, lambda: self.trainer.busy)
        self.status.setText(f"sampling with {self.sampler.currentText()}…")
        return self._job

    def _sampler_changed(self) -> None:
        langevin = self.sampler.currentData() == "langevin"
        self.step_size.setEnabled(langevin)
        self.per_level.setEnabled(langevin)
        self.steps.setValue(20 if langevin else self.schedule.T)

    # -- worker -------------------------------------------------------------------------------------

    def _progress(self, job_id: int, done: int, total: int) -> None:
        if job_id != self._job or self._job_kind != "train":
            return
        self.train_progress.setValue(done)
        steps, values = zip(*self.losses, strict=True)
        self.loss_curve.setData(np.asarray(steps), np.asarray(values))
        self.loss_plot.setYRange(0, max(values) * 1.1)
        self.status.setText(f"training… step {done}/{total}, loss {values[-1]:.3f}")

    def _finished(self, job_id: int, result) -> None:
        if job_id != self._job or result is None:
            return
        if self._job_kind == "train":
            self.model, self.model_prediction = result
            self.train_progress.setValue(self.train_progress.maximum())
            self.status.setText("trained: the arrows are its score field. Press Sample.")
            self._redraw()
        else:
            self.status.setText("sampled: play, step or scrub the particles; red lines are a few trajectories.")

    def _failed(self, job_id: int, message: str) -> None:
        if job_id == self._job:
            self.status.setText("stopped: " + message)
            self.message.emit(message)

    # -- drawing ------------------------------------------------------------------------------------

    def _redraw(self) -> None:
        if self.frames is not None and len(self.frames):
            self._show_frame(self.frames[self.player.playback.position], self.player.playback.position)
        else:
            self.show_forward()

    def show_forward(self) -> None:
        """The data diffused to the slider's t (Eq. 4 with fixed noise), and the field at that t."""
        t = self.t_slider.value()
        self.t_label.setText(f"t = {t} / {self.schedule.T}")
        if len(self.data) == 0:
            self.points.setData([], [])
            self._draw_field(None)
            return
        index = index_from_paper_t(t)
        x = self.data if index < 0 else q_sample(self.schedule, self.data, index, self._noise)
        self.points.setData(x[:, 0].numpy(), x[:, 1].numpy())
        self.paths.setData([], [])
        self.plane_title.setText(f"q(x_t | x_0) at t = {t}: the data diffused")
        self._draw_field(max(index, 0))

    def _show_frame(self, frame, index: int) -> None:
        self.points.setData(frame.points[:, 0], frame.points[:, 1])
        # The ODE's paths are smooth and drawn whole; the SDE's and Langevin's are random walks that would
        # fill the plane, so only their recent stretch is drawn.
        first = 0 if self.run_sampler == "ddim" else max(0, index - TAIL)
        upto = [self.frames[i].points[:TRAJECTORIES] for i in range(first, index + 1)]
        if len(upto) > 1:
            stack = np.stack(upto, 1)  # [particles, time, 2]
            xs = np.concatenate([np.append(p[:, 0], np.nan) for p in stack])
            ys = np.concatenate([np.append(p[:, 1], np.nan) for p in stack])
            self.paths.setData(xs, ys, connect="finite")
        else:
            self.paths.setData([], [])
        level = f", Langevin level {frame.level}/{frame.levels}" if frame.levels else ""
        names = {key: name for name, key in SAMPLERS.items()}
        self.plane_title.setText(f"{names[self.run_sampler]}: t = {frame.t}{level}")
        self._draw_field(index_from_paper_t(frame.t) if frame.t > 0 else 0)

    def _draw_field(self, index: int | None) -> None:
        self._draw_exact(index)
        if index is None or self.model is None or not self.arrows.isChecked():
            self.field.setData([], [])
            self.heads.setData([], [])
            return
        grid, score = toy2d.field_on_grid(self.model, self.schedule, index, self.model_prediction, -VIEW, VIEW, GRID)
        segments, heads = arrows(grid, score)
        self.field.setData(segments[:, 0], segments[:, 1])
        self.heads.setData(heads[:, 0], heads[:, 1])

    def _draw_exact(self, index: int | None) -> None:
        """Learned against exact: the mixture's own arrows and the relative error of the learned field."""
        show = (
            index is not None
            and self.model is not None
            and not self.exact.isChecked()
            and self.vs_exact.isChecked()
            and self.data_choice.currentData() == "mixture"
        )
        if not show:
            self.exact_field.setData([], [])
            self.error_map.clear()
            return
        mixture = toy2d.default_mixture()
        error = toy2d.score_error_on_grid(self.model, mixture, self.schedule, index, self.model_prediction, -VIEW, VIEW)
        self.error_map.setImage(np.clip(error, 0, 1) * 255, levels=(0, 255), autoLevels=False)
        grid, _ = toy2d.field_on_grid(self.model, self.schedule, index, self.model_prediction, -VIEW, VIEW, GRID)
        segments, _ = arrows(grid, mixture.score(torch.from_numpy(grid), index, self.schedule).numpy())
        self.exact_field.setData(segments[:, 0], segments[:, 1])
        self.status.setText(f"learned vs exact at this t: median relative error {np.median(error):.2f}")

    def export_frames(self) -> list[np.ndarray]:
        if self.frames is None or not len(self.frames):
            raise DiffusionVizError("There is no reverse run to export yet: Train, then Sample.")
        tail = None if self.run_sampler == "ddim" else TAIL
        return toy2d.render_points_gif_frames(self.frames.snapshot(), trajectories=TRAJECTORIES, tail=tail)

    def shutdown(self) -> None:
        self.player.stop()
        self.trainer.shutdown()
