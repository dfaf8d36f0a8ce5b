"""The sampler lab tab: error against a reference vs NFE, the samplers × NFE grid, one pixel's path over λ,
and every loss as a weighting over λ with the sampler's steps as ticks (Kingma & Gao 2023)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.state import ViewState
from app.views.imageview import ImageView
from app.workers.inference import Worker
from core.diffusion import ode_samplers as ode
from core.errors import DiffusionVizError
from core.imaging.grid import make_grid
from core.imaging.scaling import tensor_to_images
from core.runs.lab import (
    LAB_NFE,
    LAB_SAMPLERS,
    REFERENCE_NFE,
    LabResult,
    MixtureDenoiser,
    loss_weightings,
    model_loss_name,
    run_lab,
)
from core.runs.lab_plot import colour, points_image

DATA = (("model", "the loaded model"), ("mixture", "Gaussian mixture, exact score"))


def parse_nfes(text: str) -> list[int]:
    """'5, 10, 20' → [5, 10, 20]; anything else is one clear line."""
    try:
        values = [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise DiffusionVizError(f"NFE: whole numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise DiffusionVizError("NFE: give at least one number of network calls, each ≥ 1")
    return sorted(set(values))


WEIGHT_FLOOR = 1e-4  # the weighting plot's bottom: a curve below it rests there


class WeightingPlot(pg.PlotWidget):
    """w(λ) of the common losses under a schedule, the model's own loss drawn thick, a sampler's steps as ticks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "λ = log(ᾱ/(1−ᾱ))")
        self.setLabel("left", "w(λ) p(λ), max 1 (log)")
        self.setTitle("every loss as a weighting over log-SNR (Kingma & Gao 2023)")
        # log y: x₀- and v-MSE weigh the ε-MSE by e^−λ, so near ᾱ_T ≈ 0 they are 10⁸ times their mid-λ value
        self.setLogMode(False, True)
        self.setYRange(np.log10(WEIGHT_FLOOR) - 0.3, 0.1)
        self.addLegend(offset=(5, 5))

    def show_schedule(self, schedule, own: str, sigmas: np.ndarray | None = None, sampler: str = "") -> None:
        self.clear()
        lam_i = schedule.log_snr.numpy()
        lam_i = lam_i[np.isfinite(lam_i)]
        lam = np.linspace(lam_i.min() - 1, lam_i.max() + 1, 600)
        palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
        for (name, w), rgb in zip(loss_weightings(schedule, lam).items(), palette, strict=False):
            mine = name == own
            label = f"{name}  ← this model" if mine else name
            self.plot(lam, np.maximum(w, WEIGHT_FLOOR), pen=pg.mkPen(rgb, width=4 if mine else 1.5), name=label)
        if sigmas is not None:
            positive = sigmas[sigmas > 0]
            lam_steps = ode.lambda_from_sigma(positive)
            self.ticks = self.plot(
                lam_steps, np.full(len(positive), WEIGHT_FLOOR * 0.7), pen=None, symbol="|", symbolSize=14
            )
            self.setTitle(f"losses over log-SNR (Kingma & Gao 2023); ticks: {sampler}'s {len(positive)} steps")
        self.setYRange(np.log10(WEIGHT_FLOOR) - 0.3, 0.1)


