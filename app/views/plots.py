"""Plots of ᾱ_t, β_t, β̃_t and log SNR against the paper's t, with a draggable cursor at t."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QWidget

from app.views.marks import math_html
from core.diffusion.schedules import NoiseSchedule

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="k")

# (table, title, log y, tooltip): β and β̃ span four decades, so they are drawn on a log axis. Titles are
# short enough for the window's minimum size (1100 px: about 170 px a plot); the formula is in the tooltip.
CURVES = (
    ("alphas_cumprod", "ᾱ<sub>t</sub>", False, "ᾱ_t = α_1 ⋯ α_t: how much of x₀ is left in x_t (Eq. 4)"),
    ("betas", "β<sub>t</sub> (log)", True, "β_t, the forward step's variance (Eq. 2), on a log axis"),
    ("posterior_variance", "β̃<sub>t</sub> (log)", True, "β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t) · β_t (Eq. 7), on a log axis"),
    ("log_snr", "log SNR", False, "log SNR = log ᾱ_t/(1−ᾱ_t)"),
)
TITLE_SIZE = "9pt"
TICK_FONT_PT = 8


def small_plot(title: str, log_y: bool = False) -> pg.PlotWidget:
    """A plot of the plots row: titled, t along the bottom, no mouse zoom (its cursor is the mouse's job)."""
    plot = pg.PlotWidget()
    plot.setTitle(math_html(title), size=TITLE_SIZE)
    plot.setMinimumHeight(130)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setLogMode(x=False, y=log_y)
    font = QFont()
    font.setPointSize(TICK_FONT_PT)
    for name in ("bottom", "left"):
        axis = plot.getAxis(name)
        axis.setStyle(tickFont=font, tickTextOffset=2)
    plot.getAxis("left").setWidth(34)
    return plot


def set_t_axis(plot: pg.PlotWidget, T: int) -> None:
    """The bottom axis over the paper's t = 0 … T with three inner labelled ticks (T/4, T/2, 3T/4): labels at
    the ends would stick out of a narrow plot and be dropped, and more would run together at 1100 px."""
    plot.setXRange(0, T, padding=0.02)
    ticks = sorted({round(T * k / 4) for k in (1, 2, 3)})
    plot.getAxis("bottom").setTicks([[(t, str(t)) for t in ticks], [(0, ""), (T, "")]])


class SchedulePlots(QWidget):
    """Four small plots that follow a :class:`~app.state.ViewState`.

    Dragging any cursor emits ``t_requested(t)``; the state decides, and every cursor follows
    its ``t_changed`` signal.
    """

    t_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plots: dict[str, pg.PlotWidget] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.cursors: dict[str, pg.InfiniteLine] = {}
        for i, (name, title, log_y, tip) in enumerate(CURVES):
            plot = small_plot(title, log_y)
            plot.setToolTip(math_html(tip))
            curve = plot.plot(pen=pg.mkPen((31, 119, 180), width=2))
            cursor = pg.InfiniteLine(
                pos=0,
                angle=90,
                movable=True,
                pen=pg.mkPen((214, 39, 40), width=2),
                hoverPen=pg.mkPen((255, 127, 14), width=3),
            )
            cursor.sigPositionChanged.connect(self._cursor_moved)
            plot.addItem(cursor)
            self.plots[name], self.curves[name], self.cursors[name] = plot, curve, cursor
            layout.addWidget(plot, 0, i)
        self._T = 1

    def set_schedule(self, schedule: NoiseSchedule) -> None:
        self._T = schedule.T
        t = np.arange(1, schedule.T + 1)  # array index i is the paper's step i+1
        for name, _, log_y, _ in CURVES:
            values = getattr(schedule, name).numpy()
            keep = values > 0 if log_y else slice(None)  # β̃ at t = 1 is exactly 0: no point on a log axis
            self.curves[name].setData(t[keep], values[keep])
            set_t_axis(self.plots[name], schedule.T)
            with QSignalBlocker(self.cursors[name]):  # clamping the cursor must not write back into t
                self.cursors[name].setBounds((0, schedule.T))

    def set_t(self, t: int) -> None:
        for cursor in self.cursors.values():
            with QSignalBlocker(cursor):
                cursor.setValue(t)

    def cursor_t(self) -> int:
        return int(round(next(iter(self.cursors.values())).value()))

    def _cursor_moved(self, line: pg.InfiniteLine) -> None:
        self.t_requested.emit(int(round(min(max(line.value(), 0), self._T))))
