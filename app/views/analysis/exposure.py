"""The exposure-bias monitor: x_t's variance per step against q(x_t | x_0), with Ning et al.'s ε scaling."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.views.imageview import ImageView
from core.analysis.exposure import DEFAULT_EPSILON_SCALE, ExposurePoint
from core.imaging.export import compose
from core.imaging.scaling import tensor_to_images

BLUE, GREEN, GREY = (31, 119, 180), (44, 160, 44), (120, 120, 120)


class ExposureView(QWidget):
    """Draws a monitored run without and with ε scaling; the toggle picks which one is on show."""

    run_requested = Signal(float)  # λ

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QPushButton("Monitor the reverse panel's run")
        self.button.setToolTip("Runs the reverse panel's settings on 8 samples, with and without ε scaling")
        self.lam = QDoubleSpinBox()
        self.lam.setDecimals(3)
        self.lam.setRange(1.0, 1.2)
        self.lam.setSingleStep(0.005)
        self.lam.setValue(DEFAULT_EPSILON_SCALE)
        self.lam.setPrefix("λ = ")
        self.toggle = QCheckBox("ε scaling (Ning et al. 2024): ε̂ / λ")
        self.toggle.toggled.connect(self._redraw)
        self.button.clicked.connect(lambda: self.run_requested.emit(self.lam.value()))
        bar = QHBoxLayout()
        for w in (self.button, self.lam, self.toggle):
            bar.addWidget(w)
        bar.addStretch(1)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "t")
        self.plot.setLabel("left", "var(x_t) / var under q − 1")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # a gap of 0.4 must not read "400 (×0.001)"
        self.plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.plot.addItem(pg.InfiniteLine(pos=0, angle=0, movable=False, pen=pg.mkPen(GREY)))
        self.curve = self.plot.plot(pen=pg.mkPen(BLUE, width=2), name="variance gap")
        self.mean_curve = self.plot.plot(pen=pg.mkPen(GREEN, width=1), name="mean gap")
        self.result = ImageView("the samples")
        views = QHBoxLayout()
        views.addWidget(self.plot, 3)
        views.addWidget(self.result, 2)
        self.status = QLabel("Press the button: a run's x_t is compared with what training showed the network.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(views, 1)
        layout.addWidget(self.status)
        self.runs: dict[bool, tuple[list[ExposurePoint], object]] = {}
        self.against = ""

    def show_runs(self, plain, scaled, against: str) -> None:
        """Each of ``plain`` and ``scaled`` is (points, final samples [N, C, H, W])."""
        self.runs, self.against = {False: plain, True: scaled}, against
        self._redraw()

    def _redraw(self) -> None:
        if not self.runs:
            return
        on = self.toggle.isChecked()
        points, samples = self.runs[on]
        ts = np.array([p.paper_t for p in points], dtype=float)
        self.curve.setData(ts, [p.var_gap for p in points])
        self.mean_curve.setData(ts, [p.mean_gap for p in points])
        self.result.set_image(compose(list(tensor_to_images(samples)), 1, gap=1))
        gaps = {k: float(np.mean([abs(p.var_gap) for p in v[0]])) for k, v in self.runs.items()}
        self.result.set_caption("with ε scaling" if on else "without ε scaling")
        self.status.setText(
            f"Against {self.against}: mean |variance gap| {gaps[False]:.4f} without ε scaling, {gaps[True]:.4f} with "
            f"λ = {self.lam.value():g} (showing {'with' if on else 'without'}). A positive gap: the chain's x_t is more "
            "spread than any x_t the network saw in training."
        )

    def show_message(self, text: str) -> None:
        self.status.setText(text)
