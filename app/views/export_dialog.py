"""The Export ▸ GIF / PNG dialog: what to export and how."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
)

CONTENTS = {"x_t and x̂₀ side by side": "both", "x_t only": "xt", "x̂₀ only": "x0"}


class ExportDialog(QDialog):
    def __init__(self, reverse: bool, default_scale: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export reverse run" if reverse else "Export forward scrub")
        form = QFormLayout(self)
        self.content = QComboBox()
        self.content.addItems(list(CONTENTS))
        if reverse:
            form.addRow("Show", self.content)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(1, 50)
        self.fps.setValue(20)
        form.addRow("Frames per second", self.fps)
        self.stride = QSpinBox()
        self.stride.setRange(1, 1000)
        self.stride.setValue(1 if reverse else 10)
        form.addRow("Every n-th frame" if reverse else "Every n-th t", self.stride)
        self.scale = QSpinBox()
        self.scale.setRange(1, 16)
        self.scale.setValue(default_scale)
        form.addRow("Scale (nearest neighbour)", self.scale)
        self.label = QCheckBox("Write t on each frame")
        self.label.setChecked(True)
        form.addRow(self.label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> dict:
        return {
            "content": CONTENTS[self.content.currentText()],
            "fps": self.fps.value(),
            "stride": self.stride.value(),
            "scale": self.scale.value(),
            "label": self.label.isChecked(),
        }
