"""The main window: forward panel, reverse panel, schedule plots, menus."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.controllers.bound import BoundController
from app.controllers.export import ExportController
from app.controllers.files import FilesController
from app.controllers.models import TrainingSetIdeal
from app.panels.compare import ComparePanel
from app.panels.forward import ForwardPanel
from app.panels.invert import InvertPanel
from app.panels.lab import LabPanel
from app.panels.learned import LearnedPanel
from app.panels.playground import PlaygroundPanel
from app.panels.reverse import ReversePanel
from app.state import ViewState
from app.views import marks
from app.views.analysis.dock import add_analysis_dock
from app.views.banner import Banner
from app.views.export_dialog import ExportDialog
from app.views.guide import GUIDE, SHORTCUTS, TextDialog
from app.views.plots import SchedulePlots
from app.views.qimage import qimage_to_array
from app.views.runplots import RunPlots
from assets import PHOTOS, SAMPLE_IMAGE
from core import __version__
from core.device import describe_device
from core.diffusion.schedules import SCHEDULE_NAMES, NoiseSchedule
from core.errors import DiffusionVizError
from core.imaging.images import load_image
from core.models.catalogue import bundled_choices, count_pictures
from core.models.checkpoint import LoadedModel, load_model
from core.runs import views
from core.runs.pictures import scale_for

ANIMATION_FILTER = "GIF (*.gif);;Animated WebP (*.webp);;MP4 video (*.mp4)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
MAX_RECENT = 8
MODEL_CHOICE = "model"
DEFAULT_SIZE = (1500, 940)  # fits a 1920×1080 screen; the reverse pictures get ≥ 256 px each


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        marks.install()  # before any widget: x̂₀ and ε̂ drawn whole, whatever the system's font (app.views.marks)
        self.setWindowTitle("diffusion-viz")
        self.settings = settings or QSettings("diffusion-viz", "diffusion-viz")
        self.state = ViewState()

        self.forward = ForwardPanel(self.state)
        self.reverse = ReversePanel(self.state)
        self.reverse.open_model.clicked.connect(self.choose_model)
        self.reverse.message.connect(self.show_message)
        self.compare = ComparePanel(self.state, ideal_loader=TrainingSetIdeal(self.state))
        self.compare.message.connect(self.show_message)
        self.right_tabs = QTabWidget()
        self.right_tabs.addTab(self.reverse, "Reverse chain")
        self.right_tabs.addTab(self.compare, "Compare runs")
        self.invert = InvertPanel(self.state)
        self.invert.message.connect(self.show_message)
        self.right_tabs.addTab(self.invert, "DDIM inversion")
        self.learned = LearnedPanel()  # fed with the reverse run's model and frames, as plain arrays
        self.learned.message.connect(self.show_message)
        self.right_tabs.addTab(self.learned, "What has it learned?")
        self.reverse.run_started.connect(lambda record: self.learned.set_model(record.spec.model))
        self.reverse.frame_shown.connect(lambda f: self.learned.show_frame(f.x_t, f.index, f.x0_hat))
        self.reverse.run_finished.connect(lambda *_: self.learned.set_run(self.reverse.frames()))
        self.plots = SchedulePlots()
        self.plots.t_requested.connect(self.state.set_t)
        self.reverse.session.connect("spec_changed", self.plots.show_run_steps)  # its steps as ticks on the plots
        self.run_plots = RunPlots()
        self.reverse.run_started.connect(self.run_plots.set_record)
        self.reverse.run_cleared.connect(self.run_plots.clear_run)
        self.reverse.frame_shown.connect(self.run_plots.show_frame)
        self.reverse.run_finished.connect(lambda *_: self.run_plots.refresh())
        self.bound = BoundController(self.state, when=self.isVisible, parent=self)  # for a window someone can see
        self.bound_worker = self.bound.worker
        self.bound.started.connect(self._bound_started)
        self.bound.status.connect(self.run_plots.bound_pending)
        self.bound.computed.connect(self._bound_computed)
        self.bound.failed.connect(self.show_message)
        # Models, picture folders and exports are read and written on the files worker, off the GUI thread.
        self.files = FilesController(self)
        self.files_worker = self.files.worker
        self.exports = ExportController(self.files, self.show_message)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate: loading and writing report no steps
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.hide()
        self.files.busy.connect(lambda what: (self.busy_bar.show(), self.statusBar().showMessage(what)))
        self.files.idle.connect(self.busy_bar.hide)
        self.files.failed.connect(self.show_message)

        self.schedule_choice = QComboBox()
        self.schedule_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # never cut off
        self.schedule_choice.setToolTip("The schedule shown in the plots and used by the forward panel")
        self.schedule_T = QSpinBox()
        self.schedule_T.setRange(2, 10000)
        self.schedule_T.setValue(1000)
        self.schedule_T.setPrefix("T = ")
        self.schedule_choice.currentIndexChanged.connect(self._schedule_requested)
        self.schedule_T.editingFinished.connect(self._schedule_requested)
        self._fill_schedule_choices()

        self.banner = Banner()  # in the menu bar's empty part: a message neither moves nor covers anything
        self.banner.hide()
        self._banner_timer = QTimer(self)
        self._banner_timer.setSingleShot(True)
        self._banner_timer.timeout.connect(self.banner.hide)

        top = self.top_split = QSplitter(Qt.Orientation.Horizontal)
        top.setChildrenCollapsible(False)  # a panel dragged to nothing would be lost, and saved that way
        top.addWidget(self.forward)
        top.addWidget(self.right_tabs)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        schedule_bar = QHBoxLayout()
        schedule_bar.addWidget(QLabel("<b>Noise schedule</b>"))
        schedule_bar.addWidget(self.schedule_choice)
        schedule_bar.addWidget(self.schedule_T)
        schedule_bar.addWidget(self.plots.axis_toggle)
        schedule_bar.addStretch(1)
        schedule_bar.addWidget(QLabel("drag the red line to set t"))
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(6, 0, 6, 6)
        bottom_layout.addLayout(schedule_bar)
        plots_row = QHBoxLayout()
        plots_row.addWidget(self.plots, 4)
        plots_row.addWidget(self.run_plots, 2)
        bottom_layout.addLayout(plots_row)
        split = self.main_split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.playground = PlaygroundPanel(self.state)
        self.playground.message.connect(self.show_message)
        self.playground.export_button.clicked.connect(self.export_playground_dialog)
        self.tabs = QTabWidget()
        self.tabs.addTab(split, "Images: forward and reverse")
        self.tabs.addTab(self.playground, "2-D playground: scores, SDE vs ODE, Langevin")
        self.lab = LabPanel(self.state)
        self.lab.message.connect(self.show_message)
        self.tabs.addTab(self.lab, "Sampler lab: error vs NFE, log-SNR")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.banner.setParent(self.menuBar())
        self.banner.installEventFilter(self)  # a click dismisses it

        self.device_label = QLabel()
        self.statusBar().addPermanentWidget(self.busy_bar)
        self.statusBar().addPermanentWidget(self.device_label)
        self._build_menus()
        self.analysis = add_analysis_dock(self)
        self._build_shortcuts()
        self.setAcceptDrops(True)

        self.state.schedule_changed.connect(self._schedule_changed)
        self.state.t_changed.connect(self.plots.set_t)
        self.state.t_changed.connect(self.run_plots.set_t)
        self._schedule_changed()
        self._restore_geometry()

    # -- menus and keys ------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self._action(file, "&Open image…", self.choose_image, QKeySequence.StandardKey.Open)
        self._action(file, "&Paste image", self.paste_image, QKeySequence.StandardKey.Paste)
        self.recent_menu = file.addMenu("Open &recent")
        self._refresh_recent()
        file.addSeparator()
        self._action(file, "Open &model…", self.choose_model, "Ctrl+M")
        self._action(file, "Open image folder as &ideal model…", self.choose_ideal_folder)
        self.sample_photos_menu = file.addMenu("Open sample &photo")
        for photo in sorted(PHOTOS.glob("*.jpg")):
            self.sample_photos_menu.addAction(photo.stem).triggered.connect(
                lambda _checked=False, p=photo: self.open_image(p)
            )
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.model_menu = self.menuBar().addMenu("&Model")
        for choice in bundled_choices():
            action = self._action(
                self.model_menu, choice.label, lambda _c=False, c=choice: self.open_model_in_background(c.spec)
            )
            action.setToolTip(choice.about)
            action.setStatusTip(choice.about)
        self.model_menu.addSeparator()
        self._action(self.model_menu, "&Open model folder…", self.choose_model)
        self._action(self.model_menu, "Image folder as its &Gaussian model…", self.choose_gaussian_folder)
        export = self.menuBar().addMenu("&Export")
        self._action(export, "Reverse run as &GIF…", lambda: self.export_dialog(reverse=True, pngs=False), "Ctrl+E")
        self._action(export, "Reverse run as PNG frames…", lambda: self.export_dialog(reverse=True, pngs=True))
        self._action(export, "&Forward scrub as GIF…", lambda: self.export_dialog(reverse=False, pngs=False))
        self._action(export, "&Comparison as GIF…", self.export_comparison_dialog)
        self._action(export, "2-D &playground run as GIF…", self.export_playground_dialog)
        self._action(export, "Forward scrub as PNG frames…", lambda: self.export_dialog(reverse=False, pngs=True))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Guide: what each view shows", lambda: self._page("Guide", GUIDE), "F1")
        self._action(help_menu, "&Keyboard shortcuts", lambda: self._page("Keyboard shortcuts", SHORTCUTS))
        self._action(help_menu, "&About", self._about)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_shortcuts(self) -> None:
        # Keys act on the panel that has the focus: on the reverse panel they drive playback; in the
        # forward panel the t slider takes ← → Home End itself. The reverse panel has the focus at start.
        keys = {
            Qt.Key.Key_Space: self.reverse.toggle_play,
            Qt.Key.Key_Right: lambda: self.reverse.step(1),
            Qt.Key.Key_Left: lambda: self.reverse.step(-1),
            Qt.Key.Key_Home: lambda: self.reverse.seek(0),
            Qt.Key.Key_End: self.reverse.seek_end,
        }
        for key, slot in keys.items():
            shortcut = QShortcut(QKeySequence(key), self.reverse)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self.reverse.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.forward.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    def _page(self, title: str, html: str) -> None:
        TextDialog(title, html, self).show()

    def _about(self) -> None:
        self.show_message(
            f"diffusion-viz {__version__}: DDPM, DDIM, improved DDPM and v-prediction, made visible.", error=False
        )

    # -- messages ------------------------------------------------------------------------------

    def show_message(self, text: str, error: bool = True) -> None:
        """One clear line for the user, in the window; nothing else changes."""
        self.banner.say(text, error)
        self._place_banner()
        self.banner.show()
        self.banner.raise_()
        self._banner_timer.start(12000)
        self.statusBar().showMessage(text, 12000)

    def _place_banner(self) -> None:
        bar = self.menuBar()
        menus = [bar.actionGeometry(a).right() for a in bar.actions()]
        self.banner.place(bar, max(menus, default=0))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.bound.timer.start()  # the bound is computed for a window someone can see

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.banner.isVisible():
            self._place_banner()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.banner and event.type() == QEvent.Type.MouseButtonPress:
            self.banner.hide()
            return True
        return super().eventFilter(obj, event)

    # -- images --------------------------------------------------------------------------------

    def open_image(self, path: str | Path) -> bool:
        """Load the image at ``path``; on failure say why and keep the current image."""
        try:
            image = load_image(path)
        except DiffusionVizError as exc:
            self.show_message(str(exc))
            return False
        self.state.set_image(image, Path(path).name)
        self._remember_recent(str(Path(path).resolve()))
        self.statusBar().showMessage(f"opened {Path(path).name}", 5000)
        return True

    def choose_image(self) -> None:
        start = self.settings.value("last_image_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open image", start, IMAGE_FILTER)
        if path:
            self.settings.setValue("last_image_dir", str(Path(path).parent))
            self.open_image(path)

    def paste_image(self) -> None:
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        if mime is not None and mime.hasUrls():
            files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if files:
                self.open_image(files[0])
                return
        image = clipboard.image()
        if image.isNull():
            self.show_message("The clipboard holds no image.")
            return
        self.state.set_image(qimage_to_array(image), "pasted image")

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if len(files) > 1:
            self.show_message(f"{len(files)} files were dropped; drop one image at a time. Opening the first.")
        if files:
            event.acceptProposedAction()
            self.open_image(files[0])
        elif mime.hasImage():
            event.acceptProposedAction()
            self.state.set_image(qimage_to_array(QImage(mime.imageData())), "dropped image")

    def _remember_recent(self, path: str) -> None:
        recent = [p for p in self._recent() if p != path]
        self.settings.setValue("recent_files", [path, *recent][:MAX_RECENT])
        self._refresh_recent()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_image(p))
        self.recent_menu.setEnabled(bool(recent))

    # -- models --------------------------------------------------------------------------------

    def open_model(self, folder: str | Path) -> bool:
        """Load a model folder; on failure say why and keep the current model."""
        try:
            model = load_model(folder)
        except DiffusionVizError as exc:
            self.show_message(str(exc))
            return False
        self.set_model(model)
        self.settings.setValue("last_model_dir", str(Path(folder).resolve().parent))
        return True

    def open_model_in_background(self, folder: str | Path) -> int:
        """Load a model folder on the files worker; the window keeps working and says when it is ready."""

        def done(model: LoadedModel) -> None:
            self.set_model(model)
            self.settings.setValue("last_model_dir", str(Path(folder).resolve().parent))
            self.statusBar().showMessage(f"model {model.name} loaded", 5000)

        return self.files.submit(f"loading the model {Path(str(folder)).name}…", lambda _job: load_model(folder), done)

    @property
    def model(self) -> LoadedModel | None:
        return self.state.model

    def set_model(self, model: LoadedModel) -> None:
        self.state.set_model(model)
        self.device_label.setText(f"model on {describe_device(model.device)}")
        self._fill_schedule_choices()
        self.state.set_schedule(model.schedule, MODEL_CHOICE)
        for note in model.notes:
            print(f"diffusion-viz: {note}", file=sys.stderr)
            self.show_message(note, error=False)

    def open_ideal_folder(self, folder: str | Path) -> int:
        """Every picture of ``folder`` as an ideal denoiser, offered beside the model in Compare runs.

        The folder is read on the files worker (thousands of pictures take seconds); a bad one is one line
        and nothing changes. Returns the files job's id.
        """

        def done(model: LoadedModel) -> None:
            self.compare.add_model(model)
            for note in model.notes:
                self.show_message(note, error=False)
            self.right_tabs.setCurrentWidget(self.compare)
            self.statusBar().showMessage(f"{model.name}: the ideal denoiser of its pictures, in Compare runs", 8000)

        return self.files.submit(
            f"reading the pictures of {Path(str(folder)).name}…", lambda _job: load_model(f"ideal:{folder}"), done
        )

    def choose_ideal_folder(self) -> None:
        start = self.settings.value("last_image_dir", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Folder of images for the ideal denoiser", start)
        if folder:
            self.open_ideal_folder(folder)

    def choose_gaussian_folder(self) -> None:
        start = self.settings.value("last_image_dir", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Folder of images for the Gaussian model", start)
        if folder:
            self.open_model_in_background(f"gaussian:{folder}")

    def _offer_picture_folder(self, folder: str, count: int) -> None:
        """A folder of pictures opened as a model: ask whether to make its ideal or its Gaussian model."""
        box = QMessageBox(self)
        box.setWindowTitle("A folder of pictures")
        box.setText(f"{Path(folder).name} holds {count} pictures, not a trained model.")
        box.setInformativeText(
            "The ideal denoiser of these pictures (it lands on one of them) or their Gaussian model "
            "(a Wiener filter of their spectrum) can stand in for one."
        )
        ideal = box.addButton("Ideal denoiser", QMessageBox.ButtonRole.AcceptRole)
        gaussian = box.addButton("Gaussian model", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is ideal:
            self.open_model_in_background(f"ideal:{folder}")
        elif box.clickedButton() is gaussian:
            self.open_model_in_background(f"gaussian:{folder}")

    def choose_model(self) -> None:
        start = self.settings.value("last_model_dir", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Open model folder", start)
        if not folder:
            return
        pictures = count_pictures(folder) if not (Path(folder) / "config.json").is_file() else 0
        if pictures and not (Path(folder) / "model_index.json").is_file():
            self._offer_picture_folder(folder, pictures)
        else:
            self.open_model_in_background(folder)

    # -- the bound per t ---------------------------------------------------------------------------

    def compute_bound(self) -> int | None:
        """Start computing L_t for every t of the forward panel's image under the model (on the bound worker)."""
        return self.bound.compute()

    def _bound_started(self, T: int) -> None:
        self.run_plots.T = T
        self.reverse.set_domain(None)

    def _bound_computed(self, terms, prior: float, domain: str | None) -> None:
        self.run_plots.show_bound(terms, prior)
        self.reverse.set_domain(domain)

    # -- schedule ------------------------------------------------------------------------------

    def _fill_schedule_choices(self) -> None:
        with QSignalBlocker(self.schedule_choice):
            self.schedule_choice.clear()
            if self.model is not None:
                self.schedule_choice.addItem(
                    f"the model's ({self.model.schedule.name}, T = {self.model.schedule.T})", MODEL_CHOICE
                )
            for name in SCHEDULE_NAMES:
                self.schedule_choice.addItem(name, name)
        self._sync_schedule_widgets()

    def _schedule_requested(self) -> None:
        choice = self.schedule_choice.currentData()
        if choice == MODEL_CHOICE and self.model is not None:
            self.state.set_schedule(self.model.schedule, MODEL_CHOICE)
            return
        T = self.schedule_T.value()
        if choice == self.state.schedule_choice and T == self.state.T:
            return
        self.state.set_schedule(NoiseSchedule.from_name(choice, T), choice)

    def _sync_schedule_widgets(self) -> None:
        with QSignalBlocker(self.schedule_choice), QSignalBlocker(self.schedule_T):
            i = self.schedule_choice.findData(self.state.schedule_choice)
            if i >= 0:
                self.schedule_choice.setCurrentIndex(i)
            self.schedule_T.setValue(self.state.T)
            self.schedule_T.setEnabled(self.state.schedule_choice != MODEL_CHOICE)

    def _schedule_changed(self) -> None:
        self.plots.set_schedule(self.state.schedule)
        self.plots.set_t(self.state.t)
        self.run_plots.set_shown_T(self.state.T)  # every plot's t-axis follows the schedule on show
        self._sync_schedule_widgets()

    # -- export --------------------------------------------------------------------------------

    def export_dialog(self, reverse: bool, pngs: bool) -> None:
        session = self.reverse.session  # exports read the run's owner, not the panel
        if reverse and not session.frames():
            self.show_message("There is no reverse run to export yet: press Play first.")
            return
        if not reverse and self.state.image is None:
            self.show_message("Open an image first.")
            return
        record = session.record
        size = record.spec.size if reverse else max(self.state.working.shape[:2])
        frames = len(record.frames) if reverse else self.state.T + 1
        dialog = ExportDialog(
            reverse,
            default_scale=max(1, min(8, 256 // max(size, 1))),
            frames=frames,
            view_name=views.VIEW_NAMES[self.reverse.current_view()],
            has_truth=reverse and record.x0 is not None,
            parent=self,
            full_side=None if reverse else max(self.state.working.shape[:2]),
        )
        if not dialog.exec():
            return
        if pngs:
            target = QFileDialog.getExistingDirectory(self, "Folder for PNG frames", str(Path.home()))
        else:
            target = self._animation_target("diffusion.gif")
        if target:
            self.export(target, reverse=reverse, pngs=pngs, wait=False, **dialog.options())

    def _animation_target(self, name: str) -> str:
        """Ask where to save an animation; the chosen filter's extension is added to a bare name."""
        target, chosen = QFileDialog.getSaveFileName(self, "Save animation", str(Path.home() / name), ANIMATION_FILTER)
        if target and not Path(target).suffix:
            target += chosen[chosen.index("*") + 1 : chosen.index(")")] if "*" in chosen else ".gif"
        return target

    def export_comparison_dialog(self) -> None:
        ticks = self.compare.ticks()
        if not ticks:
            self.show_message("There is no comparison to export yet: Compare runs ▸ Run all first.")
            return
        size = ticks[0][0].x_t.shape[-1]
        dialog = ExportDialog(False, default_scale=scale_for(size, 128), frames=len(ticks), parent=self)
        dialog.setWindowTitle("Export comparison")
        if not dialog.exec():
            return
        target = self._animation_target("compare.gif")
        if target:
            options = {k: v for k, v in dialog.options().items() if k not in ("content", "side")}
            self.export_comparison(target, wait=False, **options)

    def export_comparison(self, target: str | Path, **options) -> bool:
        """Write the comparison as one animation of titled columns, showing what the screen shows; on failure say why."""
        what = self.compare.show_what.currentData()
        return self.exports.comparison(self.compare.session, self.compare.short_titles, what, target, **options)

    def export_playground_dialog(self) -> None:
        target = self._animation_target("playground.gif")
        if target:
            self.export_playground(target, wait=False)

    def export_playground(self, target: str | Path, fps: float = 20, wait: bool = True) -> bool:
        """The playground's reverse run as a GIF (about 60 frames, a few trajectories); on failure say why."""
        return self.exports.write(self.playground.export_frames, target, fps=fps, wait=wait)

    def export(self, target: str | Path, *, reverse: bool, **options) -> bool:
        """Write the reverse run (of the reverse panel's session) or the forward scrub; on failure say why.

        ``options`` are :class:`~app.controllers.export.ExportController`'s: ``content``, ``fps``, ``stride``,
        ``scale``, ``label``, ``wait``, ``hold_s``, ``pngs``, and ``side`` for the forward scrub.
        """
        if reverse:
            options.pop("side", None)
            return self.exports.reverse(self.reverse.session, self.reverse.current_view(), target, **options)
        options.pop("content", None)
        options.pop("scale", None)  # the forward scrub is sized by ``side``
        return self.exports.forward(self.state, target, **options)

    # -- window life ---------------------------------------------------------------------------

    def _splitters(self) -> dict[str, QSplitter]:
        return {"split_panels": self.top_split, "split_plots": self.main_split}

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        for key, splitter in self._splitters().items():
            state = self.settings.value(key)
            # A non-collapsible splitter clamps a saved layout that would hide a panel (tested).
            if state is not None:
                splitter.restoreState(state)

    def closeEvent(self, event) -> None:
        self.files.shutdown(timeout=30.0)  # an export in progress finishes its file
        self.reverse.shutdown()
        self.compare.shutdown()
        self.invert.shutdown()
        self.learned.shutdown()
        self.playground.shutdown()
        self.lab.shutdown()
        self.bound.shutdown()
        self.settings.setValue("geometry", self.saveGeometry())
        for key, splitter in self._splitters().items():
            self.settings.setValue(key, splitter.saveState())
        self.settings.sync()
        super().closeEvent(event)


def default_image_path() -> Path:
    return SAMPLE_IMAGE
