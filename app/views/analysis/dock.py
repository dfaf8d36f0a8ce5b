"""The Analysis dock: the four views in tabs, fed by the forward panel and the reverse panel's frame on show.

It owns one worker thread for the heavy parts (continuations, the decided curve, monitored runs); each
new request cancels the one before (the worker keeps only the current job), and late results of an
old job are dropped by job id.
"""

from __future__ import annotations

import torch
from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QTabWidget

from app.views.analysis.decided import DecidedView, check_request
from app.views.analysis.exposure import ExposureView
from app.views.analysis.ladder import LadderView
from app.views.analysis.spectrum import SpectrumView
from app.workers.inference import Worker
from core.analysis import decided, exposure, runs
from core.diffusion.forward import forward_noise
from core.diffusion.schedules import index_from_paper_t
from core.errors import DiffusionVizError
from core.imaging.scaling import uint8_to_unit
from core.runs.chain import model_x0


class AnalysisDock(QDockWidget):
    def __init__(self, window) -> None:
        super().__init__("Analysis: spectrum · when is it decided · exposure bias · resolution ladder", window)
        self.setObjectName("analysis_dock")
        self.window_, self.state, self.reverse = window, window.state, window.reverse
        self.spectrum, self.decided, self.exposure, self.ladder = (
            SpectrumView(),
            DecidedView(),
            ExposureView(),
            LadderView(),
        )
        self.tabs = QTabWidget()
        for view, name in (
            (self.spectrum, "Spectrum"),
            (self.decided, "When is it decided?"),
            (self.exposure, "Exposure bias"),
            (self.ladder, "Resolution ladder"),
        ):
            self.tabs.addTab(view, name)
        self.setWidget(self.tabs)
        self.worker = Worker("analysis", self)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.progress.connect(self._progress)
        self._job, self._kind = 0, ""
        self._train_cache: dict[int, object] = {}
        self._forward_timer = QTimer(self)  # coalesces a scrub: the newest t is drawn, once per frame
        self._forward_timer.setSingleShot(True)
        self._forward_timer.setInterval(15)
        self._forward_timer.timeout.connect(self.show_forward)
        for signal in (
            self.state.t_changed,
            self.state.image_changed,
            self.state.noise_changed,
            self.state.schedule_changed,
        ):
            signal.connect(lambda *_: self._forward_timer.start())
        self.reverse.frame_shown.connect(self.show_frame)
        self.decided.continue_requested.connect(self.continue_frame)
        self.decided.curve_requested.connect(self.decided_curve)
        self.exposure.run_requested.connect(self.monitor_run)
        self.visibilityChanged.connect(lambda on: on and self.show_forward())
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.worker.shutdown)

    # -- the forward panel and the frame on show: cheap, on the GUI thread, at display rate ----------

    def show_forward(self) -> None:
        if not self.isVisible() or self.state.working is None:
            return
        x0 = uint8_to_unit(self.state.working).transpose(2, 0, 1)
        noise = forward_noise(self.state.working.shape, self.state.seed).transpose(2, 0, 1)
        schedule, index = self.state.schedule, index_from_paper_t(self.state.t)
        a = 1.0 if index < 0 else float(schedule.sqrt_alphas_cumprod[index])
        b = 0.0 if index < 0 else float(schedule.sqrt_one_minus_alphas_cumprod[index])
        self.spectrum.show_arrays("forward panel", schedule, index, a * x0 + b * noise, x0)
        model = self.state.model
        self.ladder.show_forward(schedule, index, x0, noise, model.image_size if model else None)

    def show_frame(self, frame) -> None:
        record = self.reverse.record
        if not self.isVisible() or record is None or frame is None:
            return
        x0 = None if record.x0 is None else record.x0.reshape(frame.x_t.shape).numpy()
        x0_hat = None if frame.final else frame.x0_hat.numpy()
        self.spectrum.show_arrays("reverse run", record.spec.model.schedule, frame.index, frame.x_t.numpy(), x0, x0_hat)

    # -- heavy work on the worker ----------------------------------------------------------------

    def _train(self, model):
        key = id(model)
        if key not in self._train_cache:
            self._train_cache = {key: decided.training_images(model)}
        return self._train_cache[key]

    def _submit(self, kind: str, fn) -> None:
        self._kind = kind
        self._job = self.worker.submit(fn)

    def continue_frame(self, k: int) -> None:
        frame = self.reverse.current_frame()
        try:
            check_request(k, frame)
        except DiffusionVizError as exc:
            self.decided.show_message(str(exc))  # one line; what is on show stays
            return
        model = self.reverse.record.spec.model
        self.decided.show_message(f"continuing t = {frame.t} {k} times …")
        self._submit(
            "point", lambda job: decided.decided_point(model, frame.x_t, frame.index, k, train=self._train(model))
        )

    def decided_curve(self, k: int) -> None:
        frames = [f for f in self.reverse.frames() if not f.final]
        try:
            check_request(k, frames[0] if frames else None)
        except DiffusionVizError as exc:
            self.decided.show_message(str(exc))
            return
        model = self.reverse.record.spec.model
        top = frames[0].index
        wanted = runs.decided_indices(model.schedule.T, top, 10)
        row = {}
        for want in wanted:
            f = min(frames, key=lambda f: abs(f.index - want))
            row[f.index] = f.x_t
        row = sorted(row.items(), reverse=True)

        def job(job):
            train, points = self._train(model), []
            for i, point in enumerate(decided.decided_curve(model, row, k, train=train)):
                points.append(point)
                if not job.report(i + 1, len(row)):
                    return None
            return points

        self.decided.show_message(f"measuring {len(row)} t values × {k} continuations in the background …")
        self._submit("curve", job)

    def monitor_run(self, lam: float) -> None:
        try:
            spec = self.reverse.spec()
        except (DiffusionVizError, ValueError) as exc:
            self.exposure.show_message(str(exc))
            return
        model = spec.model
        if model is None:
            self.exposure.show_message("no model loaded")
            return

        def job(job):
            x0 = model_x0(model, spec.image) if spec.start_index is not None else None
            train = None if x0 is not None else self._train(model)
            stats = runs.exposure_stats(model, x0, train)
            gen = torch.Generator().manual_seed(spec.config.seed)
            x_start = runs.start_of_run(model, x0, spec.start_index, 8, gen).to(model.device)
            out = []
            for scale in (None, lam):
                out.append(
                    exposure.exposure_curve(
                        model,
                        spec.config,
                        x_start,
                        stats,
                        t_start=spec.start_index,
                        seed=spec.config.seed,
                        epsilon_scale=scale,
                    )
                )
                if not job.report(len(out), 2):
                    return None
            return out, "the truth (this image)" if x0 is not None else "the training data's statistics"

        self.exposure.show_message("running with and without ε scaling in the background …")
        self._submit("exposure", job)

    def _progress(self, job_id: int, done: int, total: int) -> None:
        if job_id == self._job and self._kind == "curve":
            self.decided.show_message(f"measured {done} of {total} t values …")

    def _finished(self, job_id: int, result) -> None:
        if job_id != self._job or result is None:
            return
        if self._kind == "point":
            self.decided.show_point(result)
        elif self._kind == "curve":
            self.decided.show_curve(result)
        else:
            (plain, scaled), against = result
            self.exposure.show_runs(plain, scaled, against)

    def _failed(self, job_id: int, message: str) -> None:
        if job_id == self._job:
            (self.exposure if self._kind == "exposure" else self.decided).show_message(message)


def add_analysis_dock(window) -> AnalysisDock:
    """The dock, hidden at first, at the bottom; *View ▸ Analysis views* (F2) shows it."""
    dock = AnalysisDock(window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    action = dock.toggleViewAction()
    action.setText("&Analysis views")
    action.setShortcut("F2")
    window.menuBar().addMenu("&View").addAction(action)
    return dock
