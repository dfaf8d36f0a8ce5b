"""The spectrum view: the radially averaged power of x_0, the noise, x_t and x̂_0 at t, and the cut-off."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.analysis.errors import AnalysisError
from core.analysis.spectrum import RadialSpectrum, cutoff_frequency, fit_power_law, noise_power, signal_scale
from core.diffusion.schedules import NoiseSchedule

PENS = {
    "x0": ((31, 119, 180), "ᾱ_t · P(x₀)"),
    "noise": ((140, 140, 140), "noise (1 − ᾱ_t)"),
    "x_t": ((214, 39, 40), "P(x_t)"),
    "x0_hat": ((44, 160, 44), "ᾱ_t · P(prediction x̂₀)"),
}


class SpectrumView(QWidget):
    """Log–log spectra at one t. Callers coalesce: the dock draws the forward panel's newest t on a timer,
    and the reverse panel emits the frame on show at display rate, never at compute rate."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setLogMode(x=True, y=True)
        self.plot.setLabel("bottom", "f (cycles/pixel)")
        self.plot.setLabel("left", "power (x_t's units²)")
        self.plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        for side in ("bottom", "left"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)  # a "(x0.001)" on a log axis misreads every value
        self.curves = {k: self.plot.plot(pen=pg.mkPen(c, width=2), name=n) for k, (c, n) in PENS.items()}
        self.cut_line = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen((0, 0, 0), width=1, style=pg.QtCore.Qt.DashLine)
        )
        self.plot.addItem(self.cut_line)
        self.readout = QLabel("Move the forward slider or play a run.")
        self.readout.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)
        self._spectra: dict[tuple, RadialSpectrum] = {}
        self._pending = None
        self.cutoff: float | None = None
        self.alpha: float | None = None

    def show_arrays(self, source: str, schedule: NoiseSchedule, index: int, x_t, x0=None, x0_hat=None) -> None:
        """Draw the spectra of [C, H, W] arrays at array index ``index``."""
        self._pending = (source, schedule, index, x_t, x0, x0_hat)
        self.paint_pending()

    def paint_pending(self) -> None:
        if self._pending is None:
            return
        source, schedule, index, x_t, x0, x0_hat = self._pending
        self._pending = None
        try:
            spectrum = self._spectrum(tuple(np.shape(x_t)))
        except AnalysisError as exc:
            self.readout.setText(str(exc))  # one line; the last spectra stay on show
            return
        a, n = signal_scale(schedule, index), noise_power(schedule, index)
        arrays = {"x_t": (x_t, 1.0), "x0": (x0, a), "x0_hat": (x0_hat, a)}
        found = {}
        for key, (x, scale) in arrays.items():
            if x is None:
                self.curves[key].setData([], [])
                continue
            s = spectrum(x)
            found[key] = s
            self.curves[key].setData(s.freqs, np.maximum(scale * s.power, 1e-12))
        self.curves["noise"].setData(spectrum.freqs, np.full(len(spectrum.freqs), max(n, 1e-12)))
        base = found.get("x0") or found.get("x0_hat")
        self.cutoff = cutoff_frequency(base, schedule, index) if base is not None else None
        self.alpha = fit_power_law(found["x0"]).alpha if "x0" in found else None
        if self.cutoff is not None:
            self.cut_line.setPos(np.log10(self.cutoff))
        t = index + 1
        side = np.shape(x_t)[-1]
        alpha = "" if self.alpha is None else f"fitted α of x₀ = {self.alpha:.2f} (P ∝ 1/f^α);  "
        cut = (
            ""
            if self.cutoff is None
            else (
                f"cut-off {self.cutoff:.3f} cycles/pixel (a detail of {1 / self.cutoff:.1f} px): finer detail is "
                "below the noise and still to be decided"
            )
        )
        self.readout.setText(f"{source}, t = {t}, {side} px:  {alpha}{cut}")

    def _spectrum(self, shape: tuple) -> RadialSpectrum:
        if shape not in self._spectra:
            self._spectra = {shape: RadialSpectrum(shape)}  # one shape at a time is all a view shows
        return self._spectra[shape]
