"""The reverse chain of a trained model: x_t beside x̂_0, frame by frame, on a worker thread."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.state import ViewState
from app.views.imageview import ImageView
from app.workers.chain import ChainWorker
from core.diffusion.samplers import SamplerConfig
from core.diffusion.schedules import index_from_paper_t, matching_index
from core.models.checkpoint import LoadedModel
from core.runs.chain import Frame, run_chain

START_NOISE, START_IMAGE = "pure noise", "forward image at its t"
# While a run goes, the pictures repaint at 30 Hz with the newest frame; the progress bar, timeline
# and status text at 10 Hz. Every millisecond the GUI thread paints is taken from torch's threads on
# a 2-core machine, and those widgets make their ancestors repaint too (the pictures are opaque).
PAINT_INTERVAL_MS = 33
CHROME_INTERVAL_MS = 100


class ReversePanel(QWidget):
    """Controls a :class:`ChainWorker` and shows its frames.

    The worker writes frames into its history; this panel paints only the newest one at display
    rate (a coalescing timer), so a fast model never floods the GUI thread.
    """

    message = Signal(str)  # problems to show the user
    run_finished = Signal(int, bool)

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model: LoadedModel | None = None
        self.worker = ChainWorker(self)
        self.worker.started.connect(self._on_started)
        self.worker.frame_ready.connect(self._on_frame)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self._live = True  # follow the newest frame; scrubbing back turns this off
        self._paint_timer = QTimer(self)
        self._paint_timer.setSingleShot(True)
        self._paint_timer.setInterval(PAINT_INTERVAL_MS)
        self._paint_timer.timeout.connect(self._paint_pictures)
        self._chrome_timer = QTimer(self)
        self._chrome_timer.setSingleShot(True)
        self._chrome_timer.setInterval(CHROME_INTERVAL_MS)
        self._chrome_timer.timeout.connect(self._update_chrome)
        self._num_steps = 0

        self.model_label = QLabel("no model")
        self.model_label.setWordWrap(True)
        self.open_model = QPushButton("Open model…")
        self.sampler = QComboBox()
        self.sampler.addItem("DDPM (ancestral)", "ddpm")
        self.sampler.addItem("DDIM", "ddim")
        self.variance = QComboBox()
        self.variance.addItem("σ² = β̃_t", "fixed_small")
        self.variance.addItem("σ² = β_t", "fixed_large")
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setValue(50)
        self.steps.setPrefix("steps ")
        self.eta = QDoubleSpinBox()
        self.eta.setRange(0.0, 1.0)
        self.eta.setSingleStep(0.1)
        self.eta.setPrefix("η ")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.start_from = QComboBox()
        self.start_from.addItems([START_IMAGE, START_NOISE])
        self.sampler.currentIndexChanged.connect(self._sampler_changed)

        self.play = QPushButton("Play")
        self.play.setToolTip("Run the chain (Space)")
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One step (→ when paused)")
        self.stop_button = QPushButton("Stop")
        self.play.clicked.connect(self.toggle_play)
        self.step_button.clicked.connect(self.step)
        self.stop_button.clicked.connect(self.stop)

        self.view_xt = ImageView("x_t")
        self.view_x0 = ImageView("predicted x₀")
        views = QHBoxLayout()
        views.addWidget(self.view_xt)
        views.addWidget(self.view_x0)

        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.status = QLabel("Press Play to run the model's reverse chain.")
        # Its text changes with every painted step; an Ignored width keeps that from re-laying out
        # (and repainting) the whole window, plots included, many times a second.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setAccessibleName("timeline")
        self.timeline.setEnabled(False)
        self.timeline.valueChanged.connect(self._timeline_moved)
        self.note = QLabel()
        self.note.setWordWrap(True)

        form = QGridLayout()
        form.addWidget(QLabel("Model"), 0, 0)
        form.addWidget(self.model_label, 0, 1, 1, 3)
        form.addWidget(self.open_model, 0, 4)
        form.addWidget(self.sampler, 1, 0, 1, 2)
        form.addWidget(self.variance, 1, 2)
        form.addWidget(self.steps, 1, 2)
        form.addWidget(self.eta, 1, 3)
        form.addWidget(self.seed, 1, 4)
        form.addWidget(QLabel("Start from"), 2, 0)
        form.addWidget(self.start_from, 2, 1, 1, 2)
        buttons = QHBoxLayout()
        for b in (self.play, self.step_button, self.stop_button):
            buttons.addWidget(b)
        buttons.addWidget(self.progress, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel("<b>Reverse process</b> p<sub>θ</sub>(x<sub>t−1</sub> | x<sub>t</sub>): the model's chain")
        )
        layout.addLayout(form)
        layout.addLayout(views, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.timeline)
        layout.addWidget(self.status)
        layout.addWidget(self.note)
        self._sampler_changed()
        self._update_buttons()
        state.t_changed.connect(lambda _t: self._update_note())
        state.image_changed.connect(self._update_note)

    # -- model and settings --------------------------------------------------------------------

    def set_model(self, model: LoadedModel) -> None:
        """Use ``model`` from now on; a running chain of the old model is stopped first."""
        self.stop()
        self.model = model
        self.model_label.setText(
            f"{model.name}: {model.image_size}×{model.image_size}, predicts "
            f"{model.prediction}, {model.schedule.name} schedule, T = {model.schedule.T}"
        )
        self.steps.setMaximum(model.schedule.T)
        self._update_note()
        self._update_buttons()

    def sampler_config(self) -> SamplerConfig:
        return SamplerConfig(
            sampler=self.sampler.currentData(),
            steps=self.steps.value(),
            eta=self.eta.value(),
            variance=self.variance.currentData(),
            seed=self.seed.value(),
        )

    def start_index(self) -> int | None:
        """The model's array index to start from, or None for pure noise."""
        if self.model is None or self.start_from.currentText() == START_NOISE or self.state.image is None:
            return None
        return matching_index(self.state.schedule, index_from_paper_t(self.state.t), self.model.schedule)

    def _sampler_changed(self) -> None:
        ddim = self.sampler.currentData() == "ddim"
        self.variance.setVisible(not ddim)
        self.steps.setVisible(ddim)
        self.eta.setVisible(ddim)

    def _update_note(self) -> None:
        if self.model is None:
            self.note.setText("")
            return
        size = self.model.image_size
        if self.start_from.currentText() == START_NOISE or self.state.image is None:
            self.note.setText(f"Starts from pure noise x_T ~ N(0, I) at the model's {size}×{size}.")
            return
        index = self.start_index()
        if index is not None and index < 0:
            self.note.setText(
                "The forward panel is at t = 0: move its slider to choose how much noise to add "
                "before denoising (the 'strength')."
            )
            return
        self.note.setText(
            f"Your image is centre-cropped to {size}×{size} (the model's resolution), noised to "
            f"t = {index + 1} of the model's schedule and denoised from there."
        )

    # -- control -------------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.worker.is_running:
            if self.worker.is_paused:
                self.worker.resume()
            else:
                self.worker.pause()
        else:
            self.start()
        self._update_buttons()

    def start(self, paused: bool = False) -> int | None:
        if self.model is None:
            self.message.emit("Open a model first (Reverse panel ▸ Open model…).")
            return None
        try:
            config = self.sampler_config()
        except ValueError as exc:
            self.message.emit(str(exc))
            return None
        index = self.start_index()
        if index is not None and index < 0:
            self.message.emit(
                "The forward panel is at t = 0, so there is no noise to remove: "
                "move its slider first, or start from pure noise."
            )
            return None
        model, image = self.model, (self.state.image if index is not None else None)
        self._live = True
        self._num_steps = 0
        run_id = self.worker.start(lambda: run_chain(model, config, image, index), paused=paused)
        with QSignalBlocker(self.timeline):
            self.timeline.setRange(0, 0)
        self.timeline.setEnabled(False)
        self.status.setText("starting…")
        self._update_buttons()
        return run_id

    def step(self) -> None:
        """One step: from idle this starts a paused run; while running it pauses after the next step."""
        if not self.worker.is_running and self.start(paused=True) is None:
            return
        self.worker.step_once()
        self._update_buttons()

    def stop(self) -> None:
        was_running = self.worker.is_running
        self.worker.stop()
        if was_running:
            self.status.setText(self.status.text() + "   (stopped)")
        self._finish_timeline()
        self._update_buttons()

    def shutdown(self) -> None:
        self._paint_timer.stop()
        self._chrome_timer.stop()
        self.worker.shutdown()

    def _update_buttons(self) -> None:
        running = self.worker.is_running
        self.play.setText("Pause" if running and not self.worker.is_paused else "Play")
        self.stop_button.setEnabled(running)
        has_model = self.model is not None
        for w in (self.play, self.step_button):
            w.setEnabled(has_model)

    # -- worker → view -------------------------------------------------------------------------

    def _on_started(self, run_id: int, num_steps: int) -> None:
        if run_id != self.worker.run_id:
            return
        self._num_steps = num_steps
        self.progress.setRange(0, num_steps)
        self.progress.setValue(0)

    def _on_frame(self, run_id: int) -> None:
        if run_id != self.worker.run_id:
            return  # a frame of an old run
        for timer in (self._paint_timer, self._chrome_timer):
            if not timer.isActive():
                timer.start()

    def _paint_pictures(self) -> None:
        history = self.worker.history
        if self._live and len(history):
            self._show_pictures(history[-1])

    def _update_chrome(self) -> None:
        history = self.worker.history
        n = len(history)
        if n == 0:
            return
        newest = history[n - 1]
        with QSignalBlocker(self.timeline):
            self.timeline.setRange(0, n - 1)
            if self._live:
                self.timeline.setValue(n - 1)
        self.timeline.setEnabled(True)
        self.progress.setValue(min(newest.n + 1, self.progress.maximum()))
        if self._live:
            self._show_status(newest)
        self._update_buttons()

    def _show(self, frame: Frame) -> None:
        self._show_pictures(frame)
        self._show_status(frame)

    def _show_pictures(self, frame: Frame) -> None:
        self.view_xt.set_image(frame.x_t)
        self.view_x0.set_image(frame.x0_hat)
        if frame.n >= frame.num_steps:
            self.view_xt.set_caption("x₀: the final sample")
            self.view_x0.set_caption("x₀: the final sample")
        else:
            self.view_xt.set_caption(f"x_t at t = {frame.t}")
            self.view_x0.set_caption(f"predicted x₀ at t = {frame.t}")

    def _show_status(self, frame: Frame) -> None:
        if frame.n >= frame.num_steps:
            where = f"done: {frame.num_steps} steps"
        else:
            where = f"t = {frame.t}   step {frame.n + 1} / {frame.num_steps}"
        rate = self.worker.steps_per_second
        self.status.setText(f"{where}   {rate:.1f} steps/s" if rate else where)

    def _on_finished(self, run_id: int, completed: bool) -> None:
        if run_id != self.worker.run_id:
            return
        self._paint_timer.stop()
        self._chrome_timer.stop()
        self._paint_pictures()
        self._update_chrome()
        self._finish_timeline()
        self._update_buttons()
        self.run_finished.emit(run_id, completed)

    def _on_failed(self, run_id: int, message: str) -> None:
        if run_id != self.worker.run_id:
            return
        self.status.setText("the run failed")
        self._update_buttons()
        self.message.emit(message)

    def _finish_timeline(self) -> None:
        n = len(self.worker.history)
        self.timeline.setEnabled(n > 0)

    def _timeline_moved(self, i: int) -> None:
        history = self.worker.history
        if not 0 <= i < len(history):
            return
        self._live = i == len(history) - 1
        self._show(history[i])

    def seek(self, i: int) -> None:
        """Show recorded frame i (clamped); the keyboard's ←/→/Home/End land here."""
        n = len(self.worker.history)
        if n:
            self.timeline.setValue(max(0, min(i, n - 1)))

    def frames(self) -> list[Frame]:
        return self.worker.history.snapshot()
