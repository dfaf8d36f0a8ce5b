"""Plots of ᾱ_t, β_t, β̃_t and log SNR against the paper's t, with a draggable cursor at t."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from core.diffusion.schedules import NoiseSchedule

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="k")

# (table, title, log y): β and β̃ span four decades, so they are drawn on a log axis.
CURVES = (
    ("alphas_cumprod", "ᾱ_t", False),
    ("betas", "β_t (log axis)", True),
    ("posterior_variance", "β̃_t (log axis)", True),
    ("log_snr", "log SNR = log ᾱ_t/(1−ᾱ_t)", False),
)


def small_plot(title: str, log_y: bool = False) -> pg.PlotWidget:
    """A plot of the plots row: titled, t along the bottom, no mouse zoom (its cursor is the mouse's job)."""
    plot = pg.PlotWidget()
    plot.setTitle(title, size="9pt")
    plot.setLabel("bottom", "t")
    plot.setMinimumHeight(130)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setLogMode(x=False, y=log_y)
    return plot


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
        for i, (name, title, log_y) in enumerate(CURVES):
            plot = small_plot(title, log_y)
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
        for name, _, log_y in CURVES:
            values = getattr(schedule, name).numpy()
            keep = values > 0 if log_y else slice(None)  # β̃ at t = 1 is exactly 0: no point on a log axis
            self.curves[name].setData(t[keep], values[keep])
            self.plots[name].setXRange(0, schedule.T, padding=0.02)
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
