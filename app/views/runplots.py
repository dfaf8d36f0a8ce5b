"""Plots of a reverse run and of the bound: the prediction's error against the truth per t, and L_t per t.

The error plot has a log y-axis: ‖ε̂ − ε‖²/d reaches ~1000 near t = 0 (ε is barely visible in x_t there) while
RMS(x̂₀ − x₀) stays below 1, and on a linear axis the one flattened the other.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QHBoxLayout, QWidget

from app.views.display_rate import DisplayRate
from app.views.marks import math_html, tooltip
from app.views.plots import TITLE_SIZE, curve_of, fit_once, set_t_axis, small_plot
from core.runs.chain import Frame
from core.runs.record import RunRecord

BLUE, ORANGE, RED = (31, 119, 180), (255, 127, 14), (214, 39, 40)
CURVE_REFRESH_S = 0.1  # the curves grow at most 10 times a second; the cursor follows every frame
EPS_NAME, X0_NAME, COMMIT_NAME = "‖ε̂ − ε‖²/d", "RMS(x̂₀ − x₀)", "RMS(x̂₀ − final)"
ERROR_DECADES = 6  # at most this many decades below the largest value: ε̂ at 1e3 and x̂₀ at 1e−3 both read
EMPTY_LOG_RANGE = (-3.0, 0.0)  # an empty error plot: 0.001 … 1


MIN_DECADES = 2.0  # a log axis labels only its decades: any two-decade range holds at least two


def log_range(values: list[np.ndarray], decades: float = ERROR_DECADES) -> tuple[float, float]:
    """(low, high) in log10 for the positive finite ``values``: from the largest down to the smallest, but at
    most ``decades`` below the largest, so one near-zero value does not squash the rest into a line."""
    drawn = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values]) if values else np.zeros(0)
    if not drawn.size:
        return EMPTY_LOG_RANGE
    high = float(np.log10(drawn.max()))
    low = max(float(np.log10(drawn.min())), high - decades)
    if high - low < MIN_DECADES:  # widened about its middle, so two decades are labelled (see small_plot)
        middle = (high + low) / 2
        low, high = middle - MIN_DECADES / 2, middle + MIN_DECADES / 2
    return low, high


def positive(x, y) -> tuple[np.ndarray, np.ndarray]:
    """The points with y > 0: a log axis has no place for the others."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(y) & (y > 0)
    return x[keep], y[keep]


def coloured(name: str, rgb: tuple[int, int, int]) -> str:
    """A curve's name in its own colour: the title is the legend, so no legend box covers a curve."""
    return f'<span style="color:#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}">{math_html(name)}</span>'


