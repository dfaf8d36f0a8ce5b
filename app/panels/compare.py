"""Compare runs: up to four samplers (or models) leave one x_T, side by side, in lockstep.

A learner sees DDPM-1000, DDIM-50 and DDIM-10 start from the same noise and arrive at different (or
the same) pictures; a researcher puts the trained network beside the ideal denoiser of its own data.
The panel is a view over a :class:`~core.runs.session.RunSession` whose record holds one tick (a frame
per run) per step, played by the same :class:`~app.views.player.Player` as the reverse chain.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.panels import sampler_menus
from app.state import ViewState
from app.views.imageview import ImageView
from app.views.marks import mark
from app.views.player import Player
from app.workers.inference import Worker
from core.diffusion.samplers import SamplerConfig
from core.diffusion.schedulers import model_scheduler
from core.imaging.scaling import tensor_to_images
from core.models.catalogue import bundled_choices
from core.models.checkpoint import LoadedModel, load_model
from core.runs.compare import MAX_RUNS, PRESETS, CompareRun, compare_chains, run_title, total_ticks
from core.runs.pictures import compare_pictures
from core.runs.record import Recording
from core.runs.session import RunSession

START_NOISE, START_IMAGE = "pure noise (one x_T for all)", "forward image at its t"
IDEAL_TRAINING_SET = "ideal denoiser of the training set"


class RunRow:
    """The widgets of one compared run."""

    def __init__(self, preset: str) -> None:
        config = PRESETS[preset]
        self.enabled = QCheckBox()
        self.enabled.setChecked(True)
        self.sampler = sampler_menus.sampler_combo()
        self.sampler.setItemText(0, "DDPM")
        self.sampler.setCurrentIndex(self.sampler.findData(config.sampler))
        self.spacing = sampler_menus.spacing_combo()
        self.spacing.setCurrentIndex(self.spacing.findData(config.spacing))
        self.zero_snr = sampler_menus.zero_snr_box()
        self.zero_snr.setText("")  # the column's head says it
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setValue(config.steps)
        # No "steps " or "η " prefixes: the columns' heads say it, and the row stays narrow.
        self.eta = QDoubleSpinBox()
        self.eta.setRange(0.0, 1.0)
        self.eta.setSingleStep(0.5)
        self.eta.setValue(config.eta)
        self.variance = QComboBox()
        self.variance.addItem(mark("σ² = β̃_t"), "fixed_small")
        self.variance.addItem("σ² = β_t", "fixed_large")
        self.model = QComboBox()
        for combo in (self.sampler, self.model):  # long item texts must not widen the window
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(7)
        self.sampler.currentIndexChanged.connect(lambda _i: sampler_menus.sampler_changed(self.sampler, self.spacing))
        self.sampler.currentIndexChanged.connect(self.sync)
        self.sync()

    def widgets(self) -> list[QWidget]:
        return [
            self.enabled,
            self.sampler,
            self.steps,
            self.eta,
            self.variance,
            self.spacing,
            self.zero_snr,
            self.model,
        ]

    def sync(self) -> None:
        sampler_menus.sync_enabled(self.sampler, self.steps, self.eta, self.variance, self.spacing)

    def config(self, seed: int) -> SamplerConfig:
        return SamplerConfig(
            self.sampler.currentData(),
            steps=self.steps.value(),
            eta=self.eta.value(),
            variance=self.variance.currentData(),
            spacing=self.spacing.currentData(),
            seed=seed,
            zero_terminal_snr=self.zero_snr.isChecked(),
        )


class ComparePanel(QWidget):
    """Rows of run settings, one picture per run, one shared timeline."""

    message = Signal(str)

    def __init__(self, state: ViewState, ideal_loader=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.ideal_loader = ideal_loader  # () -> LoadedModel of the ideal denoiser of the model's data, or None
        self.extra_models: list[LoadedModel] = []  # ideal models opened from folders
        self.worker = Worker("compare", self)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.session = RunSession()
        self.titles: list[str] = []
        self.ascii_titles: list[str] = []  # for GIF labels (the default font has no Greek)
        self.short_titles: list[str] = []  # without the model's name when all runs share one
        self.player = Player(self._show, self, self.session, busy=lambda: self.worker.busy)

        self.rows = [RunRow(name) for name in PRESETS]
        grid = QGridLayout()
        for c, head in enumerate(("", "sampler", "steps", "η", "DDPM σ²", "spacing", mark("ᾱ_T=0"), "model")):
            grid.addWidget(QLabel(f"<i>{head}</i>"), 0, c)
        for r, row in enumerate(self.rows, 1):
            for c, w in enumerate(row.widgets()):
                grid.addWidget(w, r, c)
        self.start_from = QComboBox()
        self.start_from.addItems([START_NOISE, START_IMAGE])
        self.start_from.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.start_from.setMinimumContentsLength(12)  # the long item text must not widen the window
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.seed.setMinimumWidth(self.seed.fontMetrics().horizontalAdvance("seed 0000000") + 24)  # not 2³¹'s width
        self.show_what = QComboBox()
        self.show_what.addItem("x_t", "xt")
        self.show_what.addItem(mark("x̂₀"), "x0")
        self.show_what.currentIndexChanged.connect(self.player.repaint)
        self.run_button = QPushButton("Run all")
        self.run_button.setToolTip("Start every checked run from one start; they advance by fraction of their own run")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.worker.cancel)
        self.stop_button.setEnabled(False)
        options = QHBoxLayout()
        for w in (QLabel("Start"), self.start_from, self.seed, QLabel("Show"), self.show_what):
            options.addWidget(w)
        options.addStretch(1)
        options.addWidget(self.run_button)
        options.addWidget(self.stop_button)

        self.views = [ImageView("") for _ in range(MAX_RUNS)]
        pictures = QHBoxLayout()
        for v in self.views:
            v.setMinimumSize(120, 120)
            pictures.addWidget(v)
        self.status = QLabel("Press Run all: the runs share x_T and one timeline.")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Compare runs</b>: the same start, several samplers or models"))
        layout.addLayout(grid)
        layout.addLayout(options)
        layout.addLayout(pictures, 1)
        layout.addLayout(self.player.bar())
        layout.addWidget(self.status)
        state.model_changed.connect(self.refresh_models)
        self.refresh_models()

    # -- models ----------------------------------------------------------------------------------

    _loaded: dict[str, LoadedModel] = {}  # bundled models loaded for a run, shared by every compare panel

    def add_model(self, model: LoadedModel) -> None:
        """Offer ``model`` (an ideal denoiser of a folder, say) in every row's model menu."""
        self.extra_models.append(model)
        self.refresh_models()

    def refresh_models(self) -> None:
        choices = []
        if self.state.model is not None:
            choices.append((f"{self.state.model.name} (the model)", "model"))
            if self.ideal_loader is not None and self.ideal_loader(check_only=True):
                choices.append((IDEAL_TRAINING_SET, "ideal-training"))
        choices += [(m.name, f"extra:{i}") for i, m in enumerate(self.extra_models)]
        if self.state.model is not None:  # without a model no row runs; with one, it stays each row's default
            current = getattr(self.state.model, "path", None)
            for choice in bundled_choices():  # loaded on the worker when a run first needs them
                if current is None or str(current) != choice.spec:
                    choices.append((choice.label, f"spec:{choice.spec}"))
        for row in self.rows:
            keep = row.model.currentData()
            row.model.clear()
            for text, key in choices:
                row.model.addItem(text, key)
            if keep is not None and row.model.findData(keep) >= 0:
                row.model.setCurrentIndex(row.model.findData(keep))

    def _resolve(self, key: str) -> LoadedModel:
        """The model behind a menu key; runs on the worker thread (the ideal denoiser takes seconds to build)."""
        if key in ("model", None):  # None: a row whose menu lost its choice keeps to the open model
            return self.state.model
        if key == "ideal-training":
            return self.ideal_loader()
        if key.startswith("spec:"):
            spec = key[len("spec:") :]
            if spec not in self._loaded:
                self._loaded[spec] = load_model(spec)
            return self._loaded[spec]
        return self.extra_models[int(key.split(":")[1])]

    # -- runs ------------------------------------------------------------------------------------

    def start(self) -> int | None:
        if self.state.model is None:
            self.message.emit("Open a model first (File ▸ Open model…).")
            return None
        chosen = [r for r in self.rows if r.enabled.isChecked()]
        if not chosen:
            self.message.emit("Check at least one run to compare.")
            return None
        seed = self.seed.value()
        try:
            configs = [(r.config(seed), r.model.currentData()) for r in chosen]
            for config, _key in configs:  # what a sampler cannot do is refused before the run, in one line
                model_scheduler(self.state.model, config)
        except ValueError as exc:
            self.message.emit(str(exc))
            self.status.setText(str(exc))
            return None
        image, paper_t, forward = None, None, self.state.schedule
        if self.start_from.currentText() == START_IMAGE and self.state.image is not None:
            if self.state.t == 0:
                self.message.emit("The forward panel is at t = 0: move its slider, or start from pure noise.")
                return None
            # As noisy as the forward panel's x_t, on each model's own schedule (the reverse tab's rule).
            image, paper_t = self.state.image, self.state.t
        names = [r.model.currentText() for r in chosen]
        estimate = total_ticks([CompareRun(self.state.model, c) for c, _ in configs], paper_t, forward)
        self.titles = []

        # Titles are made here, on the GUI thread, from the menus as they were at the click; the job only
        # builds models (the ideal denoiser takes seconds) and runs.
        self.titles = [
            run_title(c, name.removesuffix(" (the model)")) for (c, _), name in zip(configs, names, strict=True)
        ]
        self.ascii_titles = [
            run_title(c, name.removesuffix(" (the model)"), ascii_only=True)
            for (c, _), name in zip(configs, names, strict=True)
        ]
        one_model = len({key for _, key in configs}) == 1
        self.short_titles = [t.rsplit(" (", 1)[0] if one_model else t for t in self.titles]
        model = self.state.model
        keys_to_models = {"model": model}

        def ticks():  # on the worker thread: building the ideal denoiser takes seconds
            runs = [CompareRun(keys_to_models.get(key) or self._resolve(key), config) for config, key in configs]
            record.total_frames = total_ticks(runs, paper_t, forward)
            return compare_chains(runs, image, paper_t, seed, forward=forward)

        record = Recording(ticks, estimate)
        for i, v in enumerate(self.views):
            v.set_image(None)
            v.set_caption(names[i] if i < len(names) else "")
            v.setVisible(i < len(names))  # as many columns as runs: two runs get bigger pictures
        job = self.worker.submit(lambda handle: record.run(lambda: handle.cancelled))
        self.session.begin(record, job)
        self.stop_button.setEnabled(True)
        self.status.setText("computing… (the runs advance by fraction of their own run)")
        return job

    def _show(self, tick, index: int) -> None:
        what = self.show_what.currentData()
        for i, view in enumerate(self.views):
            if i >= len(tick):
                view.set_image(None)
                view.set_caption("")
                continue
            frame = tick[i]
            view.set_image(tensor_to_images(frame.x_t if what == "xt" or not frame.predicted else frame.x0_hat))
            where = "final" if frame.final else f"t={frame.t}"
            view.set_caption(f"{self.short_titles[i] if i < len(self.short_titles) else ''} · {where}")
            view.setToolTip(self.titles[i] if i < len(self.titles) else "")

    def _finished(self, _job: int, result) -> None:
        self.stop_button.setEnabled(self.worker.busy)
        self.session.finished(bool(result))
        done = "done" if result else "stopped"
        self.status.setText(f"{done}: scrub the timeline, or export the comparison as a GIF")

    def _failed(self, _job: int, message: str) -> None:
        self.stop_button.setEnabled(self.worker.busy)
        self.session.finished(False)
        self.status.setText("the comparison stopped")
        self.message.emit(message)

    def export_pictures(self, stride: int, scale: int, label: bool) -> list:
        """The comparison as GIF frames: a row of titled columns per tick."""
        return compare_pictures(self.ticks(), self.ascii_titles, stride=stride, scale=scale, label=label)

    def ticks(self) -> list:
        return self.session.frames()

    def shutdown(self) -> None:
        self.player.stop()
        self.worker.shutdown()
