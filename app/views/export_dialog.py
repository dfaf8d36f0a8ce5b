"""The Export dialog: what to export and how.

Defaults make an animation a person would put on a slide: about 60 frames (a stride chosen from the
run's length), 20 fps, pictures about 256 px on the long side, the last frame held 1.5 s. *Every frame*
and *Full size* are one click away. The format (GIF, WebP, MP4) follows the file name's extension.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
)

from app.views.marks import mark
from core.imaging.export import HOLD_S
from core.runs.pictures import FULL_SIDE, SLIDE_SIDE, default_stride

CONTENTS = {
    "x_t and the prediction side by side": "both",
    "x_t, the prediction and the truth": "all",
    "x_t only": "xt",
    "the prediction only": "pred",
}


class ExportDialog(QDialog):
    def __init__(
        self,
        reverse: bool,
        default_scale: int,
        frames: int,
        view_name: str = "x̂₀",
        has_truth: bool = False,
        parent=None,
        full_side: int | None = None,
    ) -> None:
        """``full_side`` (the forward scrub): the long side of the full-size pictures; the default is 256 px."""
        super().__init__(parent)
        self.setWindowTitle("Export reverse run" if reverse else "Export forward scrub")
        self.frames = frames
        form = QFormLayout(self)
        self.content = QComboBox()
        for text, key in CONTENTS.items():
            if key != "all" or has_truth:
                self.content.addItem(mark(text.replace("the prediction", view_name)), key)
        if reverse:
            form.addRow("Show", self.content)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(1, 50)
        self.fps.setValue(20)
        form.addRow("Frames per second", self.fps)
        self.stride = QSpinBox()
        self.stride.setRange(1, max(1, frames))
        self.stride.setValue(default_stride(frames))
        form.addRow("Every n-th frame" if reverse else "Every n-th t", self.stride)
        self.every = QCheckBox(f"Every frame ({frames})")
        self.every.toggled.connect(self.stride.setDisabled)
        form.addRow(self.every)
        self.summary = QLabel()
        form.addRow(self.summary)
        self.hold = QDoubleSpinBox()
        self.hold.setRange(0, 10)
        self.hold.setSingleStep(0.5)
        self.hold.setValue(HOLD_S)
        self.hold.setSuffix(" s")
        form.addRow("Hold the last frame", self.hold)
        self.scale = QSpinBox()
        self.scale.setRange(1, 16)
        self.scale.setValue(default_scale)
        self.full = QCheckBox()
        self.full_side = SLIDE_SIDE
        if full_side is None:
            form.addRow("Scale (nearest neighbour)", self.scale)
        else:
            side = min(full_side, FULL_SIDE)
            self.full.setText(f"Full size ({side} px on the long side; {SLIDE_SIDE} px otherwise, for slides)")
            self.full_side = side
            form.addRow(self.full)
        self.label = QCheckBox("Write t and titles on each frame")
        self.label.setChecked(True)
        form.addRow(self.label)
        for signal in (self.stride.valueChanged, self.fps.valueChanged, self.every.toggled):
            signal.connect(self._summarise)
        self._summarise()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def chosen_stride(self) -> int:
        return 1 if self.every.isChecked() else self.stride.value()

    def _summarise(self) -> None:
        n = -(-self.frames // self.chosen_stride())
        self.summary.setText(f"{n} frames, {n / self.fps.value():.1f} s (GIF, WebP or MP4: the file name says)")

    def options(self) -> dict:
        return {
            "content": self.content.currentData(),
            "fps": self.fps.value(),
            "stride": self.chosen_stride(),
            "scale": self.scale.value(),
            "label": self.label.isChecked(),
            "hold_s": self.hold.value(),
            "side": self.full_side if self.full.isChecked() else SLIDE_SIDE,
        }
