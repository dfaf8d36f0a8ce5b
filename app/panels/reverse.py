"""The reverse chain of a trained model, to watch and learn from.

x_t beside what the network predicts (x̂_0, ε̂, v̂ or the score) and, when the run starts from the
user's image, the truth beside that. Inference runs ahead on a worker thread into a
:class:`~core.runs.record.RunRecord`; the display plays the recorded frames at the user's pace
(:class:`~app.playback.Playback`), and pause, step and scrub work on the record while inference goes on.
"""

from __future__ import annotations

import time

import torch
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.playback import DEFAULT_SPEED, SPEEDS, Playback
from app.state import ViewState
from app.views.imageview import ImageView
from app.views.timeline import Timeline
from app.workers.inference import Worker
from core.diffusion.samplers import SamplerConfig
from core.diffusion.schedules import index_from_paper_t, matching_index, paper_t_from_index
from core.imaging.scaling import tensor_to_images
from core.runs import views
from core.runs.chain import Frame, prepare_start
from core.runs.record import DEFAULT_HISTORY_BYTES, RunRecord, record_run
from core.runs.spec import RunSpec, explain_start

START_NOISE, START_IMAGE = "pure noise", "forward image at its t"
# The display timer: playback advances and the pictures repaint at most this often. 60 Hz lets a paced
# run show 60 frames a second; "as computed" paints at 30 Hz, as every millisecond the GUI thread paints
# is taken from torch's threads on a 2-core machine.
TICK_MS, TICK_AS_COMPUTED_MS = 16, 33
CHROME_MS = 100  # status text, timeline and the plots' cursor at 10 Hz: they make ancestors repaint


