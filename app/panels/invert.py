"""DDIM inversion: the forward panel's image walked up to x_T by deterministic DDIM and decoded back.

A view over a :class:`~core.runs.session.RunSession` whose record holds the round trip's frames,
played by the same :class:`~app.views.player.Player` as the reverse chain.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from app.state import ViewState
from app.views.imageview import ImageView
from app.views.player import Player
from app.workers.inference import Worker
from core.imaging.scaling import noise_to_uint8, tensor_to_images
from core.runs.inversion import InversionFrame, inversion_frames
from core.runs.record import Recording
from core.runs.session import RunSession

ETA_NOTE = (
    "Inversion always uses DDIM with η = 0: only a deterministic sampler can be run backwards "
    "(Song et al. 2021, Eq. 12 upwards), whatever the reverse panel has selected."
)


class InvertPanel(QWidget):
    """*Invert* → x_T of the forward panel's image, then the reconstruction from it, and its PSNR."""

    message = Signal(str)

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = Worker("inversion", self)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.session = RunSession()
        self.player = Player(self._show, self, self.session, busy=lambda: self.worker.busy)
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setValue(50)
        self.steps.setPrefix("DDIM steps ")
        self.invert_button = QPushButton("Invert")
        self.invert_button.setToolTip("Take the forward panel's image to x_T and decode it back")
        self.invert_button.clicked.connect(self.start)
        self.result = QLabel("")
        row = QHBoxLayout()
        for w in (self.steps, self.invert_button, self.result):
            row.addWidget(w)
        row.addStretch(1)
        self.view_x0 = ImageView("x₀: your image at the model's size")
        self.view_path = ImageView("the path")
        self.view_back = ImageView("decoded back")
        views = QHBoxLayout()
        for v in (self.view_x0, self.view_path, self.view_back):
            v.setMinimumSize(120, 120)
            views.addWidget(v)
        note = QLabel(ETA_NOTE)
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>DDIM inversion</b>: x₀ → x_T → x₀ with a deterministic sampler"))
        layout.addLayout(row)
        layout.addLayout(views, 1)
        layout.addLayout(self.player.bar())
        layout.addWidget(note)

    def start(self) -> int | None:
        model, image = self.state.model, self.state.image
        if model is None or image is None:
            self.message.emit("Inversion needs a model and an image (File ▸ Open…).")
            return None
        steps = min(self.steps.value(), model.schedule.T)
        record = Recording(lambda: inversion_frames(model, image, steps), 2 * steps + 1)
        self.view_back.set_image(None)
        self.view_back.set_caption("decoded back: when the path is computed")
        self.result.setText("inverting…")
        self.view_x0.set_image(None)
        job = self.worker.submit(lambda handle: record.run(lambda: handle.cancelled))
        self.session.begin(record, job)
        return job

    def _show(self, frame: InversionFrame, index: int) -> None:
        if frame.reconstruction is not None:  # the round trip's end, reached by the animation: now the result
            self.view_back.set_image(tensor_to_images(frame.reconstruction))
            self.view_back.set_caption(f"decoded back: PSNR {frame.psnr:.1f} dB")
            self.result.setText(f"reconstruction PSNR {frame.psnr:.2f} dB (x₀ → x_T → x₀)")
        self.view_x0.set_image(tensor_to_images(frame.x0))
        noisy = frame.phase == "invert" and frame.n == frame.num_steps
        self.view_path.set_image(noise_to_uint8(frame.x) if noisy else tensor_to_images(frame.x))
        arrow = "↑ inverting" if frame.phase == "invert" else "↓ decoding"
        self.view_path.set_caption(f"{arrow}: x_t at t = {frame.paper_t}" + ("  (x_T, shown ±3σ)" if noisy else ""))

    def _finished(self, _job: int, completed) -> None:
        self.session.finished(bool(completed))
        if completed and "PSNR" not in self.result.text():
            self.result.setText("computed: the result shows when the animation gets there (or press End)")

    def _failed(self, _job: int, message: str) -> None:
        self.session.finished(False)
        self.result.setText("the inversion stopped")
        self.message.emit(message)

    def shutdown(self) -> None:
        self.player.stop()
        self.worker.shutdown()
