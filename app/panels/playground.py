"""The 2-D playground: draw a distribution, train a small network on it in seconds, watch the score field
drive thousands of particles under DDPM, DDIM / the probability-flow ODE, or annealed Langevin dynamics.

The maths is :mod:`core.toy2d`; this panel owns the widgets, a worker thread for training and sampling,
and one pyqtgraph plot: the points (one scatter item), the arrows (one segments item) and a handful of
trajectories (one polyline item with gaps).
"""

from __future__ import annotations

import math
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
    QScrollArea,
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
from core.toy2d.rendering import arrow_segments

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
    "flow matching: Euler": "euler",
    "flow matching: Heun": "heun",
}
PREDICTIONS = (
    ("eps", "ε (noise)"),
    ("x0", "x₀ (data)"),
    ("v", "v"),
    ("velocity", "velocity (flow matching)"),
)
FIELDS = {"guided": "guided score", "conditional": "conditional score", "unconditional": "unconditional score"}
MEMO_SIZES = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 5000)
N_POINTS = 5000
TRAJECTORIES = 6
TAIL = 25  # frames of a stochastic path drawn behind each particle
GRID = 17
VIEW = 2.6


def _row(*widgets: tuple[QWidget, int]) -> QHBoxLayout:
    """A horizontal row of (widget, stretch) pairs for the form."""
    row = QHBoxLayout()
    for widget, stretch in widgets:
        row.addWidget(widget, stretch)
    return row


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
        self.model_data = ""  # the data set the model was trained on (its classes)
        self.run_fn = None  # the function the shown run sampled (guided, conditional or plain)
        self.run_prediction = "eps"
        self.tilted_key = None
        self.memo_points: list = []
        self.flow_summary = ""
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
        for key, name in PREDICTIONS:
            self.prediction.addItem(name, key)
        self.prediction.setToolTip(
            "What the network learns to predict; every view converts it to a score. Velocity: flow matching\n"
            "on the straight path x_s = (1 − s) x₀ + s ε (Lipman et al. 2023, Liu et al. 2023), sampled by Euler or Heun"
        )
        self.conditional = QCheckBox("conditional on the class (guidance)")
        self.conditional.setToolTip(
            "Train with the class labels (mixture components, the two moons, the checkerboard's squares),\n"
            "each dropped at 20 % so one network learns ε(x, c) and ε(x) (Ho & Salimans 2021)"
        )
        self.label_choice = QSpinBox()
        self.label_choice.setRange(0, 9)
        self.label_choice.setPrefix("class ")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 10.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setPrefix("guidance w ")
        self.guidance.setToolTip("(1 + w) ε(x, c) − w ε(x): w = 0 is the plain conditional model")
        self.interval_lo, self.interval_hi = QDoubleSpinBox(), QDoubleSpinBox()
        for box, value, prefix in ((self.interval_lo, 0.0, "for t/T from "), (self.interval_hi, 1.0, "to ")):
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.1)
            box.setValue(value)
            box.setPrefix(prefix)
            box.setToolTip(
                "Guide only at these noise levels (Kynkäänniemi et al. 2024); the conditional model elsewhere"
            )
        self.field_choice = QComboBox()
        for key, name in FIELDS.items():
            self.field_choice.addItem(name, key)
        self.field_choice.setToolTip("Which score the arrows show for a guided run")
        self.reflow_button = QPushButton("Reflow (one round)")
        self.reflow_button.setToolTip(
            "Rectified flow (Liu et al. 2023): train again on the model's own (noise, sample) pairs;\n"
            "the paths straighten and two Euler steps land closer to the data"
        )
        self.reflow_button.clicked.connect(self.reflow)
        self.memo_size = QSlider(Qt.Orientation.Horizontal)
        self.memo_size.setRange(0, len(MEMO_SIZES) - 1)
        self.memo_size.setValue(4)
        self.memo_label = QLabel()
        self.memo_button = QPushButton("Memorisation at N")
        self.memo_button.setToolTip(
            "Models A and A′ on the same N points, B on N others, sampled from the same noise (Kadkhodaie et al.\n"
            "2024): at small N each copies its own points, at large N A and B draw the same new ones. Three\n"
            "trainings of the default length (about 30 s on one thread)"
        )
        self.memo_button.clicked.connect(self.memorise)
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
        form.addRow("", self.conditional)
        form.addRow(_row((self.train_button, 0), (self.train_progress, 1)))
        form.addRow(self.loss_plot)
        form.addRow(QLabel("<b>Forward</b>: scrub t to diffuse the data"))
        form.addRow(_row((self.t_slider, 1), (self.t_label, 0)))
        form.addRow(QLabel("<b>Reverse</b>: particles from N(0, I)"))
        form.addRow(self.sampler)
        form.addRow(self.steps)
        form.addRow(self.step_size)
        form.addRow(self.per_level)
        form.addRow(_row((self.seed, 0), (self.sample_button, 0)))
        form.addRow(_row((self.label_choice, 0), (self.guidance, 0)))
        form.addRow(_row((self.interval_lo, 0), (self.interval_hi, 0)))
        form.addRow(self.reflow_button)
        form.addRow(QLabel("<b>Memorisation</b>: train on N points"))
        form.addRow(_row((self.memo_size, 1), (self.memo_label, 0)))
        form.addRow(self.memo_button)
        form.addRow(_row((self.arrows, 0), (self.field_choice, 0)))
        form.addRow(self.vs_exact)
        form.addRow(self.export_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(form)
        left_layout.addWidget(self.status)
        left_layout.addStretch(1)
        # On a short screen the controls scroll instead of setting the window's minimum height.
        controls = QScrollArea()
        controls.setWidget(left)
        controls.setWidgetResizable(True)
        controls.setFrameShape(QScrollArea.Shape.NoFrame)
        controls.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        controls.setMinimumWidth(left.minimumSizeHint().width() + controls.verticalScrollBar().sizeHint().width())
        controls.setMaximumWidth(380 + controls.verticalScrollBar().sizeHint().width())

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
        self.copies = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(255, 127, 14, 150), pxMode=True)
        self.training_points = pg.ScatterPlotItem(size=7, symbol="x", pen=pg.mkPen(0, 0, 0), brush=None)
        for item in (self.copies, self.training_points):
            self.plane.addItem(item)
        self.training_points.setZValue(-1)
        # Beside the plane: the tilted density for guidance, or the memorisation curve.
        self.side = pg.PlotWidget()
        self.side.setMouseEnabled(False, False)
        self.side.hideButtons()
        self.side.setMinimumWidth(300)
        self.density = pg.ImageItem()
        self.density.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.side.addItem(self.density)
        self.side_legend = self.side.addLegend(offset=(-10, 10))
        self.memo_curves = [
            self.side.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6, symbolBrush=colour, name=name)
            for colour, name in (
                ((31, 119, 180), "ρ: sample → training / fresh → training"),
                ((255, 127, 14), "δ: A ↔ B / A ↔ A′ (same noise)"),
            )
        ]
        # The stated crossings (core.toy2d.memorisation): ρ rises to COPY_LEVEL, δ falls to DATA_LEVEL; 1 is
        # where a model that has learned the distribution sits on both.
        self.memo_levels = [
            pg.InfiniteLine(math.log10(level), angle=0, pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine))
            for level, colour in (
                (toy2d.COPY_LEVEL, (31, 119, 180)),
                (toy2d.DATA_LEVEL, (255, 127, 14)),
                (1.0, (120, 120, 120)),
            )
        ]
        for line in self.memo_levels:
            self.side.addItem(line)
        self.side.hide()
        right = QVBoxLayout()
        self.plane_title = QLabel()
        right.addWidget(self.plane_title)
        planes = QHBoxLayout()
        planes.addWidget(self.plane, 2)
        planes.addWidget(self.side, 1)
        right.addLayout(planes, 1)
        right.addLayout(self.player.bar())

        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addLayout(right, 1)

        self.data_choice.currentIndexChanged.connect(self.set_data)
        self.t_slider.valueChanged.connect(self.show_forward)
        self.sampler.currentIndexChanged.connect(self._sampler_changed)
        self.exact.toggled.connect(self._exact_toggled)
        self.arrows.toggled.connect(lambda _on: self._redraw())
        self.vs_exact.toggled.connect(lambda _on: self._redraw())
        self.field_choice.currentIndexChanged.connect(lambda _i: self._redraw())
        self.memo_size.valueChanged.connect(self._memo_size_changed)
        self.conditional.toggled.connect(lambda _on: self._exact_toggled(self.exact.isChecked()))
        self.label_choice.valueChanged.connect(lambda _v: self._guidance_changed())
        self.guidance.valueChanged.connect(lambda _v: self._guidance_changed())
        self.prediction.currentIndexChanged.connect(lambda _i: self.model is None and self.show_forward())
        self._memo_size_changed()
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
        self.run_fn = None
        self.memo_points = []
        self.train_progress.setValue(0)  # #21: the bar said 100 % for a model of the old data
        self.copies.setData([], [])
        self.training_points.setData([], [])
        self._draw_side()
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
            self.model_data = "mixture"
            self.status.setText("The exact score of the mixture is the model: press Sample.")
        elif self.model is not None and not isinstance(self.model, toy2d.ToyMLP):
            self.model = None
        self._draw_side()
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
        key = self.data_choice.currentData()
        labels = None
        if self.conditional.isChecked():
            if key not in toy2d.NUM_CLASSES:
                self.message.emit(
                    f"{DATA_NAMES.get(key, key)} has no classes to guide towards; "
                    f"take {', '.join(DATA_NAMES[k] for k in toy2d.NUM_CLASSES)}"
                )
                return None
            data, labels = toy2d.make_labelled_dataset(key, N_POINTS, torch.Generator().manual_seed(0))
        num_classes = 0 if labels is None else toy2d.NUM_CLASSES[key]
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
                model, _ = toy2d.train_with(
                    settings, data, schedule, prediction, gen, progress, labels=labels, num_classes=num_classes
                )
            return model, prediction, key

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
        schedule, prediction = self.schedule, self.model_prediction
        sampler, steps, seed = self.sampler.currentData(), self.steps.value(), self.seed.value()
        step_size, per_level = self.step_size.value(), self.per_level.value()
        try:
            toy2d.check_sampler_fits(sampler, prediction)
            model = self._guided_fn("guided")
        except DiffusionVizError as exc:
            self.message.emit(str(exc))
            return None
        flow = sampler in toy2d.FLOW_SAMPLERS
        total = (steps * per_level + 2) if sampler == "langevin" else (steps if flow else min(steps, schedule.T)) + 1
        items = Items(total)
        check_identity = sampler == "ddim" and self.guidance.value() == 0 and not self.conditional_model()
        identity: list[float] = []

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
                if check_identity:  # Gao et al. 2024: the same run as flow-matching Euler, on 500 particles
                    start = torch.from_numpy(np.array(items[0].points[:500]))
                    identity.append(toy2d.ddim_as_flow_euler(model, schedule, start, steps, prediction)[2])
            return identity or True

        self.frames = items
        self.run_sampler = sampler  # what the frames were made with, whatever the menu says later
        self.run_fn, self.run_prediction = model, prediction
        self._job_kind = "sample"
        self._job = self.trainer.submit(job)
        self.player.start(items, lambda: self.trainer.busy)
        self.status.setText(f"sampling with {self.sampler.currentText()}…")
        return self._job

    def conditional_model(self) -> bool:
        """True when the model knows the classes: a conditional MLP, or the exact mixture with 'conditional'."""
        if isinstance(self.model, toy2d.ToyMLP):
            return self.model.num_classes > 0
        return self.model is not None and self.conditional.isChecked()

    def _guided_fn(self, kind: str):
        """The model to sample or draw: guided, conditional (w = 0) or unconditional; one line if it cannot be."""
        w = self.guidance.value() if kind == "guided" else 0.0
        if not self.conditional_model():
            if w > 0:
                raise DiffusionVizError(
                    "Guidance needs a conditional model: tick 'conditional on the class' and train "
                    "(or use the mixture's exact score)."
                )
            return self.model
        label = self.label_choice.value()
        toy2d.check_class(self.model_data, label)
        interval = (self.interval_lo.value(), self.interval_hi.value())
        if not isinstance(self.model, toy2d.ToyMLP):  # the mixture's exact scores
            mixture = toy2d.default_mixture()
            if kind == "unconditional":
                return mixture.eps_model(self.schedule)
            guided, plain = mixture.eps_model(self.schedule, label, w), mixture.eps_model(self.schedule, label, 0.0)
            T = self.schedule.T

            def exact(x, t):
                inside = interval[0] <= (float(t[0]) + 1) / T <= interval[1]
                return (guided if inside else plain)(x, t)

            return exact
        if kind == "unconditional":
            model = self.model
            return lambda x, t: model(x, t)  # no label: the dropped-label class
        horizon = None if self.model.flow else self.schedule.T
        return toy2d.guided_model(self.model, label, w, interval, horizon)

    def reflow(self) -> int | None:
        """One round of rectified flow on the current flow-matching model (Liu et al. 2023)."""
        if not (isinstance(self.model, toy2d.ToyMLP) and self.model.flow and self.model.num_classes == 0):
            self.message.emit("Reflow needs a trained flow-matching model: Predicts → velocity, then Train.")
            return None
        model, settings, seed = self.model, self.settings, self.seed.value()
        reference = self.data[torch.randperm(len(self.data), generator=torch.Generator().manual_seed(2))[:2000]]
        self.train_progress.setRange(0, settings.steps)

        def job(handle):
            gen = torch.Generator().manual_seed(seed)
            noise = torch.randn(2000, 2, generator=torch.Generator().manual_seed(seed + 1))
            with one_thread():
                before = toy2d.flow_report(model, noise, reference)
                after_model = toy2d.reflow(
                    model,
                    n=N_POINTS,
                    steps=settings.steps,
                    generator=gen,
                    progress=lambda s, t, _l: handle.report(s, t),
                )
                after = toy2d.flow_report(after_model, noise, reference)
            summary = (
                f"reflow: straightness (Liu et al., 0 = straight) {before['straightness']:.3f} → "
                f"{after['straightness']:.3f}; 2-step Euler SW₂ to the data {before['sw_2']:.3f} → {after['sw_2']:.3f}."
            )
            return after_model, summary

        self._job_kind = "reflow"
        self._job = self.trainer.submit(job)
        self.status.setText("reflow: sampling pairs, then training on them…")
        return self._job

    def _straightness_text(self) -> str:
        frames = self.frames.snapshot()
        paths = np.stack([f.points for f in frames], 1)
        times = [f.t for f in frames]
        each = toy2d.straightness(paths, times)
        shown = " ".join(f"{v:.2f}" for v in each[:TRAJECTORIES])
        return (
            f"straightness S (Liu et al. 2023; 0 = straight): mean {each.mean():.3f}, the red paths {shown}; "
            f"chord/arc {toy2d.chord_ratio(paths).mean():.3f}. {self.flow_summary}"
        )

    def _memo_size_changed(self) -> None:
        self.memo_label.setText(f"N = {MEMO_SIZES[self.memo_size.value()]}")

    def memorise(self) -> int | None:
        """Train models A and A′ on N points and B on N others; add their two ratios to the curve."""
        n = MEMO_SIZES[self.memo_size.value()]
        key = self.data_choice.currentData()
        if key in toy2d.DATASETS:
            pool = toy2d.memorisation_pool(key, n)
        else:
            pool = self.data[torch.randperm(len(self.data), generator=torch.Generator().manual_seed(n))]
        if 3 * n > len(pool):
            self.message.emit(
                f"N = {n} is more than the data holds: two disjoint sets of N and a fresh draw need {3 * n} points, "
                f"there are {len(pool)}."
            )
            return None
        settings, seed = self.settings, self.seed.value()
        self.train_progress.setRange(0, 3 * settings.steps)

        def job(handle):
            with one_thread():
                return toy2d.memorisation_point(pool, n, settings, seed, progress=lambda s, t, _l: handle.report(s, t))

        self._job_kind = "memorise"
        self._job = self.trainer.submit(job)
        self.status.setText(f"memorisation: training A and A′ on {n} points, B on {n} others…")
        return self._job

    def _show_memorisation(self, point) -> None:
        self.memo_points = [p for p in self.memo_points if p.n != point.n] + [point]
        self.memo_points.sort(key=lambda p: p.n)
        self.frames = None
        self.points.setData(point.samples_a[:, 0], point.samples_a[:, 1])
        self.copies.setData(point.samples_b[:, 0], point.samples_b[:, 1])
        # Under the samples, and smaller once they are many, so that the samples stay visible on them.
        self.training_points.setData(point.training_a[:, 0], point.training_a[:, 1], size=7 if point.n <= 256 else 4)
        self.paths.setData([], [])
        self._draw_field(None)
        self.plane_title.setText(
            f"N = {point.n}: model A's samples (blue), model B's from the same noise (orange), A's training points (×)"
        )
        found = []
        for name, where in (
            ("copying stops", toy2d.copy_crossing(self.memo_points)),
            ("the data set stops mattering", toy2d.data_crossing(self.memo_points)),
        ):
            if where is not None:
                found.append(f"{name} at N ≈ {where:.0f}")
        crossings = f" Measured so far: {'; '.join(found)}." if found else ""
        self.status.setText(
            f"N = {point.n}: a sample lies {point.to_training:.3f} from its nearest training point, a fresh point "
            f"{point.fresh_to_training:.3f} (ρ = {point.copy_ratio:.2f}; copying below {toy2d.COPY_LEVEL:g}). "
            f"A and B, trained on disjoint points, differ by {point.between_models:.3f}; A and A′, on the same "
            f"points, by {point.between_seeds:.3f} (δ = {point.data_ratio:.1f}; the data matters above "
            f"{toy2d.DATA_LEVEL:g}).{crossings}"
        )
        self._draw_side()

    def _draw_side(self) -> None:
        """The tilted density beside a guided run of the mixture, or the memorisation curve, or nothing."""
        for curve in self.memo_curves:
            curve.setData([], [])
        for line in self.memo_levels:
            line.hide()
        self.density.clear()
        if self.memo_points and self._job_kind == "memorise":
            n = np.log10([p.n for p in self.memo_points])
            for curve, values in zip(
                self.memo_curves,
                ([p.copy_ratio for p in self.memo_points], [p.data_ratio for p in self.memo_points]),
                strict=True,
            ):
                curve.setData(n, np.log10(np.maximum(values, 1e-4)))
            for line in self.memo_levels:
                line.show()
            self.side.setTitle("copy ratio ρ and data ratio δ (log₁₀) against log₁₀ N", size="9pt")
            self.side.setAspectLocked(False)
            self.side.enableAutoRange()
            self.side_legend.show()
            self.side.show()
            return
        label, w = self.label_choice.value(), self.guidance.value()
        if (
            self.data_choice.currentData() == "mixture"
            and self.conditional_model()
            and label < toy2d.NUM_CLASSES["mixture"]
        ):
            if self.tilted_key != (label, w):
                grid = toy2d.tilted_density_grid(toy2d.default_mixture(), label, w, -VIEW, VIEW, 200)
                self._tilted = (grid / grid.max()).sqrt().numpy() * 255  # √ shows the tails
                self.tilted_key = (label, w)
            self.density.setImage(self._tilted, levels=(0, 255), autoLevels=False)
            self.density.setRect(-VIEW, -VIEW, 2 * VIEW, 2 * VIEW)  # after setImage: the rect scales by its size
            self.side.setTitle(f"p(x | c) p(c | x)^w for c = {label}, w = {w:g}: the tilted density", size="9pt")
            self.side.setAspectLocked(True)
            self.side.setXRange(-VIEW, VIEW)
            self.side.setYRange(-VIEW, VIEW)
            self.side_legend.hide()
            self.side.show()
            return
        self.side.hide()

    def _sampler_changed(self) -> None:
        langevin = self.sampler.currentData() == "langevin"
        self.step_size.setEnabled(langevin)
        self.per_level.setEnabled(langevin)
        flow = self.sampler.currentData() in toy2d.FLOW_SAMPLERS
        self.steps.setValue(20 if langevin else 50 if flow else self.schedule.T)

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
            self.model, self.model_prediction, self.model_data = result
            self.train_progress.setValue(self.train_progress.maximum())
            self.status.setText("trained: the arrows are its score field. Press Sample.")
            self._redraw()
        elif self._job_kind == "reflow":
            self.model, self.flow_summary = result
            self.train_progress.setValue(self.train_progress.maximum())
            self.status.setText(self.flow_summary + " Press Sample to see the straighter paths.")
            self._redraw()
        elif self._job_kind == "memorise":
            self._show_memorisation(result)
        else:
            text = "sampled: play, step or scrub the particles; red lines are a few trajectories."
            if self.run_sampler in toy2d.FLOW_SAMPLERS:
                text = self._straightness_text()
            elif isinstance(result, list):
                text = (
                    "DDIM is flow-matching Euler under x ↦ x/(√ᾱ + √(1−ᾱ)), t ↦ s = √(1−ᾱ)/(√ᾱ + √(1−ᾱ)) "
                    f"(Gao et al. 2024): the two runs of this model differ by at most {result[0]:.1e}."
                )
            self.status.setText(text)
            self._draw_side()

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
        self.copies.setData([], [])
        self.training_points.setData([], [])
        if self._flow_model():
            s = t / self.schedule.T
            x = (1 - s) * self.data + s * self._noise  # the straight path, Eq. (1) of Liu et al. 2023
            self.plane_title.setText(f"x_s = (1 − s) x₀ + s ε at s = {s:.2f}: the flow-matching path")
            self.points.setData(x[:, 0].numpy(), x[:, 1].numpy())
            self.paths.setData([], [])
            self._draw_field(max(s, 1.0 / self.schedule.T))
            return
        x = self.data if index < 0 else q_sample(self.schedule, self.data, index, self._noise)
        self.points.setData(x[:, 0].numpy(), x[:, 1].numpy())
        self.paths.setData([], [])
        self.plane_title.setText(f"q(x_t | x_0) at t = {t}: the data diffused")
        self._draw_field(max(index, 0))

    def _flow_model(self) -> bool:
        """True for a flow-matching model, or, before training, when velocity is chosen."""
        if self.model is None:
            return self.prediction.currentData() == toy2d.VELOCITY
        return isinstance(self.model, toy2d.ToyMLP) and self.model.flow

    def _guidance_changed(self) -> None:
        if self._job_kind != "memorise":
            self._draw_side()
        self._redraw()

    def _show_frame(self, frame, index: int) -> None:
        self.points.setData(frame.points[:, 0], frame.points[:, 1])
        # The ODE's paths are smooth and drawn whole; the SDE's and Langevin's are random walks that would
        # fill the plane, so only their recent stretch is drawn.
        smooth = self.run_sampler == "ddim" or self.run_sampler in toy2d.FLOW_SAMPLERS
        first = 0 if smooth else max(0, index - TAIL)
        upto = [self.frames[i].points[:TRAJECTORIES] for i in range(first, index + 1)]
        if len(upto) > 1:
            stack = np.stack(upto, 1)  # [particles, time, 2]
            xs = np.concatenate([np.append(p[:, 0], np.nan) for p in stack])
            ys = np.concatenate([np.append(p[:, 1], np.nan) for p in stack])
            self.paths.setData(xs, ys, connect="finite")
        else:
            self.paths.setData([], [])
        names = {key: name for name, key in SAMPLERS.items()}
        caption = frame.label.replace("   level", ", Langevin level")
        self.plane_title.setText(f"{names[self.run_sampler]}: {caption}")
        if frame.flow:
            self._draw_field(max(float(frame.t), 1.0 / self.schedule.T))
        else:
            self._draw_field(index_from_paper_t(frame.t) if frame.t > 0 else 0)

    def _draw_field(self, index: int | None) -> None:
        self._draw_exact(index)
        if index is None or self.model is None or not self.arrows.isChecked():
            self.field.setData([], [])
            self.heads.setData([], [])
            return
        try:
            model = self._guided_fn(self.field_choice.currentData())
        except DiffusionVizError:
            model = self.model
        grid, score = toy2d.field_on_grid(model, self.schedule, index, self.model_prediction, -VIEW, VIEW, GRID)
        segments, heads = arrow_segments(grid, score)
        self.field.setData(segments[:, 0], segments[:, 1])
        self.heads.setData(heads[:, 0], heads[:, 1])

    def _draw_exact(self, index: int | None) -> None:
        """Learned against exact: the mixture's own arrows and the relative error of the learned field."""
        show = (
            index is not None
            and self.model is not None
            and not self._flow_model()
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
        segments, _ = arrow_segments(grid, mixture.score(torch.from_numpy(grid), index, self.schedule).numpy())
        self.exact_field.setData(segments[:, 0], segments[:, 1])
        self.status.setText(f"learned vs exact at this t: median relative error {np.median(error):.2f}")

    def export_frames(self) -> list[np.ndarray]:
        if self.frames is None or not len(self.frames):
            raise DiffusionVizError("There is no reverse run to export yet: Train, then Sample.")
        smooth = self.run_sampler == "ddim" or self.run_sampler in toy2d.FLOW_SAMPLERS
        fn, prediction, schedule = self.run_fn, self.run_prediction, self.schedule

        def field(frame):  # #21: the GIF shows the arrows the screen showed
            t = max(float(frame.t), 1.0 / schedule.T) if frame.flow else max(int(frame.t) - 1, 0)
            return toy2d.field_on_grid(fn, schedule, t, prediction, -VIEW, VIEW, GRID)

        names = {key: name for name, key in SAMPLERS.items()}
        return toy2d.render_points_gif_frames(
            self.frames.snapshot(),
            trajectories=TRAJECTORIES,
            tail=None if smooth else TAIL,
            field=field if fn is not None else None,
            lo=-VIEW,
            hi=VIEW,
            title=names[self.run_sampler].split(" (")[0],
        )

    def shutdown(self) -> None:
        self.player.stop()
        self.trainer.shutdown()
