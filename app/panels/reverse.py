"""The reverse chain of a trained model, to watch and learn from.

x_t beside what the network predicts (x̂_0, ε̂, v̂ or the score) and, when the run starts from the
user's image, the truth beside that. The panel is a view over a :class:`~core.runs.session.RunSession`:
it reads its widgets into the session's spec, a worker thread fills the session's record, and the one
:class:`~app.views.player.Player` plays the recorded frames at the user's pace while inference goes on.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal
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

from app.panels import sampler_menus
from app.state import ViewState
from app.views.display_rate import DisplayRate
from app.views.imageview import ImageView
from app.views.marks import mark, tooltip
from app.views.player import Player
from app.views.quietlabel import QuietLabel
from app.workers.inference import Worker
from core.diffusion.samplers import SamplerConfig
from core.diffusion.schedulers import model_scheduler
from core.diffusion.schedules import paper_t_from_index
from core.imaging.scaling import tensor_to_images
from core.models.sizes import default_run_size, is_fully_convolutional, run_sizes
from core.runs import views
from core.runs.chain import Frame, model_x0
from core.runs.session import RunSession
from core.runs.spec import RunSpec, explain_start, start_index

START_NOISE, START_IMAGE = "pure noise", "forward image at its t"


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
        self.session = RunSession()
        self.worker = Worker("inference", self)
        self.worker.finished.connect(lambda _job, completed: self.session.finished(bool(completed)))
        self.worker.failed.connect(self._on_failed)
        self.player = Player(
            self._show_frame,
            self,
            self.session,
            busy=lambda: self.worker.busy,
            chrome=self._chrome,
            idle_play=self.start,
        )
        self.session.connect("run_started", self.run_started.emit)
        self.session.connect("run_cleared", self._on_cleared)
        self.session.connect("run_finished", lambda completed: self.run_finished.emit(self.session.job, completed))
        # The run's start (its spec, note and preview) follows the forward slider at 30 Hz, and not while another
        # tab is on show: see _follow_t below.

        self.model_label = QLabel("no model")
        self.model_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.open_model = QPushButton("Open model…")
        self.size_box = QComboBox()
        self.size_box.setToolTip(
            "The side of x_t in pixels. A fully convolutional model (no attention) runs at any size its\n"
            "down-sampling divides; others only at the size they were trained at."
        )
        self.sampler = sampler_menus.sampler_combo()
        self.spacing = sampler_menus.spacing_combo()
        self.zero_snr = sampler_menus.zero_snr_box()
        self.variance = QComboBox()
        self.variance.addItem(mark("σ² = β̃_t"), "fixed_small")
        self.variance.addItem("σ² = β_t", "fixed_large")
        self.variance.setToolTip(
            tooltip("DDPM's reverse variance: the posterior's β̃_t or the forward β_t (both in Ho et al.)")
        )
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
            tooltip(
                "What the second picture shows, converted from the network's own output:\n"
                "x̂₀ = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, ε̂, v̂ = √ᾱ_t ε̂ − √(1−ᾱ_t) x̂₀, score s_θ = −ε̂/√(1−ᾱ_t).\n"
                "Noise-like maps are shown at ±3σ of their own scale."
            )
        )
        self.speed = self.player.speed
        self.smooth = QCheckBox("smooth")
        self.smooth.setToolTip("Smooth scaling instead of square pixels")

        self.play, self.step_button, self.timeline = (
            self.player.play_button,
            self.player.step_button,
            self.player.timeline,
        )
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop computing; the frames so far stay")
        self.stop_button.setFocusPolicy(self.play.focusPolicy())
        self.stop_button.clicked.connect(self.stop)

        self.view_xt = ImageView("x_t")
        self.view_pred = ImageView("x̂₀")
        self.view_truth = ImageView("the truth")
        pictures = QHBoxLayout()
        for v in (self.view_xt, self.view_pred, self.view_truth):
            v.setMinimumSize(120, 120)  # as in Compare: the window fits a 1366×768 screen
            pictures.addWidget(v)

        # Their text changes at every frame and every forward-slider step: QuietLabels, so the window is not re-laid out.
        self.status = QuietLabel()
        self.note = QuietLabel(lines=2)

        form = QGridLayout()
        form.addWidget(QLabel("Model"), 0, 0)
        form.addWidget(self.model_label, 0, 1, 1, 3)
        form.addWidget(self.size_box, 0, 4)
        form.addWidget(self.open_model, 0, 5)
        form.addWidget(self.sampler, 1, 0, 1, 2)
        form.addWidget(self.variance, 1, 2)
        form.addWidget(self.steps, 1, 3)
        form.addWidget(self.eta, 1, 4)
        form.addWidget(self.seed, 1, 5)
        form.addWidget(QLabel("Steps"), 2, 0)
        form.addWidget(self.spacing, 2, 1, 1, 2)
        form.addWidget(self.zero_snr, 2, 3)
        form.addWidget(QLabel("Start"), 3, 0)
        form.addWidget(self.start_from, 3, 1, 1, 2)
        form.addWidget(self.view, 3, 3)
        form.addWidget(self.speed, 3, 4)
        form.addWidget(self.smooth, 3, 5)
        transport = QHBoxLayout()
        for b in (self.play, self.step_button, self.stop_button):
            transport.addWidget(b)
        transport.addWidget(self.timeline, 1)

        title = QLabel("<b>Reverse process</b> p<sub>θ</sub>(x<sub>t−1</sub> | x<sub>t</sub>): the model's chain")
        layout = QVBoxLayout(self)
        layout.setSpacing(4)  # seven rows: the default spacing alone would cost the window 20 px of height
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addLayout(pictures, 1)
        layout.addLayout(transport)
        layout.addWidget(self.status)
        layout.addWidget(self.note)
        # "Does this model know your image?": one line when the image's bound is far above the model's held-out one.
        self.domain = QLabel()
        self.domain.setStyleSheet("color:#8a4b00;")
        self.domain.setWordWrap(True)
        self.domain.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.domain.setFixedHeight(self.domain.fontMetrics().lineSpacing() * 2 + 4)
        layout.addWidget(self.domain)

        for combo in (self.sampler, self.start_from, self.view):  # long item texts must not widen the window
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
        self.sampler.currentIndexChanged.connect(lambda _i: sampler_menus.sampler_changed(self.sampler, self.spacing))
        for combo in (self.sampler, self.variance, self.spacing, self.start_from, self.size_box):
            combo.currentIndexChanged.connect(lambda _i: self._settings_changed())
        self.zero_snr.toggled.connect(lambda _on: self._settings_changed())
        for spin in (self.steps, self.eta, self.seed):
            spin.valueChanged.connect(lambda _v: self._settings_changed())
        self.view.currentIndexChanged.connect(self.player.repaint)
        self.smooth.toggled.connect(self._smooth_changed)
        # The forward slider's t changes the run's start: followed at 30 Hz like the preview, not at every step.
        self._follow_t = DisplayRate(lambda _: self._settings_changed(), self)
        state.t_changed.connect(lambda _t: self._follow_t.request())
        state.image_changed.connect(self._settings_changed)
        state.schedule_changed.connect(self._settings_changed)
        state.model_changed.connect(self._model_changed)
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
        with QSignalBlocker(self.size_box):
            self.size_box.clear()
            if model is not None:
                for side in run_sizes(model):
                    self.size_box.addItem(f"{side} px", side)
                self.size_box.setCurrentIndex(max(0, self.size_box.findData(default_run_size(model))))
            self.size_box.setEnabled(self.size_box.count() > 1)
        self.set_domain(None)
        if model is None:
            self.model_label.setText("no model")
        else:
            kind = "fully convolutional" if is_fully_convolutional(model) else f"{model.image_size}×{model.image_size}"
            self.model_label.setText(
                f"{model.name}: {kind}, predicts {model.prediction}, "
                f"{model.schedule.name} schedule, T = {model.schedule.T}"
            )
            self.model_label.setToolTip(self.model_label.text())
        self._settings_changed()

    def sampler_config(self) -> SamplerConfig:
        return SamplerConfig(
            sampler=self.sampler.currentData(),
            steps=self.steps.value(),
            eta=self.eta.value(),
            variance=self.variance.currentData(),
            spacing=self.spacing.currentData(),
            seed=self.seed.value(),
            zero_terminal_snr=self.zero_snr.isChecked(),
        )

    @property
    def record(self):
        return self.session.record

    @property
    def playback(self):
        return self.session.playback

    @property
    def history_bytes(self) -> int:
        return self.session.history_bytes

    @history_bytes.setter
    def history_bytes(self, value: int) -> None:
        self.session.history_bytes = value

    def start_index(self) -> int | None:
        """The model's array index to start from (as noisy as the forward panel's x_t), or None for pure noise."""
        if self.model is None or self.start_from.currentText() == START_NOISE or self.state.image is None:
            return None
        return start_index(self.state.schedule, self.state.t, self.model.schedule)

    def spec(self) -> RunSpec | None:
        """The run the current settings describe (None without a model); a run no sampler can take raises
        ``ValueError`` in one line (too few network calls, duplicate steps, zero terminal SNR with ε)."""
        if self.model is None:
            return None
        index = self.start_index()
        image = self.state.image if index is not None else None
        spec = RunSpec(self.model, self.sampler_config(), image, index, size=self.run_size())
        if spec.start_index >= 0:
            model_scheduler(spec.model, spec.config, spec.start_index)  # refuses here, before any run
        return spec

    def run_size(self) -> int | None:
        """The side of x_t the size menu asks for (None: the model's own)."""
        return self.size_box.currentData()

    def set_domain(self, line: str | None) -> None:
        """Show (or clear) the line that says the image lies far outside what the model was trained on."""
        self.domain.setText(line or "")
        self.domain.setToolTip(line or "")

    def _settings_changed(self) -> None:
        sampler_menus.sync_enabled(self.sampler, self.steps, self.eta, self.variance, self.spacing)
        if self.model is not None:  # DDIM visits at most the T steps; a σ sampler's NFE may reach 2T (Heun)
            most = self.model.schedule.T * (1 if self.sampler.currentData() == "ddim" else 2)
            if self.steps.maximum() != most:  # a new maximum re-lays out the window: not at every slider step
                with QSignalBlocker(self.steps):
                    self.steps.setMaximum(most)
        from_noise = self.start_from.currentText() == START_NOISE
        index = self.start_index()
        self.note.setText(explain_start(self.model, from_noise, self.state.image is not None, index, self.run_size()))
        try:
            spec = self.spec()
        except ValueError as exc:  # a setting no run can have: say so, keep what is on show
            self.status.setText(str(exc))
            return
        self.session.set_spec(spec)  # a record of another run is cleared (run_cleared)
        if self.session.record is None:
            self._show_start()
        self._update_buttons()

    def _on_cleared(self) -> None:
        self.worker.cancel()
        self.status.setText("Settings changed: press Play for a run with them.")
        self.run_cleared.emit()

    def _show_start(self) -> None:
        """Before a run, the x_t view shows where the chain would start, so the panel is never blank."""
        spec = self.session.spec
        if spec is None or self.session.record is not None:
            return
        if spec.t_start is not None and spec.t_start < 0:  # the forward panel at t = 0: nothing to denoise yet
            x0 = model_x0(spec.model, self.state.image, spec.size)
            for view in (self.view_xt, self.view_pred):
                view.set_image(None)
            self.view_xt.set_caption("t = 0: the clean image (move the forward slider to add noise)")
            self.view_pred.set_caption("")
            self.view_truth.set_image(None if x0 is None else tensor_to_images(x0[0]))
            self.view_truth.set_caption("x₀: the image to denoise")
            return
        x, x0 = self.session.start()  # the model-size x₀ is cropped once per image and size
        self.view_xt.set_image(tensor_to_images(x[0]))
        self.view_xt.set_caption(f"x_t at t = {paper_t_from_index(spec.start_index)}: the start (press Play)")
        self.view_pred.set_image(None)
        self.view_pred.set_caption("the prediction appears with the first step")
        self.view_truth.set_image(None if x0 is None else tensor_to_images(x0[0]))
        self.view_truth.set_caption(
            "x₀: the image being denoised" if x0 is not None else "the final sample, when computed"
        )

    def _smooth_changed(self, on: bool) -> None:
        for v in (self.view_xt, self.view_pred, self.view_truth):
            v.set_smooth(on)

    # -- control -------------------------------------------------------------------------------

    def toggle_play(self) -> None:
        self.player.toggle()  # with no record of the current settings: start()
        self._update_buttons()

    def start(self, paused: bool = False) -> int | None:
        """Start a run with the current settings; the display plays it unless ``paused``."""
        if self.model is None:
            self.message.emit("Open a model first (File ▸ Open model…).")
            return None
        self._follow_t.cancel()  # the settings are read now
        try:
            self.session.set_spec(self.spec())
            spec = self.session.spec
            if spec.t_start is not None and spec.t_start < 0:
                self.message.emit(
                    "The forward panel is at t = 0, so there is no noise to remove: "
                    "move its slider first, or start from pure noise."
                )
                return None
            record = self.session.new_record()
        except ValueError as exc:
            self.message.emit(str(exc))
            return None
        job = self.worker.submit(lambda handle: record.run(lambda: handle.cancelled))
        self.status.setText("starting…")
        self.session.begin(record, job, paused=paused)  # run_started: the player and the plots follow
        self._update_buttons()
        return job

    def step(self, delta: int = 1) -> None:
        """One frame forward (or back) while paused; from idle this starts a paused run."""
        if not self.session.current:
            self.start(paused=True)
            return
        self.player.step(delta)

    def seek(self, index: int) -> None:
        """Show recorded frame ``index`` (clamped to what is computed); play/pause is unchanged."""
        self.player.seek(index)

    def seek_end(self) -> None:
        self.player.seek_end()

    def stop(self) -> None:
        """Stop computing (the frames so far stay) and pause."""
        if self.worker.busy:
            self.worker.cancel()
            self.session.stop()
        self.playback.pause()
        self._update_buttons()

    def shutdown(self) -> None:
        self.player.stop()
        self._follow_t.cancel()
        self.worker.shutdown()

    def _update_buttons(self) -> None:
        self.player.update_buttons()
        self.stop_button.setEnabled(self.worker.busy)
        for w in (self.play, self.step_button):
            w.setEnabled(self.model is not None)

    # -- display -------------------------------------------------------------------------------

    def _chrome(self, index: int, available: int) -> None:
        self._show_status(index, available)
        self._update_buttons()
        if available:
            self.frame_shown.emit(self.session.record.frames.at(index))

    def current_view(self) -> str:
        return self.view.currentData() or "x0"

    def current_frame(self) -> Frame | None:
        return self.session.frame()

    def _show_frame(self, frame: Frame, _index: int = 0) -> None:
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
        if self.session.stopped:
            computing += " (stopped)"
        fps = self.playback.fps
        pace = "as computed" if fps is None else f"{fps:.2g} frames/s" if fps < 10 else f"{fps:.0f} frames/s"
        pace = f"playing at {pace}" if self.playback.playing else "paused"
        if self.playback.playing and self.worker.busy and index + 1 >= available:
            pace = "playing as fast as it is computed: the computing sets the pace"
        self.status.setText(f"frame {index + 1}/{total}   {where}   ·   {computing}   ·   {pace}")

    # -- worker --------------------------------------------------------------------------------

    def _on_failed(self, _job: int, message: str) -> None:
        self.message.emit(message)
        self.session.finished(False)

    def frames(self) -> list[Frame]:
        return self.session.frames()
