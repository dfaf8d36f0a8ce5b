"""Plots of ᾱ_t, β_t, β̃_t and log SNR against the paper's t or against λ, with a draggable cursor at t.

A cursor follows at 30 Hz (:class:`~app.views.display_rate.DisplayRate`) and repaints only its own
strip: auto-range is off once a curve is fitted, and the axes (which draw the grid) and the curves are
kept as pixmaps, so a slider step no longer re-lays out and replays four plots' ticks and curves.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QGridLayout, QWidget

from app.views.display_rate import DisplayRate
from app.views.marks import math_html
from core.diffusion.schedulers import model_scheduler
from core.diffusion.schedules import NoiseSchedule, paper_t_from_index

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="k")

# (table, title, log y, tooltip): β and β̃ span four decades, so they are drawn on a log axis. Titles are
# short enough for the window's minimum size (1100 px: about 170 px a plot); the formula is in the tooltip.
CURVES = (
    ("alphas_cumprod", "ᾱ<sub>t</sub>", False, "ᾱ_t = α_1 ⋯ α_t: how much of x₀ is left in x_t (Eq. 4)"),
    ("betas", "β<sub>t</sub> (log)", True, "β_t, the forward step's variance (Eq. 2), on a log axis"),
    ("posterior_variance", "β̃<sub>t</sub> (log)", True, "β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t) · β_t (Eq. 7), on a log axis"),
    ("log_snr", "log SNR", False, "log SNR = log ᾱ_t/(1−ᾱ_t)"),
)
# Over λ the log-SNR plot would be the diagonal; it shows instead which t has which λ, so the slope says
# how many of the schedule's steps each unit of λ gets.
LAMBDA_TITLES = {
    "alphas_cumprod": "ᾱ over λ",
    "betas": "β (log) over λ",
    "posterior_variance": "β̃ (log) over λ",
    "log_snr": "t over λ",
}
LAMBDA_TIP = (
    "Draw the schedule plots over λ = log(ᾱ_t/(1−ᾱ_t)), the log-SNR, instead of t: every schedule and every\n"
    "loss weighting is one curve over λ (Kingma & Gao 2023). The ticks along the bottom are the reverse\n"
    "panel's sampler steps, so its spacing shows as it falls on λ."
)
TITLE_SIZE = "9pt"
TICK_FONT_PT = 8
# A run from the forward image starts at the slider's t, so its steps change with every slider step: they are
# drawn once the slider rests, not at every frame of a drag.
STEPS_SETTLE_MS = 120
STEP_TICKS = 0.08  # the sampler steps' marks along the bottom of each plot, as a fraction of its height


def small_plot(title: str, log_y: bool = False) -> pg.PlotWidget:
    """A plot of the plots row: titled, t along the bottom, no mouse zoom (its cursor is the mouse's job)."""
    plot = pg.PlotWidget()
    plot.setTitle(math_html(title), size=TITLE_SIZE)
    plot.setMinimumHeight(110)
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
    if log_y:  # only the decades are labelled: a 110-px plot has no room for 0.2, 0.3, 0.4 … beside them
        plot.getAxis("left").setStyle(maxTextLevel=0)
    for name in ("bottom", "left"):  # the grid is drawn by the axes, across the whole plot: see cached()
        cached(plot.getAxis(name))
    return plot


def cached(item: QGraphicsItem) -> QGraphicsItem:
    """Keep ``item`` drawn as a pixmap until it changes: a cursor moving across it then repaints its strip
    from the pixmap instead of replaying every tick label, grid line or curve point of the whole item."""
    item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return item


def curve_of(plot: pg.PlotWidget, rgb: tuple[int, int, int], width: float = 2) -> pg.PlotDataItem:
    """A curve drawn once into a pixmap (:func:`cached`), redrawn only when its data or the axes change."""
    curve = plot.plot(pen=pg.mkPen(rgb, width=width))
    cached(curve.curve)
    return curve


def fit_once(plot: pg.PlotWidget, *curves: pg.PlotDataItem) -> None:
    """Fit the view to ``curves`` now and leave auto-range off: with it on, every move of a cursor re-measures
    the plot's items and repaints the whole plot, axes and grid included (pyqtgraph's ViewBox.itemBoundsChanged)."""
    plot.getViewBox().autoRange(padding=0.05, items=list(curves))
    plot.disableAutoRange()


def set_t_axis(plot: pg.PlotWidget, T: int) -> None:
    """The bottom axis over the paper's t = 0 … T with three inner labelled ticks (T/4, T/2, 3T/4): labels at
    the ends would stick out of a narrow plot and be dropped, and more would run together at 1100 px."""
    plot.setXRange(0, T, padding=0.02)
    ticks = sorted({round(T * k / 4) for k in (1, 2, 3)})
    plot.getAxis("bottom").setTicks([[(t, str(t)) for t in ticks], [(0, ""), (T, "")]])


def set_lambda_axis(plot: pg.PlotWidget, low: float, high: float) -> None:
    """The bottom axis over λ = low … high, labelled at round values, at most six (short labels: "−10")."""
    plot.setXRange(low, high, padding=0.02)
    for step in (1, 2, 5, 10, 20, 50, 100):
        ticks = np.arange(np.ceil(low / step), np.floor(high / step) + 1) * step
        if len(ticks) <= 6:
            break
    plot.getAxis("bottom").setTicks([[(float(v), f"{v:g}") for v in ticks], []])


def run_steps(spec) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(paper t, λ, the model's T) of every model call a run of ``spec`` makes; None without a run."""
    if spec is None:
        return None
    schedule = spec.model.schedule
    try:
        # Every network call's index; a σ sampler's (Karras, EDM) lie between the table's, so they are rounded.
        indices = np.rint(np.asarray(model_scheduler(spec.model, spec.config, spec.start_index).timesteps(), float))
    except (KeyError, ValueError):  # settings no run can have
        return None
    indices = np.clip(indices.astype(int), 0, schedule.T - 1)
    lam = schedule.log_snr.numpy()[indices]  # λ of each step, from the log-SNR table
    return np.array([paper_t_from_index(i) for i in indices]), lam, schedule.T


class SchedulePlots(QWidget):
    """Four small plots that follow a :class:`~app.state.ViewState`.

    Dragging any cursor emits ``t_requested(t)``; the state decides, and every cursor follows
    its ``t_changed`` signal (at 30 Hz; a hidden plots row catches up when shown).
    The x-axis is the paper's t or λ = log(ᾱ/(1−ᾱ)) (:meth:`set_x_axis`, or the ``axis_toggle`` box).
    """

    t_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plots: dict[str, pg.PlotWidget] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.cursors: dict[str, pg.InfiniteLine] = {}
        self.ticks: dict[str, pg.PlotCurveItem] = {}
        for i, (name, title, log_y, tip) in enumerate(CURVES):
            plot = small_plot(title, log_y)
            plot.setToolTip(math_html(tip))
            curve = curve_of(plot, (31, 119, 180))
            # The sampler's steps as the lab's weighting plot marks them, a short black "|" per step; here one
            # item of segments (connect="pairs"), which a slider step redraws in a fraction of a millisecond.
            # Translucent: DDPM's every step reads as a grey band, a short DDIM run as separate ticks.
            ticks = pg.PlotCurveItem(pen=pg.mkPen(60, 60, 60, 110, width=1), connect="pairs", antialias=False)
            plot.addItem(cached(ticks), ignoreBounds=True)
            cursor = pg.InfiniteLine(
                pos=0,
                angle=90,
                movable=True,
                pen=pg.mkPen((214, 39, 40), width=2),
                hoverPen=pg.mkPen((255, 127, 14), width=3),
            )
            cursor.sigPositionChanged.connect(self._cursor_moved)
            plot.addItem(cursor, ignoreBounds=True)
            self.plots[name], self.curves[name], self.cursors[name], self.ticks[name] = plot, curve, cursor, ticks
            layout.addWidget(plot, 0, i)
        self.axis_toggle = QCheckBox("x-axis: λ = log SNR")
        self.axis_toggle.setToolTip(math_html(LAMBDA_TIP))
        self.axis_toggle.toggled.connect(lambda on: self.set_x_axis("lambda" if on else "t"))
        self.x_axis = "t"
        self._schedule: NoiseSchedule | None = None
        self._lam = np.zeros(0)  # λ at each array index of the schedule on show (finite ones)
        self._t = 0
        self._steps: tuple[np.ndarray, np.ndarray, int] | None = None
        self._steps_key: tuple | None = None
        self._cursor_rate = DisplayRate(self._move_cursors, self)
        self._steps_rate = DisplayRate(self._show_steps_of, self, STEPS_SETTLE_MS, settle=True)

    @property
    def T(self) -> int:
        return 1 if self._schedule is None else self._schedule.T

    # -- what is drawn ---------------------------------------------------------------------------

    def set_schedule(self, schedule: NoiseSchedule) -> None:
        self._schedule = schedule
        self._lam = schedule.log_snr.numpy()
        self._draw()

    def set_x_axis(self, axis: str) -> None:
        """Draw every curve, the cursors and the steps' ticks over ``"t"`` (the paper's t) or ``"lambda"``."""
        if axis not in ("t", "lambda"):
            raise ValueError(f"the x-axis is 't' or 'lambda', got {axis!r}")
        self.x_axis = axis
        with QSignalBlocker(self.axis_toggle):
            self.axis_toggle.setChecked(axis == "lambda")
        self._draw()

    def _draw(self) -> None:
        schedule = self._schedule
        if schedule is None:
            return
        t = np.arange(1, schedule.T + 1, dtype=float)  # array index i is the paper's step i+1
        finite = np.isfinite(self._lam)  # zero terminal SNR: λ_T = −∞ has no place on the axis
        over_lambda = self.x_axis == "lambda"
        for name, title, log_y, _ in CURVES:
            plot, values = self.plots[name], getattr(schedule, name).numpy()
            if over_lambda:
                values = t if name == "log_snr" else values
                keep = finite & (values > 0 if log_y else True)
                x = self._lam
            else:
                keep = values > 0 if log_y else np.ones(len(values), bool)  # β̃ at t = 1 is exactly 0
                x = t
            self.curves[name].setData(x[keep], values[keep])
            fit_once(plot, self.curves[name])
            if over_lambda:
                set_lambda_axis(plot, float(self._lam[finite].min()), float(self._lam[finite].max()))
            else:
                set_t_axis(plot, schedule.T)
            plot.setTitle(math_html(LAMBDA_TITLES[name] if over_lambda else title), size=TITLE_SIZE)
            low, high = plot.getViewBox().viewRange()[0]
            with QSignalBlocker(self.cursors[name]):  # clamping the cursor must not write back into t
                self.cursors[name].setBounds((low, high) if over_lambda else (0, schedule.T))
        self._draw_steps()
        self._move_cursors(self._t)

    # -- the cursor ------------------------------------------------------------------------------

    def set_t(self, t: int) -> None:
        """Move every cursor to the paper's ``t``, at the next frame (a burst of moves paints once)."""
        self._t = int(t)
        self._cursor_rate.request(self._t)

    def x_of_t(self, t: int) -> float:
        """Where the paper's ``t`` lies on the x-axis on show (λ at t = 0 is +∞: the right end)."""
        if self.x_axis == "t" or self._schedule is None:
            return float(t)
        if t <= 0:
            return float(self.plots["alphas_cumprod"].getViewBox().viewRange()[0][1])
        lam = float(self._lam[min(t, self.T) - 1])
        return lam if np.isfinite(lam) else float(self.plots["alphas_cumprod"].getViewBox().viewRange()[0][0])

    def t_of_x(self, x: float) -> int:
        """The paper's t nearest to ``x`` on the axis on show."""
        if self.x_axis == "t" or self._schedule is None:
            return int(round(min(max(x, 0), self.T)))
        distance = np.abs(np.where(np.isfinite(self._lam), self._lam, np.inf) - x)
        return int(np.argmin(distance)) + 1

    def _move_cursors(self, t: int) -> None:
        x = self.x_of_t(t)
        for cursor in self.cursors.values():
            with QSignalBlocker(cursor):
                cursor.setValue(x)

    def cursor_t(self) -> int:
        """The t the cursors show (after the frame that moves them)."""
        return self.t_of_x(next(iter(self.cursors.values())).value())

    def _cursor_moved(self, line: pg.InfiniteLine) -> None:
        self.t_requested.emit(self.t_of_x(line.value()))

    # -- the sampler's steps ---------------------------------------------------------------------

    def show_run_steps(self, spec) -> None:
        """Mark the steps a run of ``spec`` (a :class:`~core.runs.spec.RunSpec` or None) would take."""
        self._steps_rate.request(spec)

    def _show_steps_of(self, spec) -> None:
        key = None if spec is None else (id(spec.model), spec.config, spec.start_index)
        if key == self._steps_key:  # the forward slider moved, the run's steps did not
            return
        self._steps_key = key
        self._steps = run_steps(spec)
        self._draw_steps()

    def steps_x(self) -> np.ndarray:
        """The x of each step's tick on the axis on show (empty without a run)."""
        if self._steps is None:
            return np.zeros(0)
        paper_t, lam, model_T = self._steps
        if self.x_axis == "lambda":
            return lam[np.isfinite(lam)]
        return paper_t * (self.T / model_T)  # the model's t on the axis of the schedule on show, as RunPlots does

    def _draw_steps(self) -> None:
        x = np.repeat(self.steps_x(), 2)
        for name, ticks in self.ticks.items():
            low, high = self.plots[name].getViewBox().viewRange()[1]
            bottom, top = low, low + STEP_TICKS * (high - low)
            ticks.setData(x, np.tile([bottom, top], len(x) // 2))
