""" "What has it learned?": the network's x̂_0 beside the ideal, Gaussian and ELS x̂_0 from the same x_t.

Plain inputs, so any run owner can feed it: :meth:`LearnedPanel.set_model` (a network model),
:meth:`LearnedPanel.show_frame` (x_t [C, H, W], its array index, the network's x̂_0) and
:meth:`LearnedPanel.set_run` (every frame of a run, as (x_t, index, x̂_0) triples, for the r²(t)
curves). The closed forms are computed on this panel's worker threads, newest request first: a
frame request waits for a short pause in the requests (scrubbing sends many) and replaces any older
one; results of an old request are dropped by job id.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.views.imageview import ImageView
from app.workers.inference import Worker
from core.imaging.scaling import tensor_to_images
from core.runs.theory import THEORIES, Theories, build_theories, r_squared, teleport_comparison
from core.training.model_data import training_images

# The view's ELS work per 32² image: a fifth of the command's default, so scrubbing stays responsive
# (the subset it implies is written under the picture).
VIEW_MAX_COST = 2e8
COALESCE_MS = 120
NAMES = {"ideal": "ideal denoiser", "gaussian": "Gaussian", "els": "ELS machine"}
SHORT = {"ideal": "ideal", "gaussian": "Gaussian", "els": "ELS"}
COLOURS = {"ideal": (214, 39, 40), "gaussian": (31, 119, 180), "els": (44, 160, 44)}


def source_map_picture(sources: np.ndarray, num_images: int) -> np.ndarray:
    """A colour per training image (a fixed hash of its index), [H, W] ids → [H, W, 3] uint8."""
    palette = np.random.default_rng(12345).integers(40, 230, size=(max(num_images, 1), 3), dtype=np.uint8)
    return palette[np.clip(sources, 0, len(palette) - 1)]


class LearnedPanel(QWidget):
    """Four x̂_0 side by side, the ELS source map, the final sample, its nearest training image and a
    teleported run's end; r²(t) beside them."""

    message = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, max_cost: float = VIEW_MAX_COST) -> None:
        super().__init__(parent)
        self.max_cost = max_cost
        self.model = None
        self.theories: Theories | None = None
        self._train_images: np.ndarray | None = None
        self._size: int | None = None  # the side the closed forms are built at (the run's)
        self._data_folder: str | None = None  # chosen by the user when the model's pictures cannot be found
        self._pending_frame = None
        self._pending_run = None
        self._frame_index: int | None = None
        self._x_T: torch.Tensor | None = None  # the run's start, when it started from pure noise
        self.teleport_result = None
        self.load_worker = Worker("theory-load", self)
        self.frame_worker = Worker("theory-frame", self)
        self.run_worker = Worker("theory-run", self)
        self.teleport_worker = Worker("theory-teleport", self)
        self.load_worker.finished.connect(self._loaded)
        self.load_worker.failed.connect(self._load_failed)
        self.frame_worker.finished.connect(self._frame_done)
        self.frame_worker.failed.connect(self._failed)
        self.run_worker.finished.connect(self._run_done)
        self.run_worker.failed.connect(self._failed)
        self.run_worker.progress.connect(self._run_progress)
        self.teleport_worker.finished.connect(self._teleport_done)
        self.teleport_worker.failed.connect(self._failed)
        self._load_job = self._frame_job = self._run_job = self._teleport_job = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self._submit_frame)

        self.views = {
            "network": ImageView("the network's x̂₀"),
            **{name: ImageView(f"{SHORT[name]} x̂₀") for name in THEORIES},
            "source": ImageView("ELS: source of each patch"),
            "final": ImageView("the final sample"),
            "nearest": ImageView("its nearest training image"),
            "teleport": ImageView("teleported run's end"),
        }
        grid = QGridLayout()
        for col, key in enumerate(("network", *THEORIES)):
            grid.addWidget(self.views[key], 0, col)
        for col, key in enumerate(("source", "final", "nearest", "teleport")):
            grid.addWidget(self.views[key], 1, col)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setLabel("bottom", "t (paper)")
        self.plot.setLabel("left", "r² against the network")
        self.plot.setYRange(-0.2, 1.0)
        self.plot.addLegend(offset=(-10, -10))  # bottom right: the curves start high at small t
        self.curves = {
            name: self.plot.plot([], [], pen=pg.mkPen(COLOURS[name], width=2), name=NAMES[name]) for name in THEORIES
        }
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen((120, 120, 120), style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.cursor)
        grid.addWidget(self.plot, 0, 4, 2, 1)
        for col in range(4):
            grid.setColumnStretch(col, 2)
        grid.setColumnStretch(4, 5)

        # Teleport (Wang & Vastola 2023): the Gaussian's exact probability flow replaces the first steps.
        self.teleport_share = QSpinBox()
        self.teleport_share.setRange(0, 90)
        self.teleport_share.setSingleStep(5)
        self.teleport_share.setValue(25)
        self.teleport_share.setSuffix(" %")
        self.teleport_share.setToolTip("the share of the DDIM steps the Gaussian's closed-form flow replaces")
        self.teleport_steps = QSpinBox()
        self.teleport_steps.setRange(2, 500)
        self.teleport_steps.setValue(50)
        self.teleport_steps.setPrefix("DDIM ")
        self.teleport_steps.setSuffix(" steps")
        self.teleport_button = QPushButton("Teleport from the run's x_T")
        self.teleport_button.setToolTip(
            "jump from x_T over the first steps by the Gaussian's closed-form probability flow, let the network "
            "do the rest (η = 0), and compare the end with the untouched DDIM run from the same x_T"
        )
        self.teleport_button.clicked.connect(self.teleport)
        self.data_button = QPushButton("Training pictures…")
        self.data_button.setToolTip("the folder of the pictures (or photos) the model was trained on")
        self.data_button.clicked.connect(self._choose_data)
        self.data_button.hide()
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Teleport the first"))
        controls.addWidget(self.teleport_share)
        controls.addWidget(QLabel("of"))
        controls.addWidget(self.teleport_steps)
        by = QLabel("by the Gaussian:")
        by.setToolTip("the Gaussian model's closed-form probability flow (no network call)")
        controls.addWidget(by)
        controls.addWidget(self.teleport_button)
        controls.addStretch(1)
        controls.addWidget(self.data_button)
        self.status = QLabel("Play a reverse run: each frame's x_t goes through every denoiser here.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(grid, 1)
        layout.addLayout(controls)
        layout.addWidget(self.status)

    # -- inputs --------------------------------------------------------------------------------

    def set_model(self, model) -> None:
        """The network to explain; its training set's closed forms are built on a worker once on show."""
        if model is self.model:
            return
        self.model, self.theories, self._load_job = model, None, 0
        self._size = int(model.image_size) if model is not None else None
        self._x_T = None
        if self.isVisible():
            self._load()

    def _load(self) -> None:
        if self.model is None or self.theories is not None or self._load_job:
            return
        model, size, data = self.model, self._size, self._data_folder
        self._load_job = self.load_worker.submit(lambda job: self._build(model, size, data))
        self.status.setText(
            f"building the ideal, Gaussian and ELS denoisers of {model.name}'s training set at {size}²…"
        )

    def _resize(self, size: int) -> None:
        """A run at another side than the closed forms': rebuild them at the run's side."""
        if size == self._size:
            return
        self._size, self.theories, self._load_job = size, None, 0
        if self.isVisible():
            self._load()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._load()
        if self.theories is not None:
            self._timer.start()
            if self._pending_run is not None:
                self._submit_run()

    def show_frame(self, x_t, index: int, x0_hat_net) -> None:
        """Compute every denoiser's x̂_0 from this x_t (coalesced: only the newest request runs)."""
        x_t = torch.as_tensor(x_t).float()
        self._frame_index = int(index)
        self.cursor.setPos(int(index) + 1)
        self.views["network"].set_image(tensor_to_images(torch.as_tensor(x0_hat_net).clamp(-1, 1)))
        self._pending_frame = (x_t, int(index), torch.as_tensor(x0_hat_net).float())
        if self.model is not None and int(index) == self.model.schedule.T - 1:
            self._x_T = x_t
        self._resize(int(x_t.shape[-1]))
        self._timer.start()

    def set_run(self, frames: list) -> None:
        """The frames of a whole run: (x_t, index, x̂_0 of the network) triples or objects with those
        attributes; index −1 marks the final sample."""
        triples = [(f.x_t, f.index, f.x0_hat) if hasattr(f, "x_t") else f for f in frames]
        self._pending_run = [(torch.as_tensor(x).float(), int(i), torch.as_tensor(x0).float()) for x, i, x0 in triples]
        if self._pending_run and self.model is not None:
            first = self._pending_run[0]
            self._x_T = first[0] if first[1] == self.model.schedule.T - 1 else None
            self._resize(int(first[0].shape[-1]))
        if self.theories is not None and self.isVisible():
            self._submit_run()

    def teleport(self) -> None:
        """Run DDIM from the run's x_T with its first steps teleported by the Gaussian (on a worker)."""
        if self.theories is None or self.model is None:
            self.status.setText("teleport needs the closed forms: wait until they are built")
            return
        if self._x_T is None:
            self.status.setText("teleport starts from x_T: play a reverse run from pure noise first")
            return
        model, gaussian, x_T = self.model, self.theories.gaussian, self._x_T[None]
        steps, share = self.teleport_steps.value(), self.teleport_share.value() / 100.0
        if int(round(share * steps)) >= steps:
            self.status.setText(f"teleporting {share:.0%} of {steps} steps leaves the network none; take less")
            return
        self._teleport_job = self.teleport_worker.submit(
            lambda job: teleport_comparison(model, gaussian, x_T, steps, share)
        )
        self.status.setText(f"DDIM {steps} from the run's x_T, with and without its first {share:.0%} teleported…")

    # -- jobs ----------------------------------------------------------------------------------

    def _build(self, model, size: int, data: str | None):
        images = training_images(model, data, size)
        return images, build_theories(model, images, max_cost=self.max_cost)

    def _loaded(self, job_id: int, result) -> None:
        if job_id != self._load_job or result is None:
            return
        self._train_images, self.theories = result
        self.data_button.hide()
        used, total = self.theories.els.subset_sizes(self.theories.els.patch_sizes.size_at(self.model.schedule.T // 2))
        calibrated = "calibrated P(t)" if self.theories.calibrated else "default P(t) (not calibrated)"
        self.status.setText(
            f"{self.model.name} at {self._size}²: {len(self._train_images)} training images; ELS with {calibrated}, "
            f"{used:,} of {total:,} interior patches per pixel at t = T/2"
        )
        if self._pending_frame is not None:
            self._timer.start()
        if self._pending_run is not None and self.isVisible():
            self._submit_run()

    def _load_failed(self, job_id: int, message: str) -> None:
        self._load_job = 0  # a new folder or model may be tried
        self.data_button.show()
        self._failed(job_id, message)

    def _choose_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "The pictures the model was trained on")
        if folder:
            self.set_data_folder(folder)

    def set_data_folder(self, folder: str) -> None:
        """Where the model's training pictures are (its photos, for the photo model); rebuilds the closed forms."""
        self._data_folder, self.theories, self._load_job = folder, None, 0
        self._load()

    def _submit_frame(self) -> None:
        if self.theories is None or self._pending_frame is None or not self.isVisible():
            return
        x_t, index, net = self._pending_frame
        if index < 0 or x_t.shape[-1] != self._size:
            return  # the final sample has no noise left to remove; a frame of another size waits for a rebuild
        theories = self.theories
        self._frame_job = self.frame_worker.submit(lambda job: (index, net, theories.x0_hats(x_t[None], index)))

    def _frame_done(self, job_id: int, result) -> None:
        if job_id != self._frame_job or result is None:
            return
        index, net, hats = result
        for name in THEORIES:
            r2 = float(r_squared(net[None], hats[name])[0])
            self.views[name].set_image(tensor_to_images(hats[name][0].clamp(-1, 1)))
            self.views[name].set_caption(f"{SHORT[name]} x̂₀  (r² {r2:.2f})")
        patch = self.theories.els.patch_sizes.size_at(index)
        self.views["source"].set_image(source_map_picture(hats["els_source"][0].numpy(), len(self._train_images)))
        self.views["source"].set_caption(f"ELS sources (P = {patch})")

    def _submit_run(self) -> None:
        frames, theories = self._pending_run, self.theories
        if not frames or frames[0][0].shape[-1] != self._size:
            return
        self._pending_run = None
        train = self._train_images

        def job_fn(job):
            rows = []
            for k, (x_t, index, net) in enumerate(frames):
                if index < 0:
                    continue
                if not job.report(k, len(frames)):
                    return None
                hats = theories.x0_hats(x_t[None], index)
                rows.append((index + 1, {name: float(r_squared(net[None], hats[name])[0]) for name in THEORIES}))
            final = frames[-1][0] if frames[-1][1] < 0 else None
            nearest = None
            if final is not None:
                bank = theories.ideal.images.reshape(len(train), -1)
                nearest = int(((bank - final.reshape(1, -1)) ** 2).sum(dim=1).argmin())
            return rows, final, nearest

        self._run_job = self.run_worker.submit(job_fn)

    def _run_progress(self, job_id: int, done: int, total: int) -> None:
        if job_id == self._run_job:
            self.status.setText(f"r²(t) over the run: {done}/{total} frames")

    def _run_done(self, job_id: int, result) -> None:
        if job_id != self._run_job or result is None:
            return
        rows, final, nearest = result
        t = np.array([r[0] for r in rows], dtype=np.float64)
        for name in THEORIES:
            self.curves[name].setData(t, np.array([r[1][name] for r in rows]))
        if final is not None:
            self.views["final"].set_image(tensor_to_images(final.clamp(-1, 1)))
            self.views["nearest"].set_image(self._train_images[nearest])
            dist = float(((self.theories.ideal.images[nearest] - final) ** 2).mean().sqrt()) * 127.5
            self.views["nearest"].set_caption(f"nearest (RMS {dist:.0f})")
        self.status.setText(f"r²(t) over the run's {len(rows)} frames: 1 = the theory predicts the network's x̂₀")

    def _teleport_done(self, job_id: int, result) -> None:
        if job_id != self._teleport_job or result is None:
            return
        self.teleport_result = result
        self.views["teleport"].set_image(tensor_to_images(result.teleported[0].clamp(-1, 1)))
        rms = float(result.rms[0])
        self.views["teleport"].set_caption(f"teleport {result.skipped_steps}/{result.num_steps}: RMS {rms:.0f}")
        self.status.setText(
            f"teleported the first {result.skipped_steps} of {result.num_steps} DDIM steps: the end lies RMS "
            f"{rms:.1f} (of 255) from the untouched DDIM {result.num_steps} run from the same x_T"
        )

    def _failed(self, job_id: int, message: str) -> None:
        self.status.setText(message)
        self.message.emit(message)

    def shutdown(self) -> None:
        for worker in (self.load_worker, self.frame_worker, self.run_worker, self.teleport_worker):
            worker.shutdown()
