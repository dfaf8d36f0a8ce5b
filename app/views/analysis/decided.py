"""“When is it decided?”: K continuations of the frame on show as a strip, and the spread-vs-t curve."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from app.views.imageview import ImageView
from core.analysis import decided, runs
from core.analysis.errors import AnalysisError
from core.imaging.export import compose
from core.imaging.scaling import tensor_to_images

BLUE, ORANGE = (31, 119, 180), (255, 127, 14)


class DecidedView(QWidget):
    """Buttons ask the owner (``continue_requested``/``curve_requested``) to compute; results come back via setters."""

    continue_requested = Signal(int)  # K
    curve_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.k = QSpinBox()
        self.k.setRange(0, 10_000)  # checked on request, so a bad K gets its one line instead of a silent clamp
        self.k.setValue(decided.DEFAULT_K)
        self.k.setPrefix("K = ")
        self.continue_button = QPushButton("Continue the frame on show K times")
        self.continue_button.setToolTip(
            "Runs the chain to the end K times from this x_t, with fresh noise (DDIM 50, η = 1)"
        )
        self.curve_button = QPushButton("Curve over t (the run's frames)")
        self.continue_button.clicked.connect(lambda: self.continue_requested.emit(self.k.value()))
        self.curve_button.clicked.connect(lambda: self.curve_requested.emit(self.k.value()))
        bar = QHBoxLayout()
        for w in (self.k, self.continue_button, self.curve_button):
            bar.addWidget(w)
        bar.addStretch(1)
        self.strip = ImageView("the K continuations")
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "t the continuations start from")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # a gap of 0.4 must not read "400 (×0.001)"
        self.plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.spread_curve = self.plot.plot(
            pen=pg.mkPen(BLUE, width=2), symbol="o", symbolSize=5, name="spread / its max"
        )
        self.agree_curve = self.plot.plot(
            pen=pg.mkPen(ORANGE, width=2), symbol="o", symbolSize=5, name="same nearest emoji"
        )
        self.flip_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((0, 0, 0), style=pg.QtCore.Qt.DashLine))
        self.flip_line.hide()
        self.plot.addItem(self.flip_line)
        self.status = QLabel("Play a run, pause on a frame, then continue it K times.")
        self.status.setWordWrap(True)
        views = QHBoxLayout()
        views.addWidget(self.strip, 3)
        views.addWidget(self.plot, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(views, 1)
        layout.addWidget(self.status)

    def show_point(self, point: decided.DecidedPoint) -> None:
        pictures = list(tensor_to_images(point.samples))
        self.strip.set_image(compose(pictures, 1, gap=1))
        agree = "" if point.agreement is None else f", {point.agreement:.0%} share their nearest training emoji"
        self.strip.set_caption(f"{len(pictures)} continuations from t = {point.paper_t}")
        self.status.setText(f"From t = {point.paper_t}: spread (pixel variance) {point.spread:.4f}{agree}.")

    def show_curve(self, points: list[decided.DecidedPoint]) -> None:
        pts = sorted(points, key=lambda p: p.paper_t)
        if not pts:
            return
        self.show_point(pts[-1] if len(pts) < 3 else pts[len(pts) // 2])
        ts = np.array([p.paper_t for p in pts], dtype=float)
        s = np.array([p.spread for p in pts])
        self.spread_curve.setData(ts, s / s.max() if s.max() > 0 else s)
        if all(p.agreement is not None for p in pts):
            self.agree_curve.setData(ts, [p.agreement for p in pts])
        else:
            self.agree_curve.setData([], [])
        flip, basis = decided.flip_threshold(pts)
        if flip is None:
            self.flip_line.hide()
            self.status.setText("The class never flips within the t measured.")
        else:
            self.flip_line.setPos(flip)
            self.flip_line.show()
            self.status.setText(
                f"Flip threshold t ≈ {flip:.0f} (from the {basis}): continuations from below it keep the class and "
                "layout and differ in details; from above it they become other pictures (Sclocchi et al. 2025)."
            )

    def show_message(self, text: str) -> None:
        self.status.setText(text)


def check_request(k: int, frame) -> None:
    """One line for what cannot be continued: a bad K, no frame, a frame at t = 0."""
    decided.check_k(k)
    if frame is None:
        raise AnalysisError("no frame on show: play a run first")
    decided.check_frame_index(frame.index)


__all__ = ["DecidedView", "check_request", "runs"]