class LabPanel(QWidget):
    """Sampler checkboxes, NFE list, Run: the lab computed on a worker thread, drawn when it ends."""

    message = Signal(str)

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.result: LabResult | None = None
        self.reference_nfe = REFERENCE_NFE
        self.worker = Worker("lab", self)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self._job = 0
        self.checks = {}
        bar = QHBoxLayout()
        for name, entry in ode.SAMPLERS.items():
            box = QCheckBox(entry.label)
            box.setChecked(name in LAB_SAMPLERS)
            box.setToolTip(
                f"{entry.citation}; order {entry.order or '— (stochastic)'}, {entry.calls_per_step} call(s) a step"
            )
            self.checks[name] = box
            bar.addWidget(box)
        self.nfe = QLineEdit(", ".join(map(str, LAB_NFE)))
        self.nfe.setToolTip("network calls (NFE) per run; Heun uses the largest odd count ≤ each")
        self.nfe.setMaximumWidth(160)
        self.data = QComboBox()
        for key, text in DATA:
            self.data.addItem(text, key)
        self.batch = QSpinBox()
        self.batch.setRange(1, 64)
        self.batch.setValue(2)
        self.batch.setPrefix("images ")
        self.spacing = QComboBox()
        self.spacing.addItem("each its own steps", None)
        for name in ode.SPACINGS:
            self.spacing.addItem(f"all on {name}", name)
        self.spacing.setToolTip(
            "The σ grid every run takes: each sampler's own ("
            + ", ".join(f"{e.label} {e.spacing}" for n, e in ode.SAMPLERS.items() if n != "euler_a")
            + "), or one for all, so only the solvers differ (Lin et al. 2024 on spacings)"
        )
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.start)
        self.busy = QProgressBar()
        self.busy.setMaximumWidth(140)
        self.status = QLabel("")
        self.status.setWordWrap(True)  # the results line is long: it wraps instead of widening the window
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addStretch(1)
        # The run's settings on a second row, so the window's minimum width is not the sum of both rows.
        settings = QHBoxLayout()
        for w in (QLabel("NFE"), self.nfe, self.spacing, self.data, self.batch, self.run_button, self.busy):
            settings.addWidget(w)
        settings.addStretch(1)

        self.error_plot = pg.PlotWidget(title="RMS error vs the reference")
        self.error_plot.setLogMode(True, True)
        self.error_plot.setLabel("bottom", "network calls (NFE)")
        self.error_plot.setLabel("left", "RMS error")
        self.error_plot.addLegend(offset=(-5, 5))
        self.grid_view = ImageView("final samples: samplers (rows) × NFE (columns)")
        self.grid_view.setMinimumSize(200, 160)
        self.path_plot = pg.PlotWidget(title="one pixel over λ")
        self.path_plot.setLabel("bottom", "λ = log(ᾱ/(1−ᾱ))")
        self.path_plot.setLabel("left", "x_t")
        self.weighting = WeightingPlot()
        plots = QGridLayout()
        plots.addWidget(self.error_plot, 0, 0)
        plots.addWidget(self.grid_view, 0, 1)
        plots.addWidget(self.path_plot, 1, 0)
        plots.addWidget(self.weighting, 1, 1)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "<b>Sampler lab</b>: from one x_T, each sampler at each NFE against a Heun reference of the same "
            "probability-flow ODE; the slope of log error vs log NFE is the solver's order"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(bar)
        layout.addLayout(settings)
        layout.addWidget(self.status)
        layout.addLayout(plots, 1)
        state.model_changed.connect(self.show_weighting)

    # -- running -------------------------------------------------------------------------------------------------

    def chosen(self) -> list[str]:
        return [name for name, box in self.checks.items() if box.isChecked()]

    def start(self) -> int | None:
        try:
            nfes = parse_nfes(self.nfe.text())
            samplers = self.chosen()
            denoiser, x_T, reference = self._denoiser()
            spacing = self.spacing.currentData()
            run_lab_args = dict(reference_nfe=reference, spacing=spacing)
            from core.runs.lab import plan_runs

            plan_runs(denoiser, samplers, nfes, spacing)  # refuse bad input here, in one line, before the thread
        except DiffusionVizError as exc:
            self._say(str(exc))
            return None

        def job(handle):
            return run_lab(denoiser, x_T, samplers, nfes, progress=handle.report, **run_lab_args)

        self._job = self.worker.submit(job)
        self.run_button.setText("Running …")
        self.status.setText(
            f"computing {len(samplers)} samplers × {len(nfes)} NFE and the reference (Heun, NFE {reference}) …"
        )
        return self._job

    def _denoiser(self):
        gen = torch.Generator().manual_seed(0)
        if self.data.currentData() == "mixture":
            from core.toy2d import DEFAULT_TRAIN, default_mixture

            denoiser = MixtureDenoiser(default_mixture(), DEFAULT_TRAIN.make_schedule())
            return denoiser, torch.randn(256, 2, generator=gen, dtype=torch.float64), self.reference_nfe
        model = self.state.model
        if model is None:
            raise DiffusionVizError("The lab needs a model (Reverse chain ▸ Open model…) or the Gaussian mixture.")
        shape = (self.batch.value(), model.channels, model.image_size, model.image_size)
        return ode.SigmaDenoiser(model), torch.randn(shape, generator=gen), self.reference_nfe

    def _progress(self, job: int, done: int, total: int) -> None:
        if job == self._job:
            self.busy.setRange(0, total)
            self.busy.setValue(done)

    def _finished(self, job: int, result) -> None:
        if job != self._job:
            return
        self.run_button.setText("Run")
        if result is not None:
            self.show_result(result)

    def _failed(self, job: int, text: str) -> None:
        if job == self._job:
            self.run_button.setText("Run")
            self._say(text)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

    def shutdown(self) -> None:
        self.worker.shutdown()

    # -- drawing -------------------------------------------------------------------------------------------------

    def show_result(self, result: LabResult) -> None:
        self.result = result
        ref = result.reference
        self.error_plot.clear()
        self.path_plot.clear()
        parts = []
        for name in result.samplers:
            runs = sorted((r for r in result.runs if r.sampler == name), key=lambda r: r.nfe)
            entry = ode.SAMPLERS[name]
            slope = result.slopes.get(name)
            fitted = "—" if slope is None else f"{slope:.2f}"
            label = f"{entry.label}: slope {fitted} (theory {entry.order or '—'})"
            pen = pg.mkPen(colour(name), width=2)
            self.error_plot.plot(
                [r.nfe for r in runs],
                [max(r.error, 1e-12) for r in runs],
                pen=pen,
                symbol="o",
                symbolBrush=colour(name),
                symbolSize=6,
                name=label,
            )
            mid = next((r for r in runs if r.nfe >= 10), runs[-1])
            self.path_plot.plot(mid.path_lambda, mid.path_value, pen=pen, name=f"{entry.label} NFE {mid.nfe}")
            parts.append(label)
        self.path_plot.plot(
            ref.path_lambda, ref.path_value, pen=pg.mkPen((0, 0, 0), width=1, style=Qt.PenStyle.DashLine)
        )
        self.path_plot.setTitle("one pixel over λ (dashed: the reference)")
        self.status.setText(
            f"reference: Heun on {ref.spacing} σ, NFE {ref.nfe}; "
            + "; ".join(parts)
            + f" — {result.network_calls} batched calls, {result.network_seconds:.1f} s in the network"
        )
        finals = [result.run(s, n).final for s in result.samplers for n in result.nfes]
        if finals[0].ndim == 2:  # 2-D points
            tiles = np.stack([points_image(f.numpy()) for f in finals])
        else:
            tiles = tensor_to_images(torch.stack([f[0] for f in finals]).float())
        self.grid_view.set_image(make_grid(tiles, columns=len(result.nfes)))
        self.grid_view.set_caption(
            "final samples: rows "
            + ", ".join(ode.SAMPLERS[s].label for s in result.samplers)
            + "; columns NFE "
            + ", ".join(map(str, result.nfes))
        )
        self.show_weighting()

    def show_weighting(self) -> None:
        model = self.state.model
        if self.data.currentData() == "mixture" or model is None:
            from core.toy2d import DEFAULT_TRAIN

            schedule, own = DEFAULT_TRAIN.make_schedule(), "ε-MSE"
        else:
            schedule, own = model.schedule, model_loss_name(model)
        sigmas, sampler = None, ""
        if self.result is not None:
            runs = [r for r in self.result.runs if r.sampler == "dpmpp2m"] or list(self.result.runs)
            run = min(runs, key=lambda r: abs(r.nfe - 10))  # the steps of a run of about 10 calls, as ticks
            sigmas, sampler = run.sigmas, f"{ode.SAMPLERS[run.sampler].label} NFE {run.nfe}"
        self.weighting.show_schedule(schedule, own, sigmas, sampler)