class RunPlots(QWidget):
    """Two plots beside the schedule's: the run's error per step, and the bound's terms per t.

    Both follow the schedule on show: with the forward schedule at T = 50 and the model's at 1000,
    the model's t are drawn at t · 50/1000, so every plot's axis and cursor agree with the slider.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.error_plot = small_plot("error (press Play)", log_y=True)
        self.error_plot.setYRange(*EMPTY_LOG_RANGE, padding=0.02)
        self.eps_curve = curve_of(self.error_plot, BLUE)
        self.x0_curve = curve_of(self.error_plot, ORANGE)
        self.error_plot.setToolTip(
            tooltip(
                "From your image, x₀ and the true noise are known:\n"
                "‖ε̂ − ε_true‖²/d is the L_simple term at that t (Ho et al. Eq. 14); RMS(x̂₀ − x₀) is how far the\n"
                "one-step guess of the clean image is. From pure noise: RMS(x̂₀(t) − the final sample), drawn when\n"
                "the run is complete — where each detail of the result commits. The y-axis is logarithmic."
            )
        )
        self.run_cursor = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen(RED, width=2))
        self.error_plot.addItem(self.run_cursor, ignoreBounds=True)
        self.vlb_plot = small_plot("L_t (bits/dim)", log_y=True)
        self.vlb_curve = curve_of(self.vlb_plot, BLUE)
        self._vlb_tip = (
            "The variational bound's terms for the forward panel's image at the model's resolution:\n"
            "L_0 = −log p_θ(x₀|x₁), L_{t−1} = KL(q(x_{t−1}|x_t,x₀) ‖ p_θ(x_{t−1}|x_t)), L_T = KL(q(x_T|x₀) ‖ N(0,I)).\n"
            "Their sum bounds −log p(x₀) (Ho et al. Eq. 5; Nichol & Dhariwal 2021)."
        )
        self.vlb_plot.setToolTip(tooltip(self._vlb_tip))
        self.vlb_cursor = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen(RED, width=2))
        self.vlb_plot.addItem(self.vlb_cursor, ignoreBounds=True)
        self._cursor_rate = DisplayRate(self._move_vlb_cursor, self)
        layout.addWidget(self.error_plot)
        layout.addWidget(self.vlb_plot)
        self.record: RunRecord | None = None
        self.T = 1000  # the model's, for empty plots' axes
        self.shown_T = 1000  # the schedule on show: the axes run over 0 … shown_T
        self._terms: tuple[np.ndarray, float] | None = None
        self._drawn = (-1, -1)
        self._last_refresh = 0.0
        self._axes()

    # -- the axes ------------------------------------------------------------------------------

    def set_shown_T(self, T: int) -> None:
        """The schedule on show changed: redraw both plots over its t = 0 … T."""
        self.shown_T = T
        self._drawn = (-1, -1)
        self._axes()
        self.refresh()
        if self._terms is not None:
            self.show_bound(*self._terms)

    def _x(self, t) -> np.ndarray:
        """The model's paper t, drawn on the axis of the schedule on show."""
        return np.asarray(t, dtype=float) * (self.shown_T / self.T)

    def _axes(self) -> None:
        for plot in (self.error_plot, self.vlb_plot):
            set_t_axis(plot, self.shown_T)
            plot.setLabel(
                "bottom",
                "t" if self.shown_T == self.T else f"t (the model's t ÷ {self.T / self.shown_T:g})",
                **{"font-size": "8pt"},
            )

    # -- the run -------------------------------------------------------------------------------

    def set_record(self, record: RunRecord) -> None:
        self.record = record
        self._drawn = (-1, -1)
        self.T = record.spec.model.schedule.T
        self._axes()
        for curve in (self.eps_curve, self.x0_curve):
            curve.setData([], [])
        self._title()
        self.refresh()

    def clear_run(self) -> None:
        """The reverse panel's settings changed: its run is gone, so are its curves."""
        self.record = None
        for curve in (self.eps_curve, self.x0_curve):
            curve.setData([], [])
        self.error_plot.setYRange(*EMPTY_LOG_RANGE, padding=0.02)
        self._title()

    def _title(self) -> None:
        """The error plot's title names exactly the curves drawn, each in its colour."""
        if self.record is None:
            self.error_plot.setTitle("error (press Play)", size=TITLE_SIZE)
            return
        if self.record.x0 is not None:
            names = [coloured(EPS_NAME, BLUE), coloured(X0_NAME, ORANGE)]
        else:
            names = [coloured(COMMIT_NAME, ORANGE)]
        self.error_plot.setTitle("  ".join(names), size=TITLE_SIZE)

    def show_frame(self, frame: Frame) -> None:
        with QSignalBlocker(self.run_cursor):
            self.run_cursor.setValue(float(self._x(frame.t)))
        if time.monotonic() - self._last_refresh >= CURVE_REFRESH_S or frame.final:
            self.refresh()

    def refresh(self) -> None:
        """Redraw the curves from the record when they have grown; the y-axis fits what is drawn."""
        self._last_refresh = time.monotonic()
        if self.record is None:
            return
        c = self.record.curve_snapshot()
        size = (len(c.t), len(c.commit_t))
        if size == self._drawn:
            return
        self._drawn = size
        if self.record.x0 is not None:
            self.eps_curve.setData(*positive(self._x(c.t), c.eps_mse))
            self.x0_curve.setData(*positive(self._x(c.t), c.x0_rms))
            values = [np.asarray(c.eps_mse), np.asarray(c.x0_rms)]
        else:
            self.eps_curve.setData([], [])
            self.x0_curve.setData(*positive(self._x(c.commit_t), c.commit_rms))
            values = [np.asarray(c.commit_rms)]
        self.error_plot.setYRange(*log_range(values), padding=0.05)

    # -- the bound -----------------------------------------------------------------------------

    def bound_pending(self, text: str) -> None:
        """A new bound is being computed: the old curve goes (it is stale), the title says how far."""
        self._terms = None
        self.vlb_curve.setData([], [])
        self.vlb_plot.setTitle(text, size=TITLE_SIZE)
        self._axes()
        self.vlb_plot.setYRange(-6, 1, padding=0)  # log10 bits/dim: an empty plot keeps sensible ticks

    def show_bound(self, terms: np.ndarray, prior: float) -> None:
        """Draw L_0 … L_{T−1} at the paper's t = 1 … T (L_{t−1} is drawn at t) and L_T in the title."""
        self._terms = (terms, prior)
        if len(terms) != self.T and self.record is None:
            self.T = len(terms)  # the model's T, before any run
            self._axes()
        t = np.arange(1, len(terms) + 1) * (self.shown_T / len(terms))
        keep = terms > 0
        self.vlb_curve.setData(t[keep], terms[keep])
        if keep.any():
            fit_once(self.vlb_plot, self.vlb_curve)
            set_t_axis(self.vlb_plot, self.shown_T)
        total = float(terms.sum() + prior)
        self.vlb_plot.setTitle(math_html(f"L_t: total {total:.3f} bits/dim"), size=TITLE_SIZE)
        self.vlb_plot.setToolTip(tooltip(self._vlb_tip + f"\n\nL_T = {prior:.2e} bits/dim."))

    def set_t(self, t: int) -> None:
        """Move the bound's cursor to the forward panel's t, at the next frame."""
        self._cursor_rate.request(t)

    def _move_vlb_cursor(self, t: int) -> None:
        with QSignalBlocker(self.vlb_cursor):
            self.vlb_cursor.setValue(t)
