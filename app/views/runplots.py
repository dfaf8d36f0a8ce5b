"""Plots of a reverse run and of the bound: the prediction's error against the truth per t, and L_t per t."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QHBoxLayout, QWidget

from app.views.plots import small_plot
from core.runs.chain import Frame
from core.runs.record import RunRecord

BLUE, ORANGE, RED = (31, 119, 180), (255, 127, 14), (214, 39, 40)
CURVE_REFRESH_S = 0.1  # the curves grow at most 10 times a second; the cursor follows every frame


class RunPlots(QWidget):
    """Two plots beside the schedule's: the run's error per step, and the bound's terms per t."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.error_plot = small_plot("error (press Play)")
        self.error_plot.setXRange(0, 1000, padding=0.02)
        self.error_plot.setYRange(0, 1, padding=0.02)
        self.error_plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.eps_curve = self.error_plot.plot(pen=pg.mkPen(BLUE, width=2), name="‖ε̂ − ε‖²/d")
        self.x0_curve = self.error_plot.plot(pen=pg.mkPen(ORANGE, width=2), name="RMS(x̂₀ − x₀)")
        self.error_plot.setToolTip(
            "From your image, x₀ and the true noise are known:\n"
            "‖ε̂ − ε_true‖²/d is the L_simple term at that t (Ho et al. Eq. 14); RMS(x̂₀ − x₀) is how far the\n"
            "one-step guess of the clean image is. From pure noise: RMS(x̂₀(t) − the final sample), drawn when\n"
            "the run is complete — where each detail of the result commits."
        )
        self.run_cursor = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen(RED, width=2))
        self.error_plot.addItem(self.run_cursor)
        self.vlb_plot = small_plot("L_t (bits/dim)", log_y=True)
        self.vlb_curve = self.vlb_plot.plot(pen=pg.mkPen(BLUE, width=2))
        self.vlb_plot.setToolTip(
            "The variational bound's terms for the forward panel's image at the model's resolution:\n"
            "L_0 = −log p_θ(x₀|x₁), L_{t−1} = KL(q(x_{t−1}|x_t,x₀) ‖ p_θ(x_{t−1}|x_t)), L_T = KL(q(x_T|x₀) ‖ N(0,I)).\n"
            "Their sum bounds −log p(x₀) (Ho et al. Eq. 5; Nichol & Dhariwal 2021)."
        )
        self.vlb_cursor = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen(RED, width=2))
        self.vlb_plot.addItem(self.vlb_cursor)
        layout.addWidget(self.error_plot)
        layout.addWidget(self.vlb_plot)
        self.record: RunRecord | None = None
        self.T = 1000  # the model's, for empty plots' axes
        self._drawn = (-1, -1)
        self._last_refresh = 0.0

    # -- the run -------------------------------------------------------------------------------

    def set_record(self, record: RunRecord) -> None:
        self.record = record
        self._drawn = (-1, -1)
        self.T = T = record.spec.model.schedule.T
        self.error_plot.setXRange(0, T, padding=0.02)
        for curve in (self.eps_curve, self.x0_curve):
            curve.setData([], [])
        self.error_plot.setTitle(
            "error vs the truth" if record.x0 is not None else "x̂₀(t) vs the final sample", size="9pt"
        )
        self.refresh()

    def clear_run(self) -> None:
        """The reverse panel's settings changed: its run is gone, so are its curves."""
        self.record = None
        for curve in (self.eps_curve, self.x0_curve):
            curve.setData([], [])
        self.error_plot.setTitle("error (press Play)", size="9pt")

    def show_frame(self, frame: Frame) -> None:
        with QSignalBlocker(self.run_cursor):
            self.run_cursor.setValue(frame.t)
        if time.monotonic() - self._last_refresh >= CURVE_REFRESH_S or frame.final:
            self.refresh()

    def refresh(self) -> None:
        """Redraw the curves from the record when they have grown."""
        self._last_refresh = time.monotonic()
        if self.record is None:
            return
        c = self.record.curve_snapshot()
        size = (len(c.t), len(c.commit_t))
        if size == self._drawn:
            return
        self._drawn = size
        if self.record.x0 is not None:
            self.eps_curve.setData(c.t, c.eps_mse)
            self.x0_curve.setData(c.t, c.x0_rms)
        else:
            self.eps_curve.setData([], [])
            self.x0_curve.setData(c.commit_t, c.commit_rms)

    # -- the bound -----------------------------------------------------------------------------

    def bound_pending(self, text: str) -> None:
        """A new bound is being computed: the old curve goes (it is stale), the title says how far."""
        self.vlb_curve.setData([], [])
        self.vlb_plot.setTitle(text, size="9pt")
        self.vlb_plot.setXRange(0, self.T, padding=0.02)
        self.vlb_plot.setYRange(-6, 1, padding=0)  # log10 bits/dim: an empty plot keeps sensible ticks

    def show_bound(self, terms: np.ndarray, prior: float) -> None:
        """Draw L_0 … L_{T−1} at the paper's t = 1 … T (L_{t−1} is drawn at t) and L_T in the title."""
        t = np.arange(1, len(terms) + 1)
        keep = terms > 0
        self.vlb_curve.setData(t[keep], terms[keep])
        self.vlb_plot.setXRange(0, len(terms), padding=0.02)
        total = float(terms.sum() + prior)
        self.vlb_plot.setTitle(f"L_t: total {total:.3f} bits/dim", size="9pt")
        self.vlb_plot.setToolTip(self.vlb_plot.toolTip().split("\n\n")[0] + f"\n\nL_T = {prior:.2e} bits/dim.")

    def set_t(self, t: int) -> None:
        with QSignalBlocker(self.vlb_cursor):
            self.vlb_cursor.setValue(t)