class ReversePanel(QWidget):
    """Runs the model's chain on a :class:`Worker` and plays its record.

    ``frame_shown(frame)`` follows the frame on show (the plots row draws its cursor there);
    ``run_started(record)`` and ``run_finished(job_id, completed)`` bracket each run.
    """

    message = Signal(str)
    run_started = Signal(object)
    run_finished = Signal(int, bool)
    frame_shown = Signal(object)
    run_cleared = Signal()

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = Worker("inference", self)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.record: RunRecord | None = None
        self.history_bytes = DEFAULT_HISTORY_BYTES  # each run's frames stay within this
        self._stopped = False  # the user stopped the computing of the current run
        self._record_key: tuple | None = None  # the settings the record was made with
        self._job = 0
        self.playback = Playback()
        self._shown: tuple[int, int] | None = None  # (id of record, index) on screen
        self._chrome_at = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

        self.model_label = QLabel("no model")
        self.model_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.open_model = QPushButton("Open model…")
        self.sampler = QComboBox()
        self.sampler.addItem("DDPM (ancestral)", "ddpm")
        self.sampler.addItem("DDIM", "ddim")
        self.sampler.setToolTip("DDPM: Algorithm 2 of Ho et al., every step. DDIM: Eq. 12 of Song et al., any steps.")
        self.variance = QComboBox()
        self.variance.addItem("σ² = β̃_t", "fixed_small")
        self.variance.addItem("σ² = β_t", "fixed_large")
        self.variance.setToolTip("DDPM's reverse variance: the posterior's β̃_t or the forward β_t (both in Ho et al.)")
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setValue(50)
        self.steps.setPrefix("steps ")
        self.steps.setToolTip("DDIM: how many of the T steps to visit")
        self.eta = QDoubleSpinBox()
        self.eta.setRange(0.0, 1.0)
        self.eta.setSingleStep(0.1)
        self.eta.setPrefix("η ")
        self.eta.setToolTip("DDIM's η: 0 is deterministic; 1 adds DDPM's noise (Eq. 16)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.start_from = QComboBox()
        self.start_from.addItems([START_IMAGE, START_NOISE])
        self.start_from.setToolTip("Pure noise x_T, or the forward panel's image noised to its t (SDEdit)")
        self.view = QComboBox()
        self.view.setToolTip(
            "What the second picture shows, converted from the network's own output:\n"
            "x̂₀ = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, ε̂, v̂ = √ᾱ_t ε̂ − √(1−ᾱ_t) x̂₀, score s_θ = −ε̂/√(1−ᾱ_t).\n"
            "Noise-like maps are shown at ±3σ of their own scale."
        )
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.setCurrentText(DEFAULT_SPEED)
        self.speed.setToolTip("How fast the recorded frames play; inference runs ahead as fast as it can")
        self.smooth = QCheckBox("smooth")
        self.smooth.setToolTip("Smooth scaling instead of square pixels")

        self.play = QPushButton("Play")
        self.play.setToolTip("Play / pause (Space)")
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One frame forward (→); ← one back")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop computing; the frames so far stay")
        for b in (self.play, self.step_button, self.stop_button):
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the keys with the panel
        self.play.clicked.connect(self.toggle_play)
        self.step_button.clicked.connect(lambda: self.step(1))
        self.stop_button.clicked.connect(self.stop)

        self.view_xt = ImageView("x_t")
        self.view_pred = ImageView("x̂₀")
        self.view_truth = ImageView("the truth")
        pictures = QHBoxLayout()
        for v in (self.view_xt, self.view_pred, self.view_truth):
            v.setMinimumSize(150, 150)
            pictures.addWidget(v)

        self.timeline = Timeline()
        self.timeline.seek_requested.connect(self.seek)
        self.status = QLabel("")
        # Its text changes many times a second; an Ignored width keeps it from re-laying out the window.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.note.setFixedHeight(self.note.fontMetrics().lineSpacing() * 2 + 4)

        form = QGridLayout()
        form.addWidget(QLabel("Model"), 0, 0)
        form.addWidget(self.model_label, 0, 1, 1, 4)
        form.addWidget(self.open_model, 0, 5)
        form.addWidget(self.sampler, 1, 0, 1, 2)
        form.addWidget(self.variance, 1, 2)
        form.addWidget(self.steps, 1, 3)
        form.addWidget(self.eta, 1, 4)
        form.addWidget(self.seed, 1, 5)
        form.addWidget(QLabel("Start"), 2, 0)
        form.addWidget(self.start_from, 2, 1, 1, 2)
        form.addWidget(self.view, 2, 3)
        form.addWidget(self.speed, 2, 4)
        form.addWidget(self.smooth, 2, 5)
        transport = QHBoxLayout()
        for b in (self.play, self.step_button, self.stop_button):
            transport.addWidget(b)
        transport.addWidget(self.timeline, 1)

        title = QLabel("<b>Reverse process</b> p<sub>θ</sub>(x<sub>t−1</sub> | x<sub>t</sub>): the model's chain")
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addLayout(pictures, 1)
        layout.addLayout(transport)
        layout.addWidget(self.status)
        layout.addWidget(self.note)

        for combo in (self.sampler, self.variance, self.start_from):
            combo.currentIndexChanged.connect(self._settings_changed)
        for spin in (self.steps, self.eta, self.seed):
            spin.valueChanged.connect(self._settings_changed)
        self.view.currentIndexChanged.connect(self._repaint)
        self.smooth.toggled.connect(self._smooth_changed)
        self.speed.currentTextChanged.connect(self._speed_changed)
        state.t_changed.connect(lambda _t: self._settings_changed())
        state.image_changed.connect(self._settings_changed)
        state.schedule_changed.connect(self._settings_changed)
        state.model_changed.connect(self._model_changed)
        self._speed_changed(self.speed.currentText())
        self._model_changed()

    # -- settings ------------------------------------------------------------------------------

    @property
    def model(self):
        return self.state.model

    def _model_changed(self) -> None:
        self.stop()
        model = self.model
        with QSignalBlocker(self.view):
            self.view.clear()
            native = views.NATIVE.get(model.prediction) if model else None
            for key in views.VIEWS:
                suffix = "  (the network's own output)" if key == native else ""
                self.view.addItem(views.VIEW_NAMES[key] + suffix, key)
        if model is None:
            self.model_label.setText("no model")
        else:
            self.model_label.setText(
                f"{model.name}: {model.image_size}×{model.image_size}, predicts {model.prediction}, "
                f"{model.schedule.name} schedule, T = {model.schedule.T}"
            )
            self.model_label.setToolTip(self.model_label.text())
            self.steps.setMaximum(model.schedule.T)
        self._settings_changed()

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

    def spec(self) -> RunSpec:
        """The run the current settings describe (read once, when a run starts)."""
        index = self.start_index()
        image = self.state.image if index is not None else None
        return RunSpec(self.model, self.sampler_config(), image, index)

    def _settings_key(self) -> tuple:
        image = self.state.image if self.start_index() is not None else None
        return (id(self.model), self.sampler_config(), id(image), self.start_index())

    def _settings_changed(self) -> None:
        ddim = self.sampler.currentData() == "ddim"
        self.variance.setEnabled(not ddim)  # disabled, not hidden: the layout never jumps
        self.steps.setEnabled(ddim)
        self.eta.setEnabled(ddim)
        from_noise = self.start_from.currentText() == START_NOISE
        self.note.setText(explain_start(self.model, from_noise, self.state.image is not None, self.start_index()))
        if self.record is not None and self._record_key != self._settings_key():
            self._drop_record()  # the settings describe another run now: nothing of the old one stays on show
        if self.record is None:
            self._show_start()
        self._update_buttons()

    def _drop_record(self) -> None:
        self.worker.cancel()
        self.playback.pause()
        self.playback.reset(0, playing=False)
        self.record, self._record_key = None, None
        self.timeline.set_state(0, 0, 0)
        self.status.setText("Settings changed: press Play for a run with them.")
        self.run_cleared.emit()

    def _show_start(self) -> None:
        """Before a run, the x_t view shows where the chain would start, so the panel is never blank."""
        if self.model is None:
            return
        index = self.start_index()
        if index is not None and index < 0:
            return
        spec = self.spec()
        x, x0 = prepare_start(spec, torch.Generator().manual_seed(spec.config.seed))
        self.view_xt.set_image(tensor_to_images(x[0]))
        self.view_xt.set_caption(f"x_t at t = {paper_t_from_index(spec.start_index)}: the start (press Play)")
        self.view_pred.set_image(None)
        self.view_pred.set_caption("the prediction appears with the first step")
        self.view_truth.set_image(None if x0 is None else tensor_to_images(x0[0]))
        self.view_truth.set_caption(
            "x₀: the image being denoised" if x0 is not None else "the final sample, when computed"
        )
        self._shown = None

    def _speed_changed(self, text: str) -> None:
        self.playback.speed = SPEEDS.get(text, 1.0)
        self._timer.setInterval(TICK_AS_COMPUTED_MS if self.playback.speed is None else TICK_MS)

    def _smooth_changed(self, on: bool) -> None:
        for v in (self.view_xt, self.view_pred, self.view_truth):
            v.set_smooth(on)

    # -- control -------------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.record is not None and self._record_key == self._settings_key() and self.playback.total_frames:
            if self.playback.playing:
                self.playback.pause()
            else:
                self.playback.play()
                self._timer.start()
        else:
            self.start()
        self._update_buttons()

    def start(self, paused: bool = False) -> int | None:
        """Start a run with the current settings; the display plays it unless ``paused``."""
        if self.model is None:
            self.message.emit("Open a model first (File ▸ Open model…).")
            return None
        try:
            spec = self.spec()
        except ValueError as exc:
            self.message.emit(str(exc))
            return None
        if spec.t_start is not None and spec.t_start < 0:
            self.message.emit(
                "The forward panel is at t = 0, so there is no noise to remove: "
                "move its slider first, or start from pure noise."
            )
            return None
        try:
            record = RunRecord(spec, self.history_bytes)
        except ValueError as exc:
            self.message.emit(str(exc))
            return None
        self.record, self._record_key = record, self._settings_key()
        self._stopped = False
        self.playback.reset(record.total_frames, playing=not paused)
        self._shown = None
        self._job = self.worker.submit(lambda job: record_run(record, lambda: job.cancelled))
        self._timer.start()
        self.status.setText("starting…")
        self.run_started.emit(record)
        self._update_buttons()
        return self._job

    def step(self, delta: int = 1) -> None:
        """One frame forward (or back) while paused; from idle this starts a paused run."""
        if self.record is None or self._record_key != self._settings_key():
            if self.start(paused=True) is None:
                return
            return
        self.playback.pause()
        self.seek(self.playback.position + delta)

    def seek(self, index: int) -> None:
        """Show recorded frame ``index`` (clamped to what is computed); play/pause is unchanged."""
        if self.record is None:
            return
        self.playback.seek(index, len(self.record.frames))
        self._paint(force_chrome=True)
        self._update_buttons()

    def seek_end(self) -> None:
        if self.record is not None:
            self.seek(len(self.record.frames) - 1)

    def stop(self) -> None:
        """Stop computing (the frames so far stay) and pause."""
        if self.worker.busy:
            self.worker.cancel()
            self._stopped = True
        self.playback.pause()
        self._update_buttons()

    def shutdown(self) -> None:
        self._timer.stop()
        self.worker.shutdown()

    def _update_buttons(self) -> None:
        has_model = self.model is not None
        self.play.setText("Pause" if self.playback.playing else "Play")
        self.stop_button.setEnabled(self.worker.busy)
        for w in (self.play, self.step_button):
            w.setEnabled(has_model)
        self.timeline.setEnabled(self.record is not None)

    # -- display -------------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.record is None:
            self._timer.stop()
            return
        self._paint()
        if not self.playback.playing and not self.worker.busy:
            self._timer.stop()
            self._paint(force_chrome=True)
            self._update_buttons()

    def _paint(self, force_chrome: bool = False) -> None:
        record = self.record
        available = len(record.frames)
        index = self.playback.tick(available, complete=not self.worker.busy)
        if available and self._shown != (id(record), index):
            self._shown = (id(record), index)
            self._show_frame(record.frames.at(index))
        now = time.monotonic()
        if force_chrome or now - self._chrome_at >= CHROME_MS / 1000:
            self._chrome_at = now
            self.timeline.set_state(record.total_frames, available, index)
            self._show_status(index, available)
            self._update_buttons()
            if available:
                self.frame_shown.emit(record.frames.at(index))

    def _repaint(self) -> None:
        self._shown = None
        if self.record is not None and len(self.record.frames):
            self._paint(force_chrome=True)

    def current_view(self) -> str:
        return self.view.currentData() or "x0"

    def current_frame(self) -> Frame | None:
        if self.record is None or not len(self.record.frames):
            return None
        return self.record.frames.at(self.playback.position)

    def _show_frame(self, frame: Frame) -> None:
        record, view = self.record, self.current_view()
        schedule = record.spec.model.schedule  # the run's own, even after another model is opened
        self.view_xt.set_image(tensor_to_images(frame.x_t))
        pred = views.predicted(schedule, frame, view)
        self.view_pred.set_image(views.to_picture(schedule, frame, view, pred))
        scale = views.scale_label(schedule, frame, view)
        scale = f"  ({scale})" if scale else ""
        if frame.final:
            self.view_xt.set_caption("x₀: the final sample")
            self.view_pred.set_caption("x₀: the final sample" if view == "x0" else "nothing left to predict")
        else:
            self.view_xt.set_caption(f"x_t at t = {frame.t}")
            self.view_pred.set_caption(f"{views.VIEW_NAMES[view]} at t = {frame.t}{scale}")
        if record.x0 is not None:
            truth = views.truth(schedule, frame, view, record.x0)
            self.view_truth.set_image(views.to_picture(schedule, frame, view, truth))
            nothing = frame.final and view != "x0"
            self.view_truth.set_caption("nothing left to predict" if nothing else f"{views.TRUTH_NAMES[view]}{scale}")
        else:
            final = record.frames[-1] if record.done else None
            self.view_truth.set_image(None if final is None else tensor_to_images(final.x_t))
            self.view_truth.set_caption(
                "the final sample (computed ahead)" if final else "the final sample, when computed"
            )

    def _show_status(self, index: int, available: int) -> None:
        record = self.record
        if record.error:
            self.status.setText(f"stopped: {record.error}")
            return
        total = record.total_frames
        frame = record.frames.at(index) if available else None
        where = "" if frame is None else ("the final sample" if frame.final else f"t = {frame.t}")
        computing = f"computed {available}/{total}" if self.worker.busy else f"{available} frames recorded"
        if self._stopped:
            computing += " (stopped)"
        fps = self.playback.fps
        pace = "as computed" if fps is None else f"{fps:.0f} frames/s"
        pace = f"playing at {pace}" if self.playback.playing else "paused"
        self.status.setText(f"frame {index + 1}/{total}   {where}   ·   {computing}   ·   {pace}")

    # -- worker --------------------------------------------------------------------------------

    def _on_finished(self, job_id: int, completed) -> None:
        if job_id != self._job:
            return  # an old run
        self._timer.start()  # let the display catch up and repaint the chrome once
        self.run_finished.emit(job_id, bool(completed))

    def _on_failed(self, job_id: int, message: str) -> None:
        if job_id != self._job:
            return
        self._timer.start()
        self.message.emit(message)
        self.run_finished.emit(job_id, False)

    def frames(self) -> list[Frame]:
        return [] if self.record is None else self.record.frames.snapshot()
